/** Types of checks.mjs (a plain .mjs so that npm test starts without a build step). */
export interface Check {
  name: string;
  /** Run as `node ...args`. */
  args: string[];
}
export interface Output {
  log(text: string): void;
  error(text: string): void;
}
/** `label` starts the last line, which says what passed or failed. */
export function runChecks(plan: {
  label: string;
  background: Check[];
  foreground: Check;
  output?: Output;
}): Promise<number>;

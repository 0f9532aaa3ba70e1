/**
 * @module test/shared/log-scan
 * A vitest setup file (both projects, vitest.config.ts): every test's console output is scanned for
 * tokens, JWTs, private keys and the test webhook secret (test/shared/secrets.ts), and a test whose
 * output holds one fails in `afterEach` (docs/security.md, "Tokens": never logged). Output outside a test
 * (`beforeAll`, module scope) fails the file in `afterAll`.
 *
 * Tests often replace console methods with spies whose implementation swallows the line, so the scan
 * reads output in two places: at the original console call (each method is wrapped once, and a spy that
 * calls through reaches the wrapper), and in the recorded calls of every spy on a console method
 * (`vi.spyOn(console, …)` is watched as it is made; a mock assigned by hand is picked up in `afterEach`).
 * Spies keep their calls through `vi.restoreAllMocks()`, and a spy's calls are scanned before
 * `mockClear`/`mockReset` drop them, so the order of the `afterEach` hooks does not matter.
 */

import { afterAll, afterEach, vi } from "vitest";
import { redactSecrets, secretsIn } from "./secrets";

const METHODS = ["log", "info", "warn", "error", "debug", "trace"] as const;
type Method = (typeof METHODS)[number];

const WRAPPED = Symbol.for("sts.log-scan.wrapped");

interface Watched {
  method: Method;
  state: { calls: unknown[][] };
  /** The calls array last scanned and how many of its entries were scanned (a clear replaces it). */
  scannedArray: unknown[][] | undefined;
  scannedCount: number;
}

/** Lines seen at the original console methods since the last scan. */
let pending: string[] = [];
const watched = new Map<unknown, Watched>();

function render(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (arg instanceof Error) return `${arg.name}: ${arg.message}\n${arg.stack ?? ""}`;
  try {
    const json = JSON.stringify(arg);
    return json === undefined ? String(arg) : json;
  } catch {
    return String(arg);
  }
}

function line(method: string, args: readonly unknown[]): string {
  return `console.${method}: ${args.map(render).join(" ")}`;
}

for (const method of METHODS) {
  const original = console[method] as ((...args: unknown[]) => void) & { [WRAPPED]?: true };
  if (original[WRAPPED]) continue;
  const wrapper = function (this: unknown, ...args: unknown[]) {
    pending.push(line(method, args));
    return original.apply(this ?? console, args);
  } as typeof original;
  wrapper[WRAPPED] = true;
  console[method] = wrapper;
}

function collect(into: string[], entry: Watched): void {
  const calls = entry.state.calls;
  const from = calls === entry.scannedArray ? entry.scannedCount : 0;
  for (const args of calls.slice(from)) into.push(line(entry.method, args));
  entry.scannedArray = calls;
  entry.scannedCount = calls.length;
}

type Mock = ((...args: unknown[]) => unknown) & {
  mock: { calls: unknown[][] };
  mockClear: () => unknown;
};

function watch(method: Method, spy: Mock): void {
  if (watched.has(spy)) return;
  const entry: Watched = { method, state: spy.mock, scannedArray: undefined, scannedCount: 0 };
  watched.set(spy, entry);
  const clear = spy.mockClear;
  // mockReset and mockRestore clear through this property too: read the calls before they go.
  spy.mockClear = function (this: unknown) {
    collect(pending, entry);
    return clear.call(this);
  };
}

const spyOn = vi.spyOn;
(vi as { spyOn: unknown }).spyOn = (object: object, key: string, accessor?: "get" | "set") => {
  const spy = (spyOn as (o: object, k: string, a?: "get" | "set") => unknown)(object, key, accessor);
  if (object === console && (METHODS as readonly string[]).includes(key) && vi.isMockFunction(spy)) {
    watch(key as Method, spy as unknown as Mock);
  }
  return spy;
};

/** Everything logged since the last scan; spies no longer installed are forgotten once read. */
function drain(): string[] {
  for (const method of METHODS) {
    const current = console[method];
    if (vi.isMockFunction(current)) watch(method, current as unknown as Mock);
  }
  const out = pending;
  pending = [];
  for (const [spy, entry] of watched) {
    collect(out, entry);
    if (console[entry.method] !== spy) watched.delete(spy);
  }
  return out;
}

/**
 * Scans what was logged since the last scan and throws, naming the kinds of secret found (never the
 * secret itself), if anything matches. Runs after every test; exported for the scanner's own tests.
 */
export function scanConsoleNow(where: string): void {
  const found: string[] = [];
  for (const text of drain()) {
    const kinds = secretsIn(text);
    if (kinds.length > 0) found.push(`${kinds.join(", ")} in ${redactSecrets(text).slice(0, 300)}`);
  }
  if (found.length > 0) {
    throw new Error(
      `${where} logged what must never be logged (docs/security.md, "Tokens"):\n  ${found.slice(0, 5).join("\n  ")}`,
    );
  }
}

afterEach(() => scanConsoleNow("this test"));
afterAll(() => scanConsoleNow("this file (outside its tests)"));

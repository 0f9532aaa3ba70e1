// Runs commands side by side, for npm test (scripts/test.mjs): the background ones with their output kept
// and printed, each under its own heading, once the foreground one (which prints as it goes) has ended.
// The result is 0 only if every command exited 0; a failed one is named on the last line.
import { spawn } from "node:child_process";

/**
 * @typedef {{ name: string, args: string[] }} Check  a command run as `node ...args`
 * @typedef {{ log(text: string): void, error(text: string): void }} Output
 */

/** @returns {Promise<{ name: string, ok: boolean, out: string }>} */
function run({ name, args }, keep) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: keep ? ["ignore", "pipe", "pipe"] : "inherit" });
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    child.on("error", (error) => resolve({ name, ok: false, out: `${out}${error.message}\n` }));
    child.on("close", (code) => resolve({ name, ok: code === 0, out }));
  });
}

/**
 * @param {{ label: string, background: Check[], foreground: Check, output?: Output }} plan
 * @returns {Promise<number>} the exit code: 0, or 1 if any command failed
 */
export async function runChecks({ label, background, foreground, output = console }) {
  const kept = background.map((check) => run(check, true));
  const last = await run(foreground, false);
  const results = await Promise.all(kept);
  for (const { name, ok, out } of results) {
    output.log(`\n== ${name}: ${ok ? "ok" : "FAILED"}`);
    if (out.trim() !== "") output.log(out.replace(/\n$/, ""));
  }
  const failed = [...results, last].filter((r) => !r.ok).map((r) => r.name);
  if (failed.length > 0) {
    output.error(`\n${label}: failed: ${failed.join(", ")}`);
    return 1;
  }
  output.log(`\n${label}: passed: ${[...results, last].map((r) => r.name).join(", ")}`);
  return 0;
}

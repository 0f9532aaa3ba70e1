/**
 * `npm run fuzz` (scripts/fuzz.ts) refuses bad counts, a stray argument and a name no target has with
 * exit 2 (test/node/scripts.test.ts checks --help and unknown flags, as for every script), and a short run
 * reports every target's cases, time and slowest cases. Durations are printed, never asserted.
 */

import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";

function fuzz(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "node",
      ["scripts/run.mjs", "scripts/fuzz.ts", ...args],
      { timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("npm run fuzz", () => {
  it.each(
    [["--runs"], ["--runs", "0"], ["--runs", "ten"], ["--only", "no-such-target"], ["stray"]].map((args) => [
      args.join(" "),
      args,
    ]),
  )(
    "refuses %s with exit 2",
    async (_name, args) => {
      const { code, stderr } = await fuzz(...(args as string[]));
      expect(code).toBe(2);
      expect(stderr).toContain("usage: npm run fuzz");
    },
    120_000,
  );

  it("runs every target and reports cases, time and the slowest cases", async () => {
    const { code, stdout } = await fuzz("--runs", "20", "--seed", "7", "--slowest", "1");
    expect(code, stdout).toBe(0);
    const targets = stdout.match(/^ok {3}\S.*$/gm) ?? [];
    expect(targets.length).toBeGreaterThanOrEqual(9);
    expect(stdout.match(/^ {5}20 cases in \d+\.\d s/gm)?.length).toBe(targets.length);
    expect(stdout.match(/^ {5}slowest \d+\.\d ms: /gm)?.length).toBe(targets.length);
    expect(stdout).toContain("outcomes (end to end, webhook):");
    expect(stdout).toMatch(/every property held: \d+ cases in \d+\.\d s/);
  }, 120_000);
});

/**
 * npm test's runner (scripts/lib/checks.mjs): the type-check and the lint run beside the tests, their
 * output follows the tests' under a heading each, and the exit code is 1 when any of them failed.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runChecks } from "../../scripts/lib/checks.mjs";

const dir = mkdtempSync(join(tmpdir(), "sts-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const node = (name: string, code: string) => ({ name, args: ["-e", code] });

function captured() {
  const lines: string[] = [];
  return {
    lines,
    text: () => lines.join("\n"),
    output: { log: (t: string) => lines.push(t), error: (t: string) => lines.push(`ERR ${t}`) },
  };
}

describe("npm test's runner", () => {
  it("exits 0 when all pass, with each background check's output under its heading", async () => {
    const c = captured();
    const code = await runChecks({
      label: "t",
      background: [node("types", "console.log('checked 3 files')"), node("lint", "")],
      foreground: node("tests", ""),
      output: c.output,
    });
    expect(code).toBe(0);
    expect(c.text()).toContain("== types: ok\nchecked 3 files");
    expect(c.text()).toContain("== lint: ok");
    expect(c.text()).toContain("t: passed: types, lint, tests");
  });

  it("exits 1 naming every check that failed, its output shown", async () => {
    const c = captured();
    const code = await runChecks({
      label: "t",
      background: [node("types", "console.error('a.ts(1,1): error'); process.exit(2)"), node("lint", "")],
      foreground: node("tests", "process.exit(1)"),
      output: c.output,
    });
    expect(code).toBe(1);
    expect(c.text()).toContain("== types: FAILED\na.ts(1,1): error");
    expect(c.text()).toContain("ERR \nt: failed: types, tests");
    const onlyTests = captured();
    expect(
      await runChecks({
        label: "t",
        background: [node("lint", "")],
        foreground: node("tests", "process.exit(3)"),
        output: onlyTests.output,
      }),
    ).toBe(1);
    expect(onlyTests.text()).toContain("t: failed: tests");
  });

  it("runs the background checks while the foreground one runs, not after it", async () => {
    // Each waits for the other's file: run one after the other, they would never finish (the test's
    // timeout fails it); side by side, both do.
    const wait = (mine: string, theirs: string) =>
      `const fs=require("fs");fs.writeFileSync(${JSON.stringify(join(dir, mine))},"");` +
      `const t=setInterval(()=>{if(fs.existsSync(${JSON.stringify(join(dir, theirs))}))clearInterval(t)},20)`;
    const c = captured();
    const code = await runChecks({
      label: "t",
      background: [node("types", wait("types", "tests"))],
      foreground: node("tests", wait("tests", "types")),
      output: c.output,
    });
    expect(code).toBe(0);
  });
});

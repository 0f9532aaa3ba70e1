/**
 * Every script a user runs answers `--help` (exit 0, its usage on stdout), refuses an unknown option or a
 * bad value with its usage line (exit 2), and never prints a stack trace for a user's mistake. The
 * scripts are started as npm starts them (TypeScript through scripts/run.mjs), all at once.
 */

import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");

interface Ran {
  code: number;
  out: string;
  err: string;
}

function run(args: string[]): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: ROOT,
        timeout: 240_000,
        env: { ...process.env, CI: "", NO_COLOR: "1", WRANGLER_SEND_METRICS: "false" },
      },
      (error, out, err) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        done({ code, out, err });
      },
    );
  });
}

/** `scripts/run.mjs SCRIPT` for a TypeScript script, `node SCRIPT` for a JavaScript one. */
const SCRIPTS: [name: string, argv: string[], usage: string][] = [
  ["demo", ["scripts/run.mjs", "scripts/demo.ts"], "usage: npm run demo"],
  ["mint-demo-token", ["scripts/run.mjs", "scripts/mint-demo-token.ts"], "usage: npm run -s mint-demo-token"],
  ["bench", ["scripts/run.mjs", "scripts/bench.ts"], "usage: npm run bench"],
  ["fuzz", ["scripts/run.mjs", "scripts/fuzz.ts"], "usage: npm run fuzz"],
  ["setup", ["scripts/run.mjs", "scripts/setup.ts"], "usage: npm run setup"],
  ["deploy", ["scripts/run.mjs", "scripts/deploy.ts"], "usage: npm run deploy"],
  ["start", ["scripts/start.mjs"], "usage: npm start"],
  ["schema", ["scripts/schema.mjs"], "usage: npm run schema"],
  ["typecheck", ["scripts/typecheck.mjs"], "usage: npm run typecheck"],
  ["build:cli", ["scripts/build-cli.mjs"], "usage: npm run build:cli"],
  ["sts-policy", ["bin/sts-policy.mjs"], "usage:"],
];

const STACK = /^\s+at .+[:(]\d+/m;

describe("every script's command line", () => {
  it("answers --help with its usage and exit 0, and refuses --bogus with the usage line and exit 2", async () => {
    const results = await Promise.all(
      SCRIPTS.map(async ([name, argv, usage]) => ({
        name,
        usage,
        help: await run([...argv, "--help"]),
        bogus: await run([...argv, "--bogus"]),
      })),
    );
    for (const { name, usage, help, bogus } of results) {
      expect({ name, code: help.code }).toEqual({ name, code: 0 });
      expect(help.out, name).toContain(usage);
      expect({ name, code: bogus.code }).toEqual({ name, code: 2 });
      expect(bogus.err, name).toContain("--bogus");
      expect(bogus.err, name).toContain(usage);
      expect(bogus.err + bogus.out, name).not.toMatch(STACK);
    }
  }, 300_000);

  it("refuses a bad value with the usage line, never a stack", async () => {
    const [seq, port, skip] = await Promise.all([
      run(["scripts/run.mjs", "scripts/bench.ts", "--seq", "abc"]),
      run(["scripts/run.mjs", "scripts/demo.ts", "--port", "99999"]),
      run(["scripts/run.mjs", "scripts/bench.ts", "--seq"]),
    ]);
    expect(seq.code).toBe(2);
    expect(seq.err).toContain('--seq needs a whole number, not "abc"');
    expect(port.code).toBe(2);
    expect(port.err).toContain("--port needs a port number");
    expect(skip.code).toBe(2);
    expect(skip.err).toContain("--seq needs a value");
    for (const r of [seq, port, skip]) expect(r.err + r.out).not.toMatch(STACK);
  }, 300_000);

  it("mint-demo-token without a demo running says why in words, not 'fetch failed'", async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    const r = await run([
      "scripts/run.mjs",
      "scripts/mint-demo-token.ts",
      "--issuer-url",
      `http://127.0.0.1:${port}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `no issuer double answered at http://127.0.0.1:${port} (connection refused (ECONNREFUSED))`,
    );
    expect(r.err).toContain("Start the demo first");
    expect(r.err).not.toContain("fetch failed");
    expect(r.err).not.toMatch(STACK);
  }, 120_000);
});

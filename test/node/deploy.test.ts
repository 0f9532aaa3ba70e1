/**
 * `npm run deploy` with the wrangler stand-in (test/doubles/wrangler.mjs, wrangler 4.86's output): the
 * preflight lists every missing setting and secret and deploys nothing, warns when ALLOWED_ISSUERS is
 * not set, and otherwise runs `wrangler deploy`. Each test has its own copy of wrangler.toml.
 */

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const WRANGLER = join(ROOT, "test/doubles/wrangler.mjs");
const SHIPPED = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
const KV_ID = "0123456789abcdef0123456789abcdef";
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A directory with `toml` as wrangler.toml and the stand-in's state. */
function project(toml: string, state: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), "sts-deploy-"));
  made.push(dir);
  writeFileSync(join(dir, "wrangler.toml"), toml);
  writeFileSync(join(dir, "state.json"), JSON.stringify(state));
  return dir;
}

/** The shipped wrangler.toml as npm run setup leaves it. */
function configured(extraVars = ""): string {
  return SHIPPED.replace('id = "00000000000000000000000000000000"', `id = "${KV_ID}"`).replace(
    "[vars]\n",
    `[vars]\nSTS_DOMAIN = "sts.example.com"\nGITHUB_APP_ID = "123456"\n${extraVars}`,
  );
}

const WORKER = {
  workers: { "github-sts": { secrets: { GITHUB_APP_PRIVATE_KEY: "k", GITHUB_WEBHOOK_SECRET: "w" } } },
};

function deploy(dir: string, args: string[] = []): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [
        "scripts/run.mjs",
        "scripts/deploy.ts",
        "--config",
        join(dir, "wrangler.toml"),
        "--wrangler",
        WRANGLER,
        ...args,
      ],
      {
        cwd: ROOT,
        timeout: 240_000,
        env: { ...process.env, NO_COLOR: "1", WRANGLER_STAND_IN_STATE: join(dir, "state.json") },
      },
      (error, out, err) =>
        done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, out, err }),
    );
  });
}

const commands = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { calls: { argv: string[] }[] }).calls.map(
    (c) => c.argv.slice(0, 2).join(" "),
  );

describe("npm run deploy", () => {
  it("refuses the shipped placeholders and a Worker without its key, listing every problem, and deploys nothing", async () => {
    const dir = project(SHIPPED, {});
    const r = await deploy(dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("not deploying, 4 things are missing");
    expect(r.err).toContain("the id is still the placeholder 000…000");
    expect(r.err).toContain("STS_DOMAIN is not set in [vars]");
    expect(r.err).toContain("GITHUB_APP_ID is not set in [vars]");
    expect(r.err).toContain("the Worker does not exist yet, so it has no secret GITHUB_APP_PRIVATE_KEY");
    expect(r.out).toContain("warning: ALLOWED_ISSUERS is not set");
    expect(r.err + r.out).not.toMatch(/^\s+at /m);
    expect(commands(dir)).toEqual(["secret list"]);
  }, 120_000);

  it("refuses a non-numeric App id and a Worker whose secrets lack the key", async () => {
    const dir = project(configured().replace('GITHUB_APP_ID = "123456"', 'GITHUB_APP_ID = "my-app"'), {
      workers: { "github-sts": { secrets: { OTHER: "x" } } },
    });
    const r = await deploy(dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('GITHUB_APP_ID is "my-app": not a numeric App id');
    expect(r.err).toContain("the Worker has no secret GITHUB_APP_PRIVATE_KEY");
    expect(commands(dir)).toEqual(["secret list"]);
  }, 120_000);

  it("deploys a configured Worker, warning that ALLOWED_ISSUERS is not set", async () => {
    const dir = project(configured(), WORKER);
    const r = await deploy(dir);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain(
      "warning: ALLOWED_ISSUERS is not set: any issuer a policy names may be fetched and trusted",
    );
    expect(r.out).toContain("preflight ok: STS_DOMAIN=sts.example.com, GITHUB_APP_ID=123456");
    expect(r.out).toContain("Deployed github-sts triggers");
    expect(r.out).toContain("curl -sS https://sts.example.com/healthz");
    expect(commands(dir)).toEqual(["secret list", "deploy --config"]);
  }, 120_000);

  it("with ALLOWED_ISSUERS set says nothing about it; --check only checks; --var counts as set", async () => {
    const dir = project(
      configured('ALLOWED_ISSUERS = ["https://token.actions.githubusercontent.com"]\n'),
      WORKER,
    );
    const r = await deploy(dir, ["--check"]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).not.toContain("ALLOWED_ISSUERS");
    expect(commands(dir)).toEqual(["secret list"]);

    const viaVar = project(configured().replace('STS_DOMAIN = "sts.example.com"\n', ""), WORKER);
    const v = await deploy(viaVar, ["--check", "--", "--var", "STS_DOMAIN:sts.example.org"]);
    expect(v.code, v.out + v.err).toBe(0);
    expect(v.out).toContain("STS_DOMAIN=sts.example.org");
  }, 120_000);

  it("says to log in when wrangler is not, beside the other problems", async () => {
    const dir = project(SHIPPED, { loggedIn: false });
    const r = await deploy(dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("not deploying, 4 things are missing");
    expect(r.err).toContain("STS_DOMAIN is not set in [vars]");
    expect(r.err).toContain(
      "cannot check the Worker's secrets: wrangler secret list failed: In a non-interactive environment",
    );
    expect(r.err).toContain("npx wrangler login");
    expect(r.err).not.toMatch(/^\s+at /m);
  }, 120_000);
});

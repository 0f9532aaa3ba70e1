/**
 * `npm run demo` and `npm start` as a new user runs them, on free ports: the non-interactive walkthrough
 * exits 0 (the exchanges, the refusals, the webhook's two check runs and the push that evicts); the
 * interactive demo serves the README's curl exchange with a token from `npm run mint-demo-token`, a
 * policy edited in its directory takes effect at once through a signed push delivery, and after SIGINT
 * every port it listened on is free again; `npm start` without `.dev.vars` says what to do and exits 1.
 * No network: the demo routes every upstream to its doubles.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");

/** Three distinct free ports: all three are held open at once, so the OS cannot hand one out twice. */
async function freePorts(): Promise<[number, number, number]> {
  const servers = [createServer(), createServer(), createServer()];
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((done, reject) => {
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => done());
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports as [number, number, number];
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ["scripts/run.mjs", ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: "", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function collect(child: ChildProcess): { text: () => string; exit: Promise<number | null> } {
  let out = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  const exit = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  return { text: () => out, exit };
}

async function ports() {
  const [worker, issuer, github] = await freePorts();
  return { worker, issuer, github };
}

const portArgs = (p: { worker: number; issuer: number; github: number }) => [
  "--port",
  String(p.worker),
  "--issuer-port",
  String(p.issuer),
  "--github-port",
  String(p.github),
];

describe("npm run demo", () => {
  it("--ci walks through a granted exchange (on both endpoints) and two refusals and exits 0", async () => {
    const p = await ports();
    const child = run(["scripts/demo.ts", "--ci", ...portArgs(p)]);
    const { text, exit } = collect(child);
    expect(await exit, text()).toBe(0);
    const out = text();
    expect(out).toContain("ok   exchange granted");
    expect(out).toContain("ok   RFC 8693 exchange granted: 200 with an access_token for contents: write");
    expect(out).toMatch(/"msg":"sts\.exchange","door":"oauth\/token".*"decision":"granted"/);
    // The RFC 8693 answer is shown with its token redacted.
    expect(out).toMatch(/"access_token": "ghs_…\(redacted, \d+ characters\)"/);
    expect(out).toContain("ok   default audience refused: 403 AUDIENCE_MISMATCH");
    expect(out).toContain("ok   pull_request refused: 403 SUBJECT_MISMATCH");
    // The webhook, signed with the run's own secret: a failing then a passing check run, and the push
    // that makes a merged change take effect at once.
    expect(out).toContain("ok   pull request check run failed: failure, annotated at the typo's line");
    expect(out).toContain("ok   fixed pull request check run passed");
    expect(out).toContain("ok   merged change granted after its push");
    expect(out).toMatch(
      /failure \.github\/chainguard\/release\.sts\.yaml:9: unknown permission "pull-requests": did you mean "pull_requests"\?/,
    );
    expect(out).toMatch(
      /"msg":"sts\.webhook".*"event":"push".*"evictions":\["policy acme\/deploy-tools release"\]/,
    );
    expect(out).toContain(`request the OIDC token with audience=localhost:${p.worker}`);
    expect(out).toMatch(/"msg":"sts\.exchange".*"decision":"granted"/);
    for (const port of Object.values(p)) expect(await portIsFree(port)).toBe(true);
  }, 120_000);

  it("stays up for the README's curl exchange and frees every port on SIGINT", async () => {
    const p = await ports();
    const child = run(["scripts/demo.ts", ...portArgs(p)]);
    const { text, exit } = collect(child);
    for (let i = 0; i < 600 && !text().includes("Press Ctrl-C"); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text()).toContain("Press Ctrl-C");
    expect(text()).toContain(`npm run -s mint-demo-token -- --issuer-url http://127.0.0.1:${p.issuer}`);

    const token = execFileSync(
      process.execPath,
      [
        "scripts/run.mjs",
        "scripts/mint-demo-token.ts",
        "--issuer-url",
        `http://127.0.0.1:${p.issuer}`,
        "--aud",
        `localhost:${p.worker}`,
      ],
      { cwd: ROOT, encoding: "utf8" },
    ).trim();
    expect(token.split(".")).toHaveLength(3);
    const url = `http://127.0.0.1:${p.worker}/sts/exchange?scope=acme/deploy-tools&scopes=acme/deploy-tools&identity=release`;
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const body = (await response.json()) as { access_token?: string };
    expect(response.status).toBe(200);
    expect(body.access_token).toMatch(/^ghs_/);

    // The printed RFC 8693 curl, sent as curl sends it.
    expect(text()).toContain(`curl -s "http://localhost:${p.worker}/oauth/token" -d grant_type=`);
    const oauth = await fetch(`http://127.0.0.1:${p.worker}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
        subject_token: token,
        scope: "acme/deploy-tools",
        audience: "release",
      }).toString(),
    });
    expect(oauth.status).toBe(200);
    expect(((await oauth.json()) as { access_token?: string }).access_token).toMatch(/^ghs_/);

    // An edit of the policy takes effect at once: the demo delivers the signed push webhook for it.
    const file = join(ROOT, "build/demo/policies/acme/deploy-tools/release.sts.yaml");
    const pushes = () => text().split("evicted: policy acme/deploy-tools release").length;
    for (let i = 0; i < 100 && pushes() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const before = pushes();
    writeFileSync(file, readFileSync(file, "utf8").replace("contents: write", "contents: read"));
    for (let i = 0; i < 100 && pushes() === before; i++) await new Promise((r) => setTimeout(r, 100));
    expect(pushes()).toBe(before + 1);
    const edited = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(edited.status).toBe(200);
    await edited.body?.cancel();
    for (let i = 0; i < 50 && !text().includes('"permissions":{"contents":"read"}'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text()).toContain('"permissions":{"contents":"read"}');

    child.kill("SIGINT");
    // 0 from the demo's own handler, or 130 (128 + SIGINT) when Miniflare's exit hook ends it first.
    expect([0, 130]).toContain(await exit);
    for (const port of Object.values(p)) expect(await portIsFree(port)).toBe(true);
  }, 120_000);

  it("refuses to start on a busy port, saying which and how to choose another", async () => {
    const p = await ports();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(p.issuer, "127.0.0.1", () => r()));
    try {
      const { text, exit } = collect(run(["scripts/demo.ts", "--ci", "--skip-build", ...portArgs(p)]));
      expect(await exit).toBe(1);
      expect(text()).toContain(
        `port ${p.issuer} (issuer double) is in use: choose another with --issuer-port N`,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  }, 60_000);
});

/** Runs `npm start`'s script in `dir`; its exit status and standard error. */
function runStart(dir: string): { status: number; output: string } {
  try {
    execFileSync(process.execPath, [join(ROOT, "scripts/start.mjs")], {
      cwd: dir,
      encoding: "utf8",
      stdio: "pipe",
    });
    return { status: 0, output: "" };
  } catch (error) {
    const e = error as { status: number; stderr: string };
    return { status: e.status, output: e.stderr };
  }
}

describe("npm start", () => {
  it("without .dev.vars explains the three values and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "sts-start-"));
    const { status, output } = runStart(dir);
    expect(status).toBe(1);
    expect(output).toContain("cp .dev.vars.example .dev.vars");
    for (const name of ["STS_DOMAIN", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY"])
      expect(output).toContain(name);
  });

  it("with an empty value in .dev.vars names it and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "sts-start-"));
    writeFileSync(
      join(dir, ".dev.vars"),
      'STS_DOMAIN="localhost:8787"\nGITHUB_APP_ID=""\nGITHUB_APP_PRIVATE_KEY="x"\n',
    );
    const { status, output } = runStart(dir);
    expect(status).toBe(1);
    expect(output).toContain("does not set GITHUB_APP_ID.");
  });
});

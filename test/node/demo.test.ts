/**
 * `npm run demo` and `npm start` as a new user runs them, on free ports: the non-interactive walkthrough
 * exits 0 (the exchanges, the refusals with their reason and detail in one line, the webhook's two check
 * runs and the push that evicts); the interactive demo serves the README's curl exchange with a token
 * from `npm run mint-demo-token`, keeps every file of the policy directory it is given, checks a policy
 * saved there and prints a refusal's reason and detail in one line, makes a policy edited there take
 * effect at once through a signed push delivery, and after SIGINT every port it listened on is free
 * again; `npm start` without `.dev.vars` says what to do and exits 1. No network: the demo routes every
 * upstream to its doubles. Each run gets a policy directory (mkdtemp) and a bundle directory of its own,
 * so no test touches build/demo/policies or dist/.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_POLICY } from "../../scripts/lib/demo-world";

const ROOT = resolve(__dirname, "../..");

/** Directories this file made: policy directories in the system's temp, bundles under build/. */
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function policyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sts-demo-policies-"));
  made.push(dir);
  return dir;
}

/** A bundle directory under build/ (workerd refuses a module outside the working directory). */
function bundleDir(): string {
  mkdirSync(join(ROOT, "build"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, "build", "demo-test-"));
  made.push(dir);
  return relative(ROOT, dir);
}

/**
 * The bundle directory the demo runs of this file share: the first run builds the Worker there
 * (wrangler deploy --dry-run, as a user's first run does), later ones reuse it with --skip-build.
 */
let shared: string | undefined;
function sharedBundle(): string[] {
  shared ??= bundleDir();
  return existsSync(join(ROOT, shared, "index.js"))
    ? ["--skip-build", "--outdir", shared]
    : ["--outdir", shared];
}

/** Waits until `done()` or the child exits, for at most `ms` (generous: the machine may be loaded). */
async function until(child: ChildProcess, done: () => boolean, ms = 200_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

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
    const child = run(["scripts/demo.ts", "--ci", ...sharedBundle(), ...portArgs(p)]);
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
    // Each refusal in one line: its reason and the audit line's detail.
    expect(out).toContain("refused: SUBJECT_MISMATCH: subject: token sub differs from the policy's subject");
    expect(out).toMatch(/refused: AUDIENCE_MISMATCH: audience: /);
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
  }, 300_000);

  it("stays up for the README's curl exchange, keeps the user's files, and frees every port on SIGINT", async () => {
    const p = await ports();
    const dir = policyDir();
    // What a user left from an earlier run: a note, and their own edit of the example policy.
    writeFileSync(join(dir, "notes.txt"), "mine\n");
    mkdirSync(join(dir, "acme", "deploy-tools"), { recursive: true });
    const edited = `${DEMO_POLICY}# my edit\n`;
    writeFileSync(join(dir, "acme", "deploy-tools", "release.sts.yaml"), edited);
    const child = run(["scripts/demo.ts", "--dir", dir, ...sharedBundle(), ...portArgs(p)]);
    const { text, exit } = collect(child);
    await until(child, () => text().includes("Press Ctrl-C"));
    expect(text()).toContain("Press Ctrl-C");
    // The hint checks each layout as the service reads it: the org policy repository needs --org.
    expect(text()).toContain(
      `npm run -s policy -- check ${join(dir, "acme", "<repo>", "<identity>.sts.yaml")}`,
    );
    expect(text()).toContain(
      `npm run -s policy -- check --org ${join(dir, "acme", ".github", "<identity>.sts.yaml")}`,
    );
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
    const file = join(dir, "acme", "deploy-tools", "release.sts.yaml");
    const pushes = () => text().split("evicted: policy acme/deploy-tools release").length;
    for (let i = 0; i < 100 && pushes() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const before = pushes();
    const readOnly = edited.replace("contents: write", "contents: read");
    writeFileSync(file, readOnly);
    for (let i = 0; i < 100 && pushes() === before; i++) await new Promise((r) => setTimeout(r, 100));
    expect(pushes()).toBe(before + 1);
    const afterEdit = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(afterEdit.status).toBe(200);
    await afterEdit.body?.cancel();
    for (let i = 0; i < 50 && !text().includes('"permissions":{"contents":"read"}'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text()).toContain('"permissions":{"contents":"read"}');

    // A policy with a typo: the demo checks it when it is saved, and the refusal says why in one line.
    writeFileSync(
      join(dir, "acme", "deploy-tools", "typo.sts.yaml"),
      "issuer: https://token.actions.githubusercontent.com\nsubjet: repo:acme/deploy-tools:ref:refs/heads/main\npermissions:\n  contents: read\n",
    );
    await until(child, () => text().includes("typo.sts.yaml:2:1: unknown key"));
    expect(text()).toContain(
      `typo.sts.yaml:2:1: unknown key "subjet" in a repository policy: did you mean "subject"?`,
    );
    const typo = await fetch(url.replace("identity=release", "identity=typo"), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(typo.status).toBe(404);
    await until(child, () => text().includes("refused (acme/deploy-tools identity typo) POLICY_NOT_FOUND"));
    expect(text()).toMatch(
      /refused \(acme\/deploy-tools identity typo\) POLICY_NOT_FOUND: policy parse error at 2:1: unknown key "subjet" in a repository policy: did you mean "subject"\?\n/,
    );

    child.kill("SIGINT");
    // 0 from the demo's own handler, or 130 (128 + SIGINT) when Miniflare's exit hook ends it first.
    expect([0, 130]).toContain(await exit);
    for (const port of Object.values(p)) expect(await portIsFree(port)).toBe(true);
    // Nothing the user wrote was deleted or overwritten (the policy is as the test last saved it); the
    // example org directory was added.
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("mine\n");
    expect(readFileSync(join(dir, "acme", "deploy-tools", "release.sts.yaml"), "utf8")).toBe(readOnly);
    expect(existsSync(join(dir, "acme", "deploy-tools", "typo.sts.yaml"))).toBe(true);
    expect(existsSync(join(dir, "acme", ".github"))).toBe(true);
  }, 300_000);

  it("--skip-build without a bundle says what to do, without a stack", async () => {
    const { text, exit } = collect(run(["scripts/demo.ts", "--ci", "--skip-build", "--outdir", bundleDir()]));
    expect(await exit).toBe(1);
    expect(text()).toContain("--skip-build: there is no Worker bundle at");
    expect(text()).toContain("run the demo once without --skip-build");
    expect(text()).not.toMatch(/^\s+at /m);
  }, 120_000);

  it("refuses an unknown option with its usage line (exit 2)", async () => {
    const { text, exit } = collect(run(["scripts/demo.ts", "--bogus"]));
    expect(await exit).toBe(2);
    expect(text()).toContain("npm run demo: unknown argument --bogus");
    expect(text()).toContain("usage: npm run demo --");
  }, 120_000);

  it("refuses to start on a busy port, saying which and how to choose another", async () => {
    const p = await ports();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(p.issuer, "127.0.0.1", () => r()));
    // A policy directory that does not exist yet: it is made, with the example policy in it.
    const dir = join(policyDir(), "new", "nested");
    try {
      const { text, exit } = collect(run(["scripts/demo.ts", "--interactive", "--dir", dir, ...portArgs(p)]));
      expect(await exit).toBe(1);
      expect(text()).toContain(
        `port ${p.issuer} (issuer double) is in use: choose another with --issuer-port N`,
      );
      expect(readFileSync(join(dir, "acme", "deploy-tools", "release.sts.yaml"), "utf8")).toBe(DEMO_POLICY);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  }, 120_000);
});

/** Runs `npm start`'s script in `dir`; its exit status and standard error. */
function runStart(dir: string, args: string[] = []): { status: number; output: string } {
  try {
    execFileSync(process.execPath, [join(ROOT, "scripts/start.mjs"), ...args], {
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

  /** A directory whose .dev.vars sets all three values, STS_DOMAIN as given. */
  function configured(domain: string): string {
    const dir = mkdtempSync(join(tmpdir(), "sts-start-"));
    made.push(dir);
    writeFileSync(
      join(dir, ".dev.vars"),
      `STS_DOMAIN="${domain}"\nGITHUB_APP_ID="1"\nGITHUB_APP_PRIVATE_KEY="x"\n`,
    );
    return dir;
  }

  it("refuses a port other than the one STS_DOMAIN names, saying both ways out", () => {
    const { status, output } = runStart(configured("localhost:8787"), ["--port", "9999"]);
    expect(status).toBe(1);
    expect(output).toContain(
      'STS_DOMAIN="localhost:8787" in .dev.vars says clients reach the Worker on port 8787',
    );
    expect(output).toContain("npm start -- --port 8787");
    expect(output).toContain('STS_DOMAIN="localhost:9999"');
  });

  it("refuses a busy port instead of letting wrangler dev move to another", async () => {
    const [port] = await freePorts();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
    try {
      const { status, output } = runStart(configured(`localhost:${port}`), ["--port", String(port)]);
      expect(status).toBe(1);
      expect(output).toContain(`npm start: port ${port} is in use`);
      expect(output).toContain("wrangler dev would quietly listen on another port");
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("answers --help without .dev.vars, and refuses an unknown option with exit 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "sts-start-"));
    made.push(dir);
    expect(
      execFileSync(process.execPath, [join(ROOT, "scripts/start.mjs"), "--help"], {
        cwd: dir,
        encoding: "utf8",
      }),
    ).toContain("usage: npm start -- [--port N]");
    const { status, output } = runStart(dir, ["--inspector-port", "9230"]);
    expect(status).toBe(2);
    expect(output).toContain("npm start -- -- --inspector-port");
  });
});

/**
 * `npm run setup` against the GitHub double (its web form and `POST /app-manifests/{code}/conversions`),
 * a browser stand-in that presses the button, and a wrangler stand-in that prints what wrangler 4.86
 * prints (test/doubles/wrangler.mjs). Each test works on a copy of wrangler.toml in a directory of its
 * own and a secrets directory of its own: the repository's files are never touched.
 */

import { execFile } from "node:child_process";
import { createSign } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubDouble } from "../doubles/github";
import { type StartedServer, startServer } from "../doubles/server";

const ROOT = resolve(__dirname, "../..");
const WRANGLER = join(ROOT, "test/doubles/wrangler.mjs");
const BROWSER = join(ROOT, "test/doubles/browser.mjs");
const APP_ID = "777001";

let server: StartedServer;
let github: GitHubDouble;
let webUrl: string;
let apiUrl: string;
const made: string[] = [];

beforeAll(async () => {
  let double: GitHubDouble | undefined;
  server = await startServer((req) => (double as GitHubDouble).handle(req));
  double = new GitHubDouble(server.url);
  github = double;
  const tenant = await github.setupTenant("setup", { appId: APP_ID, installations: [{ account: "acme" }] });
  apiUrl = tenant.baseUrl;
  webUrl = apiUrl.replace(/\/api\/v3$/, "");
});

afterAll(async () => {
  await server.close();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A project directory with a copy of the shipped wrangler.toml and a user's own edits in it. */
function project(): {
  dir: string;
  config: string;
  original: string;
  secrets: string;
  state: string;
  log: string;
} {
  const dir = mkdtempSync(join(tmpdir(), "sts-setup-"));
  made.push(dir);
  const projectDir = join(dir, "project");
  mkdirSync(projectDir);
  const config = join(projectDir, "wrangler.toml");
  const original = `${readFileSync(join(ROOT, "wrangler.toml"), "utf8")}\n# my own note\n[env.staging]\nname = "github-sts-staging"\n`;
  writeFileSync(config, original);
  return {
    dir,
    config,
    original,
    secrets: join(dir, "secrets"),
    state: join(dir, "wrangler-state.json"),
    log: join(dir, "browser.json"),
  };
}

interface Ran {
  code: number;
  out: string;
  err: string;
}

function setup(
  p: ReturnType<typeof project>,
  args: string[],
  env: Record<string, string> = {},
): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [
        "scripts/run.mjs",
        "scripts/setup.ts",
        "--config",
        p.config,
        "--secrets-dir",
        p.secrets,
        "--github-url",
        webUrl,
        "--wrangler",
        WRANGLER,
        ...args,
      ],
      {
        cwd: ROOT,
        timeout: 240_000,
        env: {
          ...process.env,
          NO_COLOR: "1",
          WRANGLER_STAND_IN_STATE: p.state,
          BROWSER_STAND_IN_LOG: p.log,
          ...env,
        },
      },
      (error, out, err) => {
        done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, out, err });
      },
    );
  });
}

interface WranglerState {
  namespaces: { id: string; title: string }[];
  workers: Record<string, { secrets: Record<string, string> }>;
  calls: { argv: string[]; stdin?: string }[];
}
const wranglerState = (p: ReturnType<typeof project>) =>
  JSON.parse(readFileSync(p.state, "utf8")) as WranglerState;

/** `lines` of `after` that are not in `before`, and whether every line of `before` but `except` is kept. */
function edits(before: string, after: string) {
  const old = before.split("\n");
  const now = after.split("\n");
  return {
    added: now.filter((line) => !old.includes(line)),
    removed: old.filter((line) => !now.includes(line)),
  };
}

/** An App JWT signed with `pem`, as the Worker makes it. */
function appJwt(pem: string, appId: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ iss: appId, iat: now - 60, exp: now + 540 })}`;
  return `${body}.${createSign("RSA-SHA256").update(body).sign(pem, "base64url")}`;
}

const BASE = ["--domain", "sts.example.com", "--org", "acme", "--browser", BROWSER];

describe("npm run setup", () => {
  it("creates the App through the manifest flow, stores its secrets, creates KV and edits only its lines", async () => {
    const p = project();
    const before = github.manifestsPosted("setup").length;
    const r = await setup(p, BASE, { BROWSER_STAND_IN_WRONG_STATE: "1" });
    expect(r.code, r.out + r.err).toBe(0);

    // The page posted the manifest to the organization's form with a random state; a callback with
    // another state was refused, GitHub's redirect was accepted.
    const log = JSON.parse(readFileSync(p.log, "utf8")) as {
      action: string;
      manifest: Record<string, unknown>;
      steps: Record<string, unknown>[];
    };
    expect(log.action).toMatch(
      new RegExp(`^${webUrl}/organizations/acme/settings/apps/new\\?state=[0-9a-f]{48}$`),
    );
    expect(log.steps[0]).toMatchObject({ status: 400 });
    expect(log.steps[1]).toMatchObject({ posted: 302 });
    expect(log.steps[2]).toMatchObject({ callback: 200 });
    const posted = github.manifestsPosted("setup").slice(before);
    expect(posted).toHaveLength(1);
    const shipped = JSON.parse(readFileSync(join(ROOT, "github-app-manifest.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(posted[0]?.org).toBe("acme");
    expect(posted[0]?.manifest).toMatchObject({
      name: shipped.name,
      default_permissions: shipped.default_permissions,
      hook_attributes: { url: "https://sts.example.com/webhook" },
    });
    expect(String(posted[0]?.manifest.redirect_url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    // GitHub's answer, kept outside the project, readable by its owner only.
    const app = JSON.parse(readFileSync(join(p.secrets, "app.json"), "utf8")) as {
      id: number;
      slug: string;
      pem: string;
      webhook_secret: string;
      client_id: string;
      client_secret: string;
    };
    expect(app).toMatchObject({ id: Number(APP_ID), slug: "github-sts" });
    expect(app.client_id).not.toBe("");
    expect(app.client_secret).not.toBe("");
    expect(statSync(p.secrets).mode & 0o777).toBe(0o700);
    for (const file of ["app.json", "private-key.pem"])
      expect(statSync(join(p.secrets, file)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(p.secrets, "private-key.pem"), "utf8").trim()).toBe(app.pem.trim());
    // The key is the App's: the double accepts a JWT signed with it.
    const listed = await fetch(`${apiUrl}/app/installations`, {
      headers: { authorization: `Bearer ${appJwt(app.pem, APP_ID)}`, "user-agent": "test" },
    });
    expect(listed.status).toBe(200);

    // The Worker's secrets, through wrangler secret put (stdin).
    const state = wranglerState(p);
    expect(state.workers["github-sts"]?.secrets).toEqual({
      GITHUB_APP_PRIVATE_KEY: app.pem.trim(),
      GITHUB_WEBHOOK_SECRET: app.webhook_secret,
    });
    expect(state.namespaces.map((n) => n.title)).toEqual(["github-sts-STS_CACHE"]);
    const kvId = state.namespaces[0]?.id as string;

    // wrangler.toml: the id and GITHUB_BASE_URL lines replaced (the double is an Enterprise-style
    // GitHub), two [vars] lines added, nothing else.
    const after = readFileSync(p.config, "utf8");
    expect(edits(p.original, after)).toEqual({
      added: [
        `GITHUB_BASE_URL = "${apiUrl}"`,
        `GITHUB_APP_ID = "${APP_ID}"`,
        'STS_DOMAIN = "sts.example.com"',
        `id = "${kvId}"`,
      ].sort((a, b) => after.indexOf(a) - after.indexOf(b)),
      removed: ['GITHUB_BASE_URL = "https://api.github.com"', 'id = "00000000000000000000000000000000"'],
    });
    expect(after).toContain("# my own note\n[env.staging]\n");
    // Nothing but wrangler.toml in the project; no key anywhere in it.
    expect(readdirSync(join(p.dir, "project"))).toEqual(["wrangler.toml"]);
    expect(after).not.toContain("PRIVATE KEY");
    expect(r.out).toContain(`${webUrl}/apps/github-sts/installations/new`);
    expect(r.out).toContain("npm run deploy");

    // Run again: nothing new is created, nothing in wrangler.toml changes.
    const calls = state.calls.length;
    const again = await setup(p, [...BASE, "--timeout", "5"]);
    expect(again.code, again.out + again.err).toBe(0);
    expect(again.out).toContain(`App ${APP_ID} (github-sts) was created before`);
    expect(again.out).toContain(`wrangler.toml already names namespace ${kvId}`);
    expect(again.out).toContain("nothing to change in");
    expect(github.manifestsPosted("setup").length).toBe(before + 1);
    expect(readFileSync(p.config, "utf8")).toBe(after);
    const second = wranglerState(p);
    expect(second.namespaces).toHaveLength(1);
    expect(second.calls.slice(calls).map((c) => c.argv.slice(0, 3).join(" "))).toEqual([
      "whoami",
      "secret put GITHUB_APP_PRIVATE_KEY",
      "secret put GITHUB_WEBHOOK_SECRET",
    ]);
  }, 300_000);

  it("reuses a KV namespace already named, and every step can be skipped", async () => {
    const p = project();
    mkdirSync(p.secrets, { mode: 0o700 });
    writeFileSync(
      join(p.secrets, "app.json"),
      JSON.stringify({
        id: 424242,
        slug: "github-sts",
        pem: "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n",
      }),
    );
    writeFileSync(
      p.state,
      JSON.stringify({
        namespaces: [{ id: "0123456789abcdef0123456789abcdef", title: "github-sts-STS_CACHE" }],
      }),
    );
    const r = await setup(p, ["--skip-app", "--skip-secrets", "--domain", "sts.example.com"]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain(
      "reusing the namespace already named github-sts-STS_CACHE: 0123456789abcdef0123456789abcdef",
    );
    const after = readFileSync(p.config, "utf8");
    expect(after).toContain('id = "0123456789abcdef0123456789abcdef"');
    expect(after).toContain('GITHUB_APP_ID = "424242"');
    const state = wranglerState(p);
    expect(state.calls.map((c) => c.argv.slice(0, 3).join(" "))).toEqual(["whoami", "kv namespace list"]);

    const all = await setup(p, ["--skip-app", "--skip-secrets", "--skip-kv", "--skip-config"]);
    expect(all.code, all.out + all.err).toBe(0);
    for (const what of ["--skip-app", "--skip-secrets", "--skip-kv", "--skip-config"]) {
      expect(all.out).toContain(`skipped (${what})`);
    }
    expect(readFileSync(p.config, "utf8")).toBe(after);
  }, 300_000);

  it("never writes the App's secrets inside the repository or the project", async () => {
    const p = project();
    for (const inside of [join(ROOT, "build", "secrets"), join(p.dir, "project", "secrets")]) {
      const r = await setup({ ...p, secrets: inside }, BASE);
      expect(r.code).toBe(2);
      expect(r.err).toContain("is inside the repository");
      expect(r.err).toContain("usage: npm run setup");
    }
  }, 300_000);

  it("says what to do when wrangler is not logged in or --domain is missing, all at once and before creating any App, and refuses a URL for --domain, without a stack", async () => {
    const p = project();
    writeFileSync(p.state, JSON.stringify({ loggedIn: false }));
    const r = await setup(p, ["--skip-app", "--skip-secrets"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("wrangler is not logged in to Cloudflare");
    expect(r.err).toContain("CLOUDFLARE_API_TOKEN");
    expect(r.err).toContain("npx wrangler login");
    expect(r.err).not.toMatch(/^\s+at /m);

    // The whole path: refused before the browser opens, so no App is made and no directory left behind.
    const full = await setup(p, BASE);
    expect(full.code).toBe(1);
    expect(full.err).toContain("--skip-secrets --skip-kv makes only the App");
    expect(existsSync(p.log)).toBe(false);
    expect(existsSync(p.secrets)).toBe(false);
    expect(wranglerState(p).calls.map((c) => c.argv[0])).toEqual(["whoami", "whoami"]);

    // Neither a login nor a domain: both said in one run, still before anything is created.
    const both = await setup(p, ["--org", "acme", "--browser", BROWSER]);
    expect(both.code).toBe(1);
    expect(both.err).toContain("2 things to fix before anything is created:");
    expect(both.err).toContain("  - --domain HOST is needed to create the App");
    expect(both.err).toContain("  - wrangler is not logged in to Cloudflare");
    expect(existsSync(p.log)).toBe(false);
    expect(existsSync(p.secrets)).toBe(false);

    // An unreadable app.json from an earlier run is one of the things, not the only one said.
    const broken = project();
    writeFileSync(broken.state, JSON.stringify({ loggedIn: false }));
    mkdirSync(broken.secrets, { recursive: true });
    writeFileSync(join(broken.secrets, "app.json"), "not json");
    const withBroken = await setup(broken, ["--org", "acme", "--browser", BROWSER]);
    expect(withBroken.code).toBe(1);
    expect(withBroken.err).toContain("2 things to fix before anything is created:");
    expect(withBroken.err).toMatch(/ {2}- .*app\.json is not JSON/);
    expect(withBroken.err).toContain("  - wrangler is not logged in to Cloudflare");
    expect(readFileSync(join(broken.secrets, "app.json"), "utf8")).toBe("not json");

    const url = await setup(p, ["--domain", "https://sts.example.com/"]);
    expect(url.code).toBe(2);
    expect(url.err).toContain("--domain takes a host name, not a URL: --domain sts.example.com");
  }, 300_000);
});

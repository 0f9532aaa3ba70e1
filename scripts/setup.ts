/**
 * `npm run setup`: from nothing to a configured deployment, as far as this machine can go
 * (docs/deploying.md, "npm run setup"). Four steps, each skippable and safe to run again:
 *
 *   app      GitHub's App manifest flow: a local page posts github-app-manifest.json (webhook URL filled
 *            in from --domain) to GitHub with a random `state`; a listener on 127.0.0.1 accepts GitHub's
 *            redirect only with that `state` and trades the code at `POST /app-manifests/{code}/conversions`
 *            for the App's id, key and webhook secret, written to a directory outside the repository
 *            (~/.config/github-sts, mode 0700/0600). An App already there is reused.
 *   secrets  `wrangler secret put` GITHUB_APP_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET, from that directory.
 *   kv       the KV namespace: the id already in wrangler.toml, else one already named, else a new one.
 *   config   wrangler.toml: the KV id line, and STS_DOMAIN and GITHUB_APP_ID in [vars]; each an edit of
 *            one line, so the user's other edits stay as they are.
 *
 * Nothing secret is ever written inside the repository. GitHub's base URL, the browser and the wrangler
 * command are injectable (--github-url, --browser, --wrangler), so the tests run it against the GitHub
 * double and a wrangler stand-in.
 */

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import {
  bulletList,
  describeNetworkError,
  exitOnError,
  parseArgsOrExit,
  UserError,
  usageExit,
} from "./lib/cli";
import { kvNamespace, readValue, setString, splitLines, table } from "./lib/toml-lines";
import {
  jsonOutput,
  runWrangler,
  type Wrangler,
  wranglerCommand,
  wranglerError,
  wranglerHint,
} from "./lib/wrangler";

const SCRIPT = "npm run setup";
const KV_PLACEHOLDER = "00000000000000000000000000000000";

const USAGE = `usage: npm run setup -- --domain HOST [--org ORG] [options]
  Creates the GitHub App from github-app-manifest.json, stores its key and webhook secret as Worker
  secrets, creates (or reuses) the KV namespace, and writes its id, STS_DOMAIN and GITHUB_APP_ID into
  wrangler.toml. Every step can be skipped, and running it again redoes only what is missing.
  --domain HOST        STS_DOMAIN, the hostname clients use (default: STS_DOMAIN in wrangler.toml)
  --org ORG            create the App in this organization (default: your personal account)
  --name NAME          the App's name on GitHub (default: the manifest's)
  --secrets-dir DIR    where the App's JSON and key are kept, outside the repository
                       (default: $XDG_CONFIG_HOME/github-sts, or ~/.config/github-sts)
  --new-app            create another App even if DIR holds one (the old files are kept, renamed)
  --skip-app           use the App DIR already holds (do not open GitHub)
  --skip-secrets       do not run wrangler secret put
  --skip-kv            do not look up or create the KV namespace
  --skip-config        do not edit wrangler.toml
  --config FILE        the wrangler configuration (default: wrangler.toml)
  --manifest FILE      the App manifest (default: github-app-manifest.json)
  --kv-title TITLE     the KV namespace's title (default: <Worker name>-STS_CACHE)
  --port N             the local page's port (default: any free port)
  --timeout SECONDS    how long to wait for GitHub (default 900)
  --no-browser         print the page's address instead of opening a browser
  --browser CMD        open the page with CMD (a .js or .mjs file runs with node; or STS_SETUP_BROWSER)
  --github-url URL     GitHub's web address (default https://github.com; Enterprise Server: https://HOST)
  --api-url URL        GitHub's REST API (default: https://api.github.com, or <github-url>/api/v3)
  --wrangler CMD       the wrangler to run (a .js or .mjs file runs with node; or STS_WRANGLER)`;

const flags = parseArgsOrExit(SCRIPT, USAGE, {
  domain: { kind: "string" },
  org: { kind: "string" },
  name: { kind: "string" },
  "secrets-dir": { kind: "string" },
  "new-app": { kind: "switch" },
  "skip-app": { kind: "switch" },
  "skip-secrets": { kind: "switch" },
  "skip-kv": { kind: "switch" },
  "skip-config": { kind: "switch" },
  config: { kind: "string" },
  manifest: { kind: "string" },
  "kv-title": { kind: "string" },
  port: { kind: "port" },
  timeout: { kind: "int" },
  "no-browser": { kind: "switch" },
  browser: { kind: "string" },
  "github-url": { kind: "string" },
  "api-url": { kind: "string" },
  wrangler: { kind: "string" },
});
if (flags.rest.length > 0) usageExit(SCRIPT, `unexpected argument ${flags.rest[0]}`, USAGE);
const has = (name: string) => flags.switches.has(name);
const value = (name: string) => flags.values.get(name);
if (has("new-app") && has("skip-app"))
  usageExit(SCRIPT, "--new-app and --skip-app exclude each other", USAGE);

// ---- output -----------------------------------------------------------------------------------------

const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[22m` : s);
const say = (line = "") => process.stdout.write(`${line}\n`);
const step = (title: string) => say(`\n${bold(`== ${title}`)}`);

/** `path` as the user can type it: ~ for the home directory. */
function shown(path: string): string {
  const home = homedir();
  return path === home || path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

// ---- where things are -------------------------------------------------------------------------------

const configPath = resolve(value("config") ?? "wrangler.toml");
const projectDir = dirname(configPath);

/** The working tree of the repository the command runs in, if it is one. */
function gitTopLevel(dir: string): string | undefined {
  const r = spawnSync("git", ["rev-parse", "--show-toplevel"], { cwd: dir, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function secretsDirOf(): string {
  const given = value("secrets-dir");
  const base = process.env.XDG_CONFIG_HOME?.trim() || join(homedir(), ".config");
  const dir = resolve(given ?? join(base, "github-sts"));
  const repositories = [projectDir, process.cwd(), gitTopLevel(projectDir), gitTopLevel(process.cwd())];
  for (const repo of repositories) {
    if (repo !== undefined && isInside(dir, repo)) {
      usageExit(
        SCRIPT,
        `--secrets-dir ${dir} is inside the repository ${repo}: the App's key must not be written there; choose a directory outside it`,
        USAGE,
      );
    }
  }
  return dir;
}
const secretsDir = secretsDirOf();
const appJsonPath = join(secretsDir, "app.json");
const keyPath = join(secretsDir, "private-key.pem");

const githubUrl = (value("github-url") ?? "https://github.com").replace(/\/+$/, "");
const apiUrl = (
  value("api-url") ??
  (/^https:\/\/github\.com$/i.test(githubUrl) ? "https://api.github.com" : `${githubUrl}/api/v3`)
).replace(/\/+$/, "");
for (const [flag, url] of [
  ["--github-url", githubUrl],
  ["--api-url", apiUrl],
] as const) {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {}
  if (parsed === undefined || !/^https?:$/.test(parsed.protocol))
    usageExit(SCRIPT, `${flag} needs an http(s) URL`, USAGE);
}

function readConfig(): string[] {
  return splitLines(readFileSync(configPath, "utf8"));
}

function workerName(lines: readonly string[]): string {
  const top = table(lines, "");
  const at = top === undefined ? undefined : lines.findIndex((l, i) => i < top.end && /^\s*name\s*=/.test(l));
  const name = at === undefined || at < 0 ? undefined : readValue(lines[at] as string);
  return name?.kind === "string" ? name.value : "github-sts";
}

function configuredVar(lines: readonly string[], key: string): string | undefined {
  const vars = table(lines, "vars");
  if (vars === undefined) return undefined;
  for (let i = vars.header + 1; i < vars.end; i++) {
    const line = lines[i] as string;
    if (new RegExp(`^\\s*${key}\\s*=`).test(line)) {
      const v = readValue(line);
      return v.kind === "string" || v.kind === "number" ? String(v.value) : undefined;
    }
  }
  return undefined;
}

const HOST =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/;

function domainOf(): string | undefined {
  const given = value("domain");
  if (given !== undefined) {
    if (/^[a-z]+:\/\//i.test(given)) {
      usageExit(
        SCRIPT,
        `--domain takes a host name, not a URL: --domain ${given.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "")}`,
        USAGE,
      );
    }
    if (!HOST.test(given))
      usageExit(SCRIPT, `--domain ${JSON.stringify(given)} is not a host name (host or host:port)`, USAGE);
    return given.toLowerCase();
  }
  return existsSync(configPath) ? configuredVar(readConfig(), "STS_DOMAIN") : undefined;
}
const domain = domainOf();

// ---- the App ----------------------------------------------------------------------------------------

/** What GitHub's conversion answers, as kept in app.json. */
interface AppCredentials {
  id: number;
  slug: string;
  pem: string;
  webhook_secret?: string | null;
  client_id?: string;
  client_secret?: string;
  html_url?: string;
  owner?: { login?: string; type?: string };
}

function loadApp(): AppCredentials | undefined {
  if (!existsSync(appJsonPath)) return undefined;
  let app: AppCredentials;
  try {
    app = JSON.parse(readFileSync(appJsonPath, "utf8")) as AppCredentials;
  } catch {
    throw new UserError(`${shown(appJsonPath)} is not JSON (GitHub's answer to the manifest conversion)`);
  }
  if (!Number.isSafeInteger(app.id) || typeof app.pem !== "string" || !app.pem.includes("PRIVATE KEY")) {
    throw new UserError(
      `${shown(appJsonPath)} has no App id and private key (GitHub's answer to the manifest conversion)`,
    );
  }
  return app;
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Keeps the files of an App already in the directory under names of their own before a new one. */
function setAside(previous: AppCredentials): void {
  renameSync(appJsonPath, join(secretsDir, `app-${previous.id}.json`));
  if (existsSync(keyPath)) renameSync(keyPath, join(secretsDir, `private-key-${previous.id}.pem`));
  say(`  the previous App's files are kept as app-${previous.id}.json and private-key-${previous.id}.pem`);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:42em;margin:3em auto">${body}</body></html>`;
}

function answer(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(html);
}

function openBrowser(url: string): void {
  if (has("no-browser")) return;
  const chosen = value("browser") ?? process.env.STS_SETUP_BROWSER?.trim();
  let argv: string[] | undefined;
  if (chosen) argv = /\.[cm]?js$/.test(chosen) ? [process.execPath, chosen, url] : [chosen, url];
  else if (process.platform === "darwin") argv = ["open", url];
  else if (process.platform === "win32") argv = ["cmd", "/c", "start", "", url];
  else if (spawnSync("sh", ["-c", "command -v xdg-open"], { stdio: "ignore" }).status === 0)
    argv = ["xdg-open", url];
  if (argv === undefined) return;
  const [command, ...args] = argv as [string, ...string[]];
  const child = spawn(command, args, { stdio: chosen ? "inherit" : "ignore", detached: !chosen });
  child.on("error", () => say(dim(`  (could not start ${command}: open the address above yourself)`)));
  if (!chosen) child.unref();
}

async function exchangeCode(code: string): Promise<AppCredentials> {
  let response: Response;
  try {
    response = await fetch(`${apiUrl}/app-manifests/${encodeURIComponent(code)}/conversions`, {
      method: "POST",
      headers: {
        accept: "application/vnd.github+json",
        "user-agent": "github-sts-setup",
        "x-github-api-version": "2022-11-28",
      },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new UserError(
      `GitHub's API at ${apiUrl} did not answer the code exchange: ${describeNetworkError(error)}`,
    );
  }
  if (response.status !== 201) {
    await response.body?.cancel();
    throw new UserError(
      `GitHub refused the code exchange (status ${response.status}): a code works once and for an hour; run ${SCRIPT} again`,
    );
  }
  const app = (await response.json()) as AppCredentials;
  if (!Number.isSafeInteger(app.id) || typeof app.pem !== "string") {
    throw new UserError("GitHub's answer to the code exchange has no App id or key");
  }
  return app;
}

const DOMAIN_NEEDED =
  "--domain HOST is needed to create the App: the hostname clients will use (sts.example.com, or github-sts.<your-subdomain>.workers.dev); the App's webhook goes to https://HOST/webhook";

/** Whether this run will create an App (no --skip-app, and none made before or --new-app). */
function willCreateApp(): boolean {
  return !has("skip-app") && (has("new-app") || loadApp() === undefined);
}

async function createApp(): Promise<AppCredentials> {
  if (domain === undefined) throw new UserError(DOMAIN_NEEDED);
  const manifestPath = resolve(value("manifest") ?? "github-app-manifest.json");
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      `cannot read the App manifest ${manifestPath} (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const state = randomBytes(24).toString("hex");
  const timeoutSeconds = Number(value("timeout") ?? 900);
  const org = value("org");
  const formAction = `${githubUrl}${org === undefined ? "" : `/organizations/${encodeURIComponent(org)}`}/settings/apps/new?state=${state}`;

  return new Promise<AppCredentials>((resolveApp, rejectApp) => {
    let done = false;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void handle(req, res);
    });
    const finish = (outcome: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      server.closeAllConnections();
      server.close();
      outcome();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          rejectApp(
            new UserError(
              `GitHub did not come back within ${timeoutSeconds} s; run ${SCRIPT} again (nothing was created)`,
            ),
          ),
        ),
      timeoutSeconds * 1000,
    );
    let filled: Record<string, unknown> = manifest;

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (req.method === "GET" && url.pathname === "/") {
        const html = page(
          "Create the GitHub App",
          `<h1>Create the GitHub App</h1><p>This page was made by <code>${SCRIPT}</code>. The button sends the manifest below to ${escapeHtml(githubUrl)}${org === undefined ? " for your personal account" : ` for the organization <b>${escapeHtml(org)}</b>`}; GitHub shows it to you before it creates anything.</p>` +
            `<form action="${escapeHtml(formAction)}" method="post"><input type="hidden" name="manifest" value="${escapeHtml(JSON.stringify(filled))}"><button>Create the GitHub App</button></form>` +
            `<pre>${escapeHtml(JSON.stringify(filled, null, 2))}</pre>`,
        );
        answer(res, 200, html);
        return;
      }
      if (req.method === "GET" && url.pathname === "/callback") {
        if (done) {
          answer(res, 410, page("Done", `<p>This run of <code>${SCRIPT}</code> has finished.</p>`));
          return;
        }
        if (url.searchParams.get("state") !== state) {
          // Not the page this run opened (an old tab, another run, or someone else's link): ignore it.
          answer(
            res,
            400,
            page(
              "Not this run",
              `<p>This answer does not carry the state of this run of <code>${SCRIPT}</code>; nothing was done. Use the page it opened.</p>`,
            ),
          );
          say(dim("  (an answer without this run's state was refused)"));
          return;
        }
        const code = url.searchParams.get("code");
        if (code === null || !/^[A-Za-z0-9_-]{1,100}$/.test(code)) {
          answer(res, 400, page("No code", "<p>GitHub's answer has no code.</p>"));
          return;
        }
        try {
          const app = await exchangeCode(code);
          const install = `${githubUrl}/apps/${app.slug}/installations/new`;
          answer(
            res,
            200,
            page(
              "GitHub App created",
              `<h1>The App ${escapeHtml(app.slug)} is created</h1><p>Its key and secrets are in ${escapeHtml(shown(secretsDir))}. <a href="${escapeHtml(install)}">Install it</a> on the accounts whose repositories it serves. You can close this tab; ${SCRIPT} goes on in the terminal.</p>`,
            ),
          );
          finish(() => resolveApp(app));
        } catch (error) {
          answer(
            res,
            502,
            page("Failed", `<p>${escapeHtml(error instanceof Error ? error.message : String(error))}</p>`),
          );
          finish(() => rejectApp(error));
        }
        return;
      }
      answer(res, 404, page("Not found", "<p>Not found.</p>"));
    }

    server.once("error", (error) =>
      finish(() =>
        rejectApp(
          new UserError(
            `cannot listen on 127.0.0.1:${value("port") ?? "a free port"} (${error.message}); choose another with --port N`,
          ),
        ),
      ),
    );
    server.listen(Number(value("port") ?? 0), "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      filled = {
        ...manifest,
        ...(value("name") !== undefined ? { name: value("name") } : {}),
        redirect_url: `http://127.0.0.1:${port}/callback`,
        hook_attributes: {
          ...(manifest.hook_attributes as Record<string, unknown>),
          url: `https://${domain}/webhook`,
        },
      };
      const local = `http://127.0.0.1:${port}/`;
      say(`  Open ${bold(local)} in a browser signed in to GitHub and press the button;`);
      say(`  GitHub shows the App (${String(filled.name)}) before creating it, then comes back here.`);
      say(dim(`  Waiting up to ${timeoutSeconds} s (only an answer with this run's state is accepted).`));
      openBrowser(local);
    });
  });
}

async function appStep(): Promise<AppCredentials | undefined> {
  step("1. The GitHub App");
  const existing = loadApp();
  if (has("skip-app")) {
    if (existing === undefined) say(`  skipped (--skip-app); ${shown(secretsDir)} holds no App`);
    else say(`  skipped (--skip-app): App ${existing.id} (${existing.slug}) from ${shown(appJsonPath)}`);
    return existing;
  }
  if (existing !== undefined && !has("new-app")) {
    say(
      `  App ${existing.id} (${existing.slug}) was created before: ${shown(appJsonPath)} (--new-app makes another)`,
    );
    return existing;
  }
  const app = await createApp();
  // Only now: a flow that timed out or was cancelled leaves no empty directory and the old App in place.
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(secretsDir, 0o700);
  if (existing !== undefined) setAside(existing);
  writePrivate(appJsonPath, `${JSON.stringify(app, null, 2)}\n`);
  writePrivate(keyPath, app.pem.endsWith("\n") ? app.pem : `${app.pem}\n`);
  say(`  created App ${app.id} (${app.slug}); its JSON and key: ${shown(appJsonPath)}, ${shown(keyPath)}`);
  return app;
}

// ---- secrets, KV, configuration ------------------------------------------------------------------------

function putSecret(wrangler: Wrangler, name: string, secret: string): void {
  const run = runWrangler(wrangler, ["secret", "put", name, "--config", configPath], { input: secret });
  if (run.status !== 0) {
    throw new UserError(`wrangler secret put ${name} failed:\n${wranglerError(run)}${wranglerHint(run)}`);
  }
  say(`  ${name}: stored as a secret of the Worker`);
}

function secretsStep(wrangler: Wrangler, app: AppCredentials | undefined): void {
  step("2. Worker secrets");
  if (has("skip-secrets")) {
    say("  skipped (--skip-secrets)");
    return;
  }
  if (app === undefined) {
    throw new UserError(
      `no App in ${shown(secretsDir)} to take the key from: run ${SCRIPT} without --skip-app first`,
    );
  }
  putSecret(wrangler, "GITHUB_APP_PRIVATE_KEY", app.pem);
  if (typeof app.webhook_secret === "string" && app.webhook_secret !== "") {
    putSecret(wrangler, "GITHUB_WEBHOOK_SECRET", app.webhook_secret);
  } else say("  GITHUB_WEBHOOK_SECRET: the App has no webhook secret; not set");
}

function kvStep(wrangler: Wrangler): string | undefined {
  step("3. The KV namespace");
  if (has("skip-kv")) {
    say("  skipped (--skip-kv)");
    return undefined;
  }
  const lines = readConfig();
  const entry = kvNamespace(lines, "STS_CACHE");
  if (entry === undefined) {
    throw new UserError(
      `${configPath} has no [[kv_namespaces]] entry with binding = "STS_CACHE" to put the id in`,
    );
  }
  const idLine = lines.findIndex((l, i) => i > entry.header && i < entry.end && /^\s*id\s*=/.test(l));
  const current = idLine < 0 ? undefined : readValue(lines[idLine] as string);
  if (
    current?.kind === "string" &&
    /^[0-9a-f]{32}$/.test(current.value) &&
    current.value !== KV_PLACEHOLDER
  ) {
    say(`  wrangler.toml already names namespace ${current.value}`);
    return current.value;
  }
  const title = value("kv-title") ?? `${workerName(lines)}-STS_CACHE`;
  const list = runWrangler(wrangler, ["kv", "namespace", "list", "--config", configPath]);
  if (list.status !== 0) {
    throw new UserError(`wrangler kv namespace list failed:\n${wranglerError(list)}${wranglerHint(list)}`);
  }
  const known = jsonOutput<{ id: string; title: string }[]>(list)?.find((n) => n.title === title);
  if (known !== undefined) {
    say(`  reusing the namespace already named ${title}: ${known.id}`);
    return known.id;
  }
  const created = runWrangler(wrangler, [
    "kv",
    "namespace",
    "create",
    title,
    "--binding",
    "STS_CACHE",
    "--config",
    configPath,
  ]);
  if (created.status !== 0) {
    throw new UserError(
      `wrangler kv namespace create ${title} failed:\n${wranglerError(created)}${wranglerHint(created)}`,
    );
  }
  const id = /^\s*id\s*=\s*"([0-9a-f]{32})"/m.exec(created.stdout)?.[1];
  if (id === undefined) throw new UserError(`wrangler kv namespace create printed no id:\n${created.stdout}`);
  say(`  created the namespace ${title}: ${id}`);
  return id;
}

function configStep(app: AppCredentials | undefined, kvId: string | undefined): void {
  step("4. wrangler.toml");
  if (has("skip-config")) {
    say("  skipped (--skip-config)");
    return;
  }
  let lines = readConfig();
  const changes: string[] = [];
  if (kvId !== undefined) {
    const entry = kvNamespace(lines, "STS_CACHE");
    if (entry !== undefined) {
      const edited = setString(lines, entry, "id", kvId);
      if (edited.changed) changes.push(`[[kv_namespaces]] STS_CACHE id = "${kvId}"`);
      lines = edited.lines;
    }
  }
  const vars: [string, string | undefined][] = [
    ["STS_DOMAIN", domain],
    ["GITHUB_APP_ID", app === undefined ? undefined : String(app.id)],
  ];
  if (apiUrl !== "https://api.github.com") vars.push(["GITHUB_BASE_URL", apiUrl]);
  for (const [key, setting] of vars) {
    if (setting === undefined) continue;
    let vtable = table(lines, "vars");
    if (vtable === undefined) {
      // No [vars] table yet: one at the end of the file.
      lines = lines.at(-1) === "" ? [...lines.slice(0, -1), "", "[vars]", ""] : [...lines, "", "[vars]"];
      vtable = table(lines, "vars") as NonNullable<typeof vtable>;
    }
    const edited = setString(lines, vtable, key, setting);
    if (edited.changed) changes.push(`[vars] ${key} = "${setting}"`);
    lines = edited.lines;
  }
  if (changes.length === 0) {
    say(`  nothing to change in ${configPath}`);
    return;
  }
  writeFileSync(configPath, lines.join("\n"));
  for (const change of changes) say(`  ${change}`);
  say(dim(`  (each an edit of one line of ${configPath}; the rest of the file is as it was)`));
}

/**
 * The secrets and KV steps need wrangler logged in to Cloudflare: checked before the App is created, so
 * a run that could not finish never leaves a new App on GitHub with its key nowhere but on this disk.
 * `wrangler whoami` exits 0 either way; it says "You are not authenticated" when nobody is logged in.
 */
function loginProblem(wrangler: Wrangler): string | undefined {
  const run = runWrangler(wrangler, ["whoami"]);
  const text = `${run.stdout}\n${run.stderr}`;
  if (run.status === 0 && !/not authenticated/i.test(text)) return undefined;
  return `wrangler is not logged in to Cloudflare, which the secrets and KV steps need: npx wrangler login (or set CLOUDFLARE_API_TOKEN), then run ${SCRIPT} again; --skip-secrets --skip-kv makes only the App${run.status === 0 ? "" : `\n${wranglerError(run)}`}`;
}

/** What stops this run before anything is created, all of it at once (so one run tells everything). */
function preflight(wrangler: Wrangler): void {
  const problems: string[] = [];
  if (domain === undefined) {
    try {
      if (willCreateApp()) problems.push(DOMAIN_NEEDED);
    } catch (error) {
      // An unreadable app.json: said here with the rest; the App step would stop on it anyway.
      if (!(error instanceof UserError)) throw error;
      problems.push(error.message);
    }
  }
  if (!has("skip-secrets") || !has("skip-kv")) {
    const login = loginProblem(wrangler);
    if (login !== undefined) problems.push(login);
  }
  if (problems.length === 1) throw new UserError(problems[0] as string);
  if (problems.length > 1) {
    throw new UserError(
      `${problems.length} things to fix before anything is created:\n${bulletList(problems)}`,
    );
  }
}

// ---- main -------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  say(bold("github-sts setup: the GitHub App, the Worker's secrets, the KV namespace and wrangler.toml"));
  say(dim(`  secrets directory ${shown(secretsDir)} (outside the repository); configuration ${configPath}`));
  if (!existsSync(configPath))
    throw new UserError(`no wrangler configuration at ${configPath} (--config FILE)`);
  if (existsSync(secretsDir) && !statSync(secretsDir).isDirectory()) {
    throw new UserError(`${secretsDir} is not a directory (--secrets-dir DIR)`);
  }
  const wrangler = wranglerCommand(value("wrangler"));
  preflight(wrangler);
  const app = await appStep();
  secretsStep(wrangler, app);
  const kvId = kvStep(wrangler);
  configStep(app, kvId);

  step("Next");
  if (app !== undefined) {
    say(
      `  - Install the App: ${githubUrl}/apps/${app.slug}/installations/new (on the accounts whose repositories it serves)`,
    );
  }
  say("  - Set ALLOWED_ISSUERS in [vars] of wrangler.toml to the issuers you use (docs/deploying.md)");
  say("  - npm run deploy   (checks the settings and secrets, then wrangler deploy)");
}

main().catch(exitOnError(SCRIPT));

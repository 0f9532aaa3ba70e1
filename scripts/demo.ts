/**
 * `npm run demo`: the whole exchange, offline, in one command. Starts the issuer and GitHub doubles and
 * the real Worker bundle in workerd (scripts/lib/stack.ts), sets up the organization `acme`, its
 * repository `deploy-tools` and the policy `.github/chainguard/release.sts.yaml`, then walks through one
 * granted exchange (on `/sts/exchange`, then the same job token on the RFC 8693 `POST /oauth/token`) and
 * two refused ones, printing each request, the policy, the permissions granted, the refusal and the
 * Worker's audit line; then the webhook (its secret random per run, as GitHub signs deliveries): a pull
 * request whose head breaks the policy gets a failing check run with annotations, its fix a passing one,
 * and a change merged on main takes effect at once through the signed push delivery. It then keeps the
 * stack running with ready-to-paste commands until Ctrl-C, which stops everything it started; a policy
 * saved in its directory is pushed to the GitHub double and announced to the Worker with a signed push.
 *
 * `npm run demo -- --ci` (or CI=true): the walkthrough only; exits 0 only if the exchange was granted on
 * both endpoints, both refusals were refused with the expected reason, both check runs concluded as
 * expected and the merged change was granted right after its push.
 * Options: --port N (Worker, default 8787), --issuer-port N (8788), --github-port N (8789), --skip-build,
 * --outdir DIR (where the Worker bundle is built), --dir DIR (your policies; STS_DEMO_DIR).
 *
 * Nothing a user wrote is deleted or overwritten: the policy directory is created when absent and the
 * example policy written only where no file of that name exists.
 */

import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { isAbsolute, join, relative, resolve } from "node:path";
import { loadPolicy, type PolicyKind } from "../src/trust";
import type { RecordedCall } from "../test/shared/control-client";
import type { CheckRunRecord } from "../test/shared/github-double";
import { exitOnError, UserError } from "./lib/cli";
import {
  abbreviateJwt,
  DEFAULT_PORTS,
  DEMO_IDENTITY,
  DEMO_MERGED_POLICY,
  DEMO_OWNER,
  DEMO_OWNER_ID,
  DEMO_POLICY,
  DEMO_POLICY_PATH,
  DEMO_PR_BROKEN_POLICY,
  DEMO_PR_FIXED_POLICY,
  DEMO_REPO,
  DEMO_REPO_ID,
  DEMO_SCOPE,
  demoClaims,
} from "./lib/demo-world";
import { DEMO_APP_ID, type Stack, startStack } from "./lib/stack";

interface Options {
  ci: boolean;
  worker: number;
  issuer: number;
  github: number;
  skipBuild: boolean;
  /** Where the Worker bundle is built (and, with --skip-build, read). */
  outdir: string;
  /** The user's policy directory. */
  dir: string;
}

/** The policy directory when neither --dir nor STS_DEMO_DIR says otherwise. */
const DEFAULT_POLICY_DIR = "build/demo/policies";

const USAGE = `usage: npm run demo -- [--ci | --interactive] [--port N] [--issuer-port N] [--github-port N]
                        [--dir DIR] [--outdir DIR] [--skip-build]
  --ci              walk through once and exit (0 only if the exchange was granted on /sts/exchange and
                    /oauth/token, the refusals refused, and the webhook's check runs and push did their part);
                    also when CI=true
  --interactive     stay up after the walkthrough even when CI=true is set in your shell
  --port N          the Worker's port (default ${DEFAULT_PORTS.worker}); --issuer-port, --github-port likewise
                    (defaults ${DEFAULT_PORTS.issuer}, ${DEFAULT_PORTS.github})
  --dir DIR         your policy directory (default ${DEFAULT_POLICY_DIR}, or STS_DEMO_DIR): files saved there
                    are served by the GitHub double; it is never emptied, and the example policy is
                    written only where no file of that name exists
  --outdir DIR      where wrangler deploy --dry-run writes the Worker bundle (default dist)
  --skip-build      reuse the Worker bundle in the --outdir directory instead of building it`;

function parseArgs(argv: string[]): Options {
  const ciEnv = (process.env.CI ?? "").toLowerCase();
  const options: Options = {
    ci: ciEnv !== "" && ciEnv !== "false" && ciEnv !== "0",
    worker: DEFAULT_PORTS.worker,
    issuer: DEFAULT_PORTS.issuer,
    github: DEFAULT_PORTS.github,
    skipBuild: false,
    outdir: "dist",
    dir: process.env.STS_DEMO_DIR?.trim() || DEFAULT_POLICY_DIR,
  };
  const path = (flag: string, value: string | undefined): string => {
    if (value === undefined || value === "" || value.startsWith("--")) usage(`${flag} needs a directory`);
    return value;
  };
  const port = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535) usage(`${flag} needs a port number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--ci") options.ci = true;
    else if (arg === "--interactive") options.ci = false;
    else if (arg === "--skip-build") options.skipBuild = true;
    else if (arg === "--port") options.worker = port(arg, argv[++i]);
    else if (arg === "--issuer-port") options.issuer = port(arg, argv[++i]);
    else if (arg === "--github-port") options.github = port(arg, argv[++i]);
    else if (arg === "--dir") options.dir = path(arg, argv[++i]);
    else if (arg === "--outdir") options.outdir = path(arg, argv[++i]);
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else usage(`unknown argument ${arg}`);
  }
  return options;
}

function usage(problem: string): never {
  console.error(`npm run demo: ${problem}\n${USAGE}`);
  process.exit(2);
}

// ---- output ---------------------------------------------------------------------------------------

const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[22m` : s);
const green = (s: string) => (tty ? `\x1b[32m${s}\x1b[39m` : s);
const red = (s: string) => (tty ? `\x1b[31m${s}\x1b[39m` : s);
const say = (line = "") => process.stdout.write(`${line}\n`);
const indent = (text: string, by = "    ") =>
  text
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => `${by}${l}`)
    .join("\n");

// ---- the Worker's audit lines ---------------------------------------------------------------------

/** The Worker's stdout, line by line (startStack's `onLine`): audit lines are kept, the rest printed. */
interface AuditLine {
  raw: string;
  record: Record<string, unknown>;
}
const audits: AuditLine[] = [];
let auditWaiters: (() => void)[] = [];
let liveAudit = false;
function onWorkerLine(raw: string): void {
  const line = raw.trim();
  if (line.startsWith("{") && (line.includes('"sts.exchange"') || line.includes('"sts.webhook"'))) {
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.msg === "sts.exchange" || record.msg === "sts.webhook") {
        audits.push({ raw: line, record });
        for (const w of auditWaiters) w();
        auditWaiters = [];
        if (liveAudit) {
          // A delivery the demo sent is summed up where it is sent (syncPolicies); an exchange here.
          if (record.msg === "sts.exchange") say(auditSummary(record));
          say(dim(`  audit line: ${line}`));
        }
        return;
      }
    } catch {
      // not an audit line: print it as it is
    }
  }
  if (line !== "") console.log(line);
}

/** The audit line of one request (matched by its X-Request-Id), waiting briefly for it to arrive. */
async function auditOf(requestId: string | null): Promise<AuditLine | undefined> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = audits.find((a) => a.record.request_id === requestId);
    if (found !== undefined || Date.now() > deadline) return found;
    await new Promise<void>((r) => {
      auditWaiters.push(r);
      setTimeout(r, 200);
    });
  }
}

// ---- ports ----------------------------------------------------------------------------------------

function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", () => resolvePort(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolvePort(true)));
  });
}

async function checkPorts(options: Options): Promise<void> {
  const wanted: [string, string, number][] = [
    ["Worker", "--port", options.worker],
    ["issuer double", "--issuer-port", options.issuer],
    ["GitHub double", "--github-port", options.github],
  ];
  if (new Set(wanted.map((w) => w[2])).size !== wanted.length) usage("the three ports must differ");
  const busy: string[] = [];
  for (const [what, flag, port] of wanted) {
    if (!(await portFree(port)))
      busy.push(`  port ${port} (${what}) is in use: choose another with ${flag} N`);
  }
  if (busy.length > 0) {
    console.error(
      [
        "npm run demo: cannot start, a port it needs is busy (another `npm run demo` or `wrangler dev`?):",
        ...busy,
        `e.g. npm run demo -- --port 9787 --issuer-port 9788 --github-port 9789`,
      ].join("\n"),
    );
    process.exit(1);
  }
}

// ---- the sample world -----------------------------------------------------------------------------

interface World {
  issuerId: string;
  githubId: string;
  installationId: number;
  /** GITHUB_WEBHOOK_SECRET of this run's Worker: the demo signs deliveries with it, as GitHub would. */
  webhookSecret: string;
}

/** A commit SHA for the demo's commits (any 40 hex digits the double knows as a ref). */
function commitSha(name: string): string {
  return createHash("sha1").update(name).digest("hex");
}

/** The pull request of step 4: first its broken head, then its fixed one. */
const PR_NUMBER = 12;
const PR_BROKEN_HEAD = commitSha("demo pull request, broken");
const PR_FIXED_HEAD = commitSha("demo pull request, fixed");

async function setUpWorld(stack: Stack, webhookSecret: string): Promise<World> {
  const issuer = await stack.doubles.issuer.double.createIssuer({
    host: "token.actions.githubusercontent.com",
  });
  const github = stack.doubles.github.double;
  const tenant = await github.setupTenant("demo", {
    host: "api.github.com",
    appId: DEMO_APP_ID,
    installations: [{ account: DEMO_OWNER, type: "Organization" }],
    repos: {
      [DEMO_SCOPE]: {
        files: { [DEMO_POLICY_PATH]: DEMO_POLICY },
        refs: { [PR_BROKEN_HEAD]: { [DEMO_POLICY_PATH]: DEMO_PR_BROKEN_POLICY } },
        pulls: { [String(PR_NUMBER)]: { head: PR_BROKEN_HEAD } },
      },
      [`${DEMO_OWNER}/.github`]: {},
    },
  });
  const installationId = tenant.installations[DEMO_OWNER.toLowerCase()];
  if (installationId === undefined) throw new Error("the GitHub double did not install the App on acme");
  return { issuerId: issuer.id, githubId: tenant.id, installationId, webhookSecret };
}

// ---- webhook deliveries, signed as GitHub signs them --------------------------------------------

function demoRepository(name: string) {
  return {
    id: DEMO_REPO_ID,
    name,
    full_name: `${DEMO_OWNER}/${name}`,
    private: true,
    owner: { login: DEMO_OWNER, id: DEMO_OWNER_ID, type: "Organization" },
    default_branch: "main",
  };
}

const OCTOCAT = { login: "octocat", id: 583231, type: "User" };

interface Delivered {
  status: number;
  body: Record<string, unknown>;
  audit: AuditLine | undefined;
}

/** POSTs `payload` to the Worker's /webhook as GitHub does: JSON, X-GitHub-Event, HMAC-SHA256 signature. */
async function deliver(
  stack: Stack,
  world: World,
  event: string,
  payload: unknown,
  quiet = false,
): Promise<Delivered> {
  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac("sha256", world.webhookSecret).update(body).digest("hex")}`;
  const delivery = randomUUID();
  if (!quiet) {
    say(`    POST ${stack.url}/webhook`);
    say(`    X-GitHub-Event: ${event}   X-GitHub-Delivery: ${delivery}`);
    say(
      `    X-Hub-Signature-256: ${signature.slice(0, 19)}…(HMAC-SHA256 of the body with the webhook secret)`,
    );
  }
  const response = await fetch(`${stack.url}/webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/npm-run-demo",
      "x-github-event": event,
      "x-github-delivery": delivery,
      "x-hub-signature-256": signature,
    },
    body,
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { unparsable: text };
  }
  const audit = await auditOf(response.headers.get("x-request-id"));
  return { status: response.status, body: parsed, audit };
}

function pullRequestPayload(world: World, action: string, head: string) {
  return {
    action,
    number: PR_NUMBER,
    pull_request: {
      number: PR_NUMBER,
      head: { sha: head, ref: "release-can-comment" },
      base: { ref: "main" },
    },
    repository: demoRepository(DEMO_REPO),
    installation: { id: world.installationId },
    sender: OCTOCAT,
  };
}

interface PushedFile {
  path: string;
  change: "added" | "modified" | "removed";
}

function pushPayload(world: World, repo: string, before: string, after: string, files: PushedFile[]) {
  const pick = (change: PushedFile["change"]) => files.filter((f) => f.change === change).map((f) => f.path);
  return {
    ref: "refs/heads/main",
    before,
    after,
    created: false,
    deleted: false,
    commits: [
      {
        id: after,
        message: "Update trust policy",
        added: pick("added"),
        modified: pick("modified"),
        removed: pick("removed"),
      },
    ],
    repository: demoRepository(repo),
    installation: { id: world.installationId },
    sender: OCTOCAT,
  };
}

/** The check run a delivery posted (the GitHub double keeps every one), shown as GitHub would show it. */
function showCheckRun(run: CheckRunRecord | undefined): void {
  if (run === undefined) {
    say(red("  (no check run was posted)"));
    return;
  }
  const output = (run.created.output ?? {}) as { title?: string; summary?: string; text?: string };
  const conclusion = String(run.created.conclusion);
  const colour = conclusion === "success" ? green : red;
  say(
    `  ${bold("check run")} "${String(run.created.name)}" on ${String(run.created.head_sha).slice(0, 7)}: ${colour(conclusion)}, ${output.title ?? ""}`,
  );
  for (const a of run.annotations) {
    const level = String(a.annotation_level);
    say(
      `    ${level === "failure" ? red(level) : level} ${String(a.path)}:${String(a.start_line)}: ${String(a.message)}`,
    );
  }
}

// ---- one exchange, shown ----------------------------------------------------------------------------

interface Shown {
  status: number;
  body: Record<string, unknown>;
  audit: AuditLine | undefined;
  githubCalls: RecordedCall[];
}

function exchangePath(scope: string, identity: string): string {
  // Exactly what octo-sts/action sends (values not URL-encoded).
  return `/sts/exchange?scope=${scope}&scopes=${scope}&identity=${identity}`;
}

async function showExchange(stack: Stack, world: World, jwt: string): Promise<Shown> {
  const github = stack.doubles.github.double;
  await github.clearCalls(world.githubId);
  const path = exchangePath(DEMO_SCOPE, DEMO_IDENTITY);
  say(`  ${bold("request")} (as octo-sts/action sends it):`);
  say(`    GET ${stack.url}${path}`);
  say(`    Authorization: Bearer ${abbreviateJwt(jwt)}`);
  const response = await fetch(`${stack.url}${path}`, {
    headers: { authorization: `Bearer ${jwt}`, "user-agent": "npm-run-demo" },
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { unparsable: text };
  }
  const requestId = response.headers.get("x-request-id");
  const colour = response.ok ? green : red;
  say(`  ${bold("response")}: ${colour(`${response.status} ${response.statusText}`)}`);
  say(indent(JSON.stringify(body, null, 2)));
  const audit = await auditOf(requestId);
  const githubCalls = await github.calls(world.githubId);
  return { status: response.status, body, audit, githubCalls };
}

const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** The RFC 8693 form a generic OAuth client sends for the demo's release token. */
function tokenExchangeForm(jwt: string): Record<string, string> {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: jwt,
    subject_token_type: ID_TOKEN_TYPE,
    scope: DEMO_SCOPE,
    audience: DEMO_IDENTITY,
  };
}

/** A GitHub token as the walkthrough shows it once it has been shown whole: its kind, never the value. */
function redactToken(token: unknown): unknown {
  return typeof token === "string" && token.startsWith("ghs_")
    ? `ghs_…(redacted, ${token.length} characters)`
    : token;
}

async function showOAuthExchange(stack: Stack, world: World, jwt: string): Promise<Shown> {
  const github = stack.doubles.github.double;
  await github.clearCalls(world.githubId);
  const form = tokenExchangeForm(jwt);
  say(`  ${bold("request")} (RFC 8693, as a generic OAuth client sends it):`);
  say(`    POST ${stack.url}/oauth/token`);
  say("    Content-Type: application/x-www-form-urlencoded");
  for (const [name, value] of Object.entries(form)) {
    say(`      ${name}=${name === "subject_token" ? abbreviateJwt(value) : value}`);
  }
  const response = await fetch(`${stack.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "npm-run-demo" },
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { unparsable: text };
  }
  const colour = response.ok ? green : red;
  say(`  ${bold("response")}: ${colour(`${response.status} ${response.statusText}`)}`);
  say(indent(JSON.stringify({ ...body, access_token: redactToken(body.access_token) }, null, 2)));
  const audit = await auditOf(response.headers.get("x-request-id"));
  const githubCalls = await github.calls(world.githubId);
  return { status: response.status, body, audit, githubCalls };
}

function showAudit(audit: AuditLine | undefined): void {
  say(`  ${bold("audit line")} (console.log of the Worker: what \`wrangler tail\` and Workers Logs show):`);
  say(audit === undefined ? red("    (no audit line seen)") : `    ${audit.raw}`);
}

function showGitHubCalls(calls: RecordedCall[]): void {
  say(`  ${bold("GitHub calls")} the Worker made (to the GitHub double as https://api.github.com):`);
  if (calls.length === 0) say("    (none)");
  for (const call of calls) {
    const body = call.body === "" ? "" : ` ${call.body}`;
    say(`    ${call.method} ${call.path}${body} → ${call.status}`);
  }
}

// ---- the walkthrough --------------------------------------------------------------------------------

interface Outcome {
  name: string;
  ok: boolean;
  why: string;
}

async function walkthrough(stack: Stack, world: World): Promise<Outcome[]> {
  const issuer = stack.doubles.issuer.double;
  const outcomes: Outcome[] = [];

  say(bold(`The trust policy ${DEMO_SCOPE}/${DEMO_POLICY_PATH} (default branch, on the GitHub double):`));
  say(indent(DEMO_POLICY, "    | "));
  say();

  // 1. granted
  say(bold("1. A release job on main of acme/deploy-tools asks for a token"));
  const pushClaims = demoClaims(stack.domain, { claimSet: "push" });
  say(
    `  OIDC token (signed by the local issuer): iss ${pushClaims.iss}, sub ${pushClaims.sub}, aud ${pushClaims.aud}`,
  );
  const grantedJwt = await issuer.mintToken(world.issuerId, { claims: pushClaims });
  const granted = await showExchange(stack, world, grantedJwt);
  const grantedRecord = granted.audit?.record ?? {};
  const token = typeof granted.body.token === "string" ? granted.body.token : "";
  if (granted.status === 200 && token.startsWith("ghs_")) {
    say(
      dim(
        "  (the token above is a fake from the GitHub double: printing it is fine here, never in a real job)",
      ),
    );
    const claims = (grantedRecord.claims as { name: string; value: string }[] | undefined) ?? [];
    say(`  ${bold("policy matched")}: ${DEMO_SCOPE}/${DEMO_POLICY_PATH}`);
    for (const c of claims) say(`    ${c.name} = ${JSON.stringify(c.value)}`);
    say(
      `  ${bold("permissions granted")}: ${JSON.stringify(grantedRecord.permissions ?? {})} on ${JSON.stringify(
        grantedRecord.repositories ?? "every repository of the installation",
      )}, until ${String(granted.body.expiry)}`,
    );
  }
  showGitHubCalls(granted.githubCalls);
  showAudit(granted.audit);
  const grantedOk =
    granted.status === 200 &&
    token.startsWith("ghs_") &&
    grantedRecord.decision === "granted" &&
    JSON.stringify(grantedRecord.permissions) === JSON.stringify({ contents: "write" });
  outcomes.push({
    name: "exchange granted",
    ok: grantedOk,
    why: grantedOk ? "200 with a token for contents: write" : `got ${granted.status}`,
  });
  say();

  // 1b. the same job token through the RFC 8693 door
  say(bold("1b. The same job token, exchanged by a generic OAuth client (RFC 8693 token exchange)"));
  const oauth = await showOAuthExchange(stack, world, grantedJwt);
  const oauthRecord = oauth.audit?.record ?? {};
  const oauthToken = typeof oauth.body.access_token === "string" ? oauth.body.access_token : "";
  showGitHubCalls(oauth.githubCalls);
  showAudit(oauth.audit);
  say(
    dim(
      "  The same policy, steps and audit line (door oauth/token); only the wire format differs (docs/oauth.md).",
    ),
  );
  const oauthOk =
    oauth.status === 200 &&
    oauthToken.startsWith("ghs_") &&
    oauthToken !== token &&
    oauth.body.issued_token_type === ACCESS_TOKEN_TYPE &&
    oauth.body.token_type === "Bearer" &&
    typeof oauth.body.expires_in === "number" &&
    oauth.body.expires_in > 0 &&
    oauthRecord.door === "oauth/token" &&
    oauthRecord.decision === "granted" &&
    JSON.stringify(oauthRecord.permissions) === JSON.stringify({ contents: "write" });
  outcomes.push({
    name: "RFC 8693 exchange granted",
    ok: oauthOk,
    why: oauthOk ? "200 with an access_token for contents: write" : `got ${oauth.status}`,
  });
  say();

  // 2. refused: GitHub's default audience
  say(bold("2. The same job, but its OIDC token was requested without audience="));
  const defaultAudClaims = demoClaims(stack.domain, { claimSet: "default-audience" });
  say(`  OIDC token: aud ${defaultAudClaims.aud} (GitHub's default), everything else as in 1.`);
  const refusedAud = await showExchange(
    stack,
    world,
    await issuer.mintToken(world.issuerId, { claims: defaultAudClaims }),
  );
  outcomes.push(refusalOutcome("default audience refused", refusedAud, "AUDIENCE_MISMATCH"));
  showGitHubCalls(refusedAud.githubCalls);
  showAudit(refusedAud.audit);
  say();

  // 3. refused: a pull_request run against a main-only policy
  say(bold("3. A pull_request run of the same repository asks for the release token"));
  const prClaims = demoClaims(stack.domain, { claimSet: "pull-request" });
  say(`  OIDC token: sub ${prClaims.sub}, aud ${prClaims.aud}`);
  const refusedPr = await showExchange(
    stack,
    world,
    await issuer.mintToken(world.issuerId, { claims: prClaims }),
  );
  outcomes.push(refusalOutcome("pull_request refused", refusedPr, "SUBJECT_MISMATCH"));
  showAudit(refusedPr.audit);
  say(
    dim(
      "  The refusal names the check that failed but never a value from the policy; the audit line keeps the detail.",
    ),
  );
  say();

  // 4. a pull request that changes the policy gets a check run
  const github = stack.doubles.github.double;
  say(bold(`4. Pull request #${PR_NUMBER} changes the policy; GitHub sends the pull_request webhook`));
  say(`  Its head ${PR_BROKEN_HEAD.slice(0, 7)} has ${DEMO_POLICY_PATH}:`);
  say(indent(DEMO_PR_BROKEN_POLICY, "    | "));
  const opened = await deliver(
    stack,
    world,
    "pull_request",
    pullRequestPayload(world, "opened", PR_BROKEN_HEAD),
  );
  say(`  ${bold("response")}: ${opened.status} ${JSON.stringify(opened.body)}`);
  const broken = (await github.checkRuns(world.githubId)).at(-1);
  const typoLine = DEMO_PR_BROKEN_POLICY.split("\n").findIndex((l) => l.includes("pull-requests")) + 1;
  showCheckRun(broken);
  showAudit(opened.audit);
  const brokenOk =
    opened.status === 200 &&
    broken?.created.conclusion === "failure" &&
    broken.created.head_sha === PR_BROKEN_HEAD &&
    broken.annotations.some(
      (a) => a.annotation_level === "failure" && a.path === DEMO_POLICY_PATH && a.start_line === typoLine,
    );
  outcomes.push({
    name: "pull request check run failed",
    ok: brokenOk,
    why: brokenOk
      ? "failure, annotated at the typo's line"
      : `got ${opened.status} ${String(broken?.created.conclusion)}`,
  });
  say();

  say(bold(`  The author fixes the typo and pushes ${PR_FIXED_HEAD.slice(0, 7)}: the synchronize webhook`));
  await github.setRef(world.githubId, DEMO_SCOPE, PR_FIXED_HEAD, {
    [DEMO_POLICY_PATH]: DEMO_PR_FIXED_POLICY,
  });
  await github.setPull(world.githubId, DEMO_SCOPE, PR_NUMBER, { head: PR_FIXED_HEAD });
  const synced = await deliver(
    stack,
    world,
    "pull_request",
    pullRequestPayload(world, "synchronize", PR_FIXED_HEAD),
  );
  say(`  ${bold("response")}: ${synced.status} ${JSON.stringify(synced.body)}`);
  const fixed = (await github.checkRuns(world.githubId)).at(-1);
  showCheckRun(fixed);
  const fixedOk =
    synced.status === 200 &&
    fixed?.created.conclusion === "success" &&
    fixed.created.head_sha === PR_FIXED_HEAD;
  outcomes.push({
    name: "fixed pull request check run passed",
    ok: fixedOk,
    why: fixedOk
      ? "success (warnings do not fail it)"
      : `got ${synced.status} ${String(fixed?.created.conclusion)}`,
  });
  say(
    dim(
      "  The head's policy is read at its SHA and never cached: until it is merged, exchanges keep using main's policy.",
    ),
  );
  say();

  // 5. a change merged on main takes effect through the push webhook
  say(bold("5. A change merged on main takes effect through the push webhook, not when the cache expires"));
  const mergeSha = commitSha("demo merge");
  await github.setFile(world.githubId, DEMO_SCOPE, DEMO_POLICY_PATH, DEMO_MERGED_POLICY);
  await github.setRef(world.githubId, DEMO_SCOPE, mergeSha, { [DEMO_POLICY_PATH]: DEMO_MERGED_POLICY });
  say(`  main now grants contents: write and issues: write (commit ${mergeSha.slice(0, 7)}).`);
  const mergeJwt = await issuer.mintToken(world.issuerId, { claims: pushClaims });
  const cached = await quietExchange(stack, mergeJwt);
  say(`  exchange before the push webhook: ${JSON.stringify(cached)} (the Worker's cached copy)`);
  const pushed = await deliver(
    stack,
    world,
    "push",
    pushPayload(world, DEMO_REPO, commitSha("demo main before"), mergeSha, [
      { path: DEMO_POLICY_PATH, change: "modified" },
    ]),
  );
  say(`  ${bold("response")}: ${pushed.status} ${JSON.stringify(pushed.body)}`);
  showAudit(pushed.audit);
  const fresh = await quietExchange(stack, mergeJwt);
  say(`  exchange right after the push: ${JSON.stringify(fresh)}`);
  const mergedOk =
    JSON.stringify(cached) === JSON.stringify({ contents: "write" }) &&
    JSON.stringify(fresh) === JSON.stringify({ contents: "write", issues: "write" }) &&
    JSON.stringify(pushed.audit?.record.evictions) ===
      JSON.stringify([`policy ${DEMO_SCOPE} ${DEMO_IDENTITY}`]);
  outcomes.push({
    name: "merged change granted after its push",
    ok: mergedOk,
    why: mergedOk
      ? "the push evicted the cached policy: contents and issues write"
      : `got ${JSON.stringify(fresh)}`,
  });
  say();
  return outcomes;
}

/** One exchange of `jwt` without the walkthrough's printing: the permissions granted (audit line), or null. */
async function quietExchange(stack: Stack, jwt: string): Promise<Record<string, unknown> | null> {
  const response = await fetch(`${stack.url}${exchangePath(DEMO_SCOPE, DEMO_IDENTITY)}`, {
    headers: { authorization: `Bearer ${jwt}`, "user-agent": "npm-run-demo" },
  });
  await response.body?.cancel();
  const audit = await auditOf(response.headers.get("x-request-id"));
  return response.status === 200 ? ((audit?.record.permissions as Record<string, unknown>) ?? null) : null;
}

function refusalOutcome(name: string, shown: Shown, reason: string): Outcome {
  const details = shown.body.details as { reason?: string }[] | undefined;
  const got = details?.[0]?.reason;
  const message = String(shown.body.message ?? "");
  const ok = shown.status === 403 && got === reason && shown.body.token === undefined;
  say(`  ${bold("refused")}: ${refusalLine(got, shown.audit?.record.detail)}`);
  say(`  ${bold("the caller reads")}: ${message}`);
  return { name, ok, why: ok ? `403 ${reason}` : `got ${shown.status} ${got ?? ""}` };
}

/** A refusal in one line: its reason and the audit line's detail (what the caller is not told). */
function refusalLine(reason: unknown, detail: unknown): string {
  const why = typeof detail === "string" && detail !== "" ? detail : "(no detail)";
  return `${String(reason ?? "(no reason)")}: ${why}`;
}

/** One readable line for an audit record of a request of yours (interactive mode). */
function auditSummary(record: Record<string, unknown>): string {
  const target = `${String(record.scope ?? "?")} identity ${String(record.identity ?? "?")}`;
  if (record.decision === "granted") {
    const permissions = Object.entries((record.permissions as Record<string, string> | undefined) ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ");
    return green(`granted (${target}): ${permissions}`);
  }
  return red(`refused (${target}) ${refusalLine(record.reason, record.detail)}`);
}

// ---- your own policies (interactive mode) -----------------------------------------------------------

let POLICY_DIR = resolve(DEFAULT_POLICY_DIR);

/** `path` as the user can type it: relative to the working directory when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/**
 * Makes `dir`/OWNER/REPO and `dir`/OWNER/.github and writes the example policy there only when no file
 * of that name exists: whatever the user saved in an earlier run stays as it is.
 */
function seedPolicyDir(dir: string): void {
  POLICY_DIR = resolve(dir);
  try {
    mkdirSync(join(POLICY_DIR, DEMO_OWNER, DEMO_REPO), { recursive: true });
    mkdirSync(join(POLICY_DIR, DEMO_OWNER, ".github"), { recursive: true });
    const example = join(POLICY_DIR, DEMO_OWNER, DEMO_REPO, `${DEMO_IDENTITY}.sts.yaml`);
    if (!existsSync(example)) writeFileSync(example, DEMO_POLICY, { flag: "wx" });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new UserError(
      `cannot use ${shown(POLICY_DIR)} as the policy directory (${why}); choose one with --dir`,
    );
  }
}

/** The command that checks a saved policy as the service will read it (the org layout needs --org). */
function checkCommand(path: string, kind: PolicyKind): string {
  return `npm run -s policy -- check ${kind === "org" ? "--org " : ""}${shown(path)}`;
}

/** Checks a policy the user saved and prints what the checker says, so a mistake shows at once. */
function reportCheck(path: string, kind: PolicyKind, text: string): void {
  const loaded = loadPolicy(text, kind);
  const where = shown(path);
  if (!loaded.ok) {
    for (const p of loaded.problems) say(red(`  ${where}:${p.line}:${p.col}: ${p.message}`));
    say(dim(`  (an exchange with this identity is refused POLICY_NOT_FOUND until it is fixed)`));
    return;
  }
  for (const p of loaded.warnings) say(`  ${where}:${p.line}:${p.col}: warning: ${p.message}`);
  say(dim(`  ${where}: ok (${kind === "org" ? "organization" : "repository"} policy)`));
}

/**
 * Copies changed policy files to the GitHub double every second (repositories of acme are created), and
 * for each change delivers GitHub's signed push webhook to the Worker, which evicts its cached copy and
 * posts a check run: an edit takes effect at once, as in production with the webhook set up.
 */
function syncPolicies(stack: Stack, world: World): () => void {
  const github = stack.doubles.github.double;
  const seen = new Map<string, string>();
  const repos = new Set([DEMO_SCOPE.toLowerCase(), `${DEMO_OWNER}/.github`]);
  /** The head commit of each repository's main, as far as the demo made them. */
  const heads = new Map<string, string>();
  let commits = 0;
  const announce = async (repo: string, file: string, change: PushedFile["change"]) => {
    const path = `.github/chainguard/${file}`;
    const snapshot: Record<string, string> = {};
    for (const [key, text] of seen) {
      const [r, f] = key.split("/") as [string, string];
      if (r === repo) snapshot[`.github/chainguard/${f}`] = text;
    }
    const after = commitSha(`demo edit ${++commits}`);
    const before = heads.get(repo) ?? commitSha(`demo ${repo} initial`);
    heads.set(repo, after);
    await github.setRef(world.githubId, `${DEMO_OWNER}/${repo}`, after, snapshot);
    const pushed = await deliver(
      stack,
      world,
      "push",
      pushPayload(world, repo, before, after, [{ path, change }]),
      true,
    );
    const record = pushed.audit?.record ?? {};
    const evictions = (record.evictions as string[] | undefined) ?? [];
    say(
      dim(
        `  push webhook → ${pushed.status} ${String(record.conclusion ?? "")}${evictions.length > 0 ? `, evicted: ${evictions.join(", ")}` : ""}`,
      ),
    );
    const run = (await github.checkRuns(world.githubId)).find((r) => r.created.head_sha === after);
    if (run !== undefined) showCheckRun(run);
  };
  const tick = async () => {
    const present = new Set<string>();
    let repoDirs: string[] = [];
    try {
      repoDirs = readdirSync(join(POLICY_DIR, DEMO_OWNER));
    } catch {
      return;
    }
    for (const repo of repoDirs) {
      const dir = join(POLICY_DIR, DEMO_OWNER, repo);
      if (!statSync(dir).isDirectory()) continue;
      for (const file of readdirSync(dir)) {
        if (!file.endsWith(".sts.yaml")) continue;
        const key = `${repo}/${file}`;
        present.add(key);
        const text = readFileSync(join(dir, file), "utf8");
        if (seen.get(key) === text) continue;
        const existed = seen.has(key);
        seen.set(key, text);
        const fullName = `${DEMO_OWNER}/${repo}`;
        if (!repos.has(fullName.toLowerCase())) {
          await github.setupTenant("demo", {
            host: "api.github.com",
            appId: DEMO_APP_ID,
            repos: { [fullName]: {} },
          });
          repos.add(fullName.toLowerCase());
        }
        const added = !existed && !(repo === DEMO_REPO && file === `${DEMO_IDENTITY}.sts.yaml`);
        await github.setFile(world.githubId, fullName, `.github/chainguard/${file}`, text);
        say(dim(`policy ${shown(join(dir, file))} → ${fullName} (GitHub double)`));
        reportCheck(join(dir, file), repo === ".github" ? "org" : "repo", text);
        await announce(repo, file, added ? "added" : "modified");
      }
    }
    for (const key of [...seen.keys()]) {
      if (present.has(key)) continue;
      seen.delete(key);
      const [repo, file] = key.split("/") as [string, string];
      await github.setFile(world.githubId, `${DEMO_OWNER}/${repo}`, `.github/chainguard/${file}`, null);
      say(dim(`policy ${repo}/${file} removed from ${DEMO_OWNER}/${repo} (GitHub double)`));
      await announce(repo, file, "removed");
    }
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    tick()
      .catch((error) => say(red(`policy sync: ${error instanceof Error ? error.message : String(error)}`)))
      .finally(() => {
        running = false;
      });
  }, 1000);
  return () => clearInterval(timer);
}

function printTryIt(stack: Stack, options: Options): void {
  const helperArgs: string[] = [];
  if (options.issuer !== DEFAULT_PORTS.issuer) helperArgs.push(`--issuer-url ${stack.doubles.issuer.url}`);
  if (stack.domain !== `localhost:${DEFAULT_PORTS.worker}`) helperArgs.push(`--aud ${stack.domain}`);
  const helper = `npm run -s mint-demo-token${helperArgs.length > 0 ? ` -- ${helperArgs.join(" ")}` : ""}`;
  const helperWith = (extra: string) => `npm run -s mint-demo-token -- ${[...helperArgs, extra].join(" ")}`;
  const base = `http://localhost:${options.worker}`;
  say(bold("Try it yourself (the stack keeps running):"));
  say(`  TOKEN=$(${helper})`);
  say(`  curl -s -H "Authorization: Bearer $TOKEN" "${base}${exchangePath(DEMO_SCOPE, DEMO_IDENTITY)}"`);
  say(dim("  (append | jq . to pretty-print; a 403 body names the reason)"));
  say();
  say("  The same exchange through the RFC 8693 endpoint (docs/oauth.md):");
  say(`  curl -s "${base}/oauth/token" -d grant_type=${TOKEN_EXCHANGE_GRANT} \\`);
  say(`    -d subject_token_type=${ID_TOKEN_TYPE} --data-urlencode "subject_token=$TOKEN" \\`);
  say(`    -d scope=${DEMO_SCOPE} -d audience=${DEMO_IDENTITY}`);
  say();
  say(`  Other tokens: ${helperWith("--claims pull-request")}`);
  say(
    `                ${helperWith("--claim ref=refs/heads/dev --claim sub=repo:acme/deploy-tools:ref:refs/heads/dev")}`,
  );
  say(`                ${helperWith("--list")}   (GitLab, Buildkite, Kubernetes claim sets too)`);
  say();
  const repoPolicy = join(POLICY_DIR, DEMO_OWNER, "<repo>", "<identity>.sts.yaml");
  const orgPolicy = join(POLICY_DIR, DEMO_OWNER, ".github", "<identity>.sts.yaml");
  say(`  Your own policy: save it as ${shown(repoPolicy)}`);
  say(`  (or ${shown(orgPolicy)} for an org policy, scope=acme); within a second`);
  say(
    `  it is checked, copied to the GitHub double's main, and the demo sends the Worker GitHub's push webhook`,
  );
  say(
    `  for it, signed with this run's webhook secret: the Worker evicts its cached copy (the edit takes effect`,
  );
  say(`  at once) and posts a Trust Policy Validation check run, shown here with its annotations.`);
  say(`  The directory is yours: the demo never empties it (--dir chooses another).`);
  say(`  Check a policy: ${checkCommand(repoPolicy, "repo")}`);
  say(`     an org one: ${checkCommand(orgPolicy, "org")}`);
  say(
    `  See why a token is refused: npm run -s policy -- explain --policy FILE --token "$TOKEN" --domain ${stack.domain}`,
  );
  say();
  say(bold("Press Ctrl-C to stop everything the demo started."));
  say(dim("Audit lines of your requests appear below."));
}

// ---- main -------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const bundle = resolve(options.outdir, "index.js");
  if (options.skipBuild && !existsSync(bundle)) {
    throw new UserError(
      `--skip-build: there is no Worker bundle at ${shown(bundle)} yet; run the demo once without --skip-build (or npm run build) to make it`,
    );
  }
  // The policy directory first, so a directory that cannot be used is said before anything starts.
  if (!options.ci) seedPolicyDir(options.dir);
  await checkPorts(options);
  say(
    bold("github-sts demo: the real Worker in workerd, a local OIDC issuer and a local GitHub; no network"),
  );
  say(
    dim(
      options.skipBuild
        ? `Using the Worker bundle in ${shown(resolve(options.outdir))}/`
        : `Building the Worker (wrangler deploy --dry-run --outdir ${shown(resolve(options.outdir))})…`,
    ),
  );

  let stack: Stack | undefined;
  let stopping = false;
  let stopSync = () => {};
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    stopSync();
    if (stack !== undefined) await stack.close();
    process.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130); // a second Ctrl-C: leave at once
      say();
      say("Stopping the Worker and the doubles…");
      void stop(0);
    });
  }

  // A random webhook secret per run: the Worker serves /webhook only with one, and the demo signs with it.
  const webhookSecret = randomBytes(32).toString("hex");
  stack = await startStack({
    port: options.worker,
    issuerPort: options.issuer,
    githubPort: options.github,
    skipBuild: options.skipBuild,
    outdir: options.outdir,
    onLine: onWorkerLine,
    vars: { GITHUB_WEBHOOK_SECRET: webhookSecret },
  });
  const world = await setUpWorld(stack, webhookSecret);
  say();
  say(bold("Listening:"));
  say(`  Worker (the STS)   ${stack.url}   STS_DOMAIN=${stack.domain}, App id ${DEMO_APP_ID}, local KV`);
  say(
    `  OIDC issuer double ${stack.doubles.issuer.url}   serves https://token.actions.githubusercontent.com`,
  );
  say(
    `  GitHub double      ${stack.doubles.github.url}   serves https://api.github.com (App installed on acme)`,
  );
  say(
    dim(
      "  The Worker reaches the real hostnames; Miniflare routes them to the doubles. Nothing leaves this machine.",
    ),
  );
  say();

  const outcomes = await walkthrough(stack, world);
  const allOk = outcomes.every((o) => o.ok);
  say(bold("Result:"));
  for (const o of outcomes) say(`  ${o.ok ? green("ok  ") : red("FAIL")} ${o.name}: ${o.why}`);
  say(dim(`  (walkthrough finished ${((Date.now() - started) / 1000).toFixed(1)} s after start)`));
  say();

  if (options.ci) {
    await stop(allOk ? 0 : 1);
    return;
  }
  stopSync = syncPolicies(stack, world);
  printTryIt(stack, options);
  liveAudit = true;
  // Stays alive on the servers' handles until a signal arrives.
}

main().catch(exitOnError("npm run demo"));

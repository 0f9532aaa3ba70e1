/**
 * Helpers of the webhook tests (test/worker/endpoints/webhook*.test.ts): a tenant of the GitHub double
 * per test with the App installed on `org`, a runtime with GITHUB_WEBHOOK_SECRET set, signed deliveries
 * (the HMAC computed here with Web Crypto, independently of the code under test), GitHub-shaped
 * payloads, and an exchange through the Worker to see which policy decides.
 */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { handle } from "../../../src/app";
import type { ManualClock } from "../../../src/platform/clock";
import type { Env } from "../../../src/platform/config";
import type { Runtime } from "../../../src/platform/runtime";
import type { RecordedCall } from "../../shared/control-client";
import type { CheckRunRecord, RepoSetup, TokenRecord } from "../../shared/github-double";
import { TEST_WEBHOOK_SECRET } from "../../shared/secrets";
import { countingRuntime, github, issuers, TEST_APP_ID, TEST_DOMAIN, testRuntime, unique } from "../helpers";

export { github };

/** The webhook secret of the tests (test/shared/log-scan.ts fails a test that logs it). */
export const SECRET = TEST_WEBHOOK_SECRET;
export const OWNER_ID = 4001;
export const REPO_ID = 5001;
export const ACTIONS = "https://token.actions.githubusercontent.com";
export const ZERO = "0".repeat(40);

/** A 40-hex commit SHA made from `n`. */
export function sha(n: number): string {
  return n.toString(16).padStart(40, "0");
}

/** `.github/chainguard/<name>.sts.yaml`. */
export const policyPath = (name: string) => `.github/chainguard/${name}.sts.yaml`;

/** A policy for the push claims of `org/repo` on main, granting `permissions` (YAML lines). */
export function policy(
  permissions = "contents: read",
  subject = `repo:org@${OWNER_ID}/repo@${REPO_ID}:ref:refs/heads/main`,
): string {
  return `issuer: ${ACTIONS}\nsubject: ${subject}\naudience: ${TEST_DOMAIN}\npermissions:\n  ${permissions}\n`;
}

const enc = new TextEncoder();

/** `sha256=<hex>` of `body` with `secret`, computed with Web Crypto. */
export async function signatureOf(secret: string, body: string | Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, typeof body === "string" ? enc.encode(body) : body);
  return `sha256=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function repository(name = "repo", defaultBranch = "main") {
  return {
    id: REPO_ID,
    node_id: "R_1",
    name,
    full_name: `org/${name}`,
    private: true,
    owner: { login: "org", id: OWNER_ID, type: "Organization" },
    default_branch: defaultBranch,
  };
}

export const HUMAN = { login: "octocat", id: 1, type: "User" };
export const BOT = { login: "renovate[bot]", id: 2, type: "Bot" };

export interface World {
  id: string;
  rt: Runtime;
  clock: ManualClock;
  installationId: number;
  /** The env of {@link rt}: a second runtime over it is a new isolate over the same KV. */
  env: Partial<Env>;
  newIsolate(): Runtime;
  /** Sends a signed delivery (or exactly what `options` says) and waits for its background work. */
  post(event: string, payload: unknown, options?: PostOptions): Promise<Response>;
  pullRequest(
    action: string,
    number: number,
    head: string,
    extra?: Record<string, unknown>,
  ): Promise<Response>;
  push(options: PushOptions): Promise<Response>;
  /** An exchange of a push token of org/repo on main for `identity`, through `rt` (default: the world's). */
  exchange(identity: string, rt?: Runtime): Promise<{ status: number; permissions?: Record<string, string> }>;
  calls(): Promise<RecordedCall[]>;
  checkRuns(): Promise<CheckRunRecord[]>;
  tokens(): Promise<TokenRecord[]>;
}

export interface PostOptions {
  /** The secret to sign with (default {@link SECRET}); null sends no X-Hub-Signature-256. */
  secret?: string | null;
  /** The body to send instead of the JSON of the payload (still signed unless `signature` is given). */
  body?: string;
  /** The X-Hub-Signature-256 to send as is. */
  signature?: string;
  headers?: Record<string, string>;
  rt?: Runtime;
}

export interface PushOptions {
  ref?: string;
  before?: string;
  after: string;
  commits?: { added?: string[]; modified?: string[]; removed?: string[] }[];
  sender?: typeof HUMAN;
  repo?: string;
}

export async function world(
  repos: Record<string, RepoSetup>,
  options: { permissions?: Record<string, string>; env?: Partial<Env> } = {},
): Promise<World> {
  const id = unique("wh");
  const tenant = await github.setupTenant(id, {
    appId: TEST_APP_ID,
    installations: [{ account: "org", ...(options.permissions ? { permissions: options.permissions } : {}) }],
    repos,
  });
  const worldEnv: Partial<Env> = {
    GITHUB_BASE_URL: tenant.baseUrl,
    GITHUB_WEBHOOK_SECRET: SECRET,
    ...options.env,
  };
  const { rt } = countingRuntime(worldEnv);
  const installationId = tenant.installations.org as number;
  const installation = { id: installationId };
  const w: World = {
    id,
    rt,
    clock: rt.clock as ManualClock,
    installationId,
    env: worldEnv,
    newIsolate: () => testRuntime(worldEnv),
    async post(event, payload, o = {}) {
      const body = o.body ?? JSON.stringify(payload);
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": crypto.randomUUID(),
        ...o.headers,
      };
      const secret = o.secret === undefined ? SECRET : o.secret;
      if (o.signature !== undefined) headers["X-Hub-Signature-256"] = o.signature;
      else if (secret !== null) headers["X-Hub-Signature-256"] = await signatureOf(secret, body);
      const ctx = createExecutionContext();
      const response = await handle(
        new Request(`https://${TEST_DOMAIN}/webhook`, { method: "POST", headers, body }),
        o.rt ?? rt,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    },
    pullRequest(action, number, head, extra = {}) {
      return w.post("pull_request", {
        action,
        number,
        pull_request: { number, head: { sha: head, ref: "feature" }, base: { ref: "main" } },
        repository: repository(),
        installation,
        sender: HUMAN,
        ...extra,
      });
    },
    push(p) {
      return w.post("push", {
        ref: p.ref ?? "refs/heads/main",
        before: p.before ?? sha(1),
        after: p.after,
        created: false,
        deleted: false,
        commits: (p.commits ?? []).map((c, i) => ({
          id: sha(1000 + i),
          added: c.added ?? [],
          modified: c.modified ?? [],
          removed: c.removed ?? [],
        })),
        repository: repository(p.repo ?? "repo"),
        installation,
        sender: p.sender ?? HUMAN,
      });
    },
    async exchange(identity, exchangeRt = rt) {
      const actions = await issuers.createIssuer({ host: "token.actions.githubusercontent.com" });
      const token = await issuers.mintToken(actions.id, {
        claims: { sub: `repo:org@${OWNER_ID}/repo@${REPO_ID}:ref:refs/heads/main`, aud: TEST_DOMAIN },
      });
      const before = (await github.tokens(id)).length;
      const ctx = createExecutionContext();
      const response = await handle(
        new Request(`https://${TEST_DOMAIN}/sts/exchange?scope=org/repo&identity=${identity}`, {
          headers: { Authorization: `Bearer ${token}` },
        }),
        exchangeRt,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      if (response.status !== 200) return { status: response.status };
      const body = (await response.json()) as { token: string };
      const minted = (await github.tokens(id)).slice(before).find((t) => t.token === body.token);
      return { status: 200, permissions: minted?.permissions };
    },
    calls: () => github.calls(id),
    checkRuns: () => github.checkRuns(id),
    tokens: () => github.tokens(id),
  };
  return w;
}

/** The `sts.webhook` audit lines among `lines`. */
export function webhookLines(lines: string[]): Record<string, unknown>[] {
  return lines
    .filter((l) => l.includes('"msg":"sts.webhook"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

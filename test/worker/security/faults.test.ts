/**
 * Faults at every edge (docs/security.md, "Faults"), end to end through the Worker: the KV namespace
 * throwing or slow (a wrapped namespace in the runtime's env), GitHub answering 5xx, 429, a rate-limited
 * or bare 403, a truncated body, or nothing at all, the organization's trusted-issuer file unreadable,
 * issuers that hang, answer too much, or rotate their keys between requests, and GitHub failing the
 * webhook's reads and its check run.
 *
 * Each fault ends in its documented status (with `Retry-After` where the catalogue gives one) and exactly
 * one audit line; then, with the fault cleared, the next request works and reads fresh, so nothing was
 * cached that should not have been. No test asserts a duration; timeouts are hang detectors only.
 */

import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ISSUER_FAILURE_TTL_MS, JWKS_REFETCH_COOLDOWN_MS } from "../../../src/platform/limits";
import type { Runtime } from "../../../src/platform/runtime";
import type { RecordedCall as GitHubCall } from "../../shared/control-client";
import { type FaultAnswer, faultPathRegex } from "../../shared/github-double";
import type { CreatedIssuer } from "../../shared/issuer-double";
import {
  sha,
  webhookLines,
  policy as webhookPolicy,
  policyPath as webhookPolicyPath,
  world as webhookWorldOf,
} from "../endpoints/webhook-world";
import { captureConsole, countingRuntime, github, issuers, timingOut } from "../helpers";
import { ACTIONS, oneSmallAuditLine, policyFiles, type Sent, type World, world } from "./world";

const HANG = 60_000;
const FOO = { sub: "foo", aud: "octosts" };
const TRUSTED_ISSUERS = ".github/chainguard/trusted-token-issuers.yaml";

let actions: CreatedIssuer;

beforeAll(async () => {
  actions = await issuers.createIssuer({ host: "token.actions.githubusercontent.com" });
});

const output = captureConsole();

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

function fooPolicy(issuer: string): string {
  return `issuer: ${issuer}\nsubject: foo\naudience: octosts\npermissions:\n  contents: read\n`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `work` against a GitHub faulted at `glob` with `answer`. A GitHub that never answers (or never
 * finishes an answer) is waited for up to the request timeout: here the faulted request times out as soon
 * as the double holds it (test/worker/helpers.ts, `timingOut`), so no test waits the real 10 s and none
 * depends on the machine's speed; every other request keeps its real timeout.
 */
function faulted<T>(
  w: { rt: Runtime; calls(): Promise<GitHubCall[]> },
  glob: string,
  answer: FaultAnswer,
  work: () => Promise<T>,
): Promise<T> {
  if (answer !== "hang" && answer !== "truncated-json") return work();
  const regex = faultPathRegex(glob);
  const onPath = (path: string) => regex.test(path.split("?")[0] ?? path);
  return timingOut(
    w.rt,
    (target) => onPath(target.slice(target.indexOf(" ") + 1)),
    async () => (await w.calls()).filter((c) => onPath(c.path)).length,
    work,
  );
}

/** A KV namespace that throws or answers slowly on demand, in front of the test namespace. */
class FaultyKv {
  mode: "ok" | "throw" | "slow" = "ok";
  ops = 0;
  constructor(
    private readonly inner: KVNamespace,
    private readonly delayMs = 250,
  ) {}
  private async gate(op: string): Promise<void> {
    this.ops++;
    if (this.mode === "throw") throw new Error(`KV ${op} failed (injected)`);
    if (this.mode === "slow") await sleep(this.delayMs);
  }
  async get(key: string, options?: unknown) {
    await this.gate("get");
    return this.inner.get(key, options as "text");
  }
  async put(key: string, value: string, options?: KVNamespacePutOptions) {
    await this.gate("put");
    return this.inner.put(key, value, options);
  }
  async delete(key: string) {
    await this.gate("delete");
    return this.inner.delete(key);
  }
  async list(options?: KVNamespaceListOptions) {
    await this.gate("list");
    return this.inner.list(options);
  }
  async getWithMetadata(key: string, options?: unknown) {
    await this.gate("getWithMetadata");
    return this.inner.getWithMetadata(key, options as "text");
  }
  asNamespace(): KVNamespace {
    return this as unknown as KVNamespace;
  }
}

const isLookup = (c: GitHubCall) => /^\/(orgs|users)\/[^/]+\/installation$/.test(c.path);
const isMint = (c: GitHubCall) => c.method === "POST" && c.path.endsWith("/access_tokens");
const isPolicyRead = (c: GitHubCall) =>
  c.method === "GET" && c.path.includes("/contents/.github/chainguard/id");
const isOrgRead = (c: GitHubCall) => c.method === "GET" && c.path.includes("/trusted-token-issuers.yaml");

/** The world of these tests: `org/repo` holds policy `id` for `sub: foo` from GitHub Actions. */
function fooWorld(options: Parameters<typeof world>[0] = {}): Promise<World> {
  return world({
    ...options,
    setup: { repos: { "org/repo": { files: policyFiles("id", fooPolicy(ACTIONS)) } }, ...options.setup },
  });
}

/** One exchange for `sub: foo` with a fresh GitHub Actions token, through `rt` (a new isolate) if given. */
async function exchange(w: World, rt?: Runtime): Promise<Sent> {
  return w.exchange(await token(actions), "org/repo", "id", rt);
}

/** A token for `sub: foo` valid for hours, so tests can move the clock past cache lifetimes. */
function token(issuer: CreatedIssuer): Promise<string> {
  return issuers.mintToken(issuer.id, { claims: FOO, expiresIn: 3 * 3600 });
}

/** The refusal is as documented, with exactly one small audit line naming the same reason. */
function expectRefused(sent: Sent, status: number, reason: string, retryAfter: string | null) {
  const line = oneSmallAuditLine(output);
  expect(
    { status: sent.status, reason: sent.reason, retryAfter: sent.response.headers.get("Retry-After") },
    `audit detail: ${line.detail}`,
  ).toEqual({ status, reason, retryAfter });
  expect([line.decision, line.reason]).toEqual(["refused", reason]);
  return line;
}

function expectGranted(sent: Sent) {
  const line = oneSmallAuditLine(output);
  expect(sent.reason, `audit detail: ${line.detail}`).toBe("granted");
  expect(line.decision).toBe("granted");
  return line;
}

async function callsSince(w: World, seen: number): Promise<GitHubCall[]> {
  return (await w.calls()).slice(seen);
}

describe("faults", () => {
  describe("the KV namespace", () => {
    it(
      "KV throwing on every operation: the exchange is granted from GitHub and the issuer, a warning per failure, nothing stored",
      async () => {
        const kv = new FaultyKv(env.STS_CACHE);
        kv.mode = "throw";
        const w = await fooWorld({ env: { STS_CACHE: kv.asNamespace() } });
        const sent = await exchange(w);
        expect(output.lines.some((l) => l.includes("kv error; continuing without the shared cache"))).toBe(
          true,
        );
        expect(expectGranted(sent).policy_source).toBe("github");
        expect(kv.ops).toBeGreaterThan(0);

        // Fault cleared: a new isolate over the same namespace finds nothing there and reads afresh.
        kv.mode = "ok";
        const { rt: fresh, fetches: fetched } = countingRuntime(
          { GITHUB_BASE_URL: w.baseUrl, STS_CACHE: kv.asNamespace() },
          { clock: w.clock },
        );
        const seen = (await w.calls()).length;
        const again = await exchange(w, fresh);
        expect(expectGranted(again).policy_source).toBe("github");
        const calls = await callsSince(w, seen);
        expect([calls.filter(isLookup).length, calls.filter(isPolicyRead).length]).toEqual([1, 1]);
        expect(fetched.some((u) => u.includes("openid-configuration"))).toBe(true);
      },
      HANG,
    );

    it(
      "KV answering slowly: the exchange is granted, then served from KV by a new isolate",
      async () => {
        const kv = new FaultyKv(env.STS_CACHE);
        kv.mode = "slow";
        const w = await fooWorld({ env: { STS_CACHE: kv.asNamespace() } });
        expect(expectGranted(await exchange(w)).policy_source).toBe("github");
        const fresh = countingRuntime(
          { GITHUB_BASE_URL: w.baseUrl, STS_CACHE: kv.asNamespace() },
          { clock: w.clock },
        ).rt;
        const seen = (await w.calls()).length;
        expect(expectGranted(await exchange(w, fresh)).policy_source).toBe("kv");
        const calls = await callsSince(w, seen);
        expect([calls.filter(isLookup).length, calls.filter(isPolicyRead).length]).toEqual([0, 0]);
      },
      HANG,
    );
  });

  describe("GitHub", () => {
    const edges = [
      { edge: "the installation lookup", path: "/orgs/*/installation", is: isLookup, app: true, warm: false },
      {
        edge: "the policy read",
        path: "/repos/org/repo/contents/**",
        is: isPolicyRead,
        app: false,
        warm: false,
      },
      // Warm first: cold, the read tokens of steps 10 and 11 are minted on the same route.
      { edge: "the mint", path: "/app/installations/*/access_tokens", is: isMint, warm: true },
    ];
    const outcomes: { answer: FaultAnswer; status: number; reason: string; retryAfter: string }[] = [
      { answer: "server-error", status: 503, reason: "GITHUB_UNAVAILABLE", retryAfter: "30" },
      { answer: "too-many-requests", status: 429, reason: "RATE_LIMITED", retryAfter: "120" },
      { answer: "truncated-json", status: 503, reason: "GITHUB_UNAVAILABLE", retryAfter: "30" },
      { answer: "hang", status: 503, reason: "GITHUB_UNAVAILABLE", retryAfter: "30" },
    ];
    /**
     * Attempts of the faulted call in one exchange: 5xx and network errors are retried twice, a timeout
     * is not. A body cut off mid-answer is a network error or, when the peer never closes the stream, a
     * timeout (through the tests' outbound router, the latter), so it takes one to three attempts.
     */
    const attemptsOf = (answer: FaultAnswer): [number, number] =>
      answer === "server-error" ? [3, 3] : answer === "truncated-json" ? [1, 3] : [1, 1];
    for (const { edge, path, is, warm } of edges) {
      for (const { answer, status, reason, retryAfter } of outcomes) {
        it(
          `GitHub answering ${answer} on ${edge}: ${status} ${reason} with Retry-After ${retryAfter}; cleared, the next exchange makes the call again and is granted`,
          async () => {
            const w = await fooWorld();
            if (warm) expectGranted(await exchange(w));
            const before = (await w.calls()).length;
            await github.addFault(w.ghId, { path, answer, retryAfter: 120 });
            const sent = await faulted(w, path, answer, () => exchange(w));
            const refused = expectRefused(sent, status, reason, retryAfter);
            const attempts = (await callsSince(w, before)).filter(is).length;
            const [least, most] = attemptsOf(answer);
            expect(attempts, `audit detail: ${refused.detail}`).toBeGreaterThanOrEqual(least);
            expect(attempts).toBeLessThanOrEqual(most);
            await github.clearFaults(w.ghId);
            const seen = (await w.calls()).length;
            const line = expectGranted(await exchange(w));
            // Nothing of the failure was kept: the faulted call is made again.
            expect((await callsSince(w, seen)).filter(is).length).toBeGreaterThan(0);
            if (is === isPolicyRead) expect(line.policy_source).toBe("github");
          },
          HANG,
        );
      }
    }

    it(
      "GitHub answering a rate-limited 403 (X-RateLimit-Remaining: 0) on the mint: 429 RATE_LIMITED with the time to the reset",
      async () => {
        const w = await fooWorld();
        expectGranted(await exchange(w));
        await github.addFault(w.ghId, {
          path: "/app/installations/*/access_tokens",
          answer: "rate-limited",
          resetInSeconds: 300,
        });
        const sent = await exchange(w);
        expect([sent.status, sent.reason]).toEqual([429, "RATE_LIMITED"]);
        const wait = Number(sent.response.headers.get("Retry-After"));
        expect(wait).toBeGreaterThanOrEqual(295);
        expect(wait).toBeLessThanOrEqual(3600);
        oneSmallAuditLine(output);
        await github.clearFaults(w.ghId);
        expectGranted(await exchange(w));
      },
      HANG,
    );

    it(
      "GitHub answering a bare 403 on the policy read: 403 POLICY_FORBIDDEN (no Retry-After), and the stale copy is deleted, so a later rate limit finds none",
      async () => {
        const w = await fooWorld();
        expectGranted(await exchange(w));
        // Past the fresh 5 minutes, inside the stale hour: the next exchange reads the policy again.
        await w.advance(6 * 60_000);
        await github.addFault(w.ghId, { path: "/repos/org/repo/contents/**", answer: "forbidden" });
        expectRefused(await exchange(w), 403, "POLICY_FORBIDDEN", null);
        await github.clearFaults(w.ghId);
        await github.addFault(w.ghId, {
          path: "/repos/org/repo/contents/**",
          answer: "too-many-requests",
          retryAfter: 60,
        });
        expectRefused(await exchange(w), 429, "RATE_LIMITED", "60");
        await github.clearFaults(w.ghId);
        expect(expectGranted(await exchange(w)).policy_source).toBe("github");
      },
      HANG,
    );

    it(
      "GitHub rate-limiting the policy read while a stale copy exists: granted from the stale copy (policy_source stale)",
      async () => {
        const w = await fooWorld();
        expectGranted(await exchange(w));
        await w.advance(6 * 60_000);
        await github.addFault(w.ghId, {
          path: "/repos/org/repo/contents/**",
          answer: "too-many-requests",
          retryAfter: 60,
        });
        expect(expectGranted(await exchange(w)).policy_source).toBe("stale");
        await github.clearFaults(w.ghId);
        expect(expectGranted(await exchange(w)).policy_source).toBe("github");
      },
      HANG,
    );

    it(
      "GitHub answering a bare 403 on the mint: 403 PERMISSION_NOT_GRANTABLE, no Retry-After",
      async () => {
        const w = await fooWorld();
        expectGranted(await exchange(w));
        await github.addFault(w.ghId, { path: "/app/installations/*/access_tokens", answer: "forbidden" });
        expectRefused(await exchange(w), 403, "PERMISSION_NOT_GRANTABLE", null);
        await github.clearFaults(w.ghId);
        expectGranted(await exchange(w));
      },
      HANG,
    );

    it(
      "GitHub answering a bare 403 on the installation lookup: 503 GITHUB_UNAVAILABLE with Retry-After 30, nothing cached",
      async () => {
        const w = await fooWorld();
        await github.addFault(w.ghId, { path: "/orgs/*/installation", answer: "forbidden" });
        expectRefused(await exchange(w), 503, "GITHUB_UNAVAILABLE", "30");
        await github.clearFaults(w.ghId);
        const seen = (await w.calls()).length;
        expectGranted(await exchange(w));
        expect((await callsSince(w, seen)).filter(isLookup)).toHaveLength(1);
      },
      HANG,
    );
  });

  describe("the organization's trusted-issuer file", () => {
    const orgWorld = () =>
      fooWorld({
        setup: {
          repos: {
            "org/repo": { files: policyFiles("id", fooPolicy(ACTIONS)) },
            "org/.github": { files: { [TRUSTED_ISSUERS]: `issuers:\n  - ${ACTIONS}\n` } },
          },
        },
      });
    const path = `/repos/org/.github/contents/${TRUSTED_ISSUERS}`;

    it.each([
      ["server-error", 503, "ORG_ISSUERS_UNAVAILABLE", "30"],
      ["hang", 503, "ORG_ISSUERS_UNAVAILABLE", "30"],
      ["truncated-json", 503, "ORG_ISSUERS_UNAVAILABLE", "30"],
      ["too-many-requests", 429, "ORG_ISSUERS_RATE_LIMITED", "90"],
      ["rate-limited", 429, "ORG_ISSUERS_RATE_LIMITED", null],
      ["forbidden", 503, "ORG_ISSUERS_UNAVAILABLE", "30"],
    ] as const)(
      "GitHub answering %s reading it (no copy at hand): %i %s; cleared, it is read again and the exchange granted",
      async (answer, status, reason, retryAfter) => {
        const w = await orgWorld();
        await github.addFault(w.ghId, { path, answer, retryAfter: 90, resetInSeconds: 200 });
        const sent = await faulted(w, path, answer, () => exchange(w));
        if (retryAfter === null) {
          expect([sent.status, sent.reason]).toEqual([status, reason]);
          expect(Number(sent.response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(195);
          oneSmallAuditLine(output);
        } else expectRefused(sent, status, reason, retryAfter);
        expect((await w.calls()).some(isPolicyRead)).toBe(false);
        await github.clearFaults(w.ghId);
        const seen = (await w.calls()).length;
        const line = expectGranted(await exchange(w));
        expect((await callsSince(w, seen)).filter(isOrgRead)).toHaveLength(1);
        expect(line.org_issuers).toMatchObject({ mode: "enforce", allowed: true, source: "github" });
      },
      HANG,
    );
  });

  describe("issuers", () => {
    /** A world whose policy trusts `issuer`, with a token of it for `sub: foo`. */
    async function issuerWorld(issuer: CreatedIssuer) {
      const w = await world({
        setup: { repos: { "org/repo": { files: policyFiles("id", fooPolicy(issuer.issuer)) } } },
      });
      const send = async (rt = w.rt) => w.exchange(await token(issuer), "org/repo", "id", rt);
      return { w, send };
    }

    /**
     * Runs `send`; a document the issuer holds unanswered (`behaviour` says "hang") times out as soon as
     * the double holds the request (test/worker/helpers.ts, `timingOut`), not after the real 3 s.
     */
    function hanging<T>(
      issuer: CreatedIssuer,
      rt: Runtime,
      behaviour: { discovery?: unknown; jwks?: unknown },
      send: () => Promise<T>,
    ): Promise<T> {
      const document =
        behaviour.discovery === "hang"
          ? "/.well-known/openid-configuration"
          : behaviour.jwks === "hang"
            ? "/jwks"
            : null;
      if (document === null) return send();
      const held = (path: string) => path.includes(document);
      return timingOut(
        rt,
        held,
        async () => (await issuers.calls(issuer.id)).filter((c) => held(c.path)).length,
        send,
      );
    }

    it.each([
      ["hanging on discovery", 400, "DISCOVERY_FAILED", { discovery: "hang" as const }],
      ["hanging on the JWKS", 401, "SIGNATURE_INVALID", { jwks: "hang" as const }],
      [
        "answering an oversized discovery document",
        400,
        "DISCOVERY_FAILED",
        { discovery: { oversize: 300 * 1024 } },
      ],
      ["answering an oversized JWKS", 401, "SIGNATURE_INVALID", { jwks: { oversize: 300 * 1024 } }],
      ["answering 500 on discovery", 400, "DISCOVERY_FAILED", { discovery: { status: 500 } }],
    ])(
      "an issuer %s: %i %s; the failure is remembered a minute in this isolate only, so a new isolate and this one after the minute are granted",
      async (_name, status, reason, behaviour) => {
        const issuer = await issuers.createIssuer();
        const { w, send } = await issuerWorld(issuer);
        await issuers.setBehaviour(issuer.id, behaviour);
        expectRefused(await hanging(issuer, w.rt, behaviour, send), status, reason, null);
        await issuers.setBehaviour(issuer.id, { discovery: "ok", jwks: "ok" });
        // Same isolate, within the minute: remembered, nothing fetched.
        const before = (await issuers.calls(issuer.id)).length;
        expectRefused(await send(), status, reason, null);
        expect((await issuers.calls(issuer.id)).length).toBe(before);
        // A new isolate over the same KV: the failure was never written there.
        const fresh = countingRuntime({ GITHUB_BASE_URL: w.baseUrl }, { clock: w.clock }).rt;
        expectGranted(await send(fresh));
        // This isolate, once the minute has passed.
        await w.advance(ISSUER_FAILURE_TTL_MS + 1000);
        expectGranted(await send());
      },
      HANG,
    );

    it(
      "an issuer rotating its keys between requests: a token of the new key is SIGNATURE_INVALID within the 30 s refetch cool-down, granted after it, and by a new isolate at once",
      async () => {
        const issuer = await issuers.createIssuer();
        const { w, send } = await issuerWorld(issuer);
        expectGranted(await send());
        await issuers.rotateKeys(issuer.id);
        // Within the cool-down of the fetch the first exchange made.
        expectRefused(await send(), 401, "SIGNATURE_INVALID", null);
        const fresh = countingRuntime({ GITHUB_BASE_URL: w.baseUrl }, { clock: w.clock }).rt;
        expectGranted(await send(fresh));
        await w.advance(JWKS_REFETCH_COOLDOWN_MS + 1000);
        expectGranted(await send());
        // And back again (the old key is gone after a second rotation): the new kid is fetched once more.
        await issuers.rotateKeys(issuer.id);
        await w.advance(JWKS_REFETCH_COOLDOWN_MS + 1000);
        expectGranted(await send());
      },
      HANG,
    );
  });
});

describe("faults of the webhook", () => {
  const HEAD = sha(0xfeed);
  const BROKEN =
    "issuer: https://token.actions.githubusercontent.com\nsubject: x\npermision:\n  contents: read\n";
  const webhookWorld = () =>
    webhookWorldOf({
      "org/repo": {
        files: { [webhookPolicyPath("foo")]: webhookPolicy() },
        refs: { [HEAD]: { [webhookPolicyPath("foo")]: BROKEN } },
        pulls: { "7": { head: HEAD } },
      },
    });
  const edges = [
    ["the pull request's files", "/repos/org/repo/pulls/7/files"],
    ["the changed file's read", "/repos/org/repo/contents/**"],
    ["the check run", "/repos/org/repo/check-runs"],
  ] as const;
  const answers: FaultAnswer[] = ["server-error", "truncated-json", "hang"];
  for (const [edge, path] of edges) {
    for (const answer of answers) {
      it(
        `GitHub answering ${answer} on ${edge}: 503 GITHUB_UNAVAILABLE with Retry-After 30, one audit line; redelivered once cleared, it is read again and the run posted`,
        async () => {
          const w = await webhookWorld();
          await github.addFault(w.id, { path, answer });
          const refused = await faulted(w, path, answer, () => w.pullRequest("opened", 7, HEAD));
          const lines = webhookLines(output.lines);
          expect(lines, "webhook audit lines").toHaveLength(1);
          expect([refused.status, lines[0]?.reason], `detail: ${String(lines[0]?.detail)}`).toEqual([
            503,
            "GITHUB_UNAVAILABLE",
          ]);
          expect(refused.headers.get("Retry-After")).toBe("30");
          // A check run whose answer was cut off exists on GitHub; nobody learnt its id.
          const madeBefore = (await w.checkRuns()).length;
          expect(madeBefore).toBe(path.endsWith("check-runs") && answer === "truncated-json" ? 1 : 0);
          expect((await w.tokens()).every((t) => t.revoked)).toBe(true);
          await github.clearFaults(w.id);
          output.lines.length = 0;
          const again = await w.pullRequest("opened", 7, HEAD);
          expect(again.status).toBe(200);
          expect(webhookLines(output.lines)).toHaveLength(1);
          expect(await w.checkRuns()).toHaveLength(madeBefore + 1);
        },
        HANG,
      );
    }
  }
});

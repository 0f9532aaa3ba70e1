/**
 * Faults at every edge (docs/security.md, "Faults"), end to end through the Worker: the KV namespace
 * throwing or slow (a wrapped namespace in the runtime's env), the organization's trusted-issuer file
 * unreadable, issuers that hang, answer too much, or rotate their keys between requests, and GitHub
 * failing the webhook's reads and its check run; GitHub failing an exchange's calls is in
 * faults-github.test.ts (two files, so they run side by side).
 *
 * Each fault ends in its documented status (with `Retry-After` where the catalogue gives one) and exactly
 * one audit line; then, with the fault cleared, the next request works and reads fresh, so nothing was
 * cached that should not have been. No test asserts a duration; timeouts are hang detectors only.
 */

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ISSUER_FAILURE_TTL_MS, JWKS_REFETCH_COOLDOWN_MS } from "../../../src/platform/limits";
import type { Runtime } from "../../../src/platform/runtime";
import type { FaultAnswer } from "../../shared/github-double";
import type { CreatedIssuer } from "../../shared/issuer-double";
import {
  sha,
  webhookLines,
  policy as webhookPolicy,
  policyPath as webhookPolicyPath,
  world as webhookWorldOf,
} from "../endpoints/webhook-world";
import { countingRuntime, github, issuers, timingOut } from "../helpers";
import {
  callsSince,
  exchange,
  FaultyKv,
  faulted,
  faultsFile,
  fooPolicy,
  fooWorld,
  HANG,
  isLookup,
  isOrgRead,
  isPolicyRead,
  TRUSTED_ISSUERS,
  token,
} from "./faults-world";
import { ACTIONS, oneSmallAuditLine, policyFiles, world } from "./world";

const { output, expectRefused, expectGranted } = faultsFile();

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

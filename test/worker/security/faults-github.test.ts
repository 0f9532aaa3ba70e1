/**
 * GitHub failing an exchange's calls (docs/security.md, "Faults"), end to end through the Worker: 5xx,
 * 429, a rate-limited or bare 403, a truncated body or nothing at all, on the installation lookup, the
 * policy read and the mint. Each ends in its documented status (with `Retry-After` where the catalogue
 * gives one) and exactly one audit line; cleared, the next exchange makes the call again and is granted.
 * The other faults are in faults.test.ts. No test asserts a duration; timeouts are hang detectors only.
 */

import { describe, expect, it } from "vitest";
import type { FaultAnswer } from "../../shared/github-double";
import { github } from "../helpers";
import {
  callsSince,
  exchange,
  faulted,
  faultsFile,
  fooWorld,
  HANG,
  isLookup,
  isMint,
  isPolicyRead,
} from "./faults-world";
import { oneSmallAuditLine } from "./world";

const { output, expectRefused, expectGranted } = faultsFile();

describe("faults of GitHub during an exchange", () => {
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
      { edge: "the mint", path: "/app/installations/*/access_tokens", is: isMint, app: true, warm: true },
    ];
    const outcomes: { answer: FaultAnswer; status: number; reason: string; retryAfter: string }[] = [
      { answer: "server-error", status: 503, reason: "GITHUB_UNAVAILABLE", retryAfter: "30" },
      { answer: "too-many-requests", status: 429, reason: "RATE_LIMITED", retryAfter: "120" },
      { answer: "truncated-json", status: 503, reason: "GITHUB_UNAVAILABLE", retryAfter: "30" },
      { answer: "hang", status: 503, reason: "GITHUB_UNAVAILABLE", retryAfter: "30" },
    ];
    /**
     * Attempts of the faulted call in one exchange: 5xx and network errors are retried twice, a timeout
     * is not. A connection dropped mid-body is a network error where the body is read inside the attempt
     * (the App's calls, whose JSON @octokit/request reads); the policy read returns with its status and
     * headers, and a body cut off after that is not sent again.
     */
    const attemptsOf = (answer: FaultAnswer, app: boolean): [number, number] =>
      answer === "server-error" || (answer === "truncated-json" && app) ? [3, 3] : [1, 1];
    for (const { edge, path, is, app, warm } of edges) {
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
            const [least, most] = attemptsOf(answer, app);
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
});

/**
 * The deadline of outbound requests (src/platform/deadline.ts): by default each request is bounded by
 * `AbortSignal.timeout` with the limit its caller names; GitHub calls and issuer fetches name theirs
 * from platform/limits.ts; a test's own deadline replaces it for one instance only.
 */

import { describe, expect, it } from "vitest";
import { findInstallation, mintInstallationToken } from "../../../src/github";
import { verifyBearer } from "../../../src/oidc";
import { requestSignal, retryPause, setDeadline, setRetryPause } from "../../../src/platform/deadline";
import {
  GITHUB_REQUEST_TIMEOUT_MS,
  GITHUB_RETRY_DELAY_MS,
  ISSUER_FETCH_TIMEOUT_MS,
} from "../../../src/platform/limits";
import { tenant } from "../github/setup";
import { countingRuntime, github, issuers } from "../helpers";

describe("retry pauses", () => {
  it("a retry of a 5xx waits GITHUB_RETRY_DELAY_MS, then twice that (the tests' runtimes skip the waits)", async () => {
    const t = await tenant();
    const found = await findInstallation(t.rt, "org");
    if (!found.ok) throw new Error(found.failure.reason);
    const paused: number[] = [];
    setRetryPause(t.rt.caches, async (ms) => {
      paused.push(ms);
    });
    await github.addFault(t.id, { path: "/app/installations/*/access_tokens", answer: "server-error" });
    const minted = await mintInstallationToken(t.rt, "org", found.value, { permissions: { issues: "read" } });
    expect(!minted.ok && minted.failure.reason).toBe("GITHUB_UNAVAILABLE");
    expect(paused).toEqual([GITHUB_RETRY_DELAY_MS, 2 * GITHUB_RETRY_DELAY_MS]);
  });

  it("by default a pause is a real wait: still pending once everything queued so far has run", async () => {
    const { rt } = countingRuntime();
    setRetryPause(rt.caches, null);
    let done = false;
    const pause = retryPause(rt.caches, 20).then(() => {
      done = true;
    });
    await Promise.resolve();
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    expect(done).toBe(false);
    await pause;
    expect(done).toBe(true);
  });
});

describe("request deadlines", () => {
  it("by default a request is aborted with a TimeoutError once its limit has passed", async () => {
    const { rt } = countingRuntime();
    const signal = requestSignal(rt.caches, "GET https://example.com/", 20);
    expect(signal.aborted).toBe(false);
    const reason = await new Promise<unknown>((resolve) =>
      signal.addEventListener("abort", () => resolve(signal.reason)),
    );
    expect((reason as Error).name).toBe("TimeoutError");
  });

  it("GitHub calls ask for the GitHub request timeout, issuer fetches for the issuer fetch timeout", async () => {
    const t = await tenant();
    const asked: [string, number][] = [];
    setDeadline(t.rt.caches, (target, ms) => {
      asked.push([target, ms]);
      return null;
    });
    expect((await findInstallation(t.rt, "org")).ok).toBe(true);
    expect(asked).toEqual([["GET /orgs/org/installation", GITHUB_REQUEST_TIMEOUT_MS]]);

    const issuer = await issuers.createIssuer();
    const { rt } = countingRuntime();
    const seen: [string, number][] = [];
    setDeadline(rt.caches, (target, ms) => {
      seen.push([target, ms]);
      return null;
    });
    const verified = await verifyBearer(
      rt.oidc,
      await issuers.mintToken(issuer.id, { claims: { sub: "x", aud: "y" } }),
    );
    expect(verified.ok).toBe(true);
    expect(seen).toEqual([
      [`GET ${issuer.issuer}/.well-known/openid-configuration`, ISSUER_FETCH_TIMEOUT_MS],
      [expect.stringMatching(/^GET .*\/jwks$/), ISSUER_FETCH_TIMEOUT_MS],
    ]);
  });

  it("a test's deadline applies to its own instance only", async () => {
    const a = countingRuntime().rt;
    const b = countingRuntime().rt;
    const held = new AbortController();
    setDeadline(a.caches, () => held.signal);
    expect(requestSignal(a.caches, "GET /x", 10_000)).toBe(held.signal);
    expect(requestSignal(b.caches, "GET /x", 10_000)).not.toBe(held.signal);
    setDeadline(a.caches, null);
    expect(requestSignal(a.caches, "GET /x", 10_000)).not.toBe(held.signal);
  });
});

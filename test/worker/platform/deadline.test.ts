/**
 * The deadline of outbound requests (src/platform/deadline.ts): by default each request is bounded by
 * `AbortSignal.timeout` with the limit its caller names; GitHub calls and issuer fetches name theirs
 * from platform/limits.ts; a test's own deadline replaces it for one instance only.
 */

import { describe, expect, it } from "vitest";
import { findInstallation } from "../../../src/github";
import { verifyBearer } from "../../../src/oidc";
import { requestSignal, setDeadline } from "../../../src/platform/deadline";
import { GITHUB_REQUEST_TIMEOUT_MS, ISSUER_FETCH_TIMEOUT_MS } from "../../../src/platform/limits";
import { tenant } from "../github/setup";
import { countingRuntime, issuers } from "../helpers";

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

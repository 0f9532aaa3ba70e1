/**
 * Security review of src/github: a deleted policy must stop granting (no stale copy behind a 404),
 * GitHub's answers are classified by what they are (a 404 or 422 is never a rate limit because the
 * quota happened to reach zero on that very request), and the policy-read token is revoked on every
 * path out of the read.
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { findInstallation, type Installation, mintInstallationToken, readPolicy } from "../../../src/github";
import { rateLimitOf } from "../../../src/github/http";
import type { ManualClock } from "../../../src/platform/clock";
import { POLICY_FRESH_TTL_MS } from "../../../src/platform/limits";
import type { FetchFn, Runtime } from "../../../src/platform/runtime";
import type { FaultAnswer } from "../../shared/github-double";
import { CONTENTS, tenant, waiter } from "../github/setup";
import { countingRuntime, FOO_POLICY, github, timingOut } from "../helpers";

afterEach(async () => {
  await reset();
});

const FRESH_MS = POLICY_FRESH_TTL_MS;

/** Every GitHub answer carries `X-RateLimit-Remaining: 0`: this request used the last of the quota. */
const lastOfQuota: FetchFn = async (input, init) => {
  const response = await fetch(input, init);
  const headers = new Headers(response.headers);
  headers.set("X-RateLimit-Remaining", "0");
  headers.set("X-RateLimit-Reset", String(Math.floor(Date.now() / 1000) + 600));
  return new Response(response.body, { status: response.status, headers });
};

async function quotaTenant(): Promise<{ id: string; rt: Runtime; inst: Installation }> {
  const t = await tenant();
  const { rt } = countingRuntime({ GITHUB_BASE_URL: t.baseUrl }, { clock: t.clock, respond: lastOfQuota });
  const found = await findInstallation(rt, "org");
  if (!found.ok) throw new Error(found.failure.reason);
  return { id: t.id, rt, inst: found.value };
}

async function read(rt: Runtime, inst: Installation) {
  const ctx = waiter();
  const result = await readPolicy(rt, ctx, "org", inst, "repo", "foo");
  await ctx.settle();
  return result;
}

describe("answers are not rate limits because the quota reached zero on them", () => {
  it("a policy deleted while a stale copy exists → POLICY_NOT_FOUND, not the stale policy", async () => {
    const { id, rt, inst } = await quotaTenant();
    expect((await read(rt, inst)).ok).toBe(true);
    (rt.clock as ManualClock).advance(FRESH_MS + 1000);
    await github.setFile(id, "org/repo", ".github/chainguard/foo.sts.yaml", null);
    const gone = await read(rt, inst);
    expect(gone.ok ? `served ${gone.value.source}` : gone.failure.reason).toBe("POLICY_NOT_FOUND");
  });

  it("a mint refused with 422 → PERMISSION_NOT_GRANTABLE, not RATE_LIMITED", async () => {
    const { id, rt, inst } = await quotaTenant();
    await github.addFault(id, { path: "/app/installations/*/access_tokens", answer: "unprocessable" });
    const minted = await mintInstallationToken(rt, "org", inst, { permissions: { contents: "write" } });
    expect(!minted.ok && minted.failure.reason).toBe("PERMISSION_NOT_GRANTABLE");
  });

  it("a real rate limit (403 with remaining 0, 429) still serves the stale copy", async () => {
    const { id, rt, inst } = await quotaTenant();
    expect((await read(rt, inst)).ok).toBe(true);
    (rt.clock as ManualClock).advance(FRESH_MS + 1000);
    await github.addFault(id, { path: CONTENTS, answer: "rate-limited", resetInSeconds: 30 });
    const stale = await read(rt, inst);
    expect(stale.ok && stale.value).toEqual({ text: FOO_POLICY, source: "stale" });
  });
});

describe("the policy-read token is revoked on every path out of the read", () => {
  const answers: FaultAnswer[] = [
    "not-found",
    "forbidden",
    "rate-limited",
    "too-many-requests",
    "server-error",
    "unprocessable",
    "hang",
  ];
  it.each(answers)("contents read answering %s", async (answer) => {
    const t = await tenant();
    const found = await findInstallation(t.rt, "org");
    if (!found.ok) throw new Error(found.failure.reason);
    await github.addFault(t.id, { path: CONTENTS, answer, retryAfter: 5, resetInSeconds: 5 });
    const ctx = waiter();
    const result = await timingOut(
      t.rt,
      (target) => target.startsWith("GET /repos/org/repo/contents/"),
      async () =>
        (await github.calls(t.id)).filter((c) => c.path.startsWith("/repos/org/repo/contents/")).length,
      () => readPolicy(t.rt, ctx, "org", found.value, "repo", "foo"),
    );
    await ctx.settle();
    expect(result.ok).toBe(false);
    const tokens = await github.tokens(t.id);
    expect(tokens.length).toBe(1);
    expect(tokens[0]?.permissions).toEqual({ contents: "read" });
    expect(tokens[0]?.repositories).toEqual(["repo"]);
    expect(tokens[0]?.revoked).toBe(true);
  });
});

describe("isolate memory is bounded by what policy files weigh, not only by how many there are", () => {
  it("ten policies of ~1 MB each do not all stay in memory; small ones do", async () => {
    const t = await tenant();
    const found = await findInstallation(t.rt, "org");
    if (!found.ok) throw new Error(found.failure.reason);
    const big = (i: number) => `# ${String(i).repeat(1_000_000)}\n`;
    for (let i = 0; i < 10; i++) {
      await github.setFile(t.id, "org/repo", `.github/chainguard/big${i}.sts.yaml`, big(i));
    }
    const readAs = async (identity: string) => {
      const ctx = waiter();
      const result = await readPolicy(t.rt, ctx, "org", found.value, "repo", identity);
      await ctx.settle();
      if (!result.ok) throw new Error(result.failure.reason);
      return result.value;
    };
    for (let i = 0; i < 10; i++) expect((await readAs(`big${i}`)).source).toBe("github");
    // The oldest large text was dropped from memory (still in KV); the newest is in memory.
    expect(await readAs("big0")).toEqual({ text: big(0), source: "kv" });
    expect((await readAs("big0")).source).toBe("memory");
    expect((await readAs("foo")).source).toBe("github");
    expect((await readAs("foo")).source).toBe("memory");
  });
});

describe("rate limits are recognised by their headers alone", () => {
  const clock = { now: () => Date.parse("2026-11-26T08:00:00Z") };
  const answer = (status: number, headers: Record<string, string>) => new Response(null, { status, headers });

  it("a 403 with X-RateLimit-Remaining: 0 and no readable reset is still a rate limit (default Retry-After)", () => {
    expect(rateLimitOf(answer(403, { "X-RateLimit-Remaining": "0" }), clock)).toEqual({
      retryAfterSeconds: undefined,
    });
    expect(rateLimitOf(answer(403, { "Retry-After": "soon" }), clock)).toEqual({
      retryAfterSeconds: undefined,
    });
    expect(rateLimitOf(answer(429, {}), clock)).toEqual({ retryAfterSeconds: undefined });
  });

  it("reads the time to wait from Retry-After, else X-RateLimit-Reset", () => {
    expect(rateLimitOf(answer(403, { "Retry-After": "42" }), clock)).toEqual({ retryAfterSeconds: 42 });
    const reset = String(Date.parse("2026-11-26T08:10:00Z") / 1000);
    expect(
      rateLimitOf(answer(403, { "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset }), clock),
    ).toEqual({ retryAfterSeconds: 600 });
  });

  it("a bare 403, and a 404 or 422 at the end of the quota, are not rate limits", () => {
    expect(rateLimitOf(answer(403, {}), clock)).toBeUndefined();
    expect(rateLimitOf(answer(403, { "X-RateLimit-Remaining": "12" }), clock)).toBeUndefined();
    expect(rateLimitOf(answer(404, { "X-RateLimit-Remaining": "0" }), clock)).toBeUndefined();
    expect(rateLimitOf(answer(422, { "Retry-After": "5" }), clock)).toBeUndefined();
  });
});

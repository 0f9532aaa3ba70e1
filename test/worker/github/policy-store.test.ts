/**
 * Policy reads (docs/security.md, "Policy files" and "Caching"): the read token (restricted, revoked, never
 * returned), the caches (fresh, stale on rate limits only, 404 remembered 5 min, eviction) and every
 * failure class, plus the GitHub calls of a cold and a warm exchange.
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { errorResponse } from "../../../src/errors/grpc";
import {
  evictPolicy,
  findInstallation,
  type Installation,
  lookupPolicy,
  mintInstallationToken,
  readPolicy,
} from "../../../src/github";
import { POLICY_FRESH_TTL_MS } from "../../../src/platform/limits";
import { FOO_POLICY, github, timingOut } from "../helpers";
import { CONTENTS, type GitHubTenant, runtimeAt, tenant, waiter } from "./setup";

afterEach(async () => {
  await reset();
});

const FRESH_MS = POLICY_FRESH_TTL_MS;

async function installed(t: GitHubTenant): Promise<Installation> {
  const found = await findInstallation(t.rt, "org");
  if (!found.ok) throw new Error(found.failure.reason);
  return found.value;
}

async function read(t: GitHubTenant, inst: Installation, identity = "foo") {
  const ctx = waiter();
  const result = await readPolicy(t.rt, ctx, "org", inst, "repo", identity);
  await ctx.settle();
  return result;
}

async function contentCalls(t: GitHubTenant): Promise<number> {
  return (await github.calls(t.id)).filter((c) => c.path.includes("/contents/")).length;
}

describe("reading a policy", () => {
  it("mints a contents:read token for [repo], reads raw from the default branch, revokes it", async () => {
    const t = await tenant();
    const inst = await installed(t);
    const result = await read(t, inst);
    expect(result.ok && result.value).toEqual({ text: FOO_POLICY, source: "github" });
    const calls = await github.calls(t.id);
    expect(calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      "GET /orgs/org/installation 200",
      `POST /app/installations/${inst.id}/access_tokens 201`,
      "GET /repos/org/repo/contents/.github/chainguard/foo.sts.yaml 200",
      "DELETE /installation/token 204",
    ]);
    expect(calls[1]?.body).toBe('{"repositories":["repo"],"permissions":{"contents":"read"}}');
    expect(calls[2]?.headers.accept).toBe("application/vnd.github.raw+json");
    const [readToken] = await github.tokens(t.id);
    expect(readToken?.revoked).toBe(true);
    expect(readToken?.repositories).toEqual(["repo"]);
    expect(calls[2]?.headers.authorization).toBe(`token ${readToken?.token}`);
    expect(calls[3]?.headers.authorization).toBe(`Bearer ${readToken?.token}`);

    // The caller's token is a different, unrevoked one.
    const minted = await mintInstallationToken(t.rt, "org", inst, {
      permissions: { pull_requests: "write" },
    });
    if (!minted.ok) throw new Error(minted.failure.reason);
    expect(minted.value.token).not.toBe(readToken?.token);
    const record = (await github.tokens(t.id)).find((r) => r.token === minted.value.token);
    expect(record?.revoked).toBe(false);
  });

  it("serves from memory, then KV, and evictPolicy drops it", async () => {
    const t = await tenant();
    const inst = await installed(t);
    await read(t, inst);
    const again = await read(t, inst);
    expect(again.ok && again.value.source).toBe("memory");
    t.clock.advance(61 * 1000); // memory holds a policy at most 60 s; KV 5 min
    const fromKv = await read(t, inst);
    expect(fromKv.ok && fromKv.value.source).toBe("kv");
    expect(await contentCalls(t)).toBe(1);
    await evictPolicy(t.rt, "ORG", "Repo", "foo");
    const reread = await read(t, inst);
    expect(reread.ok && reread.value.source).toBe("github");
    expect(await contentCalls(t)).toBe(2);
  });
});

describe("404", () => {
  it("→ POLICY_NOT_FOUND, not re-read within 5 minutes, re-read after", async () => {
    const t = await tenant();
    const inst = await installed(t);
    const missing = await read(t, inst, "nope");
    expect(!missing.ok && missing.failure.reason).toBe("POLICY_NOT_FOUND");
    const body = !missing.ok
      ? ((await errorResponse(missing.failure, { requestId: "r", domain: "d" }).json()) as {
          message: string;
        })
      : undefined;
    expect(body?.message).toBe('unable to find trust policy for "nope"');
    expect((await lookupPolicy(t.rt, "org", "repo", "nope")).state).toBe("missing");
    expect((await lookupPolicy(t.rt, "org", "repo", "foo")).state).not.toBe("missing");
    await github.setFile(t.id, "org/repo", ".github/chainguard/nope.sts.yaml", FOO_POLICY);
    t.clock.advance(FRESH_MS - 1000);
    expect((await lookupPolicy(t.rt, "org", "repo", "nope")).state).toBe("missing");
    expect(!(await read(t, inst, "nope")).ok).toBe(true);
    expect(await contentCalls(t)).toBe(1);
    t.clock.advance(2000);
    expect((await lookupPolicy(t.rt, "org", "repo", "nope")).state).not.toBe("missing");
    const found = await read(t, inst, "nope");
    expect(found.ok && found.value.source).toBe("github");
    expect(await contentCalls(t)).toBe(2);
  });

  it("a 422 on the read-token mint (repository not in the installation) → POLICY_NOT_FOUND", async () => {
    const t = await tenant({
      installations: [{ account: "org", repositorySelection: "selected", repositories: ["other"] }],
      repos: { "org/repo": {}, "org/other": {} },
    });
    const result = await read(t, await installed(t));
    expect(!result.ok && result.failure.reason).toBe("POLICY_NOT_FOUND");
    expect(!result.ok && result.failure.detail).toContain("422");
  });

  it("a file over 1 MiB → POLICY_NOT_FOUND, read token still revoked", async () => {
    const t = await tenant();
    await github.setFile(t.id, "org/repo", ".github/chainguard/big.sts.yaml", "#".repeat(1024 * 1024 + 1));
    const result = await read(t, await installed(t), "big");
    expect(!result.ok && result.failure.reason).toBe("POLICY_NOT_FOUND");
    expect((await github.tokens(t.id)).every((r) => r.revoked)).toBe(true);
  });
});

describe("403 and rate limits", () => {
  it("a bare 403 → POLICY_FORBIDDEN and the stale copy is dropped", async () => {
    const t = await tenant();
    const inst = await installed(t);
    expect((await read(t, inst)).ok).toBe(true);
    t.clock.advance(FRESH_MS + 1000);
    await github.addFault(t.id, { path: CONTENTS, answer: "forbidden", times: 1 });
    const forbidden = await read(t, inst);
    expect(!forbidden.ok && forbidden.failure.reason).toBe("POLICY_FORBIDDEN");
    await github.addFault(t.id, { path: CONTENTS, answer: "too-many-requests", retryAfter: 5 });
    const limited = await read(t, inst);
    expect(!limited.ok && limited.failure.reason).toBe("RATE_LIMITED");
  });

  for (const answer of ["rate-limited", "too-many-requests"] as const) {
    it(`${answer}: the stale copy is served; without one RATE_LIMITED with Retry-After`, async () => {
      const t = await tenant();
      const inst = await installed(t);
      expect((await read(t, inst)).ok).toBe(true);
      t.clock.advance(FRESH_MS + 1000);
      await github.addFault(t.id, { path: CONTENTS, answer, retryAfter: 17, resetInSeconds: 17 });
      const stale = await read(t, inst);
      expect(stale.ok && stale.value).toEqual({ text: FOO_POLICY, source: "stale" });
      // Past the stale hour, nothing to serve.
      t.clock.advance(60 * 60 * 1000);
      // The App JWT is signed anew by then: the double's clock follows the manual one.
      await github.setClockOffset(t.id, (FRESH_MS + 1000 + 60 * 60 * 1000) / 1000);
      const limited = await read(t, inst);
      expect(limited.ok).toBe(false);
      if (limited.ok) return;
      expect(limited.failure.reason).toBe("RATE_LIMITED");
      const seconds = limited.failure.args.retryAfterSeconds ?? 0;
      const response = errorResponse(limited.failure, { requestId: "r", domain: "d" });
      expect(response.status).toBe(429);
      expect(response.headers.get("Retry-After")).toBe(String(seconds));
      if (answer === "too-many-requests") expect(seconds).toBe(17);
      else expect(Math.abs(seconds - 17)).toBeLessThanOrEqual(2);
    });
  }
});

describe("transient failures", () => {
  it("5xx twice then ok → the policy", async () => {
    const t = await tenant();
    await github.addFault(t.id, { path: CONTENTS, answer: "server-error", times: 2 });
    const result = await read(t, await installed(t));
    expect(result.ok).toBe(true);
    expect(await contentCalls(t)).toBe(3);
  });

  it("5xx three times → GITHUB_UNAVAILABLE", async () => {
    const t = await tenant();
    await github.addFault(t.id, { path: CONTENTS, answer: "server-error" });
    const result = await read(t, await installed(t));
    expect(!result.ok && result.failure.reason).toBe("GITHUB_UNAVAILABLE");
    expect((await github.tokens(t.id)).every((r) => r.revoked)).toBe(true);
  });

  it("a hang → GITHUB_UNAVAILABLE (503), not a 500", async () => {
    const t = await tenant();
    const inst = await installed(t);
    await github.addFault(t.id, { path: CONTENTS, answer: "hang", times: 1 });
    const ctx = waiter();
    const result = await timingOut(
      t.rt,
      (target) => target.startsWith("GET /repos/org/repo/contents/"),
      async () =>
        (await github.calls(t.id)).filter((c) => c.path.startsWith("/repos/org/repo/contents/")).length,
      () => readPolicy(t.rt, ctx, "org", inst, "repo", "foo"),
    );
    expect(!result.ok && result.failure.reason).toBe("GITHUB_UNAVAILABLE");
    if (!result.ok) expect(errorResponse(result.failure, { requestId: "r", domain: "d" }).status).toBe(503);
    await ctx.settle();
  });
});

describe("GitHub calls of an exchange (installation + policy read + mint)", () => {
  it("cold: 5 calls (lookup, read-token mint, read, revoke, mint); warm: exactly 1 (the mint)", async () => {
    const t = await tenant();
    const exchange = async () => {
      const ctx = waiter();
      const inst = await findInstallation(t.rt, "org");
      if (!inst.ok) throw new Error(inst.failure.reason);
      const text = await readPolicy(t.rt, ctx, "org", inst.value, "repo", "foo");
      if (!text.ok) throw new Error(text.failure.reason);
      const minted = await mintInstallationToken(t.rt, "org", inst.value, {
        repositories: ["repo"],
        permissions: { pull_requests: "write" },
      });
      if (!minted.ok) throw new Error(minted.failure.reason);
      await ctx.settle();
    };
    await exchange();
    expect((await github.calls(t.id)).length).toBe(5);
    await github.clearCalls(t.id);
    await exchange();
    const warm = await github.calls(t.id);
    expect(warm.map((c) => `${c.method} ${c.path}`)).toEqual([
      `POST /app/installations/${(await installed(t)).id}/access_tokens`,
    ]);
  });
});

describe("the normal form beside the text", () => {
  it("is stored in the same KV value as the text (one write) and read back by a new isolate", async () => {
    const t = await tenant();
    const inst = await installed(t);
    const puts: string[] = [];
    const kv = t.rt.caches.kv as KVNamespace;
    const put = kv.put.bind(kv);
    kv.put = ((
      key: string,
      ...rest: Parameters<KVNamespace["put"]> extends [string, ...infer R] ? R : never
    ) => {
      puts.push(key);
      return put(key, ...rest);
    }) as KVNamespace["put"];
    try {
      const ctx = waiter();
      const seen: string[] = [];
      const result = await readPolicy(t.rt, ctx, "org", inst, "repo", "foo", undefined, async (text) => {
        seen.push(text);
        return { key: "a form", policy: {} };
      });
      await ctx.settle();
      expect(seen).toEqual([FOO_POLICY]);
      expect(result.ok && result.value).toEqual({
        text: FOO_POLICY,
        source: "github",
        form: { key: "a form", policy: {} },
      });
      expect(puts.filter((k) => k.startsWith("gh-policy:"))).toHaveLength(1);
    } finally {
      kv.put = put;
    }
    const fresh = runtimeAt(t.baseUrl);
    const again = await lookupPolicy(fresh, "org", "repo", "foo");
    expect(again).toEqual({
      state: "cached",
      text: { text: FOO_POLICY, source: "kv", form: { key: "a form", policy: {} } },
    });
  });
});

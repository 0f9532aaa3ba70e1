/**
 * Installation lookup (docs/differences-from-octo-sts.md, "Installation lookup by owner"): orgs then users,
 * cached in memory and KV, negative answers remembered, GHES base URLs and the real hostnames through the
 * outbound router.
 */

import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { errorResponse } from "../../../src/errors/grpc";
import { findInstallation, mintInstallationToken, readPolicy } from "../../../src/github";
import { createRuntime } from "../../../src/platform/runtime";
import { github, TEST_APP_ID, testEnv, unique } from "../helpers";
import { runtimeAt, tenant, waiter } from "./setup";

afterEach(async () => {
  await reset();
});

describe("installation lookup", () => {
  it("finds an organization with one call and serves it from memory, then from KV in a new isolate", async () => {
    const t = await tenant();
    const first = await findInstallation(t.rt, "org");
    expect(first.ok && first.value.accountType).toBe("Organization");
    expect((await github.calls(t.id)).map((c) => c.path)).toEqual(["/orgs/org/installation"]);
    // Same isolate: memory, and owners are case-insensitive like GitHub logins.
    expect(await findInstallation(t.rt, "ORG")).toEqual(first);
    // New isolate over the same KV: no GitHub call either.
    const fresh = createRuntime(testEnv({ GITHUB_BASE_URL: t.baseUrl }));
    expect(await findInstallation(fresh, "org")).toEqual(first);
    expect((await github.calls(t.id)).length).toBe(1);
  });

  it("falls back to /users/{owner}/installation for a user account", async () => {
    const t = await tenant({ installations: [{ account: "Octocat", type: "User" }], repos: {} });
    const found = await findInstallation(t.rt, "octocat");
    expect(found.ok && found.value.accountType).toBe("User");
    expect((await github.calls(t.id)).map((c) => `${c.path} ${c.status}`)).toEqual([
      "/orgs/octocat/installation 404",
      "/users/octocat/installation 200",
    ]);
  });

  it("answers NO_INSTALLATION naming the owner, and remembers it for 5 minutes", async () => {
    const t = await tenant();
    const result = await findInstallation(t.rt, "nobody");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.reason).toBe("NO_INSTALLATION");
    const body = (await errorResponse(result.failure, { requestId: "r", domain: "d" }).json()) as {
      message: string;
    };
    expect(body.message).toBe('no installation found for "nobody"');
    expect((await github.calls(t.id)).length).toBe(2);
    await findInstallation(t.rt, "nobody");
    expect((await github.calls(t.id)).length).toBe(2);
    t.clock.advance(5 * 60 * 1000 + 1000);
    await findInstallation(t.rt, "nobody");
    expect((await github.calls(t.id)).length).toBe(4);
  });

  it("a rate-limited lookup → RATE_LIMITED with the reset time; a 5xx → GITHUB_UNAVAILABLE", async () => {
    const t = await tenant();
    await github.addFault(t.id, { path: "/orgs/*/installation", answer: "rate-limited", resetInSeconds: 90 });
    const limited = await findInstallation(t.rt, "org");
    expect(!limited.ok && limited.failure.reason).toBe("RATE_LIMITED");
    const seconds = !limited.ok ? (limited.failure.args.retryAfterSeconds ?? 0) : 0;
    expect(seconds).toBeGreaterThan(80);
    expect(seconds).toBeLessThanOrEqual(91);
    await github.clearFaults(t.id);
    await github.addFault(t.id, { path: "/orgs/*/installation", answer: "server-error" });
    const down = await findInstallation(t.rt, "org");
    expect(!down.ok && down.failure.reason).toBe("GITHUB_UNAVAILABLE");
  });

  it("keys the cache by base URL and App id: another GitHub does not see this one's answer", async () => {
    const a = await tenant();
    const b = await tenant({ installations: [] });
    expect((await findInstallation(a.rt, "org")).ok).toBe(true);
    const onB = createRuntime(testEnv({ GITHUB_BASE_URL: b.baseUrl }));
    const result = await findInstallation(onB, "org");
    expect(!result.ok && result.failure.reason).toBe("NO_INSTALLATION");
  });
});

describe("base URLs", () => {
  it("GITHUB_BASE_URL with an /api/v3 path (GHES) is used as the prefix of every call", async () => {
    const t = await tenant();
    expect(t.baseUrl).toMatch(/\/api\/v3$/);
    const ctx = waiter();
    const inst = await findInstallation(t.rt, "org");
    if (!inst.ok) throw new Error(inst.failure.reason);
    const read = await readPolicy(t.rt, ctx, "org", inst.value, "repo", "foo");
    expect(read.ok || read.failure).toBe(true);
    await ctx.settle();
    // The double only answers under /t/<name>/api/v3, so every call above used the full prefix.
    expect((await github.calls(t.id)).map((c) => c.status)).toEqual([200, 201, 200, 204]);
  });

  it("the default https://api.github.com, through the outbound router", async () => {
    const owner = unique("org");
    const created = await github.setupTenant("api", {
      host: "api.github.com",
      appId: TEST_APP_ID,
      installations: [{ account: owner }],
      repos: { [`${owner}/repo`]: { files: { ".github/chainguard/foo.sts.yaml": "x: 1\n" } } },
    });
    expect(created.baseUrl).toBe("https://api.github.com");
    const rt = runtimeAt(undefined);
    expect(rt.config.ok && rt.config.value.githubBaseUrl).toBe("https://api.github.com");
    const inst = await findInstallation(rt, owner);
    if (!inst.ok) throw new Error(inst.failure.reason);
    const ctx = waiter();
    const text = await readPolicy(rt, ctx, owner, inst.value, "repo", "foo");
    expect(text.ok && text.value.text).toBe("x: 1\n");
    const minted = await mintInstallationToken(rt, owner, inst.value, { permissions: { issues: "read" } });
    expect(minted.ok).toBe(true);
    await ctx.settle();
    const mine = (await github.calls(created.id)).filter(
      (c) => c.path.includes(owner) || c.headers.authorization?.startsWith("Bearer ey") === false,
    );
    expect(mine.every((c) => c.host === "api.github.com")).toBe(true);
    expect(mine.length).toBeGreaterThanOrEqual(2);
  });

  it("https://github.example.com/api/v3 (GHES on a real hostname)", async () => {
    const owner = unique("org");
    await github.setupTenant("ghes", {
      host: "github.example.com",
      appId: TEST_APP_ID,
      installations: [{ account: owner, type: "User" }],
    });
    const rt = runtimeAt("https://github.example.com/api/v3");
    const found = await findInstallation(rt, owner);
    expect(found.ok && found.value.accountType).toBe("User");
  });
});

it("binds the double's URL", () => {
  expect(env.GITHUB_DOUBLE_URL).toMatch(/^http:\/\/127\.0\.0\.1:/);
});

/**
 * Minting (docs/security.md, "Tokens"): the exact bodies octo-sts's own tests expect, one fresh token per
 * call, the failure classes of a mint, and the uninstall/reinstall path.
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { errorResponse } from "../../../src/errors/grpc";
import {
  findInstallation,
  type Installation,
  lackingPermissions,
  mintInstallationToken,
  type TokenRequest,
} from "../../../src/github";
import { github, timingOut } from "../helpers";
import { type GitHubTenant, tenant } from "./setup";

afterEach(async () => {
  await reset();
});

const MINT_PATH = "/app/installations/*/access_tokens";

async function installed(t: GitHubTenant, owner = "org"): Promise<Installation> {
  const found = await findInstallation(t.rt, owner);
  if (!found.ok) throw new Error(`no installation: ${found.failure.reason}`);
  return found.value;
}

async function mintBodies(t: GitHubTenant): Promise<string[]> {
  return (await github.calls(t.id)).filter((c) => c.method === "POST").map((c) => c.body);
}

describe("mint bodies byte for byte as octo-sts sends them", () => {
  it("sends exactly the bodies of the reference tests", async () => {
    const t = await tenant({ repos: { "org/repo": {}, "org/.github": {}, "org/my-policies": {} } });
    const inst = await installed(t);
    const asks: TokenRequest[] = [
      { repositories: ["repo"], permissions: { pull_requests: "write" } },
      { permissions: { pull_requests: "write" } },
      { permissions: { contents: "read" } },
      { repositories: [".github"], permissions: { contents: "read", pull_requests: "write" } },
    ];
    for (const ask of asks) expect((await mintInstallationToken(t.rt, "org", inst, ask)).ok).toBe(true);
    expect(await mintBodies(t)).toEqual([
      '{"repositories":["repo"],"permissions":{"pull_requests":"write"}}',
      '{"permissions":{"pull_requests":"write"}}',
      '{"permissions":{"contents":"read"}}',
      '{"repositories":[".github"],"permissions":{"contents":"read","pull_requests":"write"}}',
    ]);
    const posts = (await github.calls(t.id)).filter((c) => c.method === "POST");
    expect(posts.every((c) => c.path === `/app/installations/${inst.id}/access_tokens`)).toBe(true);
    expect(posts.every((c) => /^application\/json(;|$)/.test(c.headers["content-type"] ?? ""))).toBe(true);
  });

  it("a repository scope yields a token limited to that repository", async () => {
    const t = await tenant({ repos: { "org/repo": {}, "org/other": {} } });
    const minted = await mintInstallationToken(t.rt, "org", await installed(t), {
      repositories: ["repo"],
      permissions: { contents: "read" },
    });
    if (!minted.ok) throw new Error(minted.failure.reason);
    const record = (await github.tokens(t.id)).find((r) => r.token === minted.value.token);
    expect(record?.repositories).toEqual(["repo"]);
    // The token cannot read the other repository (the double answers 404 like GitHub).
    const other = await fetch(`${t.baseUrl}/repos/org/other/contents/README`, {
      headers: { "User-Agent": "t", Authorization: `token ${minted.value.token}` },
    });
    expect(other.status).toBe(404);
  });

  it("returns the token, GitHub's expires_at and the installation", async () => {
    const t = await tenant();
    const inst = await installed(t);
    const minted = await mintInstallationToken(t.rt, "org", inst, { permissions: { issues: "write" } });
    if (!minted.ok) throw new Error(minted.failure.reason);
    expect(minted.value.token).toMatch(/^ghs_/);
    expect(minted.value.installationId).toBe(inst.id);
    const record = (await github.tokens(t.id))[0];
    expect(minted.value.expiresAt).toBe(record?.expiresAt);
  });
});

describe("one fresh token per call", () => {
  it("two concurrent mints with the same request return two different tokens", async () => {
    const t = await tenant();
    const inst = await installed(t);
    const ask = { repositories: ["repo"], permissions: { pull_requests: "write" } };
    const [a, b] = await Promise.all([
      mintInstallationToken(t.rt, "org", inst, ask),
      mintInstallationToken(t.rt, "org", inst, ask),
    ]);
    if (!a?.ok || !b?.ok) throw new Error("mint failed");
    expect(a.value.token).not.toBe(b.value.token);
    expect((await mintBodies(t)).length).toBe(2);
  });
});

describe("mint failures", () => {
  it("422 (a permission the installation lacks) → PERMISSION_NOT_GRANTABLE, GitHub's body withheld", async () => {
    const t = await tenant({ installations: [{ account: "org", permissions: { contents: "read" } }] });
    const result = await mintInstallationToken(t.rt, "org", await installed(t), {
      permissions: { contents: "write" },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.reason).toBe("PERMISSION_NOT_GRANTABLE");
    expect(result.failure.detail).toContain("422");
    const response = errorResponse(result.failure, { requestId: "r", domain: "d" });
    expect(response.status).toBe(403);
    const text = await response.text();
    expect(text).toContain("token exchange failure (StatusUnprocessableEntity)");
    expect(text).not.toContain("not granted");
    // The audit detail names what the installation lacks, read from its permissions, not from GitHub's text.
    expect(result.failure.detail).toContain("the installation lacks contents: write (has read)");
    expect(text).not.toContain("lacks");
  });

  it("the audit detail lists every requested permission the installation lacks, and only those", async () => {
    const t = await tenant({
      installations: [{ account: "org", permissions: { contents: "write", issues: "read" } }],
    });
    const result = await mintInstallationToken(t.rt, "org", await installed(t), {
      permissions: { contents: "read", issues: "write", pull_requests: "write" },
    });
    expect(!result.ok && result.failure.reason).toBe("PERMISSION_NOT_GRANTABLE");
    expect(!result.ok && result.failure.detail).toMatch(
      /; the installation lacks issues: write \(has read\), pull_requests: write \(has none\)$/,
    );
    const reads = (await github.calls(t.id)).filter(
      (c) => c.method === "GET" && /^\/app\/installations\/\d+$/.test(c.path),
    );
    expect(reads).toHaveLength(1);
  });

  it("a refusal the permissions do not explain says so (a repository outside the installation)", async () => {
    const t = await tenant({
      repos: { "org/repo": {} },
      installations: [{ account: "org", repositorySelection: "selected", repositories: [] }],
    });
    const result = await mintInstallationToken(t.rt, "org", await installed(t), {
      repositories: ["repo"],
      permissions: { contents: "read" },
    });
    expect(!result.ok && result.failure.reason).toBe("PERMISSION_NOT_GRANTABLE");
    expect(!result.ok && result.failure.detail).toContain(
      "the installation has every requested permission (a requested repository may be outside it)",
    );
  });

  it("lackingPermissions compares levels: read < write < admin", () => {
    expect(
      lackingPermissions({ a: "read", b: "admin", c: "write" }, { a: "admin", b: "write", c: "write" }),
    ).toEqual(["b: admin (has write)"]);
    expect(lackingPermissions({ a: "read" }, {})).toEqual(["a: read (has none)"]);
  });

  it("an injected 422 → PERMISSION_NOT_GRANTABLE", async () => {
    const t = await tenant();
    const inst = await installed(t);
    await github.addFault(t.id, { method: "POST", path: MINT_PATH, answer: "unprocessable" });
    const result = await mintInstallationToken(t.rt, "org", inst, { permissions: { issues: "read" } });
    expect(!result.ok && result.failure.reason).toBe("PERMISSION_NOT_GRANTABLE");
    expect(!result.ok && JSON.stringify(result.failure)).not.toContain("secret upstream detail");
  });

  it("5xx twice then ok → success after two quick retries", async () => {
    const t = await tenant();
    const inst = await installed(t);
    await github.addFault(t.id, { method: "POST", path: MINT_PATH, answer: "server-error", times: 2 });
    const result = await mintInstallationToken(t.rt, "org", inst, { permissions: { issues: "read" } });
    expect(result.ok).toBe(true);
    expect((await github.calls(t.id)).filter((c) => c.method === "POST").map((c) => c.status)).toEqual([
      500, 500, 201,
    ]);
  });

  it("5xx three times → GITHUB_UNAVAILABLE (503 with Retry-After), body withheld", async () => {
    const t = await tenant();
    const inst = await installed(t);
    await github.addFault(t.id, { method: "POST", path: MINT_PATH, answer: "server-error" });
    const result = await mintInstallationToken(t.rt, "org", inst, { permissions: { issues: "read" } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.reason).toBe("GITHUB_UNAVAILABLE");
    expect(result.failure.detail).not.toContain("secret");
    expect((await github.calls(t.id)).filter((c) => c.method === "POST").length).toBe(3);
    const response = errorResponse(result.failure, { requestId: "r", domain: "d" });
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).not.toBeNull();
  });

  it("a hanging GitHub → GITHUB_UNAVAILABLE, not a 500", async () => {
    const t = await tenant();
    const inst = await installed(t);
    await github.addFault(t.id, { method: "POST", path: MINT_PATH, answer: "hang" });
    const isMint = (c: { method: string; path: string }) =>
      c.method === "POST" && c.path.endsWith("/access_tokens");
    const result = await timingOut(
      t.rt,
      (target) => target.startsWith("POST ") && target.endsWith("/access_tokens"),
      async () => (await github.calls(t.id)).filter(isMint).length,
      () => mintInstallationToken(t.rt, "org", inst, { permissions: { issues: "read" } }),
    );
    expect(!result.ok && result.failure.reason).toBe("GITHUB_UNAVAILABLE");
    expect(!result.ok && result.failure.detail).toContain("timed out");
  });

  it("429 with Retry-After → RATE_LIMITED carrying it", async () => {
    const t = await tenant();
    const inst = await installed(t);
    await github.addFault(t.id, { path: MINT_PATH, answer: "too-many-requests", retryAfter: 42 });
    const result = await mintInstallationToken(t.rt, "org", inst, { permissions: { issues: "read" } });
    expect(!result.ok && result.failure.reason).toBe("RATE_LIMITED");
    expect(!result.ok && result.failure.args.retryAfterSeconds).toBe(42);
  });
});

describe("uninstall and reinstall", () => {
  it("a 404 for a cached installation id drops it, looks the owner up again once and mints", async () => {
    const t = await tenant();
    const old = await installed(t);
    const { installationId } = await github.reinstall(t.id, "org");
    expect(installationId).not.toBe(old.id);
    // The cache still says `old`.
    expect((await findInstallation(t.rt, "org")).ok && old.id).toBe(old.id);
    await github.clearCalls(t.id);
    const minted = await mintInstallationToken(t.rt, "org", old, { permissions: { issues: "read" } });
    if (!minted.ok) throw new Error(minted.failure.reason);
    expect(minted.value.installationId).toBe(installationId);
    expect((await github.calls(t.id)).map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      `POST /app/installations/${old.id}/access_tokens 404`,
      "GET /orgs/org/installation 200",
      `POST /app/installations/${installationId}/access_tokens 201`,
    ]);
    // The new id is cached now.
    const again = await findInstallation(t.rt, "org");
    expect(again.ok && again.value.id).toBe(installationId);
  });

  it("an uninstalled App → NO_INSTALLATION for the owner", async () => {
    const t = await tenant();
    const old = await installed(t);
    await github.uninstall(t.id, "org");
    const result = await mintInstallationToken(t.rt, "org", old, { permissions: { issues: "read" } });
    expect(!result.ok && result.failure.reason).toBe("NO_INSTALLATION");
    expect(!result.ok && result.failure.args.owner).toBe("org");
  });
});

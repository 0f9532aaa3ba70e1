/**
 * The contents capability (src/github/contents.ts): a file at a ref through its own least-privilege
 * token, revoked on every path; a directory is no file; and a read at a ref other than the default
 * branch goes around the policy store, so it never decides an exchange.
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { findInstallation, type Installation, lookupPolicy, readPolicy } from "../../../src/github";
import { readFile } from "../../../src/github/contents";
import { FOO_POLICY, github } from "../helpers";
import { type GitHubTenant, tenant, waiter } from "./setup";

afterEach(async () => {
  await reset();
});

const HEAD = "0123456789abcdef0123456789abcdef01234567";
const PATH = ".github/chainguard/foo.sts.yaml";
/** What a pull request would change the policy to: more than the default branch grants. */
const HEAD_POLICY = FOO_POLICY.replace("pull_requests: write", "contents: write\n  administration: write");

async function installed(t: GitHubTenant): Promise<Installation> {
  const found = await findInstallation(t.rt, "org");
  if (!found.ok) throw new Error(found.failure.reason);
  return found.value;
}

async function headTenant(): Promise<GitHubTenant> {
  return tenant({
    repos: {
      "org/repo": {
        files: { [PATH]: FOO_POLICY, ".github/chainguard/other.sts.yaml": FOO_POLICY },
        refs: { [HEAD]: { [PATH]: HEAD_POLICY } },
      },
    },
  });
}

describe("reading a file", () => {
  it("reads at a ref with a contents:read token on that one repository, revoked after", async () => {
    const t = await headTenant();
    const inst = await installed(t);
    const ctx = waiter();
    const read = await readFile(
      t.rt,
      ctx,
      inst,
      { owner: "org", repo: "repo", path: PATH, ref: HEAD, maxBytes: 1024 },
      "test",
    );
    await ctx.settle();
    expect(read).toEqual({ kind: "file", text: HEAD_POLICY });
    const calls = await github.calls(t.id);
    expect(calls.map((c) => `${c.method} ${c.path} ${c.status}`).slice(1)).toEqual([
      `POST /app/installations/${inst.id}/access_tokens 201`,
      `GET /repos/org/repo/contents/.github/chainguard/foo.sts.yaml?ref=${HEAD} 200`,
      "DELETE /installation/token 204",
    ]);
    expect(calls[1]?.body).toBe('{"repositories":["repo"],"permissions":{"contents":"read"}}');
    expect((await github.tokens(t.id)).every((r) => r.revoked)).toBe(true);
  });

  it("a directory is no file; an unknown ref is absent; the token is revoked either way", async () => {
    const t = await headTenant();
    const inst = await installed(t);
    const ctx = waiter();
    const dir = await readFile(
      t.rt,
      ctx,
      inst,
      { owner: "org", repo: "repo", path: ".github/chainguard", maxBytes: 1024 },
      "test",
    );
    const unknown = await readFile(
      t.rt,
      ctx,
      inst,
      { owner: "org", repo: "repo", path: PATH, ref: "no-such-ref", maxBytes: 1024 },
      "test",
    );
    await ctx.settle();
    expect(dir.kind).toBe("invalid");
    expect(unknown.kind).toBe("absent");
    expect((await github.tokens(t.id)).every((r) => r.revoked)).toBe(true);
  });

  it("a repository the installation cannot see is no-access (the read token's 422), nothing read", async () => {
    const t = await headTenant();
    const inst = await installed(t);
    const ctx = waiter();
    const read = await readFile(
      t.rt,
      ctx,
      inst,
      { owner: "org", repo: "nope", path: PATH, maxBytes: 1024 },
      "test",
    );
    await ctx.settle();
    expect(read.kind).toBe("no-access");
    expect((await github.calls(t.id)).some((c) => c.path.includes("/contents/"))).toBe(false);
  });
});

describe("a read at a pull request's head never decides an exchange", () => {
  it("is not stored: the policy store still reads and serves the default branch", async () => {
    const t = await headTenant();
    const inst = await installed(t);
    const ctx = waiter();
    const head = await readFile(
      t.rt,
      ctx,
      inst,
      { owner: "org", repo: "repo", path: PATH, ref: HEAD, maxBytes: 1 << 20 },
      "test",
    );
    expect(head).toEqual({ kind: "file", text: HEAD_POLICY });
    // Nothing was cached by the head read ...
    expect((await lookupPolicy(t.rt, "org", "repo", "foo")).state).toBe("unknown");
    // ... so the exchange's read goes to GitHub's default branch, and what it caches is that text.
    const policy = await readPolicy(t.rt, ctx, "org", inst, "repo", "foo");
    await ctx.settle();
    expect(policy.ok && policy.value).toEqual({ text: FOO_POLICY, source: "github" });
    const cached = await lookupPolicy(t.rt, "org", "repo", "foo");
    expect(cached.state === "cached" && cached.text.text).toBe(FOO_POLICY);
  });
});

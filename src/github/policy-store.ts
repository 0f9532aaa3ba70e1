/**
 * @module github/policy
 * Reading a trust policy (behaviour §6.3, decisions §3.8, §4). A cache miss mints a token limited to
 * `contents: read` on that one repository, reads `.github/chainguard/<identity>.sts.yaml` from the
 * default branch with the raw media type, and revokes the read token in the background
 * (`ctx.waitUntil`) whatever the read answered: the read token never leaves this module.
 *
 * The raw text is cached, not the parse result (behaviour §6.3 step 5): fresh 5 min in KV, at most 60 s
 * in memory (so an eviction reaches every isolate within a minute), a stale copy for 1 h served only on
 * a rate limit, and a 404 remembered 5 min (checked before any GitHub call, decisions §2.2 step 8).
 * Keys hold the GitHub base URL, the lowercase owner and repo (GitHub names are case-insensitive) and
 * the identity as written (it names a file).
 */

import { fail, ok, type Result, withArgs } from "../errors/catalogue";
import { readCapped } from "../platform/body";
import {
  MAX_POLICY_BYTES,
  MEMORY_CACHE_ENTRIES,
  MEMORY_POLICY_TEXT_BUDGET,
  POLICY_FRESH_TTL,
  POLICY_MEMORY_TTL,
  POLICY_NOT_FOUND_TTL,
  POLICY_STALE_TTL,
} from "../platform/limits";
import type { Runtime } from "../platform/runtime";
import { describe, GITHUB_RAW, type GitHubCall, githubFetch, rateLimitOf, seg } from "./http";
import { mintWithRelookup } from "./mint";
import type { Installation, PolicyText, Waiter } from "./types";

type Cached = { text: string } | { missing: true };

function tier(rt: Runtime) {
  return rt.caches.tier<Cached>({
    name: "gh-policy",
    memoryEntries: MEMORY_CACHE_ENTRIES.policies,
    memoryMaxMs: POLICY_MEMORY_TTL,
    memoryMaxWeight: MEMORY_POLICY_TEXT_BUDGET, // the rest is read from KV
    weigh: (cached) => ("text" in cached ? cached.text.length : 0),
  });
}

function keyOf(rt: Runtime, owner: string, repo: string, identity: string): string {
  const base = rt.config.ok ? rt.config.value.githubBaseUrl : "";
  return `${base}|${owner.toLowerCase()}/${repo.toLowerCase()}|${identity}`;
}

/** Where a policy lives in its repository (behaviour §4.1). */
export function policyPath(identity: string): string {
  return `.github/chainguard/${identity}.sts.yaml`;
}

/**
 * decisions §2.2 step 8: what the policy cache knows of this policy, without any GitHub call: a
 * remembered 404, the text, or nothing. The exchange asks once at step 8 and hands the answer to
 * {@link readPolicy}, so a cache miss costs one KV read, not two.
 */
export type PolicyLookup =
  | { state: "missing" }
  | { state: "cached"; text: PolicyText }
  | { state: "unknown" };

export async function lookupPolicy(
  rt: Runtime,
  owner: string,
  repo: string,
  identity: string,
): Promise<PolicyLookup> {
  const hit = await tier(rt).get(keyOf(rt, owner, repo, identity));
  if (hit === undefined) return { state: "unknown" };
  if ("missing" in hit.value) return { state: "missing" };
  return { state: "cached", text: { text: hit.value.text, source: hit.from } };
}

/** The webhook's eviction entry point: drops the fresh, stale and 404 entries of this policy. */
export async function evictPolicy(rt: Runtime, owner: string, repo: string, identity: string): Promise<void> {
  await tier(rt).delete(keyOf(rt, owner, repo, identity));
}

/**
 * The policy bytes, at most `limit` (counted while streaming); null when longer. A declared length over
 * the limit is refused without reading (a smaller one proves nothing).
 */
async function readPolicyBytes(response: Response, limit: number): Promise<Uint8Array | null> {
  const declared = Number(response.headers.get("Content-Length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    return null;
  }
  return readCapped(response.body, limit);
}

/** Revokes a policy-read token; failures are only logged (behaviour §6.3 step 4). */
async function revoke(rt: Runtime, token: string): Promise<void> {
  const call: GitHubCall = {
    method: "DELETE",
    path: "/installation/token",
    authorization: `Bearer ${token}`,
    what: "read-token revocation",
  };
  const sent = await githubFetch(rt, call);
  if (!sent.ok) {
    console.warn(JSON.stringify({ msg: "policy-read credential not revoked", detail: sent.failure.detail }));
    return;
  }
  await sent.response.body?.cancel();
  if (sent.response.status !== 204) {
    console.warn(
      JSON.stringify({
        msg: "policy-read credential not revoked",
        detail: describe(call, sent.response.status),
      }),
    );
  }
}

/** The policy text of `owner/repo` for `identity`; see the module comment. */
export async function readPolicy(
  rt: Runtime,
  ctx: Waiter,
  owner: string,
  installation: Installation,
  repo: string,
  identity: string,
  /** What {@link lookupPolicy} answered for this policy during this request, if it was asked. */
  known?: PolicyLookup,
): Promise<Result<PolicyText>> {
  const cache = tier(rt);
  const key = keyOf(rt, owner, repo, identity);
  const cached = known ?? (await lookupPolicy(rt, owner, repo, identity));
  if (cached.state === "missing") return fail("POLICY_NOT_FOUND", { identity }, "policy 404 remembered");
  if (cached.state === "cached") return ok(cached.text);

  const rateLimited = async (
    retryAfterSeconds: number | undefined,
    detail: string,
  ): Promise<Result<PolicyText>> => {
    const stale = await cache.get(key, { allowStale: true });
    if (stale !== undefined && "text" in stale.value)
      return ok<PolicyText>({ text: stale.value.text, source: "stale" });
    return fail("RATE_LIMITED", { owner, identity, retryAfterSeconds }, detail);
  };

  // 1. A token that can read this one repository's contents and nothing else.
  const minted = await mintWithRelookup(
    rt,
    owner,
    installation,
    { repositories: [repo], permissions: { contents: "read" } },
    "policy read-token mint",
  );
  if (minted.kind === "failed") {
    return { ok: false, failure: withArgs(minted.failure, { owner, identity }) };
  }
  if (minted.kind === "refused") {
    if (minted.rateLimit !== undefined) {
      return rateLimited(minted.rateLimit.retryAfterSeconds, minted.detail);
    }
    // 422: the repository is not one the installation can read (absent, or not selected) — to the
    // caller that is a policy that cannot be found (decisions §2.1).
    if (minted.status === 422) return fail("POLICY_NOT_FOUND", { identity }, minted.detail);
    if (minted.status === 404) return fail("NO_INSTALLATION", { owner, identity }, minted.detail);
    return fail("GITHUB_UNAVAILABLE", { owner, identity }, minted.detail);
  }
  const readToken = minted.token.token;
  try {
    return await readFile(rt, owner, repo, identity, readToken, key, rateLimited);
  } finally {
    // Only once the read is over (a revocation started earlier would race it), and in the background.
    ctx.waitUntil(revoke(rt, readToken));
  }
}

/** Step 2 of {@link readPolicy}: the file, its classification, and the cache update. */
async function readFile(
  rt: Runtime,
  owner: string,
  repo: string,
  identity: string,
  readToken: string,
  key: string,
  rateLimited: (retryAfterSeconds: number | undefined, detail: string) => Promise<Result<PolicyText>>,
): Promise<Result<PolicyText>> {
  const cache = tier(rt);
  // 2. The file from the default branch (no `ref`), as raw bytes.
  const call: GitHubCall = {
    method: "GET",
    path: `/repos/${seg(owner)}/${seg(repo)}/contents/${policyPath(seg(identity))}`,
    authorization: `token ${readToken}`,
    accept: GITHUB_RAW,
    what: "policy read",
  };
  const sent = await githubFetch(rt, call);
  if (!sent.ok) return { ok: false, failure: withArgs(sent.failure, { owner, identity }) };
  const response = sent.response;
  const limit = rateLimitOf(response, rt.clock);
  if (limit !== undefined) {
    await response.body?.cancel();
    return rateLimited(limit.retryAfterSeconds, describe(call, response.status));
  }
  if (response.status === 404) {
    await response.body?.cancel();
    // Replaces any stale copy too: the file is gone.
    await cache.put(key, { missing: true }, { ttlMs: POLICY_NOT_FOUND_TTL });
    return fail("POLICY_NOT_FOUND", { identity }, describe(call, 404));
  }
  if (response.status === 403) {
    await response.body?.cancel();
    // A bare 403 is not a rate limit (octo-sts#1684): access was taken away, so no stale copy may
    // keep serving the policy (decisions §2.1).
    await cache.delete(key);
    return fail("POLICY_FORBIDDEN", { identity }, describe(call, 403));
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return fail("GITHUB_UNAVAILABLE", { owner, identity }, describe(call, response.status));
  }
  const bytes = await readPolicyBytes(response, MAX_POLICY_BYTES);
  if (bytes === null) {
    return fail("POLICY_NOT_FOUND", { identity }, `github policy read: file over ${MAX_POLICY_BYTES} bytes`);
  }
  const text = new TextDecoder().decode(bytes);
  await cache.put(key, { text }, { ttlMs: POLICY_FRESH_TTL, staleMs: POLICY_STALE_TTL - POLICY_FRESH_TTL });
  return ok({ text, source: "github" });
}

/**
 * @module github/policy
 * The store of trust policy texts (docs/security.md, "Caching"). A cache miss reads
 * `.github/chainguard/<identity>.sts.yaml` from the default branch through the contents capability
 * (github/contents.ts: a `contents: read` token on that one repository, revoked after the read) and
 * classifies the answer for the exchange (docs/refusals.md, "Reasons").
 *
 * The raw text is cached, and beside it in the same value the normal form the validating parser made of
 * it (docs/performance.md, "Policy normal form"; never trusted unless its key matches): fresh 5 min in KV, at most 60 s in memory (so an
 * eviction reaches every isolate within a minute), a stale copy for 1 h served only on a rate limit,
 * and a 404 remembered 5 min (checked before any GitHub call, step 8 of docs/refusals.md, "Evaluation
 * order"). Only default-branch reads come here; a read at a pull request's head never does.
 * The webhook evicts a policy when a push to the default branch changes it; a read that started before
 * that eviction never stores what it read (docs/webhook.md, "Eviction").
 * Keys hold the GitHub base URL, the lowercase owner and repo (GitHub names are case-insensitive) and
 * the identity as written (it names a file).
 */

import { fail, ok, type Result, withArgs } from "../errors/catalogue";
import { cacheTier } from "../platform/cache";
import {
  MAX_POLICY_BYTES,
  MEMORY_CACHE_ENTRIES,
  MEMORY_POLICY_TEXT_BUDGET_CHARS,
  POLICY_EVICTION_MARKER_TTL_MS,
  POLICY_FRESH_TTL_MS,
  POLICY_MEMORY_TTL_MS,
  POLICY_NOT_FOUND_TTL_MS,
  POLICY_STALE_TTL_MS,
} from "../platform/limits";
import type { Runtime } from "../platform/runtime";
import { readFile } from "./contents";
import type { Installation, PolicyText, Waiter } from "./types";

type Cached = { text: string; form?: unknown } | { missing: true };

const tier = cacheTier<Cached>({
  name: "gh-policy",
  memoryEntries: MEMORY_CACHE_ENTRIES.policies,
  memoryMaxMs: POLICY_MEMORY_TTL_MS,
  memoryMaxWeight: MEMORY_POLICY_TEXT_BUDGET_CHARS, // the rest is read from KV
  weigh: (cached) => ("text" in cached ? cached.text.length : 0),
});

function keyOf(rt: Runtime, owner: string, repo: string, identity: string): string {
  const base = rt.config.ok ? rt.config.value.githubBaseUrl : "";
  return `${base}|${owner.toLowerCase()}/${repo.toLowerCase()}|${identity}`;
}

/** Where a policy lives in its repository (docs/policy-reference.md, "Where a policy lives"). */
function policyPath(identity: string): string {
  return `.github/chainguard/${identity}.sts.yaml`;
}

/**
 * Step 8 of the evaluation order: what the policy cache knows of this policy, without any GitHub call: a
 * remembered 404, the text, or nothing. The exchange asks once at step 8 and hands the answer to
 * {@link readPolicy}, so a cache miss costs one KV read, not two.
 */
type PolicyLookup = { state: "missing" } | { state: "cached"; text: PolicyText } | { state: "unknown" };

export async function lookupPolicy(
  rt: Runtime,
  owner: string,
  repo: string,
  identity: string,
): Promise<PolicyLookup> {
  const hit = await tier(rt).get(keyOf(rt, owner, repo, identity));
  if (hit === undefined) return { state: "unknown" };
  if ("missing" in hit.value) return { state: "missing" };
  return { state: "cached", text: textOf(hit.value, hit.from) };
}

function textOf(cached: { text: string; form?: unknown }, source: PolicyText["source"]): PolicyText {
  return cached.form === undefined
    ? { text: cached.text, source }
    : { text: cached.text, source, form: cached.form };
}

/**
 * The webhook's eviction entry point: drops the fresh, stale and 404 entries of this policy from this
 * isolate's memory and from KV, and leaves a marker so that a read already under way does not store
 * its (older) text.
 */
export async function evictPolicy(rt: Runtime, owner: string, repo: string, identity: string): Promise<void> {
  await tier(rt).evict(keyOf(rt, owner, repo, identity), POLICY_EVICTION_MARKER_TTL_MS);
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
  /** The normal form of a text just read, stored in the same KV value (no extra write). */
  normalize?: (text: string) => Promise<unknown>,
): Promise<Result<PolicyText>> {
  const cache = tier(rt);
  const key = keyOf(rt, owner, repo, identity);
  const cached = known ?? (await lookupPolicy(rt, owner, repo, identity));
  if (cached.state === "missing") return fail("POLICY_NOT_FOUND", { identity }, "policy 404 remembered");
  if (cached.state === "cached") return ok(cached.text);

  // Taken before the read: if the policy is evicted while it is read, what was read is not stored.
  const mark = await cache.marker(key);
  // The default branch only (no ref): only what was merged may decide an exchange.
  const read = await readFile(
    rt,
    ctx,
    installation,
    { owner, repo, path: policyPath(identity), maxBytes: MAX_POLICY_BYTES },
    "policy read",
  );
  switch (read.kind) {
    case "file": {
      const form = normalize === undefined ? undefined : await normalize(read.text);
      const value = form === undefined ? { text: read.text } : { text: read.text, form };
      await cache.putUnlessEvicted(
        key,
        value,
        { ttlMs: POLICY_FRESH_TTL_MS, staleMs: POLICY_STALE_TTL_MS - POLICY_FRESH_TTL_MS },
        mark,
      );
      return ok(textOf(value, "github"));
    }
    case "absent":
      // Replaces any stale copy too: the file is gone.
      await cache.putUnlessEvicted(key, { missing: true }, { ttlMs: POLICY_NOT_FOUND_TTL_MS }, mark);
      return fail("POLICY_NOT_FOUND", { identity }, read.detail);
    case "no-access":
      // 422 on the read token: the repository is not one the installation can read (absent, or not
      // selected); to the caller that is a policy that cannot be found.
      return fail("POLICY_NOT_FOUND", { identity }, read.detail);
    case "invalid":
      return fail("POLICY_NOT_FOUND", { identity }, read.detail);
    case "not-installed":
      return fail("NO_INSTALLATION", { owner, identity }, read.detail);
    case "forbidden":
      // A bare 403 is not a rate limit: access was taken away, so no stale copy may keep serving the
      // policy (docs/refusals.md, "Reasons").
      await cache.delete(key);
      return fail("POLICY_FORBIDDEN", { identity }, read.detail);
    case "rate-limited": {
      const stale = await cache.get(key, { allowStale: true });
      if (stale !== undefined && "text" in stale.value) return ok(textOf(stale.value, "stale"));
      return fail(
        "RATE_LIMITED",
        { owner, identity, retryAfterSeconds: read.retryAfterSeconds },
        read.detail,
      );
    }
    case "unavailable":
      return { ok: false, failure: withArgs(read.failure, { owner, identity }) };
  }
}

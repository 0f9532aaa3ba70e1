/**
 * @module github/org-issuers-store
 * The organization's trusted-issuer file (docs/trusted-issuers.md), read and kept for step 10 of the
 * evaluation order: `<ORG_POLICY_REPO>/.github/chainguard/trusted-token-issuers.yaml` in the scope's
 * owner, read through the contents capability (a `contents: read` token limited to `ORG_POLICY_REPO`,
 * revoked after) from the default branch only.
 *
 * Most owners have no such file, no `.github` repository, or an installation that cannot see it: that
 * must never become an outage, so the outcome of the read is classified exactly:
 *
 * | GitHub answer                                                | outcome                               |
 * |--------------------------------------------------------------|---------------------------------------|
 * | 200 with a file                                              | present (valid) or invalid            |
 * | 404 on the read; a bare 422 minting the read token           | absent: every issuer allowed          |
 * | 429, or `Retry-After` / `X-RateLimit-Remaining: 0`           | rate limited: stale copy, else 429    |
 * | bare 403, 401, 404 on the mint, 5xx after retries, network   | unavailable: stale copy, else 503     |
 * | a directory, or over 1 MiB                                   | invalid                               |
 *
 * Invalid: the last-known-good copy, else `ORG_ISSUERS_INVALID`. Cached like policies: fresh 5 min,
 * a stale copy (present or absent) for 1 h used only when GitHub cannot answer, and the last valid
 * file for 1 h kept apart, so an eviction (the webhook) drops the fresh copy but never the
 * last-known-good one. Concurrent cold lookups for one owner in an isolate share one read; a read
 * that started before an eviction stores nothing, and no lookup after the eviction joins it
 * (docs/webhook.md, "Eviction").
 */

import { fail, ok, type Result } from "../errors/catalogue";
import { cacheTier, Lru } from "../platform/cache";
import { isolateState } from "../platform/isolate";
import {
  MAX_POLICY_BYTES,
  MEMORY_CACHE_ENTRIES,
  MEMORY_POLICY_TEXT_BUDGET_CHARS,
  ORG_ISSUERS_EVICTION_MARKER_TTL_MS,
  ORG_ISSUERS_FRESH_TTL_MS,
  ORG_ISSUERS_LAST_KNOWN_GOOD_TTL_MS,
  ORG_ISSUERS_MEMORY_TTL_MS,
  ORG_ISSUERS_STALE_TTL_MS,
} from "../platform/limits";
import type { Runtime } from "../platform/runtime";
import type { TrustedIssuers } from "../trust/org-issuers";
import { TRUSTED_ISSUERS_PATH } from "../trust/org-issuers-path";
import { type ContentsOutcome, readFile } from "./contents";
import type { Installation, Waiter } from "./types";

/** What step 10 learns of an owner's file. */
export type OrgIssuers =
  | { state: "absent"; source: Source }
  | { state: "present"; file: TrustedIssuers; source: Source };

/** Where the answer came from (for the audit line). */
type Source = "memory" | "kv" | "github" | "stale" | "last-known-good";

type Cached = { text: string } | { absent: true } | { invalid: string };

const tier = cacheTier<Cached>({
  name: "gh-org-issuers",
  memoryEntries: MEMORY_CACHE_ENTRIES.orgIssuers,
  memoryMaxMs: ORG_ISSUERS_MEMORY_TTL_MS,
  memoryMaxWeight: MEMORY_POLICY_TEXT_BUDGET_CHARS,
  weigh: (cached) => ("text" in cached ? cached.text.length : 0),
});

/** The last valid file per owner, kept apart from the fresh copy: evictions never touch it. */
const lastKnownGoodTier = cacheTier<{ text: string }>({
  name: "gh-org-issuers-lkg",
  memoryEntries: MEMORY_CACHE_ENTRIES.orgIssuers,
  memoryMaxMs: ORG_ISSUERS_MEMORY_TTL_MS,
  memoryMaxWeight: MEMORY_POLICY_TEXT_BUDGET_CHARS,
  weigh: (cached) => cached.text.length,
});

function keyOf(rt: Runtime, owner: string): string {
  const config = rt.config.ok ? rt.config.value : undefined;
  return `${config?.githubBaseUrl ?? ""}|${owner.toLowerCase()}/${(config?.orgPolicyRepo ?? "").toLowerCase()}`;
}

/** Parsed files of this isolate, keyed (and weighed) by their text: parsing compiles RE2 patterns. */
const parsedFiles = isolateState(
  () =>
    new Lru<{ text: string; file: TrustedIssuers | null; problem: string }>(
      MEMORY_CACHE_ENTRIES.compiledPolicies,
      MEMORY_POLICY_TEXT_BUDGET_CHARS,
      (entry) => entry.text.length,
    ),
);

async function parsed(rt: Runtime, text: string): Promise<{ file: TrustedIssuers | null; problem: string }> {
  const memo = parsedFiles(rt.caches);
  let entry = memo.get(text);
  if (entry === undefined) {
    // The parser (YAML reader, schema) is loaded only when an owner has a file (docs/performance.md).
    const { parseTrustedIssuers } = await import("../trust/org-issuers");
    const result = parseTrustedIssuers(text);
    const first = result.ok ? undefined : result.problems[0];
    entry = {
      text,
      file: result.ok ? result.file : null,
      problem: first === undefined ? "" : `${first.line}:${first.col}: ${first.message}`,
    };
    memo.set(text, entry);
  }
  return entry;
}

/** Cold reads in flight in this isolate, one per owner, shared by concurrent exchanges. */
const inflight = isolateState(() => new Map<string, Promise<Result<OrgIssuers>>>());

/**
 * Drops the fresh and stale copies of `owner`'s file (the webhook's entry point) and leaves an eviction
 * marker, so that a read under way stores nothing; keeps the last-known-good one on purpose (an
 * invalid file merged after a good one must not turn into an outage). A lookup after the eviction
 * starts a read of its own instead of joining one that started before.
 */
export async function evictOrgIssuers(rt: Runtime, owner: string): Promise<void> {
  const key = keyOf(rt, owner);
  inflight(rt.caches).delete(key);
  await tier(rt).evict(key, ORG_ISSUERS_EVICTION_MARKER_TTL_MS);
}

/** The trusted-issuer file of `owner`, from the caches or read; see the module comment. */
export async function lookupOrgIssuers(
  rt: Runtime,
  ctx: Waiter,
  owner: string,
  installation: Installation,
): Promise<Result<OrgIssuers>> {
  const key = keyOf(rt, owner);
  const hit = await tier(rt).get(key);
  if (hit !== undefined) return fromCached(rt, owner, hit.value, hit.from);
  const pending = inflight(rt.caches);
  let read = pending.get(key);
  if (read === undefined) {
    const started: Promise<Result<OrgIssuers>> = readAndStore(rt, ctx, owner, installation, key).finally(
      () => {
        // An eviction may have put a newer read in its place.
        if (pending.get(key) === started) pending.delete(key);
      },
    );
    read = started;
    pending.set(key, read);
  }
  return read;
}

async function fromCached(
  rt: Runtime,
  owner: string,
  cached: Cached,
  from: Source,
): Promise<Result<OrgIssuers>> {
  if ("absent" in cached) return ok({ state: "absent", source: from });
  if ("invalid" in cached) return invalid(rt, owner, cached.invalid);
  const { file, problem } = await parsed(rt, cached.text);
  // A cached text is one that parsed when stored; a newer code version may judge it otherwise.
  if (file === null) return invalid(rt, owner, problem);
  return ok({ state: "present", file, source: from });
}

/** An invalid file: the last-known-good copy, else the refusal. */
async function invalid(rt: Runtime, owner: string, problem: string): Promise<Result<OrgIssuers>> {
  const good = await lastKnownGoodTier(rt).get(keyOf(rt, owner));
  if (good !== undefined) {
    const { file } = await parsed(rt, good.value.text);
    if (file !== null) return ok({ state: "present", file, source: "last-known-good" });
  }
  return fail("ORG_ISSUERS_INVALID", { owner }, `trusted-issuer file of ${owner} invalid: ${problem}`);
}

async function readAndStore(
  rt: Runtime,
  ctx: Waiter,
  owner: string,
  installation: Installation,
  key: string,
): Promise<Result<OrgIssuers>> {
  if (!rt.config.ok) return { ok: false, failure: rt.config.failure };
  const repo = rt.config.value.orgPolicyRepo;
  const cache = tier(rt);
  // Taken before the read: if the file is evicted while it is read, what was read is not stored.
  const mark = await cache.marker(key);
  const read = await readFile(
    rt,
    ctx,
    installation,
    { owner, repo, path: TRUSTED_ISSUERS_PATH, maxBytes: MAX_POLICY_BYTES },
    "trusted-issuer read",
  );
  const store = (value: Cached) =>
    cache.putUnlessEvicted(
      key,
      value,
      { ttlMs: ORG_ISSUERS_FRESH_TTL_MS, staleMs: ORG_ISSUERS_STALE_TTL_MS - ORG_ISSUERS_FRESH_TTL_MS },
      mark,
    );
  switch (read.kind) {
    case "file": {
      const { file, problem } = await parsed(rt, read.text);
      if (file === null) {
        await store({ invalid: problem });
        return invalid(rt, owner, problem);
      }
      // The last-known-good copy only from a read that no eviction overtook (an older valid file must
      // not replace a newer one); rewritten only when it changed or has less than half its life left:
      // one write per read at most, never for what KV holds unchanged (docs/performance.md, "KV writes").
      if (await store({ text: read.text })) {
        const good = lastKnownGoodTier(rt);
        await good.get(key);
        await good.put(
          key,
          { text: read.text },
          {
            ttlMs: ORG_ISSUERS_LAST_KNOWN_GOOD_TTL_MS,
            unchangedIfFreshForMs: ORG_ISSUERS_LAST_KNOWN_GOOD_TTL_MS / 2,
          },
        );
      }
      return ok({ state: "present", file, source: "github" });
    }
    case "absent":
    case "no-access":
      await store({ absent: true });
      return ok({ state: "absent", source: "github" });
    case "invalid":
      await store({ invalid: read.detail });
      return invalid(rt, owner, read.detail);
    case "rate-limited":
      return staleOr(rt, owner, key, read, "ORG_ISSUERS_RATE_LIMITED");
    case "forbidden":
    case "not-installed":
    case "unavailable":
      return staleOr(rt, owner, key, read, "ORG_ISSUERS_UNAVAILABLE");
  }
}

/** GitHub could not answer: a stale copy when there is one (present and valid, or absent), else `reason`. */
async function staleOr(
  rt: Runtime,
  owner: string,
  key: string,
  read: Exclude<ContentsOutcome, { kind: "file" | "absent" | "no-access" | "invalid" }>,
  reason: "ORG_ISSUERS_RATE_LIMITED" | "ORG_ISSUERS_UNAVAILABLE",
): Promise<Result<OrgIssuers>> {
  const stale = await tier(rt).get(key, { allowStale: true });
  if (stale !== undefined) {
    if ("absent" in stale.value) return ok({ state: "absent", source: "stale" });
    if ("text" in stale.value) {
      const { file } = await parsed(rt, stale.value.text);
      if (file !== null) return ok({ state: "present", file, source: "stale" });
    }
  }
  const detail = read.kind === "unavailable" ? (read.failure.detail ?? "unavailable") : read.detail;
  const retryAfterSeconds = read.kind === "rate-limited" ? read.retryAfterSeconds : undefined;
  return fail(reason, { owner, retryAfterSeconds }, `trusted-issuer file of ${owner}: ${detail}`);
}

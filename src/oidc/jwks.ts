/**
 * @module oidc/jwks
 * An issuer's signing keys (docs/security.md, "Issuer fetches" and "Caching"): the JWKS from the discovery
 * document's `jwks_uri`, fetched through the bounded fetch, cached about ten minutes in memory and KV,
 * and turned into a jose key set once per cached value (the imported keys stay with it, so a warm
 * verification imports nothing). On an unknown `kid` the JWKS is fetched again, at most every 30 s per
 * issuer per isolate (random `kid`s must not turn into fetches).
 */

import { createLocalJWKSet, type JSONWebKeySet } from "jose";
import { cacheTier, Lru } from "../platform/cache";
import { isolateState } from "../platform/isolate";
import {
  ISSUER_FAILURE_TTL_MS,
  JWKS_REFETCH_COOLDOWN_MS,
  JWKS_TTL_MS,
  MAX_JWKS_BYTES,
  MEMORY_CACHE_ENTRIES,
} from "../platform/limits";
import type { OidcDeps } from "./deps";
import type { ProviderInfo } from "./discovery";
import { issuerFailureTier } from "./discovery";
import { fetchJsonBounded } from "./fetch";

export type KeySet = ReturnType<typeof createLocalJWKSet>;

type KeySetResult = { ok: true; keys: KeySet } | { ok: false; detail: string };

/** Stored form: only public, asymmetric keys are kept. */
interface StoredJwks {
  keys: Record<string, unknown>[];
}

export const jwksTier = cacheTier<StoredJwks>({
  name: "oidc-jwks",
  memoryEntries: MEMORY_CACHE_ENTRIES.jwks,
});

/** The cache key names both the issuer and the `jwks_uri` its document gave. */
function cacheKey(provider: ProviderInfo): string {
  return JSON.stringify([provider.issuer, provider.jwksUri]);
}

interface JwksState {
  /** Key sets built from cached values, keyed by the cached object itself (so warm paths reuse them). */
  sets: WeakMap<StoredJwks, KeySet>;
  /** Issuer → time (clock ms) of the last JWKS fetch, for the unknown-`kid` cool-down (bounded). */
  lastFetch: Lru<number>;
  inflight: Map<string, Promise<StoredJwks | string>>;
}

const jwksState = isolateState<JwksState>(() => ({
  sets: new WeakMap(),
  lastFetch: new Lru<number>(MEMORY_CACHE_ENTRIES.jwks),
  inflight: new Map(),
}));

function state(deps: OidcDeps): JwksState {
  return jwksState(deps.caches);
}

/**
 * Keeps the keys that can only be public asymmetric keys: `oct` (a symmetric secret) and members
 * carrying private parts (`d`) are dropped; HS* is refused anyway, this is defence in depth.
 */
function sanitize(doc: unknown): StoredJwks | string {
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
    return "jwks is not a JSON object with keys";
  }
  const keys = ((doc as { keys: unknown[] }).keys ?? []).filter(
    (k): k is Record<string, unknown> =>
      typeof k === "object" &&
      k !== null &&
      !Array.isArray(k) &&
      typeof (k as Record<string, unknown>).kty === "string" &&
      (k as Record<string, unknown>).kty !== "oct" &&
      !("d" in k),
  );
  return { keys };
}

function keySetOf(deps: OidcDeps, stored: StoredJwks): KeySet | null {
  const s = state(deps);
  let set = s.sets.get(stored);
  if (set === undefined) {
    try {
      set = createLocalJWKSet(stored as unknown as JSONWebKeySet);
    } catch {
      return null;
    }
    s.sets.set(stored, set);
  }
  return set;
}

/** True when an unknown-`kid` refetch for this issuer is allowed now (the 30 s cool-down). */
export function mayRefetch(deps: OidcDeps, provider: ProviderInfo): boolean {
  const last = state(deps).lastFetch.get(provider.issuer);
  return last === undefined || deps.clock.now() - last >= JWKS_REFETCH_COOLDOWN_MS;
}

/**
 * The issuer's key set: from cache unless `refresh` (the unknown-`kid` path, which the caller gates
 * with {@link mayRefetch}). A failed refresh keeps nothing new; the caller refuses the token.
 */
export async function loadKeySet(
  deps: OidcDeps,
  provider: ProviderInfo,
  { refresh = false }: { refresh?: boolean } = {},
): Promise<KeySetResult> {
  const key = cacheKey(provider);
  if (!refresh) {
    const cached = await jwksTier(deps).get(key);
    if (cached !== undefined && Array.isArray(cached.value?.keys)) {
      const set = keySetOf(deps, cached.value);
      if (set !== null) return { ok: true, keys: set };
    }
    const remembered = await issuerFailureTier(deps).get(`jwks ${key}`);
    if (remembered !== undefined) return { ok: false, detail: `${remembered.value} (remembered)` };
  }
  const s = state(deps);
  let pending = s.inflight.get(key);
  if (pending === undefined) {
    pending = fetchJwks(deps, provider, key).finally(() => s.inflight.delete(key));
    s.inflight.set(key, pending);
  }
  const stored = await pending;
  if (typeof stored === "string") return { ok: false, detail: stored };
  const set = keySetOf(deps, stored);
  return set === null ? { ok: false, detail: "jwks: malformed key set" } : { ok: true, keys: set };
}

async function fetchJwks(deps: OidcDeps, provider: ProviderInfo, key: string): Promise<StoredJwks | string> {
  state(deps).lastFetch.set(provider.issuer, deps.clock.now());
  const fetched = await fetchJsonBounded(deps, provider.jwksUri, MAX_JWKS_BYTES);
  const stored = fetched.ok ? sanitize(fetched.value) : `jwks: ${fetched.detail}`;
  if (typeof stored === "string") {
    await issuerFailureTier(deps).put(`jwks ${key}`, stored, { ttlMs: ISSUER_FAILURE_TTL_MS });
    return stored;
  }
  await jwksTier(deps).put(key, stored, { ttlMs: JWKS_TTL_MS });
  return stored;
}

/**
 * @module oidc/jwks
 * An issuer's signing keys (decisions §4, security checklist 1–2): the JWKS from the discovery
 * document's `jwks_uri`, fetched through the bounded fetch, cached about ten minutes in memory and KV,
 * and turned into a jose key set once per cached value (the imported keys stay with it, so a warm
 * verification imports nothing). On an unknown `kid` the JWKS is fetched again, at most every 30 s per
 * issuer per isolate (random `kid`s must not turn into fetches).
 */

import { createLocalJWKSet, type JSONWebKeySet } from "jose";
import { Lru } from "../platform/cache";
import {
  ISSUER_FAILURE_TTL,
  JWKS_REFETCH_COOLDOWN,
  JWKS_TTL,
  MAX_JWKS_BYTES,
  MEMORY_CACHE_ENTRIES,
} from "../platform/limits";
import { type Runtime, stateOf } from "../platform/runtime";
import type { ProviderInfo } from "./discovery";
import { issuerFailureTier } from "./discovery";
import { fetchJsonBounded } from "./fetch";

export type KeySet = ReturnType<typeof createLocalJWKSet>;

export type KeySetResult = { ok: true; keys: KeySet } | { ok: false; detail: string };

/** Stored form: only public, asymmetric keys are kept. */
interface StoredJwks {
  keys: Record<string, unknown>[];
}

function jwksTier(runtime: Runtime) {
  return runtime.caches.tier<StoredJwks>({ name: "oidc-jwks", memoryEntries: MEMORY_CACHE_ENTRIES.jwks });
}

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

function state(runtime: Runtime): JwksState {
  return stateOf(runtime, "oidc.jwks", () => ({
    sets: new WeakMap(),
    lastFetch: new Lru<number>(MEMORY_CACHE_ENTRIES.jwks),
    inflight: new Map(),
  }));
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

function keySetOf(runtime: Runtime, stored: StoredJwks): KeySet | null {
  const s = state(runtime);
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
export function mayRefetch(runtime: Runtime, provider: ProviderInfo): boolean {
  const last = state(runtime).lastFetch.get(provider.issuer);
  return last === undefined || runtime.clock.now() - last >= JWKS_REFETCH_COOLDOWN;
}

/**
 * The issuer's key set: from cache unless `refresh` (the unknown-`kid` path, which the caller gates
 * with {@link mayRefetch}). A failed refresh keeps nothing new; the caller refuses the token.
 */
export async function loadKeySet(
  runtime: Runtime,
  provider: ProviderInfo,
  { refresh = false }: { refresh?: boolean } = {},
): Promise<KeySetResult> {
  const key = cacheKey(provider);
  if (!refresh) {
    const cached = await jwksTier(runtime).get(key);
    if (cached !== undefined && Array.isArray(cached.value?.keys)) {
      const set = keySetOf(runtime, cached.value);
      if (set !== null) return { ok: true, keys: set };
    }
    const remembered = await issuerFailureTier(runtime).get(`jwks ${key}`);
    if (remembered !== undefined) return { ok: false, detail: `${remembered.value} (remembered)` };
  }
  const s = state(runtime);
  let pending = s.inflight.get(key);
  if (pending === undefined) {
    pending = fetchJwks(runtime, provider, key).finally(() => s.inflight.delete(key));
    s.inflight.set(key, pending);
  }
  const stored = await pending;
  if (typeof stored === "string") return { ok: false, detail: stored };
  const set = keySetOf(runtime, stored);
  return set === null ? { ok: false, detail: "jwks: malformed key set" } : { ok: true, keys: set };
}

async function fetchJwks(
  runtime: Runtime,
  provider: ProviderInfo,
  key: string,
): Promise<StoredJwks | string> {
  state(runtime).lastFetch.set(provider.issuer, runtime.clock.now());
  const fetched = await fetchJsonBounded(runtime, provider.jwksUri, MAX_JWKS_BYTES);
  const stored = fetched.ok ? sanitize(fetched.value) : `jwks: ${fetched.detail}`;
  if (typeof stored === "string") {
    await issuerFailureTier(runtime).put(`jwks ${key}`, stored, { ttlMs: ISSUER_FAILURE_TTL });
    return stored;
  }
  await jwksTier(runtime).put(key, stored, { ttlMs: JWKS_TTL });
  return stored;
}

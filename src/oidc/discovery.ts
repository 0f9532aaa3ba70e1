/**
 * @module oidc/discovery
 * OIDC discovery for an issuer that already passed the issuer rules and the deployment allowlist
 * (docs/security.md, "Issuer fetches" and "Caching"): `<iss>/.well-known/openid-configuration` through the
 * bounded fetch, the document's `issuer` equal to the token's byte for byte, a usable `jwks_uri`, and the
 * allowed algorithms computed once. Good documents are cached about an hour in memory and KV (a new isolate
 * needs no fetch); failures are remembered about a minute in memory only, so one broken issuer cannot make
 * every request fetch and invented issuers cannot spend the KV write quota.
 */

import { type Failure, failure, type Result } from "../errors/catalogue";
import { cacheTier } from "../platform/cache";
import { isolateState } from "../platform/isolate";
import {
  DEFAULT_JWS_ALGORITHM,
  DISCOVERY_TTL_MS,
  ISSUER_FAILURE_TTL_MS,
  MAX_DISCOVERY_BYTES,
  MEMORY_CACHE_ENTRIES,
  SUPPORTED_JWS_ALGORITHMS,
} from "../platform/limits";
import type { OidcDeps } from "./deps";
import { fetchJsonBounded } from "./fetch";
import { isLoopbackHostname } from "./syntax";

/** What the verifier needs from a discovery document (the cached form). */
export interface ProviderInfo {
  issuer: string;
  jwksUri: string;
  /** `id_token_signing_alg_values_supported` ∩ the supported set, or [RS256] when that is empty. */
  algs: string[];
}

const WELL_KNOWN = "/.well-known/openid-configuration";

const discoveryTier = cacheTier<ProviderInfo>({
  name: "oidc-discovery",
  memoryEntries: MEMORY_CACHE_ENTRIES.discovery,
});

/**
 * Failed discoveries and JWKS fetches: memory only (docs/security.md, "Caching"). The value is the audit
 * detail.
 */
export const issuerFailureTier = cacheTier<string>({
  name: "oidc-failures",
  memoryEntries: MEMORY_CACHE_ENTRIES.issuerFailures,
  kv: false,
});

/**
 * `jwks_uri` is used as the document gives it (as upstream), but only over https, or http on loopback
 * when the issuer itself is (the local doubles: an https issuer must not steer us to a developer's
 * machine under `wrangler dev`), and without userinfo.
 */
function isAcceptableJwksUri(uri: string, issuer: string): boolean {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  if (url.username !== "" || url.password !== "") return false;
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && isLoopbackHostname(url.hostname) && issuer.startsWith("http:");
}

/**
 * Allowed algorithms (docs/security.md, "Issuer fetches"): advertised ∩ supported, RS256 when that is empty.
 */
function allowedAlgorithms(advertised: unknown): string[] | null {
  if (advertised === undefined || advertised === null) return [DEFAULT_JWS_ALGORITHM];
  if (!Array.isArray(advertised)) return null;
  const supported: readonly string[] = SUPPORTED_JWS_ALGORITHMS;
  const algs = supported.filter((alg) => advertised.includes(alg));
  return algs.length > 0 ? algs : [DEFAULT_JWS_ALGORITHM];
}

/** Validates a fetched document for `issuer`; a string is the audit detail of a refusal. */
function parseDiscovery(issuer: string, doc: unknown): ProviderInfo | string {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "document is not a JSON object";
  const d = doc as Record<string, unknown>;
  if (d.issuer !== issuer) return "document issuer differs from the token issuer";
  if (typeof d.jwks_uri !== "string" || d.jwks_uri === "") return "document has no jwks_uri";
  if (!isAcceptableJwksUri(d.jwks_uri, issuer)) return "jwks_uri is not https";
  const algs = allowedAlgorithms(d.id_token_signing_alg_values_supported);
  if (algs === null) return "id_token_signing_alg_values_supported is not an array";
  return { issuer, jwksUri: d.jwks_uri, algs };
}

function isProviderInfo(v: unknown, issuer: string): v is ProviderInfo {
  if (typeof v !== "object" || v === null) return false;
  const p = v as Partial<ProviderInfo>;
  return (
    p.issuer === issuer &&
    typeof p.jwksUri === "string" &&
    Array.isArray(p.algs) &&
    p.algs.every((a) => typeof a === "string")
  );
}

function discoveryFailed(detail: string): { ok: false; failure: Failure } {
  return { ok: false, failure: failure("DISCOVERY_FAILED", {}, `discovery: ${detail}`) };
}

/** Discoveries in flight in this isolate, one per issuer, shared by concurrent callers. */
const inflightDiscoveries = isolateState(() => new Map<string, Promise<Result<ProviderInfo>>>());

/** The provider for `issuer`, from cache or fetched (at most one fetch in flight per issuer). */
export async function discover(deps: OidcDeps, issuer: string): Promise<Result<ProviderInfo>> {
  const cached = await discoveryTier(deps).get(issuer);
  if (cached !== undefined && isProviderInfo(cached.value, issuer)) return { ok: true, value: cached.value };
  const remembered = await issuerFailureTier(deps).get(`discovery ${issuer}`);
  if (remembered !== undefined) return discoveryFailed(`${remembered.value} (remembered)`);

  const inflight = inflightDiscoveries(deps.caches);
  let pending = inflight.get(issuer);
  if (pending === undefined) {
    pending = fetchDiscovery(deps, issuer).finally(() => inflight.delete(issuer));
    inflight.set(issuer, pending);
  }
  return pending;
}

async function fetchDiscovery(deps: OidcDeps, issuer: string): Promise<Result<ProviderInfo>> {
  const url = issuer.replace(/\/$/, "") + WELL_KNOWN;
  const fetched = await fetchJsonBounded(deps, url, MAX_DISCOVERY_BYTES);
  const parsed = fetched.ok ? parseDiscovery(issuer, fetched.value) : fetched.detail;
  if (typeof parsed === "string") {
    await issuerFailureTier(deps).put(`discovery ${issuer}`, parsed, { ttlMs: ISSUER_FAILURE_TTL_MS });
    return discoveryFailed(parsed);
  }
  await discoveryTier(deps).put(issuer, parsed, { ttlMs: DISCOVERY_TTL_MS });
  return { ok: true, value: parsed };
}

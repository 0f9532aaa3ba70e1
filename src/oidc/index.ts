/**
 * @module oidc
 * Steps 4–5 of the evaluation order (docs/refusals.md, "Evaluation order"): a raw bearer token in, its
 * verified claims or a typed failure out. Decode (MALFORMED_TOKEN), issuer rules (INVALID_ISSUER), deployment
 * allowlist (ISSUER_NOT_ALLOWED, before anything is fetched), discovery (DISCOVERY_FAILED), JWKS and
 * signature (SIGNATURE_INVALID), time claims (TOKEN_EXPIRED / TOKEN_NOT_YET_VALID). Audience is not checked
 * here: the trust policy does it (docs/policy-reference.md, "How a token is matched").
 *
 * Every exchange calls this, so the warm path is: two in-memory cache hits, one signature check with an
 * already-imported key, no fetch.
 */

import { compactVerify, type JWSHeaderParameters, type KeyObject } from "jose";
import { fail, ok, type Result } from "../errors/catalogue";
import { Lru } from "../platform/cache";
import { epochSeconds } from "../platform/clock";
import { isolateState } from "../platform/isolate";
import {
  EXP_LEEWAY_SECONDS,
  FUTURE_SKEW_SECONDS,
  MEMORY_CACHE_ENTRIES,
  SUPPORTED_JWS_ALGORITHMS,
} from "../platform/limits";
import { allowsIssuer } from "../trust/allowlist";
import type { OidcDeps } from "./deps";
import { discover, type ProviderInfo } from "./discovery";
import { type KeySet, loadKeySet, mayRefetch } from "./jwks";
import { isValidIssuer } from "./syntax";
import { decodeUnverified, normalizeIssuer } from "./token";

export type { OidcDeps } from "./deps";
export { isValidAudience, isValidIssuer, isValidSubject } from "./syntax";
export { decodeUnverified, normalizeIssuer } from "./token";

interface VerifiedToken {
  /** The normalised `iss` (accounts.google.com → https://accounts.google.com). */
  issuer: string;
  /** The full verified payload. */
  claims: Record<string, unknown>;
  alg: string;
  kid?: string;
}

type IssuerVerdict = "ok" | "INVALID_ISSUER" | "ISSUER_NOT_ALLOWED";

/** Issuer rules and allowlist are pure functions of the issuer: remember the verdict per isolate. */
const issuerVerdicts = isolateState(() => new Lru<IssuerVerdict>(MEMORY_CACHE_ENTRIES.issuerFailures));

function issuerVerdict(deps: OidcDeps, issuer: string): IssuerVerdict {
  const memo = issuerVerdicts(deps.caches);
  const known = memo.get(issuer);
  if (known !== undefined) return known;
  let verdict: IssuerVerdict = "ok";
  if (!isValidIssuer(issuer)) verdict = "INVALID_ISSUER";
  else if (deps.allowlist !== null && !allowsIssuer(deps.allowlist, issuer)) verdict = "ISSUER_NOT_ALLOWED";
  memo.set(issuer, verdict);
  return verdict;
}

const SUPPORTED: ReadonlySet<string> = new Set(SUPPORTED_JWS_ALGORITHMS);

type SignatureOutcome =
  | { ok: true; payload: Uint8Array }
  | { ok: false; noMatchingKey: boolean; detail: string };

function joseCode(error: unknown): string {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : error instanceof Error
      ? error.name
      : "error";
}

/**
 * Selects the key by `kid` (jose checks the JWK's kty, crv, use, key_ops and alg against the header)
 * and verifies with the issuer's allowed algorithms only.
 */
async function verifySignature(
  token: string,
  header: JWSHeaderParameters,
  keys: KeySet,
  algorithms: string[],
): Promise<SignatureOutcome> {
  let candidates: (CryptoKey | KeyObject)[];
  try {
    candidates = [await keys(header, undefined as never)];
  } catch (error) {
    const code = joseCode(error);
    if (code === "ERR_JWKS_NO_MATCHING_KEY") {
      return {
        ok: false,
        noMatchingKey: true,
        detail: `no key for kid ${JSON.stringify(header.kid ?? null)}`,
      };
    }
    if (code !== "ERR_JWKS_MULTIPLE_MATCHING_KEYS")
      return { ok: false, noMatchingKey: false, detail: `key: ${code}` };
    candidates = [];
    for await (const key of error as AsyncIterable<CryptoKey>) candidates.push(key);
  }
  let lastCode = "no usable key";
  for (const key of candidates) {
    try {
      const { payload } = await compactVerify(token, key, { algorithms });
      return { ok: true, payload };
    } catch (error) {
      lastCode = joseCode(error);
    }
  }
  return { ok: false, noMatchingKey: false, detail: `signature: ${lastCode}` };
}

const utf8 = new TextDecoder();

/**
 * `exp` required, zero leeway (docs/differences-from-octo-sts.md, "Time claims"); `nbf` and `iat` at most
 * 300 s in the future.
 */
function checkTimes(deps: Pick<OidcDeps, "clock">, claims: Record<string, unknown>): Result<void> {
  const now = epochSeconds(deps.clock);
  const { exp, nbf, iat } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp))
    return fail("TOKEN_EXPIRED", {}, "exp missing or not a number");
  // Exact time, not whole seconds: a NumericDate may be fractional, and zero leeway means zero.
  if (deps.clock.now() >= (exp + EXP_LEEWAY_SECONDS) * 1000)
    return fail("TOKEN_EXPIRED", {}, `expired: exp ${exp}, now ${now}`);
  for (const [name, value] of [
    ["nbf", nbf],
    ["iat", iat],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return fail("TOKEN_NOT_YET_VALID", {}, `${name} is not a number`);
    }
    if (value > now + FUTURE_SKEW_SECONDS) {
      return fail(
        "TOKEN_NOT_YET_VALID",
        {},
        `${name} ${value} is more than ${FUTURE_SKEW_SECONDS} s after now ${now}`,
      );
    }
  }
  return ok(undefined);
}

/**
 * Verifies `token` (steps 4–5 of docs/refusals.md, "Evaluation order"). Every outbound request goes through
 * `deps.fetch`, every time through `deps.clock`; the failure's `detail` is for the audit line.
 */
export async function verifyBearer(deps: OidcDeps, token: string): Promise<Result<VerifiedToken>> {
  const decoded = decodeUnverified(token);
  if (!decoded.ok) return decoded;
  const { header, issuer } = decoded.value;

  const verdict = issuerVerdict(deps, issuer);
  if (verdict !== "ok") return fail(verdict, {}, `issuer ${JSON.stringify(issuer)}`);

  // A token that is no compact JWS, and none and HS* (a public key used as an HMAC secret), are refused
  // whatever the issuer says, before anything is fetched for them.
  if (header === null) return fail("SIGNATURE_INVALID", {}, decoded.value.jwsProblem ?? "not a compact JWS");
  const alg = header.alg as string;
  if (!SUPPORTED.has(alg))
    return fail("SIGNATURE_INVALID", {}, `alg ${JSON.stringify(alg)} is not supported`);

  const provider = await discover(deps, issuer);
  if (!provider.ok) return provider;
  const { algs } = provider.value;
  if (!algs.includes(alg)) {
    return fail("SIGNATURE_INVALID", {}, `alg ${alg} not among the issuer's ${algs.join(",")}`);
  }

  const verified = await verifyWithRefetch(deps, provider.value, token, header as JWSHeaderParameters);
  if (!verified.ok) return verified;

  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(utf8.decode(verified.value));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    claims = parsed as Record<string, unknown>;
  } catch {
    return fail("MALFORMED_TOKEN", {}, "verified payload is not a JSON object");
  }
  if (typeof claims.iss !== "string" || normalizeIssuer(claims.iss) !== provider.value.issuer) {
    return fail("SIGNATURE_INVALID", {}, "verified iss differs from the provider issuer");
  }
  const times = checkTimes(deps, claims);
  if (!times.ok) return times;

  const result: VerifiedToken = { issuer: provider.value.issuer, claims, alg };
  if (typeof header.kid === "string") result.kid = header.kid;
  return ok(result);
}

/** Signature with the cached keys; on an unknown `kid`, one refetch if the cool-down allows it. */
async function verifyWithRefetch(
  deps: OidcDeps,
  provider: ProviderInfo,
  token: string,
  header: JWSHeaderParameters,
): Promise<Result<Uint8Array>> {
  const keys = await loadKeySet(deps, provider);
  if (!keys.ok) return fail("SIGNATURE_INVALID", {}, keys.detail);
  let outcome = await verifySignature(token, header, keys.keys, provider.algs);
  if (!outcome.ok && outcome.noMatchingKey) {
    if (!mayRefetch(deps, provider)) {
      return fail("SIGNATURE_INVALID", {}, `${outcome.detail} (jwks refetch cooling down)`);
    }
    const fresh = await loadKeySet(deps, provider, { refresh: true });
    if (!fresh.ok) return fail("SIGNATURE_INVALID", {}, `${outcome.detail}; refetch failed: ${fresh.detail}`);
    outcome = await verifySignature(token, header, fresh.keys, provider.algs);
  }
  if (!outcome.ok) return fail("SIGNATURE_INVALID", {}, outcome.detail);
  return ok(outcome.payload);
}

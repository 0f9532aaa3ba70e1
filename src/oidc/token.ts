/**
 * @module oidc/token
 * The unverified read of a bearer token (docs/security.md, "What is trusted"): split, strict base64url, JSON,
 * and the one issuer normalisation upstream applies. Nothing here is trusted; it only decides where discovery
 * goes (after the issuer rules and the deployment allowlist) and which key and algorithm to try.
 */

import { fail, ok, type Result } from "../errors/catalogue";
import { MAX_BEARER_CHARS } from "../platform/limits";

/** The only normalisation upstream applies (chainguard.dev/sdk `NormalizeIssuer`). */
const GOOGLE_SCHEMELESS = "accounts.google.com";
const GOOGLE_ISSUER = "https://accounts.google.com";

interface UnverifiedToken {
  /** The protected header (alg, kid, …); null when the token cannot be a compact JWS at all. */
  header: Record<string, unknown> | null;
  /**
   * Why the token cannot be a compact JWS (not three parts, header not a JSON object, `alg` not a
   * string). Upstream reads only the payload at this stage and fails such a token at verification
   * (401), so it is refused as SIGNATURE_INVALID after the issuer checks, still before any fetch.
   */
  jwsProblem?: string;
  /** The payload as sent (unverified). */
  payload: Record<string, unknown>;
  /** `iss` after normalisation. */
  issuer: string;
  /** `iss` exactly as it appears in the token. */
  rawIssuer: string;
}

/** `accounts.google.com` → `https://accounts.google.com`; every other string unchanged. */
export function normalizeIssuer(iss: string): string {
  return iss === GOOGLE_SCHEMELESS ? GOOGLE_ISSUER : iss;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Go `base64.RawURLEncoding.DecodeString`: URL alphabet, no padding; null when invalid. */
function decodeBase64url(part: string): Uint8Array | null {
  if (!BASE64URL.test(part) || part.length % 4 === 1) return null;
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  let binary: string;
  try {
    binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const utf8 = new TextDecoder();

/** A base64url JSON object, or null (also the checker's `explain --token`, so it reads tokens as the service does). */
export function decodeJsonObject(part: string): Record<string, unknown> | null {
  const bytes = decodeBase64url(part);
  if (bytes === null) return null;
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/**
 * Reads header and payload without verifying anything. MALFORMED_TOKEN (`invalid
 * bearer token`) when there is no second part, when the payload is not a base64url JSON object, or when
 * `iss`/`sub` are present with a non-string type (upstream's `json.Unmarshal` into `{iss, sub string}`
 * fails there too). A missing `iss` is left to the issuer rules (INVALID_ISSUER); a broken header or a
 * wrong number of parts to the signature stage (see {@link UnverifiedToken.jwsProblem}).
 */
export function decodeUnverified(token: string): Result<UnverifiedToken> {
  if (token.length === 0 || token.length > MAX_BEARER_CHARS) {
    return fail("MALFORMED_TOKEN", {}, `token length ${token.length}`);
  }
  const parts = token.split(".");
  if (parts.length < 2) return fail("MALFORMED_TOKEN", {}, "token has no payload part");
  const payload = decodeJsonObject(parts[1] as string);
  if (payload === null) return fail("MALFORMED_TOKEN", {}, "payload is not a base64url JSON object");
  // JSON null decodes to "" in Go, like an absent member.
  if (payload.iss != null && typeof payload.iss !== "string") {
    return fail("MALFORMED_TOKEN", {}, "iss is not a string");
  }
  if (payload.sub != null && typeof payload.sub !== "string") {
    return fail("MALFORMED_TOKEN", {}, "sub is not a string");
  }
  const rawIssuer = typeof payload.iss === "string" ? payload.iss : "";
  const decoded: UnverifiedToken = { header: null, payload, issuer: normalizeIssuer(rawIssuer), rawIssuer };
  const header = decodeJsonObject(parts[0] as string);
  if (parts.length !== 3) decoded.jwsProblem = `token has ${parts.length} parts, not 3`;
  else if (header === null) decoded.jwsProblem = "header is not a base64url JSON object";
  else if (typeof header.alg !== "string") decoded.jwsProblem = "header alg is not a string";
  else decoded.header = header;
  return ok(decoded);
}

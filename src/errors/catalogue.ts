/**
 * @module errors/catalogue
 * The failure catalogue (docs/refusals.md, "Reasons") as a type: every reason with its HTTP status,
 * gRPC code and caller-facing message. Internal modules return a {@link Failure} (reason + safe
 * arguments + an audit `detail`); only the reason, its fixed message and the caller's own values leave
 * the Worker. Each wire format renders failures in one module of its own (errors/grpc.ts for the
 * octo-sts endpoints, errors/oauth.ts for `/oauth/token`).
 */

import {
  EXCHANGE_RATE_LIMIT_RETRY_AFTER_SECONDS,
  GITHUB_RATE_LIMIT_RETRY_AFTER_SECONDS,
  GITHUB_UNAVAILABLE_RETRY_AFTER_SECONDS,
  MAX_RETRY_AFTER_SECONDS,
  MIN_RETRY_AFTER_SECONDS,
  ORG_ISSUERS_RATE_LIMIT_RETRY_AFTER_SECONDS,
  ORG_ISSUERS_UNAVAILABLE_RETRY_AFTER_SECONDS,
} from "../platform/limits";

/** Every reason a request can fail for. Only these leave the Worker (as `ErrorInfo.reason`). */
export type Reason =
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "INVALID_REQUEST"
  | "MULTIPLE_SCOPES"
  | "MISSING_BEARER"
  | "MALFORMED_TOKEN"
  | "INVALID_ISSUER"
  | "ISSUER_NOT_ALLOWED"
  | "DISCOVERY_FAILED"
  | "TOKEN_EXPIRED"
  | "TOKEN_NOT_YET_VALID"
  | "SIGNATURE_INVALID"
  | "INVALID_TOKEN_CLAIMS"
  | "SCOPE_REQUIRED"
  | "INVALID_SCOPE"
  | "IDENTITY_REQUIRED"
  | "INVALID_IDENTITY"
  | "NO_INSTALLATION"
  | "POLICY_NOT_FOUND"
  | "POLICY_FORBIDDEN"
  | "RATE_LIMITED"
  | "ISSUER_MISMATCH"
  | "SUBJECT_MISMATCH"
  | "AUDIENCE_MISMATCH"
  | "CLAIM_MISMATCH"
  | "PERMISSION_NOT_GRANTABLE"
  | "GITHUB_UNAVAILABLE"
  | "MISCONFIGURED"
  /** `POST /sts/exchange_refresh_token`: 501, as upstream (not in the decisions table, which says "as upstream"). */
  | "REFRESH_NOT_SUPPORTED"
  /** An unexpected exception: 500 without a stack; the audit line has the detail. */
  | "INTERNAL"
  /** `/oauth/token`: a `grant_type` other than token exchange (the octo-sts table maps it too). */
  | "UNSUPPORTED_GRANT_TYPE"
  /** Step 10: the organization's trusted-issuer file does not list the token's issuer. */
  | "ORG_ISSUER_NOT_ALLOWED"
  /** Step 10: the organization's trusted-issuer file cannot be read as one. */
  | "ORG_ISSUERS_INVALID"
  | "ORG_ISSUERS_UNAVAILABLE"
  | "ORG_ISSUERS_RATE_LIMITED"
  /** Steps 6b and 12b: the caller's or the owner's exchange budget is spent (`args.limiter` says which). */
  | "EXCHANGE_RATE_LIMITED"
  /** `/webhook`: no configured secret matches the delivery's signature. */
  | "WEBHOOK_SIGNATURE_INVALID"
  | "WEBHOOK_TOO_LARGE";

/**
 * Values a message may carry. They are always the caller's own input or public facts (a setting's
 * name, the deployment's domain), never a value read from a policy file or an upstream body.
 */
export interface FailureArgs {
  /** INVALID_REQUEST: the repeated field, or a complete encoding-error text. */
  field?: string;
  values?: readonly string[];
  encodingError?: string;
  /** INVALID_TOKEN_CLAIMS: which of the token's own claims failed the syntax rules. */
  claim?: "issuer" | "subject" | "audience";
  /** CLAIM_MISMATCH: the name of the claim a policy pattern looked at (goes to `metadata.claim`). */
  claimName?: string;
  scope?: string;
  identity?: string;
  owner?: string;
  /** MISCONFIGURED: the setting's name. */
  setting?: string;
  /**
   * MISCONFIGURED: what is wrong with it, as a fixed phrase that never carries the setting's value
   * (`not set`, `not a numeric App id`, `not a PEM private key`, `key does not import`, …); goes to
   * `metadata.problem` (docs/configuration.md, "Misconfiguration").
   */
  problem?: string;
  /** RATE_LIMITED / GITHUB_UNAVAILABLE: seconds for the `Retry-After` header. */
  retryAfterSeconds?: number;
  /** *_MISMATCH: the policy relied on the default audience and the token's `aud` lacks STS_DOMAIN. */
  audienceHint?: boolean;
  /** INVALID_REQUEST on `/oauth/token`: the complete text (a missing or repeated parameter, a token type). */
  requestError?: string;
  /** EXCHANGE_RATE_LIMITED: which budget is spent (goes to `metadata.limiter`, and `limiter` on OAuth). */
  limiter?: "caller" | "owner";
}

/** A failed stage: the wire reason, safe message arguments, and an audit-only detail. */
export interface Failure {
  readonly reason: Reason;
  readonly args: FailureArgs;
  /** Free text for the audit line only (never sent to the caller). */
  readonly detail?: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; failure: Failure };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(
  reason: Reason,
  args: FailureArgs = {},
  detail?: string,
): { ok: false; failure: Failure } {
  return { ok: false, failure: failure(reason, args, detail) };
}

export function failure(reason: Reason, args: FailureArgs = {}, detail?: string): Failure {
  return detail === undefined ? { reason, args } : { reason, args, detail };
}

/** `f` with more message arguments: what a lower stage did not know (the owner, the identity). */
export function withArgs(f: Failure, args: FailureArgs): Failure {
  return { ...f, args: { ...f.args, ...args } };
}

/** gRPC codes used on the wire (docs/refusals.md, "Error body"), as octo-sts sends them. */
const GrpcCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

interface CatalogueEntry {
  status: number;
  code: number;
}

const INVALID = { status: 400, code: GrpcCode.INVALID_ARGUMENT };
const UNAUTHENTICATED = { status: 401, code: GrpcCode.UNAUTHENTICATED };
const DENIED = { status: 403, code: GrpcCode.PERMISSION_DENIED };
const NOT_FOUND = { status: 404, code: GrpcCode.NOT_FOUND };

/** Reason → HTTP status and gRPC code (docs/refusals.md, "Reasons"). */
export const CATALOGUE: Readonly<Record<Reason, CatalogueEntry>> = {
  NOT_FOUND,
  METHOD_NOT_ALLOWED: { status: 501, code: GrpcCode.UNIMPLEMENTED },
  INVALID_REQUEST: INVALID,
  MULTIPLE_SCOPES: INVALID,
  MISSING_BEARER: UNAUTHENTICATED,
  MALFORMED_TOKEN: INVALID,
  INVALID_ISSUER: INVALID,
  ISSUER_NOT_ALLOWED: DENIED,
  DISCOVERY_FAILED: INVALID,
  TOKEN_EXPIRED: UNAUTHENTICATED,
  TOKEN_NOT_YET_VALID: UNAUTHENTICATED,
  SIGNATURE_INVALID: UNAUTHENTICATED,
  INVALID_TOKEN_CLAIMS: INVALID,
  SCOPE_REQUIRED: INVALID,
  INVALID_SCOPE: INVALID,
  IDENTITY_REQUIRED: INVALID,
  INVALID_IDENTITY: INVALID,
  NO_INSTALLATION: NOT_FOUND,
  POLICY_NOT_FOUND: NOT_FOUND,
  POLICY_FORBIDDEN: DENIED,
  RATE_LIMITED: { status: 429, code: GrpcCode.RESOURCE_EXHAUSTED },
  ISSUER_MISMATCH: DENIED,
  SUBJECT_MISMATCH: DENIED,
  AUDIENCE_MISMATCH: DENIED,
  CLAIM_MISMATCH: DENIED,
  PERMISSION_NOT_GRANTABLE: DENIED,
  GITHUB_UNAVAILABLE: { status: 503, code: GrpcCode.UNAVAILABLE },
  MISCONFIGURED: { status: 500, code: GrpcCode.INTERNAL },
  REFRESH_NOT_SUPPORTED: { status: 501, code: GrpcCode.UNIMPLEMENTED },
  INTERNAL: { status: 500, code: GrpcCode.INTERNAL },
  UNSUPPORTED_GRANT_TYPE: INVALID,
  ORG_ISSUER_NOT_ALLOWED: DENIED,
  // FAILED_PRECONDITION is HTTP 400 in grpc-gateway's table.
  ORG_ISSUERS_INVALID: { status: 400, code: GrpcCode.FAILED_PRECONDITION },
  ORG_ISSUERS_UNAVAILABLE: { status: 503, code: GrpcCode.UNAVAILABLE },
  ORG_ISSUERS_RATE_LIMITED: { status: 429, code: GrpcCode.RESOURCE_EXHAUSTED },
  EXCHANGE_RATE_LIMITED: { status: 429, code: GrpcCode.RESOURCE_EXHAUSTED },
  WEBHOOK_SIGNATURE_INVALID: UNAUTHENTICATED,
  WEBHOOK_TOO_LARGE: { status: 413, code: GrpcCode.INVALID_ARGUMENT },
};

/** Go's `%q` for the strings we echo: a JSON string literal is close enough and always safe. */
function q(value: string | undefined): string {
  return JSON.stringify(value ?? "");
}

const MISMATCH_MESSAGE = "token does not match trust policy";

/** The caller-facing message of a failure (docs/refusals.md, "Reasons"); `domain` is STS_DOMAIN. */
export function messageOf(f: Failure, domain: string): string {
  const a = f.args;
  switch (f.reason) {
    case "NOT_FOUND":
      return "Not Found";
    case "METHOD_NOT_ALLOWED":
      return "Method Not Allowed";
    case "INVALID_REQUEST":
      if (a.encodingError !== undefined) return a.encodingError;
      if (a.requestError !== undefined) return a.requestError;
      return `too many values for field ${q(a.field)}: ${(a.values ?? []).join(", ")}`;
    case "MULTIPLE_SCOPES":
      return "multiple scopes not supported";
    case "MISSING_BEARER":
      return "expected exactly one authorization header";
    case "MALFORMED_TOKEN":
      return "invalid bearer token";
    case "INVALID_ISSUER":
      return "invalid issuer format";
    case "ISSUER_NOT_ALLOWED":
      return "issuer not permitted by this deployment";
    case "DISCOVERY_FAILED":
      return "unable to fetch or create the provider";
    case "TOKEN_EXPIRED":
    case "TOKEN_NOT_YET_VALID":
    case "SIGNATURE_INVALID":
      return "unable to verify bearer token";
    case "INVALID_TOKEN_CLAIMS":
      return `invalid ${a.claim ?? "issuer"} in token`;
    case "SCOPE_REQUIRED":
      return "scope must be provided";
    case "INVALID_SCOPE":
      return `invalid scope ${q(a.scope)}`;
    case "IDENTITY_REQUIRED":
      return "identity must be provided";
    case "INVALID_IDENTITY":
      return `invalid identity ${q(a.identity)}`;
    case "NO_INSTALLATION":
      return `no installation found for ${q(a.owner)}`;
    case "POLICY_NOT_FOUND":
      return `unable to find trust policy for ${q(a.identity)}`;
    case "POLICY_FORBIDDEN":
      return `permission denied reading trust policy for ${q(a.identity)}`;
    case "RATE_LIMITED":
      return `GitHub API rate limit exceeded for ${q(a.identity)}`;
    case "ISSUER_MISMATCH":
    case "SUBJECT_MISMATCH":
    case "AUDIENCE_MISMATCH":
    case "CLAIM_MISMATCH":
      if (a.audienceHint) {
        return `${MISMATCH_MESSAGE}: token audience does not include ${q(domain)}; request the OIDC token with audience=${domain} or set audience in the policy`;
      }
      return MISMATCH_MESSAGE;
    case "PERMISSION_NOT_GRANTABLE":
      return "token exchange failure (StatusUnprocessableEntity)";
    case "GITHUB_UNAVAILABLE":
      return "GitHub unavailable";
    case "MISCONFIGURED":
      return `server misconfigured: ${a.setting ?? "unknown setting"}`;
    case "REFRESH_NOT_SUPPORTED":
      return "octo-sts does not support refresh tokens";
    case "INTERNAL":
      return "internal error";
    case "UNSUPPORTED_GRANT_TYPE":
      return "unsupported grant_type";
    case "ORG_ISSUER_NOT_ALLOWED":
      return "issuer not permitted by organization policy";
    case "ORG_ISSUERS_INVALID":
      return "organization trusted-issuer configuration is invalid";
    case "ORG_ISSUERS_UNAVAILABLE":
      return "organization trusted-issuer lookup unavailable";
    case "ORG_ISSUERS_RATE_LIMITED":
      return "organization trusted-issuer lookup rate limited";
    case "EXCHANGE_RATE_LIMITED":
      return "too many token exchanges, retry later";
    case "WEBHOOK_SIGNATURE_INVALID":
      return "no matching secrets";
    case "WEBHOOK_TOO_LARGE":
      return "webhook payload too large";
  }
}

/**
 * `Retry-After` seconds for a failure that carries one, else undefined: what GitHub said when it said
 * something usable, else the reason's default; always an integer from 1 to 3600 (RFC 9110
 * delta-seconds), whatever GitHub sent (`Retry-After: 99999999999999999999999` must not travel on).
 */
export function retryAfterOf(f: Failure): number | undefined {
  const fallback = DEFAULT_RETRY_AFTER_SECONDS[f.reason];
  if (fallback === undefined) return undefined;
  // The service's own limit has a fixed window (docs/oauth.md, "Rate limits"): always the same answer.
  if (f.reason === "EXCHANGE_RATE_LIMITED") return fallback;
  const given = f.args.retryAfterSeconds;
  const seconds = given !== undefined && Number.isFinite(given) ? Math.ceil(given) : fallback;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(MIN_RETRY_AFTER_SECONDS, seconds));
}

const DEFAULT_RETRY_AFTER_SECONDS: Partial<Record<Reason, number>> = {
  RATE_LIMITED: GITHUB_RATE_LIMIT_RETRY_AFTER_SECONDS,
  GITHUB_UNAVAILABLE: GITHUB_UNAVAILABLE_RETRY_AFTER_SECONDS,
  ORG_ISSUERS_UNAVAILABLE: ORG_ISSUERS_UNAVAILABLE_RETRY_AFTER_SECONDS,
  ORG_ISSUERS_RATE_LIMITED: ORG_ISSUERS_RATE_LIMIT_RETRY_AFTER_SECONDS,
  EXCHANGE_RATE_LIMITED: EXCHANGE_RATE_LIMIT_RETRY_AFTER_SECONDS,
};

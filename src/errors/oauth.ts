/**
 * @module errors/oauth
 * The OAuth wire format of a failure, for `POST /oauth/token` (docs/oauth.md, "Errors"): the RFC 6749
 * error body `{"error", "error_description", "reason", "request_id"}` at the status of its error class.
 * One table maps every reason of the catalogue, so a new reason does not compile until it has a class
 * here; `error_description` is the catalogue's fixed message, as on the octo-sts door.
 */

import { type Failure, messageOf, type Reason, retryAfterOf } from "./catalogue";
import type { ResponseContext } from "./grpc";

/** RFC 6749 §5.2 error codes, and `temporarily_unavailable`/`server_error` for a token endpoint. */
type OAuthError =
  | "invalid_request"
  | "invalid_grant"
  | "invalid_target"
  | "unsupported_grant_type"
  | "temporarily_unavailable"
  | "server_error";

interface OAuthEntry {
  error: OAuthError;
  status: number;
}

const INVALID_REQUEST: OAuthEntry = { error: "invalid_request", status: 400 };
const INVALID_GRANT: OAuthEntry = { error: "invalid_grant", status: 400 };
const INVALID_TARGET: OAuthEntry = { error: "invalid_target", status: 400 };
const TOO_MANY: OAuthEntry = { error: "temporarily_unavailable", status: 429 };
const UNAVAILABLE: OAuthEntry = { error: "temporarily_unavailable", status: 503 };
const SERVER_ERROR: OAuthEntry = { error: "server_error", status: 500 };

/** Reason → OAuth error class and HTTP status (docs/oauth.md, "Errors"). */
export const OAUTH_ERRORS: Readonly<Record<Reason, OAuthEntry>> = {
  // The request itself.
  INVALID_REQUEST,
  MULTIPLE_SCOPES: INVALID_REQUEST,
  MISSING_BEARER: INVALID_REQUEST,
  METHOD_NOT_ALLOWED: { error: "invalid_request", status: 405 },
  NOT_FOUND: { error: "invalid_request", status: 404 },
  UNSUPPORTED_GRANT_TYPE: { error: "unsupported_grant_type", status: 400 },
  REFRESH_NOT_SUPPORTED: { error: "unsupported_grant_type", status: 400 },
  WEBHOOK_SIGNATURE_INVALID: { error: "invalid_request", status: 401 },
  WEBHOOK_TOO_LARGE: { error: "invalid_request", status: 413 },
  // The subject token: unreadable, untrusted, unverifiable, or not what the policy wants.
  MALFORMED_TOKEN: INVALID_GRANT,
  INVALID_ISSUER: INVALID_GRANT,
  ISSUER_NOT_ALLOWED: INVALID_GRANT,
  DISCOVERY_FAILED: INVALID_GRANT,
  SIGNATURE_INVALID: INVALID_GRANT,
  TOKEN_EXPIRED: INVALID_GRANT,
  TOKEN_NOT_YET_VALID: INVALID_GRANT,
  INVALID_TOKEN_CLAIMS: INVALID_GRANT,
  ORG_ISSUER_NOT_ALLOWED: INVALID_GRANT,
  ISSUER_MISMATCH: INVALID_GRANT,
  SUBJECT_MISMATCH: INVALID_GRANT,
  AUDIENCE_MISMATCH: INVALID_GRANT,
  CLAIM_MISMATCH: INVALID_GRANT,
  // The target: scope (owner, repository) and audience (identity, the policy).
  SCOPE_REQUIRED: INVALID_TARGET,
  INVALID_SCOPE: INVALID_TARGET,
  IDENTITY_REQUIRED: INVALID_TARGET,
  INVALID_IDENTITY: INVALID_TARGET,
  NO_INSTALLATION: INVALID_TARGET,
  POLICY_NOT_FOUND: INVALID_TARGET,
  POLICY_FORBIDDEN: INVALID_TARGET,
  PERMISSION_NOT_GRANTABLE: INVALID_TARGET,
  ORG_ISSUERS_INVALID: INVALID_TARGET,
  // Come back later (each with a Retry-After).
  RATE_LIMITED: TOO_MANY,
  EXCHANGE_RATE_LIMITED: TOO_MANY,
  ORG_ISSUERS_RATE_LIMITED: TOO_MANY,
  GITHUB_UNAVAILABLE: UNAVAILABLE,
  ORG_ISSUERS_UNAVAILABLE: UNAVAILABLE,
  // This deployment.
  MISCONFIGURED: SERVER_ERROR,
  INTERNAL: SERVER_ERROR,
};

/** The RFC 6749 error body of a failure; `reason` and `request_id` are this service's additions. */
function oauthErrorBody(f: Failure, ctx: ResponseContext): Record<string, string> {
  const body: Record<string, string> = {
    error: OAUTH_ERRORS[f.reason].error,
    error_description: messageOf(f, ctx.domain),
    reason: f.reason,
    request_id: ctx.requestId,
  };
  if (f.reason === "EXCHANGE_RATE_LIMITED" && f.args.limiter !== undefined) body.limiter = f.args.limiter;
  if (f.reason === "MISCONFIGURED" && f.args.problem !== undefined) body.problem = f.args.problem;
  return body;
}

/**
 * The single place a failure becomes an OAuth error response. No `WWW-Authenticate`: the subject token
 * travels in the body, not in an `Authorization` header, and generic clients read a challenge header on
 * a token endpoint's answer as a request to authenticate the client.
 */
export function oauthErrorResponse(f: Failure, ctx: ResponseContext, extra: HeadersInit = {}): Response {
  const { status } = OAUTH_ERRORS[f.reason];
  const headers = new Headers(extra);
  headers.set("Content-Type", "application/json");
  headers.set("Cache-Control", "no-store");
  headers.set("X-Request-Id", ctx.requestId);
  const retryAfter = retryAfterOf(f);
  if (retryAfter !== undefined) headers.set("Retry-After", String(retryAfter));
  return new Response(JSON.stringify(oauthErrorBody(f, ctx)), { status, headers });
}

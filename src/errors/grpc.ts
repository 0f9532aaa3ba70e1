/**
 * @module errors/grpc
 * The octo-sts wire format of a failure: the `google.rpc.Status` JSON body grpc-gateway writes, with
 * one `google.rpc.ErrorInfo` detail carrying the reason, the deployment's domain and the request id, at
 * the HTTP status of the reason's gRPC code. Every route but `/oauth/token` answers errors this way.
 */

import { CATALOGUE, type Failure, messageOf, retryAfterOf } from "./catalogue";

export interface ResponseContext {
  requestId: string;
  /** STS_DOMAIN, or the request's host when the configuration could not be read. */
  domain: string;
}

/** The `google.rpc.Status` body of an error (docs/refusals.md, "Error body"). */
function errorBody(f: Failure, ctx: ResponseContext) {
  const metadata: Record<string, string> = { request_id: ctx.requestId };
  if (f.reason === "CLAIM_MISMATCH" && f.args.claimName !== undefined) metadata.claim = f.args.claimName;
  if (f.reason === "EXCHANGE_RATE_LIMITED" && f.args.limiter !== undefined) metadata.limiter = f.args.limiter;
  if (f.reason === "MISCONFIGURED" && f.args.problem !== undefined) metadata.problem = f.args.problem;
  return {
    code: CATALOGUE[f.reason].code,
    message: messageOf(f, ctx.domain),
    details: [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: f.reason,
        domain: ctx.domain,
        metadata,
      },
    ],
  };
}

/** The single place a failure becomes an octo-sts error response. */
export function errorResponse(f: Failure, ctx: ResponseContext): Response {
  const { status } = CATALOGUE[f.reason];
  const headers = new Headers({
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Request-Id": ctx.requestId,
  });
  if (status === 401) headers.set("WWW-Authenticate", 'Bearer error="invalid_token"');
  const retryAfter = retryAfterOf(f);
  if (retryAfter !== undefined) headers.set("Retry-After", String(retryAfter));
  return new Response(JSON.stringify(errorBody(f, ctx)), { status, headers });
}

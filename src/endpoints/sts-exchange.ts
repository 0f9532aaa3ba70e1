/**
 * @module endpoints/sts-exchange
 * The octo-sts door, `GET`/`POST /sts/exchange`: steps 1–3 of the evaluation order (configuration,
 * parameters as grpc-gateway reads them, the one `Authorization` header), then the core, then one of the
 * two success shapes or the octo-sts error body.
 *
 * The two success shapes exist because the documented clients disagree: the default one is read by
 * `octo-sts/action` (`token`) and by the documented `curl | jq -r .access_token`; a form POST is what the
 * Chainguard SDK's HTTP/1 client sends, and it decodes the answer strictly as the proto `RawToken`, so
 * that answer must carry no other field.
 */

import type { Failure, Result } from "../errors/catalogue";
import { errorResponse } from "../errors/grpc";
import { Audit, audited } from "../exchange/audit";
import { type ExchangeGrant, runExchange } from "../exchange/core";
import type { DoorContext } from "./context";
import { readBearer, readParams } from "./sts-request";

const TOKEN_HEADERS = {
  "Content-Type": "application/json",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
} as const;

function successResponse(
  grant: ExchangeGrant,
  formPost: boolean,
  requestId: string,
  nowMs: number,
): Response {
  const headers = { ...TOKEN_HEADERS, "X-Request-Id": requestId };
  const { token, expiresAt } = grant;
  if (formPost) {
    return new Response(JSON.stringify({ token, refreshToken: "", expiry: expiresAt }), {
      status: 200,
      headers,
    });
  }
  const expiresMs = Date.parse(expiresAt);
  const expiresIn = Number.isFinite(expiresMs) ? Math.max(0, Math.floor((expiresMs - nowMs) / 1000)) : 0;
  const body = {
    token,
    access_token: token,
    token_type: "bearer",
    expires_in: expiresIn,
    refreshToken: "",
    expiry: expiresAt,
  };
  return new Response(JSON.stringify(body), { status: 200, headers });
}

export async function stsExchange(door: DoorContext): Promise<Response> {
  const { request, url, rt, ctx, requestId, domain } = door;
  const audit = new Audit("sts/exchange", requestId, request, rt.clock.now());
  let formPost = false;
  const refused = (f: Failure): Result<ExchangeGrant> => ({ ok: false, failure: f });
  const result = await audited(audit, async () => {
    // 1. configuration
    if (!rt.config.ok) return refused(rt.config.failure);
    // 2. request parameters
    const params = await readParams(request, url);
    if (!params.ok) return refused(params.failure);
    const { scope, identity } = params.value;
    formPost = params.value.formPost;
    audit.set("scope", scope);
    audit.set("identity", identity);
    // 3. Authorization
    const bearer = readBearer(request);
    if (!bearer.ok) return refused(bearer.failure);
    // 4–13.
    return runExchange(rt, ctx, { token: bearer.value, scope, identity }, audit);
  });
  if (!result.ok) return errorResponse(result.failure, { requestId, domain });
  return successResponse(result.value, formPost, requestId, rt.clock.now());
}

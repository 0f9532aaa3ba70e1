/**
 * @module exchange/response
 * The two success shapes of `/sts/exchange` (decisions §2): the default one, read by `octo-sts/action`
 * (`token`) and by the documented `curl | jq -r .access_token`; and the strict one for a form POST, which
 * the Chainguard SDK decodes as the proto `RawToken` and which must carry no other field.
 */

import type { ExchangeSuccess } from "../exchange/core";

export function successResponse(success: ExchangeSuccess, requestId: string, nowMs: number): Response {
  const headers = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    Pragma: "no-cache",
    "X-Request-Id": requestId,
  };
  const { token, expiresAt } = success;
  if (success.formPost) {
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

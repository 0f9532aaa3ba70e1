/**
 * @module endpoints/health
 * The small routes: `GET /healthz` (200 when the configuration parses, 503 with the misconfiguration
 * body otherwise; no upstream call), `GET /` (octo-sts's pointer to the documentation, byte for byte),
 * and the refresh route octo-sts answers with 501.
 */

import { failure } from "../errors/catalogue";
import { errorResponse } from "../errors/grpc";
import type { DoorContext } from "./context";

export const ROOT_MESSAGE = "please check documentation for usage: https://github.com/octo-sts/app";

export function healthz({ rt, requestId, domain }: DoorContext): Response {
  if (!rt.config.ok) {
    const response = errorResponse(rt.config.failure, { requestId, domain });
    return new Response(response.body, { status: 503, headers: response.headers });
  }
  return new Response(JSON.stringify({ ok: true }), {
    status: 200,
    headers: { "Content-Type": "application/json", "X-Request-Id": requestId, "Cache-Control": "no-store" },
  });
}

export function root({ requestId }: DoorContext): Response {
  // Byte for byte what octo-sts answers, space after the colon included.
  return new Response(`{"msg": ${JSON.stringify(ROOT_MESSAGE)}}`, {
    status: 200,
    headers: { "Content-Type": "application/json", "X-Request-Id": requestId },
  });
}

export function refreshNotSupported({ requestId, domain }: DoorContext): Response {
  return errorResponse(failure("REFRESH_NOT_SUPPORTED"), { requestId, domain });
}

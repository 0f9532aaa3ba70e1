/**
 * @module app
 * Routing: which stage answers which method and path. The Worker entry (index.ts) only hands each
 * request to {@link handle} with this isolate's runtime; tests drive `handle` with runtimes they build.
 */

import { successResponse } from "./endpoints/sts-exchange";
import { errorResponse, type Failure, failure } from "./errors/catalogue";
import { Audit } from "./exchange/audit";
import { exchange } from "./exchange/core";
import type { Runtime } from "./platform/runtime";

export const ROOT_MESSAGE = "please check documentation for usage: https://github.com/octo-sts/app";

function json(
  body: unknown,
  status: number,
  requestId: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "X-Request-Id": requestId, ...extra },
  });
}

/** The detail logged for an exception: its kind, never its message or stack. */
function unexpected(error: unknown): string {
  return `unexpected ${error instanceof Error ? error.name : typeof error}`;
}

async function handleExchange(
  request: Request,
  url: URL,
  runtime: Runtime,
  ctx: ExecutionContext,
  requestId: string,
  respondError: (f: Failure) => Response,
): Promise<Response> {
  const started = Date.now();
  const audit = new Audit(requestId, request, runtime.clock.now());
  try {
    const result = await exchange(request, url, runtime, ctx, audit);
    return result.ok
      ? successResponse(result.value, requestId, runtime.clock.now())
      : respondError(result.failure);
  } catch (error) {
    // A bug must never become a stack trace or a token: answer 500 and keep the detail for the audit line.
    const f = failure("INTERNAL", {}, unexpected(error));
    audit.refuse(f);
    return respondError(f);
  } finally {
    audit.emit(Date.now() - started);
  }
}

/**
 * The `ErrorInfo.domain` of every error: STS_DOMAIN, also when another setting is what is misconfigured;
 * only a deployment without STS_DOMAIN falls back to the host the request was sent to.
 */
function domainOf(runtime: Runtime, url: URL): string {
  if (runtime.config.ok) return runtime.config.value.stsDomain;
  const configured = runtime.env.STS_DOMAIN;
  return typeof configured === "string" && configured.trim() !== "" ? configured.trim() : url.host;
}

/** Routes a request for one runtime; exported so tests can drive a runtime they built. */
export async function handle(request: Request, runtime: Runtime, ctx: ExecutionContext): Promise<Response> {
  const requestId = crypto.randomUUID();
  const url = new URL(request.url);
  let domain = url.host;
  try {
    domain = domainOf(runtime, url);
    return await route(request, url, runtime, ctx, requestId, (f) => errorResponse(f, { requestId, domain }));
  } catch (error) {
    // Outside the exchange too, a bug answers the catalogue's 500 (with X-Request-Id), never a stack.
    const detail = unexpected(error);
    console.error(JSON.stringify({ msg: "sts.error", request_id: requestId, detail }));
    return errorResponse(failure("INTERNAL", {}, detail), { requestId, domain });
  }
}

async function route(
  request: Request,
  url: URL,
  runtime: Runtime,
  ctx: ExecutionContext,
  requestId: string,
  respondError: (f: Failure) => Response,
): Promise<Response> {
  const method = request.method;

  switch (url.pathname) {
    case "/":
      if (method !== "GET" && method !== "HEAD") return respondError(failure("METHOD_NOT_ALLOWED"));
      // Byte for byte what octo-sts answers (behaviour §2.1), space after the colon included.
      return new Response(`{"msg": ${JSON.stringify(ROOT_MESSAGE)}}`, {
        status: 200,
        headers: { "Content-Type": "application/json", "X-Request-Id": requestId },
      });
    case "/healthz": {
      if (method !== "GET" && method !== "HEAD") return respondError(failure("METHOD_NOT_ALLOWED"));
      if (!runtime.config.ok) {
        const response = respondError(runtime.config.failure);
        return new Response(response.body, { status: 503, headers: response.headers });
      }
      return json({ ok: true }, 200, requestId, { "Cache-Control": "no-store" });
    }
    case "/sts/exchange":
      if (method !== "GET" && method !== "POST") return respondError(failure("METHOD_NOT_ALLOWED"));
      return handleExchange(request, url, runtime, ctx, requestId, respondError);
    case "/sts/exchange_refresh_token":
      if (method !== "POST") return respondError(failure("METHOD_NOT_ALLOWED"));
      return respondError(failure("REFRESH_NOT_SUPPORTED"));
    default:
      return respondError(failure("NOT_FOUND"));
  }
}

/**
 * @module index
 * The Worker entry: routing only. Each route's work lives in its own stage module.
 */

import type { Env } from "./config";
import { errorResponse, failure } from "./errors";
import { createRuntime, type Runtime, runtimeFor } from "./runtime";

export const ROOT_MESSAGE = "please check documentation for usage: https://github.com/octo-sts/app";

function newRequestId(): string {
  return crypto.randomUUID();
}

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

/** Routes a request for one runtime; exported so tests can drive a runtime they built. */
export async function handle(request: Request, runtime: Runtime, _ctx: ExecutionContext): Promise<Response> {
  const requestId = newRequestId();
  const url = new URL(request.url);
  const domain = runtime.config.ok ? runtime.config.value.stsDomain : url.host;
  const respondError = (f: Parameters<typeof errorResponse>[0]) => errorResponse(f, { requestId, domain });

  switch (url.pathname) {
    case "/":
      if (request.method !== "GET") return respondError(failure("METHOD_NOT_ALLOWED"));
      return json({ msg: ROOT_MESSAGE }, 200, requestId);
    case "/healthz":
      if (request.method !== "GET") return respondError(failure("METHOD_NOT_ALLOWED"));
      if (!runtime.config.ok) {
        const response = respondError(runtime.config.failure);
        return new Response(response.body, { status: 503, headers: response.headers });
      }
      return json({ ok: true }, 200, requestId, { "Cache-Control": "no-store" });
    default:
      return respondError(failure("NOT_FOUND"));
  }
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    return handle(request, runtimeFor(env), ctx);
  },
} satisfies ExportedHandler<Env>;

export { createRuntime };

/**
 * @module app
 * The route table: which door answers which method and path. The Worker entry (index.ts) hands each
 * request to {@link handle} with this isolate's runtime; tests drive `handle` with runtimes they build.
 * A door that throws outside its own audit (a bug) answers the catalogue's 500, never a stack.
 */

import type { DoorContext } from "./endpoints/context";
import { healthz, refreshNotSupported, root } from "./endpoints/health";
import { METADATA_PATH, oauthMetadata, oauthToken, TOKEN_PATH } from "./endpoints/oauth-token";
import { stsExchange } from "./endpoints/sts-exchange";
import { webhook, webhookEnabled } from "./endpoints/webhook";
import { failure } from "./errors/catalogue";
import { errorResponse } from "./errors/grpc";
import { unexpected } from "./exchange/audit";
import type { Runtime } from "./platform/runtime";

export { ROOT_MESSAGE } from "./endpoints/health";

type Door = (door: DoorContext) => Response | Promise<Response>;

/**
 * Path → the methods it answers and its door; any other method answers `METHOD_NOT_ALLOWED` (501, the
 * octo-sts body). `"*"` hands every method to the door: `/oauth/token` answers 405 itself, in OAuth terms.
 * A route with `enabled` exists only while it says so (`/webhook` needs GITHUB_WEBHOOK_SECRET): until
 * then it is `NOT_FOUND` for every method, like an unknown path.
 */
const ROUTES: Readonly<
  Record<string, { methods: readonly string[] | "*"; door: Door; enabled?: (rt: Runtime) => boolean }>
> = {
  "/": { methods: ["GET", "HEAD"], door: root },
  "/healthz": { methods: ["GET", "HEAD"], door: healthz },
  "/sts/exchange": { methods: ["GET", "POST"], door: stsExchange },
  "/sts/exchange_refresh_token": { methods: ["POST"], door: refreshNotSupported },
  [TOKEN_PATH]: { methods: "*", door: oauthToken },
  [METADATA_PATH]: { methods: ["GET"], door: oauthMetadata },
  "/webhook": { methods: ["POST"], door: webhook, enabled: webhookEnabled },
};

/**
 * The `ErrorInfo.domain` of every error: STS_DOMAIN, also when another setting is what is misconfigured;
 * only a deployment without STS_DOMAIN falls back to the host the request was sent to.
 */
function domainOf(rt: Runtime, url: URL): string {
  if (rt.config.ok) return rt.config.value.stsDomain;
  const configured = rt.env.STS_DOMAIN;
  return typeof configured === "string" && configured.trim() !== "" ? configured.trim() : url.host;
}

/** Routes a request for one runtime; exported so tests can drive a runtime they built. */
export async function handle(request: Request, rt: Runtime, ctx: ExecutionContext): Promise<Response> {
  const requestId = crypto.randomUUID();
  const url = new URL(request.url);
  let domain = url.host;
  try {
    domain = domainOf(rt, url);
    const door: DoorContext = { request, url, rt, ctx, requestId, domain };
    const route = ROUTES[url.pathname];
    if (route === undefined || (route.enabled !== undefined && !route.enabled(rt))) {
      return errorResponse(failure("NOT_FOUND"), { requestId, domain });
    }
    if (route.methods !== "*" && !route.methods.includes(request.method)) {
      return errorResponse(failure("METHOD_NOT_ALLOWED"), { requestId, domain });
    }
    return await route.door(door);
  } catch (error) {
    const detail = unexpected(error);
    console.error(JSON.stringify({ msg: "sts.error", request_id: requestId, detail }));
    return errorResponse(failure("INTERNAL", {}, detail), { requestId, domain });
  }
}

/**
 * @module endpoints/context
 * What every door is handed by the router: the request, this isolate's runtime, the execution context
 * (for background work), the request id every response and log line carries, and the domain errors name.
 */

import type { Runtime } from "../platform/runtime";

export interface DoorContext {
  readonly request: Request;
  readonly url: URL;
  readonly rt: Runtime;
  readonly ctx: ExecutionContext;
  readonly requestId: string;
  /** STS_DOMAIN, or the request's host when the configuration could not be read. */
  readonly domain: string;
}

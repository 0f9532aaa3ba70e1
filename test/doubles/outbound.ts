/**
 * The outbound router: a Miniflare `outboundService` that sends the Worker's requests for real
 * hostnames (`https://api.github.com`, `https://token.actions.githubusercontent.com`) to the local
 * doubles, so the production URL handling is what gets tested. Loopback requests pass through; every
 * other destination is refused, so no test can reach the network.
 */

import type { Request as MfRequest, Response as MfResponse } from "miniflare";

/** Miniflare, loaded on the first routed request: a script answers --help before it loads. */
const miniflare = () => import("miniflare");

export interface OutboundRoutes {
  /** hostname (lowercase, e.g. `api.github.com`) → base URL of the double serving it. */
  hosts: Record<string, string>;
}

/** Every request the router saw, for tests that count outbound traffic per host. */
export interface OutboundCounter {
  counts: Map<string, number>;
  /** When present, every request as it was sent (the benchmark's probe Worker replays them). */
  log?: OutboundRecord[];
}

export interface OutboundRecord {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The body as text ("" without one). */
  body: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function createOutboundRouter(routes: OutboundRoutes, counter?: OutboundCounter) {
  return async (request: MfRequest): Promise<MfResponse> => {
    const { Response: MfResponse, fetch: mfFetch } = await miniflare();
    const url = new URL(request.url);
    const host = url.hostname.toLowerCase();
    if (counter) counter.counts.set(host, (counter.counts.get(host) ?? 0) + 1);
    let target: URL;
    const base = routes.hosts[host];
    if (base !== undefined) {
      if (url.protocol !== "https:") {
        return new MfResponse(`outbound router: ${host} is served over https only`, { status: 502 });
      }
      target = new URL(`${base.replace(/\/$/, "")}/h/${host}${url.pathname}${url.search}`);
    } else if (LOOPBACK.has(host)) {
      target = url;
    } else {
      return new MfResponse(`outbound router: no network in tests (refused ${host})`, { status: 502 });
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key] = value;
    });
    headers["x-forwarded-host"] = url.host;
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    const body = hasBody ? await request.arrayBuffer() : undefined;
    if (counter?.log) {
      const { "x-forwarded-host": _, ...sent } = headers;
      counter.log.push({
        method: request.method,
        url: request.url,
        headers: sent,
        body: body === undefined ? "" : new TextDecoder().decode(body),
      });
    }
    const response = await mfFetch(target, {
      method: request.method,
      headers,
      body,
      redirect: "manual",
    });
    return response;
  };
}

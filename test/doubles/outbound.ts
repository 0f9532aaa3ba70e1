/**
 * The outbound router: a Miniflare `outboundService` that sends the Worker's requests for real
 * hostnames (`https://api.github.com`, `https://token.actions.githubusercontent.com`) to the local
 * doubles, so the production URL handling is what gets tested. Loopback requests reach the doubles by
 * their own address (the tests' control API, a GitHub Enterprise-style base URL); every other
 * destination is refused, so no test can reach the network.
 *
 * It is Miniflare's Node form of a service: workerd's request arrives as a Node request on Miniflare's
 * loopback server, and the answer is written on that same connection. The double (started in this
 * process, test/doubles/server.ts, `inProcessDouble`) is handed the request directly and writes its
 * answer there, status, headers, streamed or cut-off body and all, with no second HTTP hop. The Node form
 * does not carry the scheme the Worker used, so the router cannot check it: the Worker's own URL rules
 * (https only, http only for loopback) are tested on their own.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import {
  answerText,
  type DoubleRequest,
  flatHeaders,
  inProcessDouble,
  messageOf,
  readBody,
} from "./server.ts";

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

/** Headers Miniflare adds on its way from workerd to the router; not the Worker's. */
const MINIFLARE_HEADERS = ["mf-custom-node-service", "mf-original-url"];

export function createOutboundRouter(routes: OutboundRoutes, counter?: OutboundCounter) {
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const originalHost = req.headers.host ?? "";
    // The hostname as URLs read it, lowercase (`[::1]:8787` → `[::1]`); "" for a host no URL has.
    const host = URL.parse(`http://${originalHost}/`)?.hostname ?? "";
    if (counter) counter.counts.set(host, (counter.counts.get(host) ?? 0) + 1);
    const path = req.url ?? "/";
    let target: URL;
    const base = routes.hosts[host];
    if (base !== undefined) {
      target = new URL(`${base.replace(/\/$/, "")}/h/${host}${path}`);
    } else if (LOOPBACK.has(host)) {
      // Concatenated, never resolved against a base: a path such as //example.com/x stays a path.
      target = new URL(`http://${originalHost}${path}`);
    } else {
      answerText(res, 502, `outbound router: no network in tests (refused ${host})`);
      return;
    }
    const double = inProcessDouble(target.host);
    if (double === undefined) {
      answerText(res, 502, `outbound router: no double of this process listens at ${target.host} (refused)`);
      return;
    }
    const headers = flatHeaders(req);
    for (const name of MINIFLARE_HEADERS) delete headers[name];
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const body = hasBody ? await readBody(req) : "";
    if (counter?.log) {
      counter.log.push({
        method: req.method ?? "GET",
        url: `${base !== undefined ? "https" : "http"}://${originalHost}${path}`,
        headers: { ...headers },
        body,
      });
    }
    // What the double sees, as if it had been sent to it over HTTP: its own host, and the host the
    // Worker asked for in x-forwarded-host.
    headers.host = target.host;
    headers["x-forwarded-host"] = originalHost;
    const request: DoubleRequest = { method: req.method ?? "GET", url: target, headers, body };
    await double(request, res);
  };
  return {
    node: (req: IncomingMessage, res: ServerResponse) => {
      route(req, res).catch((error: unknown) => {
        if (res.headersSent) res.destroy();
        else answerText(res, 502, `outbound router: ${messageOf(error)}`);
      });
    },
  };
}

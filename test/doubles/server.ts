/**
 * A tiny HTTP server base for the local doubles (Node only). Each double is a set of routes over
 * `node:http`; every request is recorded so tests can assert exactly what was sent, and a control API
 * under `/__control/` lets tests running inside workerd steer the double over 127.0.0.1.
 *
 * A started double is also listed in this process's registry (`inProcessDouble`): the outbound router of
 * the same process (test/doubles/outbound.ts) hands a Worker's request to it directly and the double writes
 * its answer on the Worker's own connection, instead of a second HTTP hop through a client and this
 * server. The answer is the same either way, written by the same code (`answerer` below).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RecordedCall } from "../shared/control-client";

export interface DoubleRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
}

export interface DoubleResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Never answer (the caller must time out); the socket is closed when the server stops. */
  hang?: boolean;
  /** Stream this many bytes of filler after `body` (oversized responses, without buffering them). */
  streamBytes?: number;
  /**
   * Announce `body`'s full length, send only this many bytes of it, then drop the connection: an answer
   * cut off mid-body, as a reset connection leaves it (the client sees an error reading the body).
   */
  cutAfter?: number;
}

type Handler = (req: DoubleRequest) => Promise<DoubleResponse> | DoubleResponse;

export function jsonResponse(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): DoubleResponse {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify(value),
  };
}

export async function readBody(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

export interface StartedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Answers one request on `res`; a request held by `hang` is kept in `hanging` until its connection closes. */
type Answerer = (req: DoubleRequest, res: ServerResponse) => Promise<void>;

function answerer(handler: Handler, hanging: Set<ServerResponse>): Answerer {
  return async (req, res) => {
    try {
      const out = await handler(req);
      if (out.hang) {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      if (out.cutAfter !== undefined) {
        const full = Buffer.from(out.body ?? "");
        res.writeHead(out.status, { ...out.headers, "content-length": String(full.length) });
        res.write(full.subarray(0, out.cutAfter), () => res.destroy());
        return;
      }
      res.writeHead(out.status, out.headers ?? {});
      if (out.body !== undefined) res.write(out.body);
      if (out.streamBytes !== undefined && out.streamBytes > 0) {
        const chunk = Buffer.alloc(16 * 1024, 0x20);
        let left = out.streamBytes;
        while (left > 0 && !res.destroyed) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          // A connection closed while waiting for drain ends the loop too (res.destroyed).
          if (!res.write(piece)) {
            await new Promise((r) => {
              res.once("drain", r);
              res.once("close", r);
            });
          }
        }
      }
      res.end();
    } catch (error) {
      if (res.headersSent) res.destroy();
      else answerText(res, 500, `double error: ${messageOf(error)}`);
    }
  };
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A plain-text answer: the doubles' and the outbound router's own errors. */
export function answerText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}

/** The doubles started in this process, by `127.0.0.1:PORT`; on `globalThis` because vitest loads the
 * config (where the outbound router is made) and the global setup (which starts the doubles) as two
 * separate module graphs of the same process. */
const REGISTRY = Symbol.for("github-sts-worker.test-doubles");
function registry(): Map<string, Answerer> {
  const scope = globalThis as { [REGISTRY]?: Map<string, Answerer> };
  scope[REGISTRY] ??= new Map();
  return scope[REGISTRY];
}

/** The double of this process listening on `hostPort` (`127.0.0.1:PORT`), if there is one. */
export function inProcessDouble(hostPort: string): Answerer | undefined {
  return registry().get(hostPort);
}

/** Starts `handler` on 127.0.0.1 (port 0 = any free port). */
export async function startServer(handler: Handler, port = 0): Promise<StartedServer> {
  const hanging = new Set<ServerResponse>();
  const answer = answerer(handler, hanging);
  const server: Server = createServer(async (req, res) => {
    let body: string;
    try {
      body = await readBody(req);
    } catch (error) {
      answerText(res, 500, `double error: ${messageOf(error)}`);
      return;
    }
    // Concatenated, never resolved against a base: a path such as //example.com/x stays a path.
    const url = URL.parse(`http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`);
    if (url === null || !(req.url ?? "/").startsWith("/")) {
      answerText(res, 400, "double error: not an origin-form request target");
      return;
    }
    await answer({ method: req.method ?? "GET", url, headers: flatHeaders(req), body }, res);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostPort = `127.0.0.1:${address.port}`;
  registry().set(hostPort, answer);
  return {
    url: `http://${hostPort}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        if (registry().get(hostPort) === answer) registry().delete(hostPort);
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tenant's call log: every request in order, numbered from 1. */
export interface CallLog {
  calls: RecordedCall[];
  seq: number;
}

/**
 * Records `req` in `log` before `route` answers it (so a hanging request is already visible), with `path`
 * below the tenant plus the query, then notes the status it got (0 for a hang).
 */
export function recordAndRoute(
  log: CallLog,
  req: DoubleRequest,
  path: string,
  route: () => DoubleResponse,
): DoubleResponse {
  const call: RecordedCall = {
    seq: ++log.seq,
    method: req.method,
    path: path + req.url.search,
    host: req.headers["x-forwarded-host"] ?? req.url.host,
    headers: req.headers,
    body: req.body,
    status: 0,
    at: Date.now(),
  };
  log.calls.push(call);
  const out = route();
  call.status = out.hang ? 0 : out.status;
  return out;
}

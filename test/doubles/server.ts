/**
 * A tiny HTTP server base for the local doubles (Node only). Each double is a set of routes over
 * `node:http`; every request is recorded so tests can assert exactly what was sent, and a control API
 * under `/__control/` lets tests running inside workerd steer the double over 127.0.0.1.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RecordedCall } from "../shared/control-client";

export interface DoubleRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
  raw: IncomingMessage;
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

async function readBody(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
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

/** Starts `handler` on 127.0.0.1 (port 0 = any free port). */
export async function startServer(handler: Handler, port = 0): Promise<StartedServer> {
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const host = req.headers.host ?? "127.0.0.1";
      const url = new URL(req.url ?? "/", `http://${host}`);
      const out = await handler({
        method: req.method ?? "GET",
        url,
        headers: flatHeaders(req),
        body,
        raw: req,
      });
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
          if (!res.write(piece)) await new Promise((r) => res.once("drain", r));
        }
      }
      res.end();
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`double error: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
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

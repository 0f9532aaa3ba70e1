/**
 * @module test/shared/control-client
 * The JSON-over-HTTP call shared by the doubles' control clients, and the call record both doubles keep. It only needs `fetch`, so the clients
 * work inside workerd tests (over 127.0.0.1) and from Node scripts (the demo, the benchmark).
 */

/** One request a double received, as both doubles record it and their clients' `calls` return it. */
export interface RecordedCall {
  seq: number;
  method: string;
  /** Path and query below the tenant (`/app/installations/7/access_tokens`, `/.well-known/jwks`). */
  path: string;
  /** The host the caller aimed at (the real hostname when the outbound router routed it). */
  host: string;
  headers: Record<string, string>;
  body: string;
  /** The status the double answered (0 for a hang). */
  status: number;
  at: number;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class ControlClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    /** Names the double in error messages (`issuer double`, `github double`). */
    private readonly name: string,
    private readonly fetchFn: FetchLike = (input, init) => fetch(input, init),
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
  }

  /** `method` on `/__control<path>` with an optional JSON body; the parsed JSON answer. */
  protected async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const response = await this.fetchFn(`${this.base}/__control${path}`, init);
    const text = await response.text();
    if (!response.ok) throw new Error(`${this.name} ${method} ${path}: ${response.status} ${text}`);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }
}

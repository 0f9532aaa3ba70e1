/**
 * Request loops and statistics for the benchmark. Requests go over one keep-alive `node:http` agent
 * (lighter than `fetch`, so the client adds as little as possible to what is measured); every loop is
 * bounded by a request count, and every answer is checked (status 200 and a `token` in the body).
 */

import { Agent, request } from "node:http";

export interface Target {
  /** http://127.0.0.1:PORT/path?query */
  url: string;
  headers: Record<string, string>;
  /** GET when absent. */
  method?: string;
  body?: string;
}

export interface LoadResult {
  /** Per-request latency, ms, in completion order. */
  latencies: number[];
  wallMs: number;
  failures: number;
  /** The first failing answer (status and start of body), for the report. */
  firstFailure?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function closeAgent(): void {
  agent.destroy();
}

/** One request (GET unless the target says otherwise); resolves with status and body. */
export function get(target: Target): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const method = target.method ?? "GET";
    const req = request(target.url, { method, headers: target.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(target.body);
  });
}

function isGranted(answer: { status: number; body: string }): boolean {
  if (answer.status !== 200) return false;
  try {
    return typeof (JSON.parse(answer.body) as { token?: unknown }).token === "string";
  } catch {
    return false;
  }
}

async function timed(target: Target, out: LoadResult): Promise<void> {
  const t0 = performance.now();
  let answer: { status: number; body: string };
  try {
    answer = await get(target);
  } catch (error) {
    answer = { status: 0, body: error instanceof Error ? error.message : String(error) };
  }
  out.latencies.push(performance.now() - t0);
  if (!isGranted(answer)) {
    out.failures++;
    out.firstFailure ??= `${answer.status} ${answer.body.slice(0, 300)}`;
  }
}

/** `n` requests one after the other. */
export async function sequential(target: Target, n: number): Promise<LoadResult> {
  const out: LoadResult = { latencies: [], wallMs: 0, failures: 0 };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await timed(target, out);
  out.wallMs = performance.now() - t0;
  return out;
}

/** `n` requests, `concurrency` in flight at any time. */
export async function concurrent(target: Target, n: number, concurrency: number): Promise<LoadResult> {
  const out: LoadResult = { latencies: [], wallMs: 0, failures: 0 };
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < n) {
      next++;
      await timed(target, out);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  out.wallMs = performance.now() - t0;
  return out;
}

export function merge(results: LoadResult[]): LoadResult {
  const out: LoadResult = { latencies: [], wallMs: 0, failures: 0 };
  for (const r of results) {
    out.latencies.push(...r.latencies);
    out.wallMs += r.wallMs;
    out.failures += r.failures;
    out.firstFailure ??= r.firstFailure;
  }
  return out;
}

/** Nearest-rank percentile (p in 0..100) of `values`. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function perSecond(r: LoadResult): number {
  return r.latencies.length / (r.wallMs / 1000);
}

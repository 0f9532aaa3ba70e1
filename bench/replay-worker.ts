/**
 * The benchmark's I/O probe (docs/performance.md, "Cold exchanges"): a Worker that does nothing but
 * replay, in a new workerd process, the outbound requests and KV operations another Worker's first
 * request made. Its CPU is what that I/O costs workerd (sockets, TLS-free HTTP through the outbound
 * router, KV storage), so the benchmark subtracts it and reports only the CPU a Worker spent beyond
 * its I/O.
 *
 * Request: POST with JSON `{ requests: [{method, url, headers, body}], kvGets: [key], kvPuts: [[key,
 * value, ttlSeconds]] }`; every item is replayed in order and the answer bodies are read to the end.
 */

interface Replay {
  requests: { method: string; url: string; headers: Record<string, string>; body: string }[];
  kvGets: string[];
  kvPuts: [string, string, number][];
}

interface ReplayEnv {
  STS_CACHE: KVNamespace;
}

export default {
  async fetch(request: Request, env: ReplayEnv): Promise<Response> {
    const replay = (await request.json()) as Replay;
    let bytes = 0;
    for (const key of replay.kvGets) bytes += (await env.STS_CACHE.get(key, "text"))?.length ?? 0;
    for (const r of replay.requests) {
      const hasBody = r.method !== "GET" && r.method !== "HEAD";
      const answer = await fetch(r.url, {
        method: r.method,
        headers: r.headers,
        ...(hasBody ? { body: r.body } : {}),
      });
      bytes += (await answer.arrayBuffer()).byteLength;
    }
    for (const [key, value, ttl] of replay.kvPuts) {
      await env.STS_CACHE.put(key, value, { expirationTtl: ttl });
    }
    return new Response(JSON.stringify({ replayed: replay.requests.length, bytes }), {
      headers: { "content-type": "application/json" },
    });
  },
};

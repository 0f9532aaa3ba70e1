/**
 * Eviction markers of the two-tier cache (src/platform/cache.ts; docs/webhook.md, "Eviction"): an
 * eviction drops the entry and leaves a marker in memory and KV; a reader that took the marker before
 * its fetch stores its value only if no eviction came in between, also when the eviction lands between
 * its write and its check, and in another isolate over the same KV.
 */

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CacheFactory } from "../../../src/platform/cache";
import { ManualClock } from "../../../src/platform/clock";

const TTL = { ttlMs: 60_000 };
const MARKER_MS = 300_000;

function tierOver(kv: KVNamespace, name: string) {
  return new CacheFactory(new ManualClock(), kv).create<string>({ name, memoryEntries: 10 });
}

const unique = () => `evict-${crypto.randomUUID().slice(0, 8)}`;

describe("eviction markers", () => {
  it("a value read before an eviction is not stored, in the same isolate or another; one read after is", async () => {
    const name = unique();
    const a = tierOver(env.STS_CACHE, name);
    const b = tierOver(env.STS_CACHE, name);
    for (const reader of [a, b]) {
      const mark = await reader.marker("k");
      await a.evict("k", MARKER_MS);
      expect(await reader.putUnlessEvicted("k", "old", TTL, mark)).toBe(false);
      expect(await tierOver(env.STS_CACHE, name).get("k")).toBeUndefined();
      expect(await reader.get("k")).toBeUndefined();
    }
    const mark = await b.marker("k");
    expect(await b.putUnlessEvicted("k", "new", TTL, mark)).toBe(true);
    expect((await tierOver(env.STS_CACHE, name).get("k"))?.value).toBe("new");
  });

  it("an eviction that lands between the write and its check deletes the write", async () => {
    const name = unique();
    const evictor = tierOver(env.STS_CACHE, name);
    let evictOnPut = true;
    const racing = {
      get: (key: string, type: never) => env.STS_CACHE.get(key, type),
      delete: (key: string) => env.STS_CACHE.delete(key),
      put: async (key: string, value: string, options: never) => {
        await env.STS_CACHE.put(key, value, options);
        if (evictOnPut && !key.includes("~evicted:")) {
          evictOnPut = false;
          await evictor.evict("k", MARKER_MS);
        }
      },
    } as unknown as KVNamespace;
    const reader = tierOver(racing, name);
    const mark = await reader.marker("k");
    expect(await reader.putUnlessEvicted("k", "old", TTL, mark)).toBe(false);
    expect(await reader.get("k")).toBeUndefined();
    expect(await tierOver(env.STS_CACHE, name).get("k")).toBeUndefined();
  });

  it("evict drops the stale window too", async () => {
    const name = unique();
    const tier = tierOver(env.STS_CACHE, name);
    await tier.put("k", "v", { ttlMs: 1, staleMs: 3_600_000 });
    await tier.evict("k", MARKER_MS);
    expect(await tierOver(env.STS_CACHE, name).get("k", { allowStale: true })).toBeUndefined();
  });
});

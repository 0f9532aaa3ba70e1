/**
 * @module cache
 * The two-tier cache (docs/security.md, "Caching"): a bounded LRU in isolate memory in front of the
 * `STS_CACHE` KV namespace. Freshness is decided from expiry times stored inside each value, against the
 * injectable clock; KV's own `expirationTtl` only garbage-collects. A KV failure never fails a request: reads
 * degrade to a miss and writes are dropped (the caller then fetches, and verifies, as if cold).
 *
 * One {@link CacheFactory} is made per Worker instance (isolate). A test that builds a second factory
 * over the same KV namespace gets a "new isolate": shared KV, empty memory.
 */

import type { Clock } from "./clock";
import { isolateState } from "./isolate";
import { KV_MAX_KEY_BYTES, KV_MIN_EXPIRATION_TTL_SECONDS } from "./limits";

/**
 * A bounded least-recently-used map (insertion order of a `Map` is the recency order): at most
 * `maxEntries` entries and, when `weigh` is given, at most `maxWeight` in total (a value heavier than
 * that on its own is not kept), so values of attacker-chosen size cannot exhaust isolate memory.
 */
export class Lru<V> {
  private readonly map = new Map<string, { value: V; weight: number }>();
  private weight = 0;
  constructor(
    private readonly maxEntries: number,
    private readonly maxWeight = Number.POSITIVE_INFINITY,
    private readonly weigh: (value: V) => number = () => 0,
  ) {}

  get(key: string): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    this.delete(key);
    const weight = this.weigh(value);
    if (weight > this.maxWeight) return;
    this.map.set(key, { value, weight });
    this.weight += weight;
    while (this.map.size > this.maxEntries || this.weight > this.maxWeight) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.map.delete(key);
    this.weight -= entry.weight;
  }

  get size(): number {
    return this.map.size;
  }
}

/** What is stored, in memory and (as JSON) in KV. Times are epoch milliseconds. */
export interface Stored<V> {
  v: V;
  /** Fresh until this time. */
  fresh: number;
  /** Usable as a stale copy (for callers that ask for one) until this time; >= fresh. */
  stale: number;
}

interface CacheHit<V> {
  value: V;
  /** False when only the stale window is left (see {@link TierOptions.staleMs}). */
  fresh: boolean;
  /** Where the value came from, for tests and the benchmark. */
  from: "memory" | "kv";
}

interface TierOptions<V = unknown> {
  /** Namespace of this tier inside the KV key space (e.g. `jwks`). */
  name: string;
  /** Maximum entries kept in isolate memory. */
  memoryEntries: number;
  /** A memory copy is trusted at most this long, however long the value is fresh (0 = no cap). */
  memoryMaxMs?: number;
  /** False keeps the tier in memory only (negative entries an attacker could multiply). */
  kv?: boolean;
  /** With {@link weigh}: the most the memory copies may weigh together (e.g. characters of text). */
  memoryMaxWeight?: number;
  weigh?: (value: V) => number;
}

interface PutOptions {
  /** How long the value is fresh. */
  ttlMs: number;
  /** How long after `ttlMs` a stale copy may still be served (default 0). */
  staleMs?: number;
}

/** Counters a test or the benchmark can read. */
interface CacheStats {
  memoryHits: number;
  kvHits: number;
  misses: number;
  kvErrors: number;
}

class CacheTier<V> {
  private readonly memory: Lru<Stored<V>>;
  readonly stats: CacheStats = { memoryHits: 0, kvHits: 0, misses: 0, kvErrors: 0 };

  constructor(
    private readonly options: TierOptions<V>,
    private readonly clock: Clock,
    private readonly kv: KVNamespace | undefined,
    private readonly onKvError: (op: string, error: unknown) => void,
  ) {
    const weigh = options.weigh;
    this.memory = new Lru<Stored<V>>(
      options.memoryEntries,
      options.memoryMaxWeight,
      weigh === undefined ? undefined : (stored) => weigh(stored.v),
    );
  }

  private get useKv(): boolean {
    return this.kv !== undefined && this.options.kv !== false;
  }

  /**
   * The cached value for `key`, or undefined. Stale copies are returned (with `fresh: false`) only
   * when `allowStale` is set; otherwise an expired entry is a miss.
   */
  async get(
    key: string,
    { allowStale = false }: { allowStale?: boolean } = {},
  ): Promise<CacheHit<V> | undefined> {
    const now = this.clock.now();
    const inMemory = this.memory.get(key);
    if (inMemory !== undefined) {
      if (now < inMemory.fresh) {
        this.stats.memoryHits++;
        return { value: inMemory.v, fresh: true, from: "memory" };
      }
      this.memory.delete(key);
    }
    if (this.useKv) {
      const stored = await this.readKv(key);
      if (stored !== undefined) {
        if (now < stored.fresh) {
          this.remember(key, stored, now);
          this.stats.kvHits++;
          return { value: stored.v, fresh: true, from: "kv" };
        }
        if (allowStale && now < stored.stale) {
          this.stats.kvHits++;
          return { value: stored.v, fresh: false, from: "kv" };
        }
      }
    }
    this.stats.misses++;
    return undefined;
  }

  /** Stores `value` in memory and (unless memory-only) in KV; a KV failure is logged and dropped. */
  async put(key: string, value: V, { ttlMs, staleMs = 0 }: PutOptions): Promise<void> {
    const now = this.clock.now();
    const stored: Stored<V> = { v: value, fresh: now + ttlMs, stale: now + ttlMs + staleMs };
    this.remember(key, stored, now);
    if (!this.useKv || this.kv === undefined) return;
    const ttlSeconds = Math.max(KV_MIN_EXPIRATION_TTL_SECONDS, Math.ceil((ttlMs + staleMs) / 1000) + 60);
    try {
      await this.kv.put(await this.kvKey(key), JSON.stringify(stored), { expirationTtl: ttlSeconds });
    } catch (error) {
      this.stats.kvErrors++;
      this.onKvError("put", error);
    }
  }

  /** Drops `key` from memory and KV (the webhook's eviction entry point builds on this). */
  async delete(key: string): Promise<void> {
    this.memory.delete(key);
    if (!this.useKv || this.kv === undefined) return;
    try {
      await this.kv.delete(await this.kvKey(key));
    } catch (error) {
      this.stats.kvErrors++;
      this.onKvError("delete", error);
    }
  }

  private remember(key: string, stored: Stored<V>, now: number): void {
    const cap = this.options.memoryMaxMs;
    const fresh = cap ? Math.min(stored.fresh, now + cap) : stored.fresh;
    this.memory.set(key, { ...stored, fresh });
  }

  private async readKv(key: string): Promise<Stored<V> | undefined> {
    if (this.kv === undefined) return undefined;
    try {
      const raw = await this.kv.get(await this.kvKey(key), "text");
      if (raw === null) return undefined;
      const parsed = JSON.parse(raw) as Partial<Stored<V>>;
      if (typeof parsed !== "object" || parsed === null) return undefined;
      if (typeof parsed.fresh !== "number" || typeof parsed.stale !== "number" || !("v" in parsed))
        return undefined;
      return parsed as Stored<V>;
    } catch (error) {
      this.stats.kvErrors++;
      this.onKvError("get", error);
      return undefined;
    }
  }

  private async kvKey(key: string): Promise<string> {
    const full = `${this.options.name}:${key}`;
    if (new TextEncoder().encode(full).byteLength <= KV_MAX_KEY_BYTES) return full;
    return `${this.options.name}:sha256:${await sha256Hex(key)}`;
  }
}

/** Lowercase hex SHA-256 of a UTF-8 string (also what the audit line records for tokens). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Makes the tiers of one Worker instance. All tiers of a factory share the clock and the KV namespace.
 */
export class CacheFactory {
  constructor(
    readonly clock: Clock,
    readonly kv: KVNamespace | undefined,
    private readonly onKvError: (op: string, error: unknown) => void = () => {},
  ) {}

  /** A new tier; the service declares its tiers with {@link cacheTier}, so each exists once per instance. */
  create<V>(options: TierOptions<V>): CacheTier<V> {
    return new CacheTier<V>(options, this.clock, this.kv, this.onKvError);
  }
}

/**
 * Declares a tier once, at module level: `const policies = cacheTier<Cached>({ name: "gh-policy", … })`;
 * `policies(rt)` is then that instance's tier, created on first use and typed by this declaration (never
 * looked up by its name).
 */
export function cacheTier<V>(
  options: TierOptions<V>,
): (owner: { readonly caches: CacheFactory }) => CacheTier<V> {
  const tiers = isolateState((caches: CacheFactory) => caches.create(options));
  return (owner) => tiers(owner.caches);
}

/**
 * @module cache
 * The two-tier cache (docs/security.md, "Caching"): a bounded LRU in isolate memory in front of the
 * `STS_CACHE` KV namespace. Freshness is decided from expiry times stored inside each value, against the
 * injectable clock; KV's own `expirationTtl` only garbage-collects. A KV failure never fails a request: reads
 * degrade to a miss and writes are dropped (the caller then fetches, and verifies, as if cold).
 *
 * One {@link CacheFactory} is made per Worker instance (isolate). A test that builds a second factory
 * over the same KV namespace gets a "new isolate": shared KV, empty memory.
 *
 * Evictions leave a marker (docs/webhook.md, "Eviction"): a reader takes the key's marker before it
 * fetches and stores its result only while the marker is unchanged, so a read that started before an
 * eviction never writes an old value back over it.
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
  /**
   * KV is not written when it already holds this very value (as this tier last read it) fresh for at
   * least this long from now (default 0: fresh at all); docs/performance.md, "KV writes".
   */
  unchangedIfFreshForMs?: number;
}

/** Counters a test or the benchmark can read. */
interface CacheStats {
  memoryHits: number;
  kvHits: number;
  misses: number;
  kvErrors: number;
  /** Puts that left KV alone because it held the same value, fresh. */
  kvWritesSkipped: number;
}

class CacheTier<V> {
  private readonly memory: Lru<Stored<V>>;
  /** This isolate's eviction markers, by key. */
  private readonly marks: Lru<string>;
  /** What this tier last read from KV per key (its JSON and freshness), so an unchanged value is not re-put. */
  private readonly inKv: Lru<{ json: string; fresh: number }>;
  readonly stats: CacheStats = { memoryHits: 0, kvHits: 0, misses: 0, kvErrors: 0, kvWritesSkipped: 0 };

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
    this.marks = new Lru<string>(options.memoryEntries);
    this.inKv = new Lru(options.memoryEntries);
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
  async put(
    key: string,
    value: V,
    { ttlMs, staleMs = 0, unchangedIfFreshForMs = 0 }: PutOptions,
  ): Promise<void> {
    const now = this.clock.now();
    const stored: Stored<V> = { v: value, fresh: now + ttlMs, stale: now + ttlMs + staleMs };
    this.remember(key, stored, now);
    if (!this.useKv || this.kv === undefined) return;
    // What KV already holds unchanged and fresh is not written again (a write costs more than a read).
    const held = this.inKv.get(key);
    if (
      held !== undefined &&
      held.fresh > now + unchangedIfFreshForMs &&
      held.json === JSON.stringify(value)
    ) {
      this.stats.kvWritesSkipped++;
      return;
    }
    this.inKv.delete(key);
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
    this.inKv.delete(key);
    if (!this.useKv || this.kv === undefined) return;
    try {
      await this.kv.delete(await this.kvKey(key));
    } catch (error) {
      this.stats.kvErrors++;
      this.onKvError("delete", error);
    }
  }

  /**
   * Drops `key` (memory and KV) and leaves a new eviction marker for it: in this isolate's memory, and
   * in KV for `markerTtlMs`, where other isolates see it. The marker is written before the entry is
   * deleted, so a reader that stores after the marker check has its write deleted here.
   */
  async evict(key: string, markerTtlMs: number): Promise<void> {
    const mark = crypto.randomUUID();
    this.marks.set(key, mark);
    if (this.useKv && this.kv !== undefined) {
      const ttlSeconds = Math.max(KV_MIN_EXPIRATION_TTL_SECONDS, Math.ceil(markerTtlMs / 1000));
      try {
        await this.kv.put(await this.kvKey(key, MARKER), mark, { expirationTtl: ttlSeconds });
      } catch (error) {
        this.stats.kvErrors++;
        this.onKvError("put", error);
      }
    }
    await this.delete(key);
  }

  /**
   * The eviction marker of `key` as this isolate sees it (its own marker and the one in KV). A reader
   * takes it before it fetches and hands it to {@link putUnlessEvicted}. An unreadable KV marker is a
   * fresh value every time, so nothing is stored while KV cannot say.
   */
  async marker(key: string): Promise<string> {
    const own = this.marks.get(key) ?? "";
    if (!this.useKv || this.kv === undefined) return own;
    try {
      return `${own}|${(await this.kv.get(await this.kvKey(key, MARKER), "text")) ?? ""}`;
    } catch (error) {
      this.stats.kvErrors++;
      this.onKvError("get", error);
      return `${own}|unreadable ${crypto.randomUUID()}`;
    }
  }

  /**
   * {@link put}, unless `key` was evicted since `mark` was taken: the marker is read again after the
   * write, and if it changed the write is deleted again, so a value read before an eviction never
   * outlives it (the eviction writes its marker before it deletes: whichever of the two comes last,
   * the old value goes). One marker read after the write, none before: an eviction racing a read is
   * rare, and KV writes cost more than reads. Answers whether the value is stored.
   */
  async putUnlessEvicted(key: string, value: V, options: PutOptions, mark: string): Promise<boolean> {
    await this.put(key, value, options);
    if ((await this.marker(key)) === mark) return true;
    await this.delete(key);
    return false;
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
      this.inKv.set(key, { json: JSON.stringify(parsed.v), fresh: parsed.fresh });
      return parsed as Stored<V>;
    } catch (error) {
      this.stats.kvErrors++;
      this.onKvError("get", error);
      return undefined;
    }
  }

  /** The KV key of `key` (`kind` MARKER: of its eviction marker). */
  private async kvKey(key: string, kind = ""): Promise<string> {
    const full = `${this.options.name}${kind}:${key}`;
    if (new TextEncoder().encode(full).byteLength <= KV_MAX_KEY_BYTES) return full;
    return `${this.options.name}${kind}:sha256:${await sha256Hex(key)}`;
  }
}

/** Eviction markers live beside the entries, under `<tier name>~evicted:`. */
const MARKER = "~evicted";

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

/**
 * @module runtime
 * What one Worker instance (isolate) keeps between requests: the parsed configuration, the clock, the
 * cache factory and the outbound `fetch`. The Worker entry builds one per isolate; tests build their own
 * (with a manual clock, or a second one over the same KV to play a "new isolate").
 */

import type { Result } from "../errors/catalogue";
import { CacheFactory } from "./cache";
import { type Clock, systemClock } from "./clock";
import { type Config, type Env, loadConfig } from "./config";

export type FetchFn = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

export interface Runtime {
  readonly env: Env;
  readonly config: Result<Config>;
  readonly clock: Clock;
  readonly caches: CacheFactory;
  /** Every outbound request goes through this (so tests and the benchmark can count them). */
  readonly fetch: FetchFn;
  /** Per-instance state of the stages (App JWT, JWKS cool-downs, …), created by the stage that owns it. */
  readonly state: Map<string, unknown>;
}

export interface RuntimeOptions {
  clock?: Clock;
  fetch?: FetchFn;
}

function logKvError(op: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.warn(JSON.stringify({ msg: "kv error; continuing without the shared cache", op, error: message }));
}

export function createRuntime(env: Env, options: RuntimeOptions = {}): Runtime {
  const config = loadConfig(env);
  const clock = options.clock ?? systemClock;
  const kv = config.ok ? config.value.cache : undefined;
  return {
    env,
    config,
    clock,
    caches: new CacheFactory(clock, kv, logKvError),
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    state: new Map(),
  };
}

/** The settings that select a runtime: if none changed, the instance (and its memory) is reused. */
function fingerprint(env: Env): string {
  return JSON.stringify([
    env.STS_DOMAIN,
    env.GITHUB_APP_ID,
    env.GITHUB_APP_PRIVATE_KEY,
    env.GITHUB_BASE_URL,
    env.ORG_POLICY_REPO,
    env.ALLOWED_ISSUERS,
    env.ALLOWED_ISSUER_PATTERNS,
    env.GITHUB_WEBHOOK_SECRET,
  ]);
}

let current: { print: string; kv: unknown; runtime: Runtime } | undefined;

/** The runtime of this isolate for `env`, created on first use and rebuilt only if the settings change. */
export function runtimeFor(env: Env): Runtime {
  if (current !== undefined && current.runtime.env === env) return current.runtime;
  const print = fingerprint(env);
  if (current !== undefined && current.print === print && current.kv === env.STS_CACHE)
    return current.runtime;
  const runtime = createRuntime(env);
  current = { print, kv: env.STS_CACHE, runtime };
  return runtime;
}

/** Per-instance state slot `key`, created with `init` on first use. */
export function stateOf<T>(runtime: Runtime, key: string, init: () => T): T {
  let value = runtime.state.get(key) as T | undefined;
  if (value === undefined) {
    value = init();
    runtime.state.set(key, value);
  }
  return value;
}

/**
 * @module runtime
 * What one Worker instance (isolate) keeps between requests: the parsed configuration, the clock, the
 * cache factory and the outbound `fetch`. The Worker entry builds one per isolate; tests build their own
 * (with a manual clock, or a second one over the same KV to play a "new isolate").
 */

import type { Result } from "../errors/catalogue";
import type { OidcDeps } from "../oidc/deps";
import { CacheFactory } from "./cache";
import { type Clock, systemClock } from "./clock";
import { type Config, type Env, loadConfig } from "./config";
import type { FetchFn } from "./fetch";

export type { FetchFn };

export interface Runtime {
  readonly env: Env;
  readonly config: Result<Config>;
  readonly clock: Clock;
  readonly caches: CacheFactory;
  /** Every outbound request goes through this (so tests and the benchmark can count them). */
  readonly fetch: FetchFn;
  /** What the OIDC stage is handed (a narrow view of this runtime). */
  readonly oidc: OidcDeps;
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
  const caches = new CacheFactory(clock, kv, logKvError);
  const outbound: FetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const allowlist = config.ok ? config.value.issuerAllowlist : null;
  return {
    env,
    config,
    clock,
    caches,
    fetch: outbound,
    oidc: { fetch: outbound, clock, caches, allowlist },
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

/** The bindings (objects, not settings) a runtime holds: a different one means a new runtime. */
function bindingsOf(env: Env): readonly unknown[] {
  return [env.STS_CACHE, env.CALLER_LIMITER, env.OWNER_LIMITER];
}

let current: { print: string; bindings: readonly unknown[]; rt: Runtime } | undefined;

/** The runtime of this isolate for `env`, created on first use and rebuilt only if the settings change. */
export function runtimeFor(env: Env): Runtime {
  if (current !== undefined && current.rt.env === env) return current.rt;
  const print = fingerprint(env);
  const bindings = bindingsOf(env);
  if (current?.print === print && current.bindings.every((b, i) => b === bindings[i])) return current.rt;
  const rt = createRuntime(env);
  current = { print, bindings, rt };
  return rt;
}

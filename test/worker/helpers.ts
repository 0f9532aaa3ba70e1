/**
 * Helpers for tests that run inside workerd: a complete test configuration pointing at the doubles,
 * and runtimes built over it (a "new isolate" is a second runtime over the same KV), one of them recording
 * every outbound request.
 */

import { env } from "cloudflare:workers";
import { ManualClock } from "../../src/platform/clock";
import type { Env } from "../../src/platform/config";
import { createRuntime, type FetchFn, type Runtime, type RuntimeOptions } from "../../src/platform/runtime";

export const TEST_DOMAIN = "sts.example.com";
export const TEST_APP_ID = "4242";

/** A valid configuration: test App key (PKCS#1, as GitHub hands it out), KV from the pool. */
export function testEnv(overrides: Partial<Env> = {}): Env {
  return {
    STS_DOMAIN: TEST_DOMAIN,
    GITHUB_APP_ID: TEST_APP_ID,
    GITHUB_APP_PRIVATE_KEY: env.TEST_APP_KEY_PKCS1,
    STS_CACHE: env.STS_CACHE,
    ...overrides,
  };
}

export function testRuntime(overrides: Partial<Env> = {}, options: RuntimeOptions = {}): Runtime {
  return createRuntime(testEnv(overrides), { clock: new ManualClock(), ...options });
}

/** The URL of an outbound request, whichever form `fetch` was given it in. */
export function urlOf(input: Request | string | URL): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}

export interface CountingRuntime {
  rt: Runtime;
  clock: ManualClock;
  /** The URL of every outbound request the runtime made, in order. */
  fetches: string[];
}

/**
 * A runtime ("isolate") whose outbound requests are recorded. Each goes out through the real `fetch` (to
 * the doubles, through the outbound router) unless `respond` answers it instead; pass another runtime's
 * `clock` to keep two in step.
 */
export function countingRuntime(
  overrides: Partial<Env> = {},
  {
    clock = new ManualClock(),
    respond = (input, init) => fetch(input, init),
  }: { clock?: ManualClock; respond?: FetchFn } = {},
): CountingRuntime {
  const fetches: string[] = [];
  const counted: FetchFn = (input, init) => {
    fetches.push(urlOf(input));
    return respond(input, init);
  };
  return { rt: createRuntime(testEnv(overrides), { clock, fetch: counted }), clock, fetches };
}

export const doubles = {
  issuerUrl: env.ISSUER_DOUBLE_URL,
  githubUrl: env.GITHUB_DOUBLE_URL,
};

/**
 * Helpers for tests that run inside workerd: a complete test configuration pointing at the doubles,
 * and runtimes built over it (a "new isolate" is a second runtime over the same KV).
 */

import { env } from "cloudflare:workers";
import { ManualClock } from "../../src/platform/clock";
import type { Env } from "../../src/platform/config";
import { createRuntime, type Runtime, type RuntimeOptions } from "../../src/platform/runtime";

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

export const doubles = {
  issuerUrl: env.ISSUER_DOUBLE_URL,
  githubUrl: env.GITHUB_DOUBLE_URL,
};

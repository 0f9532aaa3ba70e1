/// <reference types="vite/client" />
/**
 * Helpers for tests that run inside workerd: a complete test configuration pointing at the doubles,
 * and runtimes built over it (a "new isolate" is a second runtime over the same KV), one of them recording
 * every outbound request; the shared policy fixtures of test/fixtures/policies.
 */

import { env } from "cloudflare:workers";
import { afterEach, beforeEach, type MockInstance, vi } from "vitest";
import { ManualClock } from "../../src/platform/clock";
import type { Env } from "../../src/platform/config";
import { setDeadline, setRetryPause } from "../../src/platform/deadline";
import { createRuntime, type FetchFn, type Runtime, type RuntimeOptions } from "../../src/platform/runtime";
import FOO from "../fixtures/policies/foo.sts.yaml?raw";
import USE_ACTION from "../fixtures/policies/use-action.sts.yaml?raw";
import VERIFY_PROD from "../fixtures/policies/verify-prod.sts.yaml?raw";
import { GitHubDoubleClient, type Tenant, type TenantSetup } from "../shared/github-double";
import { IssuerDoubleClient } from "../shared/issuer-double";

export const TEST_DOMAIN = "sts.example.com";
export const TEST_APP_ID = "4242";

/** The policy `foo` of octo-sts's own tests: subject `foo`, audience `octosts`, `pull_requests: write`. */
export const FOO_POLICY: string = FOO;
/** octo-sts's own `verify-prod` policy (octo-sts/app), as written. */
export const VERIFY_PROD_POLICY: string = VERIFY_PROD;
/** octo-sts's own `use-action` policy (octo-sts/action), as written. */
export const USE_ACTION_POLICY: string = USE_ACTION;

/** A name no other test (test files run in parallel) uses: a double tenant, an owner. */
export function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

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

/**
 * A runtime for tests: its retries go at once instead of after their pauses (what is retried and how
 * often is the same; test/worker/platform/deadline.test.ts shows the pauses themselves).
 */
function quickRetries(rt: Runtime): Runtime {
  setRetryPause(rt.caches, async () => {});
  return rt;
}

export function testRuntime(overrides: Partial<Env> = {}, options: RuntimeOptions = {}): Runtime {
  return quickRetries(createRuntime(testEnv(overrides), { clock: new ManualClock(), ...options }));
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
  const counted: FetchFn = async (input, init) => {
    const url = urlOf(input);
    fetches.push(url);
    return respond(input, init);
  };
  const rt = quickRetries(createRuntime(testEnv(overrides), { clock, fetch: counted }));
  return { rt, clock, fetches };
}

/**
 * Times out, as `AbortSignal.timeout` would, the requests of `rt` that `matches` picks (by
 * `METHOD URL-or-path`), made while `work` runs, each once `held()` (the matching requests the double has
 * received) has grown by more than were already timed out: the double has the request and will never
 * answer it. So a test of a hanging service waits on no clock, and the time out cannot come before the
 * request reaches the double, however slow the machine. Every other request keeps its real timeout;
 * `rt`'s own deadlines are restored when `work` settles.
 */
export async function timingOut<T>(
  rt: Runtime,
  matches: (target: string) => boolean,
  held: () => Promise<number>,
  work: () => Promise<T>,
): Promise<T> {
  const waiting: AbortController[] = [];
  setDeadline(rt.caches, (target, timeoutMs) => {
    if (!matches(target)) return null;
    const controller = new AbortController();
    waiting.push(controller);
    // The real limit still applies: a request `held` never counts fails as it would in production.
    return AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]);
  });
  const before = await held();
  let settled = false;
  const running = work().finally(() => {
    settled = true;
  });
  try {
    let timedOut = 0;
    while (!settled) {
      const next = waiting[timedOut];
      if (next !== undefined && (await held()) - before > timedOut) {
        next.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
        timedOut++;
      } else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return await running;
  } finally {
    setDeadline(rt.caches, null);
  }
}

export interface ConsoleCapture {
  /** Every console line of the running test, as printed (arguments joined, objects as JSON). */
  readonly lines: string[];
  /** The audit lines among them (`"msg":"sts.exchange"`), parsed. */
  audit(): Record<string, unknown>[];
}

/** Captures (and silences) the console for every test of the file that calls this at its top level. */
export function captureConsole(): ConsoleCapture {
  const lines: string[] = [];
  const spies: MockInstance[] = [];
  beforeEach(() => {
    lines.length = 0;
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      spies.push(
        vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
          lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
        }),
      );
    }
  });
  afterEach(() => {
    for (const spy of spies.splice(0)) spy.mockRestore();
  });
  return {
    lines,
    audit: () =>
      lines
        .filter((l) => l.includes('"msg":"sts.exchange"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** The control clients of the two doubles (vitest.config.ts hands their URLs in as bindings). */
export const github = new GitHubDoubleClient(env.GITHUB_DOUBLE_URL);
export const issuers = new IssuerDoubleClient(env.ISSUER_DOUBLE_URL);

/**
 * A path tenant of the GitHub double, named `<prefix>-…`: owner `org` has the App installed and `org/repo`
 * holds the policy `foo`, unless `setup` says otherwise.
 */
export function defaultTenant(prefix: string, setup: Partial<TenantSetup> = {}): Promise<Tenant> {
  return github.setupTenant(unique(prefix), {
    appId: TEST_APP_ID,
    installations: [{ account: "org" }],
    repos: { "org/repo": { files: { ".github/chainguard/foo.sts.yaml": FOO_POLICY } } },
    ...setup,
  });
}

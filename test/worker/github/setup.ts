/**
 * Helpers of the GitHub stage's tests (test/worker/github/ and test/worker/security/github.test.ts): a tenant
 * of the GitHub double per test (test files run in parallel), a runtime pointing at it, and a `waitUntil`
 * collector.
 */

import type { ManualClock } from "../../../src/platform/clock";
import type { Env } from "../../../src/platform/config";
import type { Runtime } from "../../../src/platform/runtime";
import type { TenantSetup } from "../../shared/github-double";
import { defaultTenant, testRuntime } from "../helpers";

/** Fault path of the default tenant's policy reads. */
export const CONTENTS = "/repos/org/repo/contents/**";

export interface GitHubTenant {
  id: string;
  baseUrl: string;
  rt: Runtime;
  clock: ManualClock;
}

/** A path tenant with org `org` (repo `org/repo` holding policy `foo`) unless `setup` says otherwise. */
export async function tenant(
  setup: Partial<TenantSetup> = {},
  envOverrides: Partial<Env> = {},
): Promise<GitHubTenant> {
  const created = await defaultTenant("gh", setup);
  const rt = runtimeAt(created.baseUrl, envOverrides);
  return { id: created.id, baseUrl: created.baseUrl, rt, clock: rt.clock as ManualClock };
}

export function runtimeAt(baseUrl: string | undefined, envOverrides: Partial<Env> = {}): Runtime {
  return testRuntime(baseUrl === undefined ? envOverrides : { GITHUB_BASE_URL: baseUrl, ...envOverrides });
}

/** A `waitUntil` that remembers the promises so a test can wait for the background work. */
export function waiter() {
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil(promise: Promise<unknown>) {
      pending.push(promise);
    },
    settle: () => Promise.all(pending),
  };
}

/** Decodes a JWT's header and payload (no verification: the double verified it). */
export function decodeJwt(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, p] = jwt.split(".");
  const part = (s: string | undefined) =>
    JSON.parse(atob((s ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
  return { header: part(h), claims: part(p) };
}

export function bearerOf(headers: Record<string, string>): string {
  return (headers.authorization ?? "").replace(/^Bearer /i, "");
}

/**
 * @module platform/deadline
 * How long one outbound request may wait for its answer (headers and body). In production every
 * request gets `AbortSignal.timeout(ms)` with the limit its caller names (platform/limits.ts). A test
 * that makes a double hang hands one instance its own {@link Deadline} and aborts the held request itself
 * once the double has it, so no test waits on a real clock and none depends on the machine's speed.
 */

import type { CacheFactory } from "./cache";
import { isolateState } from "./isolate";

/**
 * Chooses the signal of one request: `target` is `METHOD URL-or-path` (`GET https://issuer/.well-known/…`,
 * `POST /app/installations/1/access_tokens`); `null` leaves the request to its real timeout.
 */
export type Deadline = (target: string, timeoutMs: number) => AbortSignal | null;

const deadlines = isolateState<{ deadline: Deadline | null }>(() => ({ deadline: null }));

/** The signal that bounds one request of the instance whose caches are `instance`. */
export function requestSignal(instance: CacheFactory, target: string, timeoutMs: number): AbortSignal {
  return deadlines(instance).deadline?.(target, timeoutMs) ?? AbortSignal.timeout(timeoutMs);
}

/** Replaces (or, with `null`, restores) the deadlines of one instance: tests only. */
export function setDeadline(instance: CacheFactory, deadline: Deadline | null): void {
  deadlines(instance).deadline = deadline;
}

/**
 * @module platform/deadline
 * The real waits of outbound requests: how long one may wait for its answer (headers and body), and the
 * pause before a retry. In production every request gets `AbortSignal.timeout(ms)` with the limit its
 * caller names (platform/limits.ts) and a retry waits its delay. A test that makes a double hang hands
 * one instance its own {@link Deadline} and aborts the held request itself once the double has it, and a
 * test of retries may skip the pauses, so no test waits on a real clock and none depends on the machine's
 * speed.
 */

import type { CacheFactory } from "./cache";
import { isolateState } from "./isolate";

/**
 * Chooses the signal of one request: `target` is `METHOD URL-or-path` (`GET https://issuer/.well-known/…`,
 * `POST /app/installations/1/access_tokens`); `null` leaves the request to its real timeout.
 */
export type Deadline = (target: string, timeoutMs: number) => AbortSignal | null;

/** Waits before a retry; resolves when the retry may go. */
export type Pause = (ms: number) => Promise<void>;

const realPause: Pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const deadlines = isolateState<{ deadline: Deadline | null; pause: Pause }>(() => ({
  deadline: null,
  pause: realPause,
}));

/** The signal that bounds one request of the instance whose caches are `instance`. */
export function requestSignal(instance: CacheFactory, target: string, timeoutMs: number): AbortSignal {
  return deadlines(instance).deadline?.(target, timeoutMs) ?? AbortSignal.timeout(timeoutMs);
}

/** Replaces (or, with `null`, restores) the deadlines of one instance: tests only. */
export function setDeadline(instance: CacheFactory, deadline: Deadline | null): void {
  deadlines(instance).deadline = deadline;
}

/** Waits `ms` before a retry of the instance whose caches are `instance`. */
export function retryPause(instance: CacheFactory, ms: number): Promise<void> {
  return deadlines(instance).pause(ms);
}

/** Replaces (or, with `null`, restores) the retry pause of one instance: tests only. */
export function setRetryPause(instance: CacheFactory, pause: Pause | null): void {
  deadlines(instance).pause = pause ?? realPause;
}

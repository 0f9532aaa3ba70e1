/**
 * @module github/http
 * The one way this service talks to the GitHub REST API. Every request goes through `rt.fetch` (so tests
 * and the benchmark can count calls) against `GITHUB_BASE_URL` (GitHub Enterprise Server's
 * `https://HOST/api/v3` works as well as `https://api.github.com`), with the headers GitHub requires
 * (`User-Agent`, `Accept`, `X-GitHub-Api-Version`), a timeout, and the transient-failure policy
 * (docs/differences-from-octo-sts.md, "Retries and rate limits"): 5xx and network errors are retried twice
 * quickly, then the call is `GITHUB_UNAVAILABLE`. Classification of the other answers (404, 422, 403, rate
 * limits) belongs to the caller, which knows what the call was for; GitHub's bodies are never passed on
 * (GHSA-h3qp-hwvr-9xcq).
 */

import { type Failure, failure } from "../errors/catalogue";
import type { Clock } from "../platform/clock";
import { requestSignal, retryPause } from "../platform/deadline";
import { NO_ANSWER } from "../platform/fetch";
import {
  GITHUB_API_VERSION,
  GITHUB_REQUEST_TIMEOUT_MS,
  GITHUB_RETRY_DELAY_MS,
  GITHUB_TRANSIENT_RETRIES,
  GITHUB_USER_AGENT,
} from "../platform/limits";
import type { Runtime } from "../platform/runtime";

export const GITHUB_JSON = "application/vnd.github+json";
/** The raw media type: the contents API answers with the file's bytes instead of base64 JSON. */
export const GITHUB_RAW = "application/vnd.github.raw+json";

export interface GitHubCall {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Path below the base URL, already escaped (`/app/installations/1/access_tokens`). */
  path: string;
  /** The full `Authorization` value (`Bearer <app jwt>`, `token ghs_…`). */
  authorization: string;
  accept?: string;
  /** A JSON request body, already serialised (the mint body's member order matters). */
  body?: string;
  /** What the call is, for the audit detail (`mint`, `policy read`, …). */
  what: string;
}

function baseUrlOf(rt: Runtime): string {
  if (!rt.config.ok) throw new Error("GitHub call without a valid configuration");
  return rt.config.value.githubBaseUrl;
}

/** One attempt of a call: GitHub's answer and its status, or no answer at all (and why, in our words). */
export type Attempt<T> = { answer: T; status: number; discard?: () => Promise<void> } | { noAnswer: string };

/**
 * The transient-failure policy of every GitHub call: a timeout per attempt, 5xx and network errors
 * retried twice quickly, then `GITHUB_UNAVAILABLE`; the first non-5xx answer is the caller's to classify.
 * A timeout is not retried: a GitHub that hangs once will likely hang again, and three timeouts would
 * hold the caller for half a minute.
 */
export async function withTransientRetries<T>(
  rt: Runtime,
  call: Pick<GitHubCall, "what" | "method" | "path">,
  attempt: (signal: AbortSignal) => Promise<Attempt<T>>,
): Promise<{ ok: true; value: T } | { ok: false; failure: Failure }> {
  let last = "";
  for (let n = 0; n <= GITHUB_TRANSIENT_RETRIES; n++) {
    if (n > 0) await retryPause(rt.caches, GITHUB_RETRY_DELAY_MS * n);
    const signal = requestSignal(rt.caches, `${call.method} ${call.path}`, GITHUB_REQUEST_TIMEOUT_MS);
    const outcome = await attempt(signal);
    if ("noAnswer" in outcome) {
      if (signal.aborted) {
        last = "timed out";
        break;
      }
      last = outcome.noAnswer;
      continue;
    }
    if (outcome.status >= 500) {
      last = `status ${outcome.status}`;
      await outcome.discard?.();
      continue;
    }
    return { ok: true, value: outcome.answer };
  }
  return {
    ok: false,
    failure: failure("GITHUB_UNAVAILABLE", {}, `github ${call.what}: ${last} (${call.method} ${call.path})`),
  };
}

/** Sends `call` with an installation token (or none) under {@link withTransientRetries}. */
export async function githubFetch(
  rt: Runtime,
  call: GitHubCall,
): Promise<{ ok: true; response: Response } | { ok: false; failure: Failure }> {
  const url = `${baseUrlOf(rt)}${call.path}`;
  const headers: Record<string, string> = {
    "User-Agent": GITHUB_USER_AGENT,
    Accept: call.accept ?? GITHUB_JSON,
    "X-GitHub-Api-Version": GITHUB_API_VERSION,
    Authorization: call.authorization,
  };
  const body = call.body;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const sent = await withTransientRetries(rt, call, async (signal): Promise<Attempt<Response>> => {
    try {
      const response = await rt.fetch(url, {
        method: call.method,
        headers,
        body,
        signal,
        redirect: "manual",
      });
      return {
        answer: response,
        status: response.status,
        discard: () => response.body?.cancel() ?? Promise.resolve(),
      };
    } catch {
      return { noAnswer: NO_ANSWER };
    }
  });
  return sent.ok ? { ok: true, response: sent.value } : sent;
}

/** What the rate-limit rules read of an answer: a `Response`, or an App call's answer. */
interface GitHubStatus {
  status: number;
  headers: { get(name: string): string | null };
}

/** GitHub refused a request for its rate limit; the seconds to tell the caller, when GitHub said. */
export interface RateLimit {
  retryAfterSeconds: number | undefined;
}

/**
 * Only 429, `X-RateLimit-Remaining: 0` or a `Retry-After` make a rate limit (a bare
 * 403 does not, octo-sts#1684). Answers undefined when the response is not a rate limit.
 * GitHub refuses a request for its rate limit with 403 or 429 only: any other answer (a 404, a 422)
 * was processed, even when it used the last of the quota, and means what it says (a deleted policy
 * must not be replaced by its stale copy). A 429, or a 403 with `X-RateLimit-Remaining: 0` or a
 * `Retry-After`, is a rate limit even when it says nothing readable about when to retry.
 */
export function rateLimitOf(response: GitHubStatus, clock: Clock): RateLimit | undefined {
  const retryAfter = response.headers.get("Retry-After");
  const remaining = response.headers.get("X-RateLimit-Remaining");
  const limited =
    response.status === 429 ||
    (response.status === 403 && (remaining?.trim() === "0" || retryAfter !== null));
  if (!limited) return undefined;
  // Without a readable time to wait the caller is told the catalogue's default Retry-After.
  return { retryAfterSeconds: secondsToWait(response, retryAfter, clock) };
}

/** `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset`, as seconds from now. */
function secondsToWait(response: GitHubStatus, retryAfter: string | null, clock: Clock): number | undefined {
  if (retryAfter !== null) {
    const trimmed = retryAfter.trim();
    if (/^\d+$/.test(trimmed)) return Number(trimmed);
    const date = Date.parse(trimmed);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - clock.now()) / 1000));
  }
  const reset = response.headers.get("X-RateLimit-Reset");
  if (reset !== null && /^\d+$/.test(reset.trim())) {
    return Math.max(0, Number(reset.trim()) - Math.floor(clock.now() / 1000));
  }
  return undefined;
}

/** A short audit detail for an unexpected answer: the call and the status, never GitHub's body. */
export function describe(call: Pick<GitHubCall, "what" | "method" | "path">, status: number): string {
  return `github ${call.what}: status ${status} (${call.method} ${call.path})`;
}

/** Escapes one path segment (owner, repo, identity are validated upstream; this is defence in depth). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

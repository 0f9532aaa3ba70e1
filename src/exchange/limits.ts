/**
 * @module exchange/limits
 * The service's own exchange limits, steps 6b and 12b of the evaluation order (docs/refusals.md,
 * "Evaluation order"), on the optional Workers Rate Limiting bindings CALLER_LIMITER and OWNER_LIMITER
 * (docs/oauth.md, "Rate limits"):
 *
 * - 6b, the caller: keyed by the verified token's `iss` and `sub`, once its signature, time claims and
 *   claim syntax have passed, so nothing a stranger can forge spends anyone's budget, and before any
 *   GitHub call, so a flood from one caller costs the App's GitHub quota nothing.
 * - 12b, the owner: keyed by the lowercase scope owner, once a policy of that owner has matched the
 *   token, so only callers the owner trusts spend its budget: a stranger's flood (tokens no policy
 *   matches) cannot lock the organization out.
 *
 * An unbound limiter is no limit. A limiter that throws (or answers something that is no verdict) lets
 * the exchange through and logs it: an outage of the limiter must not become an outage of the service.
 */

import { fail, ok, type Result } from "../errors/catalogue";
import { sha256Hex } from "../platform/cache";
import type { RateLimiter } from "../platform/config";
import { unexpected } from "./audit";

type LimiterName = "caller" | "owner";

/**
 * The caller's key: SHA-256 of the JSON array `[iss, sub]`, collision-free whatever the two hold (no
 * separator can be forged into either), and always 64 characters, whatever their length.
 */
export async function callerKey(iss: string, sub: string): Promise<string> {
  return sha256Hex(JSON.stringify([iss, sub]));
}

/** The owner's key: GitHub logins are case-insensitive, so `Acme` and `acme` share one budget. */
export function ownerKey(owner: string): string {
  return owner.toLowerCase();
}

async function spend(
  limiter: RateLimiter | null,
  name: LimiterName,
  key: string,
  requestId: string | undefined,
): Promise<Result<void>> {
  if (limiter === null) return ok(undefined);
  let verdict: unknown;
  try {
    verdict = await limiter.limit({ key });
  } catch (error) {
    logFailOpen(name, unexpected(error), requestId);
    return ok(undefined);
  }
  const success = (verdict as { success?: unknown } | null)?.success;
  if (typeof success !== "boolean") {
    logFailOpen(name, "no success flag in the limiter's answer", requestId);
    return ok(undefined);
  }
  if (success) return ok(undefined);
  return fail("EXCHANGE_RATE_LIMITED", { limiter: name }, `${name} limit reached`);
}

function logFailOpen(limiter: LimiterName, error: string, requestId: string | undefined): void {
  console.warn(
    JSON.stringify({
      msg: "rate limiter failed; not limiting",
      limiter,
      error,
      ...(requestId === undefined ? {} : { request_id: requestId }),
    }),
  );
}

/** Step 6b: spends one unit of the caller's budget; EXCHANGE_RATE_LIMITED (`limiter: caller`) when spent. */
export async function checkCallerLimit(
  limiter: RateLimiter | null,
  iss: string,
  sub: string,
  requestId?: string,
): Promise<Result<void>> {
  if (limiter === null) return ok(undefined);
  return spend(limiter, "caller", await callerKey(iss, sub), requestId);
}

/** Step 12b: spends one unit of the owner's budget; EXCHANGE_RATE_LIMITED (`limiter: owner`) when spent. */
export async function checkOwnerLimit(
  limiter: RateLimiter | null,
  owner: string,
  requestId?: string,
): Promise<Result<void>> {
  return spend(limiter, "owner", ownerKey(owner), requestId);
}

/**
 * @module github/mint
 * Installation tokens: a direct `POST /app/installations/{id}/access_tokens` with
 * `{"repositories":[…],"permissions":{…}}` exactly as asked, `repositories` omitted when not given.
 * One fresh token per call: nothing here caches or de-duplicates tokens (docs/security.md, "Tokens"),
 * which is why the call goes through auth-app's hook (App JWT, clock-skew retry) and never through its
 * installation authentication, which does both (github/app-auth.ts).
 *
 * A 404 for an installation id that came from the cache means the App was uninstalled (and perhaps
 * reinstalled under a new id): the cached id is dropped, the owner looked up again once, and the mint
 * retried with what that lookup found.
 *
 * A refused mint (`PERMISSION_NOT_GRANTABLE`) reads the installation's permissions
 * (`GET /app/installations/{id}`) so that the audit line can name what the policy asked for and the
 * installation lacks; GitHub's error text is never read.
 */

import { type Failure, fail, failure, ok, type Result, withArgs } from "../errors/catalogue";
import type { Runtime } from "../platform/runtime";
import { type AppCall, appFetch } from "./app-auth";
import { describe, type RateLimit, rateLimitOf } from "./http";
import { findInstallation, forgetInstallation, installationPermissions } from "./installation";
import { dropAppJwt } from "./jwt";
import type { Installation, MintedToken, TokenRequest } from "./types";

/** A mint's answer, before the caller decides what it means for its purpose. */
type MintOutcome =
  | { kind: "minted"; token: MintedToken }
  | { kind: "refused"; status: number; rateLimit?: RateLimit; detail: string; installationId: number }
  | { kind: "failed"; failure: Failure };

/**
 * The JSON body, member order as go-github writes it (the mint tests compare it byte for byte with the bodies
 * octo-sts's own tests expect).
 */
export function mintBody(request: TokenRequest): string {
  const body: { repositories?: string[]; permissions: Record<string, string> } = {
    permissions: { ...request.permissions },
  };
  return JSON.stringify(
    request.repositories === undefined ? body : { repositories: [...request.repositories], ...body },
  );
}

async function post(
  rt: Runtime,
  installationId: number,
  request: TokenRequest,
  what: string,
): Promise<MintOutcome> {
  const call: AppCall = {
    method: "POST",
    path: `/app/installations/${installationId}/access_tokens`,
    body: mintBody(request),
    what,
  };
  const sent = await appFetch(rt, call);
  if (!sent.ok) return { kind: "failed", failure: sent.failure };
  const answer = sent.answer;
  if (answer.status === 201 || answer.status === 200) {
    const body = answer.data as { token?: unknown; expires_at?: unknown } | undefined;
    if (typeof body?.token === "string" && body.token !== "" && typeof body.expires_at === "string") {
      return { kind: "minted", token: { token: body.token, expiresAt: body.expires_at, installationId } };
    }
    return {
      kind: "failed",
      failure: failure("GITHUB_UNAVAILABLE", {}, `github ${what}: unreadable token body`),
    };
  }
  if (answer.status === 401) dropAppJwt(rt);
  return {
    kind: "refused",
    status: answer.status,
    rateLimit: rateLimitOf(answer, rt.clock),
    detail: describe(call, answer.status),
    installationId,
  };
}

const LEVEL: Readonly<Record<string, number>> = { read: 1, write: 2, admin: 3 };

/**
 * What `requested` asks for beyond `granted` (an installation's permissions), as
 * `issues: write (has read)`; empty when the installation grants all of it.
 */
export function lackingPermissions(
  requested: Readonly<Record<string, string>>,
  granted: Readonly<Record<string, unknown>>,
): string[] {
  const lacking: string[] = [];
  for (const [name, level] of Object.entries(requested)) {
    const has = granted[name];
    const hasLevel = typeof has === "string" ? (LEVEL[has] ?? 0) : 0;
    if (hasLevel < (LEVEL[level] ?? Number.POSITIVE_INFINITY)) {
      lacking.push(`${name}: ${level} (has ${typeof has === "string" && hasLevel > 0 ? has : "none"})`);
    }
  }
  return lacking;
}

/**
 * The audit words for a refused mint: which requested permissions the installation lacks, read with
 * {@link installationPermissions} (the same read the webhook's permission lint makes).
 */
async function whatIsLacking(
  rt: Runtime,
  owner: string,
  installationId: number,
  request: TokenRequest,
): Promise<string> {
  const permissions = await installationPermissions(rt, owner, installationId);
  if (!permissions.ok) {
    const why = permissions.failure.detail;
    return `the installation's permissions could not be read${why === undefined ? "" : ` (${why})`}`;
  }
  const lacking = lackingPermissions(request.permissions, permissions.value);
  return lacking.length > 0
    ? `the installation lacks ${lacking.join(", ")}`
    : "the installation has every requested permission (a requested repository may be outside it)";
}

/**
 * Mints for `installation`; on 404 drops the cached id, looks `owner` up again once and retries.
 * Answers the outcome of the last attempt.
 */
export async function mintWithRelookup(
  rt: Runtime,
  owner: string,
  installation: Installation,
  request: TokenRequest,
  what: string,
): Promise<MintOutcome> {
  const first = await post(rt, installation.id, request, what);
  if (first.kind !== "refused" || first.status !== 404) return first;
  await forgetInstallation(rt, owner);
  const again = await findInstallation(rt, owner);
  if (!again.ok) return { kind: "failed", failure: again.failure };
  return post(rt, again.value.id, request, what);
}

/** The caller's token; see the module comment. */
export async function mintInstallationToken(
  rt: Runtime,
  owner: string,
  installation: Installation,
  request: TokenRequest,
): Promise<Result<MintedToken>> {
  const outcome = await mintWithRelookup(rt, owner, installation, request, "mint");
  switch (outcome.kind) {
    case "minted":
      return ok(outcome.token);
    case "failed":
      return { ok: false, failure: withArgs(outcome.failure, { owner }) };
    case "refused":
      if (outcome.rateLimit !== undefined) {
        const { retryAfterSeconds } = outcome.rateLimit;
        return fail("RATE_LIMITED", { owner, retryAfterSeconds }, outcome.detail);
      }
      // 422: the App or the installation lacks a permission or repository the policy asks for. A bare
      // 403 on a mint says the same in other words. Either way the caller learns only the reason.
      if (outcome.status === 422 || outcome.status === 403) {
        const lacking = await whatIsLacking(rt, owner, outcome.installationId, request);
        return fail("PERMISSION_NOT_GRANTABLE", { owner }, `${outcome.detail}; ${lacking}`);
      }
      if (outcome.status === 404) return fail("NO_INSTALLATION", { owner }, outcome.detail);
      return fail("GITHUB_UNAVAILABLE", { owner }, outcome.detail);
  }
}

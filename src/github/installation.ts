/**
 * @module github/installation
 * Installation lookup by owner (docs/differences-from-octo-sts.md, "Installation lookup by owner"):
 * `GET /orgs/{owner}/installation`, then `GET /users/{owner}/installation` when that is 404 — one or two
 * calls instead of paging every installation as upstream does. The answer, with the kind of account, is
 * cached per owner in memory and KV (docs/security.md, "Caching": found about 1 h, not installed 5 min). The
 * key holds the GitHub base URL, the App id and the lowercase owner (GitHub logins are case-insensitive), so
 * nothing is served for the wrong GitHub or App. A mint answering 404 for a cached id (uninstall/reinstall)
 * calls {@link forgetInstallation} and looks up again once; so do the webhook's installation events.
 *
 * {@link installationPermissions} reads what an installation was granted (`GET /app/installations/{id}`,
 * App-authenticated), for the webhook's lint of permissions a policy asks for but cannot get.
 */

import { fail, ok, type Result, withArgs } from "../errors/catalogue";
import { cacheTier } from "../platform/cache";
import { INSTALLATION_NOT_FOUND_TTL_MS, INSTALLATION_TTL_MS, MEMORY_CACHE_ENTRIES } from "../platform/limits";
import type { Runtime } from "../platform/runtime";
import { type AppAnswer, type AppCall, appFetch } from "./app-auth";
import { describe, rateLimitOf, seg } from "./http";
import { dropAppJwt } from "./jwt";
import type { Installation } from "./types";

type Cached = { id: number; accountType: Installation["accountType"] } | { missing: true };

const tier = cacheTier<Cached>({
  name: "gh-installation",
  memoryEntries: MEMORY_CACHE_ENTRIES.installations,
});

function keyOf(rt: Runtime, owner: string): string {
  const config = rt.config.ok ? rt.config.value : undefined;
  return `${config?.githubBaseUrl ?? ""}|${config?.appId ?? ""}|${owner.toLowerCase()}`;
}

/** Drops the cached installation of `owner` from memory and KV. */
export async function forgetInstallation(rt: Runtime, owner: string): Promise<void> {
  await tier(rt).delete(keyOf(rt, owner));
}

/** Sends an App call about `owner`: GitHub's answer, or the failure (unavailable, or its rate limit). */
async function sendForOwner(rt: Runtime, call: AppCall, owner: string): Promise<Result<AppAnswer>> {
  const sent = await appFetch(rt, call);
  if (!sent.ok) return { ok: false, failure: withArgs(sent.failure, { owner }) };
  const limit = rateLimitOf(sent.answer, rt.clock);
  if (limit !== undefined) {
    const { retryAfterSeconds } = limit;
    return fail("RATE_LIMITED", { owner, retryAfterSeconds }, describe(call, sent.answer.status));
  }
  return ok(sent.answer);
}

/**
 * What installation `id` was granted (`permissions` of `GET /app/installations/{id}`): the permission
 * names and levels, or the failure (RATE_LIMITED, NO_INSTALLATION for a 404, GITHUB_UNAVAILABLE).
 */
export async function installationPermissions(
  rt: Runtime,
  owner: string,
  id: number,
): Promise<Result<Record<string, string>>> {
  const call: AppCall = { method: "GET", path: `/app/installations/${id}`, what: "installation permissions" };
  const sent = await sendForOwner(rt, call, owner);
  if (!sent.ok) return sent;
  const answer = sent.value;
  if (answer.status === 404) return fail("NO_INSTALLATION", { owner }, describe(call, 404));
  if (answer.status !== 200) {
    if (answer.status === 401) dropAppJwt(rt);
    return fail("GITHUB_UNAVAILABLE", { owner }, describe(call, answer.status));
  }
  const permissions = (answer.data as { permissions?: unknown } | undefined)?.permissions;
  const out: Record<string, string> = {};
  if (typeof permissions === "object" && permissions !== null) {
    for (const [name, level] of Object.entries(permissions)) if (typeof level === "string") out[name] = level;
  }
  return ok(out);
}

type Lookup = { found: Installation } | { notFound: true };

async function lookup(rt: Runtime, kind: "orgs" | "users", owner: string): Promise<Result<Lookup>> {
  const call: AppCall = {
    method: "GET",
    path: `/${kind}/${seg(owner)}/installation`,
    what: `installation lookup (${kind})`,
  };
  const sent = await sendForOwner(rt, call, owner);
  if (!sent.ok) return sent;
  const answer = sent.value;
  if (answer.status === 404) return ok({ notFound: true });
  if (answer.status === 200) {
    const body = answer.data as { id?: unknown; account?: { type?: unknown } } | undefined;
    const id = body?.id;
    if (typeof id === "number" && Number.isSafeInteger(id) && id > 0) {
      const accountType = body?.account?.type === "User" ? "User" : "Organization";
      return ok({ found: { id, accountType } });
    }
    return fail("GITHUB_UNAVAILABLE", { owner }, `github ${call.what}: unreadable installation body`);
  }
  // 401: GitHub refused our JWT (a key that does not belong to the App; skew is retried by auth-app).
  if (answer.status === 401) dropAppJwt(rt);
  return fail("GITHUB_UNAVAILABLE", { owner }, describe(call, answer.status));
}

/** The installation of the App on `owner` (organization or user account). */
export async function findInstallation(rt: Runtime, owner: string): Promise<Result<Installation>> {
  const cache = tier(rt);
  const key = keyOf(rt, owner);
  const hit = await cache.get(key);
  if (hit !== undefined) {
    if ("missing" in hit.value) {
      return fail("NO_INSTALLATION", { owner }, `installation of ${owner}: not installed (cached)`);
    }
    return ok({ id: hit.value.id, accountType: hit.value.accountType });
  }
  let result = await lookup(rt, "orgs", owner);
  if (result.ok && "notFound" in result.value) result = await lookup(rt, "users", owner);
  if (!result.ok) return result;
  if ("notFound" in result.value) {
    await cache.put(key, { missing: true }, { ttlMs: INSTALLATION_NOT_FOUND_TTL_MS });
    return fail("NO_INSTALLATION", { owner }, `installation of ${owner}: orgs and users lookups were 404`);
  }
  const found = result.value.found;
  await cache.put(key, { id: found.id, accountType: found.accountType }, { ttlMs: INSTALLATION_TTL_MS });
  return ok(found);
}

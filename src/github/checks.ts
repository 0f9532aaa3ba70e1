/**
 * @module github/checks
 * Check runs, for the webhook (docs/webhook.md, "The check run"): `POST /repos/{owner}/{repo}/check-runs`
 * creates one, `PATCH /repos/{owner}/{repo}/check-runs/{id}` adds to it (GitHub takes at most 50
 * annotations a request). Both are made with the delivery's installation token (`checks: write` on that
 * repository); the bodies are built by the caller.
 */

import { readCapped } from "../platform/body";
import { MAX_GITHUB_APP_RESPONSE_BYTES } from "../platform/limits";
import type { Runtime } from "../platform/runtime";
import type { ApiResult } from "./changes";
import { describe, type GitHubCall, githubFetch, rateLimitOf, seg } from "./http";

/** Sends one check-run request; the run's id on 200/201. */
async function send(rt: Runtime, call: GitHubCall): Promise<ApiResult<number>> {
  const sent = await githubFetch(rt, call);
  if (!sent.ok)
    return { ok: false, fault: { kind: "unavailable", detail: sent.failure.detail ?? call.what } };
  const response = sent.response;
  const limit = rateLimitOf(response, rt.clock);
  if (limit !== undefined) {
    await response.body?.cancel();
    const detail = describe(call, response.status);
    return { ok: false, fault: { kind: "rate-limited", retryAfterSeconds: limit.retryAfterSeconds, detail } };
  }
  if (response.status !== 200 && response.status !== 201) {
    await response.body?.cancel();
    return {
      ok: false,
      fault: { kind: "refused", status: response.status, detail: describe(call, response.status) },
    };
  }
  // A body cut off mid-answer (a dropped connection, the timeout) reads as no id: GitHub unavailable
  // (docs/webhook.md, "Limits"), not an exception out of the delivery.
  let id: unknown;
  try {
    const bytes = await readCapped(response.body, MAX_GITHUB_APP_RESPONSE_BYTES);
    id = bytes === null ? undefined : (JSON.parse(new TextDecoder().decode(bytes)) as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  if (typeof id !== "number" || !Number.isSafeInteger(id)) {
    return { ok: false, fault: { kind: "unavailable", detail: `github ${call.what}: no check run id` } };
  }
  return { ok: true, value: id };
}

/** Creates a check run on `owner/repo`; its id. */
export function createCheckRun(
  rt: Runtime,
  token: string,
  owner: string,
  repo: string,
  body: Record<string, unknown>,
): Promise<ApiResult<number>> {
  return send(rt, {
    method: "POST",
    path: `/repos/${seg(owner)}/${seg(repo)}/check-runs`,
    authorization: `token ${token}`,
    body: JSON.stringify(body),
    what: "check run create",
  });
}

/** Updates check run `id` of `owner/repo` (further annotations). */
export function updateCheckRun(
  rt: Runtime,
  token: string,
  owner: string,
  repo: string,
  id: number,
  body: Record<string, unknown>,
): Promise<ApiResult<number>> {
  return send(rt, {
    method: "PATCH",
    path: `/repos/${seg(owner)}/${seg(repo)}/check-runs/${id}`,
    authorization: `token ${token}`,
    body: JSON.stringify(body),
    what: "check run update",
  });
}

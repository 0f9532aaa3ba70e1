/**
 * @module github/changes
 * What changed, as GitHub lists it, for the webhook (docs/webhook.md, "What is checked"): the files of a
 * pull request (every page, 100 a page), the files between two commits (`compare/{base}...{head}`), and
 * the entries of a directory at a ref. Every call is made with the installation token the delivery
 * minted (github/contents.ts `withReadToken`) and classified once here; the caller decides what a
 * failure means for the delivery. Page URLs are built here, never taken from GitHub's `Link` header,
 * so the token only ever goes to `GITHUB_BASE_URL`.
 */

import { readCapped } from "../platform/body";
import { MAX_GITHUB_LISTING_RESPONSE_BYTES, WEBHOOK_LIST_FILES_PER_PAGE } from "../platform/limits";
import type { Runtime } from "../platform/runtime";
import { describe, type GitHubCall, githubFetch, rateLimitOf, seg } from "./http";

/** A changed file as GitHub lists it (only what the webhook reads). */
export interface ChangedFile {
  filename: string;
  /** `added`, `modified`, `removed`, `renamed`, `copied`, `changed` or `unchanged`. */
  status: string;
  /** For a rename: the path the file had before. */
  previousFilename?: string;
}

/** Why a call gave no usable answer. */
export type ApiFault =
  /** GitHub refused for its rate limit (429, or 403 with `Retry-After` / `X-RateLimit-Remaining: 0`). */
  | { kind: "rate-limited"; retryAfterSeconds: number | undefined; detail: string }
  /** 5xx or network after the retries, a timeout, an unreadable or oversized answer. */
  | { kind: "unavailable"; detail: string }
  /** Any other status: the resource is not there, or the token may not see it. */
  | { kind: "refused"; status: number; detail: string };

export type ApiResult<T> = { ok: true; value: T } | { ok: false; fault: ApiFault };

/** How many more pages a delivery may read; shared by every listing of the delivery. */
export interface PageBudget {
  left: number;
}

/** Files listed, and whether a listing was cut short by the page budget. */
export interface Listing {
  files: ChangedFile[];
  truncated: boolean;
}

/** Sends a GET with `token`; the JSON answer of a 200, or the fault. `next`: the answer has a next page. */
async function getJson(
  rt: Runtime,
  token: string,
  path: string,
  what: string,
): Promise<ApiResult<{ body: unknown; next: boolean }>> {
  const call: GitHubCall = { method: "GET", path, authorization: `token ${token}`, what };
  const sent = await githubFetch(rt, call);
  if (!sent.ok) return { ok: false, fault: { kind: "unavailable", detail: sent.failure.detail ?? what } };
  const response = sent.response;
  const limit = rateLimitOf(response, rt.clock);
  if (limit !== undefined) {
    await response.body?.cancel();
    const detail = describe(call, response.status);
    return { ok: false, fault: { kind: "rate-limited", retryAfterSeconds: limit.retryAfterSeconds, detail } };
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return {
      ok: false,
      fault: { kind: "refused", status: response.status, detail: describe(call, response.status) },
    };
  }
  let bytes: Uint8Array | null;
  try {
    bytes = await readCapped(response.body, MAX_GITHUB_LISTING_RESPONSE_BYTES);
  } catch {
    // The answer was cut off mid-body (a dropped connection, the timeout): GitHub could not be reached
    // (docs/webhook.md, "Limits": GitHub unavailable is 503), not an exception out of the delivery.
    return { ok: false, fault: { kind: "unavailable", detail: `github ${what}: the answer was cut off` } };
  }
  if (bytes === null) {
    return { ok: false, fault: { kind: "unavailable", detail: `github ${what}: answer over the byte cap` } };
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { ok: false, fault: { kind: "unavailable", detail: `github ${what}: answer is not JSON` } };
  }
  const next = /<[^>]*>\s*;\s*rel="?next"?/i.test(response.headers.get("Link") ?? "");
  return { ok: true, value: { body, next } };
}

/** The entries of a files array GitHub answered (entries without a string `filename` are dropped). */
function filesOf(list: unknown): ChangedFile[] {
  if (!Array.isArray(list)) return [];
  const out: ChangedFile[] = [];
  for (const item of list) {
    const entry = item as { filename?: unknown; status?: unknown; previous_filename?: unknown } | null;
    if (typeof entry?.filename !== "string") continue;
    const file: ChangedFile = {
      filename: entry.filename,
      status: typeof entry.status === "string" ? entry.status : "modified",
    };
    if (typeof entry.previous_filename === "string") file.previousFilename = entry.previous_filename;
    out.push(file);
  }
  return out;
}

/** Every changed file of pull request `number`, page after page while the budget lasts. */
export async function listPullFiles(
  rt: Runtime,
  token: string,
  owner: string,
  repo: string,
  number: number,
  pages: PageBudget,
): Promise<ApiResult<Listing>> {
  const files: ChangedFile[] = [];
  for (let page = 1; ; page++) {
    if (pages.left <= 0) return { ok: true, value: { files, truncated: true } };
    pages.left--;
    const path = `/repos/${seg(owner)}/${seg(repo)}/pulls/${number}/files?per_page=${WEBHOOK_LIST_FILES_PER_PAGE}&page=${page}`;
    const got = await getJson(rt, token, path, `pull request files (#${number}, page ${page})`);
    if (!got.ok) return got;
    const listed = filesOf(got.value.body);
    files.push(...listed);
    if (!got.value.next || listed.length === 0) return { ok: true, value: { files, truncated: false } };
  }
}

/** The files that differ between `base` and `head` (GitHub lists at most 300). */
export async function compareFiles(
  rt: Runtime,
  token: string,
  owner: string,
  repo: string,
  base: string,
  head: string,
  pages: PageBudget,
): Promise<ApiResult<Listing>> {
  if (pages.left <= 0) return { ok: true, value: { files: [], truncated: true } };
  pages.left--;
  const path = `/repos/${seg(owner)}/${seg(repo)}/compare/${seg(base)}...${seg(head)}`;
  const got = await getJson(rt, token, path, "comparison");
  if (!got.ok) return got;
  const files = filesOf((got.value.body as { files?: unknown } | null)?.files);
  return { ok: true, value: { files, truncated: false } };
}

/** An entry of a directory listing. */
export interface DirectoryEntry {
  /** `file`, `dir`, `symlink` or `submodule`. */
  type: string;
  path: string;
}

/** The entries of directory `path` at `ref`; a 404 (no such directory at that ref) is an empty list. */
export async function listDirectory(
  rt: Runtime,
  token: string,
  owner: string,
  repo: string,
  path: string,
  ref: string,
  pages: PageBudget,
): Promise<ApiResult<DirectoryEntry[]>> {
  if (pages.left <= 0) return { ok: true, value: [] };
  pages.left--;
  const escaped = path.split("/").map(seg).join("/");
  const url = `/repos/${seg(owner)}/${seg(repo)}/contents/${escaped}?ref=${encodeURIComponent(ref)}`;
  const got = await getJson(rt, token, url, `directory listing (${path})`);
  if (!got.ok) {
    if (got.fault.kind === "refused" && got.fault.status === 404) return { ok: true, value: [] };
    return got;
  }
  const body = got.value.body;
  // A file at that path answers an object, not a listing: no entries.
  if (!Array.isArray(body)) return { ok: true, value: [] };
  const entries: DirectoryEntry[] = [];
  for (const item of body) {
    const entry = item as { type?: unknown; path?: unknown } | null;
    if (typeof entry?.type === "string" && typeof entry.path === "string") {
      entries.push({ type: entry.type, path: entry.path });
    }
  }
  return { ok: true, value: entries };
}

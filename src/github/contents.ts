/**
 * @module github/contents
 * Reading a file from a repository, as one capability: mint an installation token limited to what the
 * read needs (`contents: read` on the repositories named), read the file at a ref (the default branch
 * when none is given) with the raw media type and a byte cap, and revoke the token in the background
 * (`ctx.waitUntil`) on every path, whatever the read answered. The token never leaves this module's
 * callbacks and is never handed to a caller.
 *
 * Nothing here is cached: the stores (github/policy-store.ts and the trusted-issuer store) decide what to
 * keep, and they only ever read the default branch. A read at another ref (a pull request's head) goes
 * around them, so a policy nobody merged can never decide an exchange (docs/security.md, "Caching").
 *
 * Each answer is classified once, here, into a {@link ContentsOutcome}; what an outcome means for the
 * caller (a refusal, "allow all", a stale copy) is the caller's decision.
 */

import type { Failure } from "../errors/catalogue";
import { readCapped } from "../platform/body";
import type { Runtime } from "../platform/runtime";
import { describe, GITHUB_RAW, type GitHubCall, githubFetch, type RateLimit, rateLimitOf, seg } from "./http";
import { mintWithRelookup } from "./mint";
import type { Installation, Waiter } from "./types";

/** What reading one file came to. */
export type ContentsOutcome =
  | { kind: "file"; text: string }
  /** 404 on the read: no such file (or a ref without it). */
  | { kind: "absent"; detail: string }
  /** The read token could not be minted for this repository (422: no such repository, or not visible). */
  | { kind: "no-access"; detail: string }
  /** The read token could not be minted because the installation is gone (404). */
  | { kind: "not-installed"; detail: string }
  /** A bare 403 on the read: access was taken away. */
  | { kind: "forbidden"; detail: string }
  /** GitHub refused for its rate limit (429, or 403 with `Retry-After` / `X-RateLimit-Remaining: 0`). */
  | { kind: "rate-limited"; retryAfterSeconds: number | undefined; detail: string }
  /** 5xx or network after the retries, a 401, a timeout, or any other status. */
  | { kind: "unavailable"; failure: Failure }
  /** Something that is not a readable file: a directory, or more bytes than allowed. */
  | { kind: "invalid"; detail: string };

export interface FileRequest {
  owner: string;
  repo: string;
  /** The path inside the repository, unescaped (`.github/chainguard/x.sts.yaml`). */
  path: string;
  /** A branch, tag or commit SHA; undefined reads the default branch. */
  ref?: string;
  /** The most bytes the file may have. */
  maxBytes: number;
}

/** What a read token is for: the repositories and permissions it is limited to. */
export interface TokenScope {
  repositories: string[];
  permissions: Record<string, string>;
  /** What the token is for, in the audit detail (`policy read`, `trusted-issuer read`, …). */
  what: string;
}

type MintRefusal = Extract<
  ContentsOutcome,
  { kind: "no-access" | "not-installed" | "rate-limited" | "unavailable" }
>;

function refusalOf(
  status: number,
  rateLimit: RateLimit | undefined,
  detail: string,
  failure: Failure,
): MintRefusal {
  if (rateLimit !== undefined)
    return { kind: "rate-limited", retryAfterSeconds: rateLimit.retryAfterSeconds, detail };
  if (status === 422) return { kind: "no-access", detail };
  if (status === 404) return { kind: "not-installed", detail };
  return { kind: "unavailable", failure };
}

/**
 * Mints a least-privilege token for `scope`, runs `use` with it, and revokes it in the background once
 * `use` is over (a revocation started earlier would race the read), also when `use` throws.
 */
export async function withReadToken<T>(
  rt: Runtime,
  ctx: Waiter,
  owner: string,
  installation: Installation,
  scope: TokenScope,
  use: (token: string) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; refusal: MintRefusal }> {
  const minted = await mintWithRelookup(
    rt,
    owner,
    installation,
    { repositories: scope.repositories, permissions: scope.permissions },
    `${scope.what} token mint`,
  );
  if (minted.kind === "failed")
    return { ok: false, refusal: { kind: "unavailable", failure: minted.failure } };
  if (minted.kind === "refused") {
    const failure: Failure = { reason: "GITHUB_UNAVAILABLE", args: { owner }, detail: minted.detail };
    return { ok: false, refusal: refusalOf(minted.status, minted.rateLimit, minted.detail, failure) };
  }
  const token = minted.token.token;
  try {
    return { ok: true, value: await use(token) };
  } finally {
    ctx.waitUntil(revoke(rt, token, scope.what));
  }
}

/** Reads one file with a token from {@link withReadToken}. */
export async function readFileWith(rt: Runtime, token: string, file: FileRequest): Promise<ContentsOutcome> {
  const query = file.ref === undefined ? "" : `?ref=${encodeURIComponent(file.ref)}`;
  const call: GitHubCall = {
    method: "GET",
    path: `/repos/${seg(file.owner)}/${seg(file.repo)}/contents/${file.path.split("/").map(seg).join("/")}${query}`,
    authorization: `token ${token}`,
    accept: GITHUB_RAW,
    what: `contents read (${file.path})`,
  };
  const sent = await githubFetch(rt, call);
  if (!sent.ok) return { kind: "unavailable", failure: sent.failure };
  const response = sent.response;
  const limit = rateLimitOf(response, rt.clock);
  if (limit !== undefined) {
    await response.body?.cancel();
    return {
      kind: "rate-limited",
      retryAfterSeconds: limit.retryAfterSeconds,
      detail: describe(call, response.status),
    };
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return { kind: "absent", detail: describe(call, 404) };
  }
  if (response.status === 403) {
    await response.body?.cancel();
    return { kind: "forbidden", detail: describe(call, 403) };
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return {
      kind: "unavailable",
      failure: {
        reason: "GITHUB_UNAVAILABLE",
        args: { owner: file.owner },
        detail: describe(call, response.status),
      },
    };
  }
  // With the raw media type a file comes back as its bytes; a directory still comes back as its JSON
  // listing, which is no file (and must not be read as YAML).
  const type = (response.headers.get("Content-Type") ?? "").toLowerCase();
  if (type.startsWith("application/json")) {
    await response.body?.cancel();
    return { kind: "invalid", detail: `github ${call.what}: a directory, not a file` };
  }
  let bytes: Uint8Array | null;
  try {
    bytes = await readBytes(response, file.maxBytes);
  } catch {
    // The connection dropped mid-body: GitHub could not be reached for this read, which is
    // GITHUB_UNAVAILABLE (docs/refusals.md, "Reasons"), not an exception out of the exchange.
    return {
      kind: "unavailable",
      failure: {
        reason: "GITHUB_UNAVAILABLE",
        args: { owner: file.owner },
        detail: `github ${call.what}: the answer was cut off (${call.method} ${call.path})`,
      },
    };
  }
  if (bytes === null)
    return { kind: "invalid", detail: `github ${call.what}: file over ${file.maxBytes} bytes` };
  return { kind: "file", text: new TextDecoder().decode(bytes) };
}

/** Reads one file at a ref with its own least-privilege token (`contents: read` on that repository). */
export async function readFile(
  rt: Runtime,
  ctx: Waiter,
  installation: Installation,
  file: FileRequest,
  what: string,
): Promise<ContentsOutcome> {
  const read = await withReadToken(
    rt,
    ctx,
    file.owner,
    installation,
    { repositories: [file.repo], permissions: { contents: "read" }, what },
    (token) => readFileWith(rt, token, file),
  );
  return read.ok ? read.value : read.refusal;
}

/**
 * The file's bytes, at most `limit` (counted while streaming); null when longer. A declared length over
 * the limit is refused without reading (a smaller one proves nothing).
 */
async function readBytes(response: Response, limit: number): Promise<Uint8Array | null> {
  const declared = Number(response.headers.get("Content-Length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    return null;
  }
  return readCapped(response.body, limit);
}

/** Revokes a read token; failures are only logged, with the call and status, never a token. */
async function revoke(rt: Runtime, token: string, what: string): Promise<void> {
  const call: GitHubCall = {
    method: "DELETE",
    path: "/installation/token",
    authorization: `Bearer ${token}`,
    what: `${what} token revocation`,
  };
  const sent = await githubFetch(rt, call);
  if (!sent.ok) {
    console.warn(JSON.stringify({ msg: "read credential not revoked", detail: sent.failure.detail }));
    return;
  }
  await sent.response.body?.cancel();
  if (sent.response.status !== 204) {
    console.warn(
      JSON.stringify({ msg: "read credential not revoked", detail: describe(call, sent.response.status) }),
    );
  }
}

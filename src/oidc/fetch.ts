/**
 * @module oidc/fetch
 * The one way this service reads an issuer's documents (docs/security.md, "Issuer fetches";
 * GHSA-75r6-6jg8-pfcq and GHSA-h3qp-hwvr-9xcq): GET through the stage's `fetch`, redirects handled by hand
 * and followed only to URLs that pass the issuer rules, a timeout over the whole exchange (headers and body),
 * and the body counted while it streams and abandoned past the cap, whatever `Content-Length` says.
 *
 * Errors are returned as audit text only; no upstream body or error text is ever part of it beyond the
 * status code, and none of it reaches the caller.
 */

import { readCapped } from "../platform/body";
import { requestSignal } from "../platform/deadline";
import { NO_ANSWER } from "../platform/fetch";
import { ISSUER_FETCH_TIMEOUT_MS, MAX_ISSUER_REDIRECTS } from "../platform/limits";
import type { OidcDeps } from "./deps";
import { isValidIssuer } from "./syntax";

type FetchJsonResult = { ok: true; value: unknown; url: string } | { ok: false; detail: string };

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * A redirect target is followed only if it passes the issuer rules (docs/security.md, "Issuer fetches";
 * octo-sts `CheckRedirect`), both as resolved and, when absolute, as written: WHATWG resolution would
 * normalise away what Go rejects (dot segments, Unicode hosts). A chain that started over https never
 * continues over http (which the rules allow on loopback only).
 */
function redirectTarget(location: string, from: string, start: string): string | null {
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    return null;
  }
  if (!isValidIssuer(target.href)) return null;
  // Plain http (loopback only, by the issuer rules) is for local issuers: an https chain never goes there.
  if (target.protocol === "http:" && !start.startsWith("http:")) return null;
  if (HAS_SCHEME.test(location) && !isValidIssuer(location)) return null;
  if (location.includes("..")) return null;
  return target.href;
}

function describe(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
    return "timeout";
  return NO_ANSWER;
}

/** GETs `url` and parses its JSON body of at most `maxBytes`, within the issuer fetch bounds. */
export async function fetchJsonBounded(
  deps: Pick<OidcDeps, "fetch" | "caches">,
  url: string,
  maxBytes: number,
): Promise<FetchJsonResult> {
  const signal = requestSignal(deps.caches, `GET ${url}`, ISSUER_FETCH_TIMEOUT_MS);
  let current = url;
  try {
    for (let hop = 0; ; hop++) {
      const response = await deps.fetch(current, {
        method: "GET",
        redirect: "manual",
        signal,
        headers: { accept: "application/json" },
      });
      if (REDIRECT_STATUSES.has(response.status)) {
        await response.body?.cancel().catch(() => {});
        if (hop >= MAX_ISSUER_REDIRECTS)
          return { ok: false, detail: `more than ${MAX_ISSUER_REDIRECTS} redirects` };
        const location = response.headers.get("location");
        const next = location === null ? null : redirectTarget(location, current, url);
        if (next === null)
          return { ok: false, detail: `redirect ${response.status} to a URL failing the issuer rules` };
        current = next;
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        return { ok: false, detail: `status ${response.status}` };
      }
      const bytes = await readCapped(response.body, maxBytes);
      if (bytes === null) return { ok: false, detail: `body larger than ${maxBytes} bytes` };
      try {
        return { ok: true, value: JSON.parse(new TextDecoder().decode(bytes)), url: current };
      } catch {
        return { ok: false, detail: "body is not JSON" };
      }
    }
  } catch (error) {
    return { ok: false, detail: describe(error) };
  }
}

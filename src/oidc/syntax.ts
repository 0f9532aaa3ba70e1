/**
 * @module oidc/syntax
 * Syntax rules for a token's `iss`, `sub` and `aud` (docs/security.md, "Issuer fetches";
 * docs/differences-from-octo-sts.md, "Token claim syntax before GitHub calls"), ported from octo-sts
 * `pkg/oidcvalidate` onto the raw string. Go's `url.Parse` is reproduced where it matters: the WHATWG `URL`
 * parser would lowercase, punycode and resolve dot segments, and so accept issuers Go rejects.
 *
 * These rules run on attacker-controlled input before anything is fetched (the issuer decides where
 * discovery goes), so they are deliberately strict.
 */

import {
  MAX_AUDIENCE_RUNES,
  MAX_ISSUER_PATH_SEGMENT_BYTES,
  MAX_ISSUER_RUNES,
  MAX_SUBJECT_RUNES,
} from "../platform/limits";

/** ASCII control characters and whitespace (octo-sts `controlCharsAndWhitespace`). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point of this pattern is control characters.
const CONTROL_OR_SPACE = /[\x00-\x1f ]/;
const SUBJECT_FORBIDDEN = /["'`\\<>;&$(){}[\]]/;
const AUDIENCE_FORBIDDEN = /["'`\\<>;|&$(){}[\]@]/;
/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;
const PATH_CHARSET = /^[a-zA-Z0-9\-._~/]+$/;

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** What Go's `url.Parse` yields for the fields the issuer rules read, or null where it errors. */
interface GoUrl {
  scheme: string;
  /** The authority's host part including any port (Go `URL.Host`); "" for opaque or relative URLs. */
  host: string;
  hasUserinfo: boolean;
  /** The percent-decoded path (Go `URL.Path`). */
  path: string;
  rawQuery: string;
  fragment: string;
}

/** Go `url.unescape` for the modes used here; null on a malformed escape. */
function goUnescape(s: string): string | null {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === "%") {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of enc.encode(c)) bytes.push(b);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Go `shouldEscape(c, encodeHost)` for ASCII: characters that may not appear raw in a host. */
function hostCharInvalid(c: string): boolean {
  if (/[A-Za-z0-9\-_.~]/.test(c)) return false;
  return !"!$&'()*+,;=:[]<>\"".includes(c);
}

function validOptionalPort(port: string): boolean {
  if (port === "") return true;
  return /^:[0-9]*$/.test(port);
}

function parseGoHost(host: string): string | null {
  let hostPart = host;
  if (host.startsWith("[")) {
    const close = host.lastIndexOf("]");
    if (close < 0) return null;
    if (!validOptionalPort(host.slice(close + 1))) return null;
    hostPart = host.slice(0, close + 1);
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0 && !validOptionalPort(host.slice(colon))) return null;
  }
  for (let i = 0; i < hostPart.length; i++) {
    const c = hostPart[i] as string;
    if (c === "%") {
      // Go allows only escapes of non-ASCII bytes (and %25 in IPv6 zones) in a host.
      const hex = hostPart.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      if (Number.parseInt(hex, 16) < 0x80 && hex !== "25") return null;
      i += 2;
      continue;
    }
    if (c.charCodeAt(0) < 0x80 && hostCharInvalid(c)) return null;
  }
  return goUnescape(host);
}

/** A port of Go's `url.Parse` reduced to what `IsValidIssuer` reads. */
function goUrlParse(raw: string): GoUrl | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Go rejects any CTL byte in a URL.
  if (/[\x00-\x1f\x7f]/.test(raw)) return null;
  const hashAt = raw.indexOf("#");
  const beforeFragment = hashAt < 0 ? raw : raw.slice(0, hashAt);
  const fragment = hashAt < 0 ? "" : goUnescape(raw.slice(hashAt + 1));
  if (fragment === null) return null;

  let scheme = "";
  let rest = beforeFragment;
  for (let i = 0; i < beforeFragment.length; i++) {
    const c = beforeFragment[i] as string;
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ":") {
      if (i === 0) return null; // "missing protocol scheme"
      scheme = beforeFragment.slice(0, i).toLowerCase();
      rest = beforeFragment.slice(i + 1);
    }
    break;
  }

  let rawQuery = "";
  if (rest.endsWith("?") && rest.split("?").length === 2) {
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf("?");
    if (q >= 0) {
      rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }

  if (!rest.startsWith("/")) {
    if (scheme !== "") return { scheme, host: "", hasUserinfo: false, path: "", rawQuery, fragment }; // opaque
    const slash = rest.indexOf("/");
    const firstSegment = slash < 0 ? rest : rest.slice(0, slash);
    if (firstSegment.includes(":")) return null;
  }

  let host = "";
  let hasUserinfo = false;
  if ((scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")) {
    const afterSlashes = rest.slice(2);
    const slash = afterSlashes.indexOf("/");
    const authority = slash < 0 ? afterSlashes : afterSlashes.slice(0, slash);
    rest = slash < 0 ? "" : afterSlashes.slice(slash);
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      hasUserinfo = true;
      if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:%@]*$/.test(authority.slice(0, at))) return null;
      if (goUnescape(authority.slice(0, at)) === null) return null;
    }
    const parsedHost = parseGoHost(at >= 0 ? authority.slice(at + 1) : authority);
    if (parsedHost === null) return null;
    host = parsedHost;
  }
  const path = goUnescape(rest);
  if (path === null) return null;
  return { scheme, host, hasUserinfo, path, rawQuery, fragment };
}

/** Go `URL.Hostname()`: the host without port and without IPv6 brackets. */
function hostname(host: string): string {
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    return close < 0 ? host.slice(1) : host.slice(1, close);
  }
  const colon = host.lastIndexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}

function isValidHostname(name: string): boolean {
  if (name === "" || CONTROL_OR_SPACE.test(name)) return false;
  for (const ch of name) if ((ch.codePointAt(0) ?? 0) > 127) return false;
  return true;
}

/** octo-sts `IsValidIssuer`. */
export function isValidIssuer(iss: string): boolean {
  if (iss.length === 0 || runeCount(iss) > MAX_ISSUER_RUNES) return false;
  const u = goUrlParse(iss);
  if (u === null) return false;
  if (u.scheme !== "https") {
    if (u.scheme !== "http") return false;
    const h = hostname(u.host);
    if (h !== "localhost" && h !== "127.0.0.1" && h !== "::1") return false;
  }
  if (u.rawQuery !== "" || u.fragment !== "" || iss.includes("?") || iss.includes("#")) return false;
  if (u.host === "" || u.hasUserinfo) return false;
  if (!isValidHostname(hostname(u.host))) return false;
  if (u.path !== "") {
    const p = u.path;
    if (p.includes("..") || !p.startsWith("/") || p.includes("//") || p.includes("~~") || p.endsWith("~")) {
      return false;
    }
    if (!PATH_CHARSET.test(p)) return false;
    for (const segment of p.split("/")) {
      if (segment === "") continue;
      if (segment === "." || segment === ".." || segment === "~") return false;
      if (segment.length > MAX_ISSUER_PATH_SEGMENT_BYTES) return false;
    }
  }
  return true;
}

/** octo-sts `IsValidSubject`. */
export function isValidSubject(sub: string): boolean {
  if (sub === "" || runeCount(sub) > MAX_SUBJECT_RUNES) return false;
  if (CONTROL_OR_SPACE.test(sub) || SUBJECT_FORBIDDEN.test(sub)) return false;
  return PRINTABLE.test(sub);
}

/** octo-sts `IsValidAudience`. */
export function isValidAudience(aud: string): boolean {
  if (aud === "" || runeCount(aud) > MAX_AUDIENCE_RUNES) return false;
  if (CONTROL_OR_SPACE.test(aud) || AUDIENCE_FORBIDDEN.test(aud)) return false;
  return PRINTABLE.test(aud);
}

/**
 * A loopback host as the WHATWG `URL` parser writes `hostname` (`[::1]` keeps its brackets there):
 * the only hosts plain http is allowed for, outside the Go-form issuer rules above.
 */
export function isLoopbackHostname(hostname: string): boolean {
  return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]";
}

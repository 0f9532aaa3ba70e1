/**
 * @module exchange/request
 * Reads an exchange request exactly as octo-sts's grpc-gateway does: parameters from the
 * URL query plus, for a form POST, the body (body values first); proto or JSON field names; `name[x]` is
 * `name` with the extra value `x`; unknown keys ignored; a singular field given twice under one key is an
 * error; commas are not split. The bearer token comes from
 * the one `Authorization` header.
 */

import { type Failure, failure, type Result } from "../errors/catalogue";
import { readCapped } from "../platform/body";
import { MAX_BEARER_CHARS, MAX_FORM_BODY_BYTES } from "../platform/limits";

interface ExchangeParams {
  /** The effective scope (`scopes[0]` when given, else `scope`); "" when neither. */
  scope: string;
  identity: string;
  /** True for a form POST: the Chainguard SDK's HTTP/1 client, which wants the strict response shape. */
  formPost: boolean;
}

/** Fields of `chainguard.platform.oidc.ExchangeRequest`, keyed by proto and JSON name. */
const FIELDS: Record<string, { name: string; repeated: boolean }> = {
  aud: { name: "aud", repeated: true },
  scope: { name: "scope", repeated: false },
  identity: { name: "identity", repeated: false },
  cap: { name: "cap", repeated: true },
  identity_provider: { name: "identity_provider", repeated: false },
  identityProvider: { name: "identity_provider", repeated: false },
  scopes: { name: "scopes", repeated: true },
};

const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** Go's `url.QueryUnescape` (`+` is a space); returns the Go error text on a malformed escape. */
function queryUnescape(s: string): { ok: true; value: string } | { ok: false; error: string } {
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "%") continue;
    if (i + 2 >= s.length || !/^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      return { ok: false, error: `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}` };
    }
    i += 2;
  }
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === "%") {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === "+") bytes.push(0x20);
    else {
      // A whole code point: encoding the two halves of a surrogate pair apart would turn 😀 into ��.
      const ch = String.fromCodePoint(s.codePointAt(i) as number);
      i += ch.length - 1;
      for (const b of enc.encode(ch)) bytes.push(b);
    }
  }
  return { ok: true, value: new TextDecoder().decode(new Uint8Array(bytes)) };
}

/** Go's `url.ParseQuery`: every pair is kept; the first error is reported (parsing goes on, like Go). */
export function parseQuery(raw: string): { pairs: [string, string][]; error?: string } {
  const pairs: [string, string][] = [];
  let error: string | undefined;
  for (const part of raw.split("&")) {
    if (part === "") continue;
    if (part.includes(";")) {
      error ??= "invalid semicolon separator in query";
      continue;
    }
    const eq = part.indexOf("=");
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    const key = queryUnescape(rawKey);
    if (!key.ok) {
      error ??= key.error;
      continue;
    }
    const value = queryUnescape(rawValue);
    if (!value.ok) {
      error ??= value.error;
      continue;
    }
    pairs.push([key.value, value.value]);
  }
  return error === undefined ? { pairs } : { pairs, error };
}

function invalidRequest(
  args: { field?: string; values?: string[]; encodingError?: string },
  detail: string,
): Failure {
  return failure("INVALID_REQUEST", args, detail);
}

/**
 * Step 2 (docs/refusals.md, "Evaluation order"): parameters, repeated singular fields, more than one
 * `scopes`.
 */
export async function readParams(request: Request, url: URL): Promise<Result<ExchangeParams>> {
  const contentType = (request.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
  const formPost = request.method === "POST" && contentType === FORM_CONTENT_TYPE;

  const pairs: [string, string][] = [];
  if (formPost) {
    const bytes = await readCapped(request.body, MAX_FORM_BODY_BYTES);
    const body = bytes === null ? null : new TextDecoder().decode(bytes);
    if (body === null) {
      return {
        ok: false,
        failure: invalidRequest({ encodingError: "http: POST too large" }, "form body over limit"),
      };
    }
    const parsed = parseQuery(body);
    if (parsed.error !== undefined) {
      return { ok: false, failure: invalidRequest({ encodingError: parsed.error }, "form body encoding") };
    }
    pairs.push(...parsed.pairs);
  }
  const query = parseQuery(url.search.replace(/^\?/, ""));
  if (query.error !== undefined) {
    return { ok: false, failure: invalidRequest({ encodingError: query.error }, "query encoding") };
  }
  pairs.push(...query.pairs);

  // Go's url.Values: the values of each key, in order, keys in first-seen order.
  const byKey = new Map<string, string[]>();
  for (const [key, value] of pairs) {
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [value]);
    else list.push(value);
  }
  // grpc-gateway's PopulateQueryParameters, one key at a time: `name[x]` is `name` with the extra value
  // `x` in front; a singular field given more than one value under one key is an error; a singular field
  // set under two keys (`identity_provider` and `identityProvider`) is simply set twice.
  const values = new Map<string, string[]>();
  for (const [rawKey, rawValues] of byKey) {
    const bracket = /^(.*)\[(.*)\]$/.exec(rawKey);
    const key = bracket ? (bracket[1] as string) : rawKey;
    const list = bracket ? [bracket[2] as string, ...rawValues] : rawValues;
    const field = FIELDS[key];
    if (field === undefined) continue; // unknown keys are ignored, as upstream
    if (!field.repeated) {
      if (list.length !== 1) {
        return {
          ok: false,
          failure: invalidRequest({ field: field.name, values: list }, `repeated field ${field.name}`),
        };
      }
      values.set(field.name, list);
    } else values.set(field.name, [...(values.get(field.name) ?? []), ...list]);
  }
  const scopes = values.get("scopes") ?? [];
  if (scopes.length > 1)
    return { ok: false, failure: failure("MULTIPLE_SCOPES", {}, `${scopes.length} scopes`) };
  const scope = scopes.length === 1 ? (scopes[0] as string) : (values.get("scope")?.[0] ?? "");
  return { ok: true, value: { scope, identity: values.get("identity")?.[0] ?? "", formPost } };
}

/**
 * Step 3 (docs/refusals.md, "Evaluation order"): exactly one `Authorization` value. The scheme is matched
 * case-insensitively (RFC 7235 §2.1); a bare JWT without a scheme is accepted, as upstream does. A second
 * value (a repeated header arrives joined with ", ", or a `Grpc-Metadata-Authorization` header) is refused.
 */
export function readBearer(request: Request): Result<string> {
  const header = request.headers.get("Authorization");
  const extra = request.headers.get("Grpc-Metadata-Authorization");
  if (header === null || extra !== null || header.includes(",")) {
    return {
      ok: false,
      failure: failure("MISSING_BEARER", {}, header === null ? "no header" : "more than one value"),
    };
  }
  const match = /^bearer(?: +(.*))?$/is.exec(header.trim());
  const token = (match ? (match[1] ?? "") : header).trim();
  if (token === "" || token.length > MAX_BEARER_CHARS) {
    return {
      ok: false,
      failure: failure("MALFORMED_TOKEN", {}, token === "" ? "empty bearer" : "bearer too large"),
    };
  }
  return { ok: true, value: token };
}

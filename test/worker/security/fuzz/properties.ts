/**
 * The fuzz properties (docs/security.md, "Fuzzing"): every parser that reads untrusted input, and the
 * Worker end to end through both doors. For any input a property holds when nothing throws, the answer
 * has the right shape (a catalogue reason at its status, in the door's wire format), no output carries a
 * token, and the case ends (a per-case deadline far above normal catches a hang).
 *
 * The same catalogue runs with fixed seeds in CI (test/worker/security/fuzz.test.ts, inside workerd)
 * and for as long as asked from `npm run fuzz` (scripts/fuzz.ts, in Node).
 */

import fc from "fast-check";
import { stringify } from "yaml";
import { parseQuery, readBearer, readParams } from "../../../../src/endpoints/sts-request";
import { CATALOGUE, type Reason } from "../../../../src/errors/catalogue";
import { OAUTH_ERRORS } from "../../../../src/errors/oauth";
import { isValidAudience, isValidIssuer, isValidSubject } from "../../../../src/oidc/syntax";
import { decodeUnverified, normalizeIssuer } from "../../../../src/oidc/token";
import {
  AUDIT_MAX_STRING_CHARS,
  MAX_BEARER_CHARS,
  MAX_ISSUER_RUNES,
  MAX_RETRY_AFTER_SECONDS,
  MAX_SUBJECT_RUNES,
} from "../../../../src/platform/limits";
import { loadPolicy, PERMISSION_LEVELS, parseTrustedIssuers } from "../../../../src/trust";
import { TEST_WEBHOOK_SECRET } from "../../../shared/secrets";
import {
  anyString,
  authorizationHeaders,
  bearerToken,
  claimLike,
  cleanPairs,
  contentType,
  encodePairs,
  formBody,
  ID_TOKEN_TYPE,
  issuerLike,
  jwtShaped,
  oauthPairs,
  pairEncoding,
  rawQuery,
  TOKEN_EXCHANGE,
  webhookDelivery,
  webhookPath,
  webhookSignature,
  yamlText,
} from "./arbitraries";
import {
  createFuzzWorld,
  FUZZ_DOMAIN,
  FUZZ_ISSUER,
  FUZZ_OWNER,
  FUZZ_REPO,
  type FuzzWorld,
  type GitHubFault,
} from "./world";

/** What a property is handed: the world for the end-to-end one (built once per run). */
export interface FuzzContext {
  world: FuzzWorld;
  /** How often each outcome of the end-to-end property was seen (`granted` or a reason). */
  outcomes: Map<string, number>;
}

/** One fuzz target: its input generator and the check every input must pass. */
export interface FuzzTarget<T = unknown> {
  name: string;
  /** Runs in CI (fixed seed): sized so the whole catalogue takes a few seconds on 2 cores. */
  ciRuns: number;
  arbitrary: fc.Arbitrary<T>;
  /** Throws when the property does not hold for `input`. */
  check(input: T, ctx: FuzzContext): void | Promise<void>;
}

/** Far above any case's normal time: only a hang trips it. */
export const CASE_DEADLINE_MS = 10_000;

class PropertyFailed extends Error {
  override name = "PropertyFailed";
}

function holds(condition: unknown, message: string): asserts condition {
  if (!condition) throw new PropertyFailed(message);
}

/** `s` as a JSON string with everything outside printable ASCII escaped. */
const escaped = (s: string) =>
  short(
    JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
    300,
  );

const short = (s: string, n = 120) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

/** Secrets no output may carry: a GitHub token, a JWT, a private key. */
const SECRET_SHAPES: readonly [string, RegExp][] = [
  ["a GitHub token", /gh[opsur]_[A-Za-z0-9]{20,}/],
  ["a JWT", /eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\./],
  ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
];

function noSecretIn(text: string, where: string): void {
  for (const [name, shape] of SECRET_SHAPES)
    holds(!shape.test(text), `${where} holds ${name}: ${short(text, 300)}`);
}

const REASONS = new Set(Object.keys(CATALOGUE));
const isReason = (r: unknown): r is Reason => typeof r === "string" && REASONS.has(r);

function runeCount(s: string): number {
  return [...s].length;
}

// ---- parsers ----------------------------------------------------------------------------------------

const bearer: FuzzTarget<string> = {
  name: "bearer token (oidc/token decodeUnverified)",
  ciRuns: 1500,
  arbitrary: bearerToken,
  check(token) {
    const result = decodeUnverified(token);
    if (!result.ok) {
      holds(result.failure.reason === "MALFORMED_TOKEN", `reason ${result.failure.reason}`);
      return;
    }
    const d = result.value;
    holds(token.length > 0 && token.length <= MAX_BEARER_CHARS, "a token outside the size bounds decoded");
    holds(
      typeof d.payload === "object" && d.payload !== null && !Array.isArray(d.payload),
      "payload not an object",
    );
    const iss = d.payload.iss;
    holds(iss == null || typeof iss === "string", "a non-string iss decoded");
    holds(d.rawIssuer === (typeof iss === "string" ? iss : ""), "rawIssuer differs from the payload's iss");
    holds(d.issuer === normalizeIssuer(d.rawIssuer), "issuer is not the normalised rawIssuer");
    holds((d.header === null) === (d.jwsProblem !== undefined), "header and jwsProblem disagree");
    if (d.header !== null) holds(typeof d.header.alg === "string", "a header without a string alg passed");
    // What was encoded is what is read back.
    const part = token.split(".")[1] as string;
    const padded = part.replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(
      Uint8Array.from(atob(padded + "=".repeat((4 - (padded.length % 4)) % 4)), (c) => c.charCodeAt(0)),
    );
    holds(
      JSON.stringify(JSON.parse(text)) === JSON.stringify(d.payload),
      "payload differs from what was encoded",
    );
  },
};

interface AuthCase {
  values: string[];
  grpc: string | undefined;
}

const authorization: FuzzTarget<AuthCase> = {
  name: "Authorization header (endpoints/sts-request readBearer)",
  ciRuns: 1000,
  arbitrary: authorizationHeaders,
  check({ values, grpc }) {
    const headers = new Headers();
    try {
      for (const v of values) headers.append("Authorization", v);
      if (grpc !== undefined) headers.set("Grpc-Metadata-Authorization", grpc);
    } catch {
      return; // not a value a client can send
    }
    const result = readBearer(new Request("https://sts.fuzz.example/sts/exchange", { headers }));
    const header = headers.get("Authorization");
    if (!result.ok) {
      const r = result.failure.reason;
      holds(r === "MISSING_BEARER" || r === "MALFORMED_TOKEN", `reason ${r}`);
      if (header === null || grpc !== undefined) holds(r === "MISSING_BEARER", `no single header but ${r}`);
      return;
    }
    holds(header !== null && grpc === undefined, "a token without exactly one header");
    holds(!header.includes(","), "a token from a header holding a comma");
    const token = result.value;
    holds(token !== "" && token.length <= MAX_BEARER_CHARS, "an empty or oversized token passed");
    holds(token === token.trim(), "the token keeps surrounding whitespace");
    holds(header.includes(token), "the token is not in the header");
  },
};

const queryParser: FuzzTarget<{ raw: string; pairs: [string, string][] }> = {
  name: "query string (endpoints/sts-request parseQuery)",
  ciRuns: 1500,
  arbitrary: fc.record({ raw: rawQuery, pairs: cleanPairs }),
  check({ raw, pairs }) {
    const parsed = parseQuery(raw);
    holds(Array.isArray(parsed.pairs), "no pairs");
    for (const [k, v] of parsed.pairs)
      holds(typeof k === "string" && typeof v === "string", "a pair is not strings");
    const clean = !raw.includes(";") && !/%(?![0-9a-fA-F]{2})/.test(raw);
    holds(clean === (parsed.error === undefined), `error ${parsed.error} for ${escaped(raw)}`);
    // Where Go and WHATWG agree (no ';', every '%' a whole escape), the answer is URLSearchParams'; on
    // printable ASCII only: Node 20's URLSearchParams reads a raw U+00A0 as the byte 0xa0, where the URL
    // standard (and parseQuery) encodes it as UTF-8 first.
    if (clean && /^[\x20-\x7e]*$/.test(raw)) {
      // (A leading "&" keeps URLSearchParams from dropping a leading "?", which Go reads as a key.)
      const expected = [...new URLSearchParams(`&${raw}`)];
      holds(
        JSON.stringify(parsed.pairs) === JSON.stringify(expected),
        `differs from URLSearchParams for ${escaped(raw)}: ${escaped(JSON.stringify(parsed.pairs))} vs ${escaped(JSON.stringify(expected))}`,
      );
    }
    // Encoded pairs read back exactly.
    const encoded = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
    const back = parseQuery(encoded);
    holds(back.error === undefined, "an error for an encoded query");
    holds(JSON.stringify(back.pairs) === JSON.stringify(pairs), `round trip differs for ${short(encoded)}`);
  },
};

interface ParamsCase {
  method: string;
  query: string;
  body: Uint8Array | null;
  type: string;
}

const params: FuzzTarget<ParamsCase> = {
  name: "query and form body (endpoints/sts-request readParams)",
  ciRuns: 600,
  arbitrary: fc.record({
    method: fc.constantFrom("GET", "POST", "POST", "PUT"),
    query: rawQuery,
    body: fc.option(formBody, { nil: null }),
    type: contentType,
  }),
  async check({ method, query, body, type }) {
    const url = new URL(`https://${FUZZ_DOMAIN}/sts/exchange?${query}`);
    const init: RequestInit = { method, headers: type === "" ? {} : { "Content-Type": type } };
    if (body !== null && method !== "GET") init.body = body;
    const result = await readParams(new Request(url, init), url);
    if (!result.ok) {
      const r = result.failure.reason;
      holds(r === "INVALID_REQUEST" || r === "MULTIPLE_SCOPES", `reason ${r}`);
      return;
    }
    const formPost =
      method === "POST" && type.split(";")[0]?.trim().toLowerCase() === "application/x-www-form-urlencoded";
    holds(result.value.formPost === formPost, "formPost is wrong");
    holds(typeof result.value.scope === "string" && typeof result.value.identity === "string", "not strings");
  },
};

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point.
const CONTROL = /[\x00-\x1f\x7f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point.
const CONTROL_OR_SPACE = /[\x00-\x20\x7f]/;

const issuers: FuzzTarget<{ iss: string; claim: string }> = {
  name: "issuer, subject and audience strings (oidc/syntax, normalizeIssuer)",
  ciRuns: 2500,
  arbitrary: fc.record({ iss: issuerLike, claim: claimLike }),
  check({ iss, claim }) {
    if (isValidIssuer(iss)) {
      holds(runeCount(iss) <= MAX_ISSUER_RUNES, "an issuer over 255 runes passed");
      holds(!/[?#\s]/.test(iss), `an issuer with a query, fragment or space passed: ${short(iss)}`);
      holds(!CONTROL.test(iss), "an issuer with a control character passed");
      const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/.exec(iss);
      holds(m !== null, `an issuer that is not scheme://authority[/path] passed: ${short(iss)}`);
      const [, scheme = "", authority = "", path = ""] = m;
      holds(!authority.includes("@"), "an issuer with userinfo passed");
      const host = authority.startsWith("[")
        ? authority.slice(0, authority.indexOf("]") + 1)
        : authority.split(":")[0];
      holds(
        /^[\x21-\x7e]+$/.test(host ?? ""),
        `an issuer with a non-ASCII or empty host passed: ${short(iss)}`,
      );
      const lower = scheme.toLowerCase();
      holds(
        lower === "https" || (lower === "http" && LOOPBACK.has(host ?? "")),
        `scheme ${scheme} for ${host}`,
      );
      const decoded = decodeURIComponent(path);
      holds(!decoded.includes("..") && !decoded.includes("//"), `a path with .. or // passed: ${short(iss)}`);
      for (const segment of decoded.split("/")) {
        holds(segment !== "." && segment !== "~", "a . or ~ segment passed");
        holds(new TextEncoder().encode(segment).length <= 150, "a path segment over 150 bytes passed");
      }
    }
    const normal = normalizeIssuer(iss);
    holds(normalizeIssuer(normal) === normal, "normalizeIssuer is not idempotent");
    holds(normal === iss || iss === "accounts.google.com", "normalizeIssuer changed another issuer");
    for (const [name, valid, forbidden] of [
      ["subject", isValidSubject(claim), /["'`\\<>;&$(){}[\]]/],
      ["audience", isValidAudience(claim), /["'`\\<>;|&$(){}[\]@]/],
    ] as const) {
      if (!valid) continue;
      holds(
        claim !== "" && runeCount(claim) <= MAX_SUBJECT_RUNES,
        `a ${name} that is empty or too long passed`,
      );
      holds(
        !CONTROL_OR_SPACE.test(claim) && !forbidden.test(claim),
        `a ${name} with a forbidden character passed`,
      );
    }
  },
};

const yamlOf = (value: unknown) => stringify(value, { version: "1.1" });

const policy: FuzzTarget<{ text: string; kind: "repo" | "org" }> = {
  name: "policy YAML (trust loadPolicy)",
  ciRuns: 300,
  arbitrary: fc.record({ text: yamlText(yamlOf), kind: fc.constantFrom("repo", "org") }),
  check({ text, kind }) {
    const loaded = loadPolicy(text, kind);
    const again = loadPolicy(text, kind);
    holds(JSON.stringify(problemsOf(loaded)) === JSON.stringify(problemsOf(again)), "two loads disagree");
    if (!loaded.ok) {
      holds(loaded.problems.length > 0, "refused without a problem");
      for (const p of loaded.problems) {
        holds(
          Number.isInteger(p.line) && p.line >= 1 && Number.isInteger(p.col) && p.col >= 1,
          "a bad position",
        );
        holds(typeof p.message === "string" && p.message !== "", "an empty message");
      }
      return;
    }
    const perms = Object.entries(loaded.policy.permissions);
    holds(perms.length > 0, "a policy without permissions compiled");
    for (const [, level] of perms)
      holds((PERMISSION_LEVELS as readonly string[]).includes(level), `level ${level}`);
    if (kind === "repo")
      holds(loaded.policy.repositories === undefined, "a repository policy with repositories");
  },
};

function problemsOf(loaded: ReturnType<typeof loadPolicy>) {
  return loaded.ok ? "ok" : loaded.problems;
}

const trustedIssuers: FuzzTarget<string> = {
  name: "trusted-issuer file (trust parseTrustedIssuers)",
  ciRuns: 300,
  arbitrary: yamlText(yamlOf),
  check(text) {
    const parsed = parseTrustedIssuers(text);
    if (!parsed.ok) {
      holds(parsed.problems.length > 0, "refused without a problem");
      for (const p of parsed.problems) holds(p.line >= 1 && p.col >= 1, "a bad position");
      return;
    }
    holds(parsed.file.mode === "enforce" || parsed.file.mode === "audit", `mode ${parsed.file.mode}`);
    const { issuers: exact, patterns } = parsed.file.allowlist;
    holds(exact.length + patterns.length > 0, "an empty allowlist");
    holds(exact.length <= 64 && patterns.length <= 16, "an allowlist over its bounds");
    for (const iss of exact) holds(isValidIssuer(iss), `an invalid issuer in the allowlist: ${short(iss)}`);
  },
};

interface OAuthCase {
  pairs: [string, string][];
  how: string;
  type: string;
  junk: Uint8Array | null;
}

/** The reasons of step 2 of the OAuth door (docs/oauth.md, "The request"): the form itself. */
const FORM_REASONS = new Set(["INVALID_REQUEST", "UNSUPPORTED_GRANT_TYPE", "MULTIPLE_SCOPES"]);

const oauthForm: FuzzTarget<OAuthCase> = {
  name: "OAuth form (endpoints/oauth-token, POST /oauth/token)",
  ciRuns: 800,
  arbitrary: fc.record({
    pairs: oauthPairs as fc.Arbitrary<[string, string][]>,
    how: pairEncoding,
    type: contentType,
    junk: fc.option(formBody, { freq: 6, nil: null }),
  }),
  async check({ pairs, how, type, junk }, { world }) {
    const body = junk ?? new TextEncoder().encode(encodePairs(pairs, how));
    const request = new Request(`https://${FUZZ_DOMAIN}/oauth/token`, {
      method: "POST",
      headers: type === "" ? {} : { "Content-Type": type },
      body,
    });
    // The form is read only through its door: the answer, and the audit line's scope and identity,
    // which are set once step 2 has passed.
    const { response, status, text, lines } = await world.send(request);
    const audits = lines.filter((l) => l.includes('"msg":"sts.exchange"'));
    holds(audits.length === 1, `${audits.length} audit lines`);
    for (const line of lines) noSecretIn(line, "a log line");
    const answer = JSON.parse(text) as Record<string, unknown>;
    if (status === 200) return; // a form around a fuzzed token that verified: the end-to-end target's business
    holds(isReason(answer.reason) && answer.reason !== "INTERNAL", `reason ${String(answer.reason)}`);
    const entry = OAUTH_ERRORS[answer.reason];
    holds(status === entry.status && answer.error === entry.error, `${answer.reason} answered ${status}`);
    holds(answer.request_id === response.headers.get("X-Request-Id"), "request ids differ");
    const record = JSON.parse(audits[0] as string) as { scope?: string; identity?: string };
    if (FORM_REASONS.has(answer.reason)) {
      holds(record.scope === undefined && record.identity === undefined, "a refused form reached the core");
      return;
    }
    // Past step 2: what the core was handed.
    const scope = record.scope ?? "";
    holds(scope !== "" && (record.identity ?? "") !== "", "an empty scope or audience passed");
    holds(scope === scope.trim() && !/\s/.test(scope), `a scope with whitespace passed: ${short(scope)}`);
    if (junk === null && how === "component") {
      const sent = (name: string) => pairs.filter(([k, v]) => k === name && v !== "");
      holds(sent("subject_token").length === 1, "not exactly one subject token passed");
      holds(sent("grant_type")[0]?.[1] === TOKEN_EXCHANGE, "passed without the token-exchange grant");
      holds(
        sent("actor_token").length === 0 && sent("actor_token_type").length === 0,
        "an actor token passed",
      );
      for (const line of lines) {
        const token = sent("subject_token")[0]?.[1] ?? "";
        if (token.length >= 12) holds(!line.includes(token), "a log line holds the subject token");
      }
    }
  },
};

// ---- the Worker, end to end -----------------------------------------------------------------------

type TokenSpec =
  | { kind: "signed"; claims: Record<string, unknown>; header: Record<string, unknown> }
  | { kind: "raw"; token: string };

interface E2ECase {
  route: "sts-get" | "sts-form" | "sts-other-body" | "oauth" | "other";
  method: string;
  path: string;
  token: TokenSpec;
  scope: string;
  identity: string;
  /** A policy put at a fresh identity for this case (when identity is `fuzzed`). */
  policyText: string;
  extra: [string, string][];
  userAgent: string | null;
  authStyle: "bearer" | "none" | "double" | "grpc" | "lower";
  fault: GitHubFault | null;
}

const claimValue = fc.oneof(
  claimLike,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
);

const signedToken: fc.Arbitrary<TokenSpec> = fc
  .record({
    sub: fc.oneof(fc.constantFrom("foo", "repo:fuzz/repo:ref:refs/heads/main"), claimLike, jwtShaped),
    aud: fc.oneof(
      fc.constantFrom(FUZZ_DOMAIN, "octosts", [FUZZ_DOMAIN, "x"]),
      claimLike,
      fc.array(claimLike, { maxLength: 3 }),
      fc.integer(),
    ),
    extra: fc.dictionary(
      fc.oneof(
        fc.constantFrom("ref", "repository", "__proto__", "exp", "iat", "nbf", "iss"),
        fc.string({ maxLength: 6 }),
      ),
      claimValue,
      { maxKeys: 4 },
    ),
    header: fc.dictionary(
      fc.constantFrom("kid", "alg", "typ", "jku", "crit"),
      fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("ES256", "none", "HS256")),
      { maxKeys: 1 },
    ),
  })
  .map(({ sub, aud, extra, header }) => ({
    kind: "signed" as const,
    claims: { sub, aud, ...extra },
    header,
  }));

/** Mostly `good`, sometimes `bad`: a near-valid case that gets deep and breaks one thing. */
const often = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ weight: 8, arbitrary: good }, { weight: 2, arbitrary: bad });

/** A pattern as a YAML single-quoted scalar. */
const quoted = (p: string) => `'${p.replace(/'/g, "''")}'`;

const patternLike = fc.oneof(
  fc.constantFrom(
    ".*",
    "foo",
    "repo:fuzz/.*",
    "(?:a?){1000}",
    "(a+)+b",
    "main|develop",
    "\\Q",
    "[a-",
    "(?i)FOO",
    "x{1001}",
    "",
  ),
  fc.stringMatching(/^[a-z.*+?|()[\]{}\\^$0-9:/-]{0,16}$/),
);

/** A policy that mostly compiles: the grant-all policy with fuzzed patterns, claims and permissions. */
const nearValidPolicy = fc
  .record({
    subject: fc.oneof(
      patternLike.map((p) => `subject_pattern: ${quoted(p)}`),
      fc.constantFrom("subject: foo", ""),
    ),
    audience: fc.oneof(
      fc.constant("audience_pattern: '.*'"),
      patternLike.map((p) => `audience: ${quoted(p)}`),
    ),
    claims: fc.dictionary(
      fc.oneof(
        fc.constantFrom("ref", "repository", "__proto__", "sub", "exp"),
        fc.stringMatching(/^[a-z_]{1,8}$/),
      ),
      patternLike,
      { maxKeys: 3 },
    ),
    permissions: fc.dictionary(
      fc.constantFrom("contents", "issues", "administration", "pull_requests", "Contents", "nope"),
      fc.constantFrom("read", "write", "admin", "none"),
      { minKeys: 1, maxKeys: 3 },
    ),
  })
  .map(({ subject, audience, claims, permissions }) => {
    const claimLines = Object.keys(claims).length
      ? `claim_pattern:\n${Object.entries(claims)
          .map(([k, v]) => `  ${k}: ${quoted(v)}`)
          .join("\n")}\n`
      : "";
    const permLines = Object.entries(permissions)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join("\n");
    return `issuer: ${FUZZ_ISSUER}\n${subject}\n${audience}\n${claimLines}permissions:\n${permLines}\n`;
  });

/** GitHub failing the next request's mint or policy read, with a hostile Retry-After now and then. */
const githubFault: fc.Arbitrary<GitHubFault | null> = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.record({
      edge: fc.constantFrom("mint" as const, "contents" as const),
      status: fc.constantFrom(429, 429, 403, 403, 422, 404, 500),
      headers: fc.oneof(
        fc.constant({}),
        fc.constant({ "x-ratelimit-remaining": "0" }),
        fc
          .oneof(
            fc.constantFrom(
              "99999999999999999999999",
              "-1",
              "0",
              "1.5",
              "Wed, 21 Oct 2015 07:28:00 GMT",
              "Fri, 31 Dec 9999 23:59:59 GMT",
              "soon",
              "",
            ),
            fc.nat().map(String),
          )
          .map((v) => ({ "retry-after": v })),
        fc
          .nat({ max: 2 ** 40 })
          .map((n) => ({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(n) })),
      ),
    }),
  },
);

const nearValidCase: fc.Arbitrary<E2ECase> = fc.record({
  route: fc.constantFrom("sts-get", "sts-form", "oauth"),
  method: fc.constant("GET"),
  path: fc.constant("/sts/exchange"),
  token: often<TokenSpec>(
    fc
      .record({
        sub: often(fc.constantFrom("foo", "repo:fuzz/repo:ref:refs/heads/main"), claimLike),
        aud: often<unknown>(
          fc.constantFrom(FUZZ_DOMAIN, [FUZZ_DOMAIN, "x"]),
          fc.oneof(claimLike, fc.integer()),
        ),
        extra: often(
          fc.record({ ref: fc.constantFrom("refs/heads/main", "main", "") }, { requiredKeys: [] }),
          fc.dictionary(
            fc.constantFrom("ref", "repository", "exp", "nbf", "iat", "iss", "__proto__"),
            claimValue,
            { maxKeys: 2 },
          ),
        ),
        header: often(
          fc.constant({}),
          fc.dictionary(
            fc.constantFrom("kid", "alg", "crit"),
            fc.constantFrom("x", "ES256", "none", "RS256"),
            { maxKeys: 1 },
          ),
        ),
      })
      .map(({ sub, aud, extra, header }) => ({
        kind: "signed" as const,
        claims: { sub, aud, ...extra },
        header,
      })),
    bearerToken.map((token) => ({ kind: "raw" as const, token })),
  ),
  scope: often(
    fc.constant(`${FUZZ_OWNER}/${FUZZ_REPO}`),
    fc.oneof(fc.constantFrom(FUZZ_OWNER, "other/repo", "", `${FUZZ_OWNER}/.github`), anyString, jwtShaped),
  ),
  identity: often(
    fc.constantFrom("ok", "fuzzed", "fuzzed"),
    fc.oneof(fc.constantFrom("missing", "", ".."), anyString, jwtShaped),
  ),
  policyText: fc.oneof({ weight: 3, arbitrary: nearValidPolicy }, { weight: 1, arbitrary: yamlText(yamlOf) }),
  extra: often(
    fc.constant([]),
    fc.array(
      fc.tuple(fc.constantFrom("scope", "scopes", "identity", "aud", "x", "subject_token"), anyString),
      { maxLength: 2 },
    ),
  ),
  userAgent: fc.option(
    fc.oneof(fc.constantFrom("octo-sts-action/1"), jwtShaped, fc.string({ maxLength: 30 })),
    { nil: null },
  ),
  authStyle: often(fc.constantFrom("bearer", "lower"), fc.constantFrom("none", "double", "grpc")),
  fault: githubFault,
}) as fc.Arbitrary<E2ECase>;

const randomCase: fc.Arbitrary<E2ECase> = fc.record({
  route: fc.constantFrom("sts-get", "sts-get", "sts-form", "sts-other-body", "oauth", "oauth", "other"),
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"),
  path: fc.constantFrom(
    "/",
    "/healthz",
    "/sts/exchange",
    "/sts/exchange_refresh_token",
    "/oauth/token",
    "/.well-known/oauth-authorization-server",
    "/nope",
    "/sts/exchange/",
  ),
  token: fc.oneof(
    { weight: 5, arbitrary: signedToken },
    { weight: 3, arbitrary: bearerToken.map((token) => ({ kind: "raw" as const, token })) },
  ),
  scope: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        `${FUZZ_OWNER}/${FUZZ_REPO}`,
        FUZZ_OWNER,
        `${FUZZ_OWNER}/.github`,
        "other/repo",
        "",
      ),
    },
    { weight: 2, arbitrary: anyString },
    { weight: 1, arbitrary: jwtShaped },
  ),
  identity: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom("ok", "fuzzed", "fuzzed", "missing", "") },
    { weight: 2, arbitrary: anyString },
    { weight: 1, arbitrary: jwtShaped },
  ),
  policyText: yamlText(yamlOf),
  extra: fc.array(
    fc.tuple(
      fc.constantFrom("scope", "scopes", "identity", "aud", "x", "subject_token", "grant_type"),
      anyString,
    ),
    { maxLength: 2 },
  ),
  userAgent: fc.option(
    fc.oneof(fc.constantFrom("octo-sts-action/1"), jwtShaped, fc.string({ maxLength: 30 })),
    { nil: null },
  ),
  authStyle: fc.constantFrom("bearer", "bearer", "bearer", "none", "double", "grpc", "lower"),
  fault: githubFault,
}) as fc.Arbitrary<E2ECase>;

const e2eCase: fc.Arbitrary<E2ECase> = fc.oneof(randomCase, nearValidCase);

/** The policy every case may use as identity `ok`: any subject and audience of the fuzz issuer. */
const GRANT_ALL = `issuer: ${FUZZ_ISSUER}\nsubject_pattern: '.*'\naudience_pattern: '.*'\npermissions:\n  contents: read\n`;

let fuzzedPolicies = 0;

const RETRY_REASONS = new Set<Reason>([
  "RATE_LIMITED",
  "GITHUB_UNAVAILABLE",
  "ORG_ISSUERS_UNAVAILABLE",
  "ORG_ISSUERS_RATE_LIMITED",
  "EXCHANGE_RATE_LIMITED",
]);

async function buildRequest(c: E2ECase, world: FuzzWorld) {
  const token = c.token.kind === "signed" ? await world.sign(c.token.claims, c.token.header) : c.token.token;
  let identity = c.identity;
  if (identity === "fuzzed") {
    identity = `fuzzed-${++fuzzedPolicies}`;
    world.setPolicy(identity, c.policyText);
  }
  const headers = new Headers();
  const set = (name: string, value: string) => {
    try {
      headers.append(name, value);
    } catch {
      // not a value a client can send
    }
  };
  if (c.userAgent !== null) set("User-Agent", c.userAgent);
  if (c.authStyle === "bearer" || c.authStyle === "double" || c.authStyle === "grpc")
    set("Authorization", `Bearer ${token}`);
  if (c.authStyle === "lower") set("Authorization", `bearer   ${token}`);
  if (c.authStyle === "double") set("Authorization", `Bearer ${token}`);
  if (c.authStyle === "grpc") set("Grpc-Metadata-Authorization", `Bearer ${token}`);
  const pairs: [string, string][] = [["scope", c.scope], ["identity", identity], ...c.extra];
  let method = c.method;
  let path = c.path;
  let body: string | undefined;
  if (c.route === "sts-get") {
    method = "GET";
    path = `/sts/exchange?${encodePairs(pairs, "component")}`;
  } else if (c.route === "sts-form") {
    method = "POST";
    path = "/sts/exchange";
    headers.set("Content-Type", "application/x-www-form-urlencoded");
    body = encodePairs(pairs, "component");
  } else if (c.route === "sts-other-body") {
    method = "POST";
    path = `/sts/exchange?${encodePairs(pairs, "plus")}`;
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(Object.fromEntries(pairs));
  } else if (c.route === "oauth") {
    method = "POST";
    path = "/oauth/token";
    headers.set("Content-Type", "application/x-www-form-urlencoded");
    const form: [string, string][] = [
      ["grant_type", TOKEN_EXCHANGE],
      ["subject_token", token],
      ["subject_token_type", ID_TOKEN_TYPE],
      ["scope", c.scope],
      ["audience", identity],
      ...c.extra,
    ];
    body = encodePairs(form, "component");
  }
  if (method === "GET" || method === "HEAD") body = undefined;
  const url = `https://${FUZZ_DOMAIN}${path}`;
  const echoed = [c.scope, identity, ...c.extra.map(([, v]) => v), c.userAgent ?? ""];
  return {
    request: new Request(url, { method, headers, body }),
    token,
    echoed,
    path: new URL(url).pathname,
    method,
  };
}

const endToEnd: FuzzTarget<E2ECase> = {
  name: "the Worker end to end (both doors, handle)",
  ciRuns: 400,
  arbitrary: e2eCase,
  async check(c, { world, outcomes }) {
    world.setPolicy("ok", GRANT_ALL);
    const { request, token, echoed, path, method } = await buildRequest(c, world);
    const mintedBefore = world.minted.length;
    world.fault = c.fault;
    const { response, status, text, lines } = await world.send(request);
    const minted = world.minted.slice(mintedBefore);

    // Logs: exactly one audit line for an exchange, none otherwise; no secret, never the bearer.
    const exchangeDoor =
      (path === "/sts/exchange" && (method === "GET" || method === "POST")) ||
      (path === "/oauth/token" && method === "POST");
    const audits = lines.filter((l) => l.includes('"msg":"sts.exchange"'));
    holds(audits.length === (exchangeDoor ? 1 : 0), `${audits.length} audit lines for ${method} ${path}`);
    for (const line of lines) {
      noSecretIn(line, "a log line");
      if (token.length >= 12) holds(!line.includes(token), `a log line holds the bearer: ${short(line)}`);
      for (const t of world.minted) holds(!line.includes(t), "a log line holds an installation token");
    }
    holds(
      !lines.some((l) => l.includes('"INTERNAL"') || l.includes("sts.error")),
      `an exception: ${lines.join(" | ").slice(0, 500)}`,
    );

    // The answer: the door's wire format, a catalogue reason at its status.
    const body = JSON.parse(text || "null") as Record<string, unknown> | null;
    const retryAfter = response.headers.get("Retry-After");
    if (retryAfter !== null) {
      holds(
        /^\d+$/.test(retryAfter) && Number(retryAfter) >= 1 && Number(retryAfter) <= MAX_RETRY_AFTER_SECONDS,
        `Retry-After ${retryAfter}`,
      );
    }
    const granted = status === 200 && exchangeDoor;
    if (!granted) for (const t of minted) holds(!text.includes(t), "a refusal carries a token");
    if (token.length >= 12 && !echoed.some((v) => v.includes(token)))
      holds(!text.includes(token), "the answer echoes the bearer");
    let reason: Reason | undefined;
    if (path === "/oauth/token") {
      if (granted) {
        holds(
          body !== null && typeof body.access_token === "string" && body.token_type === "Bearer",
          "not a token answer",
        );
        holds(minted.includes(body.access_token as string), "a token GitHub did not mint");
      } else {
        holds(body !== null && isReason(body.reason), `no reason in ${short(text)}`);
        reason = body.reason;
        const entry = OAUTH_ERRORS[reason];
        holds(
          status === entry.status && body.error === entry.error,
          `${reason} answered ${status} ${String(body.error)}`,
        );
        holds(body.request_id === response.headers.get("X-Request-Id"), "request ids differ");
      }
    } else if (granted) {
      holds(
        body !== null && typeof body.token === "string" && minted.includes(body.token),
        "not a minted token",
      );
    } else if (status >= 400) {
      const details = (
        body?.details as { reason?: unknown; metadata?: { request_id?: unknown } }[] | undefined
      )?.[0];
      holds(details !== undefined && isReason(details.reason), `no reason in ${short(text)}`);
      reason = details.reason as Reason;
      holds(
        status === CATALOGUE[reason].status && body?.code === CATALOGUE[reason].code,
        `${reason} answered ${status}`,
      );
      holds(details.metadata?.request_id === response.headers.get("X-Request-Id"), "request ids differ");
      holds(response.headers.get("Cache-Control") === "no-store", "an error without Cache-Control: no-store");
      holds(
        (status === 401) === (response.headers.get("WWW-Authenticate") !== null),
        "WWW-Authenticate on the wrong status",
      );
    } else {
      holds(!exchangeDoor, `an exchange answered ${status}`);
    }
    holds(reason !== "INTERNAL", `INTERNAL for ${method} ${path}: ${lines.join(" | ").slice(0, 600)}`);
    const outcome = granted ? "granted" : (reason ?? `${status}`);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    if (reason !== undefined)
      holds((retryAfter !== null) === RETRY_REASONS.has(reason), `Retry-After with ${reason}`);

    // The audit line agrees with the answer and stays small.
    if (audits.length === 1) {
      const line = audits[0] as string;
      const record = JSON.parse(line) as Record<string, unknown>;
      holds(
        record.decision === (granted ? "granted" : "refused"),
        "the audit decision differs from the answer",
      );
      if (reason !== undefined) holds(record.reason === reason, "the audit reason differs from the answer");
      const strings = JSON.stringify(record).match(/"(?:[^"\\]|\\.)*"/g) ?? [];
      for (const s of strings)
        holds(s.length <= AUDIT_MAX_STRING_CHARS * 2 + 64, "an audit string over the cut");
      holds(line.length < 256 * 1024, `an audit line of ${line.length} characters`);
    }
  },
};

// ---- the webhook ----------------------------------------------------------------------------------

interface WebhookCase {
  delivery: { event: string; payload: unknown };
  signature: string;
  encoding: "json" | "form" | "junk";
  junk: Uint8Array;
  listed: { filename: string; status: string }[];
  texts: string[];
  deliveryId: string | null;
  fault: GitHubFault | null;
}

const hex = (bytes: ArrayBuffer) =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function hmac(secret: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return hex(await crypto.subtle.sign("HMAC", key, body));
}

const BAD_SIGNATURES = new Set(["none", "sha1", "wrong", "malformed", "empty", "other-body"]);

const webhookTarget: FuzzTarget<WebhookCase> = {
  name: "webhook deliveries (endpoints/webhook, POST /webhook)",
  ciRuns: 400,
  arbitrary: fc.record({
    delivery: webhookDelivery as fc.Arbitrary<{ event: string; payload: unknown }>,
    signature: webhookSignature,
    encoding: fc.constantFrom("json", "json", "json", "form", "junk"),
    junk: fc.uint8Array({ maxLength: 48 }),
    listed: fc.array(
      fc.record({
        filename: webhookPath,
        status: fc.constantFrom("added", "modified", "removed", "renamed", "x"),
      }),
      { maxLength: 4 },
    ),
    texts: fc.array(fc.oneof(nearValidPolicy, yamlText(yamlOf)), { minLength: 4, maxLength: 4 }),
    deliveryId: fc.option(fc.oneof(fc.uuid(), jwtShaped, anyString), { nil: null }),
    fault: githubFault,
  }),
  async check(c, { world, outcomes }) {
    const { event, payload } = c.delivery;
    const json = JSON.stringify(payload) ?? "null";
    let body: Uint8Array;
    let type = "application/json";
    if (c.encoding === "form") {
      body = new TextEncoder().encode(`payload=${encodeURIComponent(json)}`);
      type = "application/x-www-form-urlencoded";
    } else body = c.encoding === "junk" ? c.junk : new TextEncoder().encode(json);
    const headers = new Headers({ "Content-Type": type, "User-Agent": "GitHub-Hookshot/fuzz" });
    const setHeader = (name: string, value: string) => {
      try {
        headers.set(name, value);
      } catch {
        // not a value GitHub can send
      }
    };
    setHeader("X-GitHub-Event", event);
    if (c.deliveryId !== null) setHeader("X-GitHub-Delivery", c.deliveryId);
    const mac = await hmac(TEST_WEBHOOK_SECRET, body);
    const signature: Record<string, string | undefined> = {
      valid: `sha256=${mac}`,
      "valid-upper": `sha256=${mac.toUpperCase()}`,
      wrong: `sha256=${await hmac("another secret", body)}`,
      malformed: `sha256=${mac.slice(0, 60)}zz`,
      empty: "",
      "other-body": `sha256=${await hmac(TEST_WEBHOOK_SECRET, new Uint8Array([...body, 0x20]))}`,
    };
    if (c.signature === "sha1") setHeader("X-Hub-Signature", `sha1=${mac.slice(0, 40)}`);
    else if (signature[c.signature] !== undefined)
      setHeader("X-Hub-Signature-256", signature[c.signature] as string);

    // The repository's files as the delivery lists them, put back after the case.
    const paths = c.listed.map((f) => f.filename);
    const before = new Map(paths.map((p) => [p, world.files.get(p)]));
    c.listed.forEach((f, i) => {
      world.files.set(f.filename, c.texts[i % c.texts.length] as string);
    });
    world.listed = c.listed;
    world.fault = c.fault;
    const callsBefore = world.calls;
    const runsBefore = world.checkRuns;
    const mintedBefore = world.minted.length;
    let sent: Awaited<ReturnType<FuzzWorld["send"]>>;
    try {
      sent = await world.send(
        new Request(`https://${FUZZ_DOMAIN}/webhook`, { method: "POST", headers, body }),
      );
    } finally {
      for (const [p, text] of before) {
        if (text === undefined) world.files.delete(p);
        else world.files.set(p, text);
      }
      world.listed = [];
    }
    const { response, status, text, lines } = sent;

    // One audit line, of the webhook; no secret, no token anywhere.
    const audits = lines.filter((l) => l.includes('"msg":"sts.webhook"'));
    holds(audits.length === 1, `${audits.length} webhook audit lines`);
    holds(
      !lines.some((l) => l.includes('"msg":"sts.exchange"') || l.includes("sts.error")),
      "an exchange or error line",
    );
    for (const out of [...lines, text]) {
      holds(!out.includes(TEST_WEBHOOK_SECRET), "the webhook secret in an output");
      for (const t of world.minted) holds(!out.includes(t), "an installation token in an output");
    }
    for (const line of lines) noSecretIn(line, "a log line");
    const record = JSON.parse(audits[0] as string) as {
      status?: number;
      conclusion?: string;
      evictions?: string[];
      reason?: string;
    };
    holds(record.status === status, `the audit line says ${record.status}, the answer ${status}`);
    const seen = `webhook ${record.conclusion}${(record.evictions ?? []).length > 0 ? " (evicted)" : ""}`;
    outcomes.set(seen, (outcomes.get(seen) ?? 0) + 1);

    // The answer: a catalogue refusal at its status, or a conclusion; never an exception.
    const retryAfter = response.headers.get("Retry-After");
    if (retryAfter !== null)
      holds(
        /^\d+$/.test(retryAfter) && Number(retryAfter) >= 1 && Number(retryAfter) <= MAX_RETRY_AFTER_SECONDS,
        `Retry-After ${retryAfter}`,
      );
    const answer = JSON.parse(text || "{}") as Record<string, unknown>;
    if (status >= 400) {
      const reason = (answer.details as { reason?: unknown }[] | undefined)?.[0]?.reason;
      holds(
        isReason(reason) && reason !== "INTERNAL",
        `reason ${String(reason)}: ${short(lines.join(" | "), 400)}`,
      );
      holds(CATALOGUE[reason].status === status, `${reason} answered ${status}`);
      holds(record.reason === reason, "the audit reason differs from the answer");
    } else {
      holds(status === 200 || status === 202, `status ${status}`);
      holds(typeof answer.conclusion === "string", `no conclusion in ${short(text)}`);
    }

    // Nothing of an unsigned delivery is read, and GitHub is not called for it.
    if (BAD_SIGNATURES.has(c.signature)) {
      holds(
        status === 401 && record.reason === "WEBHOOK_SIGNATURE_INVALID",
        `a bad signature answered ${status}`,
      );
      holds(world.calls === callsBefore, "GitHub was called for an unsigned delivery");
    }
    // Only a push to the default branch evicts a policy; a bot never gets a check run.
    const p = (payload ?? {}) as {
      ref?: unknown;
      repository?: { default_branch?: unknown };
      sender?: { login?: unknown };
    };
    const evictsPolicy = (record.evictions ?? []).some(
      (e) => e.startsWith("policy ") || e.startsWith("org-issuers "),
    );
    if (evictsPolicy) {
      holds(
        event === "push" && p.ref === `refs/heads/${String(p.repository?.default_branch)}`,
        `evicted on ${event} ${String(p.ref)}`,
      );
    }
    if (world.checkRuns > runsBefore) {
      holds(
        typeof p.sender?.login !== "string" || !p.sender.login.endsWith("[bot]"),
        "a check run for a bot",
      );
    }
    // Every token the delivery minted was for the one repository (the fake refuses others).
    holds(world.minted.length - mintedBefore <= 2, "more than one token for a delivery");
  },
};

/** Every target, in the order they run. */
export const TARGETS: readonly FuzzTarget<never>[] = [
  bearer,
  authorization,
  queryParser,
  params,
  issuers,
  policy,
  trustedIssuers,
  oauthForm,
  endToEnd,
  webhookTarget,
] as unknown as FuzzTarget<never>[];

export interface CaseTiming {
  ms: number;
  input: string;
}

export interface TargetReport {
  name: string;
  runs: number;
  ms: number;
  failed: boolean;
  /** fast-check's report on failure: the shrunk counterexample, its seed and path. */
  message?: string;
  slowest: CaseTiming[];
}

/** Runs one target for `runs` cases from `seed`, timing every case (the slowest are kept). */
export async function runTarget(
  target: FuzzTarget<unknown>,
  ctx: FuzzContext,
  options: { runs: number; seed: number; keepSlowest?: number },
): Promise<TargetReport> {
  const slowest: CaseTiming[] = [];
  const keep = options.keepSlowest ?? 3;
  const property = fc.asyncProperty(target.arbitrary, async (input) => {
    const started = performance.now();
    try {
      await target.check(input, ctx);
    } finally {
      const ms = performance.now() - started;
      if (slowest.length < keep || ms > (slowest.at(-1) as CaseTiming).ms) {
        slowest.push({ ms, input: short(fc.stringify(input), 160) });
        slowest.sort((a, b) => b.ms - a.ms);
        slowest.length = Math.min(slowest.length, keep);
      }
    }
  });
  const started = performance.now();
  const details = await fc.check(property, {
    numRuns: options.runs,
    seed: options.seed,
    timeout: CASE_DEADLINE_MS,
    includeErrorInReport: true,
  });
  const ms = performance.now() - started;
  const report: TargetReport = {
    name: target.name,
    runs: details.numRuns,
    ms,
    failed: details.failed,
    slowest,
  };
  if (details.failed) report.message = fc.defaultReportMessage(details) ?? "failed";
  return report;
}

/** The context every run shares: one world (its caches warm up like a long-lived isolate's). */
export async function fuzzContext(appKeyPem: string): Promise<FuzzContext> {
  return { world: await createFuzzWorld(appKeyPem), outcomes: new Map() };
}

/** The fixed seed of a target in CI (its index, so adding one does not move the others). */
export function ciSeed(index: number): number {
  return 20_261_201 + index;
}

/**
 * Generators of hostile input for the fuzz properties: bearer tokens, Authorization headers, query
 * strings and form bodies, issuer URLs, policy and trusted-issuer YAML, RFC 8693 forms. Each mixes
 * structure (the shapes the parsers expect, so cases get deep) with junk (arbitrary strings, bytes,
 * sizes around the limits), and a pool of values known to be interesting (escapes, dot segments,
 * YAML 1.1 scalars, catastrophic patterns).
 */

import fc from "fast-check";
import { MAX_BEARER_CHARS, MAX_FORM_BODY_BYTES } from "../../../../src/platform/limits";
import { b64urlText } from "./world";

/** Any string: ASCII-heavy, some full Unicode (also lone surrogates), some long. */
export const anyString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 2000 }) },
);

/** Something that looks like a JWT (three base64url parts of JSON), valid or not. */
export const jwtShaped = fc
  .tuple(
    fc.jsonValue({ maxDepth: 2 }),
    fc.jsonValue({ maxDepth: 2 }),
    fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/),
  )
  .map(
    ([h, p, s]) =>
      `eyJ${b64urlText(JSON.stringify(h)).slice(3)}.eyJ${b64urlText(JSON.stringify(p)).slice(3)}.${s}`,
  );

/** One dot-separated part of a token. */
const tokenPart = fc.oneof(
  anyString,
  fc.jsonValue({ maxDepth: 3 }).map((v) => b64urlText(JSON.stringify(v))),
  fc
    .record(
      {
        iss: fc.oneof(
          anyString,
          fc.constantFrom("accounts.google.com", "https://x.example", null, 1, [], {}),
        ),
        sub: fc.oneof(anyString, fc.constantFrom(null, 2, true)),
        alg: fc.constantFrom("RS256", "none", "HS256", " RS256", "ES256", 7),
      },
      { requiredKeys: [] },
    )
    .map((o) => b64urlText(JSON.stringify(o))),
  anyString.map((s) => b64urlText(s)),
  fc.stringMatching(/^[A-Za-z0-9_=+/-]{0,30}$/),
);

/** A bearer token as a caller may send it: parts joined by dots, JWT-shaped, or sizes at the cap. */
export const bearerToken = fc.oneof(
  { weight: 6, arbitrary: fc.array(tokenPart, { maxLength: 5 }).map((parts) => parts.join(".")) },
  { weight: 2, arbitrary: jwtShaped },
  { weight: 1, arbitrary: anyString },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_BEARER_CHARS - 2, max: MAX_BEARER_CHARS + 2 })
      .map((n) => `${b64urlText('{"alg":"RS256"}')}.${"a".repeat(n)}`.slice(0, n)),
  },
);

/**
 * Characters a header value may hold, as a string: visible ASCII, space and tab (workerd sends anything
 * beyond ASCII as UTF-8 with a warning, so Latin-1 bytes never reach the Worker as such).
 */
const headerText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(" ", "\t", ",", ".", "=", "-", "_", "/", "+"),
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 60,
});

/** The `Authorization` header(s) of a request: none, one, several, and a gRPC-gateway copy. */
export const authorizationHeaders = fc.record({
  values: fc.array(
    fc.oneof(
      fc
        .tuple(
          fc.constantFrom("Bearer", "bearer", "BEARER", "Basic", "Token", "", "Bearer\t", "Bearer  "),
          fc.constantFrom(" ", "", "  ", "\t"),
          fc.oneof(
            headerText,
            bearerToken.filter((t) => /^[\x20-\x7e]*$/.test(t)),
          ),
        )
        .map(([scheme, gap, token]) => `${scheme}${gap}${token}`),
      headerText,
      fc
        .integer({ min: MAX_BEARER_CHARS - 8, max: MAX_BEARER_CHARS + 8 })
        .map((n) => `Bearer ${"x".repeat(n)}`),
    ),
    { maxLength: 3 },
  ),
  grpc: fc.option(headerText, { nil: undefined }),
});

/** Pieces of a query string, so escapes, separators and brackets meet often. */
const queryPiece = fc.oneof(
  fc.constantFrom("&", "=", ";", "%", "%2", "%zz", "%41", "%e2%82", "%c3%28", "%2e%2e", "+", "[", "]", "[x]"),
  fc.constantFrom(
    "scope",
    "scopes",
    "identity",
    "identity_provider",
    "identityProvider",
    "aud",
    "cap",
    "scopes[]",
  ),
  fc.constantFrom("org/repo", "fuzz/repo", "ok", "..", "a/b"),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "grapheme", maxLength: 4 }),
);

/** A raw query string or form body, as bytes-that-are-text reach the parser. */
export const rawQuery = fc.oneof(
  { weight: 5, arbitrary: fc.array(queryPiece, { maxLength: 24 }).map((p) => p.join("")) },
  { weight: 1, arbitrary: anyString },
);

/** Key/value pairs that encode and decode cleanly (no lone surrogates). */
export const cleanPairs = fc.array(
  fc.tuple(fc.string({ unit: "grapheme", maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 12 })),
  { maxLength: 8 },
);

/** A form body: text, sometimes invalid UTF-8 bytes, sometimes just over the 16 KiB cap. */
export const formBody = fc.oneof(
  { weight: 6, arbitrary: rawQuery.map((s) => new TextEncoder().encode(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_FORM_BODY_BYTES - 4, max: MAX_FORM_BODY_BYTES + 4 })
      .map((n) => new TextEncoder().encode(`scope=${"a".repeat(Math.max(0, n - 6))}`)),
  },
);

export const contentType = fc.constantFrom(
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=utf-8",
  "APPLICATION/X-WWW-FORM-URLENCODED",
  "application/json",
  "text/plain",
  "",
  "multipart/form-data; boundary=x",
);

/** Issuer-like strings: scheme, userinfo, host, port, path segments, query and fragment from pools. */
export const issuerLike = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        scheme: fc.constantFrom("https", "http", "HTTPS", "Https", "ftp", "", "javascript", "h ttps", "file"),
        sep: fc.constantFrom("://", ":/", ":", "//", ":///", "://\\"),
        userinfo: fc.constantFrom("", "user@", "u:p@", "@", "%40@"),
        host: fc.oneof(
          fc.constantFrom(
            "example.com",
            "localhost",
            "127.0.0.1",
            "[::1]",
            "[::1",
            "EXAMPLE.com",
            "ex ample.com",
            "éxample.com",
            "xn--xmple-rva.com",
            "a%41b.com",
            "a%c3%a9.com",
            "",
            "169.254.169.254",
            "accounts.google.com",
            "token.actions.githubusercontent.com",
          ),
          fc.string({ maxLength: 12 }),
        ),
        port: fc.constantFrom("", ":443", ":8080", ":", ":x", ":99999"),
        path: fc.array(
          fc.oneof(
            fc.constantFrom(
              ".",
              "..",
              "~",
              "a",
              "a~",
              "%2e",
              "%2e%2e",
              "",
              "a.b",
              "~~",
              "x".repeat(151),
              "x".repeat(150),
            ),
            fc.string({ maxLength: 6 }),
          ),
          { maxLength: 4 },
        ),
        trailing: fc.constantFrom("", "/", "?", "?x=1", "#", "#f", "/?", "%", "%zz"),
      })
      .map(
        ({ scheme, sep, userinfo, host, port, path, trailing }) =>
          `${scheme}${sep}${userinfo}${host}${port}${path.length ? `/${path.join("/")}` : ""}${trailing}`,
      ),
  },
  { weight: 1, arbitrary: anyString },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 240, max: 270 })
      .map((n) => `https://example.com/${"a".repeat(n)}`.slice(0, n)),
  },
);

/** Subject and audience candidates: printable, control characters, forbidden ones, long. */
export const claimLike = fc.oneof(
  anyString,
  fc.constantFrom(
    "repo:org/repo:ref:refs/heads/main",
    "foo",
    "a b",
    "a\tb",
    "a;b",
    "a|b",
    "a@b",
    "$(x)",
    "\u0000",
    "\u00a0",
    "\u200b",
    "x".repeat(255),
    "x".repeat(256),
    "é".repeat(255),
    "😀".repeat(200),
  ),
);

/** Scalars that YAML 1.1 (go-yaml v2) resolves in surprising ways, and hostile patterns. */
const yamlScalar = fc.oneof(
  fc.constantFrom(
    "read",
    "write",
    "admin",
    "Write",
    "yes",
    "no",
    "on",
    "~",
    "null",
    "1e6",
    "0x10",
    "010",
    "1:30",
    ".inf",
    ".NaN",
    "2001-12-14",
    "true",
    "''",
    '""',
    ".*",
    "main|develop",
    "(?:a?){1000}",
    "(a+)+b",
    "\\Q",
    "[",
    "a{1001}",
    "(?i)MAIN",
    "https://issuer.fuzz.example",
    "https://token.actions.githubusercontent.com",
    "!!binary cw==",
    "!evil x",
    "&a x",
    "*a",
    "<<",
    "'quoted'",
    '"dq\\u0041"',
    "|",
    ">",
    "- x",
    "{a: b}",
    "[a, b]",
  ),
  fc.string({ maxLength: 12 }),
);

const policyKey = fc.oneof(
  fc.constantFrom(
    "issuer",
    "issuer_pattern",
    "subject",
    "subject_pattern",
    "audience",
    "audience_pattern",
    "claim_pattern",
    "permissions",
    "repositories",
    "Subject",
    "ſubject",
    "PERMISSIONS",
    "app",
    "contents",
    "pull_requests",
    "__proto__",
    "constructor",
    "<<",
    "mode",
    "issuers",
    "issuer_patterns",
    "? x",
    "",
  ),
  fc.string({ maxLength: 10 }),
);

/** A YAML-ish document built line by line: keys, indentation, anchors, aliases, tags, flow and junk. */
const yamlLines = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.oneof(
        fc.tuple(policyKey, yamlScalar).map(([k, v]) => `${k}: ${v}`),
        policyKey.map((k) => `${k}:`),
        yamlScalar.map((v) => `- ${v}`),
        fc.constantFrom("---", "...", "%YAML 1.1", "# c", "? k", ": v", "&x", "*x", "[", "{", "}", "]", "\t"),
        fc.string({ maxLength: 10 }),
      ),
    ),
    { maxLength: 14 },
  )
  .map((lines) => lines.map(([indent, line]) => `${" ".repeat(indent * 2)}${line}`).join("\n"));

const fieldValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    yamlScalar,
    fc.boolean(),
    fc.integer(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(policyKey, tie("value"), { maxKeys: 3 }),
  ),
})).value;

/** A structured policy object (mostly well-formed), rendered by the caller with the YAML library. */
export const policyObject = fc.record(
  {
    issuer: fc.oneof(fc.constantFrom("https://issuer.fuzz.example"), issuerLike, fieldValue),
    issuer_pattern: fc.oneof(yamlScalar, fieldValue),
    subject: fc.oneof(claimLike, fieldValue),
    subject_pattern: fc.oneof(fc.constantFrom(".*", "foo", "(?:a?){1000}"), yamlScalar),
    audience: fc.oneof(fc.constantFrom("sts.fuzz.example", "octosts"), claimLike),
    audience_pattern: yamlScalar,
    claim_pattern: fc.oneof(fc.dictionary(policyKey, yamlScalar, { maxKeys: 4 }), fieldValue),
    permissions: fc.oneof(
      fc.dictionary(
        fc.constantFrom(
          "contents",
          "issues",
          "pull_requests",
          "members",
          "metadata",
          "Contents",
          "unknown",
          "__proto__",
        ),
        fc.constantFrom("read", "write", "admin", "none", "Write", ""),
        { maxKeys: 4 },
      ),
      fieldValue,
    ),
    repositories: fc.oneof(
      fc.array(fc.constantFrom("repo", "other", "", "a/b"), { maxLength: 3 }),
      fieldValue,
    ),
    mode: fc.constantFrom("enforce", "audit", "Enforce", "block", ""),
    issuers: fc.array(fc.oneof(issuerLike, fc.constantFrom("https://issuer.fuzz.example")), { maxLength: 3 }),
    issuer_patterns: fc.array(
      fc.oneof(yamlScalar, fc.constantFrom("https://[a-z]+\\.example\\.com", ".*", "https://x\\.example/.*")),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

/**
 * Policy and trusted-issuer file texts: structured objects (rendered by `render`), line soup,
 * one-character mutations of the structured ones, and junk.
 */
export function yamlText(render: (value: unknown) => string): fc.Arbitrary<string> {
  const structured = policyObject.map((o) => {
    try {
      return render(o);
    } catch {
      return "";
    }
  });
  const mutated = fc
    .tuple(
      structured,
      fc.nat(),
      fc.constantFrom("", ":", "\n", " ", "'", '"', "&a ", "*a", "[", "\t", "#", "- "),
    )
    .map(([text, at, insert]) => {
      const i = text.length === 0 ? 0 : at % text.length;
      return `${text.slice(0, i)}${insert}${text.slice(i + (insert === "" ? 1 : 0))}`;
    });
  return fc.oneof(
    { weight: 4, arbitrary: structured },
    { weight: 3, arbitrary: mutated },
    { weight: 3, arbitrary: yamlLines },
    { weight: 1, arbitrary: anyString },
  );
}

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";

/** An RFC 8693 form as pairs: the known parameters (missing, empty, repeated, wrong) and others. */
export const oauthPairs = fc.array(
  fc.oneof(
    fc.tuple(
      fc.constant("grant_type"),
      fc.constantFrom(
        TOKEN_EXCHANGE,
        "client_credentials",
        "",
        "urn:ietf:params:oauth:grant-type:TOKEN-EXCHANGE",
      ),
    ),
    fc.tuple(fc.constant("subject_token"), fc.oneof(bearerToken, fc.constant(""))),
    fc.tuple(
      fc.constant("subject_token_type"),
      fc.constantFrom(
        ID_TOKEN_TYPE,
        "urn:ietf:params:oauth:token-type:jwt",
        "urn:ietf:params:oauth:token-type:access_token",
        "",
      ),
    ),
    fc.tuple(
      fc.constant("requested_token_type"),
      fc.constantFrom("urn:ietf:params:oauth:token-type:access_token", "urn:x", ""),
    ),
    fc.tuple(
      fc.constant("scope"),
      fc.oneof(fc.constantFrom("fuzz/repo", "a b", " fuzz/repo ", "", "\tx"), anyString),
    ),
    fc.tuple(fc.constant("audience"), fc.oneof(fc.constantFrom("ok", "..", ""), anyString)),
    fc.tuple(fc.constantFrom("actor_token", "actor_token_type", "client_id", "resource", "x"), anyString),
    fc.tuple(anyString, anyString),
  ),
  { maxLength: 10 },
);

/** How a pair is written into a form: encoded, raw, or with a broken escape. */
export const pairEncoding = fc.constantFrom("component", "raw", "plus", "broken");

export function encodePairs(pairs: readonly (readonly [string, string])[], how: string): string {
  const enc = (s: string) => {
    try {
      return encodeURIComponent(s);
    } catch {
      return s; // a lone surrogate: sent raw
    }
  };
  return pairs
    .map(([k, v]) => {
      if (how === "raw") return `${k}=${v}`;
      if (how === "plus") return `${enc(k)}=${enc(v).replace(/%20/g, "+")}`;
      if (how === "broken") return `${enc(k)}=${enc(v)}%`;
      return `${enc(k)}=${enc(v)}`;
    })
    .join("&");
}

/** A 40-hex commit SHA, sometimes not one. */
const shaLike = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[0-9a-f]{40}$/) },
  { weight: 1, arbitrary: fc.constantFrom("0".repeat(40), "", "HEAD", "main", "../x") },
  { weight: 1, arbitrary: anyString },
);

/** Paths a delivery may name: policies, the trusted-issuer file, near misses, anything. */
export const webhookPath = fc.oneof(
  fc.constantFrom(
    ".github/chainguard/a.sts.yaml",
    ".github/chainguard/b.sts.yaml",
    ".github/chainguard/trusted-token-issuers.yaml",
    ".github/chainguard/a.sts.yml",
    ".github/chainguard/sub/c.sts.yaml",
    ".github/chainguard/../x.sts.yaml",
    "README.md",
  ),
  fc.string({ maxLength: 30 }).map((s) => `.github/chainguard/${s}.sts.yaml`),
  anyString,
);

const login = fc.oneof(fc.constantFrom("octocat", "renovate[bot]", "fuzz", "FUZZ"), anyString, jwtShaped);
const repositoryField = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      id: fc.oneof(fc.constant(5001), fc.integer()),
      name: fc.oneof(fc.constantFrom("repo", ".github", "other"), anyString),
      full_name: fc.oneof(fc.constantFrom("fuzz/repo"), anyString),
      owner: fc.record({ login: fc.oneof(fc.constant("fuzz"), login), id: fc.integer() }),
      default_branch: fc.oneof(fc.constantFrom("main", "master"), anyString),
    }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const installationField = fc.oneof(
  { weight: 8, arbitrary: fc.record({ id: fc.oneof(fc.constant(7), fc.integer()) }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
const senderField = fc.record({ login, type: fc.constantFrom("User", "Bot") });
const pullRequests = fc.array(
  fc.record({ number: fc.oneof(fc.nat({ max: 99 }), fc.jsonValue({ maxDepth: 0 })) }),
  {
    maxLength: 3,
  },
);
const suite = fc.record(
  {
    head_sha: shaLike,
    before: shaLike,
    after: shaLike,
    head_branch: fc.oneof(fc.constantFrom("main", "feature"), anyString),
    pull_requests: pullRequests,
  },
  { requiredKeys: [] },
);

/** An event and its payload, shaped like GitHub's (with junk in every field now and then). */
export const webhookDelivery = fc.oneof(
  fc.record({
    event: fc.constant("pull_request"),
    payload: fc.record({
      action: fc.constantFrom("opened", "synchronize", "reopened", "closed", "edited", ""),
      number: fc.oneof(fc.nat({ max: 99 }), fc.jsonValue({ maxDepth: 0 })),
      pull_request: fc.record(
        {
          number: fc.nat({ max: 99 }),
          head: fc.record({ sha: shaLike, ref: anyString }),
          base: fc.record({ ref: anyString }),
        },
        { requiredKeys: [] },
      ),
      repository: repositoryField,
      installation: installationField,
      sender: senderField,
    }),
  }),
  fc.record({
    event: fc.constant("push"),
    payload: fc.record({
      ref: fc.oneof(fc.constantFrom("refs/heads/main", "refs/heads/feature", "refs/tags/v1"), anyString),
      before: shaLike,
      after: shaLike,
      created: fc.boolean(),
      deleted: fc.boolean(),
      commits: fc.array(
        fc.record({
          id: shaLike,
          added: fc.array(webhookPath, { maxLength: 3 }),
          modified: fc.array(webhookPath, { maxLength: 3 }),
          removed: fc.array(webhookPath, { maxLength: 3 }),
        }),
        { maxLength: 4 },
      ),
      repository: repositoryField,
      installation: installationField,
      sender: senderField,
    }),
  }),
  fc.record({
    event: fc.constantFrom("check_suite", "check_run"),
    payload: fc.record({
      action: fc.constantFrom("requested", "rerequested", "completed", "created"),
      check_suite: suite,
      check_run: fc.record({ check_suite: suite }, { requiredKeys: [] }),
      repository: repositoryField,
      installation: installationField,
      sender: senderField,
    }),
  }),
  fc.record({
    event: fc.constantFrom("installation", "installation_repositories", "ping", "issues", ""),
    payload: fc.record({
      action: fc.constantFrom("created", "deleted", "suspend", "new_permissions_accepted", "added"),
      installation: fc.record({ id: fc.integer(), account: fc.record({ login }) }),
      zen: anyString,
    }),
  }),
  fc.record({ event: anyString, payload: fc.jsonValue({ maxDepth: 3 }) }),
);

/** How a delivery is signed: right, not at all, SHA-1 only, with another secret, malformed. */
export const webhookSignature = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("valid", "valid-upper") },
  { weight: 1, arbitrary: fc.constantFrom("none", "sha1", "wrong", "malformed", "empty", "other-body") },
);

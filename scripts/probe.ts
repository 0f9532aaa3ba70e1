/**
 * Black-box probe of the BUILT Worker (wrangler bundle in workerd via Miniflare) against docs/refusals.md and
 * docs/configuration.md: sends many requests, ordinary and hostile, and prints every answer that differs from
 * the contract. Usage: node scripts/run.mjs scripts/probe.ts [--skip-build]
 */

import { connect } from "node:net";
import { startStack } from "./lib/stack";

const PORT = 8797;
const stack = await startStack({
  port: PORT,
  issuerPort: 8798,
  githubPort: 8799,
  skipBuild: process.argv.includes("--skip-build"),
});
const DOMAIN = stack.domain;
const issuerDouble = stack.doubles.issuer.double;
const gh = stack.doubles.github.double;
const ACTIONS = "https://token.actions.githubusercontent.com";

const issuer = await issuerDouble.createIssuer({ host: "token.actions.githubusercontent.com" });
const POLICY = `issuer: ${ACTIONS}
subject: repo:acme/app:ref:refs/heads/main
claim_pattern:
  ref_protected: "true"
permissions:
  contents: read
`;
const ORG_POLICY = `issuer: ${ACTIONS}
subject: repo:acme/app:ref:refs/heads/main
permissions:
  issues: write
`;
const tenant = await gh.setupTenant("probe", {
  host: "api.github.com",
  appId: "4242",
  installations: [{ account: "acme", type: "Organization" }],
  repos: {
    "acme/app": {
      files: {
        ".github/chainguard/ci.sts.yaml": POLICY,
        ".github/chainguard/broken.sts.yaml": "issuer: [",
      },
    },
    "acme/.github": { files: { ".github/chainguard/org.sts.yaml": ORG_POLICY } },
  },
});

const CLAIMS = { sub: "repo:acme/app:ref:refs/heads/main", aud: DOMAIN, ref_protected: "true" };
const jwt = (claims: Record<string, unknown> = {}, opts: Record<string, unknown> = {}) =>
  issuerDouble.mintToken(issuer.id, { claims: { ...CLAIMS, ...claims }, ...opts });

let problems = 0;
let checks = 0;
function differ(what: string, detail: string): void {
  problems++;
  console.log(`DIFF ${what}: ${detail}`);
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
}

async function send(path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${stack.url}${path}`, init);
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A raw HTTP/1.1 request (bytes as given), for what fetch refuses to send. */
function raw(request: Buffer | string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(PORT, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const all = Buffer.concat(chunks).toString("latin1");
      const [head = "", body = ""] = all.split("\r\n\r\n", 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body });
    });
    socket.write(request);
    setTimeout(() => socket.end(), 1500);
  });
}

const STATUS: Record<number, number> = { 3: 400, 5: 404, 7: 403, 8: 429, 12: 501, 13: 500, 14: 503, 16: 401 };

/** Checks an error answer against docs/refusals.md, "Error body" and "Reasons". */
function expectError(
  what: string,
  a: Answer,
  want: { code: number; reason: string; message: string | RegExp; claim?: string },
): void {
  checks++;
  const status = STATUS[want.code];
  if (a.status !== status) differ(what, `status ${a.status}, want ${status} (${a.text.slice(0, 200)})`);
  if (!a.headers.get("x-request-id")) differ(what, "no X-Request-Id");
  if (!/^application\/json/.test(a.headers.get("content-type") ?? "")) differ(what, "Content-Type not json");
  if (status === 401 && a.headers.get("www-authenticate") !== 'Bearer error="invalid_token"')
    differ(what, `WWW-Authenticate ${a.headers.get("www-authenticate")}`);
  if (status !== 401 && a.headers.has("www-authenticate")) differ(what, "WWW-Authenticate on a non-401");
  if ((status === 429 || status === 503) && !/^\d+$/.test(a.headers.get("retry-after") ?? ""))
    differ(what, "no Retry-After");
  const body = a.json;
  if (body === undefined) {
    differ(what, `body not JSON: ${a.text.slice(0, 200)}`);
    return;
  }
  const keys = Object.keys(body).join(",");
  if (keys !== "code,message,details") differ(what, `body keys ${keys}`);
  if (body.code !== want.code) differ(what, `code ${String(body.code)}, want ${want.code}`);
  const message = String(body.message);
  if (typeof want.message === "string" ? message !== want.message : !want.message.test(message))
    differ(what, `message ${JSON.stringify(message)}, want ${String(want.message)}`);
  const details = body.details as Record<string, unknown>[];
  if (!Array.isArray(details) || details.length !== 1) {
    differ(what, `details ${JSON.stringify(details)}`);
    return;
  }
  const d = details[0] as Record<string, unknown>;
  if (d["@type"] !== "type.googleapis.com/google.rpc.ErrorInfo") differ(what, `@type ${String(d["@type"])}`);
  if (d.reason !== want.reason) differ(what, `reason ${String(d.reason)}, want ${want.reason}`);
  if (d.domain !== DOMAIN) differ(what, `domain ${String(d.domain)}`);
  const md = d.metadata as Record<string, string>;
  if (md?.request_id !== a.headers.get("x-request-id")) differ(what, "metadata.request_id != X-Request-Id");
  const wantKeys = want.claim === undefined ? "request_id" : "request_id,claim";
  if (Object.keys(md ?? {}).join(",") !== wantKeys) differ(what, `metadata ${JSON.stringify(md)}`);
  if (want.claim !== undefined && md?.claim !== want.claim) differ(what, `metadata.claim ${md?.claim}`);
  if (/\bat \w|stack/i.test(a.text)) differ(what, "looks like a stack trace");
}

function expectToken(what: string, a: Answer, shape: "default" | "strict"): void {
  checks++;
  if (a.status !== 200) {
    differ(what, `status ${a.status}: ${a.text.slice(0, 300)}`);
    return;
  }
  if (a.headers.get("cache-control") !== "no-store")
    differ(what, `Cache-Control ${a.headers.get("cache-control")}`);
  if (!a.headers.get("x-request-id")) differ(what, "no X-Request-Id");
  if (!/^application\/json/.test(a.headers.get("content-type") ?? "")) differ(what, "Content-Type not json");
  const b = a.json ?? {};
  const keys = Object.keys(b).join(",");
  const want =
    shape === "default"
      ? "token,access_token,token_type,expires_in,refreshToken,expiry"
      : "token,refreshToken,expiry";
  if (keys !== want) differ(what, `keys ${keys}, want ${want}`);
  if (typeof b.token !== "string" || !String(b.token).startsWith("ghs_")) differ(what, "token");
  if (shape === "default") {
    if (b.access_token !== b.token) differ(what, "access_token != token");
    if (b.token_type !== "bearer") differ(what, `token_type ${String(b.token_type)}`);
    if (
      typeof b.expires_in !== "number" ||
      (b.expires_in as number) < 3500 ||
      (b.expires_in as number) > 3600
    )
      differ(what, `expires_in ${String(b.expires_in)}`);
  }
  if (b.refreshToken !== "") differ(what, "refreshToken");
  if (typeof b.expiry !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(b.expiry as string))
    differ(what, `expiry ${String(b.expiry)}`);
}

const auth = async (claims: Record<string, unknown> = {}) => ({
  authorization: `Bearer ${await jwt(claims)}`,
});
const ACTION_QS = "/sts/exchange?scope=acme/app&scopes=acme/app&identity=ci";

// ---- success shapes -------------------------------------------------------------------------------
expectToken("action GET", await send(ACTION_QS, { headers: await auth() }), "default");
expectToken(
  "SDK form POST",
  await send("/sts/exchange", {
    method: "POST",
    headers: { ...(await auth()), "content-type": "application/x-www-form-urlencoded" },
    body: "aud=x&scope=acme%2Fapp&scopes=acme%2Fapp&identity=ci",
  }),
  "strict",
);
expectToken(
  "form POST charset",
  await send("/sts/exchange", {
    method: "POST",
    headers: { ...(await auth()), "content-type": "application/x-www-form-urlencoded; charset=UTF-8" },
    body: "scope=acme/app&identity=ci",
  }),
  "strict",
);
expectToken("POST query only", await send(ACTION_QS, { method: "POST", headers: await auth() }), "default");
expectToken(
  "lowercase scheme",
  await send(ACTION_QS, { headers: { authorization: `bearer ${await jwt()}` } }),
  "default",
);
expectToken(
  "BEARER scheme",
  await send(ACTION_QS, { headers: { authorization: `BEARER ${await jwt()}` } }),
  "default",
);
expectToken("bare JWT", await send(ACTION_QS, { headers: { authorization: await jwt() } }), "default");
expectToken(
  "identityProvider ignored",
  await send(`${ACTION_QS}&identityProvider=x&cap=a&cap=b&aud=1&aud=2`, { headers: await auth() }),
  "default",
);
expectToken(
  "org scope",
  await send("/sts/exchange?scope=acme&identity=org", { headers: await auth() }),
  "default",
);
expectToken(
  "owner/.github scope",
  await send("/sts/exchange?scopes=acme/.github&identity=org", { headers: await auth() }),
  "default",
);
{
  const calls = (await gh.calls(tenant.id)).filter(
    (c) => c.method === "POST" && c.path.endsWith("/access_tokens"),
  );
  const bodies = calls.map((c) => c.body);
  if (!bodies.includes('{"permissions":{"issues":"write"}}')) differ("org scope mint", bodies.join(" | "));
  if (!bodies.includes('{"repositories":[".github"],"permissions":{"issues":"write"}}'))
    differ("owner/.github mint", bodies.join(" | "));
}

// ---- routes --------------------------------------------------------------------------------------
{
  const a = await send("/");
  checks++;
  if (
    a.status !== 200 ||
    a.text !== '{"msg": "please check documentation for usage: https://github.com/octo-sts/app"}'
  )
    differ("GET /", `${a.status} ${a.text}`);
  if (!a.headers.get("x-request-id")) differ("GET /", "no X-Request-Id");
  const h = await send("/healthz");
  if (h.status !== 200 || h.text !== '{"ok":true}') differ("GET /healthz", `${h.status} ${h.text}`);
  if (!h.headers.get("x-request-id")) differ("GET /healthz", "no X-Request-Id");
  const head = await send("/", { method: "HEAD" });
  if (!head.headers.get("x-request-id")) differ("HEAD /", "no X-Request-Id");
}
const NF = { code: 5, reason: "NOT_FOUND", message: "Not Found" };
const MNA = { code: 12, reason: "METHOD_NOT_ALLOWED", message: "Method Not Allowed" };
for (const [m, p] of [
  ["GET", "/nope"],
  ["POST", "/oauth/token"],
  ["GET", "/oauth/token"],
  ["POST", "/webhook"],
  ["GET", "/sts/exchange/"],
  ["GET", "/sts/Exchange"],
  ["GET", "/sts"],
  ["DELETE", "/x/y/z"],
  ["OPTIONS", "/nope"],
  ["GET", "/healthz/"],
  ["GET", "/index.html"],
] as const)
  expectError(`${m} ${p}`, await send(p, { method: m }), NF);
for (const [m, p] of [
  ["PUT", "/sts/exchange"],
  ["DELETE", "/sts/exchange"],
  ["PATCH", "/sts/exchange"],
  ["OPTIONS", "/sts/exchange"],
  ["GET", "/sts/exchange_refresh_token"],
  ["PUT", "/"],
  ["POST", "/"],
  ["POST", "/healthz"],
  ["OPTIONS", "/healthz"],
] as const)
  expectError(
    `${m} ${p}`,
    await send(p, { method: m, body: m === "GET" || m === "OPTIONS" ? undefined : "" }),
    MNA,
  );
{
  const a = await send("/sts/exchange", { method: "HEAD" });
  checks++;
  if (a.status !== 501 || !a.headers.get("x-request-id")) differ("HEAD /sts/exchange", `${a.status}`);
}
{
  const a = await send("/sts/exchange_refresh_token", { method: "POST" });
  checks++;
  if (a.status !== 501 || (a.json as { code?: number })?.code !== 12) differ("POST refresh", a.text);
  console.log(`note: POST /sts/exchange_refresh_token → ${a.status} ${a.text}`);
}

// ---- request parameters (step 2), before Authorization -------------------------------------------
const IR = (message: string | RegExp) => ({ code: 3, reason: "INVALID_REQUEST", message });
expectError(
  "identity twice",
  await send("/sts/exchange?identity=a&identity=b&scope=acme/app"),
  IR('too many values for field "identity": a, b'),
);
expectError(
  "scope twice",
  await send("/sts/exchange?scope=a&scope=b&identity=x"),
  IR('too many values for field "scope": a, b'),
);
expectError("bad escape", await send("/sts/exchange?scope=a%zz&identity=x"), IR('invalid URL escape "%zz"'));
expectError(
  "bad escape end",
  await send("/sts/exchange?scope=a%2&identity=x"),
  IR('invalid URL escape "%2"'),
);
expectError(
  "semicolon",
  await send("/sts/exchange?scope=a;b&identity=x"),
  IR("invalid semicolon separator in query"),
);
expectError("two scopes", await send("/sts/exchange?scopes=a&scopes=b&identity=x"), {
  code: 3,
  reason: "MULTIPLE_SCOPES",
  message: "multiple scopes not supported",
});
expectError("scopes[0]", await send("/sts/exchange?scopes[0]=acme/app&identity=ci"), {
  code: 3,
  reason: "MULTIPLE_SCOPES",
  message: "multiple scopes not supported",
});
expectError(
  "scope[x]",
  await send("/sts/exchange?scope[x]=acme/app&identity=ci"),
  IR('too many values for field "scope": x, acme/app'),
);
expectError(
  "identity_provider twice",
  await send("/sts/exchange?identity_provider=a&identity_provider=b"),
  IR('too many values for field "identity_provider": a, b'),
);
expectError(
  "form body and query",
  await send("/sts/exchange?scope=q", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "scope=b",
  }),
  IR('too many values for field "scope": b, q'),
);
expectError(
  "form body bad escape",
  await send("/sts/exchange", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "scope=%",
  }),
  IR('invalid URL escape "%"'),
);
{
  // identity_provider and identityProvider are two keys for one ignored field: upstream sets it twice, no error.
  const a = await send(`${ACTION_QS}&identity_provider=a&identityProvider=b`, { headers: await auth() });
  expectToken("identity_provider + identityProvider", a, "default");
}

// ---- Authorization (step 3) ----------------------------------------------------------------------
const MB = { code: 16, reason: "MISSING_BEARER", message: "expected exactly one authorization header" };
const SIG = { code: 16, reason: "SIGNATURE_INVALID", message: "unable to verify bearer token" };
const MT = { code: 3, reason: "MALFORMED_TOKEN", message: "invalid bearer token" };
expectError("no Authorization", await send(ACTION_QS), MB);
expectError(
  "two Authorization",
  await send(ACTION_QS, {
    headers: [
      ["authorization", `Bearer ${await jwt()}`],
      ["authorization", `Bearer ${await jwt()}`],
    ],
  }),
  MB,
);
expectError(
  "Grpc-Metadata-Authorization",
  await send(ACTION_QS, { headers: { ...(await auth()), "grpc-metadata-authorization": "x" } }),
  MB,
);
// workerd drops an empty header before the Worker sees it: it counts as no Authorization at all.
expectError("empty Authorization", await send(ACTION_QS, { headers: { authorization: "" } }), MB);
expectError("Bearer only", await send(ACTION_QS, { headers: { authorization: "Bearer" } }), MT);
expectError("Bearer space", await send(ACTION_QS, { headers: { authorization: "Bearer " } }), MT);
expectError("Basic", await send(ACTION_QS, { headers: { authorization: "Basic dXNlcjpwYXNz" } }), MT);
expectError("garbage", await send(ACTION_QS, { headers: { authorization: "Bearer a.b.c" } }), MT);
expectError("one part", await send(ACTION_QS, { headers: { authorization: "Bearer abc" } }), MT);
expectError(
  "huge bearer",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${"a".repeat(60000)}` } }),
  MT,
);
const b64 = (o: unknown) => Buffer.from(typeof o === "string" ? o : JSON.stringify(o)).toString("base64url");
const fake = (header: unknown, payload: unknown) => `${b64(header)}.${b64(payload)}.${b64("sig")}`;
const now = Math.floor(Date.now() / 1000);
expectError(
  "payload not JSON",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${fake({ alg: "RS256" }, "not json")}` } }),
  MT,
);
expectError(
  "payload array",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${fake({ alg: "RS256" }, [1])}` } }),
  MT,
);
expectError(
  "payload null",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${fake({ alg: "RS256" }, null)}` } }),
  MT,
);
expectError(
  "iss number",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${fake({ alg: "RS256" }, { iss: 1 })}` } }),
  MT,
);
expectError(
  "sub number",
  await send(ACTION_QS, {
    headers: { authorization: `Bearer ${fake({ alg: "RS256" }, { iss: ACTIONS, sub: 1 })}` },
  }),
  MT,
);
expectError(
  "padded b64",
  await send(ACTION_QS, {
    headers: {
      authorization: `Bearer ${b64({ alg: "RS256" })}.${Buffer.from(JSON.stringify({ iss: ACTIONS })).toString("base64")}.x`,
    },
  }),
  MT,
);
expectError(
  "no iss",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${fake({ alg: "RS256" }, { sub: "x" })}` } }),
  { code: 3, reason: "INVALID_ISSUER", message: "invalid issuer format" },
);
expectError(
  "iss http",
  await send(ACTION_QS, {
    headers: { authorization: `Bearer ${fake({ alg: "RS256" }, { iss: "http://evil.example.com" })}` },
  }),
  { code: 3, reason: "INVALID_ISSUER", message: "invalid issuer format" },
);
expectError(
  "iss query",
  await send(ACTION_QS, {
    headers: { authorization: `Bearer ${fake({ alg: "RS256" }, { iss: "https://a.example.com/?x" })}` },
  }),
  { code: 3, reason: "INVALID_ISSUER", message: "invalid issuer format" },
);
// A header that is not JSON fails at the signature stage, as upstream (401), but before any fetch.
expectError(
  "header not JSON",
  await send(ACTION_QS, {
    headers: {
      authorization: `Bearer ${b64("xx")}.${b64({ iss: ACTIONS, sub: "x", exp: now + 60 })}.${b64("s")}`,
    },
  }),
  SIG,
);
expectError(
  "alg none",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${await jwt({}, { alg: "none" })}` } }),
  SIG,
);
expectError(
  "alg HS256 header",
  await send(ACTION_QS, {
    headers: { authorization: `Bearer ${fake({ alg: "HS256" }, { iss: ACTIONS, sub: "x", exp: now + 60 })}` },
  }),
  SIG,
);
expectError(
  "crit header",
  await send(ACTION_QS, {
    headers: {
      authorization: `Bearer ${fake({ alg: "RS256", crit: ["x"], x: 1 }, { iss: ACTIONS, sub: "x", exp: now + 60 })}`,
    },
  }),
  SIG,
);
expectError(
  "expired",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${await jwt({ exp: now - 10 })}` } }),
  { code: 16, reason: "TOKEN_EXPIRED", message: "unable to verify bearer token" },
);
expectError(
  "no exp",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${await jwt({}, { omit: ["exp"] })}` } }),
  { code: 16, reason: "TOKEN_EXPIRED", message: "unable to verify bearer token" },
);
expectError(
  "nbf future",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${await jwt({ nbf: now + 1000 })}` } }),
  { code: 16, reason: "TOKEN_NOT_YET_VALID", message: "unable to verify bearer token" },
);
expectError(
  "exp string",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${await jwt({ exp: String(now + 100) })}` } }),
  { code: 16, reason: "TOKEN_EXPIRED", message: "unable to verify bearer token" },
);
expectError(
  "foreign key",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${await jwt({}, { foreignKey: true })}` } }),
  SIG,
);
expectError(
  "unknown issuer host",
  await send(ACTION_QS, {
    headers: {
      authorization: `Bearer ${fake({ alg: "RS256" }, { iss: "https://unknown.invalid", exp: now + 60 })}`,
    },
  }),
  { code: 3, reason: "DISCOVERY_FAILED", message: "unable to fetch or create the provider" },
);

// ---- step 6 before step 7 ------------------------------------------------------------------------
expectError("bad sub, no scope", await send("/sts/exchange", { headers: await auth({ sub: "a b" }) }), {
  code: 3,
  reason: "INVALID_TOKEN_CLAIMS",
  message: "invalid subject in token",
});
expectError("bad aud", await send(ACTION_QS, { headers: await auth({ aud: ["ok", "a@b"] }) }), {
  code: 3,
  reason: "INVALID_TOKEN_CLAIMS",
  message: "invalid audience in token",
});
expectError("empty aud array", await send(ACTION_QS, { headers: await auth({ aud: [] }) }), {
  code: 7,
  reason: "AUDIENCE_MISMATCH",
  message: /^token does not match trust policy/,
});
expectError("aud number", await send(ACTION_QS, { headers: await auth({ aud: 5 }) }), {
  code: 3,
  reason: "INVALID_TOKEN_CLAIMS",
  message: "invalid audience in token",
});
expectError(
  "no sub",
  await send(ACTION_QS, { headers: { authorization: `Bearer ${await jwt({}, { omit: ["sub"] })}` } }),
  { code: 3, reason: "INVALID_TOKEN_CLAIMS", message: "invalid subject in token" },
);

// ---- step 7 --------------------------------------------------------------------------------------
expectError("no scope", await send("/sts/exchange?identity=ci", { headers: await auth() }), {
  code: 3,
  reason: "SCOPE_REQUIRED",
  message: "scope must be provided",
});
expectError("no identity", await send("/sts/exchange?scope=acme/app", { headers: await auth() }), {
  code: 3,
  reason: "IDENTITY_REQUIRED",
  message: "identity must be provided",
});
expectError("no either", await send("/sts/exchange", { headers: await auth() }), {
  code: 3,
  reason: "SCOPE_REQUIRED",
  message: "scope must be provided",
});
for (const s of ["a/b/c", "a/", "/b", "a/..", "a/.", "-a/b", "a b", "a%2Fb%2Fc", "a".repeat(40), "acme/é"])
  expectError(`scope ${s}`, await send(`/sts/exchange?scope=${s}&identity=ci`, { headers: await auth() }), {
    code: 3,
    reason: "INVALID_SCOPE",
    message: `invalid scope ${JSON.stringify(decodeURIComponent(s.replace(/\+/g, " ")))}`,
  });
for (const i of ["../x", "a/b", "..", ".x", "a..b", "x".repeat(101), "a%00"])
  expectError(
    `identity ${i}`,
    await send(`/sts/exchange?scope=acme/app&identity=${i}`, { headers: await auth() }),
    {
      code: 3,
      reason: "INVALID_IDENTITY",
      message: `invalid identity ${JSON.stringify(decodeURIComponent(i))}`,
    },
  );
{
  const a = await send("/sts/exchange?scope=%ff&identity=ci", { headers: await auth() });
  checks++;
  console.log(`note: scope=%ff → ${a.status} ${a.text}`);
}

// ---- policies --------------------------------------------------------------------------------------
expectError(
  "policy missing",
  await send("/sts/exchange?scope=acme/app&identity=nope", { headers: await auth() }),
  { code: 5, reason: "POLICY_NOT_FOUND", message: 'unable to find trust policy for "nope"' },
);
expectError(
  "policy broken",
  await send("/sts/exchange?scope=acme/app&identity=broken", { headers: await auth() }),
  { code: 5, reason: "POLICY_NOT_FOUND", message: 'unable to find trust policy for "broken"' },
);
expectError(
  "no installation",
  await send("/sts/exchange?scope=nobody/app&identity=ci", { headers: await auth() }),
  { code: 5, reason: "NO_INSTALLATION", message: 'no installation found for "nobody"' },
);
expectError(
  "subject mismatch",
  await send(ACTION_QS, { headers: await auth({ sub: "repo:acme/app:pull_request" }) }),
  { code: 7, reason: "SUBJECT_MISMATCH", message: "token does not match trust policy" },
);
expectError("claim mismatch", await send(ACTION_QS, { headers: await auth({ ref_protected: "false" }) }), {
  code: 7,
  reason: "CLAIM_MISMATCH",
  message: "token does not match trust policy",
  claim: "ref_protected",
});
expectError("claim bool true ok?", await send(ACTION_QS, { headers: await auth({ ref_protected: false }) }), {
  code: 7,
  reason: "CLAIM_MISMATCH",
  message: "token does not match trust policy",
  claim: "ref_protected",
});
expectError(
  "claim missing",
  await send(ACTION_QS, {
    headers: { authorization: `Bearer ${await jwt({}, { omit: ["ref_protected"] })}` },
  }),
  { code: 7, reason: "CLAIM_MISMATCH", message: "token does not match trust policy", claim: "ref_protected" },
);
expectError(
  "default audience",
  await send(ACTION_QS, { headers: await auth({ aud: "https://github.com/acme" }) }),
  {
    code: 7,
    reason: "AUDIENCE_MISMATCH",
    message: `token does not match trust policy: token audience does not include "${DOMAIN}"; request the OIDC token with audience=${DOMAIN} or set audience in the policy`,
  },
);
expectToken(
  "claim bool true",
  await send(ACTION_QS, { headers: await auth({ ref_protected: true }) }),
  "default",
);

// ---- GitHub faults -------------------------------------------------------------------------------
await gh.addFault(tenant.id, {
  method: "POST",
  path: "/app/installations/*/access_tokens",
  answer: "unprocessable",
  times: 1,
});
expectError("mint 422", await send("/sts/exchange?scope=acme&identity=org", { headers: await auth() }), {
  code: 7,
  reason: "PERMISSION_NOT_GRANTABLE",
  message: "token exchange failure (StatusUnprocessableEntity)",
});
await gh.addFault(tenant.id, {
  method: "POST",
  path: "/app/installations/*/access_tokens",
  answer: "server-error",
  times: 3,
});
expectError("mint 500", await send("/sts/exchange?scope=acme&identity=org", { headers: await auth() }), {
  code: 14,
  reason: "GITHUB_UNAVAILABLE",
  message: "GitHub unavailable",
});
await gh.addFault(tenant.id, {
  path: "/repos/acme/app/contents/**",
  answer: "too-many-requests",
  retryAfter: 7,
});
expectError(
  "policy read 429",
  await send("/sts/exchange?scope=acme/app&identity=other", { headers: await auth() }),
  { code: 8, reason: "RATE_LIMITED", message: 'GitHub API rate limit exceeded for "other"' },
);
await gh.clearFaults(tenant.id);

// ---- hostile transport ---------------------------------------------------------------------------
{
  const big = await raw(
    `GET /sts/exchange?scope=a HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(200000)}\r\nConnection: close\r\n\r\n`,
  );
  console.log(`note: 200 KB header → ${big.status} ${big.body.slice(0, 120)}`);
  const utf8 = await raw(
    Buffer.concat([
      Buffer.from(
        "GET /sts/exchange?scope=\xff\xfe&identity=\xc3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "latin1",
      ),
    ]),
  );
  checks++;
  if (utf8.status !== 401 || !/x-request-id/i.test(utf8.head))
    differ("raw bad UTF-8 query", `${utf8.status} ${utf8.body.slice(0, 200)}`);
  const weird = await raw("FOO /sts/exchange HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  console.log(
    `note: method FOO → ${weird.status} ${weird.body.slice(0, 120)} (workerd answers before the Worker)`,
  );
  const pathBytes = await raw(
    Buffer.from("GET /\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "latin1"),
  );
  checks++;
  if (pathBytes.status !== 404 || !/x-request-id/i.test(pathBytes.head))
    differ("raw bad path", `${pathBytes.status} ${pathBytes.body.slice(0, 200)}`);
  const authBytes = await raw(
    Buffer.from(
      `GET ${ACTION_QS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe.\xc3\r\nConnection: close\r\n\r\n`,
      "latin1",
    ),
  );
  checks++;
  if (authBytes.status !== 400 || !/x-request-id/i.test(authBytes.head))
    differ("raw bad Authorization bytes", `${authBytes.status} ${authBytes.body.slice(0, 200)}`);
  const emptyAuth = await raw(
    `GET ${ACTION_QS} HTTP/1.1\r\nHost: x\r\nAuthorization:\r\nConnection: close\r\n\r\n`,
  );
  console.log(`note: raw empty Authorization → ${emptyAuth.status} ${emptyAuth.body.slice(0, 100)}`);
  const bigBody = await send("/sts/exchange", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `scope=${"a".repeat(20 * 1024)}`,
  });
  console.log(`note: 20 KiB form body → ${bigBody.status} ${bigBody.text.slice(0, 160)}`);
  const pct = await send("/sts/%65xchange?scope=a");
  console.log(`note: /sts/%65xchange → ${pct.status} ${pct.text.slice(0, 160)}`);
  const dbl = await send("//sts/exchange?scope=a");
  console.log(`note: //sts/exchange → ${dbl.status} ${dbl.text.slice(0, 160)}`);
}

await stack.close();

// ---- misconfiguration: 500 naming the setting on every exchange, /healthz 503 with the same body -----
for (const [setting, vars] of [
  ["STS_DOMAIN", { STS_DOMAIN: "" }],
  ["GITHUB_APP_PRIVATE_KEY", { GITHUB_APP_PRIVATE_KEY: "not a key" }],
  ["GITHUB_APP_ID", { GITHUB_APP_ID: "abc" }],
  ["ALLOWED_ISSUER_PATTERNS", { ALLOWED_ISSUER_PATTERNS: '["(a"]' }],
] as [string, Record<string, string>][]) {
  const bad = await startStack({ port: PORT, issuerPort: 8798, githubPort: 8799, skipBuild: true, vars });
  const message = `server misconfigured: ${setting}`;
  const inits: RequestInit[] = [
    { headers: { authorization: `Bearer ${fake({ alg: "RS256" }, { iss: ACTIONS })}` } },
    {},
    { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "scope=%zz" },
  ];
  for (const init of inits) {
    const a = await send(ACTION_QS, init);
    checks++;
    const d = (a.json?.details as { reason?: string; domain?: string }[] | undefined)?.[0];
    if (
      a.status !== 500 ||
      a.json?.message !== message ||
      a.json?.code !== 13 ||
      d?.reason !== "MISCONFIGURED"
    )
      differ(`misconfigured ${setting}`, `${a.status} ${a.text.slice(0, 200)}`);
    if (!a.headers.get("x-request-id")) differ(`misconfigured ${setting}`, "no X-Request-Id");
    if (setting !== "STS_DOMAIN" && d?.domain !== `localhost:${PORT}`)
      differ(`misconfigured ${setting}`, `domain ${d?.domain}`);
  }
  const h = await send("/healthz");
  checks++;
  if (
    h.status !== 503 ||
    h.json?.message !== message ||
    h.json?.code !== 13 ||
    !h.headers.get("x-request-id")
  )
    differ(`healthz ${setting}`, `${h.status} ${h.text.slice(0, 200)}`);
  await bad.close();
}

console.log(`${checks} checks, ${problems} differences`);
process.exit(problems === 0 ? 0 : 1);

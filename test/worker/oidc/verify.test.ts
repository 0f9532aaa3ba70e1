/**
 * OIDC verification end to end inside workerd, against the issuer double (over 127.0.0.1 for path
 * tenants, through the outbound router for hostname tenants). Every outbound request is counted through
 * `rt.fetch`; the double's own call log shows what actually reached the issuer.
 */

import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Reason } from "../../../src/errors/catalogue";
import { errorResponse } from "../../../src/errors/grpc";
import { verifyBearer } from "../../../src/oidc";
import { jwksTier } from "../../../src/oidc/jwks";
import type { ManualClock } from "../../../src/platform/clock";
import { NO_ANSWER } from "../../../src/platform/fetch";
import type { FetchFn } from "../../../src/platform/runtime";
import type { CreatedIssuer, MintOptions } from "../../shared/issuer-double";
import { type CountingRuntime, countingRuntime, issuers, TEST_DOMAIN, timingOut } from "../helpers";

afterEach(async () => {
  await reset();
});

function nowSeconds(clock: ManualClock): number {
  return Math.floor(clock.now() / 1000);
}

async function mint(issuer: CreatedIssuer, options: MintOptions = {}): Promise<string> {
  const claims = { sub: "repo:octo-org/octo-repo:ref:refs/heads/main", aud: TEST_DOMAIN, ...options.claims };
  return issuers.mintToken(issuer.id, { ...options, claims });
}

async function expectFailure(h: CountingRuntime, token: string, reason: Reason): Promise<string> {
  const result = await verifyBearer(h.rt.oidc, token);
  expect(result.ok ? "ok" : result.failure.reason).toBe(reason);
  return result.ok ? "" : (result.failure.detail ?? "");
}

async function expectOk(h: CountingRuntime, token: string) {
  const result = await verifyBearer(h.rt.oidc, token);
  if (!result.ok) throw new Error(`expected ok, got ${result.failure.reason}: ${result.failure.detail}`);
  return result.value;
}

async function paths(issuer: CreatedIssuer): Promise<string[]> {
  return (await issuers.calls(issuer.id)).map((c) => c.path);
}

const DISCOVERY = "/.well-known/openid-configuration";
const JWKS = "/jwks";

describe("valid tokens", () => {
  it.each(["RS256", "ES256", "EdDSA"] as const)("verifies %s and returns the claims", async (alg) => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const token = await mint(issuer, { alg, claims: { sub: "repo:o/r:ref:refs/heads/main", custom: true } });
    const verified = await expectOk(h, token);
    expect(verified.issuer).toBe(issuer.issuer);
    expect(verified.alg).toBe(alg);
    expect(verified.kid).toBe((await issuers.keys(issuer.id)).kids[alg]);
    expect(verified.claims).toMatchObject({
      iss: issuer.issuer,
      sub: "repo:o/r:ref:refs/heads/main",
      custom: true,
    });
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS]);
  });

  it("cold: 2 fetches; warm: 0; new isolate over the same KV: 0", async () => {
    const issuer = await issuers.createIssuer();
    const token = await mint(issuer);
    const cold = countingRuntime();
    await expectOk(cold, token);
    expect(cold.fetches).toEqual([`${issuer.issuer}${DISCOVERY}`, `${issuer.issuer}${JWKS}`]);

    cold.fetches.length = 0;
    await expectOk(cold, token);
    await expectOk(cold, await mint(issuer, { alg: "ES256" }));
    expect(cold.fetches).toEqual([]);

    const isolate = countingRuntime({}, { clock: cold.clock });
    await expectOk(isolate, token);
    expect(isolate.fetches).toEqual([]);
    expect(jwksTier(isolate.rt).stats.kvHits).toBe(1);
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS]);
  });

  it("warm verifications import no key and fetch nothing", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const tokens = await Promise.all([
      mint(issuer),
      mint(issuer, { alg: "ES256" }),
      mint(issuer, { alg: "EdDSA" }),
    ]);
    for (const token of tokens) await expectOk(h, token);
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    try {
      for (const token of tokens) await expectOk(h, token);
      expect(importKey).not.toHaveBeenCalled();
    } finally {
      importKey.mockRestore();
    }
    expect(h.fetches).toHaveLength(2);
  });

  it("shares one in-flight fetch between concurrent cold verifications", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const tokens = await Promise.all([
      mint(issuer),
      mint(issuer, { alg: "ES256" }),
      mint(issuer, { alg: "EdDSA" }),
    ]);
    const results = await Promise.all(tokens.map((t) => verifyBearer(h.rt.oidc, t)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(h.fetches).toHaveLength(2);
  });

  it("verifies a hostname tenant over https (https://token.actions.githubusercontent.com)", async () => {
    const issuer = await issuers.createIssuer({ host: "token.actions.githubusercontent.com" });
    expect(issuer.issuer).toBe("https://token.actions.githubusercontent.com");
    const h = countingRuntime({ ALLOWED_ISSUERS: "https://token.actions.githubusercontent.com" });
    const verified = await expectOk(h, await mint(issuer, { claims: { repository: "octo-org/octo-repo" } }));
    expect(verified.issuer).toBe("https://token.actions.githubusercontent.com");
    expect(h.fetches).toEqual([
      "https://token.actions.githubusercontent.com/.well-known/openid-configuration",
      "https://token.actions.githubusercontent.com/.well-known/jwks",
    ]);
  });

  it("accepts keys published without alg when kty and crv agree with the header", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { jwksWithoutAlg: true });
    const h = countingRuntime();
    for (const alg of ["RS256", "ES256", "EdDSA"] as const) await expectOk(h, await mint(issuer, { alg }));
  });
});

describe("time claims: exp with zero leeway, nbf and iat at most 300 s ahead", () => {
  it("refuses exp one second past, and exp equal to now; accepts exp one second ahead", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const now = nowSeconds(h.clock);
    await expectFailure(h, await mint(issuer, { claims: { exp: now - 1 } }), "TOKEN_EXPIRED");
    await expectFailure(h, await mint(issuer, { claims: { exp: now } }), "TOKEN_EXPIRED");
    await expectOk(h, await mint(issuer, { claims: { exp: now + 1 } }));
  });

  it("refuses a token that expired while the clock moved", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const token = await mint(issuer, { claims: { exp: nowSeconds(h.clock) + 60 } });
    await expectOk(h, token);
    h.clock.advance(60_000);
    await expectFailure(h, token, "TOKEN_EXPIRED");
  });

  it("refuses a token without exp or with a non-numeric exp", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    await expectFailure(h, await mint(issuer, { omit: ["exp"] }), "TOKEN_EXPIRED");
    await expectFailure(h, await mint(issuer, { claims: { exp: "9999999999" } }), "TOKEN_EXPIRED");
  });

  it("accepts nbf and iat 299 s and 300 s ahead, refuses 301 s", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const now = nowSeconds(h.clock);
    const exp = now + 900;
    await expectOk(h, await mint(issuer, { claims: { nbf: now + 299, exp } }));
    await expectOk(h, await mint(issuer, { claims: { nbf: now + 300, iat: now + 300, exp } }));
    await expectOk(h, await mint(issuer, { claims: { iat: now + 299, exp } }));
    await expectFailure(h, await mint(issuer, { claims: { nbf: now + 301, exp } }), "TOKEN_NOT_YET_VALID");
    await expectFailure(h, await mint(issuer, { claims: { iat: now + 301, exp } }), "TOKEN_NOT_YET_VALID");
    await expectFailure(h, await mint(issuer, { claims: { nbf: "soon", exp } }), "TOKEN_NOT_YET_VALID");
  });
});

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

describe("signatures and algorithms", () => {
  it("refuses a tampered payload", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const token = await mint(issuer, { claims: { sub: "repo:octo-org/octo-repo:ref:refs/heads/main" } });
    await expectOk(h, token);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const tampered = `${header}.${b64url({ ...claims, sub: "repo:octo-org/admin:ref:refs/heads/main" })}.${signature}`;
    await expectFailure(h, tampered, "SIGNATURE_INVALID");
  });

  it.each(["RS256", "ES256", "EdDSA"] as const)(
    "refuses %s signed by a key not in the JWKS (same kid)",
    async (alg) => {
      const issuer = await issuers.createIssuer();
      const h = countingRuntime();
      const detail = await expectFailure(
        h,
        await mint(issuer, { alg, foreignKey: true }),
        "SIGNATURE_INVALID",
      );
      expect(detail).toContain("signature");
      expect(await paths(issuer)).toEqual([DISCOVERY, JWKS]);
    },
  );

  it("unknown kid: refetches once after rotation, holds the 30 s cool-down, refetches again after it", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    await expectOk(h, await mint(issuer));
    await issuers.rotateKeys(issuer.id);
    const rotated = await mint(issuer);

    // The JWKS was fetched at this very instant: the cool-down holds, nothing is fetched.
    const cooling = await expectFailure(h, rotated, "SIGNATURE_INVALID");
    expect(cooling).toContain("cooling down");
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS]);

    h.clock.advance(30_000);
    await expectOk(h, rotated);
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS, JWKS]);
    await expectOk(h, rotated);

    const bogus = await mint(issuer, { kid: "no-such-kid" });
    h.clock.advance(29_000);
    const detail = await expectFailure(h, bogus, "SIGNATURE_INVALID");
    expect(detail).toContain("no-such-kid");
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS, JWKS]);

    h.clock.advance(1_000);
    await expectFailure(h, bogus, "SIGNATURE_INVALID");
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS, JWKS, JWKS]);
    await expectFailure(h, bogus, "SIGNATURE_INVALID");
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS, JWKS, JWKS]);
  });

  it("a new isolate with rotated keys in an old KV copy refetches at once and updates KV", async () => {
    const issuer = await issuers.createIssuer();
    const first = countingRuntime();
    await expectOk(first, await mint(issuer));
    await issuers.rotateKeys(issuer.id);
    const rotated = await mint(issuer, { alg: "EdDSA" });
    const second = countingRuntime({}, { clock: first.clock });
    await expectOk(second, rotated);
    expect(second.fetches).toEqual([`${issuer.issuer}${JWKS}`]);
    const third = countingRuntime({}, { clock: first.clock });
    await expectOk(third, rotated);
    expect(third.fetches).toEqual([]);
  });

  it("tries every matching key for a token without kid (current and previous keys after a rotation)", async () => {
    const issuer = await issuers.createIssuer();
    const before = await mint(issuer, { kid: null });
    await issuers.rotateKeys(issuer.id);
    const after = await mint(issuer, { kid: null, alg: "ES256" });
    const h = countingRuntime();
    await expectOk(h, before);
    await expectOk(h, after);
    await expectFailure(h, await mint(issuer, { kid: null, foreignKey: true }), "SIGNATURE_INVALID");
    expect(await paths(issuer)).toEqual([DISCOVERY, JWKS]);
  });

  it("refuses alg none without fetching anything", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    await expectFailure(h, await mint(issuer, { alg: "none" }), "SIGNATURE_INVALID");
    const noneWithSignature = `${b64url({ alg: "none" })}.${b64url({ iss: issuer.issuer, exp: 9999999999 })}.c2ln`;
    await expectFailure(h, noneWithSignature, "SIGNATURE_INVALID");
    expect(h.fetches).toEqual([]);
    expect(await paths(issuer)).toEqual([]);
  });

  it.each(["pem", "jwk"] as const)(
    "refuses HS256 signed with the issuer's public key (%s form)",
    async (secretForm) => {
      const issuer = await issuers.createIssuer();
      // Even an issuer that advertises HS256 gets no symmetric verification.
      await issuers.setBehaviour(issuer.id, { algs: ["HS256", "RS256"] });
      const h = countingRuntime();
      await expectOk(h, await mint(issuer));
      await expectFailure(h, await issuers.confusionToken(issuer.id, { secretForm }), "SIGNATURE_INVALID");
      await expectFailure(
        h,
        await issuers.confusionToken(issuer.id, { secretForm, kid: null }),
        "SIGNATURE_INVALID",
      );
    },
  );

  it("allows only the algorithms the discovery document advertises (RS256 when none)", async () => {
    const onlyRs = await issuers.createIssuer({ algs: ["RS256", "HS512"] });
    const h = countingRuntime();
    await expectOk(h, await mint(onlyRs));
    await expectFailure(h, await mint(onlyRs, { alg: "ES256" }), "SIGNATURE_INVALID");

    const unspecified = await issuers.createIssuer({ algs: null });
    await expectOk(h, await mint(unspecified));
    await expectFailure(h, await mint(unspecified, { alg: "EdDSA" }), "SIGNATURE_INVALID");
  });

  it("refuses a header alg that disagrees with the key its kid names", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const { kids } = await issuers.keys(issuer.id);
    const token = await mint(issuer, { alg: "ES256", kid: kids.RS256 });
    await expectFailure(h, token, "SIGNATURE_INVALID");
    // Keys without alg: kty still has to agree.
    const noAlg = await issuers.createIssuer();
    await issuers.setBehaviour(noAlg.id, { jwksWithoutAlg: true });
    const noAlgKids = (await issuers.keys(noAlg.id)).kids;
    await expectFailure(h, await mint(noAlg, { alg: "ES256", kid: noAlgKids.EdDSA }), "SIGNATURE_INVALID");
  });
});

describe("key usage: only public signing keys verify", () => {
  it.each([
    ["use enc", { use: "enc" }],
    ["key_ops without verify", { key_ops: ["encrypt"] }],
  ])("never verifies with a key marked %s", async (_, jwkOverride) => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { jwkOverride });
    await expectFailure(countingRuntime(), await mint(issuer), "SIGNATURE_INVALID");
  });

  it("drops symmetric and private keys from a JWKS", async () => {
    const issuer = await issuers.createIssuer();
    const { kids } = await issuers.keys(issuer.id);
    await issuers.setBehaviour(issuer.id, { jwkOverride: { d: "AAAA" } });
    const h = countingRuntime();
    const detail = await expectFailure(h, await mint(issuer), "SIGNATURE_INVALID");
    expect(detail).toContain(kids.RS256);
  });
});

describe("issuer rules and the deployment allowlist (before any fetch)", () => {
  it("refuses invalid issuers and a schemeless iss with INVALID_ISSUER", async () => {
    const h = countingRuntime();
    for (const iss of [
      "http://example.com",
      "https://example.com/?x",
      "gitlab.com",
      "",
      "https://user@example.com",
    ]) {
      await expectFailure(
        h,
        `${b64url({ alg: "RS256" })}.${b64url({ iss, exp: 9999999999 })}.sig`,
        "INVALID_ISSUER",
      );
    }
    expect(h.fetches).toEqual([]);
  });

  it("normalises accounts.google.com and looks it up as https://accounts.google.com", async () => {
    const h = countingRuntime({ ALLOWED_ISSUERS: "https://gitlab.com" });
    const token = `${b64url({ alg: "RS256" })}.${b64url({ iss: "accounts.google.com" })}.sig`;
    const detail = await expectFailure(h, token, "ISSUER_NOT_ALLOWED");
    expect(detail).toContain("https://accounts.google.com");
  });

  it("ALLOWED_ISSUERS refuses other issuers before any request reaches the double", async () => {
    const issuer = await issuers.createIssuer();
    const token = await mint(issuer);
    const refused = countingRuntime({ ALLOWED_ISSUERS: "https://token.actions.githubusercontent.com" });
    await expectFailure(refused, token, "ISSUER_NOT_ALLOWED");
    // A trailing slash is a different issuer.
    const slash = countingRuntime({ ALLOWED_ISSUERS: `${issuer.issuer}/` });
    await expectFailure(slash, token, "ISSUER_NOT_ALLOWED");
    expect([...refused.fetches, ...slash.fetches]).toEqual([]);
    expect(await paths(issuer)).toEqual([]);

    const allowed = countingRuntime({
      ALLOWED_ISSUERS: JSON.stringify(["https://gitlab.com", issuer.issuer]),
    });
    await expectOk(allowed, token);
  });

  it("ALLOWED_ISSUER_PATTERNS refuses other issuers before any request reaches the double", async () => {
    const issuer = await issuers.createIssuer();
    const token = await mint(issuer);
    const refused = countingRuntime({
      ALLOWED_ISSUER_PATTERNS: JSON.stringify([
        "https://gitlab\\.com",
        "http://127\\.0\\.0\\.1:[0-9]+/t/other",
      ]),
    });
    await expectFailure(refused, token, "ISSUER_NOT_ALLOWED");
    expect(refused.fetches).toEqual([]);
    expect(await paths(issuer)).toEqual([]);

    const allowed = countingRuntime({
      ALLOWED_ISSUER_PATTERNS: JSON.stringify(["http://127\\.0\\.0\\.1:[0-9]+/t/[a-z0-9-]+"]),
    });
    await expectOk(allowed, token);
  });
});

describe("discovery", () => {
  it("refuses a document whose issuer differs from the token's", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { discoveryIssuer: "https://evil.example.com" });
    const h = countingRuntime();
    const detail = await expectFailure(h, await mint(issuer), "DISCOVERY_FAILED");
    expect(detail).toContain("issuer differs");
    expect(await paths(issuer)).toEqual([DISCOVERY]);
  });

  it("compares the issuer byte for byte (a trailing slash in iss is another issuer)", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    await expectFailure(h, await mint(issuer, { claims: { iss: `${issuer.issuer}/` } }), "DISCOVERY_FAILED");
    expect(h.fetches).toEqual([`${issuer.issuer}${DISCOVERY}`]);
  });

  it.each([
    ["non-JSON", { discovery: { body: "<html>hello</html>", contentType: "text/html" } }],
    ["missing jwks_uri", { discovery: { body: '{"issuer":"ISSUER"}' } }],
    ["an http jwks_uri off loopback", { jwksUri: "http://example.com/jwks" }],
    ["a jwks_uri with userinfo", { jwksUri: "https://user@example.com/jwks" }],
    [
      "a non-array alg list",
      {
        discovery: {
          body: '{"issuer":"ISSUER","jwks_uri":"https://x.example/j","id_token_signing_alg_values_supported":"RS256"}',
        },
      },
    ],
    ["a 500", { discovery: { status: 500 } }],
    ["a 404", { discovery: { status: 404 } }],
  ] as const)("refuses %s with DISCOVERY_FAILED and never echoes the upstream body", async (_, behaviour) => {
    const issuer = await issuers.createIssuer();
    const fixed = JSON.parse(JSON.stringify(behaviour).replaceAll("ISSUER", issuer.issuer.replace(/"/g, "")));
    await issuers.setBehaviour(issuer.id, fixed);
    const h = countingRuntime();
    const result = await verifyBearer(h.rt.oidc, await mint(issuer));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.reason).toBe("DISCOVERY_FAILED");
    expect(result.failure.detail ?? "").not.toContain("upstream secret");
    expect(result.failure.detail ?? "").not.toContain("hello");
    const body = await errorResponse(result.failure, { requestId: "r", domain: TEST_DOMAIN }).text();
    expect(JSON.parse(body).message).toBe("unable to fetch or create the provider");
    expect(body).not.toContain("upstream secret");
    expect(h.fetches).toEqual([`${issuer.issuer}${DISCOVERY}`]);
  });

  it("remembers a failed discovery for a minute, in memory only", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { discovery: { status: 500 } });
    const token = await mint(issuer);
    const h = countingRuntime();
    await expectFailure(h, token, "DISCOVERY_FAILED");
    h.clock.advance(59_000);
    const detail = await expectFailure(h, token, "DISCOVERY_FAILED");
    expect(detail).toContain("remembered");
    expect(await paths(issuer)).toEqual([DISCOVERY]);
    // Nothing negative went to KV: another isolate tries for itself.
    const keys = (await env.STS_CACHE.list()).keys.map((k) => k.name);
    expect(keys.filter((k) => k.startsWith("oidc-failures"))).toEqual([]);
    await issuers.setBehaviour(issuer.id, { discovery: "ok" });
    await expectOk(countingRuntime({}, { clock: h.clock }), token);
    // After the minute the first isolate fetches again.
    h.clock.advance(1_000);
    await expectOk(h, token);
  });

  it("follows a redirect to a URL passing the issuer rules", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { discovery: { redirect: issuer.movedDiscoveryUrl } });
    const h = countingRuntime();
    await expectOk(h, await mint(issuer));
    expect(await paths(issuer)).toEqual([DISCOVERY, `/moved${DISCOVERY}`, JWKS]);
  });

  it("refuses a redirect to an invalid issuer URL without following it", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    for (const target of [
      `${issuer.movedDiscoveryUrl}?x=1`,
      issuer.movedDiscoveryUrl.replace("/moved/", "/moved/../"),
      "http://example.com/.well-known/openid-configuration",
      "file:///etc/passwd",
    ]) {
      const tenant = await issuers.createIssuer();
      await issuers.setBehaviour(tenant.id, {
        discovery: { redirect: target.replace(issuer.issuer, tenant.issuer) },
      });
      const detail = await expectFailure(h, await mint(tenant), "DISCOVERY_FAILED");
      expect(detail).toContain("redirect");
      expect(await paths(tenant)).toEqual([DISCOVERY]);
    }
    expect(h.fetches).toHaveLength(4);
  });

  it("gives up after a few redirect hops", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { discovery: { redirect: issuer.discoveryUrl } });
    const h = countingRuntime();
    const detail = await expectFailure(h, await mint(issuer), "DISCOVERY_FAILED");
    expect(detail).toContain("redirects");
    expect(h.fetches).toHaveLength(4);
  });

  it("times out on a hanging issuer: DISCOVERY_FAILED, no exception", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { discovery: "hang" });
    const h = countingRuntime();
    const token = await mint(issuer);
    const discovery = (path: string) => path.includes("/.well-known/openid-configuration");
    const detail = await timingOut(
      h.rt,
      discovery,
      async () => (await issuers.calls(issuer.id)).filter((c) => discovery(c.path)).length,
      () => expectFailure(h, token, "DISCOVERY_FAILED"),
    );
    expect(detail).toContain("timeout");
  });

  it("an issuer that cannot be reached (offline) is said in words, never as the runtime's bare error", async () => {
    const issuer = await issuers.createIssuer();
    const offline = countingRuntime(
      {},
      {
        respond: async () => {
          throw new TypeError("fetch failed");
        },
      },
    );
    const detail = await expectFailure(offline, await mint(issuer), "DISCOVERY_FAILED");
    expect(detail).toContain(NO_ANSWER);
    expect(detail).not.toMatch(/fetch failed|TypeError|: Error\b/);
  });
});

/**
 * Fetches, then re-wraps the streamed body under a small, false Content-Length (HTTP framing cannot carry
 * that lie).
 */
const lyingContentLength: FetchFn = async (input, init) => {
  const response = await fetch(input, init);
  const headers = new Headers(response.headers);
  headers.set("content-length", "512");
  return new Response(response.body, { status: response.status, headers });
};

describe("oversized documents (GHSA-75r6-6jg8-pfcq)", () => {
  it("serves valid JSON followed by whitespace, so only a byte cap can refuse it", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { discovery: { oversize: 200 * 1024 } });
    const response = await fetch(issuer.discoveryUrl);
    expect(response.headers.get("content-length")).toBeNull();
    const text = await response.text();
    expect(text.length).toBeGreaterThan(200 * 1024);
    expect(JSON.parse(text).issuer).toBe(issuer.issuer);
  });

  it.each([
    ["without Content-Length", undefined],
    ["with a lying Content-Length", lyingContentLength],
  ] as const)("refuses a 200 KiB discovery document %s", async (_, lie) => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { discovery: { oversize: 200 * 1024 } });
    const h = countingRuntime({}, lie ? { respond: lie } : {});
    const detail = await expectFailure(h, await mint(issuer), "DISCOVERY_FAILED");
    expect(detail).toContain("larger than 102400");
  });

  it.each([
    ["without Content-Length", undefined],
    ["with a lying Content-Length", lyingContentLength],
  ] as const)("refuses a 200 KiB JWKS %s", async (_, lie) => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { jwks: { oversize: 200 * 1024 } });
    const h = countingRuntime({}, lie ? { respond: lie } : {});
    const detail = await expectFailure(h, await mint(issuer), "SIGNATURE_INVALID");
    expect(detail).toContain("larger than 102400");
  });

  it("accepts a document just under the cap", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { jwks: { oversize: 90 * 1024 } });
    await expectOk(countingRuntime(), await mint(issuer));
  });
});

describe("JWKS fetch", () => {
  it("refuses a JWKS redirect to a non-issuer URL and a failing JWKS, remembering the failure", async () => {
    const issuer = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { jwks: { redirect: "http://example.com/jwks" } });
    const h = countingRuntime();
    const token = await mint(issuer);
    await expectFailure(h, token, "SIGNATURE_INVALID");
    expect(h.fetches).toEqual([`${issuer.issuer}${DISCOVERY}`, `${issuer.issuer}${JWKS}`]);
    await expectFailure(h, token, "SIGNATURE_INVALID");
    expect(h.fetches).toHaveLength(2);

    const failing = await issuers.createIssuer();
    await issuers.setBehaviour(failing.id, { jwks: { status: 503 } });
    await expectFailure(h, await mint(failing), "SIGNATURE_INVALID");
  });

  it("follows a JWKS redirect that passes the issuer rules", async () => {
    const issuer = await issuers.createIssuer();
    const other = await issuers.createIssuer();
    await issuers.setBehaviour(issuer.id, { jwks: { redirect: `${other.issuer}/jwks` } });
    const h = countingRuntime();
    // Signed with a key from the redirect target's JWKS, under the first issuer's name.
    await expectOk(h, await issuers.mintToken(other.id, { claims: { iss: issuer.issuer } }));
    expect(await paths(other)).toEqual([JWKS]);
  });
});

describe("KV failures", () => {
  const brokenKv = {
    get: async () => {
      throw new Error("kv down");
    },
    put: async () => {
      throw new Error("kv down");
    },
    delete: async () => {
      throw new Error("kv down");
    },
    list: async () => {
      throw new Error("kv down");
    },
  } as unknown as KVNamespace;

  it("falls back to fetching and still refuses bad tokens", async () => {
    const issuer = await issuers.createIssuer();
    const token = await mint(issuer);
    const a = countingRuntime({ STS_CACHE: brokenKv });
    await expectOk(a, token);
    expect(a.fetches).toHaveLength(2);
    const b = countingRuntime({ STS_CACHE: brokenKv }, { clock: a.clock });
    await expectOk(b, token);
    expect(b.fetches).toHaveLength(2);
    expect(jwksTier(b.rt).stats.kvErrors).toBeGreaterThan(0);

    const [header, payload] = token.split(".") as [string, string];
    const c = countingRuntime({ STS_CACHE: brokenKv }, { clock: a.clock });
    await expectFailure(c, `${header}.${payload}.${"A".repeat(342)}`, "SIGNATURE_INVALID");
    await expectFailure(c, await mint(issuer, { foreignKey: true }), "SIGNATURE_INVALID");
  });
});

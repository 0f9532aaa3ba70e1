/**
 * Security review of src/oidc: time claims at their edges, headers that name other keys or key
 * locations (never followed), and claim-type confusion in the time claims. Runs against the issuer
 * double, with every outbound request counted through `rt.fetch`.
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { verifyBearer } from "../../../src/oidc";
import { ManualClock } from "../../../src/platform/clock";
import type { Runtime } from "../../../src/platform/runtime";
import type { CreatedIssuer, MintOptions } from "../../shared/issuer-double";
import { countingRuntime, issuers, TEST_DOMAIN, urlOf } from "../helpers";

afterEach(async () => {
  await reset();
});

async function mint(issuer: CreatedIssuer, options: MintOptions = {}): Promise<string> {
  const claims = { sub: "repo:o/r:ref:refs/heads/main", aud: TEST_DOMAIN, ...options.claims };
  return issuers.mintToken(issuer.id, { ...options, claims });
}

async function reasonOf(rt: Runtime, token: string): Promise<string> {
  const result = await verifyBearer(rt.oidc, token);
  return result.ok ? "ok" : result.failure.reason;
}

describe("time claims at their edges (exp with zero leeway)", () => {
  it("a fractional exp that passed less than a second ago is expired", async () => {
    const issuer = await issuers.createIssuer();
    const base = Math.floor(Date.now() / 1000);
    const h = countingRuntime({}, { clock: new ManualClock(base * 1000 + 700) });
    const token = await mint(issuer, { claims: { exp: base + 0.5, iat: base - 10, nbf: base - 10 } });
    expect(await reasonOf(h.rt, token)).toBe("TOKEN_EXPIRED");
    // Still valid 200 ms earlier.
    h.clock.set(base * 1000 + 300);
    expect(await reasonOf(h.rt, token)).toBe("ok");
  });

  it("exp equal to now is expired; one second later it is not yet", async () => {
    const issuer = await issuers.createIssuer();
    const base = Math.floor(Date.now() / 1000);
    const h = countingRuntime({}, { clock: new ManualClock(base * 1000) });
    expect(await reasonOf(h.rt, await mint(issuer, { claims: { exp: base, iat: base - 5 } }))).toBe(
      "TOKEN_EXPIRED",
    );
    expect(await reasonOf(h.rt, await mint(issuer, { claims: { exp: base + 1, iat: base - 5 } }))).toBe("ok");
  });

  it.each([
    ["exp as a string", { exp: "9999999999" }, "TOKEN_EXPIRED"],
    ["exp as null", { exp: null }, "TOKEN_EXPIRED"],
    ["exp as an array", { exp: [9999999999] }, "TOKEN_EXPIRED"],
    ["exp as a boolean", { exp: true }, "TOKEN_EXPIRED"],
    ["nbf as a string", { nbf: "0" }, "TOKEN_NOT_YET_VALID"],
    ["iat as null", { iat: null }, "TOKEN_NOT_YET_VALID"],
    ["iat as an object", { iat: {} }, "TOKEN_NOT_YET_VALID"],
    ["nbf 301 s ahead", { nbf: "AHEAD_301" }, "TOKEN_NOT_YET_VALID"],
  ])("refuses %s", async (_name, claims, reason) => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const now = Math.floor(h.clock.now() / 1000);
    const fixed = Object.fromEntries(
      Object.entries(claims).map(([k, v]) => [k, v === "AHEAD_301" ? now + 301 : v]),
    );
    expect(await reasonOf(h.rt, await mint(issuer, { claims: fixed }))).toBe(reason);
  });

  it("refuses a token without exp", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    expect(await reasonOf(h.rt, await mint(issuer, { omit: ["exp"] }))).toBe("TOKEN_EXPIRED");
  });
});

describe("headers naming other keys are never followed (jku, x5u, jwk, x5c)", () => {
  it("a token signed by a foreign key that carries its own key or key URL is refused, and nothing is fetched for it", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const elsewhere = `${issuer.issuer}/attacker-jwks`;
    const token = await mint(issuer, {
      foreignKey: true,
      kid: "attacker",
      header: { jku: elsewhere, x5u: `${elsewhere}.pem`, jwk: { kty: "RSA", n: "AQAB", e: "AQAB" } },
    });
    expect(await reasonOf(h.rt, token)).toBe("SIGNATURE_INVALID");
    expect(h.fetches.some((u) => u.includes("attacker-jwks"))).toBe(false);
    expect(h.fetches.every((u) => u.startsWith(issuer.issuer))).toBe(true);
  });

  it("a valid token's jku/x5u are ignored too: the keys come from jwks_uri only", async () => {
    const issuer = await issuers.createIssuer();
    const h = countingRuntime();
    const token = await mint(issuer, {
      header: { jku: "https://attacker.example/jwks", x5u: "https://attacker.example/c" },
    });
    expect(await reasonOf(h.rt, token)).toBe("ok");
    expect(h.fetches.some((u) => u.includes("attacker.example"))).toBe(false);
  });
});

describe("an https issuer cannot steer fetches to plain http on loopback (a developer's machine under wrangler dev)", () => {
  /** An unsigned token for `iss`: discovery and JWKS are fetched before the signature can fail. */
  function unsigned(iss: string): string {
    const b64 = (v: unknown) =>
      btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    return `${b64({ alg: "RS256", kid: "k" })}.${b64({ iss, sub: "s", exp: 4_000_000_000 })}.c2ln`;
  }

  /** A runtime whose outbound requests get these answers by URL (an empty JWKS for any other). */
  function stub(answers: Record<string, () => Response>) {
    return countingRuntime(
      {},
      {
        respond: async (input) =>
          answers[urlOf(input)]?.() ?? new Response(JSON.stringify({ keys: [] }), { status: 200 }),
      },
    );
  }

  const ISS = "https://issuer.example.com";
  const DISCOVERY = `${ISS}/.well-known/openid-configuration`;
  const doc = (jwks_uri: string) => () =>
    new Response(JSON.stringify({ issuer: ISS, jwks_uri }), {
      headers: { "content-type": "application/json" },
    });

  it.each(["http://127.0.0.1:8787/jwks", "http://localhost:8787/jwks", "http://[::1]:8787/jwks"])(
    "jwks_uri %s is refused",
    async (jwksUri) => {
      const s = stub({ [DISCOVERY]: doc(jwksUri) });
      expect((await verifyBearer(s.rt.oidc, unsigned(ISS))).ok).toBe(false);
      expect(s.fetches).toEqual([DISCOVERY]);
    },
  );

  it.each(["http://127.0.0.1:8787/.well-known/openid-configuration", "http://localhost:6379/"])(
    "a redirect of discovery to %s is not followed",
    async (location) => {
      const s = stub({ [DISCOVERY]: () => new Response(null, { status: 302, headers: { location } }) });
      expect((await verifyBearer(s.rt.oidc, unsigned(ISS))).ok).toBe(false);
      expect(s.fetches).toEqual([DISCOVERY]);
    },
  );

  it("a redirect of the JWKS to loopback http is not followed either", async () => {
    const jwks = "https://keys.example.com/jwks";
    const s = stub({
      [DISCOVERY]: doc(jwks),
      [jwks]: () => new Response(null, { status: 307, headers: { location: "http://127.0.0.1:8787/k" } }),
    });
    expect((await verifyBearer(s.rt.oidc, unsigned(ISS))).ok).toBe(false);
    expect(s.fetches).toEqual([DISCOVERY, jwks]);
  });

  it("an https jwks_uri on another host is still fetched (as upstream)", async () => {
    const jwks = "https://keys.example.com/jwks";
    const s = stub({ [DISCOVERY]: doc(jwks) });
    await verifyBearer(s.rt.oidc, unsigned(ISS));
    expect(s.fetches).toEqual([DISCOVERY, jwks]);
  });
});

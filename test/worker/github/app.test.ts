/**
 * The App key and the App JWT: keys as GitHub hands them out, a broken key's message, the claims of
 * docs/differences-from-octo-sts.md, "App JWT", one signature for many calls, and the headers GitHub needs.
 */

import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { errorResponse } from "../../../src/errors/grpc";
import { appJwtSignatures, findInstallation, mintInstallationToken } from "../../../src/github";
import { appClockSkewSeconds } from "../../../src/github/jwt";
import { epochSeconds } from "../../../src/platform/clock";
import { github } from "../helpers";
import { bearerOf, decodeJwt, runtimeAt, tenant } from "./setup";

afterEach(async () => {
  await reset();
});

const READ = { permissions: { contents: "read" }, repositories: ["repo"] };

describe("App key", () => {
  for (const [label, pem] of [
    ["PKCS#1 (as GitHub hands it out)", env.TEST_APP_KEY_PKCS1],
    ["PKCS#8", env.TEST_APP_KEY_PKCS8],
  ] as const) {
    it(`signs with a ${label} key written with literal \\n`, async () => {
      const literal = pem.trim().replace(/\n/g, "\\n");
      expect(literal).not.toContain("\n");
      const t = await tenant({}, { GITHUB_APP_PRIVATE_KEY: literal });
      expect(t.rt.config.ok).toBe(true);
      const installation = await findInstallation(t.rt, "org");
      expect(installation.ok).toBe(true);
      if (!installation.ok) return;
      const minted = await mintInstallationToken(t.rt, "org", installation.value, READ);
      expect(minted.ok).toBe(true);
      // The double verified the RS256 signature with the App's public key.
      expect((await github.calls(t.id)).map((c) => c.status)).toEqual([200, 201]);
    });
  }

  it("names the setting when the key is broken (truncated PEM)", async () => {
    const broken = env.TEST_APP_KEY_PKCS1.slice(0, 200);
    const rt = runtimeAt(undefined, { GITHUB_APP_PRIVATE_KEY: broken });
    expect(rt.config.ok).toBe(false);
    if (rt.config.ok) return;
    const response = errorResponse(rt.config.failure, { requestId: "r", domain: "sts.example.com" });
    expect(response.status).toBe(500);
    const body = (await response.json()) as { message: string };
    expect(body.message).toBe("server misconfigured: GITHUB_APP_PRIVATE_KEY");
    expect(JSON.stringify(body)).not.toContain(broken.slice(40, 80));
  });

  it("answers MISCONFIGURED GITHUB_APP_PRIVATE_KEY when Web Crypto refuses a well-formed PEM", async () => {
    // A whole DER SEQUENCE (passes the PEM check) that is not an RSA key.
    const notAKey = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----";
    const t = await tenant({}, { GITHUB_APP_PRIVATE_KEY: notAKey });
    expect(t.rt.config.ok).toBe(true);
    const result = await findInstallation(t.rt, "org");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.reason).toBe("MISCONFIGURED");
    expect(result.failure.args.setting).toBe("GITHUB_APP_PRIVATE_KEY");
    const body = (await errorResponse(result.failure, { requestId: "r", domain: "d" }).json()) as {
      message: string;
    };
    expect(body.message).toBe("server misconfigured: GITHUB_APP_PRIVATE_KEY");
    expect(await github.calls(t.id)).toEqual([]);
  });
});

describe("App JWT", () => {
  it("carries RS256, iat now−60, exp now+540 and iss = App id", async () => {
    const t = await tenant();
    const now = epochSeconds(t.clock);
    expect((await findInstallation(t.rt, "org")).ok).toBe(true);
    const [call] = await github.calls(t.id);
    const { header, claims } = decodeJwt(bearerOf(call?.headers ?? {}));
    expect(header.alg).toBe("RS256");
    expect(claims).toEqual({ iss: "4242", iat: now - 60, exp: now + 540 });
  });

  it("signs once for many mints, concurrent ones included, and again only near exp", async () => {
    const t = await tenant();
    const installation = await findInstallation(t.rt, "org");
    if (!installation.ok) throw new Error("no installation");
    await Promise.all(
      Array.from({ length: 5 }, () => mintInstallationToken(t.rt, "org", installation.value, READ)),
    );
    for (let i = 0; i < 5; i++) await mintInstallationToken(t.rt, "org", installation.value, READ);
    const jwts = new Set((await github.calls(t.id)).map((c) => bearerOf(c.headers)));
    expect((await github.calls(t.id)).length).toBe(11);
    expect(jwts.size).toBe(1);
    expect(appJwtSignatures(t.rt)).toBe(1);

    // Still reused 7 minutes later; renewed once less than a minute of validity is left.
    t.clock.advance(7 * 60 * 1000);
    await mintInstallationToken(t.rt, "org", installation.value, READ);
    expect(appJwtSignatures(t.rt)).toBe(1);
    t.clock.advance(60 * 1000 + 1000);
    await github.setClockOffset(t.id, 8 * 60 + 1);
    const again = await mintInstallationToken(t.rt, "org", installation.value, READ);
    expect(again.ok).toBe(true);
    expect(appJwtSignatures(t.rt)).toBe(2);
    expect(new Set((await github.calls(t.id)).map((c) => bearerOf(c.headers))).size).toBe(2);
  });

  it("sends User-Agent, Accept and X-GitHub-Api-Version on every call", async () => {
    const t = await tenant();
    const installation = await findInstallation(t.rt, "org");
    if (!installation.ok) throw new Error("no installation");
    await mintInstallationToken(t.rt, "org", installation.value, READ);
    for (const call of await github.calls(t.id)) {
      expect(call.headers["user-agent"]).toBe("github-sts-worker");
      expect(call.headers.accept).toBe("application/vnd.github+json");
      expect(call.headers["x-github-api-version"]).toBe("2022-11-28");
    }
  });
});

describe("GitHub's clock differs from ours (@octokit/auth-app's skew recovery)", () => {
  // Our JWT is valid for GitHub while GitHub's clock is between 60 s behind (iat) and 540 s ahead (exp);
  // outside that GitHub refuses it with its exact skew messages and a Date header, and auth-app retries
  // once with a JWT made for GitHub's time, which every later call of the isolate then uses.
  it.each([
    ["5 minutes behind", -300, 2],
    ["5 minutes ahead", 300, 1],
    ["10 minutes behind", -600, 2],
    ["10 minutes ahead", 600, 2],
  ])("still mints when GitHub's clock is %s", async (_name, offset, firstCalls) => {
    const t = await tenant({ clockOffsetSeconds: offset });
    const warnings: string[] = [];
    const warn = vi.spyOn(console, "warn").mockImplementation((line: unknown) => {
      warnings.push(String(line));
    });
    try {
      const installation = await findInstallation(t.rt, "org");
      expect(installation.ok).toBe(true);
      const calls = await github.calls(t.id);
      expect(calls.length).toBe(firstCalls);
      if (firstCalls === 2) {
        expect(calls.map((c) => c.status)).toEqual([401, 200]);
        // The JWT now follows GitHub's clock; the next App call needs no retry.
        expect(Math.abs(appClockSkewSeconds(t.rt) - offset)).toBeLessThanOrEqual(2);
      }
      if (!installation.ok) return;
      const minted = await mintInstallationToken(t.rt, "org", installation.value, READ);
      expect(minted.ok).toBe(true);
      expect((await github.calls(t.id)).length).toBe(firstCalls + 1);
    } finally {
      warn.mockRestore();
    }
    // GitHub's error text never reaches a log line; the retry is logged in our words.
    expect(warnings.join("\n")).not.toMatch(/Issued at|Expiration time|claim/);
    if (firstCalls === 2) expect(warnings.some((w) => w.includes("github clock skew"))).toBe(true);
  });

  it("a JWT GitHub refuses for another reason is not retried", async () => {
    const t = await tenant({ appId: "999" });
    const installation = await findInstallation(t.rt, "org");
    expect(installation.ok).toBe(false);
    expect((await github.calls(t.id)).length).toBe(1);
  });
});

describe("the GitHub double", () => {
  it("refuses a request without User-Agent (403), as GitHub does", async () => {
    const t = await tenant();
    const bare = await fetch(`${t.baseUrl}/orgs/org/installation`);
    expect(bare.status).toBe(403);
    expect(await bare.text()).toContain("make sure your request has a User-Agent header");
  });

  it("refuses a JWT not signed by the App (401)", async () => {
    const t = await tenant();
    const forged = `${btoa(JSON.stringify({ alg: "RS256" }))}.${btoa(JSON.stringify({ iss: "4242" }))}.c2ln`;
    const bad = await fetch(`${t.baseUrl}/orgs/org/installation`, {
      headers: { "User-Agent": "t", Authorization: `Bearer ${forged.replace(/=/g, "")}` },
    });
    expect(bad.status).toBe(401);
  });
});

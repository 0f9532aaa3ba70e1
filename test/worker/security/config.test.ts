/**
 * Security review: configuration must fail closed. An allowlist setting that is present but lists
 * nothing is a mistake (a templated `[]`, a stray comma), never "every issuer": an issuer is refused
 * whenever either allowlist var is set (docs/configuration.md, "Issuer allowlist").
 */

import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { handle } from "../../../src/app";
import { messageOf } from "../../../src/errors/catalogue";
import { loadConfig } from "../../../src/platform/config";
import { countingRuntime, TEST_DOMAIN, testEnv } from "../helpers";

afterEach(async () => {
  await reset();
});

/** An unsigned token: whatever it says, nothing may be fetched for it under a set allowlist. */
function tokenFor(iss: string): string {
  const b64 = (v: unknown) =>
    btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "RS256", kid: "k" })}.${b64({ iss, sub: "s", exp: 4_000_000_000 })}.c2ln`;
}

describe("an allowlist that is set but empty fails closed", () => {
  it.each([
    ["ALLOWED_ISSUERS", { ALLOWED_ISSUERS: "[]" }],
    ["ALLOWED_ISSUERS", { ALLOWED_ISSUERS: [] as string[] }],
    ["ALLOWED_ISSUERS", { ALLOWED_ISSUERS: "," }],
    ["ALLOWED_ISSUERS", { ALLOWED_ISSUERS: '[""]' }],
    ["ALLOWED_ISSUER_PATTERNS", { ALLOWED_ISSUER_PATTERNS: "[]" }],
    ["ALLOWED_ISSUER_PATTERNS", { ALLOWED_ISSUER_PATTERNS: [] as string[] }],
  ])("%s %j is a misconfiguration, not an open deployment", async (setting, overrides) => {
    const config = loadConfig(testEnv(overrides));
    expect(config.ok).toBe(false);
    if (config.ok) return;
    expect(messageOf(config.failure, TEST_DOMAIN)).toBe(`server misconfigured: ${setting}`);

    const { rt, fetches } = countingRuntime(overrides, {
      respond: async () => new Response("{}", { status: 404 }),
    });
    const ctx = createExecutionContext();
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/sts/exchange?scope=acme/repo&identity=x`, {
        headers: { Authorization: `Bearer ${tokenFor("https://attacker.example.com")}` },
      }),
      rt,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(500);
    expect(fetches).toEqual([]);
  });

  it("an unset or blank string still means no allowlist", () => {
    for (const value of [undefined, "", "  "]) {
      const config = loadConfig(testEnv({ ALLOWED_ISSUERS: value, ALLOWED_ISSUER_PATTERNS: value }));
      expect(config.ok && config.value.issuerAllowlist).toBeNull();
    }
  });

  it("one empty list next to a non-empty one is still refused (each setting says what it means)", () => {
    const config = loadConfig(
      testEnv({ ALLOWED_ISSUERS: "https://gitlab.com", ALLOWED_ISSUER_PATTERNS: "[]" }),
    );
    expect(config.ok).toBe(false);
  });
});

/**
 * The issuer, subject and audience rules against every vector of octo-sts's `validate_test.go`, plus the
 * unverified decode of a bearer token (docs/security.md, "What is trusted").
 */

import { describe, expect, it } from "vitest";
import {
  decodeUnverified,
  isValidAudience,
  isValidIssuer,
  isValidSubject,
  normalizeIssuer,
  verifyBearer,
} from "../../../src/oidc";
import {
  INVALID_AUDIENCES,
  INVALID_ISSUERS,
  INVALID_SUBJECTS,
  VALID_AUDIENCES,
  VALID_ISSUERS,
  VALID_SUBJECTS,
} from "../../shared/syntax-vectors";
import { testRuntime } from "../helpers";

describe("isValidIssuer against the octo-sts vectors", () => {
  it.each(VALID_ISSUERS)("accepts %j", (iss) => {
    expect(isValidIssuer(iss)).toBe(true);
  });
  it.each(INVALID_ISSUERS)("refuses %j", (iss) => {
    expect(isValidIssuer(iss)).toBe(false);
  });
  it("accepts a 150-byte path segment and the test double's loopback issuers", () => {
    expect(isValidIssuer(`https://example.com/${"a".repeat(150)}`)).toBe(true);
    expect(isValidIssuer("http://127.0.0.1:41234/t/i1-abcd")).toBe(true);
  });
});

describe("isValidSubject / isValidAudience against the octo-sts vectors", () => {
  it.each(VALID_SUBJECTS)("subject %j is valid", (sub) => {
    expect(isValidSubject(sub)).toBe(true);
  });
  it.each(INVALID_SUBJECTS)("subject %j is invalid", (sub) => {
    expect(isValidSubject(sub)).toBe(false);
  });
  it.each(VALID_AUDIENCES)("audience %j is valid", (aud) => {
    expect(isValidAudience(aud)).toBe(true);
  });
  it.each(INVALID_AUDIENCES)("audience %j is invalid", (aud) => {
    expect(isValidAudience(aud)).toBe(false);
  });
});

function b64(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

describe("decodeUnverified reads a token without trusting it", () => {
  const header = b64({ alg: "RS256", kid: "k" });
  it("reads iss and normalises only accounts.google.com", () => {
    const google = decodeUnverified(`${header}.${b64({ iss: "accounts.google.com" })}.sig`);
    expect(google.ok && google.value.issuer).toBe("https://accounts.google.com");
    expect(google.ok && google.value.rawIssuer).toBe("accounts.google.com");
    const other = decodeUnverified(`${header}.${b64({ iss: "gitlab.com" })}.sig`);
    expect(other.ok && other.value.issuer).toBe("gitlab.com");
    expect(normalizeIssuer("https://accounts.google.com/")).toBe("https://accounts.google.com/");
  });
  it.each([
    ["empty", ""],
    ["one part", b64({ iss: "https://a.example" })],
    ["padded base64", `${header}.${b64({ iss: "https://a.example" })}==.sig`],
    ["standard alphabet", `${header}.${b64({ iss: "https://a.example/??>" })}+.sig`],
    ["payload not JSON", `${header}.${btoa("nope")}.sig`],
    ["payload an array", `${header}.${b64(["x"])}.sig`],
    ["numeric iss", `${header}.${b64({ iss: 42 })}.sig`],
    ["numeric sub", `${header}.${b64({ iss: "https://a.example", sub: 1 })}.sig`],
    ["over 16 KiB", `${header}.${b64({ iss: "https://a.example", pad: "x".repeat(17000) })}.sig`],
  ])("refuses %s as MALFORMED_TOKEN", (_, token) => {
    const result = decodeUnverified(token);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure.reason).toBe("MALFORMED_TOKEN");
  });
  it.each([
    ["two parts", `${header}.${b64({ iss: "https://a.example" })}`],
    ["four parts", `${header}.${b64({ iss: "https://a.example" })}.s.x`],
    ["a header that is not JSON", `${btoa("nope")}.${b64({ iss: "https://a.example" })}.sig`],
    ["a header without alg", `${b64({ kid: "k" })}.${b64({ iss: "https://a.example" })}.sig`],
  ])(
    "reads the payload of a token with %s, and leaves it to the signature stage (as upstream)",
    async (_, token) => {
      const decoded = decodeUnverified(token);
      expect(decoded.ok && decoded.value.header).toBeNull();
      expect(decoded.ok && decoded.value.jwsProblem).toBeTruthy();
      // A valid issuer: 401 SIGNATURE_INVALID before anything is fetched (a fetch of a.example would be
      // refused by the outbound router and answer DISCOVERY_FAILED instead).
      const verified = await verifyBearer(testRuntime().oidc, token);
      expect(verified.ok).toBe(false);
      if (!verified.ok) expect(verified.failure.reason).toBe("SIGNATURE_INVALID");
      // The issuer rules still come first.
      const badIssuer = token.replace(b64({ iss: "https://a.example" }), b64({ iss: "http://a.example" }));
      const refused = await verifyBearer(testRuntime().oidc, badIssuer);
      expect(!refused.ok && refused.failure.reason).toBe("INVALID_ISSUER");
    },
  );
  it("leaves a missing iss to the issuer rules", () => {
    const result = decodeUnverified(`${header}.${b64({ sub: "x" })}.sig`);
    expect(result.ok && result.value.issuer).toBe("");
  });
});

/**
 * The issuer, subject and audience rules (behaviour §3.2, §3.5) against every vector of behaviour §14.3,
 * plus the unverified decode of behaviour §3.1.
 */

import { describe, expect, it } from "vitest";
import {
  decodeUnverified,
  isValidAudience,
  isValidIssuer,
  isValidSubject,
  normalizeIssuer,
} from "../../src/oidc";

const VALID_ISSUERS = [
  "https://example.com",
  "https://example.com/path",
  "https://example.com/auth/realms/master",
  "https://example.com:8443",
  "http://localhost:8080",
  "http://127.0.0.1:8080",
  "http://[::1]:8080",
  "https://example.com/",
  "https://example.com/path/",
  "https://example.com/admin",
  "https://keycloak.example.com:8443/auth/realms/master",
  "https://example.com/user~name/path",
];

const INVALID_ISSUERS = [
  "",
  "not-a-url",
  `https://${"a".repeat(300)}.com`,
  "http://example.com",
  "ftp://example.com",
  "example.com",
  "https://example.com?param=value",
  "https://example.com#fragment",
  "https://example.com/path?query=value#fragment",
  "https://example.com/controllablepath#",
  "https://user:pass@example.com",
  "https://user@example.com",
  "https://example.com/../admin",
  "https://example.com/auth/../admin",
  "https://example\n.com",
  "https://example\t.com",
  "https://example .com",
  "https://",
  "https://example.com/<script>",
  "https://example.com/path%2F..%2Fadmin",
  "https://example.com//admin",
  "https://example.com///admin",
  "https://example.com/path~~backup",
  "https://example.com/config~",
  "https://example.com/./admin",
  "https://example.com/~/admin",
  `https://example.com/${"a".repeat(151)}`,
  "https://exämple.com",
  "https://eⓍample.com",
  "https://еxample.com",
];

describe("isValidIssuer (behaviour §14.3)", () => {
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

describe("isValidSubject / isValidAudience (behaviour §14.3)", () => {
  it.each([
    "user123",
    "123e4567-e89b-12d3-a456-426614174000",
    "1234567890",
    "user-name_123",
    "user.name.123",
    "a".repeat(255),
    "UserName123",
    "user+tag",
    "user=value",
    "10769150350006150715113082367",
    "repo:octo-org/octo-repo:ref:refs/heads/main",
    "okta|00uhzsq8pw5e6bWGe0h7",
    "24400320",
    "AItOawmwtWwcT0k51BayewNvutrJUqsvl6qs7A4",
    "用户123",
    "user😀123",
  ])("subject %j is valid", (sub) => {
    expect(isValidSubject(sub)).toBe(true);
  });
  it.each([
    "",
    "a".repeat(256),
    "user 123",
    "user\t123",
    "user123\n",
    "user123\r",
    "user\x00123",
    "user'123",
    'user"123',
    "user<script>alert(1)</script>",
    "user[123]",
    "user{123}",
    "user;123",
  ])("subject %j is invalid", (sub) => {
    expect(isValidSubject(sub)).toBe(false);
  });
  it.each(["service123", "service-123", "service_123", "service.123", "service:123", "service/path"])(
    "audience %j is valid",
    (aud) => {
      expect(isValidAudience(aud)).toBe(true);
    },
  );
  it.each(["", "\x00".repeat(200), "service 123", "service123\n", "service<script>", "service@domain"])(
    "audience %j is invalid",
    (aud) => {
      expect(isValidAudience(aud)).toBe(false);
    },
  );
});

function b64(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

describe("decodeUnverified (behaviour §3.1)", () => {
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
    ["two parts", `${header}.${b64({ iss: "https://a.example" })}`],
    ["four parts", `${header}.${b64({ iss: "https://a.example" })}.s.x`],
    ["padded base64", `${header}.${b64({ iss: "https://a.example" })}==.sig`],
    ["standard alphabet", `${header}.${b64({ iss: "https://a.example/??>" })}+.sig`],
    ["payload not JSON", `${header}.${btoa("nope")}.sig`],
    ["payload an array", `${header}.${b64(["x"])}.sig`],
    ["numeric iss", `${header}.${b64({ iss: 42 })}.sig`],
    ["numeric sub", `${header}.${b64({ iss: "https://a.example", sub: 1 })}.sig`],
    ["header without alg", `${b64({ kid: "k" })}.${b64({ iss: "https://a.example" })}.sig`],
    ["over 16 KiB", `${header}.${b64({ iss: "https://a.example", pad: "x".repeat(17000) })}.sig`],
  ])("refuses %s as MALFORMED_TOKEN", (_, token) => {
    const result = decodeUnverified(token);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure.reason).toBe("MALFORMED_TOKEN");
  });
  it("leaves a missing iss to the issuer rules", () => {
    const result = decodeUnverified(`${header}.${b64({ sub: "x" })}.sig`);
    expect(result.ok && result.value.issuer).toBe("");
  });
});

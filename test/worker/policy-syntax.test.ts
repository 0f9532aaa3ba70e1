/**
 * behaviour §14.3 syntax vectors, driven through checkTokenSyntax (decisions §3.3): a token whose own
 * iss, sub or any aud fails them is INVALID_TOKEN_CLAIMS naming which, and checkToken refuses it too.
 */
import { describe, expect, it } from "vitest";
import { checkToken, checkTokenSyntax, loadPolicy } from "../../src/policy";

const ISS = "https://example.com";
const claims = (over: Record<string, unknown>) => ({
  iss: ISS,
  sub: "user123",
  aud: ["service123"],
  ...over,
});
const reasonOf = (c: Record<string, unknown>) => {
  const r = checkTokenSyntax(c);
  return r.ok ? null : r.failure.args.claim;
};

const validIssuers = [
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
const invalidIssuers = [
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
const validSubjects = [
  "user123",
  "550e8400-e29b-41d4-a716-446655440000",
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
];
const invalidSubjects = [
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
];
const validAudiences = [
  "service123",
  "service-123",
  "service_123",
  "service.123",
  "service:123",
  "service/path",
];
const invalidAudiences = [
  "",
  "\x00".repeat(200),
  "service 123",
  "service123\n",
  "service<script>",
  "service@domain",
];

describe("behaviour §14.3 through checkTokenSyntax", () => {
  it.each(validIssuers)("issuer %j is valid", (iss) => expect(reasonOf(claims({ iss }))).toBeNull());
  it.each(invalidIssuers)("issuer %j is invalid", (iss) => expect(reasonOf(claims({ iss }))).toBe("issuer"));
  it.each(validSubjects)("subject %j is valid", (sub) => expect(reasonOf(claims({ sub }))).toBeNull());
  it.each(invalidSubjects)("subject %j is invalid", (sub) =>
    expect(reasonOf(claims({ sub }))).toBe("subject"),
  );
  it.each(validAudiences)("audience %j is valid", (aud) => expect(reasonOf(claims({ aud }))).toBeNull());
  it.each(invalidAudiences)("audience %j is invalid (alone or in a list)", (aud) => {
    expect(reasonOf(claims({ aud }))).toBe("audience");
    expect(reasonOf(claims({ aud: ["service123", aud] }))).toBe("audience");
  });
  it("non-string claims are invalid", () => {
    expect(reasonOf(claims({ iss: 1 }))).toBe("issuer");
    expect(reasonOf(claims({ sub: undefined }))).toBe("subject");
    expect(reasonOf(claims({ aud: [1] }))).toBe("audience");
    expect(reasonOf(claims({ aud: { a: 1 } }))).toBe("audience");
  });
  it("checkToken runs the syntax checks first (defence in depth)", () => {
    const p = loadPolicy(
      "issuer: https://example.com\nsubject_pattern: .*\naudience_pattern: .*\npermissions: {contents: read}\n",
      "repo",
    );
    if (!p.ok) throw new Error("policy");
    const r = checkToken(p.policy, claims({ sub: "user 123" }), "x");
    expect(!r.ok && r.failure).toMatchObject({ reason: "INVALID_TOKEN_CLAIMS", args: { claim: "subject" } });
    expect(checkToken(p.policy, claims({}), "x").ok).toBe(true);
  });
});

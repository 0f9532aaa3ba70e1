/**
 * The octo-sts syntax vectors, driven through checkTokenSyntax: a token whose own
 * iss, sub or any aud fails them is INVALID_TOKEN_CLAIMS naming which, and checkToken refuses it too.
 */
import { describe, expect, it } from "vitest";
import { checkToken, checkTokenSyntax, loadPolicy } from "../../../src/trust";
import {
  INVALID_AUDIENCES,
  INVALID_ISSUERS,
  INVALID_SUBJECTS,
  VALID_AUDIENCES,
  VALID_ISSUERS,
  VALID_SUBJECTS,
} from "../../shared/syntax-vectors";

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

describe("the octo-sts syntax vectors through checkTokenSyntax", () => {
  it.each(VALID_ISSUERS)("issuer %j is valid", (iss) => expect(reasonOf(claims({ iss }))).toBeNull());
  it.each(INVALID_ISSUERS)("issuer %j is invalid", (iss) => expect(reasonOf(claims({ iss }))).toBe("issuer"));
  it.each(VALID_SUBJECTS)("subject %j is valid", (sub) => expect(reasonOf(claims({ sub }))).toBeNull());
  it.each(INVALID_SUBJECTS)("subject %j is invalid", (sub) =>
    expect(reasonOf(claims({ sub }))).toBe("subject"),
  );
  it.each(VALID_AUDIENCES)("audience %j is valid", (aud) => expect(reasonOf(claims({ aud }))).toBeNull());
  it.each(INVALID_AUDIENCES)("audience %j is invalid (alone or in a list)", (aud) => {
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

/**
 * The audit line (src/exchange/audit.ts; docs/refusals.md, "The audit line") never holds a token, also
 * when a caller pastes one where the line copies the request: found by fuzzing, the `User-Agent`,
 * `scope` and `identity` went into the line as sent.
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bounded, redactTokens } from "../../../src/exchange/audit";
import { AUDIT_MAX_STRING_CHARS } from "../../../src/platform/limits";
import { captureConsole, issuers } from "../helpers";
import { oneSmallAuditLine, world } from "../security/world";

const b64 = (v: unknown) =>
  btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
/** A JWT-shaped string built at run time (no test source holds one). */
const jwt = `${b64({ alg: "RS256", kid: "k" })}.${b64({ iss: "https://x.example", sub: "s" })}.c2lnbmF0dXJl`;
const ghs = `ghs_${"Ab1".repeat(12)}`;

const output = captureConsole();

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

describe("token-shaped values in the audit line", () => {
  it("are replaced by a marker, wherever they sit in a string", () => {
    expect(redactTokens(`before ${jwt} after`)).toBe("before [redacted JWT] after");
    expect(redactTokens(`token ${ghs}`)).toBe("token [redacted token]");
    expect(redactTokens("eyJhbGciOi alone, ghs_short, sha 0123abcd")).toBe(
      "eyJhbGciOi alone, ghs_short, sha 0123abcd",
    );
  });

  it("are replaced before strings are cut, so a cut never leaves half a token behind", () => {
    const long = `${"x".repeat(AUDIT_MAX_STRING_CHARS - 10)}${jwt}`;
    const out = (bounded({ user_agent: long }) as { user_agent: string }).user_agent;
    expect(out.startsWith(`${"x".repeat(AUDIT_MAX_STRING_CHARS - 10)}[redacted`)).toBe(true);
    expect(out).toContain("…[cut ");
    expect(out).not.toContain("eyJ");
  });

  it("never reach the log when a caller sends its token as User-Agent, scope or identity", async () => {
    const issuer = await issuers.createIssuer();
    const w = await world();
    const token = await issuers.mintToken(issuer.id, { claims: { sub: "foo", aud: "octosts" } });
    for (const [scope, identity] of [
      [token, "id"],
      ["org/repo", token],
    ]) {
      const sent = await w.send(
        `/sts/exchange?scope=${encodeURIComponent(scope as string)}&identity=${encodeURIComponent(identity as string)}`,
        {
          headers: { Authorization: `Bearer ${token}`, "User-Agent": `ci ${token}` },
        },
      );
      expect(sent.status).toBe(400);
      const line = oneSmallAuditLine(output);
      expect(line.raw).not.toContain(token.split(".")[1]);
      expect(line.user_agent).toBe("ci [redacted JWT]");
      expect([line.scope, line.identity]).toContain("[redacted JWT]");
    }
  });
});

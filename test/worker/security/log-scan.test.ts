/**
 * The log scanner (test/shared/log-scan.ts, a setup file of both projects) sees what a test logs, also
 * through a spy that swallows the line and after `vi.restoreAllMocks()`, and names what it found without
 * repeating it. The secrets here are built at run time and drained by the scan itself, so this file's
 * own `afterEach` scan finds nothing.
 */

import { afterEach, describe, expect, it, vi } from "vitest";
import { scanConsoleNow } from "../../shared/log-scan";
import { TEST_WEBHOOK_SECRET } from "../../shared/secrets";

const installationToken = () => `ghs_${"a1B2".repeat(9)}`;
const jwt = () => `${btoa('{"alg":"RS256"}')}.${btoa('{"iss":"x"}')}.c2ln`.replace(/=/g, "");
const key = () => `-----BEGIN ${"PRIVATE"} KEY-----`;

afterEach(() => {
  vi.restoreAllMocks();
});

function scanError(): string {
  try {
    scanConsoleNow("this check");
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

describe("the console scanner", () => {
  it("finds a token logged straight through console.log, and does not repeat it", () => {
    const silence = vi.spyOn(console, "log");
    silence.mockImplementation(() => {});
    const token = installationToken();
    console.log(JSON.stringify({ msg: "oops", token }));
    const message = scanError();
    expect(message).toContain("a GitHub installation token");
    expect(message).not.toContain(token);
  });

  it("finds a JWT logged through a spy that swallows it, after the spy was restored", () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    console.warn("token:", jwt());
    vi.restoreAllMocks();
    expect(scanError()).toContain("a JWT");
  });

  it("finds a key and the webhook secret in calls made before a mockClear", () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    console.error(key());
    console.error({ secret: TEST_WEBHOOK_SECRET });
    spy.mockClear();
    const message = scanError();
    expect(message).toContain("a private key");
    expect(message).toContain("the test webhook secret");
  });

  it("passes ordinary lines: a token's SHA-256, a redacted token, an audit line", () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    console.log(JSON.stringify({ msg: "sts.exchange", token_sha256: "ab".repeat(32), token: "ghs_…" }));
    console.log("eyJhbGciOi (a header alone is no JWT)");
    expect(scanError()).toBe("");
  });
});

/**
 * A world for end-to-end security tests (the matrix, the faults): a GitHub tenant of its own on the
 * GitHub double, a runtime over the test KV (or a wrapped one) that records its outbound requests, and
 * `send`, which drives the Worker's `handle` exactly as the entry does and waits for its background work.
 * With helpers.ts `captureConsole`, a test reads the audit line of each exchange.
 */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import { handle } from "../../../src/app";
import { ManualClock } from "../../../src/platform/clock";
import type { Env } from "../../../src/platform/config";
import type { FetchFn, Runtime } from "../../../src/platform/runtime";
import type { RecordedCall } from "../../shared/control-client";
import type { TenantSetup } from "../../shared/github-double";
import { type captureConsole, countingRuntime, github, TEST_APP_ID, TEST_DOMAIN, unique } from "../helpers";

export const ACTIONS = "https://token.actions.githubusercontent.com";

/** "A few KiB": the most an audit line may weigh whatever a token or a policy holds. */
export const SMALL_AUDIT_LINE_CHARS = 4 * 1024;

/** What helpers.ts `captureConsole` gives a test file. */
export type Output = ReturnType<typeof captureConsole>;

export type AuditLine = Record<string, unknown> & { raw: string };

/** The `sts.exchange` lines captured so far. */
export function auditLines(output: Output): AuditLine[] {
  return output.lines
    .filter((l) => l.includes('"msg":"sts.exchange"'))
    .map((raw) => ({ ...(JSON.parse(raw) as Record<string, unknown>), raw }));
}

/**
 * Exactly one audit line was written since the last call, and it is small; returns it. The lines seen
 * so far are dropped, so the next call sees only the next exchange.
 */
export function oneSmallAuditLine(output: Output): AuditLine {
  const lines = auditLines(output);
  expect(lines, "audit lines of this exchange").toHaveLength(1);
  const line = lines[0] as AuditLine;
  expect(line.raw.length, "audit line length").toBeLessThan(SMALL_AUDIT_LINE_CHARS);
  output.lines.length = 0;
  return line;
}

export interface Sent {
  response: Response;
  status: number;
  text: string;
  /** The parsed body (an octo-sts error, a token answer, an OAuth error). */
  body: Record<string, unknown>;
  /** `details[0].reason` of an octo-sts error, `reason` of an OAuth one, "granted" for a 200. */
  reason: string;
}

export interface World {
  ghId: string;
  baseUrl: string;
  rt: Runtime;
  clock: ManualClock;
  /** Every URL the Worker fetched (issuer and GitHub), in order. */
  fetched: string[];
  /** One request through `rt` (default: this world's runtime; another one plays a new isolate). */
  send(path: string, init?: RequestInit, rt?: Runtime): Promise<Sent>;
  /** `GET /sts/exchange?scope=…&identity=…` with `token` as the bearer. */
  exchange(token: string, scope: string, identity: string, rt?: Runtime): Promise<Sent>;
  calls(): Promise<RecordedCall[]>;
  /**
   * Moves the runtime's clock and the GitHub tenant's with it: App JWTs are made on the runtime's clock,
   * and GitHub (the double) refuses one dated a minute ahead of its own.
   */
  advance(ms: number): Promise<void>;
}

export interface WorldOptions {
  setup?: Partial<TenantSetup>;
  env?: Partial<Env>;
  /** Answers the runtime's outbound requests instead of the real `fetch` (after recording them). */
  fetch?: FetchFn;
}

async function read(response: Response): Promise<Sent> {
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: body stays empty
  }
  const details = body.details as { reason?: string }[] | undefined;
  const reason =
    response.status === 200
      ? "granted"
      : (details?.[0]?.reason ?? (body.reason as string | undefined) ?? "?");
  return { response, status: response.status, text, body, reason };
}

/** A GitHub tenant (owner `org` installed, `org/repo` with the given files) and a runtime for it. */
export async function world(options: WorldOptions = {}): Promise<World> {
  const ghId = unique("sec");
  const tenant = await github.setupTenant(ghId, {
    appId: TEST_APP_ID,
    installations: [{ account: "org" }],
    repos: { "org/repo": { files: {} } },
    ...options.setup,
  });
  const clock = new ManualClock();
  const { rt, fetches: fetched } = countingRuntime(
    { GITHUB_BASE_URL: tenant.baseUrl, ...options.env },
    options.fetch === undefined ? { clock } : { clock, respond: options.fetch },
  );
  let aheadMs = 0;
  const send = async (path: string, init?: RequestInit, through: Runtime = rt) => {
    const ctx = createExecutionContext();
    const response = await handle(new Request(`https://${TEST_DOMAIN}${path}`, init), through, ctx);
    const sent = await read(response);
    await waitOnExecutionContext(ctx);
    return sent;
  };
  return {
    ghId,
    baseUrl: tenant.baseUrl,
    rt,
    clock,
    fetched,
    send,
    exchange: (token, scope, identity, through) =>
      send(
        `/sts/exchange?scope=${encodeURIComponent(scope)}&identity=${encodeURIComponent(identity)}`,
        { headers: { Authorization: `Bearer ${token}` } },
        through,
      ),
    calls: () => github.calls(ghId),
    async advance(ms) {
      clock.advance(ms);
      aheadMs += ms;
      await github.setClockOffset(ghId, Math.round(aheadMs / 1000));
    },
  };
}

/** `policy` at `.github/chainguard/<identity>.sts.yaml` of `org/repo`. */
export function policyFiles(identity: string, policy: string): Record<string, string> {
  return { [`.github/chainguard/${identity}.sts.yaml`]: policy };
}

/** A token that only looks like one: header and payload as given, a signature of junk. */
export function unsignedToken(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const b64 = (v: unknown) =>
    btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64(header)}.${b64(payload)}.c2lnbmF0dXJl`;
}

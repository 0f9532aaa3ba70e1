/**
 * The world of the fault tests (faults.test.ts, faults-github.test.ts): a GitHub tenant whose `org/repo`
 * holds the policy `id` for `sub: foo` from GitHub Actions, a KV namespace that fails on demand, GitHub
 * faults whose hanging requests time out as soon as the double holds them, and the checks every fault
 * ends with (its documented status and exactly one small audit line).
 */

import { reset } from "cloudflare:test";
import { afterEach, expect, vi } from "vitest";
import type { Runtime } from "../../../src/platform/runtime";
import type { RecordedCall as GitHubCall } from "../../shared/control-client";
import { type FaultAnswer, faultPathRegex } from "../../shared/github-double";
import type { CreatedIssuer } from "../../shared/issuer-double";
import { type ConsoleCapture, captureConsole, issuers, timingOut } from "../helpers";
import { ACTIONS, oneSmallAuditLine, policyFiles, type Sent, type World, world } from "./world";

export const HANG = 60_000;
const FOO = { sub: "foo", aud: "octosts" };
export const TRUSTED_ISSUERS = ".github/chainguard/trusted-token-issuers.yaml";

let actions: Promise<CreatedIssuer> | undefined;

/** The GitHub Actions issuer (a hostname tenant of the double, shared by every test file). */
function actionsIssuer(): Promise<CreatedIssuer> {
  actions ??= issuers.createIssuer({ host: "token.actions.githubusercontent.com" });
  return actions;
}

export function fooPolicy(issuer: string): string {
  return `issuer: ${issuer}\nsubject: foo\naudience: octosts\npermissions:\n  contents: read\n`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `work` against a GitHub faulted at `glob` with `answer`. A GitHub that never answers is waited for
 * up to the request timeout: here the faulted request times out as soon as the double holds it
 * (test/worker/helpers.ts, `timingOut`), so no test waits the real 10 s and none depends on the machine's
 * speed; every other request keeps its real timeout. A body cut off mid-answer (`truncated-json`) needs
 * no clock: the double drops the connection, and the Worker's read of the body fails at once.
 */
export function faulted<T>(
  w: { rt: Runtime; calls(): Promise<GitHubCall[]> },
  glob: string,
  answer: FaultAnswer,
  work: () => Promise<T>,
): Promise<T> {
  if (answer !== "hang") return work();
  const regex = faultPathRegex(glob);
  const onPath = (path: string) => regex.test(path.split("?")[0] ?? path);
  const held = async () => (await w.calls()).filter((c) => onPath(c.path)).length;
  return timingOut(w.rt, (target) => onPath(target.slice(target.indexOf(" ") + 1)), held, work);
}

/** A KV namespace that throws or answers slowly on demand, in front of the test namespace. */
export class FaultyKv {
  mode: "ok" | "throw" | "slow" = "ok";
  ops = 0;
  constructor(
    private readonly inner: KVNamespace,
    private readonly delayMs = 50,
  ) {}
  private async gate(op: string): Promise<void> {
    this.ops++;
    if (this.mode === "throw") throw new Error(`KV ${op} failed (injected)`);
    if (this.mode === "slow") await sleep(this.delayMs);
  }
  async get(key: string, options?: unknown) {
    await this.gate("get");
    return this.inner.get(key, options as "text");
  }
  async put(key: string, value: string, options?: KVNamespacePutOptions) {
    await this.gate("put");
    return this.inner.put(key, value, options);
  }
  async delete(key: string) {
    await this.gate("delete");
    return this.inner.delete(key);
  }
  async list(options?: KVNamespaceListOptions) {
    await this.gate("list");
    return this.inner.list(options);
  }
  async getWithMetadata(key: string, options?: unknown) {
    await this.gate("getWithMetadata");
    return this.inner.getWithMetadata(key, options as "text");
  }
  asNamespace(): KVNamespace {
    return this as unknown as KVNamespace;
  }
}

export const isLookup = (c: GitHubCall) => /^\/(orgs|users)\/[^/]+\/installation$/.test(c.path);
export const isMint = (c: GitHubCall) => c.method === "POST" && c.path.endsWith("/access_tokens");
export const isPolicyRead = (c: GitHubCall) =>
  c.method === "GET" && c.path.includes("/contents/.github/chainguard/id");
export const isOrgRead = (c: GitHubCall) =>
  c.method === "GET" && c.path.includes("/trusted-token-issuers.yaml");

/** The world of these tests: `org/repo` holds policy `id` for `sub: foo` from GitHub Actions. */
export function fooWorld(options: Parameters<typeof world>[0] = {}): Promise<World> {
  return world({
    ...options,
    setup: { repos: { "org/repo": { files: policyFiles("id", fooPolicy(ACTIONS)) } }, ...options.setup },
  });
}

/** One exchange for `sub: foo` with a fresh GitHub Actions token, through `rt` (a new isolate) if given. */
export async function exchange(w: World, rt?: Runtime): Promise<Sent> {
  return w.exchange(await token(await actionsIssuer()), "org/repo", "id", rt);
}

/** A token for `sub: foo` valid for hours, so tests can move the clock past cache lifetimes. */
export function token(issuer: CreatedIssuer): Promise<string> {
  return issuers.mintToken(issuer.id, { claims: FOO, expiresIn: 3 * 3600 });
}

/**
 * Sets up a fault test file (call it at the file's top level): its console captured, mocks restored and
 * storage reset after each test; answers the captured output and the checks every fault ends with.
 */
export function faultsFile() {
  const output = captureConsole();
  afterEach(async () => {
    vi.restoreAllMocks();
    await reset();
  });
  return { output, ...auditChecks(output) };
}

/** The checks of a file's audit output (its `captureConsole()`). */
function auditChecks(output: ConsoleCapture) {
  /** The refusal is as documented, with exactly one small audit line naming the same reason. */
  function expectRefused(sent: Sent, status: number, reason: string, retryAfter: string | null) {
    const line = oneSmallAuditLine(output);
    expect(
      { status: sent.status, reason: sent.reason, retryAfter: sent.response.headers.get("Retry-After") },
      `audit detail: ${line.detail}`,
    ).toEqual({ status, reason, retryAfter });
    expect([line.decision, line.reason]).toEqual(["refused", reason]);
    return line;
  }

  function expectGranted(sent: Sent) {
    const line = oneSmallAuditLine(output);
    expect(sent.reason, `audit detail: ${line.detail}`).toBe("granted");
    expect(line.decision).toBe("granted");
    return line;
  }
  return { expectRefused, expectGranted };
}

export async function callsSince(w: World, seen: number): Promise<GitHubCall[]> {
  return (await w.calls()).slice(seen);
}

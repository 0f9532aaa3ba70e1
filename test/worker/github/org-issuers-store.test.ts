/**
 * Step 10 of the evaluation order, end to end through the Worker: the organization's trusted-issuer file
 * (src/github/org-issuers-store.ts, src/trust/org-issuers.ts). Enforce and audit; absent (no file, no
 * `.github` repository); invalid with and without a last-known-good copy; rate-limited and 5xx with and
 * without a stale copy; the read token's scope and revocation; one read for a burst of cold exchanges;
 * and the order: after the installation, before any policy is read.
 */

import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { handle } from "../../../src/app";
import { evictOrgIssuers } from "../../../src/github";
import type { ManualClock } from "../../../src/platform/clock";
import { ORG_ISSUERS_FRESH_TTL_MS } from "../../../src/platform/limits";
import type { Runtime } from "../../../src/platform/runtime";
import type { RecordedCall } from "../../shared/control-client";
import type { RepoSetup } from "../../shared/github-double";
import type { CreatedIssuer } from "../../shared/issuer-double";
import { captureConsole, github, issuers, TEST_APP_ID, TEST_DOMAIN, testRuntime } from "../helpers";

const ACTIONS = "https://token.actions.githubusercontent.com";
const FILE = ".github/chainguard/trusted-token-issuers.yaml";
const ORG_FILE_PATH = `/repos/org/.github/contents/${FILE}`;

let actions: CreatedIssuer;
let other: CreatedIssuer;
const output = captureConsole();

beforeAll(async () => {
  actions = await issuers.createIssuer({ host: "token.actions.githubusercontent.com" });
  other = await issuers.createIssuer({ name: `idp-${crypto.randomUUID().slice(0, 8)}` });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

/** A policy for `sub: foo` from either issuer (so only the org file decides). */
function policyFor(issuer: string): string {
  return `issuer: ${issuer}\nsubject: foo\naudience: octosts\npermissions:\n  contents: read\n`;
}

interface World {
  id: string;
  rt: Runtime;
  clock: ManualClock;
  send(repo?: string, issuer?: CreatedIssuer): Promise<Response>;
  calls(): Promise<RecordedCall[]>;
}

/**
 * Owner `org` with repositories `repo` and `other-repo` (policy `foo` in each, for `issuer`) and, unless
 * `orgRepo` is null, a `.github` repository holding `orgFile` (absent when undefined).
 */
async function world(options: {
  orgFile?: string;
  orgRepo?: RepoSetup | null;
  issuer?: CreatedIssuer;
}): Promise<World> {
  const id = `org-${crypto.randomUUID().slice(0, 8)}`;
  const issuer = (options.issuer ?? other).issuer;
  const repos: Record<string, RepoSetup> = {
    "org/repo": { files: { ".github/chainguard/foo.sts.yaml": policyFor(issuer) } },
    "org/other-repo": { files: { ".github/chainguard/foo.sts.yaml": policyFor(issuer) } },
  };
  if (options.orgRepo !== null) {
    repos["org/.github"] = options.orgRepo ?? {
      files: options.orgFile === undefined ? {} : { [FILE]: options.orgFile },
    };
  }
  const tenant = await github.setupTenant(id, {
    appId: TEST_APP_ID,
    installations: [{ account: "org" }],
    repos,
  });
  const rt = testRuntime({ GITHUB_BASE_URL: tenant.baseUrl });
  return {
    id,
    rt,
    clock: rt.clock as ManualClock,
    async send(repo = "repo", tokenIssuer = options.issuer ?? other) {
      const token = await issuers.mintToken(tokenIssuer.id, {
        claims: { sub: "foo", aud: "octosts" },
        expiresIn: 3 * 3600,
      });
      const ctx = createExecutionContext();
      const response = await handle(
        new Request(`https://${TEST_DOMAIN}/sts/exchange?scope=org/${repo}&identity=foo`, {
          headers: { Authorization: `Bearer ${token}` },
        }),
        rt,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    },
    calls: () => github.calls(id),
  };
}

async function reasonOf(response: Response): Promise<string> {
  if (response.status === 200) return "granted";
  const body = (await response.json()) as { details: { reason: string }[] };
  return body.details[0]?.reason ?? "?";
}

const policyReads = (calls: RecordedCall[]) => calls.filter((c) => c.path.includes("/foo.sts.yaml"));
const orgReads = (calls: RecordedCall[]) => calls.filter((c) => c.path.startsWith(ORG_FILE_PATH));

const ENFORCE_ACTIONS = `issuers:\n  - ${ACTIONS}\n`;

describe("enforce (the default)", () => {
  it("an organization that lists only GitHub's issuer refuses any other issuer for every repository, before any policy is read", async () => {
    const w = await world({ orgFile: ENFORCE_ACTIONS });
    for (const repo of ["repo", "other-repo"]) {
      const response = await w.send(repo);
      expect(response.status).toBe(403);
      const body = (await response.json()) as {
        code: number;
        message: string;
        details: { reason: string }[];
      };
      expect(body).toMatchObject({ code: 7, message: "issuer not permitted by organization policy" });
      expect(body.details[0]?.reason).toBe("ORG_ISSUER_NOT_ALLOWED");
    }
    const calls = await w.calls();
    expect(policyReads(calls)).toEqual([]);
    // Read once, then cached for the owner.
    expect(orgReads(calls)).toHaveLength(1);
  });

  it("GitHub's own issuer is allowed (orgallow)", async () => {
    const w = await world({ orgFile: ENFORCE_ACTIONS, issuer: actions });
    expect(await reasonOf(await w.send())).toBe("granted");
    expect(output.audit().at(-1)?.org_issuers).toEqual({ mode: "enforce", allowed: true, source: "github" });
  });

  it("another organization's IdP only (orgdeny) refuses GitHub's issuer", async () => {
    const w = await world({ orgFile: "issuers: [https://some-other-idp.example.com]\n", issuer: actions });
    expect(await reasonOf(await w.send())).toBe("ORG_ISSUER_NOT_ALLOWED");
  });

  it("a pattern allows issuers it matches as a whole", async () => {
    const w = await world({
      orgFile: 'issuer_patterns: ["https://token\\\\.actions\\\\.githubusercontent\\\\.com"]\n',
      issuer: actions,
    });
    expect(await reasonOf(await w.send())).toBe("granted");
  });
});

describe("audit mode (orgaudit)", () => {
  it("never refuses, and the audit line says what enforce would have done", async () => {
    const w = await world({ orgFile: "mode: audit\nissuers: [https://some-other-idp.example.com]\n" });
    expect(await reasonOf(await w.send())).toBe("granted");
    expect(output.audit().at(-1)?.org_issuers).toEqual({ mode: "audit", allowed: false, source: "github" });
  });
});

describe("absent: every issuer allowed, and remembered", () => {
  it("no file in the .github repository (404)", async () => {
    const w = await world({});
    expect(await reasonOf(await w.send())).toBe("granted");
    expect(await reasonOf(await w.send("other-repo"))).toBe("granted");
    expect(orgReads(await w.calls()).map((c) => c.status)).toEqual([404]);
    expect(output.audit().at(-1)?.org_issuers).toMatchObject({ mode: "none", allowed: true });
  });

  it("no .github repository at all (the read token's bare 422)", async () => {
    const w = await world({ orgRepo: null });
    expect(await reasonOf(await w.send())).toBe("granted");
    expect(await reasonOf(await w.send("other-repo"))).toBe("granted");
    const orgMints = (await w.calls()).filter((c) => c.body.includes('"repositories":[".github"]'));
    expect(orgMints.map((c) => c.status)).toEqual([422]);
  });
});

describe("the read token", () => {
  it("is limited to contents:read on ORG_POLICY_REPO and revoked after the read", async () => {
    const w = await world({ orgFile: ENFORCE_ACTIONS, issuer: actions });
    expect(await reasonOf(await w.send())).toBe("granted");
    const calls = await w.calls();
    const orgMint = calls.find((c) => c.body.includes('"repositories":[".github"]'));
    expect(orgMint?.body).toBe('{"repositories":[".github"],"permissions":{"contents":"read"}}');
    const readToken = orgReads(calls)[0]?.headers.authorization?.replace(/^token /, "");
    const record = (await github.tokens(w.id)).find((t) => t.token === readToken);
    expect(record?.revoked).toBe(true);
  });
});

describe("invalid files", () => {
  it("without a last-known-good copy: 400 ORG_ISSUERS_INVALID (orgbad), and no policy read", async () => {
    const w = await world({ orgFile: 'issuer_patterns: ["[unclosed"]\n' });
    const response = await w.send();
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: number; message: string };
    expect(body).toMatchObject({ code: 9, message: "organization trusted-issuer configuration is invalid" });
    expect(policyReads(await w.calls())).toEqual([]);
  });

  it("with a last-known-good copy: that copy decides until the file is fixed", async () => {
    const w = await world({ orgFile: ENFORCE_ACTIONS });
    expect(await reasonOf(await w.send())).toBe("ORG_ISSUER_NOT_ALLOWED");
    await github.setFile(w.id, "org/.github", FILE, "mode: off\n");
    await evictOrgIssuers(w.rt, "org");
    expect(await reasonOf(await w.send())).toBe("ORG_ISSUER_NOT_ALLOWED");
    expect(output.audit().at(-1)?.org_issuers).toMatchObject({ source: "last-known-good" });
  });

  it("a directory where the file should be, or a file over 1 MiB, is invalid", async () => {
    const dir = await world({ orgRepo: { files: { [`${FILE}/x`]: "x" } } });
    expect(await reasonOf(await dir.send())).toBe("ORG_ISSUERS_INVALID");
    const big = await world({ orgFile: `# ${"x".repeat(1024 * 1024)}\nissuers: [${ACTIONS}]\n` });
    expect(await reasonOf(await big.send())).toBe("ORG_ISSUERS_INVALID");
  });
});

describe("GitHub cannot answer", () => {
  it.each([
    ["rate limited (429)", "too-many-requests", 429, "ORG_ISSUERS_RATE_LIMITED", 8],
    ["rate limited (403, remaining 0)", "rate-limited", 429, "ORG_ISSUERS_RATE_LIMITED", 8],
    ["5xx after retries", "server-error", 503, "ORG_ISSUERS_UNAVAILABLE", 14],
    ["a bare 403", "forbidden", 503, "ORG_ISSUERS_UNAVAILABLE", 14],
  ] as const)("%s, no stale copy: %s", async (_name, answer, status, reason, code) => {
    const w = await world({ orgFile: ENFORCE_ACTIONS, issuer: actions });
    await github.addFault(w.id, { path: ORG_FILE_PATH, answer, retryAfter: 42 });
    const response = await w.send();
    expect(response.status).toBe(status);
    const body = (await response.json()) as { code: number; details: { reason: string }[] };
    expect(body.code).toBe(code);
    expect(body.details[0]?.reason).toBe(reason);
    const retryAfter = Number(response.headers.get("Retry-After"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600).toBe(true);
    if (answer === "too-many-requests") expect(retryAfter).toBe(42);
    expect(policyReads(await w.calls())).toEqual([]);
  });

  it.each([
    ["rate limited", "too-many-requests"],
    ["5xx", "server-error"],
  ] as const)("%s with a stale copy: the stale copy decides", async (_name, answer) => {
    const w = await world({ orgFile: ENFORCE_ACTIONS });
    expect(await reasonOf(await w.send())).toBe("ORG_ISSUER_NOT_ALLOWED");
    w.clock.advance(ORG_ISSUERS_FRESH_TTL_MS + 1000);
    await github.addFault(w.id, { path: ORG_FILE_PATH, answer });
    expect(await reasonOf(await w.send())).toBe("ORG_ISSUER_NOT_ALLOWED");
    expect(output.audit().at(-1)?.org_issuers).toMatchObject({ source: "stale" });
    // A stale "absent" is used the same way.
    const open = await world({});
    expect(await reasonOf(await open.send())).toBe("granted");
    open.clock.advance(ORG_ISSUERS_FRESH_TTL_MS + 1000);
    await github.addFault(open.id, { path: ORG_FILE_PATH, answer });
    expect(await reasonOf(await open.send())).toBe("granted");
  });
});

describe("cost and order", () => {
  it("a burst of concurrent cold exchanges of one owner reads the file once", async () => {
    const w = await world({ orgFile: ENFORCE_ACTIONS, issuer: actions });
    const responses = await Promise.all(Array.from({ length: 5 }, () => w.send()));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(orgReads(await w.calls())).toHaveLength(1);
  });

  it("runs after the installation lookup (an owner without the App never reads it) and costs nothing warm", async () => {
    const w = await world({ orgFile: ENFORCE_ACTIONS, issuer: actions });
    expect(await reasonOf(await w.send())).toBe("granted");
    const cold = await w.calls();
    const order = cold.map((c) => c.path);
    const installation = order.findIndex((p) => p.endsWith("/installation"));
    const org = order.findIndex((p) => p.startsWith(ORG_FILE_PATH));
    const policy = order.findIndex((p) => p.includes("/foo.sts.yaml"));
    expect(installation).toBeGreaterThanOrEqual(0);
    expect(installation < org && org < policy).toBe(true);
    // Cold: the org read costs a read-token mint, the read and its revocation.
    expect(cold.filter((c) => c.body.includes('"repositories":[".github"]'))).toHaveLength(1);
    await github.clearCalls(w.id);
    expect(await reasonOf(await w.send())).toBe("granted");
    expect((await w.calls()).map((c) => c.method)).toEqual(["POST"]);

    const ctx = createExecutionContext();
    const token = await issuers.mintToken(actions.id, { claims: { sub: "foo", aud: "octosts" } });
    const stranger = await handle(
      new Request(`https://${TEST_DOMAIN}/sts/exchange?scope=nobody/repo&identity=foo`, {
        headers: { Authorization: `Bearer ${token}` },
      }),
      w.rt,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(await reasonOf(stranger)).toBe("NO_INSTALLATION");
    expect((await w.calls()).some((c) => c.path.includes("nobody/.github"))).toBe(false);
  });
});

/**
 * The webhook's GitHub calls against the GitHub double, which plays them as GitHub does:
 * src/github/changes.ts (a pull request's files over every page with Link headers, the page budget,
 * comparisons, directory listings), src/github/checks.ts (create and update, GitHub's 50-annotation cap,
 * checks:write required) and installationPermissions (App JWT).
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { findInstallation, installationPermissions } from "../../../src/github";
import { compareFiles, listDirectory, listPullFiles } from "../../../src/github/changes";
import { createCheckRun, updateCheckRun } from "../../../src/github/checks";
import { withReadToken } from "../../../src/github/contents";
import { github } from "../helpers";
import { type GitHubTenant, tenant, waiter } from "./setup";

afterEach(async () => {
  await reset();
});

const HEAD = "1".repeat(40);
const BASE = "2".repeat(40);

async function withToken<T>(
  t: GitHubTenant,
  permissions: Record<string, string>,
  use: (token: string) => Promise<T>,
) {
  const found = await findInstallation(t.rt, "org");
  if (!found.ok) throw new Error(found.failure.reason);
  const ctx = waiter();
  const used = await withReadToken(
    t.rt,
    ctx,
    "org",
    found.value,
    { repositories: ["repo"], permissions, what: "test" },
    use,
  );
  await ctx.settle();
  if (!used.ok) throw new Error(used.refusal.kind);
  return used.value;
}

function many(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`f${String(i).padStart(4, "0")}`] = "x";
  return files;
}

describe("a pull request's files", () => {
  it("every page of 100, following rel=next, each page URL built from the base URL", async () => {
    const t = await tenant({
      repos: { "org/repo": { files: {}, refs: { [HEAD]: many(250) }, pulls: { "3": { head: HEAD } } } },
    });
    const listed = await withToken(t, { pull_requests: "read" }, (token) =>
      listPullFiles(t.rt, token, "org", "repo", 3, { left: 10 }),
    );
    expect(listed.ok && listed.value.files.length).toBe(250);
    expect(listed.ok && listed.value.truncated).toBe(false);
    const pages = (await github.calls(t.id)).filter((c) => c.path.includes("/pulls/3/files"));
    expect(pages.map((c) => c.path)).toEqual(
      [1, 2, 3].map((p) => `/repos/org/repo/pulls/3/files?per_page=100&page=${p}`),
    );
  });

  it("stops at the page budget and says so", async () => {
    const t = await tenant({
      repos: { "org/repo": { files: {}, refs: { [HEAD]: many(250) }, pulls: { "3": { head: HEAD } } } },
    });
    const budget = { left: 2 };
    const listed = await withToken(t, { pull_requests: "read" }, (token) =>
      listPullFiles(t.rt, token, "org", "repo", 3, budget),
    );
    expect(listed.ok && [listed.value.files.length, listed.value.truncated]).toEqual([200, true]);
    expect(budget.left).toBe(0);
  });

  it("refused without pull_requests:read (403), 404 for an unknown pull request, 429 is a rate limit", async () => {
    const t = await tenant({
      repos: { "org/repo": { files: {}, refs: { [HEAD]: {} }, pulls: { "3": { head: HEAD } } } },
    });
    const noPerm = await withToken(t, { contents: "read" }, (token) =>
      listPullFiles(t.rt, token, "org", "repo", 3, { left: 1 }),
    );
    expect(!noPerm.ok && noPerm.fault).toMatchObject({ kind: "refused", status: 403 });
    const unknown = await withToken(t, { pull_requests: "read" }, (token) =>
      listPullFiles(t.rt, token, "org", "repo", 4, { left: 1 }),
    );
    expect(!unknown.ok && unknown.fault).toMatchObject({ kind: "refused", status: 404 });
    await github.addFault(t.id, {
      path: "/repos/org/repo/pulls/*/files",
      answer: "too-many-requests",
      retryAfter: 7,
    });
    const limited = await withToken(t, { pull_requests: "read" }, (token) =>
      listPullFiles(t.rt, token, "org", "repo", 3, { left: 1 }),
    );
    expect(!limited.ok && limited.fault).toMatchObject({ kind: "rate-limited", retryAfterSeconds: 7 });
  });
});

describe("comparisons and directory listings", () => {
  it("compare lists added, modified and removed files between two commits", async () => {
    const t = await tenant({
      repos: {
        "org/repo": {
          files: {},
          refs: { [BASE]: { a: "1", b: "1", c: "1" }, [HEAD]: { a: "1", b: "2", d: "1" } },
        },
      },
    });
    const compared = await withToken(t, { contents: "read" }, (token) =>
      compareFiles(t.rt, token, "org", "repo", BASE, HEAD, { left: 1 }),
    );
    expect(compared.ok && compared.value.files).toEqual([
      { filename: "b", status: "modified" },
      { filename: "c", status: "removed" },
      { filename: "d", status: "added" },
    ]);
  });

  it("a directory at a ref lists its entries; a missing directory is empty", async () => {
    const t = await tenant({
      repos: {
        "org/repo": {
          files: {},
          refs: { [HEAD]: { ".github/chainguard/a.sts.yaml": "x", ".github/chainguard/d/b": "y" } },
        },
      },
    });
    const [listed, missing] = await withToken(t, { contents: "read" }, async (token) => [
      await listDirectory(t.rt, token, "org", "repo", ".github/chainguard", HEAD, { left: 1 }),
      await listDirectory(t.rt, token, "org", "repo", ".github/nothing", HEAD, { left: 1 }),
    ]);
    expect(listed?.ok && listed.value).toEqual([
      { type: "file", path: ".github/chainguard/a.sts.yaml" },
      { type: "dir", path: ".github/chainguard/d" },
    ]);
    expect(missing?.ok && missing.value).toEqual([]);
  });
});

describe("check runs", () => {
  const run = (annotations: number) => ({
    name: "Trust Policy Validation",
    head_sha: HEAD,
    status: "completed",
    conclusion: "success",
    output: {
      title: "t",
      summary: "",
      annotations: Array.from({ length: annotations }, (_, i) => ({
        path: "a",
        start_line: i + 1,
        end_line: i + 1,
        annotation_level: "warning",
        message: "m",
      })),
    },
  });

  it("needs checks:write; takes 50 annotations a request (51 is 422); a PATCH adds more", async () => {
    const t = await tenant({ repos: { "org/repo": { files: {}, refs: { [HEAD]: {} } } } });
    const refused = await withToken(t, { contents: "read" }, (token) =>
      createCheckRun(t.rt, token, "org", "repo", run(1)),
    );
    expect(!refused.ok && refused.fault).toMatchObject({ kind: "refused", status: 403 });
    const tooMany = await withToken(t, { checks: "write" }, (token) =>
      createCheckRun(t.rt, token, "org", "repo", run(51)),
    );
    expect(!tooMany.ok && tooMany.fault).toMatchObject({ kind: "refused", status: 422 });
    const unknownSha = await withToken(t, { checks: "write" }, (token) =>
      createCheckRun(t.rt, token, "org", "repo", { ...run(0), head_sha: BASE }),
    );
    expect(!unknownSha.ok && unknownSha.fault).toMatchObject({ kind: "refused", status: 422 });
    const id = await withToken(t, { checks: "write" }, async (token) => {
      const created = await createCheckRun(t.rt, token, "org", "repo", run(50));
      if (!created.ok) throw new Error(created.fault.detail);
      const updated = await updateCheckRun(t.rt, token, "org", "repo", created.value, {
        output: run(10).output,
      });
      expect(updated.ok).toBe(true);
      return created.value;
    });
    const [record] = await github.checkRuns(t.id);
    expect(record?.id).toBe(id);
    expect(record?.annotations).toHaveLength(60);
  });
});

describe("an installation's permissions", () => {
  it("GET /app/installations/{id} with the App JWT; 404 for an unknown id", async () => {
    const t = await tenant({
      installations: [{ account: "org", permissions: { contents: "read", checks: "write" } }],
    });
    const found = await findInstallation(t.rt, "org");
    if (!found.ok) throw new Error(found.failure.reason);
    expect(await installationPermissions(t.rt, "org", found.value.id)).toEqual({
      ok: true,
      value: { contents: "read", checks: "write" },
    });
    const gone = await installationPermissions(t.rt, "org", 1);
    expect(!gone.ok && gone.failure.reason).toBe("NO_INSTALLATION");
    const call = (await github.calls(t.id)).find((c) => c.path === `/app/installations/${found.value.id}`);
    expect(call?.headers.authorization).toMatch(/^bearer ey/i);
  });
});

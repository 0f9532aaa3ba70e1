/**
 * The webhook's lints (src/trust/lint.ts): a GitHub Actions subject that pins the repository by name
 * only, with the immutable form shown exactly when the ids are known; and permissions the installation
 * was not granted. Pure.
 */

import { describe, expect, it } from "vitest";
import { lintPolicy } from "../../../src/trust";

const ACTIONS = "https://token.actions.githubusercontent.com";
const ctx = { owner: "acme", repo: "deploy-tools", ownerId: 11, repoId: 22 };
const doc = (lines: string) => `${lines}\npermissions:\n  contents: read\n`;

describe("a subject pinned by name only", () => {
  it("an exact subject of the same repository: the exact immutable form, at the subject's line", () => {
    const lints = lintPolicy(
      doc(`issuer: ${ACTIONS}\nsubject: repo:acme/deploy-tools:ref:refs/heads/main`),
      "repo",
      ctx,
    );
    expect(lints).toHaveLength(1);
    expect(lints[0]).toMatchObject({ rule: "name-only-subject", line: 2, col: 10, field: "subject" });
    expect(lints[0]?.message).toContain("subject: repo:acme@11/deploy-tools@22:…");
    expect(lints[0]?.message).toContain("subject_pattern: repo:acme(@11)?/deploy-tools(@22)?:…");
  });

  it("a subject pattern; another repository of the owner (owner id known); another owner (placeholders)", () => {
    const pattern = lintPolicy(
      doc(`issuer: ${ACTIONS}\nsubject_pattern: repo:acme/deploy-tools:ref:refs/heads/(main|dev)`),
      "repo",
      ctx,
    );
    expect(pattern[0]?.message).toContain("repo:acme@11/deploy-tools@22:…");
    const sibling = lintPolicy(
      doc(`issuer: ${ACTIONS}\nsubject: repo:acme/website:ref:refs/heads/main`),
      "org",
      ctx,
    );
    expect(sibling[0]?.message).toContain("repo:acme@11/website@REPO_ID:…");
    const other = lintPolicy(
      doc(`issuer: ${ACTIONS}\nsubject: repo:other/x:ref:refs/heads/main`),
      "repo",
      ctx,
    );
    expect(other[0]?.message).toContain("repo:other@OWNER_ID/x@REPO_ID:…");
    const wild = lintPolicy(
      doc(`issuer: ${ACTIONS}\nsubject_pattern: repo:acme/[a-z-]+:ref:refs/heads/main`),
      "org",
      ctx,
    );
    expect(wild[0]?.message).toContain("repo:OWNER@OWNER_ID/REPO@REPO_ID:…");
  });

  it("an issuer_pattern that matches GitHub Actions counts; other issuers and forms with ids do not", () => {
    const viaPattern = lintPolicy(
      doc(
        `issuer_pattern: https://token\\.actions\\.githubusercontent\\.com\nsubject: repo:acme/deploy-tools:pull_request`,
      ),
      "repo",
      ctx,
    );
    expect(viaPattern).toHaveLength(1);
    for (const text of [
      doc(`issuer: https://gitlab.com\nsubject: repo:acme/deploy-tools:ref:refs/heads/main`),
      doc(`issuer: ${ACTIONS}\nsubject: repo:acme@11/deploy-tools@22:ref:refs/heads/main`),
      doc(`issuer: ${ACTIONS}\nsubject_pattern: repo:acme(@11)?/deploy-tools(@22)?:ref:refs/heads/main`),
      doc(`issuer: ${ACTIONS}\nsubject: job_workflow_ref:acme/x`),
      "not: a policy",
    ]) {
      expect(lintPolicy(text, "repo", ctx), text).toEqual([]);
    }
  });
});

describe("a permission the installation was not granted", () => {
  const text = `issuer: https://gitlab.com\nsubject: x\npermissions:\n  contents: write\n  issues: read\n  packages: admin\n`;

  it("names what is missing or too low, at the permission's line; nothing when unknown", () => {
    const lints = lintPolicy(text, "repo", { ...ctx, granted: { contents: "read", issues: "write" } });
    expect(lints.map((l) => [l.rule, l.line, l.field])).toEqual([
      ["permission-not-granted", 4, "permissions.contents"],
      ["permission-not-granted", 6, "permissions.packages"],
    ]);
    expect(lints[0]?.message).toContain("not granted contents: write (it has contents: read)");
    expect(lints[1]?.message).toContain("packages: admin (it has no packages permission)");
    expect(lintPolicy(text, "repo", ctx)).toEqual([]);
  });
});

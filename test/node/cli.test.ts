/** The `sts-policy` checker, spawned as a user runs it (bin/sts-policy.mjs, bundled on the fly). */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = fileURLToPath(new URL("../../bin/sts-policy.mjs", import.meta.url));
const fixtures = "test/fixtures/policies";

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("sts-policy check", { timeout: 300_000 }, () => {
  it("prints file:line:col: message for every problem and exits 1", () => {
    const r = run("check", `${fixtures}/bad.sts.yaml`);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `${fixtures}/bad.sts.yaml:4:3: unknown permission "pull-requests": did you mean "pull_requests"?`,
    );
    expect(r.out).toContain(
      `${fixtures}/bad.sts.yaml:5:13: permissions.contents must be read, write or admin, not "writ"`,
    );
  });
  it("exits 0 on good files, printing warnings with a warning: prefix", () => {
    const r = run(
      "check",
      `${fixtures}/verify-prod.sts.yaml`,
      `${fixtures}/use-action.sts.yaml`,
      `${fixtures}/warning.sts.yaml`,
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${fixtures}/warning.sts.yaml:2:10: warning: subject is compared exactly`);
    expect(r.out).toContain(`${fixtures}/verify-prod.sts.yaml: ok (repository policy, 1 permission)`);
  });
  it("exits 1 when any file of several is bad, or unreadable", () => {
    expect(run("check", `${fixtures}/verify-prod.sts.yaml`, `${fixtures}/bad.sts.yaml`).code).toBe(1);
    const missing = run("check", `${fixtures}/nope.sts.yaml`);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/nope\.sts\.yaml:1:1: cannot read file/);
  });
  it("reads a file in the org policy repository with the org schema", () => {
    const org = `${fixtures}/acme/.github/.github/chainguard/org.sts.yaml`;
    expect(run("check", org)).toMatchObject({ code: 0 });
    expect(run("check", org).out).toContain("organization policy");
    // The same file elsewhere (or with another org policy repo name) is a repository policy.
    const asRepo = run("check", "--org-policy-repo", "policies", org);
    expect(asRepo.code).toBe(1);
    expect(asRepo.out).toContain(`${org}:3:1: repositories is only allowed in an organization policy`);
    expect(run("check", "--org", `${fixtures}/verify-prod.sts.yaml`).code).toBe(0);
  });
  it("exits 2 on usage errors", () => {
    expect(run().code).toBe(2);
    expect(run("check").code).toBe(2);
    expect(run("frobnicate").code).toBe(2);
    expect(run("check", "--bogus", "x").code).toBe(2);
    expect(run("explain", "--policy", `${fixtures}/release.sts.yaml`).code).toBe(2);
    expect(run("--help").code).toBe(0);
  });
});

describe("sts-policy check: an organization's trusted-issuer file", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "sts-policy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** `test/fixtures/trusted-issuers/NAME.yaml` under the file's real name, in its own directory. */
  const asTrustedIssuers = (name: string) => {
    const path = join(dir, name, ".github", "chainguard", "trusted-token-issuers.yaml");
    mkdirSync(join(path, ".."), { recursive: true });
    copyFileSync(`test/fixtures/trusted-issuers/${name}.yaml`, path);
    return path;
  };

  it("is recognised by its name and exits 0 when valid", () => {
    const allow = asTrustedIssuers("orgallow");
    const audit = asTrustedIssuers("orgaudit");
    const r = run("check", allow, audit);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${allow}: ok (trusted issuers, enforce mode, 1 issuer, 0 patterns)`);
    expect(r.out).toContain(`${audit}: ok (trusted issuers, audit mode, 1 issuer, 0 patterns)`);
  });
  it("prints file:line:col: message and exits 1 when invalid", () => {
    const bad = asTrustedIssuers("orgbad");
    const r = run("check", bad);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${bad}:2:5: issuer_patterns[0]: `);
    const path = join(dir, "typo", "trusted-token-issuers.yaml");
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, "mode: Enforce\nissuer_pattern: x\n");
    const typo = run("check", path);
    expect(typo.code).toBe(1);
    expect(typo.out).toContain(`${path}:1:7: mode must be enforce or audit, not the string Enforce`);
    expect(typo.out).toContain(
      `${path}:2:1: unknown key "issuer_pattern" in the trusted-issuer file: did you mean "issuer_patterns"?`,
    );
    // The same text under another name is a trust policy.
    expect(run("check", "test/fixtures/trusted-issuers/orgallow.yaml").out).toContain(
      'unknown key "issuers" in a repository policy',
    );
  });
});

describe("sts-policy explain", { timeout: 300_000 }, () => {
  it("shows every check and the grant", () => {
    const r = run(
      "explain",
      "--policy",
      `${fixtures}/release.sts.yaml`,
      "--claims",
      "test/fixtures/claims/github-actions-push.json",
      "--domain",
      "sts.example.com",
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /PASS {2}subject +sub "repo:acme\/deploy-tools:ref:refs\/heads\/main" matches subject_pattern/,
    );
    expect(r.out).toMatch(/PASS {2}claim ref_protected +"true" matches/);
    expect(r.out).toContain("result: granted");
    expect(r.out).toContain("permissions: contents: write");
  });
  it("shows the failing check and the refusal the service would give", () => {
    const r = run(
      "explain",
      "--policy",
      `${fixtures}/release.sts.yaml`,
      "--claims",
      "test/fixtures/claims/github-actions-default-audience.json",
      "--domain",
      "sts.example.com",
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}audience/);
    expect(r.out).toContain(
      'result: refused: AUDIENCE_MISMATCH: token does not match trust policy: token audience does not include "sts.example.com"',
    );
  });
  it("decodes --token without verifying it, and says so", () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const jwt = `${b64({ alg: "RS256" })}.${b64({ iss: "https://token.actions.githubusercontent.com", sub: "repo:octo-sts/app:pull_request", aud: "sts.example.com", workflow_ref: "octo-sts/app/.github/workflows/verify-prod.yaml@refs/heads/main" })}.c2ln`;
    const r = run(
      "explain",
      "--policy",
      `${fixtures}/verify-prod.sts.yaml`,
      "--token",
      jwt,
      "--domain",
      "sts.example.com",
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain("WITHOUT verifying");
    expect(run("explain", "--policy", `${fixtures}/verify-prod.sts.yaml`, "--token", "not-a-jwt").code).toBe(
      2,
    );
  });
  it("decodes --token as the service does: a padded or standard-base64 payload is refused", () => {
    const padded = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ iss: "x" })).toString("base64")}.c2ln`;
    expect(padded).toContain("=");
    const r = run("explain", "--policy", `${fixtures}/verify-prod.sts.yaml`, "--token", padded);
    expect(r.code).toBe(2);
    expect(r.err).toContain("not an unpadded base64url JSON object");
  });
});

/**
 * The benchmark's tenant on the doubles: the GitHub Actions issuer (hostname tenant
 * https://token.actions.githubusercontent.com, as in production), an organization with the App
 * installed, a repository and its trust policy, and one OIDC token shaped like GitHub Actions' that both
 * the real Worker and the floor are sent. Also classifies the doubles' call logs by purpose, so the
 * report can say which outbound request was which.
 */

import { createSign } from "node:crypto";
import type { Doubles } from "../../test/doubles/launch";
import type { RecordedCall } from "../../test/shared/control-client";

/** The floor's User-Agent: its calls are left out of the real Worker's call log. */
const FLOOR_USER_AGENT = "github-sts-floor";
export const BENCH_DOMAIN = "sts.bench.test";
const BENCH_OWNER = "bench-org";
const BENCH_REPO = "bench-repo";
export const BENCH_IDENTITY = "bench";
export const BENCH_ISSUER_HOST = "token.actions.githubusercontent.com";
const BENCH_PERMISSIONS = { issues: "write", pull_requests: "write" } as const;

/** A policy with the checks a real one has: exact issuer, subject pattern, claim patterns. */
const BENCH_POLICY = `issuer: https://token.actions.githubusercontent.com
subject_pattern: "repo:bench-org/bench-repo:ref:refs/heads/(main|release-[0-9]+)"
claim_pattern:
  workflow_ref: "bench-org/bench-repo/\\\\.github/workflows/[a-z-]+\\\\.ya?ml@refs/heads/main"
  job_workflow_ref: "bench-org/bench-repo/.*"
permissions:
  issues: write
  pull_requests: write
`;

interface Fixture {
  issuerId: string;
  githubId: string;
  issuer: string;
  token: string;
  /** Path and query of the exchange request. */
  path: string;
  installationId: number;
  /** The RS256 public JWK the floor verifies with. */
  issuerJwk: Record<string, unknown>;
  mintUrl: string;
  /** The mint body the real Worker sends for this policy (go-github member order). */
  mintBody: string;
}

export async function createFixture(doubles: Doubles, appId: string, appKeyPkcs8: string): Promise<Fixture> {
  const issuerDouble = doubles.issuer.double;
  const created = await issuerDouble.createIssuer({ host: BENCH_ISSUER_HOST });
  const keys = await issuerDouble.keys(created.id);
  const issuerJwk = keys.keys.find((k) => k.kid === keys.kids.RS256) as Record<string, unknown>;
  const repo = `${BENCH_OWNER}/${BENCH_REPO}`;
  const token = await issuerDouble.mintToken(created.id, {
    expiresIn: 3600,
    claims: {
      aud: BENCH_DOMAIN,
      sub: `repo:${repo}:ref:refs/heads/main`,
      repository: repo,
      repository_owner: BENCH_OWNER,
      repository_id: "100001",
      repository_owner_id: "200001",
      ref: "refs/heads/main",
      ref_type: "branch",
      sha: "0123456789abcdef0123456789abcdef01234567",
      workflow: "ci",
      workflow_ref: `${repo}/.github/workflows/ci.yaml@refs/heads/main`,
      job_workflow_ref: `${repo}/.github/workflows/ci.yaml@refs/heads/main`,
      event_name: "push",
      run_id: "9000000001",
      run_number: "17",
      run_attempt: "1",
      actor: "octocat",
      actor_id: "1",
      runner_environment: "github-hosted",
      jti: "11111111-2222-3333-4444-555555555555",
    },
  });
  const github = await setupGitHub(doubles, appId, appKeyPkcs8);
  const installationId = github.installationId;
  return {
    issuerId: created.id,
    githubId: github.id,
    issuer: created.issuer,
    token,
    path: `/sts/exchange?scope=${encodeURIComponent(repo)}&identity=${BENCH_IDENTITY}`,
    installationId,
    issuerJwk,
    mintUrl: `https://api.github.com/app/installations/${installationId}/access_tokens`,
    mintBody: JSON.stringify({ repositories: [BENCH_REPO], permissions: { ...BENCH_PERMISSIONS } }),
  };
}

/** The organization, its installation, the repository and the policy file on the GitHub double. */
async function setupGitHub(
  doubles: Doubles,
  appId: string,
  appKeyPkcs8: string,
): Promise<{ id: string; installationId: number }> {
  const github = doubles.github.double;
  const tenant = await github.setupTenant("bench", {
    host: "api.github.com",
    appId,
    installations: [{ account: BENCH_OWNER, type: "Organization" }],
    repos: {
      [`${BENCH_OWNER}/${BENCH_REPO}`]: {
        files: { [`.github/chainguard/${BENCH_IDENTITY}.sts.yaml`]: BENCH_POLICY },
      },
    },
  });
  // The installation id, asked of the double the way GitHub is asked (an App JWT signed here).
  const now = Math.floor(Date.now() / 1000);
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iat: now - 60, exp: now + 300, iss: appId })}`;
  const jwt = `${input}.${createSign("RSA-SHA256").update(input).sign(appKeyPkcs8).toString("base64url")}`;
  const answer = await fetch(`${doubles.github.url}/h/api.github.com/orgs/${BENCH_OWNER}/installation`, {
    headers: {
      authorization: `Bearer ${jwt}`,
      "user-agent": "sts-bench-setup",
      accept: "application/vnd.github+json",
    },
  });
  const body = (await answer.json()) as { id?: unknown };
  if (typeof body.id !== "number") throw new Error(`GitHub double: no installation id (${answer.status})`);
  await github.clearCalls(tenant.id);
  return { id: tenant.id, installationId: body.id };
}

export type CallKind =
  | "discovery"
  | "jwks"
  | "installation"
  | "read-token mint"
  | "policy read"
  | "revoke"
  | "mint"
  | "other";

export function classifyGitHub(call: Pick<RecordedCall, "method" | "path" | "body">): CallKind {
  const path = call.path.split("?")[0] ?? "";
  if (
    /^\/(orgs|users)\/[^/]+\/installation$/.test(path) ||
    /^\/repos\/[^/]+\/[^/]+\/installation$/.test(path)
  )
    return "installation";
  if (path === "/app/installations" || /^\/app\/installations\/\d+$/.test(path)) return "installation";
  if (call.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
    try {
      const body = JSON.parse(call.body) as { permissions?: Record<string, string> };
      const perms = Object.entries(body.permissions ?? {});
      if (perms.length === 1 && perms[0]?.[0] === "contents" && perms[0][1] === "read")
        return "read-token mint";
    } catch {
      // not JSON: count it as a mint
    }
    return "mint";
  }
  if (call.method === "GET" && /^\/repos\/[^/]+\/[^/]+\/contents\//.test(path)) return "policy read";
  if (call.method === "DELETE" && path === "/installation/token") return "revoke";
  return "other";
}

export function classifyIssuer(path: string): CallKind {
  const p = path.split("?")[0] ?? "";
  if (p.endsWith("/.well-known/openid-configuration")) return "discovery";
  if (p.endsWith("/jwks") || p.endsWith("/.well-known/jwks")) return "jwks";
  return "other";
}

/** GitHub double calls so far (the double's own log of the bench tenant). */
export async function githubCalls(doubles: Doubles, fixture: Fixture): Promise<RecordedCall[]> {
  const calls = await doubles.github.double.calls(fixture.githubId);
  return calls.filter((c) => c.headers["user-agent"] !== FLOOR_USER_AGENT);
}

/**
 * The demo's sample world, shared by `npm run demo` and `npm run mint-demo-token`: the organization
 * `acme` with its repository `deploy-tools` and the release policy on the GitHub double, the GitHub
 * Actions issuer on the issuer double, and the claim sets of real CI tokens (test/fixtures/claims) that
 * demo tokens are minted from.
 */

import buildkite from "../../test/fixtures/claims/buildkite.json";
import defaultAudience from "../../test/fixtures/claims/github-actions-default-audience.json";
import immutableSub from "../../test/fixtures/claims/github-actions-immutable-sub.json";
import pullRequest from "../../test/fixtures/claims/github-actions-pull-request.json";
import push from "../../test/fixtures/claims/github-actions-push.json";
import gitlab from "../../test/fixtures/claims/gitlab-ci.json";
import kubernetes from "../../test/fixtures/claims/kubernetes-serviceaccount.json";

export const DEMO_OWNER = "acme";
export const DEMO_REPO = "deploy-tools";
export const DEMO_IDENTITY = "release";
export const DEMO_SCOPE = `${DEMO_OWNER}/${DEMO_REPO}`;
export const DEMO_POLICY_PATH = `.github/chainguard/${DEMO_IDENTITY}.sts.yaml`;

/** Fixed ports, so the printed commands stay the same from one run to the next. */
export const DEFAULT_PORTS = { worker: 8787, issuer: 8788, github: 8789 } as const;

/** The policy the walkthrough uses: release jobs of deploy-tools on main may push tags and releases. */
export const DEMO_POLICY = `# Release jobs of acme/deploy-tools, on main, through the release workflow, may write contents
# (push tags, create releases) of this one repository.
issuer: https://token.actions.githubusercontent.com
subject: repo:acme/deploy-tools:ref:refs/heads/main
claim_pattern:
  job_workflow_ref: acme/deploy-tools/\\.github/workflows/release\\.yaml@refs/heads/main
permissions:
  contents: write
`;

/** The ids GitHub gives the owner and the repository (as in the immutable-sub claim set). */
export const DEMO_OWNER_ID = 1234567;
export const DEMO_REPO_ID = 7654321;

/** The release policy as a pull request changes it, with a typo GitHub's permission names do not have. */
export const DEMO_PR_BROKEN_POLICY = DEMO_POLICY.replace(
  "  contents: write\n",
  "  contents: write\n  pull-requests: write\n",
);
/** The same pull request once its author fixed the typo. */
export const DEMO_PR_FIXED_POLICY = DEMO_POLICY.replace(
  "  contents: write\n",
  "  contents: write\n  pull_requests: write\n",
);
/** The release policy as a later merge changes it on main: releases may also label issues. */
export const DEMO_MERGED_POLICY = DEMO_POLICY.replace(
  "  contents: write\n",
  "  contents: write\n  issues: write\n",
);

/** Claim sets a demo token can be minted from (`--claims NAME`). */
export const CLAIM_SETS: Record<string, Record<string, unknown>> = {
  push,
  "pull-request": pullRequest,
  "default-audience": defaultAudience,
  "immutable-sub": immutableSub,
  gitlab,
  buildkite,
  kubernetes,
};

export const CLAIM_SET_NOTES: Record<string, string> = {
  push: "GitHub Actions, push to main of acme/deploy-tools (the default)",
  "pull-request": "GitHub Actions, a pull_request run: sub repo:acme/deploy-tools:pull_request",
  "default-audience": "GitHub Actions without audience=: aud https://github.com/acme (keeps its aud)",
  "immutable-sub": "GitHub Actions, immutable sub repo:acme@1234567/deploy-tools@7654321:ref:refs/heads/main",
  gitlab: "GitLab CI id_tokens, issuer https://gitlab.com",
  buildkite: "Buildkite agent, issuer https://agent.buildkite.com",
  kubernetes: "Kubernetes service account, issuer https://oidc.eks.us-west-2.amazonaws.com/id/…",
};

/** The issuer host a claim set names (its `iss` without the scheme): the issuer double's host tenant. */
export function issuerHostOf(claims: Record<string, unknown>): string {
  return new URL(String(claims.iss)).hostname;
}

interface DemoTokenOptions {
  /** Claim set name (default `push`). */
  claimSet?: string;
  /** The audience to put in `aud` (default: the deployment's STS_DOMAIN); ignored by `default-audience`. */
  audience?: string;
  /** Extra claims, set over the claim set (`sub`, `ref`, …). */
  claims?: Record<string, unknown>;
}

/**
 * The claims of a demo token: the claim set without its example time claims (the double sets fresh
 * ones), with `aud` set to the deployment's domain unless the set is about the audience.
 */
export function demoClaims(domain: string, options: DemoTokenOptions = {}): Record<string, unknown> {
  const name = options.claimSet ?? "push";
  const base = CLAIM_SETS[name];
  if (base === undefined) {
    throw new Error(`unknown claim set "${name}" (known: ${Object.keys(CLAIM_SETS).join(", ")})`);
  }
  const { iat: _iat, nbf: _nbf, exp: _exp, ...claims } = base;
  if (name !== "default-audience") {
    const audience = options.audience ?? domain;
    claims.aud = Array.isArray(claims.aud) ? [audience] : audience;
  } else if (options.audience !== undefined) {
    claims.aud = options.audience;
  }
  return { ...claims, ...options.claims };
}

/** The short form a JWT is shown in: enough to recognise it, never the whole token. */
export function abbreviateJwt(jwt: string): string {
  return `${jwt.slice(0, 24)}…(a ${jwt.length}-character JWT)`;
}

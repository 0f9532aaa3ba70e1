/**
 * @module exchange/scope
 * Scope and identity (docs/differences-from-octo-sts.md, "Strict identity and scope"): strict names, so
 * nothing a caller sends can travel into a GitHub URL path (octo-sts substituted `identity` into the path
 * unchecked; `../x` read another file).
 */

import { fail, ok, type Result } from "../errors/catalogue";
import { isRepoName } from "../platform/config";
import { MAX_IDENTITY_CHARS } from "../platform/limits";

const OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,38}$/;
const IDENTITY = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Where the policy lives and what the minted token is limited to. */
export interface Target {
  owner: string;
  /** The repository whose `.github/chainguard/<identity>.sts.yaml` is read. */
  policyRepo: string;
  kind: "repo" | "org";
  /**
   * The token's repositories before the policy is read: `[repo]` for a repository scope,
   * `[ORG_POLICY_REPO]` as the fallback for `owner/<ORG_POLICY_REPO>`, undefined for an org scope.
   */
  repositories?: string[];
  /** For an org policy: true when the policy's own `repositories` replace `repositories` above. */
  policyListsRepositories: boolean;
}

/** Step 7 (docs/refusals.md, "Evaluation order"): presence first (as upstream), then syntax. */
export function resolveTarget(scope: string, identity: string, orgPolicyRepo: string): Result<Target> {
  if (scope === "") return fail("SCOPE_REQUIRED");
  if (identity === "") return fail("IDENTITY_REQUIRED");

  const parts = scope.split("/");
  const owner = parts[0] ?? "";
  const repo = parts[1];
  const validRepo = repo === undefined || isRepoName(repo);
  if (parts.length > 2 || !OWNER.test(owner) || !validRepo) {
    return fail("INVALID_SCOPE", { scope }, "scope is not owner or owner/repo");
  }
  if (identity.length > MAX_IDENTITY_CHARS || !IDENTITY.test(identity) || identity.includes("..")) {
    return fail("INVALID_IDENTITY", { identity }, "identity is not a plain file name");
  }

  if (repo === undefined) {
    return ok({ owner, policyRepo: orgPolicyRepo, kind: "org", policyListsRepositories: true });
  }
  // GitHub repository names are case-insensitive, so `org/.GitHub` is the org policy repository too.
  if (repo.toLowerCase() === orgPolicyRepo.toLowerCase()) {
    return ok({ owner, policyRepo: repo, kind: "org", repositories: [repo], policyListsRepositories: true });
  }
  return ok({ owner, policyRepo: repo, kind: "repo", repositories: [repo], policyListsRepositories: false });
}

/**
 * The repositories the minted token is limited to, once the policy is known (docs/policy-reference.md,
 * "Repository and organization policies").
 */
export function tokenRepositories(
  target: Target,
  policyRepositories: string[] | undefined,
): string[] | undefined {
  if (target.policyListsRepositories && policyRepositories !== undefined) return policyRepositories;
  return target.repositories;
}

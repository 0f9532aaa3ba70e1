/**
 * @module endpoints/webhook/paths
 * Which files a delivery checks, as octo-sts's validator picks them (docs/webhook.md, "What is checked"):
 * `.github/chainguard/*.sts.yaml` directly in that folder (Go's `filepath.Match`: `*` stops at `/`),
 * and `.github/chainguard/trusted-token-issuers.yaml` in the organization's policy repository
 * (`ORG_POLICY_REPO`, compared case-insensitively). Also: the policy a path names (for eviction), and
 * the YAML files under `.github/chainguard/` the exchange never reads (a lint).
 */

import { TRUSTED_ISSUERS_PATH } from "../../trust";

const POLICY_PATH = /^\.github\/chainguard\/([^/]*)\.sts\.yaml$/;
const UNDER_CHAINGUARD = ".github/chainguard/";

export function isOrgPolicyRepo(repo: string, orgPolicyRepo: string): boolean {
  return repo.toLowerCase() === orgPolicyRepo.toLowerCase();
}

/** The identity of a policy path (`.github/chainguard/release.sts.yaml` → `release`), else undefined. */
export function policyIdentity(path: string): string | undefined {
  return POLICY_PATH.exec(path)?.[1];
}

export function isTrustedIssuersPath(repo: string, path: string, orgPolicyRepo: string): boolean {
  return isOrgPolicyRepo(repo, orgPolicyRepo) && path === TRUSTED_ISSUERS_PATH;
}

/** True for the files the validator checks in `repo`. */
export function isValidatedPath(repo: string, path: string, orgPolicyRepo: string): boolean {
  return policyIdentity(path) !== undefined || isTrustedIssuersPath(repo, path, orgPolicyRepo);
}

/**
 * Why the exchange never reads `path`, for a `.yaml`/`.yml` file under `.github/chainguard/` that is not
 * validated in `repo`; undefined for every other path.
 */
export function neverReadReason(repo: string, path: string, orgPolicyRepo: string): string | undefined {
  if (!path.startsWith(UNDER_CHAINGUARD) || !/\.ya?ml$/i.test(path)) return undefined;
  if (isValidatedPath(repo, path, orgPolicyRepo)) return undefined;
  const rest = path.slice(UNDER_CHAINGUARD.length);
  const name = rest.split("/").pop() ?? rest;
  const base = name.replace(/(\.sts)?\.ya?ml$/i, "");
  if (rest.includes("/")) {
    return `the exchange never reads this file: policies are read from .github/chainguard/<identity>.sts.yaml directly in that folder, never from a subfolder`;
  }
  if (name === "trusted-token-issuers.yaml") {
    return `the exchange never reads this file: the trusted-issuer file is read only from the organization's policy repository (${orgPolicyRepo})`;
  }
  return `the exchange never reads this file: a policy is .github/chainguard/<identity>.sts.yaml${
    base !== "" ? ` (did you mean .github/chainguard/${base}.sts.yaml?)` : ""
  }`;
}

/**
 * @module trust/org-issuers-path
 * Where an organization's trusted-issuer file lives (docs/trusted-issuers.md), apart from its parser so
 * that the store reads the file without loading the parser until a file is there.
 */

/** Where the file lives inside the organization's policy repository (`ORG_POLICY_REPO`). */
export const TRUSTED_ISSUERS_PATH = ".github/chainguard/trusted-token-issuers.yaml";

/** The file's name, by which the checker recognises it. */
export const TRUSTED_ISSUERS_FILE_NAME = "trusted-token-issuers.yaml";

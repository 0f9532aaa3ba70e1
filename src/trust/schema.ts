/**
 * @module policy/schema
 * The canonical shape of a trust policy (docs/policy-reference.md, "Fields", "Permissions" and "YAML
 * rules") as zod/mini strict objects: the YAML reader turns a file into this canonical object first (key case folded,
 * scalars converted as Go does); zod then checks types and values. zod/mini keeps the Worker's bundle
 * small (docs/performance.md, "Bundle"); the JSON Schemas for editors, with a description per field,
 * are generated from full zod in trust/json-schema.ts, which a test holds to the same shape.
 */

import * as z from "zod/mini";
import { PERMISSION_KEYS, PERMISSION_LEVELS, type PermissionKey } from "./permissions";

export { PERMISSION_KEYS, PERMISSION_LEVELS, type PermissionKey, type PermissionLevel } from "./permissions";

const level = z.enum(PERMISSION_LEVELS);

const permissions = z.strictObject(
  Object.fromEntries(PERMISSION_KEYS.map((k) => [k, z.optional(level)])) as Record<
    PermissionKey,
    z.ZodMiniOptional<typeof level>
  >,
);

const text = () => z.optional(z.string());

const repoShape = {
  issuer: text(),
  issuer_pattern: text(),
  subject: text(),
  subject_pattern: text(),
  audience: text(),
  audience_pattern: text(),
  claim_pattern: z.optional(z.record(z.string(), z.string())),
  permissions: z.optional(permissions),
  app: text(),
  app_pattern: text(),
};

/** A repository policy (`<owner>/<repo>/.github/chainguard/<identity>.sts.yaml`). */
export const RepoPolicySchema = z.strictObject(repoShape);

/**
 * An organization policy: a repository policy plus `repositories` (docs/policy-reference.md,
 * "Repository and organization policies").
 */
export const OrgPolicySchema = z.strictObject({
  ...repoShape,
  repositories: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1))),
});

export type CanonicalPolicy = z.infer<typeof OrgPolicySchema>;

/** Top-level keys of each kind of policy, in canonical spelling. */
export const REPO_KEYS = Object.keys(repoShape);
export const ORG_KEYS = [...REPO_KEYS, "repositories"];

/** `mode` of an organization's trusted-issuer file (docs/trusted-issuers.md); absent means the first. */
export const TRUSTED_ISSUER_MODES = ["enforce", "audit"] as const;
export type TrustedIssuerMode = (typeof TRUSTED_ISSUER_MODES)[number];

/** Top-level keys of the trusted-issuer file (docs/trusted-issuers.md), in canonical spelling. */
export const TRUSTED_ISSUERS_KEYS = ["mode", "issuers", "issuer_patterns"];

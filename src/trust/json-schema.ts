/**
 * @module trust/json-schema
 * The JSON Schemas of a trust policy and of an organization's trusted-issuer file, for editors
 * (`schema/*.schema.json`, written by `npm run schema`, checked for drift by a test). Node-side only:
 * the Worker validates with the zod/mini schemas of trust/schema.ts and never loads this module or
 * full zod (docs/performance.md, "Bundle"); a test checks that both say the same apart from the
 * descriptions.
 */

import * as z from "zod";
import { PERMISSION_KEYS, PERMISSION_LEVELS, type PermissionKey } from "./permissions";
import { TRUSTED_ISSUER_MODES } from "./schema";

const level = z.enum(PERMISSION_LEVELS).describe("read, write or admin");

const permissions = z
  .strictObject(
    Object.fromEntries(PERMISSION_KEYS.map((k) => [k, level.optional()])) as Record<
      PermissionKey,
      z.ZodOptional<typeof level>
    >,
  )
  .describe("GitHub App installation permissions to grant; at least one");

const text = (description: string) => z.string().describe(description);

const repoShape = {
  issuer: text("the token's exact `iss`").optional(),
  issuer_pattern: text("RE2 pattern the whole `iss` must match").optional(),
  subject: text("the token's exact `sub`; not a pattern (use subject_pattern for that)").optional(),
  subject_pattern: text("RE2 pattern the whole `sub` must match").optional(),
  audience: text("an exact entry of the token's `aud`; default: the service's domain").optional(),
  audience_pattern: text("RE2 pattern at least one `aud` entry must match as a whole").optional(),
  claim_pattern: z
    .record(z.string(), z.string())
    .describe("top-level claim name → RE2 pattern its string or boolean value must match")
    .optional(),
  permissions: permissions.optional(),
  app: text("accepted and ignored (multi-App upstream deployments only)").optional(),
  app_pattern: text("accepted and ignored (multi-App upstream deployments only)").optional(),
};

/** A repository policy (`<owner>/<repo>/.github/chainguard/<identity>.sts.yaml`). */
export const RepoPolicySchema = z.strictObject(repoShape);

/**
 * An organization policy: a repository policy plus `repositories` (docs/policy-reference.md,
 * "Repository and organization policies").
 */
export const OrgPolicySchema = z.strictObject({
  ...repoShape,
  repositories: z
    .array(z.string().min(1))
    .min(1)
    .describe("repository names (without owner) the token is limited to; absent: every repository")
    .optional(),
});

const trustedIssuersShape = {
  mode: z
    .enum(TRUSTED_ISSUER_MODES)
    .describe(
      "enforce (the default) refuses tokens of any other issuer; audit only logs what enforce would do",
    )
    .optional(),
  issuers: z
    .array(z.string())
    .describe("exact issuers, compared byte for byte with the token's `iss`; scheme and host in lowercase")
    .optional(),
  issuer_patterns: z
    .array(z.string())
    .describe("RE2 patterns the whole `iss` must match; a pattern may not let an issuer span a host boundary")
    .optional(),
};

/** An organization's `.github/chainguard/trusted-token-issuers.yaml` (docs/trusted-issuers.md). */
export const TrustedIssuersSchema = z.strictObject(trustedIssuersShape);

/**
 * The compile rules (docs/policy-reference.md, "Fields") that a JSON Schema can say (one of
 * issuer/issuer_pattern, one of subject/subject_pattern, not both audience forms, permissions required and
 * non-empty), so editors flag them too.
 */
function withCompileRules(schema: Record<string, unknown>, title: string): Record<string, unknown> {
  const props = schema.properties as Record<string, Record<string, unknown>>;
  const perms = props.permissions;
  if (perms) perms.minProperties = 1;
  const { $schema, ...rest } = schema;
  return {
    $schema,
    title,
    description:
      "octo-sts compatible trust policy (github-sts-worker). Keys are shown in canonical form; the service also accepts them in any letter case.",
    ...rest,
    required: ["permissions"],
    allOf: [
      { oneOf: [{ required: ["issuer"] }, { required: ["issuer_pattern"] }] },
      { oneOf: [{ required: ["subject"] }, { required: ["subject_pattern"] }] },
      { not: { required: ["audience", "audience_pattern"] } },
    ],
  };
}

/** The committed JSON Schemas, as the exact text of their files. */
export function policyJsonSchemas(): {
  "trust-policy.schema.json": string;
  "org-trust-policy.schema.json": string;
  "trusted-token-issuers.schema.json": string;
} {
  const render = (s: z.ZodType, title: string) =>
    `${JSON.stringify(withCompileRules(z.toJSONSchema(s) as Record<string, unknown>, title), null, 2)}\n`;
  const { $schema, ...issuers } = z.toJSONSchema(TrustedIssuersSchema) as Record<string, unknown>;
  const trustedIssuers = {
    $schema,
    title: "Organization trusted token issuers",
    description:
      "The issuers an organization lets federate into it (.github/chainguard/trusted-token-issuers.yaml in its org policy repository; github-sts-worker). List at least one entry in issuers or issuer_patterns.",
    ...issuers,
  };
  return {
    "trust-policy.schema.json": render(RepoPolicySchema, "Trust policy (repository)"),
    "org-trust-policy.schema.json": render(OrgPolicySchema, "Trust policy (organization)"),
    "trusted-token-issuers.schema.json": `${JSON.stringify(trustedIssuers, null, 2)}\n`,
  };
}

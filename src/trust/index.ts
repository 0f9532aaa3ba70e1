/**
 * @module policy
 * The trust policy engine (docs/policy-reference.md): text in, decision out, no I/O. The
 * exchange endpoint, the webhook validator and the `sts-policy` checker all call exactly this.
 * It imports nothing from src/github or src/oidc except the token syntax rules (src/oidc/syntax.ts).
 */

export type { AllowlistRules, IssuerAllowlist } from "./allowlist";
export { allowsIssuer } from "./allowlist";
export type { ExplainReport } from "./check";
export { checkToken, checkTokenSyntax, explain } from "./check";
export type { CompiledPolicy, Matcher } from "./compile";
export { GITHUB_ACTIONS_ISSUER, type Lint, type LintContext, lintPolicy } from "./lint";
export { type LoadResult, loadPolicy } from "./load";
export {
  parseTrustedIssuers,
  TRUSTED_ISSUERS_FILE_NAME,
  TRUSTED_ISSUERS_PATH,
  type TrustedIssuerMode,
  type TrustedIssuers,
} from "./org-issuers";
export type { PolicyKind, PolicyProblem } from "./parse";
export { PERMISSION_KEYS, PERMISSION_LEVELS, type PermissionLevel } from "./schema";

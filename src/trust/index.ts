/**
 * @module policy
 * The trust policy engine (docs/policy-reference.md): text in, decision out, no I/O. The
 * exchange endpoint, the webhook validator and the `sts-policy` checker all call exactly this.
 * It imports nothing from src/github or src/oidc except the token syntax rules (src/oidc/syntax.ts).
 */

import { type CompiledPolicy, compilePolicy } from "./compile";
import { type PolicyKind, type PolicyProblem, parsePolicy, sortProblems } from "./parse";

export type { AllowlistRules, IssuerAllowlist } from "./allowlist";
export { allowsIssuer } from "./allowlist";
export type { ExplainReport } from "./check";
export { checkToken, checkTokenSyntax, explain } from "./check";
export type { CompiledPolicy, Matcher } from "./compile";
export { GITHUB_ACTIONS_ISSUER, type Lint, type LintContext, lintPolicy } from "./lint";
export {
  parseTrustedIssuers,
  TRUSTED_ISSUERS_FILE_NAME,
  TRUSTED_ISSUERS_PATH,
  type TrustedIssuerMode,
  type TrustedIssuers,
} from "./org-issuers";
export type { PolicyKind, PolicyProblem } from "./parse";
export { PERMISSION_KEYS, PERMISSION_LEVELS, type PermissionLevel } from "./schema";

export type LoadResult =
  | { ok: true; policy: CompiledPolicy; warnings: PolicyProblem[] }
  | { ok: false; stage: "parse" | "compile"; problems: PolicyProblem[] };

/**
 * Parses and compiles a policy file: `kind` is "org" for files read from the org policy repository
 * (which alone may carry `repositories`), else "repo". Problems come sorted by position.
 */
export function loadPolicy(text: string, kind: PolicyKind): LoadResult {
  const parsed = parsePolicy(text, kind);
  if (!parsed.ok) return { ok: false, stage: "parse", problems: sortProblems(parsed.problems) };
  const compiled = compilePolicy(parsed.parsed);
  if (!compiled.ok) return { ok: false, stage: "compile", problems: sortProblems(compiled.problems) };
  return { ok: true, policy: compiled.policy, warnings: sortProblems(parsed.parsed.warnings) };
}

/**
 * @module policy/compile
 * A parsed policy → the matchers the token check runs (docs/policy-reference.md, "Fields", "Patterns" and
 * "Permissions"): exactly one of issuer/issuer_pattern, exactly one of subject/subject_pattern, at most one
 * of audience/audience_pattern, a non-empty permission set, and every pattern compiled with RE2 and anchored
 * as a whole. An empty string counts as absent, as it does in Go.
 */

import { MAX_POLICY_REPETITION_EXPANSION_CHARS } from "../platform/limits";
import type { ParsedPolicy, PolicyKind } from "./parse";
import { type AnchoredPattern, compileAnchored } from "./pattern";
import { NO_POS, type PolicyProblem, problem } from "./problem";
import type { PermissionLevel } from "./schema";

/** How one of issuer, subject or audience is checked. */
export type Matcher =
  | { kind: "exact"; field: "issuer" | "subject" | "audience"; value: string }
  | {
      kind: "pattern";
      field: "issuer_pattern" | "subject_pattern" | "audience_pattern";
      pattern: AnchoredPattern;
    };

export interface CompiledPolicy {
  readonly kind: PolicyKind;
  readonly issuer: Matcher;
  readonly subject: Matcher;
  /** null: the default audience rule, STS_DOMAIN ∈ aud (docs/policy-reference.md, "Fields"). */
  readonly audience: Matcher | null;
  /** In the order written. */
  readonly claims: readonly { name: string; pattern: AnchoredPattern }[];
  /** Canonical keys, in the order written. */
  readonly permissions: Readonly<Record<string, PermissionLevel>>;
  /** Org policies only, as written; undefined when absent. */
  readonly repositories?: readonly string[];
}

export type CompileResult = { ok: true; policy: CompiledPolicy } | { ok: false; problems: PolicyProblem[] };

type Named = "issuer" | "subject" | "audience";

export function compilePolicy(parsed: ParsedPolicy): CompileResult {
  const { policy: p, positions } = parsed;
  const problems: PolicyProblem[] = [];
  const at = (field: string) => positions.get(field)?.value ?? NO_POS;
  const keyAt = (field: string) => positions.get(field)?.key ?? NO_POS;

  let expansion = 0;
  const compile = (field: string, source: string): AnchoredPattern | null => {
    const compiled = compileAnchored(source);
    if (compiled.ok) {
      const before = expansion;
      expansion += compiled.pattern.expansion;
      if (
        before <= MAX_POLICY_REPETITION_EXPANSION_CHARS &&
        expansion > MAX_POLICY_REPETITION_EXPANSION_CHARS
      ) {
        // Each pattern within its bound, but together too costly to match on every exchange.
        problems.push(
          problem(
            `invalid ${field}: the policy's patterns reach a repetition expansion over ${MAX_POLICY_REPETITION_EXPANSION_CHARS} here (the repetition bound per policy)`,
            at(field),
            field,
          ),
        );
      }
      return compiled.pattern;
    }
    problems.push(problem(`invalid ${field}: ${compiled.error}`, at(field), field));
    return null;
  };

  const pick = (name: Named, required: boolean): Matcher | null | undefined => {
    const exact = p[name] || undefined;
    const patternField = `${name}_pattern` as const;
    const pattern = p[patternField] || undefined;
    if (exact !== undefined && pattern !== undefined) {
      const second = [name, patternField].sort((a, b) => keyAt(b).line - keyAt(a).line)[0] as string;
      problems.push(
        problem(
          `got both ${name} and ${patternField}: set exactly ${required ? "one" : "one or neither"}`,
          keyAt(second),
          second,
        ),
      );
      return undefined;
    }
    if (exact !== undefined) return { kind: "exact", field: name, value: exact };
    if (pattern !== undefined) {
      const compiled = compile(patternField, pattern);
      return compiled ? { kind: "pattern", field: patternField, pattern: compiled } : undefined;
    }
    if (required) {
      problems.push(problem(`got neither ${name} nor ${patternField}: set exactly one`, NO_POS, name));
      return undefined;
    }
    return null;
  };

  const issuer = pick("issuer", true);
  const subject = pick("subject", true);
  const audience = pick("audience", false);

  const claims: { name: string; pattern: AnchoredPattern }[] = [];
  for (const [name, source] of Object.entries(p.claim_pattern ?? {})) {
    const compiled = compile(`claim_pattern[${JSON.stringify(name)}]`, source);
    if (compiled) claims.push({ name, pattern: compiled });
  }

  const permissions = Object.fromEntries(
    Object.entries(p.permissions ?? {}).filter((e): e is [string, PermissionLevel] => e[1] !== undefined),
  );
  if (Object.keys(permissions).length === 0) {
    // docs/differences-from-octo-sts.md, "Empty permissions": an empty set would become
    // "every permission of the installation" at GitHub.
    problems.push(
      problem(
        "no permissions: a policy must grant at least one permission, e.g. permissions: {contents: read}",
        positions.get("permissions")?.key ?? NO_POS,
        "permissions",
      ),
    );
  }

  if (problems.length > 0 || !issuer || !subject || audience === undefined) return { ok: false, problems };
  const compiled: CompiledPolicy = {
    kind: parsed.kind,
    issuer,
    subject,
    audience,
    claims,
    permissions,
    ...(p.repositories !== undefined ? { repositories: [...p.repositories] } : {}),
  };
  return { ok: true, policy: compiled };
}

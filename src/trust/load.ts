/**
 * @module trust/load
 * Policy text → compiled policy: the validating parser (YAML reader, key rules, schema) then the
 * compiler. The Worker loads this module only when it has to read a policy's text
 * (docs/performance.md, "Policy normal form"); the CLI and the tests reach it through trust/index.ts.
 */

import { type CompiledPolicy, compilePolicy } from "./compile";
import { formOf, type PolicyForm } from "./normal-form";
import { type PolicyKind, parsePolicy } from "./parse";
import { type PolicyProblem, sortProblems } from "./problem";

export type LoadResult =
  | { ok: true; policy: CompiledPolicy; warnings: PolicyProblem[] }
  | { ok: false; stage: "parse" | "compile"; problems: PolicyProblem[] };

/**
 * Parses and compiles a policy file: `kind` is "org" for files read from the org policy repository
 * (which alone may carry `repositories`), else "repo". Problems come sorted by position.
 */
export function loadPolicy(text: string, kind: PolicyKind): LoadResult {
  return loadPolicyWithForm(text, kind).loaded;
}

/**
 * {@link loadPolicy}, and when the policy loaded and `textSha256` (of `text`) is given, its normal form
 * (trust/normal-form.ts) to be stored beside the text.
 */
export function loadPolicyWithForm(
  text: string,
  kind: PolicyKind,
  textSha256?: string,
): { loaded: LoadResult; form?: PolicyForm } {
  const parsed = parsePolicy(text, kind);
  if (!parsed.ok) return { loaded: { ok: false, stage: "parse", problems: sortProblems(parsed.problems) } };
  const compiled = compilePolicy(parsed.parsed);
  if (!compiled.ok) {
    return { loaded: { ok: false, stage: "compile", problems: sortProblems(compiled.problems) } };
  }
  const loaded: LoadResult = {
    ok: true,
    policy: compiled.policy,
    warnings: sortProblems(parsed.parsed.warnings),
  };
  return textSha256 === undefined ? { loaded } : { loaded, form: formOf(parsed.parsed, textSha256) };
}

/**
 * @module policy/pattern
 * Policy and allowlist patterns: Go RE2 syntax, linear-time matching (re2js), always anchored as a
 * whole. The pattern is compiled alone first, so that `)|(`-style inputs cannot escape the group, and
 * then as `^(?:p)$` (GHSA-mwqh-2vg8-rhj3: `^a|b$` would leave `a|b` half-anchored).
 */

import { RE2JS } from "re2js";

export interface AnchoredPattern {
  /** The pattern as written in the policy (never echoed to a caller). */
  readonly source: string;
  /** True when the whole of `input` matches the pattern. */
  test(input: string): boolean;
}

export type CompileResult = { ok: true; pattern: AnchoredPattern } | { ok: false; error: string };

/** Compiles `p` with RE2 semantics and anchors it as `^(?:p)$`. */
export function compileAnchored(p: string): CompileResult {
  try {
    RE2JS.compile(p);
    const re = RE2JS.compile(`^(?:${p})$`);
    return { ok: true, pattern: { source: p, test: (input: string) => re.test(input) } };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: message };
  }
}

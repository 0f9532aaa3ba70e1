/**
 * @module trust/pattern
 * Policy and allowlist patterns: Go RE2 syntax, linear-time matching (re2js), always matched against the
 * whole input. The pattern is compiled alone, so that `)|(`-style inputs cannot escape a group, and
 * matched with the engine's full-match operation, which is what `^(?:p)$` means (GHSA-mwqh-2vg8-rhj3:
 * `^a|b$` would leave `a|b` half-anchored) with one compile instead of two.
 *
 * RE2 is linear in the input but times the size of the compiled program, which a policy author
 * controls: before anything is compiled, a pattern's length and its repetition expansion are bounded
 * (docs/policy-reference.md, "Patterns"; the bounds live in platform/limits.ts).
 */

import { RE2JS } from "re2js";
import { MAX_PATTERN_CHARS, MAX_PATTERN_REPETITION_EXPANSION_CHARS } from "../platform/limits";
import { repetitionCost } from "./re2-syntax";

export interface AnchoredPattern {
  /** The pattern as written in the policy (never echoed to a caller). */
  readonly source: string;
  /** Its repetition expansion (see {@link repetitionCost}), summed per policy by the compiler. */
  readonly expansion: number;
  /** True when the whole of `input` matches the pattern. */
  test(input: string): boolean;
}

export type CompileResult = { ok: true; pattern: AnchoredPattern } | { ok: false; error: string };

/** True when `p` has a `\Q` quote that no `\E` ends (outside a quote, `\x` skips one character). */
function unterminatedQuote(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p[i] !== "\\") continue;
    if (p[i + 1] === "Q") {
      const end = p.indexOf("\\E", i + 2);
      if (end < 0) return true;
      i = end + 1;
    } else i++;
  }
  return false;
}

/** Compiles `p` with RE2 semantics, to be matched as a whole, within the pattern bounds. */
export function compileAnchored(p: string): CompileResult {
  if (p.length > MAX_PATTERN_CHARS) {
    return {
      ok: false,
      error: `pattern longer than ${MAX_PATTERN_CHARS} characters (the pattern length bound)`,
    };
  }
  const cost = repetitionCost(p);
  if (!cost.ok) return { ok: false, error: cost.error };
  if (cost.expansion > MAX_PATTERN_REPETITION_EXPANSION_CHARS) {
    return {
      ok: false,
      error: `repetition expansion ${cost.expansion} is over ${MAX_PATTERN_REPETITION_EXPANSION_CHARS} (the repetition bound per pattern)`,
    };
  }
  if (unterminatedQuote(p)) {
    // `^(?:p)$` would not compile (the quote swallows the closing `)$`), so Go refuses it; so do we.
    return { ok: false, error: "error parsing regexp: missing closing ): \\Q without \\E" };
  }
  try {
    const re = RE2JS.compile(p);
    return {
      ok: true,
      pattern: { source: p, expansion: cost.expansion, test: (input: string) => re.testExact(input) },
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: message };
  }
}

/**
 * @module trust/allowlist
 * One issuer-allowlist model, shared by the deployment allowlist (`ALLOWED_ISSUERS`,
 * `ALLOWED_ISSUER_PATTERNS`) and an organization's trusted-issuer file: exact issuers compared byte for
 * byte with the normalised `iss`, and RE2 patterns anchored as a whole (`^(?:p)$` after `p` compiles
 * alone). An issuer is allowed when it is one of the exact issuers or matches any pattern.
 *
 * Pure: no I/O, no clock. Building a list reports every problem with the list and position of the entry,
 * so the configuration loader and the file checker can each word it for their reader.
 */

import { isValidIssuer } from "../oidc/syntax";
import { type AnchoredPattern, compileAnchored } from "./pattern";

export interface IssuerAllowlist {
  readonly issuers: readonly string[];
  readonly patterns: readonly AnchoredPattern[];
}

/** True when `issuer` (already normalised) is allowed by `list`. */
export function allowsIssuer(list: IssuerAllowlist, issuer: string): boolean {
  return list.issuers.includes(issuer) || list.patterns.some((p) => p.test(issuer));
}

/** The rules one kind of allowlist is built under. */
export interface AllowlistRules {
  maxIssuers: number;
  maxPatterns: number;
  maxPatternLength: number;
  /** Extra rule for an exact issuer (e.g. a lowercase scheme and host); a message when it fails. */
  issuerProblem?: (issuer: string) => string | undefined;
  /** Extra rule for a pattern that compiled (e.g. it must not span a host boundary). */
  patternProblem?: (pattern: string) => string | undefined;
}

export interface AllowlistProblem {
  list: "issuers" | "patterns";
  /** Zero-based position in its list; undefined for a problem with the list as a whole. */
  index?: number;
  message: string;
}

type AllowlistResult = { ok: true; allowlist: IssuerAllowlist } | { ok: false; problems: AllowlistProblem[] };

/** Builds an allowlist from its entries as written; every problem is reported, in list order. */
export function buildAllowlist(
  issuers: readonly string[],
  patterns: readonly string[],
  rules: AllowlistRules,
): AllowlistResult {
  const problems: AllowlistProblem[] = [];
  if (issuers.length > rules.maxIssuers) {
    problems.push({ list: "issuers", message: `more than ${rules.maxIssuers} issuers` });
  }
  if (patterns.length > rules.maxPatterns) {
    problems.push({ list: "patterns", message: `more than ${rules.maxPatterns} patterns` });
  }
  for (const [index, issuer] of issuers.entries()) {
    if (!isValidIssuer(issuer)) {
      problems.push({ list: "issuers", index, message: "not a valid issuer URL" });
      continue;
    }
    const extra = rules.issuerProblem?.(issuer);
    if (extra !== undefined) problems.push({ list: "issuers", index, message: extra });
  }
  const compiled: AnchoredPattern[] = [];
  for (const [index, source] of patterns.entries()) {
    if (source.length > rules.maxPatternLength) {
      problems.push({ list: "patterns", index, message: `longer than ${rules.maxPatternLength} characters` });
      continue;
    }
    const result = compileAnchored(source);
    if (!result.ok) {
      problems.push({ list: "patterns", index, message: result.error });
      continue;
    }
    const extra = rules.patternProblem?.(source);
    if (extra !== undefined) {
      problems.push({ list: "patterns", index, message: extra });
      continue;
    }
    compiled.push(result.pattern);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, allowlist: { issuers: [...issuers], patterns: compiled } };
}

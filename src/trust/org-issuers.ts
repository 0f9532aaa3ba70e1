/**
 * @module trust/org-issuers
 * An organization's trusted-issuer file, `.github/chainguard/trusted-token-issuers.yaml` in its org
 * policy repository (docs/trusted-issuers.md): text in, the organization's issuer allowlist and mode
 * out. Pure: no I/O, no clock; the exchange reads and caches the file, this module only judges it.
 *
 * The file is read with the policy YAML layer (src/trust/yaml.ts: YAML 1.1 scalars as go-yaml v2, the
 * node and alias budgets) and its keys are decoded as a policy's are (src/trust/parse.ts): matched
 * case-insensitively, duplicates and unknown keys are errors. The entries then go through the one
 * allowlist model (src/trust/allowlist.ts) with the organization's rules: a lowercase scheme and host
 * for an exact issuer, and no pattern that could let an issuer span a host boundary.
 */

import {
  MAX_ORG_TRUSTED_ISSUER_PATTERN_CHARS,
  MAX_ORG_TRUSTED_ISSUER_PATTERNS,
  MAX_ORG_TRUSTED_ISSUERS,
} from "../platform/limits";
import { type AllowlistRules, buildAllowlist, type IssuerAllowlist } from "./allowlist";
import {
  describe,
  didYouMean,
  duplicateKey,
  foldKey,
  type PolicyProblem,
  problem,
  sortProblems,
} from "./parse";
import { hostBoundaryProblem } from "./re2-syntax";
import { TRUSTED_ISSUER_MODES, TRUSTED_ISSUERS_KEYS, type TrustedIssuerMode } from "./schema";
import { NO_POS, type Pos, parseYaml, type YNode } from "./yaml";

export { TRUSTED_ISSUERS_FILE_NAME, TRUSTED_ISSUERS_PATH } from "./org-issuers-path";
export type { TrustedIssuerMode } from "./schema";

export interface TrustedIssuers {
  /** `enforce` refuses tokens of any other issuer; `audit` only reports what enforce would refuse. */
  mode: TrustedIssuerMode;
  allowlist: IssuerAllowlist;
}

type TrustedIssuersResult =
  | { ok: true; file: TrustedIssuers; warnings: PolicyProblem[] }
  | { ok: false; problems: PolicyProblem[] };

/** The rules of docs/trusted-issuers.md, in the terms of the shared allowlist model. */
const ORG_TRUSTED_ISSUER_RULES: AllowlistRules = {
  maxIssuers: MAX_ORG_TRUSTED_ISSUERS,
  maxPatterns: MAX_ORG_TRUSTED_ISSUER_PATTERNS,
  maxPatternLength: MAX_ORG_TRUSTED_ISSUER_PATTERN_CHARS,
  issuerProblem: lowercaseProblem,
  patternProblem: (pattern) => {
    const why = hostBoundaryProblem(pattern);
    return why === undefined ? undefined : `could let an issuer span a host boundary: ${why}`;
  },
};

const EMPTY = "the trusted-issuer file must list at least one entry in issuers or issuer_patterns";

/** Characters that make an exact issuer look like it was meant as a pattern (as parse.ts warns). */
const REGEX_LOOKING = /[*^$()[\]{}\\?|+]/;

/**
 * Exact issuers are compared byte for byte with the token's `iss`, and an issuer always writes its
 * scheme and host in lowercase: `https://Accounts.Google.com` could never match, so it is refused.
 * Called only on an entry that passed `isValidIssuer`, so it reads `scheme://authority[/path]`.
 */
function lowercaseProblem(issuer: string): string | undefined {
  const sep = issuer.indexOf("://");
  const slash = issuer.indexOf("/", sep + 3);
  const schemeAndHost = slash < 0 ? issuer : issuer.slice(0, slash);
  return /[A-Z]/.test(schemeAndHost)
    ? `the scheme and host must be lowercase (${schemeAndHost.toLowerCase()}): issuers are compared byte for byte with the token's iss`
    : undefined;
}

interface ListEntries {
  /** Every entry as written; an entry already reported (not a string) is "" here. */
  values: string[];
  positions: Pos[];
  /** Indexes of the entries already reported. */
  reported: Set<number>;
  keyPos: Pos;
}

/** Parses and validates a trusted-issuer file. No I/O; never throws; problems sorted by position. */
export function parseTrustedIssuers(text: string): TrustedIssuersResult {
  const yaml = parseYaml(text);
  if (!yaml.ok) return { ok: false, problems: yaml.problems.map((p) => problem(p.message, p.pos)) };
  const root = yaml.root;
  if (root === null || (root.kind === "scalar" && root.scalar === "null")) {
    return { ok: false, problems: [problem(EMPTY, NO_POS)] };
  }
  if (root.kind !== "map") {
    return {
      ok: false,
      problems: [
        problem(
          `the trusted-issuer file must be a mapping of keys to values, not ${describe(root)}`,
          root.pos,
        ),
      ],
    };
  }

  const problems: PolicyProblem[] = [];
  const warnings: PolicyProblem[] = [];
  const byFold = new Map(TRUSTED_ISSUERS_KEYS.map((k) => [foldKey(k), k]));
  const seen = new Map<string, Pos>();
  let mode: TrustedIssuerMode = TRUSTED_ISSUER_MODES[0];
  let issuers: ListEntries | undefined;
  let patterns: ListEntries | undefined;

  for (const entry of root.entries) {
    const canonical = byFold.get(foldKey(entry.key));
    if (canonical === undefined) {
      const guess = didYouMean(entry.key, TRUSTED_ISSUERS_KEYS);
      problems.push(
        problem(
          `unknown key "${entry.key}" in the trusted-issuer file${guess ? `: did you mean "${guess}"?` : ` (valid keys: ${TRUSTED_ISSUERS_KEYS.join(", ")})`}`,
          entry.keyPos,
          entry.key,
        ),
      );
      continue;
    }
    const first = seen.get(canonical);
    if (first) {
      problems.push(duplicateKey(entry.key, canonical, first, entry.keyPos));
      continue;
    }
    seen.set(canonical, entry.keyPos);
    const value = entry.value;
    // A null value leaves the field unset, as for a policy (src/trust/parse.ts).
    if (value.kind === "scalar" && value.scalar === "null") continue;
    if (canonical === "mode") {
      const written = value.kind === "scalar" && value.scalar === "string" ? value.text : undefined;
      const known = TRUSTED_ISSUER_MODES.find((m) => m === written);
      if (known === undefined) {
        problems.push(problem(`mode must be enforce or audit, not ${describe(value)}`, value.pos, "mode"));
      } else mode = known;
    } else {
      const list = readList(canonical, value, entry.keyPos, problems);
      if (canonical === "issuers") issuers = list;
      else patterns = list;
    }
  }
  // The list rules run even after a problem above, so one pass reports every mistake in the file.
  const issuerValues = issuers?.values ?? [];
  const patternValues = patterns?.values ?? [];
  // Only when nothing else is wrong: a misspelt or malformed list is its own problem.
  if (problems.length === 0 && issuerValues.length + patternValues.length === 0) {
    problems.push(problem(EMPTY, issuers?.keyPos ?? patterns?.keyPos ?? NO_POS));
  }

  const built = buildAllowlist(issuerValues, patternValues, ORG_TRUSTED_ISSUER_RULES);
  if (!built.ok) {
    for (const p of built.problems) {
      const list = p.list === "issuers" ? issuers : patterns;
      if (p.index !== undefined && list?.reported.has(p.index)) continue;
      const name = p.list === "issuers" ? "issuers" : "issuer_patterns";
      const max = p.list === "issuers" ? MAX_ORG_TRUSTED_ISSUERS : MAX_ORG_TRUSTED_ISSUER_PATTERNS;
      // A list that is too long is reported at its first entry over the limit.
      const index = p.index ?? max;
      const field = `${name}[${index}]`;
      const pos = list?.positions[index] ?? list?.keyPos ?? NO_POS;
      problems.push(
        p.index === undefined
          ? problem(`${name}: ${p.message} (at most ${max})`, pos, name)
          : problem(`${field}: ${p.message}`, pos, field),
      );
    }
  }
  if (problems.length > 0 || !built.ok) return { ok: false, problems: sortProblems(problems) };

  if (issuers !== undefined) warnIssuers(issuers, warnings);
  return { ok: true, file: { mode, allowlist: built.allowlist }, warnings: sortProblems(warnings) };
}

/** `issuers` or `issuer_patterns`: a list of strings, each with its position. */
function readList(name: string, node: YNode, keyPos: Pos, problems: PolicyProblem[]): ListEntries {
  const out: ListEntries = { values: [], positions: [], reported: new Set(), keyPos };
  const noun = name === "issuers" ? "issuer URLs" : "RE2 patterns";
  if (node.kind !== "seq") {
    problems.push(problem(`${name} must be a list of ${noun}, not ${describe(node)}`, node.pos, name));
    return out;
  }
  for (const [i, item] of node.items.entries()) {
    const field = `${name}[${i}]`;
    if (item.kind !== "scalar" || item.scalar === "null") {
      problems.push(
        problem(
          `${field} must be ${name === "issuers" ? "an issuer URL" : "a pattern"}, not ${describe(item)}`,
          item.pos,
          field,
        ),
      );
      out.reported.add(i);
    }
    out.values.push(item.kind === "scalar" ? item.text : "");
    out.positions.push(item.pos);
  }
  return out;
}

/** Legal but almost always a mistake: an exact issuer that looks like a pattern, or one listed twice. */
function warnIssuers(issuers: ListEntries, warnings: PolicyProblem[]): void {
  const firstAt = new Map<string, number>();
  for (const [i, value] of issuers.values.entries()) {
    const field = `issuers[${i}]`;
    const pos = issuers.positions[i] ?? issuers.keyPos;
    if (issuers.reported.has(i)) continue;
    const first = firstAt.get(value);
    if (first !== undefined) {
      warnings.push(problem(`${field} repeats issuers[${first}]`, pos, field));
      continue;
    }
    firstAt.set(value, i);
    if (REGEX_LOOKING.test(value)) {
      warnings.push(
        problem(
          `${field} is compared exactly, but ${JSON.stringify(value)} looks like a pattern: use issuer_patterns for a regular expression`,
          pos,
          field,
        ),
      );
    }
  }
}

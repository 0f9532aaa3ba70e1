/**
 * @module policy/parse
 * Policy text → the canonical policy object, with the position of every field (docs/policy-reference.md,
 * "Fields" and "YAML rules"). This is where octo-sts's decoding rules live: keys match case-insensitively the
 * way Go's `encoding/json` folds them and come out canonical, `subject` next to `Subject` is a duplicate,
 * unknown keys are errors with a did-you-mean, `repositories` belongs to org policies only. zod then checks
 * the canonical object (types, permission values) against the strict schema.
 */

import { isValidAudience, isValidIssuer, isValidSubject } from "../oidc/syntax";
import { MAX_HINT_KEY_CHARS } from "../platform/limits";
import { type PolicyProblem, problem } from "./problem";
import {
  type CanonicalPolicy,
  ORG_KEYS,
  OrgPolicySchema,
  PERMISSION_KEYS,
  PERMISSION_LEVELS,
  REPO_KEYS,
  RepoPolicySchema,
} from "./schema";
import { NO_POS, type Pos, parseYaml, type YNode } from "./yaml";

export { type PolicyProblem, problem, sortProblems } from "./problem";

export type PolicyKind = "repo" | "org";

export interface ParsedPolicy {
  kind: PolicyKind;
  policy: CanonicalPolicy;
  /** Where each field's value (and key) was written, by field name as in {@link PolicyProblem.field}. */
  positions: Map<string, { key: Pos; value: Pos }>;
  warnings: PolicyProblem[];
}

export type ParseResult = { ok: true; parsed: ParsedPolicy } | { ok: false; problems: PolicyProblem[] };

/**
 * Go `encoding/json` key folding for the ASCII names of our fields: ASCII case, plus the two
 * non-ASCII runes whose simple case folding reaches an ASCII letter (ſ → s, Kelvin sign → k).
 */
export function foldKey(key: string): string {
  return key.toLowerCase().replaceAll("ſ", "s").replaceAll("\u212a", "k");
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The nearest valid key: same after folding `-`/space to `_`, or within a small edit distance. */
export function didYouMean(key: string, candidates: readonly string[]): string | undefined {
  // The edit distance costs the product of the lengths: a long key is no typo of a short one.
  if (key.length > MAX_HINT_KEY_CHARS) return undefined;
  const norm = foldKey(key).replace(/[-\s.]/g, "_");
  const exact = candidates.find((c) => c === norm);
  if (exact) return exact;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = levenshtein(norm, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(norm.length / 3)) ? best : undefined;
}

/** Characters that make an exact `issuer`/`subject`/`audience` look like it was meant as a pattern. */
const REGEX_LOOKING = /[*^$()[\]{}\\?]|\.\+/;

const KIND_NAME: Record<PolicyKind, string> = { repo: "repository", org: "organization" };

/** How a node reads in a message: "a mapping", "a list", "empty", "the bool false", "the string x". */
export function describe(node: YNode): string {
  if (node.kind === "map") return "a mapping";
  if (node.kind === "seq") return "a list";
  return node.scalar === "null"
    ? "empty"
    : `the ${node.scalar === "string" ? "string" : node.scalar} ${node.text}`;
}

/** A key set twice in one mapping (`subject` and `Subject` count as the same key). */
export function duplicateKey(key: string, canonical: string, first: Pos, at: Pos): PolicyProblem {
  return problem(
    `duplicate key "${key}": ${canonical} is already set at line ${first.line} (keys match case-insensitively)`,
    at,
    canonical,
  );
}

/** Parses and validates a policy file. No I/O; never throws on any input. */
export function parsePolicy(text: string, kind: PolicyKind): ParseResult {
  const yaml = parseYaml(text);
  if (!yaml.ok) return { ok: false, problems: yaml.problems.map((p) => problem(p.message, p.pos)) };
  const root = yaml.root;
  if (root === null || (root.kind === "scalar" && root.scalar === "null")) {
    return { ok: false, problems: [problem("policy is empty", NO_POS)] };
  }
  if (root.kind !== "map") {
    return {
      ok: false,
      problems: [
        problem(`a trust policy must be a mapping of keys to values, not ${describe(root)}`, root.pos),
      ],
    };
  }

  const problems: PolicyProblem[] = [];
  const warnings: PolicyProblem[] = [];
  const positions = new Map<string, { key: Pos; value: Pos }>();
  const out: Record<string, unknown> = {};
  const allowed = kind === "org" ? ORG_KEYS : REPO_KEYS;
  const byFold = new Map(allowed.map((k) => [foldKey(k), k]));
  const seen = new Map<string, Pos>();

  for (const entry of root.entries) {
    const canonical = byFold.get(foldKey(entry.key));
    if (canonical === undefined) {
      problems.push(unknownTopLevel(entry.key, entry.keyPos, kind, allowed));
      continue;
    }
    const first = seen.get(canonical);
    if (first) {
      problems.push(duplicateKey(entry.key, canonical, first, entry.keyPos));
      continue;
    }
    seen.set(canonical, entry.keyPos);
    positions.set(canonical, { key: entry.keyPos, value: entry.value.pos });
    const value = entry.value;
    // A null value leaves the field unset, as in Go (docs/policy-reference.md, "YAML rules").
    if (value.kind === "scalar" && value.scalar === "null") continue;

    if (canonical === "permissions") {
      out.permissions = readPermissions(value, problems, positions);
    } else if (canonical === "claim_pattern") {
      out.claim_pattern = readClaimPatterns(value, problems, positions, warnings);
    } else if (canonical === "repositories") {
      out.repositories = readRepositories(value, problems, positions);
    } else if (value.kind !== "scalar") {
      problems.push(problem(`${canonical} must be a string, not ${describe(value)}`, value.pos, canonical));
    } else {
      out[canonical] = value.text;
    }
  }
  // The schema runs even after a problem above, so one pass reports every mistake in the file.
  const schema = kind === "org" ? OrgPolicySchema : RepoPolicySchema;
  const checked = schema.safeParse(out);
  if (!checked.success) {
    for (const issue of checked.error.issues) problems.push(zodProblem(issue, out, positions));
  }
  if (problems.length > 0 || !checked.success) return { ok: false, problems };
  const policy = checked.data as CanonicalPolicy;
  // Keep our own claim map: it has own properties only, so a claim named "__proto__" stays a claim.
  if (out.claim_pattern !== undefined) policy.claim_pattern = out.claim_pattern as Record<string, string>;
  // zod emits keys in schema order; the grant keeps the order written (the values were just checked).
  if (out.permissions !== undefined) policy.permissions = out.permissions as CanonicalPolicy["permissions"];
  warnExactLookingLikePatterns(policy, positions, warnings);
  return { ok: true, parsed: { kind, policy, positions, warnings } };
}

function unknownTopLevel(key: string, pos: Pos, kind: PolicyKind, allowed: readonly string[]): PolicyProblem {
  if (kind === "repo" && foldKey(key) === "repositories") {
    return problem(
      "repositories is only allowed in an organization policy (a file in the organization's policy repository, .github by default); a repository policy always covers just its own repository",
      pos,
      "repositories",
    );
  }
  let message = `unknown key "${key}" in a ${KIND_NAME[kind]} policy`;
  const permission = didYouMean(key, PERMISSION_KEYS);
  const guess = didYouMean(key, allowed);
  if (permission !== undefined && permission === foldKey(key).replace(/[-\s.]/g, "_")) {
    message += `: permissions go under "permissions:" (permissions:\n  ${permission}: …)`;
  } else if (guess) message += `: did you mean "${guess}"?`;
  else message += ` (valid keys: ${allowed.join(", ")})`;
  return problem(message, pos, key);
}

function readPermissions(
  node: YNode,
  problems: PolicyProblem[],
  positions: ParsedPolicy["positions"],
): Record<string, string | null> | undefined {
  if (node.kind !== "map") {
    problems.push(
      problem(
        `permissions must be a mapping such as "contents: read", not ${describe(node)}`,
        node.pos,
        "permissions",
      ),
    );
    return undefined;
  }
  const byFold = new Map(PERMISSION_KEYS.map((k) => [foldKey(k), k as string]));
  const out: Record<string, string | null> = {};
  const seen = new Map<string, Pos>();
  for (const entry of node.entries) {
    const canonical = byFold.get(foldKey(entry.key));
    if (canonical === undefined) {
      const guess = didYouMean(entry.key, PERMISSION_KEYS);
      problems.push(
        problem(
          `unknown permission "${entry.key}"${guess ? `: did you mean "${guess}"?` : " (see the list of GitHub App permissions)"}`,
          entry.keyPos,
          `permissions.${entry.key}`,
        ),
      );
      continue;
    }
    const field = `permissions.${canonical}`;
    const first = seen.get(canonical);
    if (first) {
      problems.push(
        problem(
          `duplicate permission "${entry.key}": ${canonical} is already set at line ${first.line}`,
          entry.keyPos,
          field,
        ),
      );
      continue;
    }
    seen.set(canonical, entry.keyPos);
    positions.set(field, { key: entry.keyPos, value: entry.value.pos });
    const v = entry.value;
    if (v.kind !== "scalar") {
      problems.push(problem(`${field} must be read, write or admin, not ${describe(v)}`, v.pos, field));
      continue;
    }
    // null is kept so that the schema refuses it: an empty level is never "nothing"
    // (docs/policy-reference.md, "Permissions").
    out[canonical] = v.scalar === "null" ? null : v.text;
  }
  return out;
}

function readClaimPatterns(
  node: YNode,
  problems: PolicyProblem[],
  positions: ParsedPolicy["positions"],
  warnings: PolicyProblem[],
): Record<string, string> | undefined {
  if (node.kind !== "map") {
    problems.push(
      problem(
        `claim_pattern must be a mapping of claim names to patterns, not ${describe(node)}`,
        node.pos,
        "claim_pattern",
      ),
    );
    return undefined;
  }
  // Claim names are kept exactly as written: `email` and `Email` are different claims.
  const out: Record<string, string> = Object.create(null);
  const seen = new Map<string, Pos>();
  for (const entry of node.entries) {
    const field = `claim_pattern[${JSON.stringify(entry.key)}]`;
    const first = seen.get(entry.key);
    if (first) {
      problems.push(
        problem(`duplicate claim "${entry.key}", already set at line ${first.line}`, entry.keyPos, field),
      );
      continue;
    }
    seen.set(entry.key, entry.keyPos);
    positions.set(field, { key: entry.keyPos, value: entry.value.pos });
    if (entry.keyScalar === "bool" || entry.keyScalar === "null" || entry.keyScalar === "float") {
      warnings.push(
        problem(
          `claim name read as ${JSON.stringify(entry.key)} (YAML 1.1 makes this key a ${entry.keyScalar}): quote it if you meant a claim of that spelling`,
          entry.keyPos,
          field,
        ),
      );
    }
    const v = entry.value;
    if (v.kind !== "scalar") {
      problems.push(problem(`${field} must be a pattern string, not ${describe(v)}`, v.pos, field));
      continue;
    }
    out[entry.key] = v.text;
  }
  return { ...out };
}

function readRepositories(
  node: YNode,
  problems: PolicyProblem[],
  positions: ParsedPolicy["positions"],
): string[] | undefined {
  if (node.kind !== "seq") {
    problems.push(
      problem(
        `repositories must be a list of repository names, not ${describe(node)}`,
        node.pos,
        "repositories",
      ),
    );
    return undefined;
  }
  return node.items.map((item, i) => {
    const field = `repositories[${i}]`;
    positions.set(field, { key: item.pos, value: item.pos });
    if (item.kind !== "scalar") {
      problems.push(problem(`${field} must be a repository name, not ${describe(item)}`, item.pos, field));
      return "";
    }
    return item.text;
  });
}

/** Turns a zod issue into a positioned problem with a message written for policy authors. */
function zodProblem(
  issue: { path: PropertyKey[]; message: string; code: string },
  out: Record<string, unknown>,
  positions: ParsedPolicy["positions"],
): PolicyProblem {
  const [top, sub] = issue.path;
  let field = String(top ?? "");
  if (top === "permissions" && sub !== undefined) field = `permissions.${String(sub)}`;
  else if (top === "claim_pattern" && sub !== undefined)
    field = `claim_pattern[${JSON.stringify(String(sub))}]`;
  else if (top === "repositories" && sub !== undefined) field = `repositories[${String(sub)}]`;
  const pos = positions.get(field)?.value ?? positions.get(String(top))?.value ?? NO_POS;
  let message = `${field || "policy"}: ${issue.message}`;
  if (top === "permissions" && sub !== undefined) {
    const given = (out.permissions as Record<string, unknown> | undefined)?.[String(sub)];
    message = `${field} must be ${PERMISSION_LEVELS.join(", ").replace(/, (?=[^,]*$)/, " or ")}, not ${given === null || given === undefined ? "empty" : JSON.stringify(given)}`;
  } else if (top === "repositories" && sub === undefined && issue.code === "too_small") {
    message =
      "repositories: [] is not allowed: remove the key to cover every repository, or list the repositories";
  } else if (top === "repositories" && sub !== undefined) {
    message = `${field} must be a non-empty repository name`;
  }
  return problem(message, pos, field || undefined);
}

/**
 * Exact fields are compared byte for byte (gotcha 2: `subject: repo:x:ref:refs/*` never matches). A
 * value that looks like a pattern, or that no token could carry, is legal but almost always a
 * mistake: a warning, not an error, so that the file still means what it meant for octo-sts.
 */
function warnExactLookingLikePatterns(
  policy: CanonicalPolicy,
  positions: ParsedPolicy["positions"],
  warnings: PolicyProblem[],
): void {
  const checks = [
    ["issuer", isValidIssuer, "issuer"],
    ["subject", isValidSubject, "subject"],
    ["audience", isValidAudience, "audience"],
  ] as const;
  for (const [field, valid, noun] of checks) {
    const value = policy[field];
    if (value === undefined || value === "") continue;
    const pos = positions.get(field)?.value ?? NO_POS;
    if (REGEX_LOOKING.test(value)) {
      warnings.push(
        problem(
          `${field} is compared exactly, but ${JSON.stringify(value)} looks like a pattern: use ${field}_pattern for a regular expression`,
          pos,
          field,
        ),
      );
    } else if (!valid(value)) {
      warnings.push(
        problem(
          `${field} ${JSON.stringify(value)} can never match: the service refuses tokens whose ${noun} looks like this`,
          pos,
          field,
        ),
      );
    }
  }
  for (const field of ["issuer_pattern", "subject_pattern", "audience_pattern"] as const) {
    const value = policy[field];
    if (value?.includes("/*")) {
      warnings.push(
        problem(
          `${field}: "/*" in a regular expression means "any number of slashes", not "anything": did you mean "/.*"?`,
          positions.get(field)?.value ?? NO_POS,
          field,
        ),
      );
    }
  }
}

/**
 * @module trust/normal-form
 * A validated policy's normal form, kept next to its text in KV so that a new isolate compiles a
 * policy without reading YAML or running the schema (docs/performance.md, "Policy normal form").
 *
 * The form is produced only by the validating parser (trust/load.ts), from a policy that parsed and
 * compiled; it is used only when its key names this code's {@link POLICY_FORM_VERSION}, the policy kind
 * asked for and the SHA-256 of the very text it sits beside. Anything else — a form of older code,
 * of another kind, of another text, or of a shape this code does not write — is ignored and the text
 * is parsed in full. A form that is used still goes through the compiler, so every compile rule (one
 * of issuer/issuer_pattern, the pattern bounds, RE2 syntax, a non-empty permission set) is checked
 * again; only what the schema and the YAML reader decide is taken from the form.
 */

import { type CompiledPolicy, compilePolicy } from "./compile";
import type { ParsedPolicy, PolicyKind } from "./parse";
import { PERMISSION_KEYS, PERMISSION_LEVELS } from "./permissions";
import type { PolicyProblem } from "./problem";
import type { CanonicalPolicy } from "./schema";

/** Bumped whenever the normal form, or what the parser decides before it, changes. */
export const POLICY_FORM_VERSION = 1;

/** What is stored beside a policy's text. */
export interface PolicyForm {
  /** `v<version>:<kind>:<sha256 of the text>`. */
  key: string;
  policy: StoredPolicy;
  warnings: PolicyProblem[];
}

/** The canonical policy, with its claim patterns as pairs (a claim may be named `__proto__`). */
type StoredPolicy = Omit<CanonicalPolicy, "claim_pattern"> & { claim_pattern?: [string, string][] };

const STRING_FIELDS = [
  "issuer",
  "issuer_pattern",
  "subject",
  "subject_pattern",
  "audience",
  "audience_pattern",
  "app",
  "app_pattern",
] as const;
const FIELDS = new Set<string>([...STRING_FIELDS, "claim_pattern", "permissions", "repositories"]);
const PERMISSIONS = new Set<string>(PERMISSION_KEYS);
const LEVELS = new Set<string>(PERMISSION_LEVELS);

export function formKey(kind: PolicyKind, textSha256: string): string {
  return `v${POLICY_FORM_VERSION}:${kind}:${textSha256}`;
}

/** The form of a policy the validating parser accepted (and the compiler compiled). */
export function formOf(parsed: ParsedPolicy, textSha256: string): PolicyForm {
  const { claim_pattern, ...rest } = parsed.policy;
  const policy: StoredPolicy = { ...rest };
  if (claim_pattern !== undefined) policy.claim_pattern = Object.entries(claim_pattern);
  return { key: formKey(parsed.kind, textSha256), policy, warnings: parsed.warnings };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";

/** The canonical policy of `form` if it is one this code wrote for `kind` and this text, else undefined. */
function readForm(form: unknown, kind: PolicyKind, textSha256: string): ParsedPolicy | undefined {
  if (!isObject(form) || form.key !== formKey(kind, textSha256)) return undefined;
  const p = form.policy;
  if (!isObject(p) || !Array.isArray(form.warnings)) return undefined;
  if (Object.keys(p).some((k) => !FIELDS.has(k))) return undefined;
  if (STRING_FIELDS.some((f) => p[f] !== undefined && !isString(p[f]))) return undefined;
  const policy: CanonicalPolicy = {};
  for (const f of STRING_FIELDS) if (p[f] !== undefined) policy[f] = p[f] as string;
  if (p.claim_pattern !== undefined) {
    const pairs = p.claim_pattern;
    if (!Array.isArray(pairs)) return undefined;
    const claims: Record<string, string> = Object.create(null);
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2 || !isString(pair[0]) || !isString(pair[1]))
        return undefined;
      claims[pair[0]] = pair[1];
    }
    policy.claim_pattern = { ...claims };
  }
  if (p.permissions !== undefined) {
    const perms = p.permissions;
    if (!isObject(perms)) return undefined;
    for (const [k, v] of Object.entries(perms))
      if (!PERMISSIONS.has(k) || !isString(v) || !LEVELS.has(v)) return undefined;
    policy.permissions = perms as CanonicalPolicy["permissions"];
  }
  if (p.repositories !== undefined) {
    const repos = p.repositories;
    if (kind !== "org" || !Array.isArray(repos) || repos.length === 0) return undefined;
    if (!repos.every((r) => isString(r) && r !== "")) return undefined;
    policy.repositories = repos as string[];
  }
  return { kind, policy, positions: new Map(), warnings: form.warnings as PolicyProblem[] };
}

/**
 * Compiles the policy from `form` when the form may be used (see the module comment); undefined means
 * "parse the text": a form that is not this code's, or a policy the compiler now refuses (the full
 * parse then says where).
 */
export function compileForm(
  form: unknown,
  kind: PolicyKind,
  textSha256: string,
): { policy: CompiledPolicy; warnings: PolicyProblem[] } | undefined {
  const parsed = readForm(form, kind, textSha256);
  if (parsed === undefined) return undefined;
  const compiled = compilePolicy(parsed);
  return compiled.ok ? { policy: compiled.policy, warnings: parsed.warnings } : undefined;
}

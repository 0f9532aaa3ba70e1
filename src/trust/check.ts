/**
 * @module policy/check
 * A verified token's claims against a compiled policy (docs/policy-reference.md, "How a token is matched";
 * docs/security.md, "Refusals hide policy values"). One evaluator serves both callers: the exchange
 * (`checkToken`, first failure wins, audit detail that never copies the policy) and the command-line
 * `explain` (every check, with the values, since the user runs it on their own policy).
 */

import { type FailureArgs, fail, ok, type Reason, type Result } from "../errors/catalogue";
import { isValidAudience, isValidIssuer, isValidSubject } from "../oidc/syntax";
import type { CompiledPolicy, Matcher } from "./compile";
import type { PermissionLevel } from "./schema";

interface Grant {
  /** Canonical keys, in the order written. */
  permissions: Record<string, PermissionLevel>;
  /** Org policies only, as written; absent when the policy has no `repositories`. */
  repositories?: string[];
  /**
   * The claims the policy looked at, for the audit line: `iss`, `sub`, the `aud` entry that satisfied
   * the audience check, and every `claim_pattern` claim.
   */
  matched: { name: string; value: string }[];
}

interface ExplainStep {
  /** `token syntax`, `issuer`, `subject`, `audience` or `claim <name>`. */
  check: string;
  pass: boolean;
  /** Why, in words, with the token's and the policy's values. */
  why: string;
}

export interface ExplainReport {
  steps: ExplainStep[];
  /** Exactly what {@link checkToken} answers for the same input. */
  result: Result<Grant>;
}

const q = JSON.stringify;

function audiences(aud: unknown): unknown[] | null {
  if (aud === undefined) return [];
  if (typeof aud === "string") return [aud];
  return Array.isArray(aud) ? aud : null;
}

/**
 * The token's own `iss`, `sub` and every `aud` entry must pass the syntax rules of src/oidc/syntax.ts
 * (docs/differences-from-octo-sts.md, "Token claim syntax before GitHub calls"), else `INVALID_TOKEN_CLAIMS`
 * naming which. A missing `aud` is no entry to check (the audience match refuses it later), as in go-oidc.
 */
export function checkTokenSyntax(claims: Record<string, unknown>): Result<void> {
  const iss = claims.iss;
  if (typeof iss !== "string" || !isValidIssuer(iss)) {
    return fail("INVALID_TOKEN_CLAIMS", { claim: "issuer" }, "token iss fails the issuer syntax rules");
  }
  const sub = claims.sub;
  if (typeof sub !== "string" || !isValidSubject(sub)) {
    return fail("INVALID_TOKEN_CLAIMS", { claim: "subject" }, "token sub fails the subject syntax rules");
  }
  const aud = audiences(claims.aud);
  if (aud === null || !aud.every((a) => typeof a === "string" && isValidAudience(a))) {
    return fail("INVALID_TOKEN_CLAIMS", { claim: "audience" }, "token aud fails the audience syntax rules");
  }
  return ok(undefined);
}

/**
 * How a claim reads as a string (docs/policy-reference.md, "Fields": `claim_pattern`), or what it is instead.
 */
function claimText(claims: Record<string, unknown>, name: string): { value: string } | { not: string } {
  if (!Object.hasOwn(claims, name)) return { not: "missing from the token" };
  const v = claims[name];
  if (typeof v === "string") return { value: v };
  if (typeof v === "boolean") return { value: v ? "true" : "false" };
  const type =
    v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "number" ? "a number" : "an object";
  return { not: `${type}, not a string` };
}

/** A pattern as written (JSON quoting would double every backslash of a regular expression). */
function showPattern(source: string): string {
  return `/${source}/`;
}

function describeMatcher(m: Matcher): string {
  return m.kind === "exact" ? `${m.field} ${q(m.value)}` : `${m.field} ${showPattern(m.pattern.source)}`;
}

function matches(m: Matcher, value: string): boolean {
  return m.kind === "exact" ? m.value === value : m.pattern.test(value);
}

interface Failed {
  reason: Reason;
  args: FailureArgs;
  detail: string;
}

function evaluate(
  policy: CompiledPolicy,
  claims: Record<string, unknown>,
  domain: string,
  all: boolean,
): ExplainReport {
  const steps: ExplainStep[] = [];
  const matched: Grant["matched"] = [];
  let first: Failed | null = null;
  const step = (check: string, pass: boolean, why: string, failure: Failed) => {
    steps.push({ check, pass, why });
    if (!pass && first === null) first = failure;
  };

  const syntax = checkTokenSyntax(claims);
  if (syntax.ok) step("token syntax", true, "iss, sub and every aud entry are well-formed", NEVER);
  else {
    const { reason, args, detail } = syntax.failure;
    step("token syntax", false, `the token's ${args.claim} fails the syntax rules`, {
      reason,
      args,
      detail: detail ?? "",
    });
    if (!all) return { steps, result: failed(first) };
  }

  for (const [check, claim, m, reason] of [
    ["issuer", "iss", policy.issuer, "ISSUER_MISMATCH"],
    ["subject", "sub", policy.subject, "SUBJECT_MISMATCH"],
  ] as const) {
    const raw = claims[claim];
    const value = typeof raw === "string" ? raw : undefined;
    const pass = value !== undefined && matches(m, value);
    const verb = m.kind === "exact" ? ["equals", "does not equal"] : ["matches", "does not match"];
    const shown = value === undefined ? "is not a string and" : `${q(value)}`;
    step(check, pass, `${claim} ${shown} ${pass ? verb[0] : verb[1]} ${describeMatcher(m)}`, {
      reason,
      args: {},
      detail: `${check}: token ${claim} ${m.kind === "exact" ? `differs from the policy's ${m.field}` : `does not match ${m.field}`}`,
    });
    if (pass) matched.push({ name: claim, value: value as string });
    if (!pass && !all) return { steps, result: failed(first) };
  }

  const aud = (audiences(claims.aud) ?? []).filter((a): a is string => typeof a === "string");
  const m = policy.audience;
  const hit = m === null ? aud.find((a) => a === domain) : aud.find((a) => matches(m, a));
  const rule =
    m === null
      ? domain === ""
        ? "the default audience (STS_DOMAIN, not given; the policy sets no audience)"
        : `the default audience ${q(domain)} (STS_DOMAIN; the policy sets no audience)`
      : describeMatcher(m);
  step(
    "audience",
    hit !== undefined,
    hit !== undefined
      ? `aud entry ${q(hit)} satisfies ${rule}`
      : `no entry of aud ${q(aud)} satisfies ${rule}`,
    {
      reason: "AUDIENCE_MISMATCH",
      args: m === null ? { audienceHint: true } : {},
      detail:
        m === null
          ? "audience: no aud entry equals STS_DOMAIN (the policy relies on the default audience)"
          : `audience: no aud entry ${m.kind === "exact" ? "equals the policy's audience" : "matches audience_pattern"}`,
    },
  );
  if (hit !== undefined) matched.push({ name: "aud", value: hit });
  else if (!all) return { steps, result: failed(first) };

  for (const { name, pattern } of policy.claims) {
    const field = `claim_pattern[${q(name)}]`;
    const read = claimText(claims, name);
    if ("not" in read) {
      step(`claim ${name}`, false, `claim ${q(name)} is ${read.not}; only strings and booleans can match`, {
        reason: "CLAIM_MISMATCH",
        args: { claimName: name },
        detail: `${field}: claim is ${read.not}`,
      });
    } else {
      const pass = pattern.test(read.value);
      step(
        `claim ${name}`,
        pass,
        `${q(read.value)} ${pass ? "matches" : "does not match"} ${field} ${showPattern(pattern.source)}`,
        {
          reason: "CLAIM_MISMATCH",
          args: { claimName: name },
          detail: `${field}: claim value does not match`,
        },
      );
      if (pass) matched.push({ name, value: read.value });
    }
    if (first !== null && !all) return { steps, result: failed(first) };
  }

  if (first !== null) return { steps, result: failed(first) };
  const grant: Grant = { permissions: { ...policy.permissions }, matched };
  if (policy.repositories !== undefined) grant.repositories = [...policy.repositories];
  return { steps, result: ok(grant) };
}

/** Placeholder for passing steps, which never record a failure. */
const NEVER: Failed = { reason: "CLAIM_MISMATCH", args: {}, detail: "" };

function failed(f: Failed | null): Result<Grant> {
  // Only reached after a failing step recorded its failure.
  const { reason, args, detail } = f as Failed;
  return fail(reason, args, detail);
}

/**
 * The checks of docs/policy-reference.md, "How a token is matched", in order: token syntax (defence in depth;
 * the endpoint already ran it), issuer, subject, audience, claims. The first failure wins. The failure's
 * `detail` names the check and the policy field, never a pattern or an expected value (docs/security.md,
 * "Refusals hide policy values").
 */
export function checkToken(
  policy: CompiledPolicy,
  claims: Record<string, unknown>,
  domain: string,
): Result<Grant> {
  return evaluate(policy, claims, domain, false).result;
}

/** Every check in order with pass/fail and why, and the answer {@link checkToken} would give. */
export function explain(
  policy: CompiledPolicy,
  claims: Record<string, unknown>,
  domain: string,
): ExplainReport {
  return evaluate(policy, claims, domain, true);
}

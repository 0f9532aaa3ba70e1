/**
 * @module trust/lint
 * Warnings about a policy that compiles but will likely not do what its author meant, for the webhook's
 * check run (docs/webhook.md, "Lints"). Pure: the caller hands in what it knows of the repository and
 * the installation. The engine's own warnings (an exact value that looks like a pattern, one no token
 * could carry) come from {@link parsePolicy} and are not repeated here.
 *
 * - A GitHub Actions subject that names the repository by name only (`repo:OWNER/REPO:…`) never
 *   matches the immutable `repo:OWNER@ID/REPO@ID:…` form (docs/policy-reference.md, "Examples").
 * - A permission the installation was not granted: the exchange would be refused with
 *   `PERMISSION_NOT_GRANTABLE`.
 */

import { type PolicyKind, type PolicyProblem, parsePolicy, problem, sortProblems } from "./parse";
import { compileAnchored } from "./pattern";
import { NO_POS } from "./yaml";

/** GitHub Actions' OIDC issuer on github.com. */
export const GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com";

export interface LintContext {
  /** The repository holding the policy, as the delivery names it, with the ids GitHub gave. */
  owner: string;
  repo: string;
  ownerId?: number;
  repoId?: number;
  /** What the installation was granted (permission → level); undefined when unknown (no lint). */
  granted?: Readonly<Record<string, string>>;
}

/** A lint: a positioned warning, and which rule gave it. */
export interface Lint extends PolicyProblem {
  rule: "name-only-subject" | "permission-not-granted";
}

const LEVEL: Record<string, number> = { read: 1, write: 2, admin: 3 };

/** A name as it may appear unescaped in a pattern: letters, digits and `-`, `_`, `.` (escaped or not). */
const LITERAL_NAME = /^(?:[A-Za-z0-9_-]|\\\.|\.)+$/;

function issuesActionsTokens(policy: { issuer?: string; issuer_pattern?: string }): boolean {
  if (policy.issuer) return policy.issuer === GITHUB_ACTIONS_ISSUER;
  if (!policy.issuer_pattern) return false;
  const compiled = compileAnchored(policy.issuer_pattern);
  return compiled.ok && compiled.pattern.test(GITHUB_ACTIONS_ISSUER);
}

/** The name-only warning for a subject (or subject pattern) `value`, or undefined. */
function nameOnlySubject(field: "subject" | "subject_pattern", value: string, ctx: LintContext) {
  if (!value.startsWith("repo:") || value.includes("@")) return undefined;
  const end = value.indexOf(":", 5);
  const segment = value.slice(5, end < 0 ? value.length : end);
  const slash = segment.indexOf("/");
  if (slash < 0) return undefined;
  const owner = segment.slice(0, slash);
  const repo = segment.slice(slash + 1);
  const plain = (s: string) => s.replaceAll("\\", "");
  const literal = field === "subject" || (LITERAL_NAME.test(owner) && LITERAL_NAME.test(repo));
  const sameOwner = literal && plain(owner).toLowerCase() === ctx.owner.toLowerCase();
  const sameRepo = sameOwner && plain(repo).toLowerCase() === ctx.repo.toLowerCase();
  const ownerId = sameOwner && ctx.ownerId !== undefined ? String(ctx.ownerId) : "OWNER_ID";
  const repoId = sameRepo && ctx.repoId !== undefined ? String(ctx.repoId) : "REPO_ID";
  const [o, r] = literal ? [owner, repo] : ["OWNER", "REPO"];
  const pinned = `repo:${o}@${ownerId}/${r}@${repoId}:…`;
  const both = `repo:${o}(@${ownerId})?/${r}(@${repoId})?:…`;
  return (
    `${field} pins the repository by name only (repo:${segment}:…): GitHub's immutable subject, ` +
    `repo:OWNER@ID/REPO@ID:…, is its default for new, renamed and transferred repositories since ` +
    `2026-07-15, and this ${field} never matches it; pin the ids (subject: ${pinned}), or accept both ` +
    `forms (subject_pattern: ${both})`
  );
}

/** The lints of one policy text (none when it does not parse: its problems say enough). */
export function lintPolicy(text: string, kind: PolicyKind, ctx: LintContext): Lint[] {
  const parsed = parsePolicy(text, kind);
  if (!parsed.ok) return [];
  const { policy, positions } = parsed.parsed;
  const out: Lint[] = [];
  if (issuesActionsTokens(policy)) {
    for (const field of ["subject", "subject_pattern"] as const) {
      const value = policy[field];
      if (!value) continue;
      const message = nameOnlySubject(field, value, ctx);
      if (message === undefined) continue;
      out.push({
        ...problem(message, positions.get(field)?.value ?? NO_POS, field),
        rule: "name-only-subject",
      });
    }
  }
  if (ctx.granted !== undefined) {
    for (const [name, level] of Object.entries(policy.permissions ?? {})) {
      if (level === undefined || level === null) continue;
      const granted = ctx.granted[name];
      if (granted !== undefined && (LEVEL[granted] ?? 0) >= (LEVEL[level] ?? 0)) continue;
      const has = granted === undefined ? `no ${name} permission` : `${name}: ${granted}`;
      const field = `permissions.${name}`;
      out.push({
        ...problem(
          `the App's installation on ${ctx.owner} was not granted ${name}: ${level} (it has ${has}): an exchange for this policy is refused with PERMISSION_NOT_GRANTABLE until the App asks for it and the installation accepts it`,
          positions.get(field)?.key ?? NO_POS,
          field,
        ),
        rule: "permission-not-granted",
      });
    }
  }
  return sortProblems(out) as Lint[];
}

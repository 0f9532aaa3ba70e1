/**
 * @module exchange/core
 * The exchange itself, whatever door it came through: steps 4–13 of the evaluation order
 * (docs/refusals.md, "Evaluation order"), the first failure wins. A door hands in what it read from its
 * own wire format — the bearer token, the scope and the identity — and renders the typed result; the
 * core knows no HTTP parameter, header or body.
 *
 *   4–5 token (oidc) · 6 the token's own claim syntax (trust) · 6b caller limit (limits) ·
 *   7 scope and identity · 8 remembered 404 · 9 installation · 10 the organization's trusted issuers ·
 *   11 policy read, parse, compile · 12 match · 12b owner limit (limits) · 13 mint.
 *
 * Steps up to 8 make no GitHub call. The door's audit line is filled in as the steps run.
 */

import { type Failure, failure, type Result, withArgs } from "../errors/catalogue";
import {
  findInstallation,
  lookupOrgIssuers,
  lookupPolicy,
  mintInstallationToken,
  type OrgIssuers,
  readPolicy,
  type Waiter,
} from "../github";
import type { PolicyText } from "../github/types";
import { verifyBearer } from "../oidc";
import { Lru, sha256Hex } from "../platform/cache";
import { isolateState } from "../platform/isolate";
import { MEMORY_CACHE_ENTRIES, MEMORY_POLICY_TEXT_BUDGET_CHARS } from "../platform/limits";
import type { Runtime } from "../platform/runtime";
// Only what every exchange needs is imported statically: the YAML reader and the schema (trust/load.ts)
// are loaded when a policy's text must be parsed (docs/performance.md, "Policy normal form").
import { allowsIssuer } from "../trust/allowlist";
import { checkToken, checkTokenSyntax } from "../trust/check";
import type { LoadResult } from "../trust/load";
import { compileForm } from "../trust/normal-form";
import type { PolicyKind } from "../trust/parse";
import type { Audit } from "./audit";
import { checkCallerLimit, checkOwnerLimit } from "./limits";
import { resolveTarget, tokenRepositories } from "./scope";

/** What a door read from its request. */
interface ExchangeRequest {
  /** The OIDC token, without any scheme. */
  token: string;
  /** `owner` or `owner/repo`; "" when the caller gave none. */
  scope: string;
  /** The policy name; "" when the caller gave none. */
  identity: string;
}

/** A minted token, for the door to render. */
export interface ExchangeGrant {
  token: string;
  /** GitHub's `expires_at`, as GitHub wrote it. */
  expiresAt: string;
}

/** Identity-bearing messages need the identity even when a lower stage did not know it. */
function withIdentity(f: Failure, identity: string): Failure {
  return f.args.identity === undefined ? withArgs(f, { identity }) : f;
}

function claimString(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" ? value : undefined;
}

/** Compiled policies of this isolate, per kind, keyed (and so weighed) by their text. */
const compiledPolicies = isolateState(
  () =>
    new Map<PolicyKind, Lru<{ text: string; loaded: LoadResult }>>(
      (["repo", "org"] as const).map((kind) => [
        kind,
        new Lru(
          MEMORY_CACHE_ENTRIES.compiledPolicies,
          MEMORY_POLICY_TEXT_BUDGET_CHARS,
          (entry) => entry.text.length,
        ),
      ]),
    ),
);

/**
 * Parsing and compiling are pure functions of the text, so the result is kept per isolate and reused
 * while the text is unchanged: a warm exchange must not re-parse YAML and recompile RE2 every time. A
 * new isolate compiles from the normal form stored beside the text when that form is this code's for
 * this kind and text (trust/normal-form.ts); else it parses the text.
 */
async function compiled(rt: Runtime, text: PolicyText, kind: PolicyKind): Promise<LoadResult> {
  const memo = compiledPolicies(rt.caches).get(kind) as Lru<{ text: string; loaded: LoadResult }>;
  const entry = memo.get(text.text);
  if (entry !== undefined) return entry.loaded;
  let loaded: LoadResult | undefined;
  if (text.form !== undefined) {
    const fromForm = compileForm(text.form, kind, await sha256Hex(text.text));
    if (fromForm !== undefined) loaded = { ok: true, ...fromForm };
  }
  loaded ??= (await import("../trust/load")).loadPolicy(text.text, kind);
  memo.set(text.text, { text: text.text, loaded });
  return loaded;
}

/** A text just read from GitHub: parsed and compiled once, its normal form returned to be stored. */
async function normalize(rt: Runtime, text: string, kind: PolicyKind): Promise<unknown> {
  const { loadPolicyWithForm } = await import("../trust/load");
  const { loaded, form } = loadPolicyWithForm(text, kind, await sha256Hex(text));
  const memo = compiledPolicies(rt.caches).get(kind) as Lru<{ text: string; loaded: LoadResult }>;
  memo.set(text, { text, loaded });
  return form;
}

/** What step 10 decided, for the audit line: audit mode never refuses, but says what enforce would do. */
interface OrgIssuerVerdict {
  /** `none` when the owner has no trusted-issuer file (every issuer allowed). */
  mode: "enforce" | "audit" | "none";
  allowed: boolean;
  source: string;
}

function judgeOrgIssuer(org: OrgIssuers, issuer: string): OrgIssuerVerdict {
  if (org.state === "absent") return { mode: "none", allowed: true, source: org.source };
  return { mode: org.file.mode, allowed: allowsIssuer(org.file.allowlist, issuer), source: org.source };
}

/** Runs steps 4–13 for `request`; the door turns the result into its own response. */
export async function runExchange(
  rt: Runtime,
  ctx: Waiter,
  request: ExchangeRequest,
  audit: Audit,
): Promise<Result<ExchangeGrant>> {
  const refuse = (f: Failure): Result<ExchangeGrant> => ({ ok: false, failure: f });
  if (!rt.config.ok) return refuse(rt.config.failure);
  const config = rt.config.value;
  const { scope, identity } = request;

  // 4–5. decode, issuer syntax, deployment allowlist, discovery, signature, time claims
  const verified = await verifyBearer(rt.oidc, request.token);
  if (!verified.ok) return refuse(verified.failure);
  const claims = verified.value.claims;
  audit.set("issuer", claimString(claims, "iss") ?? verified.value.issuer);
  const subject = claimString(claims, "sub");
  if (subject !== undefined) audit.set("subject", subject);

  // 6. the token's own iss, sub and every aud must be well-formed, whether or not a policy exists
  const syntax = checkTokenSyntax(claims);
  if (!syntax.ok) return refuse(syntax.failure);

  // 6b. the caller's budget, keyed by the verified iss and sub, before anything is asked of GitHub
  const callerLimit = await checkCallerLimit(
    config.callerLimiter,
    claims.iss as string,
    claims.sub as string,
    audit.record.request_id,
  );
  if (!callerLimit.ok) return refuse(callerLimit.failure);

  // 7. scope and identity
  const target = resolveTarget(scope, identity, config.orgPolicyRepo);
  if (!target.ok) return refuse(target.failure);
  const { owner, policyRepo, kind } = target.value;

  // 8. a remembered 404 for this policy (no GitHub call)
  const cached = await lookupPolicy(rt, owner, policyRepo, identity);
  if (cached.state === "missing") {
    return refuse(failure("POLICY_NOT_FOUND", { identity }, "policy 404 remembered"));
  }

  // 9. installation
  const installation = await findInstallation(rt, owner);
  if (!installation.ok) return refuse(withIdentity(installation.failure, identity));
  audit.set("installation_id", installation.value.id);

  // 10. the organization's own say over which issuers may federate into it (before any policy is read)
  const orgIssuers = await lookupOrgIssuers(rt, ctx, owner, installation.value);
  if (!orgIssuers.ok) return refuse(withIdentity(orgIssuers.failure, identity));
  const verdict = judgeOrgIssuer(orgIssuers.value, verified.value.issuer);
  audit.set("org_issuers", verdict);
  if (verdict.mode === "enforce" && !verdict.allowed) {
    return refuse(
      failure("ORG_ISSUER_NOT_ALLOWED", { owner }, "issuer not in the organization's trusted-issuer file"),
    );
  }

  // 11. policy read, parse, compile (missing, unparsable and uncompilable look alike to the caller)
  const text = await readPolicy(rt, ctx, owner, installation.value, policyRepo, identity, cached, (t) =>
    normalize(rt, t, kind),
  );
  if (!text.ok) return refuse(withIdentity(text.failure, identity));
  audit.set("policy_source", text.value.source);
  const loaded = await compiled(rt, text.value, kind);
  if (!loaded.ok) {
    const first = loaded.problems[0];
    const where = first ? ` at ${first.line}:${first.col}: ${first.message}` : "";
    return refuse(failure("POLICY_NOT_FOUND", { identity }, `policy ${loaded.stage} error${where}`));
  }

  // 12. match
  const grant = checkToken(loaded.policy, claims, config.stsDomain);
  if (!grant.ok) return refuse(grant.failure);
  audit.set("claims", grant.value.matched);

  // 12b. the owner's budget: spent only by callers one of its policies trusts
  const ownerLimit = await checkOwnerLimit(config.ownerLimiter, owner, audit.record.request_id);
  if (!ownerLimit.ok) return refuse(ownerLimit.failure);

  // 13. mint
  const repositories = tokenRepositories(target.value, grant.value.repositories);
  const permissions = grant.value.permissions;
  audit.set("permissions", permissions);
  if (repositories !== undefined) audit.set("repositories", repositories);
  const minted = await mintInstallationToken(
    rt,
    owner,
    installation.value,
    repositories === undefined ? { permissions } : { permissions, repositories },
  );
  if (!minted.ok) return refuse(withIdentity(minted.failure, identity));
  if (minted.value.installationId !== installation.value.id) {
    audit.set("installation_id", minted.value.installationId);
  }

  audit.set("decision", "granted");
  audit.set("token_sha256", await sha256Hex(minted.value.token));
  return { ok: true, value: { token: minted.value.token, expiresAt: minted.value.expiresAt } };
}

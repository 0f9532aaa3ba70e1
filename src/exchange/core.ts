/**
 * @module exchange/handler
 * `GET`/`POST /sts/exchange`: the stages in the order of decisions §2.2, the first failure wins.
 *   1 configuration · 2 parameters · 3 Authorization · 4–5 token (oidc) · 6 token claim syntax (policy) ·
 *   7 scope and identity · 8 remembered 404 · 9 installation · 11 policy read, parse, compile ·
 *   12 match · 13 mint.
 * Steps 1–8 make no GitHub call. Every exchange writes one audit line, granted or refused.
 */

import { readBearer, readParams } from "../endpoints/sts-request";
import { type Failure, failure, type Result, withArgs } from "../errors/catalogue";
import { findInstallation, lookupPolicy, mintInstallationToken, readPolicy } from "../github";
import { verifyBearer } from "../oidc";
import { Lru, sha256Hex } from "../platform/cache";
import { MEMORY_CACHE_ENTRIES, MEMORY_POLICY_TEXT_BUDGET } from "../platform/limits";
import { type Runtime, stateOf } from "../platform/runtime";
import { checkToken, checkTokenSyntax, type LoadResult, loadPolicy, type PolicyKind } from "../trust";
import type { Audit } from "./audit";
import { resolveTarget, tokenRepositories } from "./scope";

export interface ExchangeSuccess {
  token: string;
  expiresAt: string;
  formPost: boolean;
}

/** Identity-bearing messages need the identity even when a lower stage did not know it. */
function withIdentity(f: Failure, identity: string): Failure {
  return f.args.identity === undefined ? withArgs(f, { identity }) : f;
}

function claimString(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * Parsing and compiling are pure functions of the text, so the result is kept per isolate and reused
 * while the text is unchanged: a warm exchange must not re-parse YAML and recompile RE2 every time.
 */
function compiled(runtime: Runtime, text: string, kind: PolicyKind): LoadResult {
  const memo = stateOf(
    runtime,
    `exchange.compiled.${kind}`,
    // Keyed by the text, so weighed by it: large policies must not pile up in the isolate.
    () =>
      new Lru<{ text: string; loaded: LoadResult }>(
        MEMORY_CACHE_ENTRIES.compiledPolicies,
        MEMORY_POLICY_TEXT_BUDGET,
        (entry) => entry.text.length,
      ),
  );
  let entry = memo.get(text);
  if (entry === undefined) {
    entry = { text, loaded: loadPolicy(text, kind) };
    memo.set(text, entry);
  }
  return entry.loaded;
}

/** Runs the exchange; the caller turns the result into a response (success shapes or the error body). */
export async function exchange(
  request: Request,
  url: URL,
  runtime: Runtime,
  ctx: ExecutionContext,
  audit: Audit,
): Promise<Result<ExchangeSuccess>> {
  const refuse = (f: Failure): Result<ExchangeSuccess> => {
    audit.refuse(f);
    return { ok: false, failure: f };
  };

  // 1. configuration
  if (!runtime.config.ok) return refuse(runtime.config.failure);
  const config = runtime.config.value;

  // 2. request parameters
  const params = await readParams(request, url);
  if (!params.ok) return refuse(params.failure);
  const { scope, identity, formPost } = params.value;
  audit.set("scope", scope);
  audit.set("identity", identity);

  // 3. Authorization
  const bearer = readBearer(request);
  if (!bearer.ok) return refuse(bearer.failure);

  // 4–5. decode, issuer syntax, deployment allowlist, discovery, signature, time claims
  const verified = await verifyBearer(runtime, bearer.value);
  if (!verified.ok) return refuse(verified.failure);
  const claims = verified.value.claims;
  audit.set("issuer", claimString(claims, "iss") ?? verified.value.issuer);
  const subject = claimString(claims, "sub");
  if (subject !== undefined) audit.set("subject", subject);

  // 6. the token's own iss, sub and every aud must be well-formed, whether or not a policy exists
  const syntax = checkTokenSyntax(claims);
  if (!syntax.ok) return refuse(syntax.failure);

  // 7. scope and identity
  const target = resolveTarget(scope, identity, config.orgPolicyRepo);
  if (!target.ok) return refuse(target.failure);
  const { owner, policyRepo, kind } = target.value;

  // 8. a remembered 404 for this policy (no GitHub call)
  const cached = await lookupPolicy(runtime, owner, policyRepo, identity);
  if (cached.state === "missing") {
    return refuse(failure("POLICY_NOT_FOUND", { identity }, "policy 404 remembered"));
  }

  // 9. installation
  const installation = await findInstallation(runtime, owner);
  if (!installation.ok) return refuse(withIdentity(installation.failure, identity));
  audit.set("installation_id", installation.value.id);

  // 11. policy read, parse, compile (missing, unparsable and uncompilable look alike to the caller)
  const text = await readPolicy(runtime, ctx, owner, installation.value, policyRepo, identity, cached);
  if (!text.ok) return refuse(withIdentity(text.failure, identity));
  audit.set("policy_source", text.value.source);
  const loaded = compiled(runtime, text.value.text, kind);
  if (!loaded.ok) {
    const first = loaded.problems[0];
    const where = first ? ` at ${first.line}:${first.col}: ${first.message}` : "";
    return refuse(failure("POLICY_NOT_FOUND", { identity }, `policy ${loaded.stage} error${where}`));
  }

  // 12. match
  const grant = checkToken(loaded.policy, claims, config.stsDomain);
  if (!grant.ok) return refuse(grant.failure);
  audit.set("claims", grant.value.matched);

  // 13. mint
  const repositories = tokenRepositories(target.value, grant.value.repositories);
  const permissions = grant.value.permissions;
  audit.set("permissions", permissions);
  if (repositories !== undefined) audit.set("repositories", repositories);
  const minted = await mintInstallationToken(
    runtime,
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
  return { ok: true, value: { token: minted.value.token, expiresAt: minted.value.expiresAt, formPost } };
}

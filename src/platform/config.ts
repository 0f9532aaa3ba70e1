/**
 * @module config
 * The configuration contract (docs/configuration.md, "Settings" and "Misconfiguration"): every setting parsed
 * and validated once per Worker instance. A bad deployment is answered with `MISCONFIGURED` naming the
 * setting (500 on every exchange, 503 on `/healthz`), never with a crash and never with a token.
 */

import { type Failure, failure, type Result } from "../errors/catalogue";
import { parseAppPrivateKey } from "../github/app-key";
import { isLoopbackHostname } from "../oidc/syntax";
import { type AllowlistProblem, buildAllowlist, type IssuerAllowlist } from "../trust/allowlist";

export type { IssuerAllowlist };

import { MAX_ALLOWED_ISSUER_PATTERN_CHARS, MAX_ALLOWED_ISSUER_PATTERNS, MAX_ALLOWED_ISSUERS } from "./limits";

/**
 * A Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml): `limit` counts one request for
 * `key` and says whether it is within the budget (docs/oauth.md, "Rate limits").
 */
export interface RateLimiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** The Worker's bindings, as `wrangler.toml`, secrets and `.dev.vars` provide them. */
export interface Env {
  STS_DOMAIN?: string;
  GITHUB_APP_ID?: string | number;
  GITHUB_APP_PRIVATE_KEY?: string;
  GITHUB_BASE_URL?: string;
  ORG_POLICY_REPO?: string;
  ALLOWED_ISSUERS?: string | readonly string[];
  ALLOWED_ISSUER_PATTERNS?: string | readonly string[];
  GITHUB_WEBHOOK_SECRET?: string;
  STS_CACHE?: KVNamespace;
  /** Per caller (`iss`+`sub`), step 6b; unbound: no limit. */
  CALLER_LIMITER?: RateLimiter;
  /** Per scope owner, step 12b; unbound: no limit. */
  OWNER_LIMITER?: RateLimiter;
}

export interface Config {
  /** The authority clients use (`sts.example.com`, `localhost:8443`): the default audience. */
  stsDomain: string;
  appId: string;
  /** The App key, converted to PKCS#8 PEM. */
  privateKeyPkcs8Pem: string;
  /** GitHub REST base without a trailing slash (`https://api.github.com`, `https://HOST/api/v3`). */
  githubBaseUrl: string;
  orgPolicyRepo: string;
  /** The deployment allowlist; null when neither allowlist setting is set (every issuer allowed). */
  issuerAllowlist: IssuerAllowlist | null;
  /** Webhook secrets (rotation: several); empty when not configured. */
  webhookSecrets: string[];
  cache: KVNamespace;
  /** CALLER_LIMITER and OWNER_LIMITER; null when unbound (no limit). */
  callerLimiter: RateLimiter | null;
  ownerLimiter: RateLimiter | null;
}

const DEFAULT_GITHUB_BASE_URL = "https://api.github.com";
export const DEFAULT_ORG_POLICY_REPO = ".github";

const REPO_NAME = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * A repository name as GitHub allows it (docs/policy-reference.md, "Where a policy lives"): ORG_POLICY_REPO
 * and the repo of a scope.
 */
export function isRepoName(name: string): boolean {
  return REPO_NAME.test(name) && name !== "." && name !== "..";
}

/**
 * `problem` is a fixed phrase, safe to answer with (`metadata.problem`); `more`, for the audit line only,
 * may say what was found.
 */
function misconfigured(setting: string, problem: string, more?: string): { ok: false; failure: Failure } {
  const detail = more === undefined ? `${setting}: ${problem}` : `${setting}: ${problem} (${more})`;
  return { ok: false, failure: failure("MISCONFIGURED", { setting, problem }, detail) };
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === "string" && value.trim() === "");
}

/** A list setting: a JSON array (TOML array or a string starting with `[`) or a comma-separated string. */
function parseList(value: string | readonly string[], allowComma: boolean): string[] | null {
  let items: unknown;
  if (Array.isArray(value)) items = value;
  else if (typeof value === "string" && value.trim().startsWith("[")) {
    try {
      items = JSON.parse(value);
    } catch {
      return null;
    }
  } else if (typeof value === "string" && allowComma) items = value.split(",");
  else return null;
  if (!Array.isArray(items) || !items.every((i) => typeof i === "string")) return null;
  return (items as string[]).map((i) => i.trim()).filter((i) => i !== "");
}

/** GITHUB_BASE_URL: https (http only on loopback, for local doubles), no query, no fragment. */
function parseBaseUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHostname(url.hostname)))
    return null;
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") return null;
  return url.toString().replace(/\/+$/, "");
}

/** Parses and validates the whole configuration; the first problem found is reported. */
export function loadConfig(env: Env): Result<Config> {
  const domain = typeof env.STS_DOMAIN === "string" ? env.STS_DOMAIN.trim() : "";
  if (domain === "") return misconfigured("STS_DOMAIN", "not set");

  const appId = env.GITHUB_APP_ID === undefined ? "" : String(env.GITHUB_APP_ID).trim();
  if (appId === "") return misconfigured("GITHUB_APP_ID", "not set");
  if (!/^[1-9][0-9]{0,19}$/.test(appId)) return misconfigured("GITHUB_APP_ID", "not a numeric App id");

  const key = parseAppPrivateKey(env.GITHUB_APP_PRIVATE_KEY);
  if (!key.ok) return misconfigured("GITHUB_APP_PRIVATE_KEY", key.problem, key.hint);

  let githubBaseUrl = DEFAULT_GITHUB_BASE_URL;
  if (isSet(env.GITHUB_BASE_URL)) {
    const parsed = parseBaseUrl(String(env.GITHUB_BASE_URL).trim());
    if (parsed === null)
      return misconfigured("GITHUB_BASE_URL", "not an https URL without query or fragment");
    githubBaseUrl = parsed;
  }

  let orgPolicyRepo = DEFAULT_ORG_POLICY_REPO;
  if (env.ORG_POLICY_REPO !== undefined) {
    orgPolicyRepo = String(env.ORG_POLICY_REPO).trim();
    if (!isRepoName(orgPolicyRepo)) {
      return misconfigured("ORG_POLICY_REPO", "not a repository name");
    }
  }

  let issuerAllowlist: IssuerAllowlist | null = null;
  if (isSet(env.ALLOWED_ISSUERS) || isSet(env.ALLOWED_ISSUER_PATTERNS)) {
    let issuers: string[] = [];
    if (isSet(env.ALLOWED_ISSUERS)) {
      const list = parseList(env.ALLOWED_ISSUERS as string | string[], true);
      if (list === null)
        return misconfigured("ALLOWED_ISSUERS", "not a comma-separated list or a JSON array");
      // Set but empty (`[]`, `,`) is a mistake: it must never read as "every issuer" (fail closed).
      if (list.length === 0) return misconfigured("ALLOWED_ISSUERS", "set but lists no issuer");
      issuers = list;
    }
    let patterns: string[] = [];
    if (isSet(env.ALLOWED_ISSUER_PATTERNS)) {
      const list = parseList(env.ALLOWED_ISSUER_PATTERNS as string | string[], false);
      if (list === null) return misconfigured("ALLOWED_ISSUER_PATTERNS", "not a JSON array of strings");
      if (list.length === 0) return misconfigured("ALLOWED_ISSUER_PATTERNS", "set but lists no pattern");
      patterns = list;
    }
    const built = buildAllowlist(issuers, patterns, {
      maxIssuers: MAX_ALLOWED_ISSUERS,
      maxPatterns: MAX_ALLOWED_ISSUER_PATTERNS,
      maxPatternLength: MAX_ALLOWED_ISSUER_PATTERN_CHARS,
    });
    if (!built.ok) {
      const first = built.problems[0] as AllowlistProblem;
      const setting = first.list === "issuers" ? "ALLOWED_ISSUERS" : "ALLOWED_ISSUER_PATTERNS";
      const entry = first.list === "issuers" ? "entry" : "pattern";
      // Without an index the message is a fixed count ("more than 64 issuers"); an entry's message
      // may quote the entry, so the answer only says which one.
      if (first.index === undefined) return misconfigured(setting, first.message);
      return misconfigured(setting, `${entry} ${first.index + 1} is invalid`, first.message);
    }
    issuerAllowlist = built.allowlist;
  }

  const webhookSecrets = isSet(env.GITHUB_WEBHOOK_SECRET)
    ? String(env.GITHUB_WEBHOOK_SECRET)
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
    : [];

  const cache = env.STS_CACHE;
  if (cache === undefined || cache === null || typeof (cache as KVNamespace).get !== "function") {
    return misconfigured("STS_CACHE", "the KV namespace binding is missing");
  }

  const limiters: (RateLimiter | null)[] = [];
  for (const setting of ["CALLER_LIMITER", "OWNER_LIMITER"] as const) {
    const bound: unknown = env[setting];
    if (bound === undefined || bound === null) limiters.push(null);
    else if (typeof (bound as { limit?: unknown }).limit !== "function") {
      return misconfigured(setting, "not a Rate Limiting binding", "no limit function");
    } else limiters.push(bound as RateLimiter);
  }
  const [callerLimiter = null, ownerLimiter = null] = limiters;

  return {
    ok: true,
    value: {
      stsDomain: domain,
      appId,
      privateKeyPkcs8Pem: key.pkcs8Pem,
      githubBaseUrl,
      orgPolicyRepo,
      issuerAllowlist,
      webhookSecrets,
      cache,
      callerLimiter,
      ownerLimiter,
    },
  };
}

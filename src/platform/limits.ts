/**
 * @module limits
 * Every limit, TTL and magic number of the service, in one place, so that an auditor can read the
 * service's bounds without reading its code. Every name carries its unit (`_MS`, `_SECONDS`, `_BYTES`,
 * `_CHARS`, `_RUNES`, entries or counts).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Bearer token (its characters, as the header or form value reads) and request body (bytes on the wire). */
export const MAX_BEARER_CHARS = 16 * 1024;
export const MAX_FORM_BODY_BYTES = 16 * 1024;

/**
 * Token validity (docs/differences-from-octo-sts.md, "Time claims"): `exp` has zero leeway; `nbf`/`iat` may
 * be this far in the future.
 */
export const EXP_LEEWAY_SECONDS = 0;
export const FUTURE_SKEW_SECONDS = 300;

/** Names (docs/policy-reference.md, "Where a policy lives"). */
export const MAX_IDENTITY_CHARS = 100;

/** Issuer / subject / audience syntax (docs/security.md, "Issuer fetches"), octo-sts's bounds. */
export const MAX_ISSUER_RUNES = 255;
export const MAX_ISSUER_PATH_SEGMENT_BYTES = 150;
export const MAX_SUBJECT_RUNES = 255;
export const MAX_AUDIENCE_RUNES = 255;

/** Deployment allowlist (docs/configuration.md, "Issuer allowlist"). */
export const MAX_ALLOWED_ISSUERS = 64;
export const MAX_ALLOWED_ISSUER_PATTERNS = 16;
export const MAX_ALLOWED_ISSUER_PATTERN_CHARS = 256;

/** An organization's trusted-issuer file (docs/trusted-issuers.md). */
export const MAX_ORG_TRUSTED_ISSUERS = 64;
export const MAX_ORG_TRUSTED_ISSUER_PATTERNS = 16;
export const MAX_ORG_TRUSTED_ISSUER_PATTERN_CHARS = 256;

/** OIDC discovery and JWKS fetches (docs/security.md, "Issuer fetches"; GHSA-75r6-6jg8-pfcq). */
export const MAX_DISCOVERY_BYTES = 100 * 1024;
export const MAX_JWKS_BYTES = 100 * 1024;
export const ISSUER_FETCH_TIMEOUT_MS = 3 * SECOND;
export const MAX_ISSUER_REDIRECTS = 3;
export const DISCOVERY_TTL_MS = HOUR;
export const JWKS_TTL_MS = 10 * MINUTE;
export const JWKS_REFETCH_COOLDOWN_MS = 30 * SECOND;
/** A failed discovery is remembered (in memory only) this long. */
export const ISSUER_FAILURE_TTL_MS = MINUTE;
/**
 * Signing algorithms a token may use (docs/security.md, "Issuer fetches"); `none` and HS* are never accepted.
 */
export const SUPPORTED_JWS_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
export const DEFAULT_JWS_ALGORITHM = "RS256";

/**
 * GitHub (docs/differences-from-octo-sts.md, "Retries and rate limits" and "App JWT"; docs/security.md,
 * "Caching").
 */
export const GITHUB_API_VERSION = "2022-11-28";
export const GITHUB_USER_AGENT = "github-sts-worker";
export const GITHUB_REQUEST_TIMEOUT_MS = 10 * SECOND;
/** Transient failures (5xx, network) are retried this many times after the first attempt. */
export const GITHUB_TRANSIENT_RETRIES = 2;
export const GITHUB_RETRY_DELAY_MS = 100;
/** Retry-After sent to callers when GitHub is unavailable and did not say. */
export const GITHUB_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;
export const GITHUB_RATE_LIMIT_RETRY_AFTER_SECONDS = 60;
/** Every `Retry-After` the service sends is an integer in this range, whatever GitHub said. */
export const MIN_RETRY_AFTER_SECONDS = 1;
export const MAX_RETRY_AFTER_SECONDS = 3600;
export const APP_JWT_BACKDATE_SECONDS = 60;
export const APP_JWT_LIFETIME_SECONDS = 540;
/** The App JWT is reused until this long before its `exp`. */
export const APP_JWT_RENEW_BEFORE_EXPIRY_SECONDS = 60;
/** The most GitHub's clock may differ from ours before App JWTs stop following it (auth-app's skew retry). */
export const MAX_GITHUB_CLOCK_SKEW_SECONDS = 3600;
/** Bodies of App-authenticated answers (installation, token) are read up to this many bytes. */
export const MAX_GITHUB_APP_RESPONSE_BYTES = 256 * 1024;
export const INSTALLATION_TTL_MS = HOUR;
export const INSTALLATION_NOT_FOUND_TTL_MS = 5 * MINUTE;
export const MAX_POLICY_BYTES = 1024 * 1024;
/**
 * Policy texts are chosen by whoever can push to a repository the App is installed on, up to 1 MiB
 * each: isolate memory keeps at most this many characters of them per cache (raw texts; compiled
 * policies), so a few hundred large files cannot exhaust the isolate's 128 MB.
 */
export const MEMORY_POLICY_TEXT_BUDGET_CHARS = 8 * MAX_POLICY_BYTES;
export const POLICY_FRESH_TTL_MS = 5 * MINUTE;
export const POLICY_MEMORY_TTL_MS = MINUTE;
export const POLICY_STALE_TTL_MS = HOUR;
export const POLICY_NOT_FOUND_TTL_MS = 5 * MINUTE;

/**
 * An organization's trusted-issuer file (docs/trusted-issuers.md): fresh like a policy, a stale copy
 * used only while GitHub cannot answer, and the last valid file, kept apart from evictions.
 */
export const ORG_ISSUERS_FRESH_TTL_MS = 5 * MINUTE;
export const ORG_ISSUERS_MEMORY_TTL_MS = MINUTE;
export const ORG_ISSUERS_STALE_TTL_MS = HOUR;
export const ORG_ISSUERS_LAST_KNOWN_GOOD_TTL_MS = HOUR;

/** Policy parsing: YAML nodes visited, aliases expanded, before a policy is refused. */
export const MAX_POLICY_YAML_NODES = 10_000;
/** A policy's scalars after alias expansion, in characters (aliases must not multiply a 1 MiB file). */
export const MAX_POLICY_EXPANDED_CHARS = 1024 * 1024;
/**
 * YAML syntax problems listed for one policy: a 1 MiB quoted scalar of bad escapes is half a million of
 * them, which took seconds and hundreds of MB to record; the first ones are what an author needs.
 */
export const MAX_POLICY_YAML_PROBLEMS = 100;
/** Did-you-mean hints are computed only for keys this long or shorter (edit distance is quadratic). */
export const MAX_HINT_KEY_CHARS = 64;

/**
 * Pattern bounds (docs/policy-reference.md, "Patterns"), all in characters: a pattern's length; its
 * repetition expansion (for each counted repeat x{n,m}, the larger count times the characters of x, nested
 * repeats multiplied, summed); and the sum of the expansions of one policy's patterns.
 */
export const MAX_PATTERN_CHARS = 1024;
export const MAX_PATTERN_REPETITION_EXPANSION_CHARS = 1000;
export const MAX_POLICY_REPETITION_EXPANSION_CHARS = 4000;

/** The audit line: each string it carries is cut to this many characters, each list to this many entries. */
export const AUDIT_MAX_STRING_CHARS = 1024;
export const AUDIT_MAX_LIST_ENTRIES = 100;

/** Isolate-memory LRU sizes. */
export const MEMORY_CACHE_ENTRIES = {
  discovery: 100,
  jwks: 100,
  issuerFailures: 500,
  installations: 500,
  policies: 500,
  /** Trusted-issuer files, one per owner (and their last-known-good copies). */
  orgIssuers: 200,
  /** Parsed and compiled policies, keyed by their text. */
  compiledPolicies: 200,
} as const;

/** KV rejects an `expirationTtl` below 60 s; it only garbage-collects, freshness is in the value. */
export const KV_MIN_EXPIRATION_TTL_SECONDS = 60;
/** KV keys are limited to 512 bytes; longer cache keys are hashed. */
export const KV_MAX_KEY_BYTES = 480;

/**
 * The service's own exchange limits (docs/oauth.md, "Rate limits"): the Rate Limiting bindings count
 * per 10 s or 60 s window, so a refused caller is told to come back after one 60 s window.
 */
export const EXCHANGE_RATE_LIMIT_RETRY_AFTER_SECONDS = 60;
/** Retry-After sent when an organization's trusted-issuer file cannot be read (GitHub down, or limited). */
export const ORG_ISSUERS_UNAVAILABLE_RETRY_AFTER_SECONDS = GITHUB_UNAVAILABLE_RETRY_AFTER_SECONDS;
export const ORG_ISSUERS_RATE_LIMIT_RETRY_AFTER_SECONDS = GITHUB_RATE_LIMIT_RETRY_AFTER_SECONDS;

/**
 * The webhook (docs/webhook.md, "Limits"). A delivery is at most GitHub's own cap of 25 MiB, counted
 * while it streams, before anything is hashed.
 */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;
/**
 * One delivery validates at most this many files: with the listing pages, the check run and the token
 * it stays within the free plan's 50 subrequests per request.
 */
export const MAX_WEBHOOK_VALIDATED_FILES = 20;
/** Pages of changed files (100 a page, GitHub's most) one delivery reads, over every listing it makes. */
export const MAX_WEBHOOK_LIST_PAGES = 10;
export const WEBHOOK_LIST_FILES_PER_PAGE = 100;
/** A push payload lists fewer commits than this in full; from this many on, the service compares. */
export const WEBHOOK_PUSH_PAYLOAD_COMMITS = 20;
/**
 * A page of a pull request's files or a comparison carries each file's patch: its answer is read up to
 * this many bytes (other GitHub answers the webhook reads: {@link MAX_GITHUB_APP_RESPONSE_BYTES}).
 */
export const MAX_GITHUB_LISTING_RESPONSE_BYTES = 16 * 1024 * 1024;
/** GitHub takes at most 50 annotations per check-run request; further ones go in PATCH requests. */
export const MAX_CHECK_RUN_ANNOTATIONS_PER_REQUEST = 50;
/** Annotations one check run carries at most (one POST and two PATCH requests); the rest are counted. */
export const MAX_CHECK_RUN_ANNOTATIONS = 150;
/** GitHub's cap on a check run's `output.summary` and `output.text`, in characters. */
export const MAX_CHECK_RUN_OUTPUT_CHARS = 65_535;
/** An annotation's message, in characters (GitHub allows 64 KiB). */
export const MAX_CHECK_RUN_ANNOTATION_CHARS = 4096;
/**
 * GitHub waits 10 s for an answer; a delivery still at work after this long is answered 202 and
 * finishes in the background.
 */
export const WEBHOOK_ANSWER_DEADLINE_MS = 8 * SECOND;
/**
 * An eviction leaves a marker this long (the fresh window), so that a read that started before it does
 * not write its result back over it (docs/webhook.md, "Eviction").
 */
export const POLICY_EVICTION_MARKER_TTL_MS = POLICY_FRESH_TTL_MS;
export const ORG_ISSUERS_EVICTION_MARKER_TTL_MS = ORG_ISSUERS_FRESH_TTL_MS;

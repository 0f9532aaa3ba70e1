/**
 * @module endpoints/oauth-token
 * The OAuth door (docs/oauth.md): `POST /oauth/token`, an RFC 8693 token exchange whose subject token is
 * the OIDC JWT, and `GET /.well-known/oauth-authorization-server`, the RFC 8414 metadata a generic OAuth
 * client discovers it by. Steps 1–2 of the evaluation order in OAuth terms (configuration, the form
 * parameters; the subject token takes the place of steps 2–3's query and `Authorization` header), then
 * the same core as `/sts/exchange`, with token = `subject_token`, scope = `scope`, identity = `audience`.
 *
 * There is no client authentication: the subject token is the credential. `client_id` (which generic
 * clients always send), `resource` and any other unknown parameter are ignored.
 */

import { type Failure, failure, type Result } from "../errors/catalogue";
import { errorResponse } from "../errors/grpc";
import { oauthErrorResponse } from "../errors/oauth";
import { Audit, audited } from "../exchange/audit";
import { type ExchangeGrant, runExchange } from "../exchange/core";
import { isLoopbackHostname } from "../oidc/syntax";
import { readCapped } from "../platform/body";
import { MAX_FORM_BODY_BYTES } from "../platform/limits";
import type { DoorContext } from "./context";
import { parseQuery } from "./sts-request";

export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** The subject token types an OIDC JWT may be sent as. */
const SUBJECT_TOKEN_TYPES: readonly string[] = [
  "urn:ietf:params:oauth:token-type:id_token",
  "urn:ietf:params:oauth:token-type:jwt",
];
export const TOKEN_PATH = "/oauth/token";
export const METADATA_PATH = "/.well-known/oauth-authorization-server";

const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** The parameters this door reads; any other is ignored. Each may be given at most once. */
const KNOWN = [
  "grant_type",
  "subject_token",
  "subject_token_type",
  "requested_token_type",
  "scope",
  "audience",
  "actor_token",
  "actor_token_type",
] as const;
type Known = (typeof KNOWN)[number];

/** What step 2 hands on to the core. */
export interface TokenRequest {
  subjectToken: string;
  scope: string;
  identity: string;
}

function invalid(requestError: string, detail: string): { ok: false; failure: Failure } {
  return { ok: false, failure: failure("INVALID_REQUEST", { requestError }, detail) };
}

/**
 * Step 2 (docs/oauth.md, "The request"): the form body and its parameters, in this order: the body's
 * media type, size and encoding; every known parameter at most once; `grant_type`; no actor token; the
 * subject token and its type; `requested_token_type`; `scope` and `audience`, and one scope. A parameter
 * sent without a value counts as not sent (RFC 6749 §3.1). Nothing here looks inside the token.
 */
async function readTokenRequest(request: Request): Promise<Result<TokenRequest>> {
  const contentType = (request.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (contentType !== FORM_CONTENT_TYPE) {
    return invalid(
      `the request body must be ${FORM_CONTENT_TYPE}`,
      `content type ${JSON.stringify(contentType ?? "")}`,
    );
  }
  const bytes = await readCapped(request.body, MAX_FORM_BODY_BYTES);
  if (bytes === null) return invalid("request body too large", "form body over limit");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return invalid("the request body is not UTF-8", "form body not UTF-8");
  }
  const parsed = parseQuery(text);
  if (parsed.error !== undefined) {
    return {
      ok: false,
      failure: failure("INVALID_REQUEST", { encodingError: parsed.error }, "form body encoding"),
    };
  }

  const values = new Map<Known, string[]>();
  for (const [key, value] of parsed.pairs) {
    if (value === "" || !(KNOWN as readonly string[]).includes(key)) continue;
    const list = values.get(key as Known);
    if (list === undefined) values.set(key as Known, [value]);
    else list.push(value);
  }
  for (const name of KNOWN) {
    if ((values.get(name)?.length ?? 0) > 1) {
      return invalid(`parameter ${JSON.stringify(name)} given more than once`, `repeated ${name}`);
    }
  }
  const get = (name: Known): string | undefined => values.get(name)?.[0];
  const missing = (name: Known) => invalid(`missing parameter ${JSON.stringify(name)}`, `no ${name}`);

  const grantType = get("grant_type");
  if (grantType === undefined) return missing("grant_type");
  if (grantType !== TOKEN_EXCHANGE_GRANT) {
    return {
      ok: false,
      failure: failure("UNSUPPORTED_GRANT_TYPE", {}, `grant_type ${JSON.stringify(grantType.slice(0, 100))}`),
    };
  }
  if (get("actor_token") !== undefined || get("actor_token_type") !== undefined) {
    return invalid("actor_token is not supported (no delegation)", "actor token");
  }
  const subjectToken = get("subject_token");
  if (subjectToken === undefined) return missing("subject_token");
  const subjectTokenType = get("subject_token_type");
  if (subjectTokenType === undefined) return missing("subject_token_type");
  if (!SUBJECT_TOKEN_TYPES.includes(subjectTokenType)) {
    return invalid(
      `unsupported subject_token_type: send ${SUBJECT_TOKEN_TYPES.join(" or ")}`,
      "subject_token_type",
    );
  }
  const requested = get("requested_token_type");
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
    return invalid(`unsupported requested_token_type: only ${ACCESS_TOKEN_TYPE}`, "requested_token_type");
  }
  const scope = get("scope");
  if (scope === undefined) return missing("scope");
  const audience = get("audience");
  if (audience === undefined) return missing("audience");
  // An OAuth scope is a space-separated list (RFC 6749 §3.3); this service mints for one owner or repository.
  if (scope.trim().split(/\s+/).length > 1) {
    return { ok: false, failure: failure("MULTIPLE_SCOPES", {}, "space-separated scopes") };
  }
  return { ok: true, value: { subjectToken, scope: scope.trim(), identity: audience } };
}

/** Seconds from `nowMs` to GitHub's `expires_at`, never negative. */
function expiresIn(expiresAt: string, nowMs: number): number {
  const expiresMs = Date.parse(expiresAt);
  return Number.isFinite(expiresMs) ? Math.max(0, Math.floor((expiresMs - nowMs) / 1000)) : 0;
}

/** The RFC 8693 §2.2.1 success answer. */
function tokenResponse(grant: ExchangeGrant, requestId: string, nowMs: number): Response {
  const body = {
    access_token: grant.token,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: "Bearer",
    expires_in: expiresIn(grant.expiresAt, nowMs),
  };
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      Pragma: "no-cache",
      "X-Request-Id": requestId,
    },
  });
}

/** `POST /oauth/token`; every other method is 405 with `Allow: POST`. */
export async function oauthToken(door: DoorContext): Promise<Response> {
  const { request, rt, ctx, requestId, domain } = door;
  if (request.method !== "POST") {
    return oauthErrorResponse(
      failure("METHOD_NOT_ALLOWED"),
      { requestId, domain },
      {
        Allow: "POST",
      },
    );
  }
  const audit = new Audit("oauth/token", requestId, request, rt.clock.now());
  const refused = (f: Failure): Result<ExchangeGrant> => ({ ok: false, failure: f });
  const result = await audited(audit, async () => {
    // 1. configuration
    if (!rt.config.ok) return refused(rt.config.failure);
    // 2. the form parameters (octo-sts's steps 2–3: the subject token is this door's bearer)
    const params = await readTokenRequest(request);
    if (!params.ok) return refused(params.failure);
    const { subjectToken, scope, identity } = params.value;
    audit.set("scope", scope);
    audit.set("identity", identity);
    // 4–13.
    return runExchange(rt, ctx, { token: subjectToken, scope, identity }, audit);
  });
  if (!result.ok) return oauthErrorResponse(result.failure, { requestId, domain });
  return tokenResponse(result.value, requestId, rt.clock.now());
}

/** The issuer identifier: `https://STS_DOMAIN`, `http://` for a loopback STS_DOMAIN (the demo's `localhost:8787`). */
export function issuerOf(stsDomain: string): string {
  let hostname = "";
  try {
    hostname = new URL(`http://${stsDomain}`).hostname;
  } catch {
    // not a host: https, and let the client's own check refuse it
  }
  return `${isLoopbackHostname(hostname) ? "http" : "https"}://${stsDomain}`;
}

/** `GET /.well-known/oauth-authorization-server` (RFC 8414); misconfigured: the octo-sts 500. */
export function oauthMetadata(door: DoorContext): Response {
  const { rt, requestId, domain } = door;
  if (!rt.config.ok) return errorResponse(rt.config.failure, { requestId, domain });
  const issuer = issuerOf(rt.config.value.stsDomain);
  const body = {
    issuer,
    token_endpoint: `${issuer}${TOKEN_PATH}`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    token_endpoint_auth_methods_supported: ["none"],
    response_types_supported: [],
  };
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { "Content-Type": "application/json", "X-Request-Id": requestId },
  });
}

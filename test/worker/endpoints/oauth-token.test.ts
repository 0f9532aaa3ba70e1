/**
 * The OAuth door end to end inside workerd (docs/oauth.md): `POST /oauth/token` (RFC 8693 token
 * exchange) and `GET /.well-known/oauth-authorization-server` (RFC 8414) through the Worker's route
 * table, against the OIDC issuer double and the GitHub double; and a real generic OAuth client
 * (oauth4webapi) discovering the Worker and exchanging a token with it.
 */

import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import * as oauth from "oauth4webapi";
import { afterEach, describe, expect, it, vi } from "vitest";
import { handle } from "../../../src/app";
import { ACCESS_TOKEN_TYPE, issuerOf, TOKEN_EXCHANGE_GRANT } from "../../../src/endpoints/oauth-token";
import { CATALOGUE, failure, type Reason, retryAfterOf } from "../../../src/errors/catalogue";
import { OAUTH_ERRORS } from "../../../src/errors/oauth";
import { sha256Hex } from "../../../src/platform/cache";
import type { RateLimiter } from "../../../src/platform/config";
import { createRuntime, type Runtime } from "../../../src/platform/runtime";
import {
  captureConsole,
  FOO_POLICY,
  github,
  issuers,
  TEST_DOMAIN,
  testEnv,
  testRuntime,
  unique,
} from "../helpers";
import { exchangeParams, ID_TOKEN_TYPE, JWT_TOKEN_TYPE, mint, mintBodies, scenario } from "../scenario";

const output = captureConsole();

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

interface OAuthErrorBody {
  error: string;
  error_description: string;
  reason: string;
  request_id: string;
  limiter?: string;
}

/** An RFC 6749 error answer: status, class, reason, message, and the headers every one carries. */
async function expectOAuthError(
  response: Response,
  status: number,
  error: string,
  reason: string,
  description?: string,
): Promise<OAuthErrorBody> {
  const body = (await response.json()) as OAuthErrorBody;
  expect({ status: response.status, error: body.error, reason: body.reason }).toEqual({
    status,
    error,
    reason,
  });
  if (description !== undefined) expect(body.error_description).toBe(description);
  expect(body.request_id).toBe(response.headers.get("X-Request-Id"));
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  expect(response.headers.get("Content-Type")).toBe("application/json");
  expect(response.headers.get("WWW-Authenticate")).toBeNull();
  return body;
}

const TOKEN_CLAIMS = { sub: "foo", aud: "octosts" };

describe("POST /oauth/token: a granted exchange", () => {
  it.each([ID_TOKEN_TYPE, JWT_TOKEN_TYPE])(
    "subject_token_type %s answers the RFC 8693 shape and mints what the octo-sts door mints",
    async (subjectTokenType) => {
      const s = await scenario();
      const subjectToken = await mint(TOKEN_CLAIMS);
      const response = await s.exchange(
        exchangeParams(subjectToken, {
          subject_token_type: subjectTokenType,
          requested_token_type: ACCESS_TOKEN_TYPE,
        }),
      );
      expect(response.status).toBe(200);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("Pragma")).toBe("no-cache");
      expect(response.headers.get("Content-Type")).toBe("application/json");
      const requestId = response.headers.get("X-Request-Id");
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const body = (await response.json()) as Record<string, unknown>;
      expect(Object.keys(body)).toEqual(["access_token", "issued_token_type", "token_type", "expires_in"]);
      expect(body.access_token).toMatch(/^ghs_/);
      expect(body.issued_token_type).toBe("urn:ietf:params:oauth:token-type:access_token");
      expect(body.token_type).toBe("Bearer");

      const issued = (await github.tokens(s.ghId)).find((t) => t.token === body.access_token);
      expect(issued).toMatchObject({ repositories: ["repo"], permissions: { pull_requests: "write" } });
      // Seconds from the service's clock (frozen in this test) to GitHub's expires_at: exact, whatever the load.
      expect(body.expires_in).toBe(
        Math.floor((Date.parse(issued?.expiresAt ?? "") - s.rt.clock.now()) / 1000),
      );
      expect(body.expires_in).toBeGreaterThan(3500);
      expect(mintBodies(await s.calls()).at(-1)).toEqual({
        repositories: ["repo"],
        permissions: { pull_requests: "write" },
      });

      const audit = output.audit();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        door: "oauth/token",
        decision: "granted",
        scope: "org/repo",
        identity: "foo",
        subject: "foo",
        request_id: requestId,
        token_sha256: await sha256Hex(body.access_token as string),
      });
      for (const line of output.lines) {
        expect(line).not.toContain(subjectToken);
        expect(line).not.toContain(body.access_token as string);
      }
    },
  );

  it("ignores unknown parameters (client_id, resource, anything) and a charset on the media type", async () => {
    const s = await scenario();
    const params: [string, string][] = [
      ...Object.entries(exchangeParams(await mint(TOKEN_CLAIMS))),
      ["client_id", "some-client"],
      ["resource", "https://api.github.com"],
      ["resource", "https://example.com"],
      ["something_else", "x"],
    ];
    const response = await s.send("/oauth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8" },
      body: new URLSearchParams(params).toString(),
    });
    expect(response.status).toBe(200);
  });

  it("an org scope mints for the organization, as /sts/exchange does", async () => {
    const s = await scenario({
      repos: { "org/.github": { files: { ".github/chainguard/foo.sts.yaml": FOO_POLICY } } },
    });
    const response = await s.exchange(exchangeParams(await mint(TOKEN_CLAIMS), { scope: "org" }));
    expect(response.status).toBe(200);
    expect(mintBodies(await s.calls()).at(-1)).toEqual({ permissions: { pull_requests: "write" } });
  });
});

describe("POST /oauth/token: the request (step 2)", () => {
  /** A token of an issuer no one has fetched: any look at the token would call the issuer double. */
  async function untouchedToken() {
    const issuer = await issuers.createIssuer({ name: unique("untouched") });
    const token = await issuers.mintToken(issuer.id, { claims: TOKEN_CLAIMS });
    return { token, calls: () => issuers.calls(issuer.id) };
  }

  it.each(["grant_type", "subject_token", "subject_token_type", "scope", "audience"])(
    "a missing %s (or one sent empty) is invalid_request before the token is looked at",
    async (name) => {
      const s = await scenario();
      const { token, calls } = await untouchedToken();
      for (const value of [undefined, ""]) {
        const params = exchangeParams(token);
        if (value === undefined) delete params[name];
        else params[name] = value;
        await expectOAuthError(
          await s.exchange(params),
          400,
          "invalid_request",
          "INVALID_REQUEST",
          `missing parameter "${name}"`,
        );
      }
      expect(await calls()).toEqual([]);
      expect(await s.calls()).toEqual([]);
    },
  );

  it.each(["grant_type", "subject_token", "subject_token_type", "requested_token_type", "scope", "audience"])(
    "a repeated %s is invalid_request, without echoing its values",
    async (name) => {
      const s = await scenario();
      const { token, calls } = await untouchedToken();
      const params = Object.entries(exchangeParams(token, { requested_token_type: ACCESS_TOKEN_TYPE })) as [
        string,
        string,
      ][];
      const value = params.find(([key]) => key === name)?.[1] as string;
      params.push([name, value]);
      const response = await s.exchange(params);
      const text = await response.clone().text();
      await expectOAuthError(
        response,
        400,
        "invalid_request",
        "INVALID_REQUEST",
        `parameter "${name}" given more than once`,
      );
      expect(text).not.toContain(token);
      expect(await calls()).toEqual([]);
    },
  );

  it("the body must be a form: JSON, no body, multipart and text are invalid_request", async () => {
    const s = await scenario();
    const { token, calls } = await untouchedToken();
    const params = exchangeParams(token);
    const cases: RequestInit[] = [
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(params) },
      { method: "POST", body: JSON.stringify(params) },
      {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: new URLSearchParams(params).toString(),
      },
      { method: "POST" },
    ];
    for (const init of cases) {
      await expectOAuthError(
        await s.send("/oauth/token", init),
        400,
        "invalid_request",
        "INVALID_REQUEST",
        "the request body must be application/x-www-form-urlencoded",
      );
    }
    const form = new FormData();
    for (const [key, value] of Object.entries(params)) form.append(key, value);
    await expectOAuthError(
      await s.send("/oauth/token", { method: "POST", body: form }),
      400,
      "invalid_request",
      "INVALID_REQUEST",
    );
    expect(await calls()).toEqual([]);
  });

  it("bad encoding and an oversized body are invalid_request", async () => {
    const s = await scenario();
    const form = (body: string | Uint8Array) =>
      s.send("/oauth/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body,
      });
    await expectOAuthError(
      await form("grant_type=%zz"),
      400,
      "invalid_request",
      "INVALID_REQUEST",
      'invalid URL escape "%zz"',
    );
    await expectOAuthError(await form("a=1;b=2"), 400, "invalid_request", "INVALID_REQUEST");
    await expectOAuthError(
      await form(new Uint8Array([0x61, 0x3d, 0xff])),
      400,
      "invalid_request",
      "INVALID_REQUEST",
    );
    await expectOAuthError(
      await form(`subject_token=${"a".repeat(17 * 1024)}`),
      400,
      "invalid_request",
      "INVALID_REQUEST",
      "request body too large",
    );
  });

  it("another grant_type is unsupported_grant_type (after the repeated-parameter check)", async () => {
    const s = await scenario();
    const { token, calls } = await untouchedToken();
    for (const grant of [
      "client_credentials",
      "refresh_token",
      "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ]) {
      await expectOAuthError(
        await s.exchange(exchangeParams(token, { grant_type: grant })),
        400,
        "unsupported_grant_type",
        "UNSUPPORTED_GRANT_TYPE",
        "unsupported grant_type",
      );
    }
    expect(await calls()).toEqual([]);
  });

  it("an actor_token (delegation) is invalid_request", async () => {
    const s = await scenario();
    const { token, calls } = await untouchedToken();
    for (const extra of <Record<string, string>[]>[
      { actor_token: token, actor_token_type: ID_TOKEN_TYPE },
      { actor_token: token },
      { actor_token_type: ID_TOKEN_TYPE },
    ]) {
      await expectOAuthError(
        await s.exchange(exchangeParams(token, extra)),
        400,
        "invalid_request",
        "INVALID_REQUEST",
        "actor_token is not supported (no delegation)",
      );
    }
    expect(await calls()).toEqual([]);
  });

  it("an unsupported subject_token_type or requested_token_type is invalid_request", async () => {
    const s = await scenario();
    const { token, calls } = await untouchedToken();
    for (const [name, value] of [
      ["subject_token_type", "urn:ietf:params:oauth:token-type:access_token"],
      ["subject_token_type", "urn:ietf:params:oauth:token-type:saml2"],
      ["requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"],
      ["requested_token_type", "urn:ietf:params:oauth:token-type:id_token"],
    ] as const) {
      const body = await expectOAuthError(
        await s.exchange(exchangeParams(token, { [name]: value })),
        400,
        "invalid_request",
        "INVALID_REQUEST",
      );
      expect(body.error_description).toContain(`unsupported ${name}`);
    }
    expect(await calls()).toEqual([]);
  });

  it("more than one space-separated scope is invalid_request (MULTIPLE_SCOPES)", async () => {
    const s = await scenario();
    await expectOAuthError(
      await s.exchange(exchangeParams(await mint(TOKEN_CLAIMS), { scope: "org/repo org/other" })),
      400,
      "invalid_request",
      "MULTIPLE_SCOPES",
      "multiple scopes not supported",
    );
  });

  it("any other method is 405 with Allow: POST and an invalid_request body", async () => {
    const s = await scenario();
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const response = await s.send("/oauth/token", { method });
      expect(response.headers.get("Allow")).toBe("POST");
      await expectOAuthError(response, 405, "invalid_request", "METHOD_NOT_ALLOWED", "Method Not Allowed");
    }
    const head = await s.send("/oauth/token", { method: "HEAD" });
    expect(head.status).toBe(405);
    expect(head.headers.get("Allow")).toBe("POST");
  });
});

describe("POST /oauth/token: every error class", () => {
  it("invalid_grant: the subject token is unreadable, unverifiable, expired, or not what the policy trusts", async () => {
    const s = await scenario();
    const [header, payload] = (await mint(TOKEN_CLAIMS)).split(".");
    const cases: [string, string][] = [
      ["not-a-jwt", "MALFORMED_TOKEN"],
      [`${header}.${payload}.${"A".repeat(342)}`, "SIGNATURE_INVALID"],
      [await mint({ ...TOKEN_CLAIMS, exp: Math.floor(Date.now() / 1000) - 60 }), "TOKEN_EXPIRED"],
      [await mint({ sub: "foo bar", aud: "octosts" }), "INVALID_TOKEN_CLAIMS"],
      [await mint({ sub: "bar", aud: "octosts" }), "SUBJECT_MISMATCH"],
      [await mint({ sub: "foo", aud: "elsewhere" }), "AUDIENCE_MISMATCH"],
    ];
    for (const [token, reason] of cases) {
      await expectOAuthError(await s.exchange(exchangeParams(token)), 400, "invalid_grant", reason);
    }
    const audit = output.audit();
    expect(audit.map((l) => [l.door, l.reason])).toEqual(cases.map(([, reason]) => ["oauth/token", reason]));
  });

  it("invalid_grant: an issuer outside the deployment allowlist", async () => {
    const s = await scenario({}, { ALLOWED_ISSUERS: "https://gitlab.com" });
    await expectOAuthError(
      await s.exchange(exchangeParams(await mint(TOKEN_CLAIMS))),
      400,
      "invalid_grant",
      "ISSUER_NOT_ALLOWED",
      "issuer not permitted by this deployment",
    );
  });

  it("invalid_target: the scope or the audience (identity) names nothing this token may have", async () => {
    const s = await scenario();
    const token = await mint(TOKEN_CLAIMS);
    const cases: [Record<string, string>, string, string][] = [
      [{ scope: "a/b/c" }, "INVALID_SCOPE", 'invalid scope "a/b/c"'],
      [{ audience: "../x" }, "INVALID_IDENTITY", 'invalid identity "../x"'],
      [{ scope: "nobody/repo" }, "NO_INSTALLATION", 'no installation found for "nobody"'],
      [{ audience: "missing" }, "POLICY_NOT_FOUND", 'unable to find trust policy for "missing"'],
    ];
    for (const [overrides, reason, description] of cases) {
      await expectOAuthError(
        await s.exchange(exchangeParams(token, overrides)),
        400,
        "invalid_target",
        reason,
        description,
      );
    }
    const ungrantable = await scenario({
      installations: [{ account: "org", permissions: { contents: "read" } }],
    });
    await expectOAuthError(
      await ungrantable.exchange(exchangeParams(token)),
      400,
      "invalid_target",
      "PERMISSION_NOT_GRANTABLE",
    );
  });

  it("temporarily_unavailable: GitHub rate limited (429) or down (503), each with Retry-After", async () => {
    const token = await mint(TOKEN_CLAIMS);
    const limited = await scenario();
    await github.addFault(limited.ghId, {
      path: "/repos/org/repo/contents/**",
      answer: "too-many-requests",
      retryAfter: 42,
    });
    const r429 = await limited.exchange(exchangeParams(token));
    expect(r429.headers.get("Retry-After")).toBe("42");
    await expectOAuthError(
      r429,
      429,
      "temporarily_unavailable",
      "RATE_LIMITED",
      'GitHub API rate limit exceeded for "foo"',
    );

    const down = await scenario();
    await github.addFault(down.ghId, { path: "/orgs/org/installation", answer: "server-error" });
    const r503 = await down.exchange(exchangeParams(token));
    expect(r503.headers.get("Retry-After")).toBe("30");
    await expectOAuthError(r503, 503, "temporarily_unavailable", "GITHUB_UNAVAILABLE", "GitHub unavailable");
  });

  it("temporarily_unavailable: the service's own limit (429, Retry-After: 60, limiter beside reason)", async () => {
    const refuse: RateLimiter = { limit: async () => ({ success: false }) };
    const s = await scenario({}, { CALLER_LIMITER: refuse });
    const response = await s.exchange(exchangeParams(await mint(TOKEN_CLAIMS)));
    expect(response.headers.get("Retry-After")).toBe("60");
    const body = await expectOAuthError(
      response,
      429,
      "temporarily_unavailable",
      "EXCHANGE_RATE_LIMITED",
      "too many token exchanges, retry later",
    );
    expect(body.limiter).toBe("caller");
    expect(Object.keys(body)).toEqual(["error", "error_description", "reason", "request_id", "limiter"]);
  });

  it("server_error: a misconfigured deployment (500, naming the setting), before the form is read", async () => {
    const rt = createRuntime(testEnv({ GITHUB_APP_ID: undefined }));
    const ctx = createExecutionContext();
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/oauth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      }),
      rt,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const body = await expectOAuthError(
      response,
      500,
      "server_error",
      "MISCONFIGURED",
      "server misconfigured: GITHUB_APP_ID",
    );
    // What is wrong with the setting, as a fixed phrase, beside the reason.
    expect((body as unknown as Record<string, unknown>).problem).toBe("not set");
    expect(output.audit()[0]).toMatchObject({ door: "oauth/token", reason: "MISCONFIGURED" });
  });

  it("server_error: an exception inside the exchange is INTERNAL, without its message or a stack", async () => {
    const s = await scenario();
    const broken = {
      ...s.rt,
      get oidc(): never {
        throw new TypeError("boom at src/somewhere.ts:1:1");
      },
    } as Runtime;
    const ctx = createExecutionContext();
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/oauth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(exchangeParams(await mint(TOKEN_CLAIMS))).toString(),
      }),
      broken,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const text = await response.clone().text();
    expect(text).not.toContain("boom");
    await expectOAuthError(response, 500, "server_error", "INTERNAL", "internal error");
    expect(output.audit()[0]).toMatchObject({
      door: "oauth/token",
      reason: "INTERNAL",
      detail: "unexpected TypeError",
    });
  });

  it("the one table maps every reason of the catalogue, and every temporarily_unavailable has a Retry-After", () => {
    expect(Object.keys(OAUTH_ERRORS).sort()).toEqual(Object.keys(CATALOGUE).sort());
    const expected: Record<string, Reason[]> = {
      invalid_grant: [
        "MALFORMED_TOKEN",
        "INVALID_ISSUER",
        "ISSUER_NOT_ALLOWED",
        "DISCOVERY_FAILED",
        "SIGNATURE_INVALID",
        "TOKEN_EXPIRED",
        "TOKEN_NOT_YET_VALID",
        "INVALID_TOKEN_CLAIMS",
        "ORG_ISSUER_NOT_ALLOWED",
        "ISSUER_MISMATCH",
        "SUBJECT_MISMATCH",
        "AUDIENCE_MISMATCH",
        "CLAIM_MISMATCH",
      ],
      invalid_target: [
        "SCOPE_REQUIRED",
        "INVALID_SCOPE",
        "IDENTITY_REQUIRED",
        "INVALID_IDENTITY",
        "NO_INSTALLATION",
        "POLICY_NOT_FOUND",
        "POLICY_FORBIDDEN",
        "PERMISSION_NOT_GRANTABLE",
        "ORG_ISSUERS_INVALID",
      ],
      temporarily_unavailable: [
        "RATE_LIMITED",
        "EXCHANGE_RATE_LIMITED",
        "ORG_ISSUERS_RATE_LIMITED",
        "GITHUB_UNAVAILABLE",
        "ORG_ISSUERS_UNAVAILABLE",
      ],
      server_error: ["MISCONFIGURED", "INTERNAL"],
    };
    for (const [error, reasons] of Object.entries(expected)) {
      for (const reason of reasons) expect(OAUTH_ERRORS[reason].error, reason).toBe(error);
    }
    for (const reason of ["INVALID_REQUEST", "MULTIPLE_SCOPES", "MISSING_BEARER"] as const) {
      expect(OAUTH_ERRORS[reason]).toEqual({ error: "invalid_request", status: 400 });
    }
    expect(OAUTH_ERRORS.METHOD_NOT_ALLOWED).toEqual({ error: "invalid_request", status: 405 });
    expect(OAUTH_ERRORS.UNSUPPORTED_GRANT_TYPE).toEqual({ error: "unsupported_grant_type", status: 400 });
    for (const [reason, entry] of Object.entries(OAUTH_ERRORS) as [
      Reason,
      { error: string; status: number },
    ][]) {
      if (["invalid_grant", "invalid_target", "unsupported_grant_type"].includes(entry.error))
        expect(entry.status, reason).toBe(400);
      if (entry.error === "server_error") expect(entry.status, reason).toBe(500);
      if (entry.error === "temporarily_unavailable") {
        expect([429, 503], reason).toContain(entry.status);
        expect(retryAfterOf(failure(reason)), reason).toBeGreaterThan(0);
      }
    }
    // The octo-sts table has the new reasons with their octo-sts statuses and codes.
    expect(CATALOGUE.UNSUPPORTED_GRANT_TYPE).toEqual({ status: 400, code: 3 });
    expect(CATALOGUE.EXCHANGE_RATE_LIMITED).toEqual({ status: 429, code: 8 });
    expect(retryAfterOf(failure("EXCHANGE_RATE_LIMITED", { retryAfterSeconds: 5 }))).toBe(60);
  });
});

describe("GET /.well-known/oauth-authorization-server", () => {
  async function metadata(domain: string, method = "GET") {
    const rt = testRuntime({ STS_DOMAIN: domain });
    return handle(
      new Request(`https://${TEST_DOMAIN}/.well-known/oauth-authorization-server`, { method }),
      rt,
      createExecutionContext(),
    );
  }

  it("names the https issuer and its token endpoint, token exchange only, no client authentication", async () => {
    const response = await metadata(TEST_DOMAIN);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("application/json");
    expect(await response.json()).toEqual({
      issuer: "https://sts.example.com",
      token_endpoint: "https://sts.example.com/oauth/token",
      grant_types_supported: [TOKEN_EXCHANGE_GRANT],
      token_endpoint_auth_methods_supported: ["none"],
      response_types_supported: [],
    });
  });

  it.each([
    ["localhost:8787", "http://localhost:8787"],
    ["127.0.0.1:9000", "http://127.0.0.1:9000"],
    ["[::1]:8443", "http://[::1]:8443"],
    ["localhost.example.com", "https://localhost.example.com"],
    ["sts.example.com:8443", "https://sts.example.com:8443"],
  ])("STS_DOMAIN %s: issuer %s", async (domain, issuer) => {
    expect(issuerOf(domain)).toBe(issuer);
    const body = (await (await metadata(domain)).json()) as { issuer: string; token_endpoint: string };
    expect(body).toMatchObject({ issuer, token_endpoint: `${issuer}/oauth/token` });
  });

  it("misconfigured: the octo-sts MISCONFIGURED body; another method: the octo-sts 501", async () => {
    const rt = createRuntime(testEnv({ GITHUB_APP_PRIVATE_KEY: "not a key" }));
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/.well-known/oauth-authorization-server`),
      rt,
      createExecutionContext(),
    );
    expect(response.status).toBe(500);
    const body = (await response.json()) as { code: number; message: string; details: { reason: string }[] };
    expect(body).toMatchObject({ code: 13, message: "server misconfigured: GITHUB_APP_PRIVATE_KEY" });
    expect(body.details[0]?.reason).toBe("MISCONFIGURED");

    const post = await metadata(TEST_DOMAIN, "POST");
    expect(post.status).toBe(501);
    expect(((await post.json()) as { details: { reason: string }[] }).details[0]?.reason).toBe(
      "METHOD_NOT_ALLOWED",
    );
  });
});

describe("a generic OAuth client (oauth4webapi)", () => {
  /** The library's fetch, answered by the Worker (what would cross the network in production). */
  function through(rt: Runtime): typeof fetch {
    return async (input, init) => {
      const ctx = createExecutionContext();
      const response = await handle(new Request(input, init), rt, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    };
  }

  const client: oauth.Client = { client_id: "ci" };

  it("discovers the Worker and exchanges an OIDC token for a GitHub token", async () => {
    const s = await scenario();
    const options = { [oauth.customFetch]: through(s.rt) };
    const issuer = new URL(`https://${TEST_DOMAIN}`);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...options }),
    );
    expect(as.token_endpoint).toBe(`https://${TEST_DOMAIN}/oauth/token`);

    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      TOKEN_EXCHANGE_GRANT,
      {
        subject_token: await mint(TOKEN_CLAIMS),
        subject_token_type: ID_TOKEN_TYPE,
        scope: "org/repo",
        audience: "foo",
      },
      options,
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.access_token).toMatch(/^ghs_/);
    expect(result.token_type).toBe("bearer");
    expect(result.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
    expect(result.expires_in).toBeGreaterThan(3500);
    expect(output.audit().at(-1)).toMatchObject({ door: "oauth/token", decision: "granted" });
  });

  it("reads a refusal as an RFC 6749 error (ResponseBodyError with error, description and status)", async () => {
    const s = await scenario();
    const options = { [oauth.customFetch]: through(s.rt) };
    const issuer = new URL(`https://${TEST_DOMAIN}`);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...options }),
    );
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      TOKEN_EXCHANGE_GRANT,
      {
        subject_token: await mint({ sub: "bar", aud: "octosts" }),
        subject_token_type: JWT_TOKEN_TYPE,
        scope: "org/repo",
        audience: "foo",
      },
      options,
    );
    const error = await oauth.processGenericTokenEndpointResponse(as, client, response).catch((e) => e);
    expect(error).toBeInstanceOf(oauth.ResponseBodyError);
    expect(error).toMatchObject({
      error: "invalid_grant",
      error_description: "token does not match trust policy",
      status: 400,
    });
  });

  it("needs allowInsecureRequests for a loopback (http) deployment, and then works", async () => {
    const s = await scenario({}, { STS_DOMAIN: "localhost:8787" });
    const issuer = new URL("http://localhost:8787");
    await expect(
      oauth.discoveryRequest(issuer, { algorithm: "oauth2", [oauth.customFetch]: through(s.rt) }),
    ).rejects.toMatchObject({ code: oauth.HTTP_REQUEST_FORBIDDEN });
    const options = { [oauth.customFetch]: through(s.rt), [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...options }),
    );
    expect(as.token_endpoint).toBe("http://localhost:8787/oauth/token");
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      TOKEN_EXCHANGE_GRANT,
      {
        subject_token: await mint(TOKEN_CLAIMS),
        subject_token_type: ID_TOKEN_TYPE,
        scope: "org/repo",
        audience: "foo",
      },
      options,
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.access_token).toMatch(/^ghs_/);
  });
});

/**
 * The whole Worker, end to end, inside workerd: the real entry (`handle` / the default export) against
 * the OIDC issuer double and the GitHub double. GitHub Actions tokens come from the hostname tenant
 * https://token.actions.githubusercontent.com (routed to the double by the outbound router), so the
 * production issuer URL is the one exercised; tests that count issuer calls or break the issuer use a
 * path tenant of their own.
 */

import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { handle } from "../../../src/app";
import worker from "../../../src/index";
import { sha256Hex } from "../../../src/platform/cache";
import type { Env } from "../../../src/platform/config";
import { createRuntime, type Runtime } from "../../../src/platform/runtime";
import type { TenantSetup } from "../../shared/github-double";
import type { CreatedIssuer } from "../../shared/issuer-double";
import {
  captureConsole,
  FOO_POLICY,
  github,
  issuers,
  TEST_APP_ID,
  TEST_DOMAIN,
  testEnv,
  testRuntime,
  USE_ACTION_POLICY,
  unique,
  VERIFY_PROD_POLICY,
} from "../helpers";
import { mintBodies, scenario } from "../scenario";

const ACTIONS = "https://token.actions.githubusercontent.com";

/** `foo` in the organization policy repository `my-policies`: the same, but `contents: read`. */
const MY_POLICIES_FOO = FOO_POLICY.replace("pull_requests: write", "contents: read");
/** A policy whose values must never be echoed to a caller. */
const SECRETIVE = `issuer: ${ACTIONS}
subject_pattern: repo:acme/deploy-tools:ref:refs/heads/(main|release-SECRET-[0-9]+)
claim_pattern:
  job_workflow_ref: acme/deploy-tools/\\.github/workflows/release\\.yaml@refs/heads/main
  environment: production-SECRET
permissions:
  contents: write
`;
const MAIN_ONLY = `issuer: ${ACTIONS}
subject: repo:acme/deploy-tools:ref:refs/heads/main
permissions:
  contents: read
  pull_requests: write
`;

const PUSH_CLAIMS = {
  sub: "repo:acme/deploy-tools:ref:refs/heads/main",
  aud: TEST_DOMAIN,
  ref: "refs/heads/main",
  repository: "acme/deploy-tools",
  repository_owner: "acme",
  repository_owner_id: "1234567",
  job_workflow_ref: "acme/deploy-tools/.github/workflows/release.yaml@refs/heads/main",
  workflow_ref: "acme/deploy-tools/.github/workflows/release.yaml@refs/heads/main",
  ref_protected: "true",
  event_name: "push",
  run_attempt: "1",
};

let actions: CreatedIssuer;
const output = captureConsole();

beforeAll(async () => {
  actions = await issuers.createIssuer({ host: "token.actions.githubusercontent.com" });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

function mint(claims: Record<string, unknown>, issuerId = actions.id): Promise<string> {
  return issuers.mintToken(issuerId, { claims });
}

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

interface ErrorBody {
  code: number;
  message: string;
  details: { "@type": string; reason: string; domain: string; metadata: Record<string, string> }[];
}

async function expectRefusal(
  response: Response,
  status: number,
  code: number,
  reason: string,
  message?: string,
) {
  const body = (await response.json()) as ErrorBody;
  expect({ status: response.status, code: body.code, reason: body.details[0]?.reason }).toEqual({
    status,
    code,
    reason,
  });
  if (message !== undefined) expect(body.message).toBe(message);
  expect(response.headers.get("X-Request-Id")).toBe(body.details[0]?.metadata.request_id);
  return body;
}

/** No response body or log line may carry a token, a JWT or the App key. */
function expectNoSecrets(texts: string[], secrets: string[]) {
  const jwtLike = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./;
  for (const text of texts) {
    expect(text).not.toMatch(jwtLike);
    expect(text).not.toMatch(/ghs_[A-Za-z0-9_]{10,}/);
    expect(text).not.toContain("PRIVATE KEY");
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
}

describe("the octo-sts/action and Chainguard SDK requests", () => {
  it("answers the action's GET (values not URL-encoded) with a token limited to the repository", async () => {
    const s = await scenario({
      installations: [{ account: "acme" }],
      repos: { "acme/deploy-tools": { files: { ".github/chainguard/release.sts.yaml": MAIN_ONLY } } },
    });
    const token = await mint(PUSH_CLAIMS);
    const response = await s.send(
      "/sts/exchange?scope=acme/deploy-tools&scopes=acme/deploy-tools&identity=release",
      bearer(token),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Content-Type")).toBe("application/json");
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ["access_token", "expires_in", "expiry", "refreshToken", "token", "token_type"].sort(),
    );
    expect(body.token).toMatch(/^ghs_/);
    expect(body.access_token).toBe(body.token);
    expect(body.token_type).toBe("bearer");
    expect(body.refreshToken).toBe("");

    const tokens = await github.tokens(s.ghId);
    const issued = tokens.find((t) => t.token === body.token);
    // Seconds from the service's clock (frozen in this test) to GitHub's expires_at: exact, whatever the load.
    expect(body.expires_in).toBe(Math.floor((Date.parse(issued?.expiresAt ?? "") - s.rt.clock.now()) / 1000));
    expect(body.expires_in).toBeGreaterThan(3500);
    expect(issued).toMatchObject({
      repositories: ["deploy-tools"],
      permissions: { contents: "read", pull_requests: "write" },
      revoked: false,
    });
    expect(body.expiry).toBe(issued?.expiresAt);
    // The read token was revoked; the caller's token was not.
    expect(tokens.filter((t) => t.token !== body.token).every((t) => t.revoked)).toBe(true);
    expect(mintBodies(await s.calls())).toEqual([
      // step 10: the organization's trusted-issuer file, with a token for ORG_POLICY_REPO only
      { repositories: [".github"], permissions: { contents: "read" } },
      { repositories: ["deploy-tools"], permissions: { contents: "read" } },
      { repositories: ["deploy-tools"], permissions: { contents: "read", pull_requests: "write" } },
    ]);

    // One audit line, with the SHA-256 the action prints as "Token hash".
    const audit = output.audit();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      decision: "granted",
      issuer: ACTIONS,
      subject: PUSH_CLAIMS.sub,
      scope: "acme/deploy-tools",
      identity: "release",
      permissions: { contents: "read", pull_requests: "write" },
      repositories: ["deploy-tools"],
      token_sha256: await sha256Hex(body.token as string),
      request_id: response.headers.get("X-Request-Id"),
    });
    expect(typeof audit[0]?.installation_id).toBe("number");
    expectNoSecrets(output.lines, [token, body.token as string]);
  });

  it("answers the Chainguard SDK's form POST with exactly the RawToken fields", async () => {
    const s = await scenario();
    const token = await mint({ sub: "foo", aud: ["octosts"] });
    const response = await s.send("/sts/exchange", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: "aud=does-not-matter&scope=org%2Frepo&scopes=org%2Frepo&identity=foo",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["token", "refreshToken", "expiry"]);
    expect(body.refreshToken).toBe("");
    expect(typeof body.expiry).toBe("string");
  });

  it("also works through the Worker's default export, with a bare JWT and a lowercase scheme", async () => {
    const s = await scenario();
    const token = await mint({ sub: "foo", aud: "octosts" });
    for (const authorization of [token, `bearer ${token}`]) {
      const ctx = createExecutionContext();
      const response = await worker.fetch(
        new Request(`https://${TEST_DOMAIN}/sts/exchange?scope=org/repo&identity=foo`, {
          headers: { Authorization: authorization },
        }),
        s.env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(response.status).toBe(200);
    }
  });
});

describe("the mint bodies octo-sts sends for its test policies", () => {
  const TOKEN_CLAIMS = { sub: "foo", aud: ["octosts"] };
  const setup: Partial<TenantSetup> = {
    installations: [{ account: "org" }],
    repos: {
      "org/repo": { files: { ".github/chainguard/foo.sts.yaml": FOO_POLICY } },
      "org/.github": { files: { ".github/chainguard/foo.sts.yaml": FOO_POLICY } },
      "org/my-policies": { files: { ".github/chainguard/foo.sts.yaml": MY_POLICIES_FOO } },
    },
  };

  it.each([
    ["org/repo", {}, { repositories: ["repo"], permissions: { pull_requests: "write" } }],
    ["org", {}, { permissions: { pull_requests: "write" } }],
    ["org", { ORG_POLICY_REPO: "my-policies" }, { permissions: { contents: "read" } }],
    ["org/.github", {}, { repositories: [".github"], permissions: { pull_requests: "write" } }],
  ] as const)("scope %s %j mints %j", async (scope, overrides, expected) => {
    const s = await scenario(setup, overrides);
    const response = await s.send(
      `/sts/exchange?scope=${scope}&identity=foo`,
      bearer(await mint(TOKEN_CLAIMS)),
    );
    expect(response.status).toBe(200);
    const calls = await s.calls();
    const bodies = mintBodies(calls);
    // The last mint is the caller's; its JSON is exactly what the policy grants.
    expect(JSON.stringify(bodies.at(-1))).toBe(JSON.stringify(expected));
  });

  it("an org policy's repositories are sent as written", async () => {
    const s = await scenario({
      installations: [{ account: "org" }],
      repos: {
        "org/.github": {
          files: {
            ".github/chainguard/foo.sts.yaml": `${FOO_POLICY}repositories:\n  - repo\n  - other\n`,
          },
        },
        "org/repo": {},
        "org/other": {},
      },
    });
    for (const scope of ["org", "org/.github"]) {
      const response = await s.send(
        `/sts/exchange?scope=${scope}&identity=foo`,
        bearer(await mint(TOKEN_CLAIMS)),
      );
      expect(response.status).toBe(200);
      expect(mintBodies(await s.calls()).at(-1)).toEqual({
        repositories: ["repo", "other"],
        permissions: { pull_requests: "write" },
      });
    }
  });

  it.each([
    [
      "verify-prod",
      "octo-sts/app",
      VERIFY_PROD_POLICY,
      "octo-sts/app/.github/workflows/verify-prod.yaml@refs/pull/1/merge",
      { pull_requests: "write" },
    ],
    [
      "use-action",
      "octo-sts/action",
      USE_ACTION_POLICY,
      "octo-sts/action/.github/workflows/use-action.yaml@refs/heads/main",
      { contents: "read" },
    ],
  ])(
    "the real policy %s grants its permissions and refuses another workflow",
    async (identity, repoFull, policy, workflowRef, permissions) => {
      const [owner, repo] = repoFull.split("/") as [string, string];
      const s = await scenario({
        installations: [{ account: owner }],
        repos: { [repoFull]: { files: { [`.github/chainguard/${identity}.sts.yaml`]: policy } } },
      });
      const claims = { sub: `repo:${repoFull}:pull_request`, aud: TEST_DOMAIN, workflow_ref: workflowRef };
      const ok = await s.send(
        `/sts/exchange?scope=${repoFull}&identity=${identity}`,
        bearer(await mint(claims)),
      );
      expect(ok.status).toBe(200);
      expect(mintBodies(await s.calls()).at(-1)).toEqual({ repositories: [repo], permissions });

      const other = await s.send(
        `/sts/exchange?scope=${repoFull}&identity=${identity}`,
        bearer(
          await mint({ ...claims, workflow_ref: `${repoFull}/.github/workflows/evil.yaml@refs/heads/main` }),
        ),
      );
      const body = await expectRefusal(other, 403, 7, "CLAIM_MISMATCH", "token does not match trust policy");
      expect(body.details[0]?.metadata.claim).toBe("workflow_ref");
    },
  );
});

describe("costs", () => {
  it("a cold exchange reads each cache key from KV once (the remembered-404 check hands its answer on)", async () => {
    const reads: string[] = [];
    const counting = {
      get: (key: string, type: never) => {
        reads.push(key);
        return env.STS_CACHE.get(key, type);
      },
      put: (key: string, value: string, options: never) => env.STS_CACHE.put(key, value, options),
      delete: (key: string) => env.STS_CACHE.delete(key),
    } as unknown as KVNamespace;
    const s = await scenario({}, { STS_CACHE: counting });
    const response = await s.send(
      "/sts/exchange?scope=org/repo&identity=foo",
      bearer(await mint({ sub: "foo", aud: "octosts" })),
    );
    expect(response.status).toBe(200);
    const policyReads = reads.filter((k) => k.startsWith("gh-policy:"));
    expect(policyReads).toHaveLength(1);
    // Eviction markers (docs/webhook.md, "Eviction") are read twice by a cold read that stores: before
    // it reads GitHub and after its write. Every cache entry is read once.
    const entries = reads.filter((k) => !k.includes("~evicted:"));
    expect(new Set(entries).size).toBe(entries.length);
    const markers = reads.filter((k) => k.includes("~evicted:"));
    for (const key of new Set(markers)) expect(markers.filter((k) => k === key)).toHaveLength(2);
  });

  it("a warm exchange costs exactly one GitHub call (the mint) and no issuer call", async () => {
    const issuer = await issuers.createIssuer({ name: unique("warm") });
    const policy = FOO_POLICY.replace(ACTIONS, issuer.issuer);
    const s = await scenario({
      repos: { "org/repo": { files: { ".github/chainguard/foo.sts.yaml": policy } } },
    });
    const claims = { sub: "foo", aud: "octosts" };
    const cold = await s.send(
      "/sts/exchange?scope=org/repo&identity=foo",
      bearer(await mint(claims, issuer.id)),
    );
    expect(cold.status).toBe(200);
    const coldGitHub = (await s.calls()).length;
    const coldIssuer = (await issuers.calls(issuer.id)).length;
    // installation (orgs), trusted-issuer read-token mint (422: the owner has no .github repository,
    // so every issuer is allowed), policy read-token mint, contents read, revoke, mint; discovery and JWKS.
    expect(coldGitHub).toBe(6);
    expect(coldIssuer).toBe(2);

    const warmToken = await mint(claims, issuer.id);
    await github.clearCalls(s.ghId);
    await issuers.clearCalls(issuer.id);
    const warm = await s.send("/sts/exchange?scope=org/repo&identity=foo", bearer(warmToken));
    expect(warm.status).toBe(200);
    const warmCalls = await s.calls();
    expect(warmCalls.map((c) => `${c.method} ${c.path}`)).toEqual([
      expect.stringMatching(/^POST \/app\/installations\/\d+\/access_tokens$/),
    ]);
    expect(await issuers.calls(issuer.id)).toEqual([]);

    // A new isolate with a warm KV: no issuer request and no installation lookup.
    const fresh = createRuntime(s.env, { clock: s.rt.clock });
    await github.clearCalls(s.ghId);
    const ctx = createExecutionContext();
    const again = await handle(
      new Request(
        `https://${TEST_DOMAIN}/sts/exchange?scope=org/repo&identity=foo`,
        bearer(await mint(claims, issuer.id)),
      ),
      fresh,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(again.status).toBe(200);
    expect((await s.calls()).map((c) => c.method)).toEqual(["POST"]);
    expect(await issuers.calls(issuer.id)).toEqual([]);
  });

  it("two concurrent identical exchanges get two different tokens (nothing caches or shares a token)", async () => {
    const s = await scenario();
    const jwt = bearer(await mint({ sub: "foo", aud: "octosts" }));
    // Warm first, so both concurrent exchanges go straight to the mint with the same policy.
    expect((await s.send("/sts/exchange?scope=org/repo&identity=foo", jwt)).status).toBe(200);
    const [a, b] = await Promise.all([
      s.send("/sts/exchange?scope=org/repo&identity=foo", jwt),
      s.send("/sts/exchange?scope=org/repo&identity=foo", jwt),
    ]);
    const ta = ((await a.json()) as { token: string }).token;
    const tb = ((await b.json()) as { token: string }).token;
    expect(ta).toMatch(/^ghs_/);
    expect(tb).toMatch(/^ghs_/);
    expect(ta).not.toBe(tb);
  });
});

describe("refusals: the reason, status, code and message of each", () => {
  it("a token with GitHub's default audience is refused with a message that says how to fix it", async () => {
    const s = await scenario({
      installations: [{ account: "acme" }],
      repos: { "acme/deploy-tools": { files: { ".github/chainguard/release.sts.yaml": MAIN_ONLY } } },
    });
    const response = await s.send(
      "/sts/exchange?scope=acme/deploy-tools&identity=release",
      bearer(await mint({ ...PUSH_CLAIMS, aud: "https://github.com/acme" })),
    );
    await expectRefusal(
      response,
      403,
      7,
      "AUDIENCE_MISMATCH",
      `token does not match trust policy: token audience does not include "${TEST_DOMAIN}"; request the OIDC token with audience=${TEST_DOMAIN} or set audience in the policy`,
    );
    expect(mintBodies(await s.calls())).toHaveLength(2); // the two read tokens only
  });

  it("a mismatch never echoes a value from the policy, and nothing secret is logged", async () => {
    const s = await scenario({
      installations: [{ account: "acme" }],
      repos: { "acme/deploy-tools": { files: { ".github/chainguard/release.sts.yaml": SECRETIVE } } },
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ ...PUSH_CLAIMS, sub: "repo:acme/deploy-tools:pull_request" }, "SUBJECT_MISMATCH"],
      [{ ...PUSH_CLAIMS, environment: "staging" }, "CLAIM_MISMATCH"],
      [{ ...PUSH_CLAIMS }, "CLAIM_MISMATCH"], // environment missing
      [{ ...PUSH_CLAIMS, environment: 7 }, "CLAIM_MISMATCH"],
      [{ ...PUSH_CLAIMS, aud: "someone-else" }, "AUDIENCE_MISMATCH"],
    ];
    const texts: string[] = [];
    for (const [claims, reason] of cases) {
      const token = await mint(claims);
      const response = await s.send("/sts/exchange?scope=acme/deploy-tools&identity=release", bearer(token));
      const text = await response.clone().text();
      texts.push(text);
      const body = await expectRefusal(response, 403, 7, reason);
      expect(body.message.startsWith("token does not match trust policy")).toBe(true);
      expect(text).not.toContain("SECRET");
      expect(text).not.toContain("release\\\\.yaml");
      expect(text).not.toContain("production");
      expectNoSecrets([...output.lines, text], [token]);
    }
    const audit = output.audit();
    expect(audit).toHaveLength(cases.length);
    for (const line of audit) {
      expect(line.decision).toBe("refused");
      expect(JSON.stringify(line)).not.toContain("SECRET");
    }
  });

  it("an issuer or subject mismatch is refused", async () => {
    const other = await issuers.createIssuer({ name: unique("other") });
    const s = await scenario();
    await expectRefusal(
      await s.send(
        "/sts/exchange?scope=org/repo&identity=foo",
        bearer(await mint({ sub: "foo", aud: "octosts" }, other.id)),
      ),
      403,
      7,
      "ISSUER_MISMATCH",
      "token does not match trust policy",
    );
    await expectRefusal(
      await s.send(
        "/sts/exchange?scope=org/repo&identity=foo",
        bearer(await mint({ sub: "bar", aud: "octosts" })),
      ),
      403,
      7,
      "SUBJECT_MISMATCH",
      "token does not match trust policy",
    );
  });

  it("request-level refusals come before any GitHub or issuer call", async () => {
    const s = await scenario();
    const good = await mint({ sub: "foo", aud: "octosts" });
    const checks: [string, RequestInit, number, number, string, string][] = [
      [
        "?scopes=a/b&scopes=c/d&identity=x",
        bearer(good),
        400,
        3,
        "MULTIPLE_SCOPES",
        "multiple scopes not supported",
      ],
      [
        "?scope=org/repo&identity=a&identity=b",
        bearer(good),
        400,
        3,
        "INVALID_REQUEST",
        'too many values for field "identity": a, b',
      ],
      ["?scope=org%zz&identity=foo", bearer(good), 400, 3, "INVALID_REQUEST", 'invalid URL escape "%zz"'],
      [
        "?scope=org/repo&identity=foo",
        {},
        401,
        16,
        "MISSING_BEARER",
        "expected exactly one authorization header",
      ],
      [
        "?scope=org/repo&identity=foo",
        bearer("not-a-jwt"),
        400,
        3,
        "MALFORMED_TOKEN",
        "invalid bearer token",
      ],
      ["?scope=&identity=foo", bearer(good), 400, 3, "SCOPE_REQUIRED", "scope must be provided"],
      ["?scope=org/repo", bearer(good), 400, 3, "IDENTITY_REQUIRED", "identity must be provided"],
      ["?scope=a/b/c&identity=foo", bearer(good), 400, 3, "INVALID_SCOPE", 'invalid scope "a/b/c"'],
      ["?scope=org/repo&identity=../x", bearer(good), 400, 3, "INVALID_IDENTITY", 'invalid identity "../x"'],
    ];
    for (const [query, init, status, code, reason, message] of checks) {
      const response = await s.send(`/sts/exchange${query}`, init);
      await expectRefusal(response, status, code, reason, message);
      if (status === 401)
        expect(response.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
    }
    expect(await s.calls()).toEqual([]);
  });

  it("token-level refusals: issuer format, discovery, signature, expiry", async () => {
    const s = await scenario();
    const broken = await issuers.createIssuer({ name: unique("broken") });
    await issuers.setBehaviour(broken.id, { discovery: { status: 500 } });
    const [header, payload] = (await mint({ sub: "foo", aud: "octosts" })).split(".");
    const forged = `${header}.${payload}.${"A".repeat(342)}`;
    const b64 = (o: unknown) =>
      btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const badIssuer = `${b64({ alg: "RS256" })}.${b64({ iss: "http://evil.example.com", sub: "x" })}.sig`;
    const checks: [string, number, number, string, string][] = [
      [badIssuer, 400, 3, "INVALID_ISSUER", "invalid issuer format"],
      [
        await mint({ sub: "foo", aud: "octosts" }, broken.id),
        400,
        3,
        "DISCOVERY_FAILED",
        "unable to fetch or create the provider",
      ],
      [forged, 401, 16, "SIGNATURE_INVALID", "unable to verify bearer token"],
      [
        await issuers.mintToken(actions.id, { claims: { sub: "foo", aud: "octosts" }, expiresIn: -10 }),
        401,
        16,
        "TOKEN_EXPIRED",
        "unable to verify bearer token",
      ],
    ];
    for (const [token, status, code, reason, message] of checks) {
      const response = await s.send("/sts/exchange?scope=org/repo&identity=foo", bearer(token));
      const body = await expectRefusal(response, status, code, reason, message);
      // Nothing of the issuer's answer (its 500) leaks; the random request id may contain "500" itself.
      const withoutIds = { ...body, details: body.details.map((d) => ({ ...d, metadata: {} })) };
      expect(JSON.stringify(withoutIds)).not.toContain("500");
    }
    expect(await s.calls()).toEqual([]);
  });

  it("ISSUER_NOT_ALLOWED before anything is fetched", async () => {
    const elsewhere = await issuers.createIssuer({ name: unique("elsewhere") });
    const s = await scenario({}, { ALLOWED_ISSUERS: ACTIONS });
    const response = await s.send(
      "/sts/exchange?scope=org/repo&identity=foo",
      bearer(await mint({ sub: "foo", aud: "octosts" }, elsewhere.id)),
    );
    await expectRefusal(response, 403, 7, "ISSUER_NOT_ALLOWED", "issuer not permitted by this deployment");
    expect(await issuers.calls(elsewhere.id)).toEqual([]);
  });

  it("a token whose own sub, aud or iss is malformed is refused before any GitHub call (step 6)", async () => {
    const s = await scenario();
    const google = await issuers.createIssuer({ host: "accounts.google.com" });
    const cases: [string, string][] = [
      [await mint({ sub: "foo bar", aud: "octosts" }), "invalid subject in token"],
      [await mint({ sub: "foo", aud: ["octosts", "x@y"] }), "invalid audience in token"],
      [
        await mint({ iss: "accounts.google.com", sub: "foo", aud: "octosts" }, google.id),
        "invalid issuer in token",
      ],
    ];
    for (const [token, message] of cases) {
      const response = await s.send("/sts/exchange?scope=org/repo&identity=nonexistent", bearer(token));
      await expectRefusal(response, 400, 3, "INVALID_TOKEN_CLAIMS", message);
    }
    expect(await s.calls()).toEqual([]);
  });

  it("no installation, missing policy (remembered), unparsable and uncompilable policies", async () => {
    const s = await scenario({
      repos: {
        "org/repo": {
          files: {
            ".github/chainguard/foo.sts.yaml": FOO_POLICY,
            ".github/chainguard/typo.sts.yaml": FOO_POLICY.replace("pull_requests", "pull-requests"),
            ".github/chainguard/both.sts.yaml": `issuer_pattern: .*\n${FOO_POLICY}`,
            ".github/chainguard/badre.sts.yaml": FOO_POLICY.replace(
              "subject: foo",
              "subject_pattern: (a\\1)",
            ),
          },
        },
      },
    });
    const token = await mint({ sub: "foo", aud: "octosts" });
    await expectRefusal(
      await s.send("/sts/exchange?scope=nobody/repo&identity=foo", bearer(token)),
      404,
      5,
      "NO_INSTALLATION",
      'no installation found for "nobody"',
    );
    for (const identity of ["missing", "typo", "both", "badre"]) {
      await expectRefusal(
        await s.send(`/sts/exchange?scope=org/repo&identity=${identity}`, bearer(token)),
        404,
        5,
        "POLICY_NOT_FOUND",
        `unable to find trust policy for "${identity}"`,
      );
    }
    const details = output.audit().map((l) => l.detail);
    expect(details.some((d) => typeof d === "string" && /parse/.test(d))).toBe(true);
    expect(details.some((d) => typeof d === "string" && /compile/.test(d))).toBe(true);

    // The 404 is remembered: no GitHub call at all the second time.
    await github.clearCalls(s.ghId);
    await expectRefusal(
      await s.send("/sts/exchange?scope=org/repo&identity=missing", bearer(token)),
      404,
      5,
      "POLICY_NOT_FOUND",
    );
    expect(await s.calls()).toEqual([]);
  });

  it("GitHub's refusals and outages map to the catalogue", async () => {
    const token = await mint({ sub: "foo", aud: "octosts" });
    const path = "/sts/exchange?scope=org/repo&identity=foo";

    const limited = await scenario();
    await github.addFault(limited.ghId, {
      path: "/repos/org/repo/contents/**",
      answer: "too-many-requests",
      retryAfter: 42,
    });
    const r429 = await limited.send(path, bearer(token));
    await expectRefusal(r429, 429, 8, "RATE_LIMITED", 'GitHub API rate limit exceeded for "foo"');
    expect(r429.headers.get("Retry-After")).toBe("42");

    const forbidden = await scenario();
    await github.addFault(forbidden.ghId, { path: "/repos/org/repo/contents/**", answer: "forbidden" });
    await expectRefusal(
      await forbidden.send(path, bearer(token)),
      403,
      7,
      "POLICY_FORBIDDEN",
      'permission denied reading trust policy for "foo"',
    );

    const ungrantable = await scenario({
      installations: [{ account: "org", permissions: { contents: "read" } }],
    });
    await expectRefusal(
      await ungrantable.send(path, bearer(token)),
      403,
      7,
      "PERMISSION_NOT_GRANTABLE",
      "token exchange failure (StatusUnprocessableEntity)",
    );

    const down = await scenario();
    await github.addFault(down.ghId, { path: "/orgs/org/installation", answer: "server-error" });
    const r503 = await down.send(path, bearer(token));
    await expectRefusal(r503, 503, 14, "GITHUB_UNAVAILABLE", "GitHub unavailable");
    expect(Number(r503.headers.get("Retry-After"))).toBeGreaterThan(0);
  });
});

describe("configuration and routes", () => {
  it("a misconfigured deployment answers 500 naming the setting, and never mints", async () => {
    const token = await mint({ sub: "foo", aud: "octosts" });
    const cases: [Partial<Env>, string, string][] = [
      [{ STS_DOMAIN: undefined }, "STS_DOMAIN", "not set"],
      [{ GITHUB_APP_ID: undefined }, "GITHUB_APP_ID", "not set"],
      [{ GITHUB_APP_PRIVATE_KEY: "not a key" }, "GITHUB_APP_PRIVATE_KEY", "not a PEM private key"],
      [{ STS_CACHE: undefined }, "STS_CACHE", "the KV namespace binding is missing"],
    ];
    for (const [overrides, setting, problem] of cases) {
      const ctx = createExecutionContext();
      const rt = createRuntime(testEnv(overrides));
      const response = await handle(
        new Request(`https://${TEST_DOMAIN}/sts/exchange?scope=org/repo&identity=foo`, bearer(token)),
        rt,
        ctx,
      );
      const body = await expectRefusal(
        response,
        500,
        13,
        "MISCONFIGURED",
        `server misconfigured: ${setting}`,
      );
      expect(body.details[0]?.metadata).toEqual({
        request_id: body.details[0]?.metadata.request_id,
        problem,
      });
      const health = await handle(
        new Request(`https://${TEST_DOMAIN}/healthz`),
        rt,
        createExecutionContext(),
      );
      expect(health.status).toBe(503);
      const healthBody = (await health.json()) as ErrorBody;
      expect(healthBody.message).toBe(`server misconfigured: ${setting}`);
      expect(healthBody.details[0]?.metadata.problem).toBe(problem);
    }
  });

  it("a misconfigured deployment still names STS_DOMAIN as the ErrorInfo domain, on /healthz too", async () => {
    const rt = createRuntime(testEnv({ GITHUB_APP_PRIVATE_KEY: "not a key" }));
    for (const path of ["/sts/exchange?scope=org/repo&identity=foo", "/healthz"]) {
      const response = await handle(
        new Request(`https://worker.example.net${path}`),
        rt,
        createExecutionContext(),
      );
      const body = (await response.json()) as ErrorBody;
      expect(body.message).toBe("server misconfigured: GITHUB_APP_PRIVATE_KEY");
      expect(body.details[0]?.domain).toBe(TEST_DOMAIN);
    }
    // Without STS_DOMAIN there is no configured domain: the host the request was sent to stands in.
    const noDomain = await handle(
      new Request("https://worker.example.net/healthz"),
      createRuntime(testEnv({ STS_DOMAIN: " " })),
      createExecutionContext(),
    );
    expect(((await noDomain.json()) as ErrorBody).details[0]?.domain).toBe("worker.example.net");
  });

  it("an unexpected exception outside the exchange is the catalogue's 500, with X-Request-Id, never a stack", async () => {
    const rt = testRuntime();
    const broken = {
      ...rt,
      get config(): never {
        throw new TypeError("boom at src/somewhere.ts:1:1");
      },
    } as Runtime;
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/healthz`),
      broken,
      createExecutionContext(),
    );
    expect(response.status).toBe(500);
    expect(response.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    const text = await response.text();
    expect(text).not.toContain("boom");
    const body = JSON.parse(text) as ErrorBody;
    expect(body.code).toBe(13);
    expect(body.details[0]?.reason).toBe("INTERNAL");
    expect(body.details[0]?.metadata.request_id).toBe(response.headers.get("X-Request-Id"));
  });

  it("a key that parses but is not an RSA key is a misconfiguration at signing time, not a 500 crash", async () => {
    // A well-formed DER SEQUENCE that Web Crypto cannot import.
    const junk = `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(0x30, 0x03, 0x02, 0x01, 0x00))}\n-----END PRIVATE KEY-----`;
    const s = await scenario({}, { GITHUB_APP_PRIVATE_KEY: junk });
    const response = await s.send(
      "/sts/exchange?scope=org/repo&identity=foo",
      bearer(await mint({ sub: "foo", aud: "octosts" })),
    );
    const body = await expectRefusal(
      response,
      500,
      13,
      "MISCONFIGURED",
      "server misconfigured: GITHUB_APP_PRIVATE_KEY",
    );
    expect(body.details[0]?.metadata.problem).toBe("key does not import");
    expect(mintBodies(await s.calls())).toEqual([]);
  });

  it("answers the other routes as upstream", async () => {
    const s = await scenario();
    await expectRefusal(
      await s.send("/sts/exchange_refresh_token", { method: "POST" }),
      501,
      12,
      "REFRESH_NOT_SUPPORTED",
      "octo-sts does not support refresh tokens",
    );
    await expectRefusal(
      await s.send("/sts/exchange", { method: "PUT" }),
      501,
      12,
      "METHOD_NOT_ALLOWED",
      "Method Not Allowed",
    );
    await expectRefusal(await s.send("/webhook", { method: "POST" }), 404, 5, "NOT_FOUND", "Not Found");
    const root = await s.send("/");
    expect(root.status).toBe(200);
    expect(root.headers.get("X-Request-Id")).not.toBeNull();
  });
});

describe("real hostnames", () => {
  it("exchanges against https://api.github.com through the outbound router", async () => {
    const owner = unique("hostorg");
    await github.setupTenant("api.github.com", {
      appId: TEST_APP_ID,
      host: "api.github.com",
      installations: [{ account: owner }],
      repos: {
        [`${owner}/svc`]: {
          files: { ".github/chainguard/ci.sts.yaml": MAIN_ONLY.replace("acme/deploy-tools", `${owner}/svc`) },
        },
      },
    });
    const rt = testRuntime();
    const ctx = createExecutionContext();
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/sts/exchange?scope=${owner}/svc&scopes=${owner}/svc&identity=ci`, {
        headers: {
          Authorization: `Bearer ${await mint({ ...PUSH_CLAIMS, sub: `repo:${owner}/svc:ref:refs/heads/main` })}`,
        },
      }),
      rt,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { token: string }).token).toMatch(/^ghs_/);
  });
});

import { createExecutionContext, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { handle, ROOT_MESSAGE } from "../../../src/app";
import { CATALOGUE, failure, messageOf, type Reason } from "../../../src/errors/catalogue";
import { errorResponse } from "../../../src/errors/grpc";
import worker from "../../../src/index";
import { CacheFactory } from "../../../src/platform/cache";
import { ManualClock } from "../../../src/platform/clock";
import { loadConfig } from "../../../src/platform/config";
import { createRuntime } from "../../../src/platform/runtime";
import { TEST_DOMAIN, testEnv, testRuntime } from "../helpers";

afterEach(async () => {
  await reset();
});

describe("configuration", () => {
  it("accepts a complete configuration with defaults", () => {
    const config = loadConfig(testEnv());
    expect(config.ok).toBe(true);
    if (!config.ok) return;
    expect(config.value.githubBaseUrl).toBe("https://api.github.com");
    expect(config.value.orgPolicyRepo).toBe(".github");
    expect(config.value.issuerAllowlist).toBeNull();
    expect(config.value.privateKeyPkcs8Pem).toContain("BEGIN PRIVATE KEY");
  });

  it.each([
    ["STS_DOMAIN", { STS_DOMAIN: "" }],
    ["STS_DOMAIN", { STS_DOMAIN: undefined }],
    ["GITHUB_APP_ID", { GITHUB_APP_ID: undefined }],
    ["GITHUB_APP_ID", { GITHUB_APP_ID: "12ab" }],
    ["GITHUB_APP_PRIVATE_KEY", { GITHUB_APP_PRIVATE_KEY: undefined }],
    [
      "GITHUB_APP_PRIVATE_KEY",
      {
        GITHUB_APP_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----",
      },
    ],
    ["GITHUB_BASE_URL", { GITHUB_BASE_URL: "http://github.example.com/api/v3" }],
    ["GITHUB_BASE_URL", { GITHUB_BASE_URL: "https://github.example.com/api/v3?x=1" }],
    ["ORG_POLICY_REPO", { ORG_POLICY_REPO: "" }],
    ["ORG_POLICY_REPO", { ORG_POLICY_REPO: "a/b" }],
    ["ALLOWED_ISSUERS", { ALLOWED_ISSUERS: "https://ok.example.com,http://evil.example.com" }],
    ["ALLOWED_ISSUERS", { ALLOWED_ISSUERS: '["unterminated' }],
    [
      "ALLOWED_ISSUERS",
      { ALLOWED_ISSUERS: Array.from({ length: 65 }, (_, i) => `https://i${i}.example.com`) },
    ],
    ["ALLOWED_ISSUER_PATTERNS", { ALLOWED_ISSUER_PATTERNS: '["https://(unclosed"]' }],
    ["ALLOWED_ISSUER_PATTERNS", { ALLOWED_ISSUER_PATTERNS: "https://not-json" }],
    ["ALLOWED_ISSUER_PATTERNS", { ALLOWED_ISSUER_PATTERNS: JSON.stringify(["x".repeat(257)]) }],
    ["STS_CACHE", { STS_CACHE: undefined }],
  ])("names %s when it is wrong", (setting, overrides) => {
    const config = loadConfig(testEnv(overrides as never));
    expect(config.ok).toBe(false);
    if (config.ok) return;
    expect(config.failure.reason).toBe("MISCONFIGURED");
    expect(messageOf(config.failure, TEST_DOMAIN)).toBe(`server misconfigured: ${setting}`);
  });

  it.each([
    [{ STS_DOMAIN: " " }, "not set"],
    [{ GITHUB_APP_ID: undefined }, "not set"],
    [{ GITHUB_APP_ID: "12ab" }, "not a numeric App id"],
    [{ GITHUB_APP_PRIVATE_KEY: "" }, "not set"],
    [{ GITHUB_APP_PRIVATE_KEY: "ghp_notakey" }, "not a PEM private key"],
    [
      {
        GITHUB_APP_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----",
      },
      "PEM body is not base64 DER",
    ],
    [
      { GITHUB_APP_PRIVATE_KEY: "-----BEGIN EC PRIVATE KEY-----\nMAMCAQA=\n-----END EC PRIVATE KEY-----" },
      "not an RSA private key",
    ],
    [{ GITHUB_BASE_URL: "http://github.example.com/api/v3" }, "not an https URL without query or fragment"],
    [{ ORG_POLICY_REPO: "a/b" }, "not a repository name"],
    [{ ALLOWED_ISSUERS: "," }, "set but lists no issuer"],
    [{ ALLOWED_ISSUERS: "https://ok.example.com,http://evil.example.com" }, "entry 2 is invalid"],
    [{ ALLOWED_ISSUER_PATTERNS: '["https://(unclosed"]' }, "pattern 1 is invalid"],
    [{ STS_CACHE: undefined }, "the KV namespace binding is missing"],
  ])("says what is wrong in a fixed phrase that never quotes the value (%o: %s)", (overrides, problem) => {
    const config = loadConfig(testEnv(overrides as never));
    if (config.ok) throw new Error("accepted");
    expect(config.failure.args.problem).toBe(problem);
    // The audit detail names the setting and the same phrase first.
    expect(config.failure.detail).toContain(`${config.failure.args.setting}: ${problem}`);
  });

  it("parses the allowlists in both list forms and keeps the base URL path", () => {
    const config = loadConfig(
      testEnv({
        ALLOWED_ISSUERS: " https://token.actions.githubusercontent.com , https://gitlab.com",
        ALLOWED_ISSUER_PATTERNS: ["https://oidc\\.eks\\.[a-z0-9-]+\\.amazonaws\\.com/id/[A-Z0-9]+"],
        GITHUB_BASE_URL: "https://github.example.com/api/v3/",
        GITHUB_APP_PRIVATE_KEY: env.TEST_APP_KEY_PKCS8.replace(/\n/g, "\\n"),
      }),
    );
    expect(config.ok).toBe(true);
    if (!config.ok) return;
    expect(config.value.issuerAllowlist?.issuers).toEqual([
      "https://token.actions.githubusercontent.com",
      "https://gitlab.com",
    ]);
    expect(
      config.value.issuerAllowlist?.patterns[0]?.test("https://oidc.eks.us-west-2.amazonaws.com/id/ABC1"),
    ).toBe(true);
    expect(config.value.githubBaseUrl).toBe("https://github.example.com/api/v3");
  });
});

describe("errors", () => {
  it("covers every reason with a status, a code and a message", () => {
    for (const reason of Object.keys(CATALOGUE) as Reason[]) {
      expect(messageOf(failure(reason), TEST_DOMAIN)).not.toBe("");
    }
  });

  it("renders the upstream body with ErrorInfo, request id and WWW-Authenticate on 401", async () => {
    const response = errorResponse(failure("SIGNATURE_INVALID", {}, "kid xyz unknown"), {
      requestId: "req-1",
      domain: TEST_DOMAIN,
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
    expect(response.headers.get("X-Request-Id")).toBe("req-1");
    const body = await response.json();
    expect(body).toEqual({
      code: 16,
      message: "unable to verify bearer token",
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "SIGNATURE_INVALID",
          domain: TEST_DOMAIN,
          metadata: { request_id: "req-1" },
        },
      ],
    });
    expect(JSON.stringify(body)).not.toContain("kid xyz");
  });

  it("adds the audience hint and the claim name without policy values", async () => {
    const hinted = failure("AUDIENCE_MISMATCH", { audienceHint: true });
    expect(messageOf(hinted, TEST_DOMAIN)).toBe(
      `token does not match trust policy: token audience does not include "${TEST_DOMAIN}"; request the OIDC token with audience=${TEST_DOMAIN} or set audience in the policy`,
    );
    const claim = errorResponse(failure("CLAIM_MISMATCH", { claimName: "workflow_ref" }), {
      requestId: "r",
      domain: TEST_DOMAIN,
    });
    const body = (await claim.json()) as { message: string; details: { metadata: Record<string, string> }[] };
    expect(claim.status).toBe(403);
    expect(body.message).toBe("token does not match trust policy");
    expect(body.details[0]?.metadata.claim).toBe("workflow_ref");
  });

  it("sends Retry-After on rate limits and GitHub outages", () => {
    const limited = errorResponse(failure("RATE_LIMITED", { identity: "ci", retryAfterSeconds: 12.2 }), {
      requestId: "r",
      domain: TEST_DOMAIN,
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toBe("13");
    const down = errorResponse(failure("GITHUB_UNAVAILABLE"), { requestId: "r", domain: TEST_DOMAIN });
    expect(down.status).toBe(503);
    expect(Number(down.headers.get("Retry-After"))).toBeGreaterThan(0);
  });
});

describe("two-tier cache", () => {
  it("serves from memory, then from KV in a new isolate, and honours the stored expiry", async () => {
    const clock = new ManualClock(1_000_000);
    const first = new CacheFactory(clock, env.STS_CACHE).create<string>({ name: "t1", memoryEntries: 10 });
    await first.put("k", "v", { ttlMs: 60_000 });
    expect(await first.get("k")).toEqual({ value: "v", fresh: true, from: "memory" });

    const second = new CacheFactory(clock, env.STS_CACHE).create<string>({ name: "t1", memoryEntries: 10 });
    expect(await second.get("k")).toEqual({ value: "v", fresh: true, from: "kv" });

    clock.advance(60_001);
    expect(await second.get("k")).toBeUndefined();
    expect(
      await new CacheFactory(clock, env.STS_CACHE).create({ name: "t1", memoryEntries: 1 }).get("k"),
    ).toBeUndefined();
  });

  it("serves a stale copy only when asked, and caps memory lifetime", async () => {
    const clock = new ManualClock(1_000_000);
    const tier = new CacheFactory(clock, env.STS_CACHE).create<string>({
      name: "t2",
      memoryEntries: 10,
      memoryMaxMs: 1000,
    });
    await tier.put("k", "v", { ttlMs: 5_000, staleMs: 60_000 });
    clock.advance(1_500);
    expect((await tier.get("k"))?.from).toBe("kv");
    clock.advance(10_000);
    expect(await tier.get("k")).toBeUndefined();
    expect(await tier.get("k", { allowStale: true })).toEqual({ value: "v", fresh: false, from: "kv" });
  });

  it("keeps memory-only tiers out of KV", async () => {
    const clock = new ManualClock();
    await new CacheFactory(clock, env.STS_CACHE)
      .create<string>({ name: "neg", memoryEntries: 10, kv: false })
      .put("k", "v", { ttlMs: 60_000 });
    expect(
      await new CacheFactory(clock, env.STS_CACHE)
        .create<string>({ name: "neg", memoryEntries: 10, kv: false })
        .get("k"),
    ).toBeUndefined();
    const listed = await env.STS_CACHE.list({ prefix: "neg:" });
    expect(listed.keys).toEqual([]);
  });

  it("degrades to a miss when KV fails, and bounds memory", async () => {
    const broken = {
      get: () => Promise.reject(new Error("kv down")),
      put: () => Promise.reject(new Error("kv down")),
      delete: () => Promise.reject(new Error("kv down")),
    } as unknown as KVNamespace;
    const errors: string[] = [];
    const tier = new CacheFactory(new ManualClock(), broken, (op) => errors.push(op)).create<number>({
      name: "t3",
      memoryEntries: 2,
    });
    await tier.put("a", 1, { ttlMs: 1000 });
    await tier.put("b", 2, { ttlMs: 1000 });
    await tier.put("c", 3, { ttlMs: 1000 });
    expect(await tier.get("c")).toEqual({ value: 3, fresh: true, from: "memory" });
    expect(await tier.get("a")).toBeUndefined();
    expect(errors).toContain("put");
    expect(errors).toContain("get");
  });
});

describe("routes", () => {
  it("answers / with the documentation pointer", async () => {
    const response = await worker.fetch(
      new Request("https://sts.example.com/"),
      testEnv(),
      createExecutionContext(),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.text()).toBe(`{"msg": "${ROOT_MESSAGE}"}`);
  });

  it("reports health, and misconfiguration as 503 naming the setting", async () => {
    const good = await handle(
      new Request("https://sts.example.com/healthz"),
      testRuntime(),
      createExecutionContext(),
    );
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ ok: true });
    const bad = await handle(
      new Request("https://sts.example.com/healthz"),
      createRuntime(testEnv({ GITHUB_APP_ID: undefined })),
      createExecutionContext(),
    );
    expect(bad.status).toBe(503);
    const body = (await bad.json()) as { code: number; message: string; details: { reason: string }[] };
    expect(body.code).toBe(13);
    expect(body.message).toBe("server misconfigured: GITHUB_APP_ID");
    expect(body.details[0]?.reason).toBe("MISCONFIGURED");
    expect((body.details[0] as { metadata?: Record<string, string> }).metadata?.problem).toBe("not set");
  });

  it("answers unknown paths 404 and wrong methods 501", async () => {
    const missing = await handle(
      new Request("https://sts.example.com/nope"),
      testRuntime(),
      createExecutionContext(),
    );
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: number }).code).toBe(5);
    const wrong = await handle(
      new Request("https://sts.example.com/", { method: "DELETE" }),
      testRuntime(),
      createExecutionContext(),
    );
    expect(wrong.status).toBe(501);
    expect(((await wrong.json()) as { message: string }).message).toBe("Method Not Allowed");
  });
});

describe("test infrastructure", () => {
  it("reaches the doubles over loopback and routes real hostnames to them", async () => {
    const direct = await fetch(`${env.GITHUB_DOUBLE_URL}/zen`, { headers: { "user-agent": "t" } });
    expect(direct.status).toBeGreaterThanOrEqual(200);
    const routed = await fetch("https://api.github.com/zen", { headers: { "user-agent": "t" } });
    expect(routed.status).toBe(direct.status);
    const refused = await fetch("https://example.org/");
    expect(refused.status).toBe(502);
    expect(await refused.text()).toContain("no network in tests");
  });

  it("refuses loopback addresses no double listens at, and keeps a path that looks like a host a path", async () => {
    const github = new URL(env.GITHUB_DOUBLE_URL);
    const issuer = new URL(env.ISSUER_DOUBLE_URL);
    // Port 9 (discard): nothing of the test run listens there.
    const elsewhere = await fetch("http://127.0.0.1:9/zen");
    expect(elsewhere.status).toBe(502);
    expect(await elsewhere.text()).toContain("no double of this process listens at 127.0.0.1:9");
    // A path starting with // names no other host: the GitHub double answers it (404), never the
    // network and never the issuer double.
    for (const path of ["//example.invalid/x", `//${issuer.host}/x`, "/\\example.invalid/x"]) {
      const sent = await fetch(`${github.origin}${path}`, { headers: { "user-agent": "t" } });
      expect(sent.status, path).toBe(404);
      expect(await sent.text(), path).not.toContain("outbound router");
    }
  });
});

/**
 * The caller and owner limits, steps 6b and 12b (docs/oauth.md, "Rate limits"), through the whole
 * Worker: the real Rate Limiting binding of Miniflare (TEST_CALLER_LIMITER, 3 per 60 s, handed in as
 * CALLER_LIMITER), and stub bindings whose answers a test sets (no test waits for a real window).
 */

import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { handle } from "../../../src/app";
import { CATALOGUE } from "../../../src/errors/catalogue";
import { callerKey, checkCallerLimit, checkOwnerLimit, ownerKey } from "../../../src/exchange/limits";
import worker from "../../../src/index";
import type { RateLimiter } from "../../../src/platform/config";
import { createRuntime } from "../../../src/platform/runtime";
import { captureConsole, issuers, TEST_DOMAIN, testEnv, unique } from "../helpers";
import { ACTIONS, exchangeParams, mint, mintBodies, scenario } from "../scenario";

const output = captureConsole();

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

/** Any `caller-…` subject with audience `octosts` may use the policy `any` of `org/repo` (and `other`). */
const ANY_CALLER = `issuer: ${ACTIONS}
subject_pattern: caller-.*
audience: octosts
permissions:
  contents: read
`;
const SETUP = {
  installations: [{ account: "org" }],
  repos: {
    "org/repo": {
      files: {
        ".github/chainguard/any.sts.yaml": ANY_CALLER,
        ".github/chainguard/other.sts.yaml": ANY_CALLER,
      },
    },
  },
};

/** A stub binding: records every key, answers what `allow` says for it (flip it to recover). */
function stubLimiter(allow: (key: string, count: number) => boolean = () => true) {
  const keys: string[] = [];
  const counts = new Map<string, number>();
  const limiter: RateLimiter = {
    async limit({ key }) {
      keys.push(key);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      return { success: allow(key, count) };
    },
  };
  return { limiter, keys };
}

const path = (identity = "any", scope = "org/repo") => `/sts/exchange?scope=${scope}&identity=${identity}`;
const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
const callerToken = (sub: string) => mint({ sub, aud: "octosts" });

interface GrpcBody {
  code: number;
  message: string;
  details: { reason: string; metadata: Record<string, string> }[];
}

async function expectLimited(response: Response, limiter: "caller" | "owner") {
  expect(response.status).toBe(429);
  expect(response.headers.get("Retry-After")).toBe("60");
  const body = (await response.json()) as GrpcBody;
  expect(body.code).toBe(8);
  expect(body.message).toBe("too many token exchanges, retry later");
  expect(body.details[0]?.reason).toBe("EXCHANGE_RATE_LIMITED");
  expect(body.details[0]?.metadata.limiter).toBe(limiter);
}

describe("the module", () => {
  it("keys a caller by a collision-free, fixed-length encoding of iss and sub", async () => {
    const a = await callerKey("https://a.example", "x|y");
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await callerKey("https://a.example|x", "y")).not.toBe(a);
    expect(await callerKey("https://a.example", "x|y")).toBe(a);
    expect(await callerKey("i", "s".repeat(10_000))).toMatch(/^[0-9a-f]{64}$/);
    expect(ownerKey("Acme")).toBe("acme");
  });

  it("an unbound limiter is no limit", async () => {
    expect(await checkCallerLimit(null, "i", "s")).toEqual({ ok: true, value: undefined });
    expect(await checkOwnerLimit(null, "o")).toEqual({ ok: true, value: undefined });
  });

  it("refuses with EXCHANGE_RATE_LIMITED naming the limiter, 429 / 8 in the octo-sts table", async () => {
    const no: RateLimiter = { limit: async () => ({ success: false }) };
    expect(await checkCallerLimit(no, "i", "s")).toMatchObject({
      ok: false,
      failure: { reason: "EXCHANGE_RATE_LIMITED", args: { limiter: "caller" } },
    });
    expect(await checkOwnerLimit(no, "o")).toMatchObject({
      ok: false,
      failure: { reason: "EXCHANGE_RATE_LIMITED", args: { limiter: "owner" } },
    });
    expect(CATALOGUE.EXCHANGE_RATE_LIMITED).toEqual({ status: 429, code: 8 });
  });
});

describe("the caller limit (step 6b)", () => {
  it("with the real binding: the 4th exchange of one caller in a window is refused, before any GitHub call", async () => {
    const s = await scenario(SETUP, { CALLER_LIMITER: env.TEST_CALLER_LIMITER });
    const sub = unique("caller-real");
    for (let i = 0; i < 3; i++) {
      expect((await s.send(path(), bearer(await callerToken(sub)))).status).toBe(200);
    }
    const fourth = await callerToken(sub);
    const before = (await s.calls()).length;
    await expectLimited(await s.send(path(), bearer(fourth)), "caller");
    expect((await s.calls()).length).toBe(before);

    // The OAuth door spends the same budget and says which limit in `limiter`.
    const oauth = await s.exchange(exchangeParams(await callerToken(sub), { audience: "any" }));
    expect(oauth.status).toBe(429);
    expect(oauth.headers.get("Retry-After")).toBe("60");
    expect(await oauth.json()).toMatchObject({
      error: "temporarily_unavailable",
      reason: "EXCHANGE_RATE_LIMITED",
      limiter: "caller",
    });
    expect((await s.calls()).length).toBe(before);

    // The audit line records the refusal.
    const refused = output.lines
      .filter((l) => l.includes('"msg":"sts.exchange"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.reason === "EXCHANGE_RATE_LIMITED");
    expect(refused.map((l) => [l.door, l.subject, l.detail])).toEqual([
      ["sts/exchange", sub, "caller limit reached"],
      ["oauth/token", sub, "caller limit reached"],
    ]);
  });

  it("with the real binding: one caller's flood leaves another caller untouched", async () => {
    const s = await scenario(SETUP, { CALLER_LIMITER: env.TEST_CALLER_LIMITER });
    const flooder = unique("caller-flood");
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await s.send(path(), bearer(await callerToken(flooder)))).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    const other = unique("caller-other");
    for (let i = 0; i < 3; i++)
      expect((await s.send(path(), bearer(await callerToken(other)))).status).toBe(200);
  });

  it("recovers when the binding allows again (a stub whose answer is flipped)", async () => {
    let allow = false;
    const { limiter } = stubLimiter(() => allow);
    const s = await scenario(SETUP, { CALLER_LIMITER: limiter });
    const sub = unique("caller-recover");
    await expectLimited(await s.send(path(), bearer(await callerToken(sub))), "caller");
    expect(await s.calls()).toEqual([]);
    allow = true;
    expect((await s.send(path(), bearer(await callerToken(sub)))).status).toBe(200);
  });

  it("is keyed by the verified iss and sub, and nothing before step 6 spends any budget", async () => {
    const { limiter, keys } = stubLimiter();
    const s = await scenario(SETUP, { CALLER_LIMITER: limiter });
    const sub = unique("caller-key");
    const good = await callerToken(sub);
    const [header, payload] = good.split(".");
    const expired = await issuers.mintToken(
      (await issuers.createIssuer({ host: "token.actions.githubusercontent.com" })).id,
      { claims: { sub, aud: "octosts" }, expiresIn: -10 },
    );
    const refusedEarly: [string, RequestInit][] = [
      [path(), {}], // step 3: no bearer
      [`${path()}&identity=twice`, bearer(good)], // step 2: repeated identity
      [path(), bearer("not-a-jwt")], // step 4
      [path(), bearer(`${header}.${payload}.${"A".repeat(342)}`)], // step 5: a forged signature
      [path(), bearer(expired)], // step 5: expired
      [path(), bearer(await mint({ sub: "caller bad", aud: "octosts" }))], // step 6: claim syntax
    ];
    for (const [p, init] of refusedEarly) expect((await s.send(p, init)).status).not.toBe(200);
    // The forged token names the same iss and sub as the good one: still nothing spent.
    expect(keys).toEqual([]);

    expect((await s.send(path(), bearer(good))).status).toBe(200);
    expect(keys).toEqual([await callerKey(ACTIONS, sub)]);
    // A refusal after 6b (step 7 here) has spent the caller's budget too: the limit is per attempt.
    expect((await s.send(path("../x"), bearer(await callerToken(sub)))).status).toBe(400);
    expect(keys).toHaveLength(2);
  });

  it("is not applied when unbound (tests and npm start are not limited)", async () => {
    const s = await scenario(SETUP);
    const sub = unique("caller-unbound");
    for (let i = 0; i < 6; i++)
      expect((await s.send(path(), bearer(await callerToken(sub)))).status).toBe(200);
  });

  it("a limiter that throws, or answers no verdict, lets the exchange through and logs it (fail open)", async () => {
    for (const broken of [
      { limit: async () => Promise.reject(new TypeError("limiter down")) },
      { limit: async () => ({}) },
      {
        limit: () => {
          throw new Error("sync");
        },
      },
    ] as unknown as RateLimiter[]) {
      output.lines.length = 0;
      const s = await scenario(SETUP, { CALLER_LIMITER: broken, OWNER_LIMITER: broken });
      const response = await s.send(path(), bearer(await callerToken(unique("caller-open"))));
      expect(response.status).toBe(200);
      const warnings = output.lines
        .filter((l) => l.includes("rate limiter failed; not limiting"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(warnings.map((w) => w.limiter)).toEqual(["caller", "owner"]);
      expect(warnings[0]?.request_id).toBe(response.headers.get("X-Request-Id"));
      for (const w of warnings) expect(JSON.stringify(w)).not.toContain("limiter down");
    }
  });
});

describe("the owner limit (step 12b)", () => {
  it("is one budget per owner (lowercase) across identities, repositories and callers, spent before the mint", async () => {
    const budget = 3;
    const { limiter, keys } = stubLimiter((_key, count) => count <= budget);
    const s = await scenario(
      {
        installations: [{ account: "org" }],
        repos: {
          "org/repo": { files: { ".github/chainguard/any.sts.yaml": ANY_CALLER } },
          "org/other": { files: { ".github/chainguard/other.sts.yaml": ANY_CALLER } },
        },
      },
      { OWNER_LIMITER: limiter },
    );
    const requests = [path("any", "org/repo"), path("other", "org/other"), path("any", "Org/repo")];
    for (const p of requests) {
      expect((await s.send(p, bearer(await callerToken(unique("caller-owner"))))).status).toBe(200);
    }
    expect(keys).toEqual(["org", "org", "org"]);
    const mintsBefore = mintBodies(await s.calls()).length;
    await expectLimited(await s.send(path(), bearer(await callerToken(unique("caller-owner")))), "owner");
    // Refused after the (cached) policy matched and before the mint: no token was asked of GitHub.
    expect(keys).toHaveLength(4);
    expect(mintBodies(await s.calls())).toHaveLength(mintsBefore);

    const oauth = await s.exchange(
      exchangeParams(await callerToken(unique("caller-owner")), { audience: "any" }),
    );
    expect(oauth.status).toBe(429);
    expect(await oauth.json()).toMatchObject({ reason: "EXCHANGE_RATE_LIMITED", limiter: "owner" });
  });

  it("a flood of strangers (tokens no policy of the owner trusts) never spends it", async () => {
    const { limiter, keys } = stubLimiter((_key, count) => count <= 1);
    const s = await scenario(SETUP, { OWNER_LIMITER: limiter });
    const strangers = [
      await mint({ sub: "stranger", aud: "octosts" }), // SUBJECT_MISMATCH
      await mint({ sub: "caller-x", aud: "someone-else" }), // AUDIENCE_MISMATCH
    ];
    for (let i = 0; i < 5; i++) {
      for (const token of strangers) expect((await s.send(path(), bearer(token))).status).toBe(403);
      expect((await s.send(path("missing"), bearer(strangers[0] as string))).status).toBe(404);
    }
    expect(keys).toEqual([]);
    // The one trusted caller still gets the owner's whole budget.
    expect((await s.send(path(), bearer(await callerToken(unique("caller-trusted"))))).status).toBe(200);
    expect(keys).toEqual(["org"]);
  });
});

describe("configuration", () => {
  it("a bound value that is no Rate Limiting binding is MISCONFIGURED, naming it", async () => {
    for (const setting of ["CALLER_LIMITER", "OWNER_LIMITER"] as const) {
      for (const value of ["20", {}, { limit: 20 }]) {
        const rt = createRuntime(testEnv({ [setting]: value as unknown as RateLimiter }));
        const response = await handle(
          new Request(`https://${TEST_DOMAIN}${path()}`, bearer(await callerToken("caller-cfg"))),
          rt,
          createExecutionContext(),
        );
        expect(response.status).toBe(500);
        expect(((await response.json()) as GrpcBody).message).toBe(`server misconfigured: ${setting}`);
      }
    }
  });

  it("the Worker entry builds a new runtime when a limiter binding changes (same settings)", async () => {
    const s = await scenario(SETUP);
    const send = async (bindings: Partial<typeof s.env>) => {
      const ctx = createExecutionContext();
      const response = await worker.fetch(
        new Request(`https://${TEST_DOMAIN}${path()}`, bearer(await callerToken(unique("caller-entry")))),
        { ...s.env, ...bindings },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    };
    expect((await send({})).status).toBe(200);
    const refuse: RateLimiter = { limit: async () => ({ success: false }) };
    await expectLimited(await send({ CALLER_LIMITER: refuse }), "caller");
    expect((await send({})).status).toBe(200);
  });
});

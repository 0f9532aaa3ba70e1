/// <reference types="@cloudflare/workers-types" />
/**
 * `npm run bench -- --scale` (docs/performance.md, "At scale"): a Zipf workload run through the real
 * exchange core (exchange/core.ts with the real caches, OIDC verifier, GitHub client, policy and
 * trusted-issuer stores) in this Node process, against an in-process GitHub and issuer that only
 * answer and count, over one KV namespace that counts its reads and writes. Isolates are recycled:
 * each exchange goes to one of a few live runtimes (a runtime is an isolate: its own memory), and each
 * runtime is replaced after a random lifetime; all share the KV and a simulated clock.
 *
 * One organization in ten has a trusted-issuer file listing the issuer; the others have none.
 *
 * Beside it, a model of octo-sts's per-instance caches on the same trace (its Exchange as written:
 * an installation id LRU of 200 per instance without expiry, found by paging the App's installations
 * 100 at a time; a trust-policy text LRU of 200 for 5 minutes, a miss costing a read token, the read
 * and a revoke; a provider per issuer per instance, discovery and JWKS once; one mint per exchange).
 */

import { createSign, generateKeyPairSync } from "node:crypto";
import { Audit } from "../../src/exchange/audit";
import { runExchange } from "../../src/exchange/core";
import { ManualClock } from "../../src/platform/clock";
import type { Env } from "../../src/platform/config";
import { createRuntime, type Runtime } from "../../src/platform/runtime";

export interface ScaleOptions {
  exchanges: number;
  orgs: number;
  maxRepos: number;
  identities: number;
  /** Simulated duration, ms. */
  durationMs: number;
  /** Live isolates at any time. */
  isolates: number;
  /** Mean isolate lifetime, ms (exponential). */
  isolateLifeMs: number;
  seed: number;
}

export interface Counts {
  github: number;
  issuer: number;
  kvReads: number;
  kvWrites: number;
  /** KV writes by cache (the key's namespace). */
  writesBy: Map<string, number>;
  granted: number;
  exchanges: number;
  isolates: number;
}

const ISSUER = "https://token.actions.githubusercontent.com";
const DOMAIN = "sts.scale.test";

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Zipf(1) sampler over 0..n-1. */
function zipf(n: number, random: () => number): () => number {
  const cdf: number[] = [];
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k;
    cdf.push(sum);
  }
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface TraceEvent {
  at: number;
  org: number;
  repo: number;
  identity: number;
}

export function makeTrace(o: ScaleOptions): { events: TraceEvent[]; repos: number[] } {
  const random = rng(o.seed);
  const repos = Array.from({ length: o.orgs }, () => 1 + Math.floor(random() * o.maxRepos));
  const pickOrg = zipf(o.orgs, random);
  const pickRepo = new Map<number, () => number>();
  const events: TraceEvent[] = [];
  for (let i = 0; i < o.exchanges; i++) {
    const org = pickOrg();
    let pr = pickRepo.get(org);
    if (pr === undefined) {
      pr = zipf(repos[org] as number, random);
      pickRepo.set(org, pr);
    }
    events.push({
      at: Math.floor((i / o.exchanges) * o.durationMs),
      org,
      repo: pr(),
      identity: Math.floor(random() * o.identities),
    });
  }
  return { events, repos };
}

const policyOf = (org: number, repo: number) => `issuer: ${ISSUER}
subject_pattern: "repo:org-${org}/repo-${repo}:ref:refs/heads/(main|release-[0-9]+)"
claim_pattern:
  workflow_ref: "org-${org}/repo-${repo}/\\\\.github/workflows/[a-z-]+\\\\.ya?ml@refs/heads/main"
permissions:
  issues: write
`;

/** A KV namespace in memory that counts reads and writes and expires by the simulated clock. */
class CountingKv {
  readonly data = new Map<string, { value: string; until: number }>();
  reads = 0;
  writes = 0;
  readonly writesBy = new Map<string, number>();
  constructor(private readonly clock: ManualClock) {}
  async get(key: string): Promise<string | null> {
    this.reads++;
    const e = this.data.get(key);
    if (e === undefined || e.until <= this.clock.now()) return null;
    return e.value;
  }
  async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    this.writes++;
    const ns = key.slice(0, key.indexOf(":"));
    this.writesBy.set(ns, (this.writesBy.get(ns) ?? 0) + 1);
    this.data.set(key, { value, until: this.clock.now() + (options?.expirationTtl ?? 1e9) * 1000 });
  }
  async delete(key: string): Promise<void> {
    this.writes++;
    this.data.delete(key);
  }
}

/** Runs the trace through the real core; returns the counts. */
export async function runScale(o: ScaleOptions, trace = makeTrace(o)): Promise<Counts> {
  const random = rng(o.seed + 1);
  const start = Date.UTC(2026, 0, 1);
  const clock = new ManualClock(start);
  const kv = new CountingKv(clock);
  const issuerKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = {
    ...(issuerKey.publicKey.export({ format: "jwk" }) as object),
    kid: "k1",
    alg: "RS256",
    use: "sig",
  };
  let github = 0;
  let issuer = 0;
  let minted = 0;
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", date: new Date(clock.now()).toUTCString() },
    });
  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin === ISSUER) {
      issuer++;
      if (url.pathname === "/.well-known/openid-configuration")
        return json({
          issuer: ISSUER,
          jwks_uri: `${ISSUER}/.well-known/jwks`,
          id_token_signing_alg_values_supported: ["RS256"],
        });
      if (url.pathname === "/.well-known/jwks") return json({ keys: [jwk] });
      return json({}, 404);
    }
    github++;
    const p = url.pathname;
    let m = /^\/orgs\/org-(\d+)\/installation$/.exec(p);
    if (m) return json({ id: 1000 + Number(m[1]), account: { login: `org-${m[1]}`, type: "Organization" } });
    if (/^\/users\//.test(p)) return json({ message: "Not Found" }, 404);
    m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(p);
    if (m && request.method === "POST") {
      const body = (await request.json()) as {
        permissions?: Record<string, string>;
        repositories?: string[];
      };
      return json(
        {
          token: `ghs_${++minted}`,
          expires_at: new Date(clock.now() + 3600_000).toISOString(),
          permissions: body.permissions,
          ...(body.repositories ? { repositories: body.repositories.map((name) => ({ name })) } : {}),
        },
        201,
      );
    }
    if (p === "/installation/token" && request.method === "DELETE")
      return new Response(null, { status: 204 });
    m = /^\/repos\/org-(\d+)\/([^/]+)\/contents\/\.github\/chainguard\/(.+)$/.exec(p);
    if (m) {
      const [, org, repo, file] = m as unknown as [string, string, string, string];
      // One organization in ten has a trusted-issuer file (docs/trusted-issuers.md).
      if (repo === ".github" && file === "trusted-token-issuers.yaml" && Number(org) % 10 === 0) {
        return new Response(`issuers:\n  - ${ISSUER}\n`, {
          status: 200,
          headers: { "content-type": "application/vnd.github.raw+json" },
        });
      }
      const r = /^repo-(\d+)$/.exec(repo);
      if (r && /^id-\d+\.sts\.yaml$/.test(file)) {
        return new Response(policyOf(Number(org), Number(r[1])), {
          status: 200,
          headers: { "content-type": "application/vnd.github.raw+json" },
        });
      }
      return json({ message: "Not Found" }, 404);
    }
    return json({ message: "Not Found" }, 404);
  };
  const env = {
    STS_DOMAIN: DOMAIN,
    GITHUB_APP_ID: "4242",
    GITHUB_APP_PRIVATE_KEY: appKey.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
    STS_CACHE: kv as unknown as KVNamespace,
  } as Env;
  const newRuntime = () => ({
    rt: createRuntime(env, { clock, fetch: fetchFn as Runtime["fetch"] }),
    until: clock.now() - Math.log(1 - random()) * o.isolateLifeMs,
  });
  const live = Array.from({ length: o.isolates }, newRuntime);
  let isolates = live.length;
  const tokens = new Map<string, string>();
  const tokenFor = (org: number, repo: number) => {
    const key = `${org}/${repo}`;
    let t = tokens.get(key);
    if (t === undefined) {
      const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      const input = `${part({ alg: "RS256", kid: "k1", typ: "JWT" })}.${part({
        iss: ISSUER,
        aud: DOMAIN,
        sub: `repo:org-${org}/repo-${repo}:ref:refs/heads/main`,
        workflow_ref: `org-${org}/repo-${repo}/.github/workflows/ci.yaml@refs/heads/main`,
        iat: Math.floor(start / 1000),
        exp: Math.floor((start + o.durationMs) / 1000) + 3600,
      })}`;
      t = `${input}.${createSign("RSA-SHA256").update(input).sign(issuerKey.privateKey).toString("base64url")}`;
      tokens.set(key, t);
    }
    return t;
  };
  let granted = 0;
  for (const e of trace.events) {
    clock.set(start + e.at);
    for (let i = 0; i < live.length; i++) {
      if ((live[i] as { until: number }).until <= clock.now()) {
        live[i] = newRuntime();
        isolates++;
      }
    }
    const { rt } = live[Math.floor(random() * live.length)] as { rt: Runtime };
    const pending: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p) };
    const audit = new Audit("sts/exchange", "scale", new Request("https://x/"), clock.now());
    const result = await runExchange(
      rt,
      ctx,
      { token: tokenFor(e.org, e.repo), scope: `org-${e.org}/repo-${e.repo}`, identity: `id-${e.identity}` },
      audit,
    );
    await Promise.all(pending);
    if (result.ok) granted++;
  }
  return {
    github,
    issuer,
    kvReads: kv.reads,
    kvWrites: kv.writes,
    writesBy: kv.writesBy,
    granted,
    exchanges: trace.events.length,
    isolates,
  };
}

/** octo-sts's per-instance caches on the same trace, `instances` instances behind round-robin. */
export function modelOctoSts(trace: TraceEvent[], instances: number): { github: number; issuer: number } {
  const POLICY_TTL = 5 * 60_000;
  const LRU = 200;
  const lru = <V>() => new Map<string, V>();
  const touch = <V>(m: Map<string, V>, k: string, v: V) => {
    m.delete(k);
    m.set(k, v);
    while (m.size > LRU) m.delete(m.keys().next().value as string);
  };
  const state = Array.from({ length: instances }, () => ({
    installs: lru<true>(),
    policies: lru<number>(),
    provider: false,
  }));
  let github = 0;
  let issuer = 0;
  trace.forEach((e, i) => {
    const s = state[i % instances] as (typeof state)[number];
    if (!s.provider) {
      issuer += 2; // discovery + JWKS
      s.provider = true;
    }
    const owner = `org-${e.org}`;
    if (s.installs.has(owner)) touch(s.installs, owner, true);
    else {
      github += Math.floor(e.org / 100) + 1; // ListInstallations pages of 100 until the owner
      touch(s.installs, owner, true);
    }
    const key = `${owner}/repo-${e.repo}/${e.identity}`;
    const at = s.policies.get(key);
    if (at !== undefined && e.at - at < POLICY_TTL) s.policies.get(key);
    else {
      github += 3; // read token, contents read, revoke
      touch(s.policies, key, e.at);
    }
    github += 1; // the mint
  });
  return { github, issuer };
}

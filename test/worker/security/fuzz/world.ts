/**
 * The world the fuzz properties run the Worker in: an in-process OIDC issuer and GitHub behind the
 * runtime's `fetch` (no sockets, so thousands of exchanges fit in seconds), a KV namespace in memory, a
 * manual clock and an execution context that waits for background work. It runs the same inside workerd
 * (the vitest file) and in Node (scripts/fuzz.ts), so it imports nothing of either.
 *
 * The issuer signs ES256 tokens; GitHub knows one owner, `fuzz`, with repository `repo`, and serves the
 * policies and files the properties put there, the webhook's listings and check runs; the webhook's
 * secret is the tests' own. Every other URL answers 404, so a fuzzed issuer that passes the
 * issuer rules fails discovery at once instead of reaching a network.
 */

import { handle } from "../../../../src/app";
import { ManualClock } from "../../../../src/platform/clock";
import { createRuntime, type FetchFn, type Runtime } from "../../../../src/platform/runtime";
import { TEST_WEBHOOK_SECRET } from "../../../shared/secrets";

export const FUZZ_DOMAIN = "sts.fuzz.example";
export const FUZZ_ISSUER = "https://issuer.fuzz.example";
export const FUZZ_GITHUB = "https://github.fuzz.example/api/v3";
export const FUZZ_OWNER = "fuzz";
export const FUZZ_REPO = "repo";
const KID = "fuzz-key";
const INSTALLATION_ID = 7;

/** A KV namespace in memory (get as text, put, delete): all the cache uses. */
function memoryKv(): KVNamespace {
  const data = new Map<string, string>();
  const kv = {
    async get(key: string) {
      return data.get(key) ?? null;
    },
    async put(key: string, value: string) {
      data.set(key, value);
    },
    async delete(key: string) {
      data.delete(key);
    },
  };
  return kv as unknown as KVNamespace;
}

const b64url = (bytes: Uint8Array): string => {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
};
const utf8 = (text: string) => new TextEncoder().encode(text);

/** base64url of a string's UTF-8 bytes (JWT parts). */
export function b64urlText(text: string): string {
  return b64url(utf8(text));
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

export interface Exchange {
  response: Response;
  status: number;
  text: string;
  /** Every console line the request produced. */
  lines: string[];
}

/** How GitHub answers one kind of call during the next request (then behaves again). */
export interface GitHubFault {
  /** The caller's mint and the read-token mints, or the policy read. */
  edge: "mint" | "contents";
  status: number;
  headers: Record<string, string>;
}

export interface FuzzWorld {
  rt: Runtime;
  /** A fault for the next request's calls of one kind; cleared by {@link send}. */
  fault: GitHubFault | null;
  /** An ES256 token of the fuzz issuer: `claims` over `iss`, `iat`, `exp`, `header` over alg and kid. */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** Puts `text` at `.github/chainguard/<identity>.sts.yaml` of `fuzz/repo` (null removes it). */
  setPolicy(identity: string, text: string | null): void;
  /** One request through the Worker's `handle`, its console output captured. */
  send(request: Request): Promise<Exchange>;
  /** Installation tokens GitHub minted so far (to check none leaks). */
  minted: string[];
  /** The files of `fuzz/repo`, by path (at every ref alike). */
  files: Map<string, string>;
  /** What GitHub lists as a pull request's files or a comparison (the webhook's listings). */
  listed: { filename: string; status: string }[];
  /** Check runs posted so far. */
  checkRuns: number;
  /** GitHub requests made so far. */
  calls: number;
}

const METHODS = ["log", "info", "warn", "error", "debug"] as const;

/**
 * Runs `run` with the console methods replaced by a collector (defined as properties, as spies are, so
 * it works inside workerd too), then puts the previous methods back.
 */
export async function capturingConsole<T>(run: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const saved = METHODS.map((m) => [m, Object.getOwnPropertyDescriptor(console, m)] as const);
  for (const m of METHODS) {
    Object.defineProperty(console, m, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      },
    });
  }
  try {
    return { value: await run(), lines };
  } finally {
    for (const [m, descriptor] of saved) {
      if (descriptor) Object.defineProperty(console, m, descriptor);
    }
  }
}

/** Builds a world; `appKeyPem` is the test App key (the runtime signs App JWTs with it). */
export async function createFuzzWorld(appKeyPem: string): Promise<FuzzWorld> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const exported = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  const publicJwk = {
    kty: exported.kty,
    crv: exported.crv,
    x: exported.x,
    y: exported.y,
    kid: KID,
    alg: "ES256",
    use: "sig",
  };
  const minted: string[] = [];
  const clock = new ManualClock(Date.parse("2026-12-01T12:00:00Z"));

  const faulted = (edge: GitHubFault["edge"]): Response | null => {
    const fault = world.fault;
    if (fault === null || fault.edge !== edge) return null;
    return new Response(JSON.stringify({ message: "injected" }), {
      status: fault.status,
      headers: { "content-type": "application/json", ...fault.headers },
    });
  };

  const github = async (method: string, path: string, body: string): Promise<Response> => {
    const lookup = /^\/(orgs|users)\/([^/]+)\/installation$/.exec(path);
    if (method === "GET" && lookup) {
      if (lookup[1] !== "orgs" || decodeURIComponent(lookup[2] as string).toLowerCase() !== FUZZ_OWNER) {
        return json(404, { message: "Not Found" });
      }
      return json(200, { id: INSTALLATION_ID, account: { login: FUZZ_OWNER, type: "Organization" } });
    }
    if (method === "POST" && path === `/app/installations/${INSTALLATION_ID}/access_tokens`) {
      const injected = faulted("mint");
      if (injected) return injected;
      const asked = JSON.parse(body || "{}") as {
        repositories?: string[];
        permissions?: Record<string, string>;
      };
      if (asked.repositories?.some((r) => r.toLowerCase() !== FUZZ_REPO)) {
        return json(422, { message: "There is at least one repository that does not exist" });
      }
      // The installation was not granted administration.
      if (asked.permissions?.administration !== undefined) {
        return json(422, { message: "The permissions requested are not granted to this installation." });
      }
      let token = "ghs_";
      for (const b of crypto.getRandomValues(new Uint8Array(36)))
        token += "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36];
      minted.push(token);
      return json(201, { token, expires_at: new Date(clock.now() + 3_600_000).toISOString() });
    }
    const contents = new RegExp(
      `^/repos/${FUZZ_OWNER}/${FUZZ_REPO}/contents/\\.github/chainguard/(.+)\\.sts\\.yaml$`,
    ).exec(path);
    if (method === "GET" && contents) {
      const injected = faulted("contents");
      if (injected) return injected;
      const text = world.files.get(
        `.github/chainguard/${decodeURIComponent(contents[1] as string)}.sts.yaml`,
      );
      if (text === undefined) return json(404, { message: "Not Found" });
      return new Response(text, { status: 200, headers: { "content-type": "application/vnd.github.raw" } });
    }
    if (method === "DELETE" && path === "/installation/token") return new Response(null, { status: 204 });
    // The webhook's calls: the installation's record, a pull request's files, comparisons, any file of
    // the repository at any ref (as the delivery lists them), directory listings, check runs.
    if (method === "GET" && path === `/app/installations/${INSTALLATION_ID}`) {
      return json(200, {
        id: INSTALLATION_ID,
        permissions: { contents: "write", checks: "write", pull_requests: "read" },
      });
    }
    const repoPath = new RegExp(`^/repos/${FUZZ_OWNER}/${FUZZ_REPO}/(.*)$`).exec(path)?.[1];
    if (repoPath !== undefined) {
      if (method === "GET" && /^pulls\/\d+\/files$/.test(repoPath)) {
        return faulted("contents") ?? json(200, world.listed);
      }
      if (method === "GET" && repoPath.startsWith("compare/")) {
        return faulted("contents") ?? json(200, { files: world.listed });
      }
      if (method === "GET" && repoPath.startsWith("contents/")) {
        const injected = faulted("contents");
        if (injected) return injected;
        const file = decodeURIComponent(repoPath.slice("contents/".length));
        const text = world.files.get(file);
        if (text !== undefined) {
          return new Response(text, {
            status: 200,
            headers: { "content-type": "application/vnd.github.raw" },
          });
        }
        const entries = [...world.files.keys()].filter((k) => k.startsWith(`${file}/`));
        if (entries.length === 0) return json(404, { message: "Not Found" });
        return json(
          200,
          entries.map((k) => ({ type: "file", name: k.split("/").pop(), path: k })),
        );
      }
      if (method === "POST" && repoPath === "check-runs") {
        world.checkRuns++;
        return faulted("mint") ?? json(201, { id: world.checkRuns });
      }
      if (method === "PATCH" && /^check-runs\/\d+$/.test(repoPath)) return json(200, { id: 1 });
    }
    return json(404, { message: "Not Found" });
  };

  const fetchFn: FetchFn = async (input, init) => {
    const request = new Request(input as RequestInfo, init as RequestInit);
    const url = new URL(request.url);
    const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    if (url.origin === FUZZ_ISSUER) {
      if (url.pathname === "/.well-known/openid-configuration") {
        return json(200, {
          issuer: FUZZ_ISSUER,
          jwks_uri: `${FUZZ_ISSUER}/jwks`,
          id_token_signing_alg_values_supported: ["ES256"],
        });
      }
      if (url.pathname === "/jwks") return json(200, { keys: [publicJwk] });
    }
    if (url.href.startsWith(`${FUZZ_GITHUB}/`)) {
      world.calls++;
      return github(request.method, url.pathname.slice(new URL(FUZZ_GITHUB).pathname.length), body);
    }
    return new Response("not found", { status: 404 });
  };

  const rt = createRuntime(
    {
      STS_DOMAIN: FUZZ_DOMAIN,
      GITHUB_APP_ID: "4242",
      GITHUB_APP_PRIVATE_KEY: appKeyPem,
      GITHUB_BASE_URL: FUZZ_GITHUB,
      GITHUB_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      STS_CACHE: memoryKv(),
    },
    { clock, fetch: fetchFn },
  );

  const world: FuzzWorld = {
    rt,
    fault: null,
    minted,
    async sign(claims, header = {}) {
      const now = Math.floor(clock.now() / 1000);
      const head = b64urlText(JSON.stringify({ alg: "ES256", kid: KID, typ: "JWT", ...header }));
      const payload = b64urlText(
        JSON.stringify({ iss: FUZZ_ISSUER, iat: now - 5, exp: now + 600, ...claims }),
      );
      const signature = await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        pair.privateKey,
        utf8(`${head}.${payload}`),
      );
      return `${head}.${payload}.${b64url(new Uint8Array(signature))}`;
    },
    setPolicy(identity, text) {
      const path = `.github/chainguard/${identity}.sts.yaml`;
      if (text === null) world.files.delete(path);
      else world.files.set(path, text);
    },
    files: new Map(),
    listed: [],
    checkRuns: 0,
    calls: 0,
    async send(request) {
      const background: Promise<unknown>[] = [];
      const ctx = {
        waitUntil: (p: Promise<unknown>) => {
          background.push(p);
        },
        passThroughOnException: () => {},
        props: {},
      } as unknown as ExecutionContext;
      try {
        const { value, lines } = await capturingConsole(async () => {
          const response = await handle(request, rt, ctx);
          const text = await response.text();
          await Promise.allSettled(background);
          return { response, text };
        });
        return { response: value.response, status: value.response.status, text: value.text, lines };
      } finally {
        world.fault = null;
      }
    },
  };
  return world;
}

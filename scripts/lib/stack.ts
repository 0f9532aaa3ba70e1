/**
 * The local stack the demo and the benchmark run: the issuer and GitHub doubles, and the real Worker
 * bundle (built by `wrangler deploy --dry-run`, exactly what would be deployed) inside workerd through
 * Miniflare, with a local in-memory KV namespace. Real hostnames (https://api.github.com,
 * https://token.actions.githubusercontent.com) are routed to the doubles, so the production URLs are used.
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Miniflare } from "miniflare";
import { type Doubles, startDoubles } from "../../test/doubles/launch";
import { createOutboundRouter, type OutboundCounter } from "../../test/doubles/outbound";

export const DEMO_APP_ID = "4242";
/** The test App key: a throwaway key committed for the doubles; never use it for a real App. */
export const DEMO_APP_KEY_PATH = "test/fixtures/app-key.pkcs1.pem";

export interface StackOptions {
  /** STS_DOMAIN of the Worker (default `localhost:<port>` once the port is known). */
  domain?: string;
  port?: number;
  issuerPort?: number;
  githubPort?: number;
  /** Extra vars for the Worker (ALLOWED_ISSUERS, ORG_POLICY_REPO, …). */
  vars?: Record<string, string>;
  /** Skip the wrangler build (the bundle in dist/ is reused). */
  skipBuild?: boolean;
  /** Worker script to run instead of the built one (the benchmark's floor Worker). */
  scriptPath?: string;
}

export interface Stack {
  doubles: Doubles;
  miniflare: Miniflare;
  /** Where the Worker listens (http://127.0.0.1:PORT). */
  url: string;
  domain: string;
  outbound: OutboundCounter;
  close(): Promise<void>;
}

/** Builds the Worker as `wrangler deploy --dry-run --outdir dist` does and returns the entry path. */
export function buildWorker(): string {
  execFileSync(
    process.execPath,
    [resolve("node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", "dist"],
    {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    },
  );
  return resolve("dist/index.js");
}

function compatibilityFrom(tomlPath: string): { date: string; flags: string[] } {
  const toml = readFileSync(tomlPath, "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-04-20";
  const flagsRaw = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  const flags = [...flagsRaw.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
  return { date, flags };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const scriptPath = options.scriptPath ?? (options.skipBuild ? resolve("dist/index.js") : buildWorker());
  const doubles = await startDoubles({ issuerPort: options.issuerPort, githubPort: options.githubPort });
  const outbound: OutboundCounter = { counts: new Map() };
  const { date, flags } = compatibilityFrom("wrangler.toml");
  const port = options.port ?? 8787;
  const domain = options.domain ?? `localhost:${port}`;
  const miniflare = new Miniflare({
    // Module contents given directly: with only `scriptPath`, Miniflare parses the whole bundle in Node
    // first to find its imports (300–400 ms for nothing: the bundle has none).
    modules: [{ type: "ESModule", path: scriptPath, contents: readFileSync(scriptPath, "utf8") }],
    compatibilityDate: date,
    compatibilityFlags: flags,
    host: "127.0.0.1",
    port,
    kvNamespaces: ["STS_CACHE"],
    bindings: {
      STS_DOMAIN: domain,
      GITHUB_APP_ID: DEMO_APP_ID,
      GITHUB_APP_PRIVATE_KEY: readFileSync(DEMO_APP_KEY_PATH, "utf8"),
      ...options.vars,
    },
    outboundService: createOutboundRouter(doubles.routes, outbound),
  });
  const url = (await miniflare.ready).toString().replace(/\/$/, "");
  return {
    doubles,
    miniflare,
    url,
    domain,
    outbound,
    async close() {
      await miniflare.dispose();
      await doubles.close();
    },
  };
}

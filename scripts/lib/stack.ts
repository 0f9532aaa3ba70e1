/**
 * The local stack the demo and the benchmark run: the issuer and GitHub doubles, and the real Worker
 * bundle (built by `wrangler deploy --dry-run`, exactly what would be deployed) inside workerd through
 * Miniflare, with a local KV namespace. Real hostnames (https://api.github.com,
 * https://token.actions.githubusercontent.com) are routed to the doubles, so the production URLs are used.
 *
 * `startWorker` is the one Miniflare setup of the project's scripts; `startStack` adds the build and the
 * doubles around it.
 */

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import type { Miniflare } from "miniflare";
import { type Doubles, startDoubles } from "../../test/doubles/launch";
import { createOutboundRouter, type OutboundCounter } from "../../test/doubles/outbound";
import { UserError } from "./cli";

export const DEMO_APP_ID = "4242";
/** The test App key: a throwaway key committed for the doubles; never use it for a real App. */
export const DEMO_APP_KEY_PATH = "test/fixtures/app-key.pkcs1.pem";

/** Builds the Worker as `wrangler deploy --dry-run --outdir <outdir>` does and returns the entry path. */
function buildWorker(outdir = "dist"): string {
  try {
    execFileSync(
      process.execPath,
      [resolve("node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir],
      {
        stdio: ["ignore", "ignore", "inherit"],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      },
    );
  } catch {
    // wrangler has printed why (a broken wrangler.toml, a type error in src/) on stderr above.
    throw new UserError(
      "building the Worker with wrangler deploy --dry-run failed (wrangler says why above)",
    );
  }
  return resolve(outdir, "index.js");
}

/** The compatibility date and flags of the shipped wrangler.toml. */
export function compatibility(tomlPath = "wrangler.toml"): { date: string; flags: string[] } {
  const toml = readFileSync(tomlPath, "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-04-20";
  const flagsRaw = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  const flags = [...flagsRaw.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
  return { date, flags };
}

/** Child processes of this Node process named workerd. */
function workerdChildren(): Set<number> {
  const out = new Set<number>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (ppid === process.pid && comm.startsWith("workerd")) out.add(Number(name));
    } catch {
      // the process went away while listing
    }
  }
  return out;
}

/** Sum of the on-CPU time of every thread of `pid` (schedstat, nanoseconds). */
export function processCpuNs(pid: number): number | undefined {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ");
      total += Number(fields[0]);
    }
    return total;
  } catch {
    return undefined;
  }
}

export interface WorkerOptions {
  scriptPath: string;
  doubles: Doubles;
  bindings: Record<string, string>;
  /** 127.0.0.1 port to listen on (0 = any free port). */
  port?: number;
  /** Directory for the KV namespace (`kvPersist`); in memory when absent. */
  kvPersist?: string;
  /** Open workerd's V8 inspector on this 127.0.0.1 port (for a CPU profile). */
  inspectorPort?: number;
  /** Each line the Worker prints on stdout (its audit lines among them); printed when absent. */
  onLine?: (line: string) => void;
  /** Record every outbound request in `outbound.log`. */
  logOutbound?: boolean;
}

export interface RunningWorker {
  url: string;
  miniflare: Miniflare;
  outbound: OutboundCounter;
  /** CPU time of the workerd process (all threads) in nanoseconds, or undefined without /proc. */
  cpuNs(): number | undefined;
  /** Wall time from `new Miniflare()` to ready (workerd start + script load), ms. */
  readyMs: number;
  /** CPU of the workerd process (all threads) from its start to ready, ns (undefined without /proc). */
  readyCpuNs: number | undefined;
  dispose(): Promise<void>;
}

/** Runs `scriptPath` in a new workerd process, its outbound requests routed to `doubles`. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { date, flags } = compatibility();
  const outbound: OutboundCounter = { counts: new Map(), ...(options.logOutbound ? { log: [] } : {}) };
  const onLine = options.onLine ?? ((line: string) => process.stdout.write(`${line}\n`));
  let partial = "";
  const before = workerdChildren();
  const started = performance.now();
  // Loaded here, not at the top: a script answers --help or a usage error before half a second of
  // Miniflare loads.
  const { Miniflare: MiniflareClass } = await import("miniflare");
  const miniflare: Miniflare = new MiniflareClass({
    // The script as one ES module given by content: with `scriptPath`, Miniflare first parses the whole
    // bundle in Node to find its imports (300–400 ms for this bundle), which is not the Worker's start-up.
    modules: [
      { type: "ESModule", path: options.scriptPath, contents: readFileSync(options.scriptPath, "utf8") },
    ],
    compatibilityDate: date,
    compatibilityFlags: flags,
    host: "127.0.0.1",
    port: options.port ?? 0,
    kvNamespaces: ["STS_CACHE"],
    ...(options.kvPersist !== undefined ? { kvPersist: options.kvPersist } : {}),
    ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
    bindings: options.bindings,
    outboundService: createOutboundRouter(options.doubles.routes, outbound),
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.setEncoding("utf8");
      stdout.on("data", (chunk: string) => {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) onLine(line);
      });
      stderr.setEncoding("utf8");
      stderr.on("data", (chunk: string) => {
        if (chunk.trim() !== "") process.stderr.write(`[workerd] ${chunk}`);
      });
    },
  });
  const url = (await miniflare.ready).toString().replace(/\/$/, "");
  const readyMs = performance.now() - started;
  const pids = [...workerdChildren()].filter((p) => !before.has(p));
  const pid = pids.length === 1 ? pids[0] : undefined;
  return {
    url,
    miniflare,
    outbound,
    readyMs,
    readyCpuNs: pid === undefined ? undefined : processCpuNs(pid),
    cpuNs: () => (pid === undefined ? undefined : processCpuNs(pid)),
    dispose: () => miniflare.dispose(),
  };
}

interface StackOptions {
  /** STS_DOMAIN of the Worker (default `localhost:<port>`). */
  domain?: string;
  port?: number;
  issuerPort?: number;
  githubPort?: number;
  /** Extra vars for the Worker (ALLOWED_ISSUERS, ORG_POLICY_REPO, …). */
  vars?: Record<string, string>;
  /** Skip the wrangler build (the bundle in `outdir` is reused). */
  skipBuild?: boolean;
  /** Where the Worker bundle is built (default dist). */
  outdir?: string;
  /** Each line the Worker prints (its audit lines among them); printed when absent. */
  onLine?: (line: string) => void;
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

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const outdir = options.outdir ?? "dist";
  const scriptPath = options.skipBuild ? resolve(outdir, "index.js") : buildWorker(outdir);
  const doubles = await startDoubles({ issuerPort: options.issuerPort, githubPort: options.githubPort });
  const port = options.port ?? 8787;
  const domain = options.domain ?? `localhost:${port}`;
  let worker: RunningWorker;
  try {
    worker = await startWorker({
      scriptPath,
      doubles,
      port,
      onLine: options.onLine,
      bindings: {
        STS_DOMAIN: domain,
        GITHUB_APP_ID: DEMO_APP_ID,
        GITHUB_APP_PRIVATE_KEY: readFileSync(DEMO_APP_KEY_PATH, "utf8"),
        ...options.vars,
      },
    });
  } catch (error) {
    await doubles.close();
    throw error;
  }
  return {
    doubles,
    miniflare: worker.miniflare,
    url: worker.url,
    domain,
    outbound: worker.outbound,
    async close() {
      await worker.dispose();
      await doubles.close();
    },
  };
}

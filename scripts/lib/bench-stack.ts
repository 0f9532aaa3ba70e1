/**
 * The benchmark's Worker instances. Like `startStack()` (scripts/lib/stack.ts: same wrangler build, same
 * compatibility settings, same doubles, same outbound router), but the benchmark needs what that helper
 * does not expose: several Workers sharing ONE set of doubles (the real Worker and the floor side by
 * side), a KV namespace persisted to a directory (so a new workerd process — a new isolate with empty
 * memory — can start over a warm KV), the workerd process id (for its CPU time) and the Worker's stdout
 * (to count audit lines instead of printing them).
 */

import { readdirSync, readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { Miniflare } from "miniflare";
import type { Doubles } from "../../test/doubles/launch";
import { createOutboundRouter, type OutboundCounter } from "../../test/doubles/outbound";

export interface WorkerOptions {
  scriptPath: string;
  doubles: Doubles;
  bindings: Record<string, string>;
  /** Directory for the KV namespace (`kvPersist`); in memory when absent. */
  kvPersist?: string;
  /** Open workerd's V8 inspector on this 127.0.0.1 port (for the CPU profile). */
  inspectorPort?: number;
}

export interface BenchWorker {
  url: string;
  outbound: OutboundCounter;
  /** Lines the Worker printed (audit lines among them), since the last `takeLines()`. */
  takeLines(): string[];
  /** CPU time of the workerd process (all threads) in nanoseconds, or undefined without /proc. */
  cpuNs(): number | undefined;
  /** Wall time from `new Miniflare()` to ready (workerd start + script load), ms. */
  readyMs: number;
  dispose(): Promise<void>;
}

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

export async function startWorker(options: WorkerOptions): Promise<BenchWorker> {
  const { date, flags } = compatibility();
  const outbound: OutboundCounter = { counts: new Map() };
  let lines: string[] = [];
  let partial = "";
  const before = workerdChildren();
  const started = performance.now();
  const miniflare = new Miniflare({
    // The script as one ES module given by content: with `scriptPath`, Miniflare first parses the whole
    // bundle in Node to find its imports (300–400 ms for this bundle), which is not the Worker's start-up.
    modules: [
      { type: "ESModule", path: options.scriptPath, contents: readFileSync(options.scriptPath, "utf8") },
    ],
    compatibilityDate: date,
    compatibilityFlags: flags,
    host: "127.0.0.1",
    port: 0,
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
        lines.push(...parts);
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
    outbound,
    readyMs,
    takeLines() {
      const taken = lines;
      lines = [];
      return taken;
    },
    cpuNs: () => (pid === undefined ? undefined : processCpuNs(pid)),
    dispose: () => miniflare.dispose(),
  };
}

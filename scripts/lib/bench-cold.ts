/**
 * Cold exchanges, measured as CPU beyond I/O (docs/performance.md, "Cold exchanges"). One sample: a new
 * workerd process over a given KV (empty, or a copy of a prepared one); the process's on-CPU time, all
 * threads (`/proc/<pid>/task/*\/schedstat`), from just before its first request until its outbound work
 * has settled; then a new process of the I/O probe (bench/replay-worker.ts) over the same KV state,
 * replaying exactly the outbound requests that first request made and its KV operations, measured the
 * same way. The difference is the CPU the Worker spent beyond its I/O: it excludes process start,
 * script compile and top-level evaluation (before the window; reported separately as start-up CPU),
 * and what workerd spends on the sockets, the HTTP exchanges and KV storage (the probe's share).
 */

import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Doubles } from "../../test/doubles/launch";
import type { OutboundRecord } from "../../test/doubles/outbound";
import { get } from "./bench-load";
import { type BenchWorker, startWorker } from "./bench-stack";

export interface ColdScenario {
  name: string;
  scriptPath: string;
  bindings: Record<string, string>;
  /** Path and query of the first request. */
  path: string;
  headers: Record<string, string>;
  /** A KV directory copied for each sample; a fresh empty one when absent. */
  kvTemplate?: string;
  /** The status the first request must answer. */
  status: number;
}

export interface ColdSample {
  /** CPU of the Worker's process over its first request, ns. */
  cpuNs: number;
  /** CPU of the probe's process replaying the same I/O, ns. */
  probeNs: number;
  /** CPU from process start to ready (compile + top-level evaluation included), ns. */
  readyNs: number;
  probeReadyNs: number;
  outbound: number;
  kvGets: number;
  kvPuts: number;
}

const SETTLE_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every key and value of the Worker's KV namespace. */
export async function kvSnapshot(w: BenchWorker): Promise<Map<string, string>> {
  const kv = await w.miniflare.getKVNamespace("STS_CACHE");
  const out = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await kv.list(cursor === undefined ? {} : { cursor });
    for (const k of page.keys) out.set(k.name, (await kv.get(k.name, "text")) ?? "");
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor !== undefined);
  return out;
}

function kvDir(template: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), "sts-bench-cold-"));
  if (template !== undefined) cpSync(template, dir, { recursive: true });
  return dir;
}

/** CPU of `w` over `work` and until it settles (waitUntil work included), ns. */
async function cpuOver(w: BenchWorker, work: () => Promise<void>): Promise<number> {
  const c0 = w.cpuNs();
  await work();
  await sleep(SETTLE_MS);
  const c1 = w.cpuNs();
  if (c0 === undefined || c1 === undefined) throw new Error("no /proc schedstat for workerd");
  return c1 - c0;
}

/** One sample of `s`: the Worker's first request, then the probe replaying its I/O. */
export async function coldSample(
  s: ColdScenario,
  doubles: Doubles,
  probePath: string,
  kvBefore: Map<string, string>,
): Promise<ColdSample> {
  const dirs: string[] = [];
  const workers: BenchWorker[] = [];
  try {
    const dir = kvDir(s.kvTemplate);
    dirs.push(dir);
    const w = await startWorker({
      scriptPath: s.scriptPath,
      doubles,
      bindings: s.bindings,
      kvPersist: dir,
      logOutbound: true,
    });
    workers.push(w);
    let status = 0;
    let body = "";
    const cpuNs = await cpuOver(w, async () => {
      const answer = await get({ url: w.url + s.path, headers: s.headers });
      status = answer.status;
      body = answer.body;
    });
    if (status !== s.status) throw new Error(`${s.name}: answered ${status}: ${body.slice(0, 300)}`);
    const log: OutboundRecord[] = [...(w.outbound.log ?? [])];
    const after = await kvSnapshot(w);
    await w.dispose();
    workers.pop();
    const kvGets = [...after.keys()];
    const kvPuts: [string, string, number][] = [...after]
      .filter(([k, v]) => kvBefore.get(k) !== v)
      .map(([k, v]) => [k, v, 3600]);

    const probeDir = kvDir(s.kvTemplate);
    dirs.push(probeDir);
    const p = await startWorker({ scriptPath: probePath, doubles, bindings: {}, kvPersist: probeDir });
    workers.push(p);
    let probeStatus = 0;
    const probeNs = await cpuOver(p, async () => {
      const answer = await get({
        url: `${p.url}/`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ requests: log, kvGets, kvPuts }),
      });
      probeStatus = answer.status;
    });
    if (probeStatus !== 200) throw new Error(`${s.name}: the I/O probe answered ${probeStatus}`);
    return {
      cpuNs,
      probeNs,
      readyNs: w.readyCpuNs ?? Number.NaN,
      probeReadyNs: p.readyCpuNs ?? Number.NaN,
      outbound: log.length,
      kvGets: kvGets.length,
      kvPuts: kvPuts.length,
    };
  } finally {
    for (const w of workers) await w.dispose().catch(() => {});
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Prepares a warm KV: one exchange of `s` in a new process over an empty KV, the directory kept. */
export async function prepareKv(
  s: ColdScenario,
  doubles: Doubles,
): Promise<{ dir: string; snapshot: Map<string, string> }> {
  const dir = kvDir(undefined);
  const w = await startWorker({ scriptPath: s.scriptPath, doubles, bindings: s.bindings, kvPersist: dir });
  try {
    const answer = await get({ url: w.url + s.path, headers: s.headers });
    if (answer.status !== 200)
      throw new Error(`preparing the KV: ${answer.status} ${answer.body.slice(0, 300)}`);
    await sleep(SETTLE_MS);
    return { dir, snapshot: await kvSnapshot(w) };
  } finally {
    await w.dispose();
  }
}

export const median = (values: number[]): number => {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
};

export interface ColdFigure {
  name: string;
  /** Median CPU beyond I/O, ms. */
  beyondMs: number;
  /** Median CPU of the first request and of its probe, ms. */
  cpuMs: number;
  probeMs: number;
  samples: number;
  outbound: number;
  kvGets: number;
  kvPuts: number;
}

export interface ColdReport {
  figures: Map<string, ColdFigure>;
  /** Median start-up CPU (process start to ready) per script, ms. */
  readyMs: Map<string, number>;
  rounds: number;
}

/**
 * `rounds` rounds over `scenarios`, the order rotated each round so no scenario always runs first;
 * medians per scenario. Scenarios with `kvTemplate: "prepare"` get a KV prepared by `prepareFrom`.
 */
export async function measureCold(
  scenarios: ColdScenario[],
  doubles: Doubles,
  probePath: string,
  rounds: number,
  snapshots: Map<string, Map<string, string>>,
): Promise<ColdReport> {
  const samples = new Map<string, ColdSample[]>(scenarios.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = scenarios.map((_, i) => scenarios[(i + r) % scenarios.length] as ColdScenario);
    for (const s of order) {
      const before = (s.kvTemplate !== undefined ? snapshots.get(s.kvTemplate) : undefined) ?? new Map();
      (samples.get(s.name) as ColdSample[]).push(await coldSample(s, doubles, probePath, before));
    }
  }
  const figures = new Map<string, ColdFigure>();
  const ready = new Map<string, number[]>();
  for (const s of scenarios) {
    const list = samples.get(s.name) as ColdSample[];
    figures.set(s.name, {
      name: s.name,
      beyondMs: median(list.map((x) => (x.cpuNs - x.probeNs) / 1e6)),
      cpuMs: median(list.map((x) => x.cpuNs / 1e6)),
      probeMs: median(list.map((x) => x.probeNs / 1e6)),
      samples: list.length,
      outbound: median(list.map((x) => x.outbound)),
      kvGets: median(list.map((x) => x.kvGets)),
      kvPuts: median(list.map((x) => x.kvPuts)),
    });
    const r = ready.get(s.scriptPath) ?? [];
    r.push(...list.map((x) => x.readyNs / 1e6));
    ready.set(s.scriptPath, r);
    const pr = ready.get(probePath) ?? [];
    pr.push(...list.map((x) => x.probeReadyNs / 1e6));
    ready.set(probePath, pr);
  }
  return { figures, readyMs: new Map([...ready].map(([k, v]) => [k, median(v)])), rounds };
}

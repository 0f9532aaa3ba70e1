/**
 * The benchmark's Worker instances: `startWorker` of scripts/lib/stack.ts (the one Miniflare setup),
 * with the Worker's printed lines collected so the benchmark can count audit lines instead of printing
 * thousands of them. Several of them share one set of doubles (the real Worker and the floor side by
 * side), and a KV persisted to a directory lets a new workerd process start over a warm KV.
 */

import { type RunningWorker, startWorker as startStackWorker, type WorkerOptions } from "./stack";

export { compatibility, processCpuNs } from "./stack";

export interface BenchWorker extends RunningWorker {
  /** Lines the Worker printed (audit lines among them), since the last `takeLines()`. */
  takeLines(): string[];
}

/** A Worker whose printed lines are collected instead of printed. */
export async function startWorker(options: Omit<WorkerOptions, "onLine">): Promise<BenchWorker> {
  let lines: string[] = [];
  const worker = await startStackWorker({ ...options, onLine: (line) => lines.push(line) });
  return {
    ...worker,
    takeLines() {
      const taken = lines;
      lines = [];
      return taken;
    },
  };
}

/**
 * Does workerd report per-request CPU time? On Cloudflare, tail events carry `cpuTime` and `wallTime`.
 * This probe runs a Worker that burns CPU on purpose with a tail Worker attached, collects the tail
 * events on a 127.0.0.1 collector, and says what local workerd put in them. (Inside the Worker,
 * `performance.now()` and `Date.now()` do not advance while code runs — a Spectre mitigation — so the
 * Worker cannot time itself either.)
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { compatibility } from "./bench-stack";

export async function probeTailCpu(): Promise<{ value: string; note: string }> {
  const events: { cpuTime?: number; wallTime?: number }[] = [];
  const collector = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      try {
        events.push(...(JSON.parse(body) as { cpuTime?: number; wallTime?: number }[]));
      } catch {
        // ignore a malformed report
      }
      res.end("ok");
    });
  });
  await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
  const port = (collector.address() as AddressInfo).port;
  const { date } = compatibility();
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    workers: [
      {
        name: "busy",
        modules: true,
        compatibilityDate: date,
        tails: ["tail"],
        script:
          "export default { async fetch() { let x = 0; for (let i = 0; i < 3e6; i++) x = (x + i * i) % 1000003; return new Response(String(x)); } }",
      },
      {
        name: "tail",
        modules: true,
        compatibilityDate: date,
        script: `export default { async tail(events) { await fetch("http://127.0.0.1:${port}/", { method: "POST", body: JSON.stringify(events.map((e) => ({ cpuTime: e.cpuTime, wallTime: e.wallTime }))) }); } }`,
      },
    ],
    handleRuntimeStdio() {},
  });
  try {
    const url = await mf.ready;
    for (let i = 0; i < 3; i++) await (await fetch(url)).text();
    for (let i = 0; i < 20 && events.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await mf.dispose();
    collector.close();
  }
  if (events.length === 0) {
    return { value: "n/a", note: "local workerd delivered no tail events to a tail Worker" };
  }
  const cpu = events.map((e) => e.cpuTime ?? 0);
  const wall = events.map((e) => e.wallTime ?? 0);
  if (cpu.every((c) => c === 0)) {
    return {
      value: "not exposed",
      note: `tail events from local workerd carry cpuTime ${cpu.join("/")} and wallTime ${wall.join("/")} ms for a CPU-bound probe; see the workerd-process CPU row`,
    };
  }
  return { value: `${cpu.join("/")} ms`, note: "cpuTime of tail events (CPU-bound probe, not the exchange)" };
}

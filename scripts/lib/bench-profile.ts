/**
 * Where the Worker's CPU goes: a V8 sampling profile taken through workerd's inspector (Miniflare's
 * `inspectorPort`) while warm exchanges run, attributed to source files and packages with the bundle's
 * source map. Idle time (waiting for I/O) is left out; what remains is the isolate's own CPU.
 */

import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { decodeVlq, packageOf } from "./bench-bundle";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled non-idle CPU, ms. */
  busyMs: number;
  byPackage: { name: string; ms: number }[];
  topFunctions: { name: string; where: string; ms: number }[];
}

/** A free TCP port on 127.0.0.1 (for workerd's inspector). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Generated position → original source, from a source map. */
class SourceLookup {
  private readonly lines: { col: number; source: number; line: number }[][] = [];
  constructor(private readonly map: { sources: string[]; mappings: string }) {
    let source = 0;
    let line = 0;
    for (const text of map.mappings.split(";")) {
      const segs: { col: number; source: number; line: number }[] = [];
      let col = 0;
      for (const seg of text.split(",")) {
        if (seg === "") continue;
        const v = decodeVlq(seg);
        col += v[0] ?? 0;
        if (v.length >= 4) {
          source += v[1] ?? 0;
          line += v[2] ?? 0;
          segs.push({ col, source, line });
        }
      }
      this.lines.push(segs);
    }
  }
  find(genLine: number, genCol: number): { file: string; line: number } | undefined {
    const segs = this.lines[genLine];
    if (segs === undefined || segs.length === 0) return undefined;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((segs[mid] as { col: number }).col <= genCol) lo = mid;
      else hi = mid - 1;
    }
    const hit = segs[lo] as { col: number; source: number; line: number };
    if (hit.col > genCol) return undefined;
    return { file: this.map.sources[hit.source] ?? "?", line: hit.line + 1 };
  }
}

class InspectorSession {
  private next = 0;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private constructor(private readonly ws: WebSocket) {}

  /** Connects to the user Worker's target on workerd's inspector. */
  static async connect(port: number): Promise<InspectorSession> {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      id: string;
      webSocketDebuggerUrl: string;
    }[];
    const target = list.find((t) => t.id.startsWith("core:user")) ?? list[0];
    if (target === undefined) throw new Error("workerd inspector lists no target");
    const { fetch: mfFetch } = await import("miniflare");
    const response = await mfFetch(target.webSocketDebuggerUrl.replace(/^ws:/, "http:"), {
      headers: { upgrade: "websocket" },
    });
    const ws = response.webSocket;
    if (ws === null || ws === undefined) throw new Error("workerd inspector refused the WebSocket");
    ws.accept();
    const session = new InspectorSession(ws as unknown as WebSocket);
    ws.addEventListener("message", (event: { data: unknown }) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
      if (message.id !== undefined) {
        session.pending.get(message.id)?.(message.result);
        session.pending.delete(message.id);
      }
    });
    return session;
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve) => {
      this.pending.set(id, (r) => resolve(r as T));
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** Profiles `work` on the Worker behind `inspectorPort`; attributes samples with `scriptPath`'s map. */
export async function profile(
  inspectorPort: number,
  scriptPath: string,
  work: () => Promise<void>,
): Promise<ProfileSummary> {
  const session = await InspectorSession.connect(inspectorPort);
  let cpu: CpuProfile;
  try {
    await session.call("Profiler.enable");
    await session.call("Profiler.setSamplingInterval", { interval: 50 });
    await session.call("Profiler.start");
    await work();
    cpu = (await session.call<{ profile: CpuProfile }>("Profiler.stop")).profile;
  } finally {
    session.close();
  }
  let lookup: SourceLookup | undefined;
  try {
    lookup = new SourceLookup(JSON.parse(readFileSync(`${scriptPath}.map`, "utf8")));
  } catch {
    lookup = undefined;
  }
  const nodes = new Map(cpu.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < cpu.samples.length; i++) {
    const id = cpu.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (cpu.timeDeltas[i + 1] ?? cpu.timeDeltas[i] ?? 0));
  }
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = (nodes.get(id) as ProfileNode).callFrame;
    if (frame.functionName === "(idle)") continue;
    busyUs += us;
    let pkg: string;
    let where: string;
    if (frame.url === "") {
      pkg =
        frame.functionName === "(garbage collector)" ? "(garbage collector)" : "(runtime: workerd/V8 native)";
      where = pkg;
    } else {
      const src = lookup?.find(frame.lineNumber, frame.columnNumber);
      pkg = src === undefined ? "(unmapped script)" : packageOf(src.file);
      where =
        src === undefined
          ? `${frame.url}:${frame.lineNumber}`
          : `${src.file.replace(/^(\.\.\/)+/, "")}:${src.line}`;
    }
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const key = `${frame.functionName}@${where}`;
    const entry = byFunction.get(key) ?? { name: frame.functionName || "(anonymous)", where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  return {
    busyMs: busyUs / 1000,
    byPackage: [...byPackage].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, 40)
      .map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000 })),
  };
}

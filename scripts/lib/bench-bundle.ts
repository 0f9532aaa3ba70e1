/**
 * The deployed bundle, measured: built by wrangler itself (`wrangler deploy --dry-run` with the shipped
 * wrangler.toml, so `minify = true` and every other flag are wrangler's), with `--metafile` (esbuild's
 * own count of the bytes each input contributes to the output) and `--upload-source-maps` (which adds a
 * source map and a `sourceMappingURL` comment, nothing else). Minified share per dependency: the
 * metafile. Gzipped share per dependency: the output bytes the source map attributes to that dependency,
 * gzipped on their own (level 9 with Node's zlib).
 */

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

interface BundleShare {
  name: string;
  minBytes: number;
  /** The source-map-attributed output of this dependency, gzipped alone. */
  gzipBytes: number;
}

interface BundleReport {
  scriptPath: string;
  minBytes: number;
  gzipBytes: number;
  shares: BundleShare[];
  buildMs: number;
  /** wrangler's own size line ("Total Upload: … KiB / gzip: … KiB"). */
  wranglerSays?: string;
}

/** `node_modules/@scope/name/...` → `@scope/name`; project sources → `src (this project)`. */
export function packageOf(path: string): string {
  const i = path.lastIndexOf("node_modules/");
  if (i >= 0) {
    const rest = path.slice(i + "node_modules/".length).split("/");
    if (rest[0]?.startsWith("@")) return `${rest[0]}/${rest[1]}`;
    if (rest[0] === "wrangler") return "wrangler shims";
    return rest[0] ?? path;
  }
  if (/(^|\/)src\//.test(path)) return "src (this project)";
  if (path.includes(".wrangler") || path.includes("wrangler")) return "wrangler shims";
  return path;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Decodes one source-map `mappings` segment into its VLQ numbers. */
export function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of segment) {
    const digit = B64_INDEX.get(c);
    if (digit === undefined) throw new Error(`bad VLQ character ${c}`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/** Generated text per source package, by the source map. */
export function attributeBySourceMap(
  code: string,
  map: { sources: string[]; mappings: string },
): Map<string, string> {
  const pieces = new Map<string, string[]>();
  const add = (name: string, text: string) => {
    if (text === "") return;
    let list = pieces.get(name);
    if (list === undefined) {
      list = [];
      pieces.set(name, list);
    }
    list.push(text);
  };
  const codeLines = code.split("\n");
  const mapLines = map.mappings.split(";");
  let source = 0;
  for (let li = 0; li < codeLines.length; li++) {
    const line = codeLines[li] as string;
    const segs = (mapLines[li] ?? "").split(",").filter((s) => s !== "");
    let col = 0;
    let prevCol = 0;
    let prevOwner = "(unmapped)";
    for (const seg of segs) {
      const v = decodeVlq(seg);
      col += v[0] ?? 0;
      add(prevOwner, line.slice(prevCol, col));
      if (v.length >= 4) {
        source += v[1] ?? 0;
        prevOwner = packageOf(map.sources[source] ?? "(unmapped)");
      } else {
        prevOwner = "(unmapped)";
      }
      prevCol = col;
    }
    add(prevOwner, li < codeLines.length - 1 ? `${line.slice(prevCol)}\n` : line.slice(prevCol));
    // the source index carries over lines; line and column deltas are not needed here
  }
  return new Map([...pieces].map(([k, v]) => [k, v.join("")]));
}

/** Builds with wrangler into `outdir` (unless `reuse` and a build is there) and measures. */
export function measureBundle(reuse = false, outdir = "build/bench/dist"): BundleReport {
  const dir = resolve(outdir);
  const t0 = performance.now();
  let printed = "";
  if (!reuse || !existsSync(join(dir, "index.js"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    printed = execFileSync(
      process.execPath,
      [
        resolve("node_modules/wrangler/bin/wrangler.js"),
        "deploy",
        "--dry-run",
        "--outdir",
        dir,
        "--metafile",
        join(dir, "bundle-meta.json"),
        "--upload-source-maps",
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
        encoding: "utf8",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      },
    );
  }
  const wranglerSays = /Total Upload:[^\n]*/.exec(printed)?.[0]?.trim();
  const buildMs = performance.now() - t0;
  const scriptPath = join(dir, "index.js");
  // What is deployed is the script without the source-map comment that --upload-source-maps appended.
  const code = readFileSync(scriptPath, "utf8").replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
  const bytes = Buffer.from(code, "utf8");
  const meta = JSON.parse(readFileSync(join(dir, "bundle-meta.json"), "utf8")) as {
    outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
  };
  const output = Object.entries(meta.outputs).find(([name]) => name.endsWith("index.js"))?.[1];
  const minByPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const name = packageOf(input);
    minByPackage.set(name, (minByPackage.get(name) ?? 0) + bytesInOutput);
  }
  const map = JSON.parse(readFileSync(`${scriptPath}.map`, "utf8")) as {
    sources: string[];
    mappings: string;
  };
  const texts = attributeBySourceMap(code, map);
  const names = new Set([...minByPackage.keys(), ...texts.keys()]);
  const shares: BundleShare[] = [...names].map((name) => {
    const text = texts.get(name) ?? "";
    return {
      name,
      minBytes: minByPackage.get(name) ?? Buffer.byteLength(text),
      gzipBytes: text === "" ? 0 : gzipSync(text, { level: 9 }).length,
    };
  });
  shares.sort((a, b) => b.minBytes - a.minBytes);
  return {
    scriptPath,
    minBytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    shares,
    buildMs,
    ...(wranglerSays !== undefined ? { wranglerSays } : {}),
  };
}

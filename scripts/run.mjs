#!/usr/bin/env node
// Runs a TypeScript script on Node 20 (which cannot run .ts itself): bundles it with esbuild (already a
// dependency of wrangler, pinned in package.json) into build/scripts/, leaving packages external, then imports it.
// Usage: node scripts/run.mjs scripts/demo.ts [args...]
import { mkdirSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error("usage: node scripts/run.mjs <script.ts> [args...]");
  process.exit(2);
}
const outdir = resolve("build/scripts");
mkdirSync(outdir, { recursive: true });
const outfile = resolve(outdir, `${basename(entry).replace(/\.ts$/, "")}.mjs`);
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "inline",
  logLevel: "warning",
});
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);

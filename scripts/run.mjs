#!/usr/bin/env node
// Runs a TypeScript script on Node 20 (which cannot run .ts itself): bundles it with esbuild (already a
// dependency of wrangler, pinned in package.json) into build/scripts/, leaving packages external, then imports it.
// Usage: node scripts/run.mjs scripts/demo.ts [args...]
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const [entry, ...args] = process.argv.slice(2);
if (!entry || !existsSync(entry)) {
  console.error(
    entry ? `scripts/run.mjs: no such script ${entry}` : "usage: node scripts/run.mjs <script.ts> [args...]",
  );
  process.exit(2);
}
const outdir = resolve("build/scripts");
mkdirSync(outdir, { recursive: true });
const outfile = resolve(outdir, `${basename(entry).replace(/\.ts$/, "")}.mjs`);
// Written under a name of its own, then renamed over the last build: two runs of the same script at
// once (the tests start several) never import a half-written file.
const partial = `${outfile}.${process.pid}.tmp`;
await build({
  entryPoints: [entry],
  outfile: partial,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "inline",
  logLevel: "warning",
});
renameSync(partial, outfile);
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);

#!/usr/bin/env node
// Runs a TypeScript script on Node 20 (which cannot run .ts itself): bundles it with esbuild (already a
// dependency of wrangler, pinned in package.json) into build/scripts/, leaving packages external, then imports it.
// The bundle is made again only when one of its source files changed (scripts/lib/build-cache.mjs).
// Usage: node scripts/run.mjs scripts/demo.ts [args...]
import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { cachedBuild } from "./lib/build-cache.mjs";

const [entry, ...args] = process.argv.slice(2);
if (!entry || !existsSync(entry)) {
  console.error(
    entry ? `scripts/run.mjs: no such script ${entry}` : "usage: node scripts/run.mjs <script.ts> [args...]",
  );
  process.exit(2);
}
const outfile = resolve("build/scripts", `${basename(entry).replace(/\.ts$/, "")}.mjs`);
await cachedBuild(
  {
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "inline",
    logLevel: "warning",
  },
  outfile,
);
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);

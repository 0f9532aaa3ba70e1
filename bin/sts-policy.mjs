#!/usr/bin/env node
// sts-policy: the trust policy checker (src/cli/main.ts). Node 20 cannot run TypeScript, so this
// runner bundles the checker with esbuild (a devDependency) in memory on every start (~0.3 s) and
// imports the result: no build step, works from a fresh clone after `npm ci`.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { importTs } from "../scripts/lib/import-ts.mjs";

const { main } = await importTs(fileURLToPath(new URL("../src/cli/main.ts", import.meta.url)));

process.exitCode = main(process.argv.slice(2), {
  readFile: (path) => readFileSync(path, "utf8"),
  resolve: (path) => resolve(path),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});

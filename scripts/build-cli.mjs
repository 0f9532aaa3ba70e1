#!/usr/bin/env node
// npm run build:cli (and `prepack`, so `npm pack` always ships a fresh one): writes the sts-policy
// command as one plain JavaScript file, dist-cli/sts-policy.mjs, that needs neither esbuild nor any
// installed dependency to run.
import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { writeCli } from "./lib/cli-bundle.mjs";

const USAGE =
  "usage: npm run build:cli\n  Writes dist-cli/sts-policy.mjs, the sts-policy command as one JavaScript file.";
const [arg] = process.argv.slice(2);
if (arg === "--help" || arg === "-h") {
  console.log(USAGE);
  process.exit(0);
}
if (arg !== undefined) {
  console.error(`npm run build:cli: unknown argument ${arg}\n${USAGE}`);
  process.exit(2);
}
const outfile = fileURLToPath(new URL("../dist-cli/sts-policy.mjs", import.meta.url));
await writeCli(outfile);
chmodSync(outfile, 0o755);
console.log("wrote dist-cli/sts-policy.mjs");

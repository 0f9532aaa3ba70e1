#!/usr/bin/env node
// npm run build:cli (and `prepack`, so `npm pack` always ships a fresh one): writes the sts-policy
// command as one plain JavaScript file, dist-cli/sts-policy.mjs, that needs neither esbuild nor any
// installed dependency to run.
import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { writeCli } from "./lib/cli-bundle.mjs";
import { takeNoArguments } from "./lib/no-arguments.mjs";

const USAGE =
  "usage: npm run build:cli\n  Writes dist-cli/sts-policy.mjs, the sts-policy command as one JavaScript file.";
takeNoArguments("npm run build:cli", USAGE);
const outfile = fileURLToPath(new URL("../dist-cli/sts-policy.mjs", import.meta.url));
await writeCli(outfile);
chmodSync(outfile, 0o755);
console.log("wrote dist-cli/sts-policy.mjs");

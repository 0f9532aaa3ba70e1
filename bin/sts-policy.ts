/**
 * The `sts-policy` command on Node: the checker of src/cli/main.ts with Node's file system and streams.
 * bin/sts-policy.mjs runs this file, bundled from source in a clone, or as the prebuilt
 * dist-cli/sts-policy.mjs (scripts/build-cli.mjs) in the package that `npm pack` makes.
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { main } from "../src/cli/main";

process.exitCode = main(process.argv.slice(2), {
  readFile: (path) => readFileSync(path, "utf8"),
  resolve: (path) => resolve(path),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});

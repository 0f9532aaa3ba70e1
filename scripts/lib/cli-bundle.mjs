// The one esbuild setup of the sts-policy command (bin/sts-policy.ts): bundled whole, its dependencies
// (yaml, re2js, zod) inlined, for Node 20. bin/sts-policy.mjs runs it in a clone from build/sts-policy/
// (made again whenever a source file changed); scripts/build-cli.mjs writes it to dist-cli/ for
// `npm pack`.
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { cachedBuild } from "./build-cache.mjs";

const ENTRY = fileURLToPath(new URL("../../bin/sts-policy.ts", import.meta.url));

const OPTIONS = {
  entryPoints: [ENTRY],
  bundle: true,
  // "neutral" with these main fields picks the packages' ESM builds (yaml's CommonJS build would
  // `require("process")`, which an ES module bundle cannot); Node's own modules stay imports.
  platform: "neutral",
  mainFields: ["module", "main"],
  external: ["node:*"],
  format: "esm",
  target: "node20",
  logLevel: "warning",
};

/** Bundles the command from source (when it changed) and runs it (it sets `process.exitCode`). */
export async function runCliFromSource() {
  const outfile = fileURLToPath(new URL("../../build/sts-policy/sts-policy.mjs", import.meta.url));
  await cachedBuild(OPTIONS, outfile);
  await import(pathToFileURL(outfile).href);
}

/** Writes the command to `outfile` as one executable ES module. */
export async function writeCli(outfile) {
  await build({ ...OPTIONS, outfile, banner: { js: "#!/usr/bin/env node" }, legalComments: "eof" });
}

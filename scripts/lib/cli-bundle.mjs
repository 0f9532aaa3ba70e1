// The one esbuild setup of the sts-policy command (bin/sts-policy.ts): bundled whole, its dependencies
// (yaml, re2js, zod) inlined, for Node 20. bin/sts-policy.mjs runs it from memory in a clone;
// scripts/build-cli.mjs writes it to dist-cli/ for `npm pack`.
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

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

/** Bundles the command in memory and runs it (its exit code is set on `process.exitCode`). */
export async function runCliFromSource() {
  const bundle = await build({ ...OPTIONS, write: false });
  const code = bundle.outputFiles[0].text;
  await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
}

/** Writes the command to `outfile` as one executable ES module. */
export async function writeCli(outfile) {
  await build({ ...OPTIONS, outfile, banner: { js: "#!/usr/bin/env node" }, legalComments: "eof" });
}

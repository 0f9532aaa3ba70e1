// Imports a self-contained TypeScript module on Node 20 (which cannot run TypeScript): esbuild (a
// devDependency) bundles it in memory with every dependency inlined, and the bundle is imported from a
// data: URL. For modules that use no Node API of their own (the checker, the schema generator); scripts
// that need Node packages go through scripts/run.mjs instead.
import { build } from "esbuild";

/** The exports of the TypeScript module at `entryPath` (a file path). */
export async function importTs(entryPath) {
  const bundle = await build({
    entryPoints: [entryPath],
    bundle: true,
    write: false,
    format: "esm",
    // "neutral" with these main fields picks the packages' ESM builds and no Node shims.
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "node20",
    logLevel: "silent",
  });
  const code = bundle.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
}

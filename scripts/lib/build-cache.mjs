// esbuild, but only when something changed: the bundle is written beside a list of the files it was
// built from (path, size, modification time) and the options it was built with, and built again only
// when one of them differs. Scripts start in milliseconds instead of a bundle's CPU time each run (the
// test suite starts them dozens of times). Written under a name of its own, then renamed into place,
// so runs at the same moment never read a half-written file.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { build } from "esbuild";

function fingerprint(path) {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function upToDate(outfile, optionsHash) {
  let record;
  try {
    record = JSON.parse(readFileSync(`${outfile}.inputs.json`, "utf8"));
    statSync(outfile);
  } catch {
    return false;
  }
  if (record.options !== optionsHash) return false;
  return Object.entries(record.inputs).every(([path, print]) => fingerprint(path) === print);
}

/** Builds `options` into `outfile` unless the last build there is of the same inputs and options. */
export async function cachedBuild(options, outfile) {
  const optionsHash = createHash("sha256")
    .update(JSON.stringify({ ...options, outfile }))
    .digest("hex");
  if (upToDate(outfile, optionsHash)) return;
  mkdirSync(dirname(outfile), { recursive: true });
  const partial = `${outfile}.${process.pid}.tmp`;
  const result = await build({ ...options, outfile: partial, metafile: true });
  const inputs = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    // Bundled package files are inputs too: an upgrade of a dependency rebuilds.
    const path = resolve(input.replace(/^[a-z-]+:/, ""));
    inputs[path] = fingerprint(path);
  }
  renameSync(partial, outfile);
  const record = `${outfile}.inputs.json`;
  writeFileSync(`${record}.${process.pid}.tmp`, JSON.stringify({ options: optionsHash, inputs }));
  renameSync(`${record}.${process.pid}.tmp`, record);
}

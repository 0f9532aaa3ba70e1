/**
 * `npm run fuzz`: the fuzz properties of test/worker/security/fuzz/properties.ts (docs/security.md,
 * "Fuzzing") for as many cases as asked, in Node, with a report per target: cases, time, the slowest
 * cases, and for the end-to-end target the outcomes seen. Exits 1 when a property fails (printing the
 * shrunk counterexample with its seed and path, to replay with --seed), 2 on a usage error.
 *
 *   npm run fuzz                        every target, ten times its CI cases, a random seed
 *   npm run fuzz -- --runs 100000       100000 cases per target
 *   npm run fuzz -- --only policy --seed 42 --slowest 5
 *
 * The properties are written for workerd; Node runs the same module, bundled here with esbuild.
 */

import { mkdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { exitOnError, parseArgsOrExit, usageExit } from "./lib/cli";

const SCRIPT = "npm run fuzz";
const USAGE = `usage: npm run fuzz -- [--runs N] [--seed N] [--only TEXT]... [--slowest K]

Runs the fuzz properties of test/worker/security/fuzz/properties.ts in Node.

  --runs N       cases per target (default: ten times the target's CI cases)
  --seed N       the first target's seed; target i runs with N + i (default: random)
  --only TEXT    only the targets whose name contains TEXT (repeatable)
  --slowest K    how many of the slowest cases to show per target (default 3)
  --help         this text

Exit status: 0 when every property held, 1 when one failed, 2 on a usage error.`;

interface Options {
  runs?: number;
  seed: number;
  only: string[];
  slowest: number;
}

function options(): Options {
  const flags = parseArgsOrExit(SCRIPT, USAGE, {
    runs: { kind: "int" },
    seed: { kind: "int" },
    only: { kind: "string", repeat: true },
    slowest: { kind: "int" },
  });
  if (flags.rest.length > 0) usageExit(SCRIPT, `unexpected argument ${flags.rest[0]}`, USAGE);
  const runs = flags.values.get("runs");
  if (runs !== undefined && Number(runs) < 1) usageExit(SCRIPT, "--runs needs a count of at least 1", USAGE);
  const only = flags.lists.get("only") ?? [];
  if (only.some((text) => text === "")) usageExit(SCRIPT, "--only needs a part of a target's name", USAGE);
  return {
    ...(runs === undefined ? {} : { runs: Number(runs) }),
    seed: Number(flags.values.get("seed") ?? Math.floor(Math.random() * 2 ** 31)),
    only,
    slowest: Number(flags.values.get("slowest") ?? 3),
  };
}

/** What this script uses of the bundled properties module. */
interface TargetReport {
  name: string;
  runs: number;
  ms: number;
  failed: boolean;
  message?: string;
  slowest: { ms: number; input: string }[];
}
interface PropertiesModule {
  TARGETS: readonly { name: string; ciRuns: number }[];
  fuzzContext(appKeyPem: string): Promise<{ outcomes: Map<string, number> }>;
  runTarget(
    target: unknown,
    ctx: unknown,
    options: { runs: number; seed: number; keepSlowest: number },
  ): Promise<TargetReport>;
}

async function loadProperties(): Promise<PropertiesModule> {
  const outdir = resolve("build/fuzz");
  mkdirSync(outdir, { recursive: true });
  const outfile = resolve(outdir, "properties.mjs");
  await build({
    entryPoints: ["test/worker/security/fuzz/properties.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  return (await import(pathToFileURL(outfile).href)) as PropertiesModule;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const opts = options();
  const properties = await loadProperties();
  const chosen = properties.TARGETS.map((target, index) => ({ target, index })).filter(
    ({ target }) => opts.only.length === 0 || opts.only.some((text) => target.name.includes(text)),
  );
  if (chosen.length === 0) {
    const names = properties.TARGETS.map((t) => t.name).join("\n  ");
    usageExit(SCRIPT, `no target matches --only ${opts.only.join(", ")}; the targets:\n  ${names}`, USAGE);
  }
  const ctx = await properties.fuzzContext(readFileSync("test/fixtures/app-key.pkcs8.pem", "utf8"));
  console.log(`fuzz: ${chosen.length} targets, seed ${opts.seed}`);
  const started = performance.now();
  let cases = 0;
  let failures = 0;
  for (const { target, index } of chosen) {
    const runs = opts.runs ?? target.ciRuns * 10;
    const seed = opts.seed + index;
    const report = await properties.runTarget(target, ctx, { runs, seed, keepSlowest: opts.slowest });
    cases += report.runs;
    const perCase = report.runs > 0 ? report.ms / report.runs : 0;
    console.log(
      `\n${report.failed ? "FAIL" : "ok  "} ${report.name}\n     ${report.runs} cases in ${seconds(report.ms)} (${perCase.toFixed(2)} ms a case), seed ${seed}`,
    );
    for (const slow of report.slowest) console.log(`     slowest ${slow.ms.toFixed(1)} ms: ${slow.input}`);
    if (report.failed) {
      failures++;
      console.log(`\n${report.message}\n`);
    }
  }
  if (ctx.outcomes.size > 0) {
    const seen = [...ctx.outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
    console.log(`\noutcomes (end to end, webhook): ${seen.join(", ")}`);
  }
  console.log(
    `\n${failures === 0 ? "every property held" : `${failures} of ${chosen.length} targets failed`}: ${cases} cases in ${seconds(performance.now() - started)}`,
  );
  return failures === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, exitOnError(SCRIPT));

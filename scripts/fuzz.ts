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

const USAGE = `usage: npm run fuzz -- [options]

Runs the fuzz properties of test/worker/security/fuzz/properties.ts in Node.

options:
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

class UsageError extends Error {}

function parseArgs(argv: string[]): Options | "help" {
  const options: Options = { seed: Math.floor(Math.random() * 2 ** 31), only: [], slowest: 3 };
  const count = (flag: string, value: string | undefined, min: number): number => {
    if (value === undefined || !/^\d+$/.test(value) || Number(value) < min || Number(value) > 100_000_000) {
      throw new UsageError(`${flag} needs a whole number of at least ${min}`);
    }
    return Number(value);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const [name, inline] =
      flag.startsWith("--") && flag.includes("=") ? flag.split(/=(.*)/s, 2) : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case "--help":
      case "-h":
        return "help";
      case "--runs":
        options.runs = count("--runs", value(), 1);
        break;
      case "--seed":
        options.seed = count("--seed", value(), 0);
        break;
      case "--slowest":
        options.slowest = count("--slowest", value(), 0);
        break;
      case "--only": {
        const text = value();
        if (text === undefined || text === "") throw new UsageError("--only needs a part of a target's name");
        options.only.push(text);
        break;
      }
      default:
        throw new UsageError(`unknown option ${JSON.stringify(flag)}`);
    }
  }
  return options;
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
  let options: Options | "help";
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const properties = await loadProperties();
  const chosen = properties.TARGETS.map((target, index) => ({ target, index })).filter(
    ({ target }) => options.only.length === 0 || options.only.some((text) => target.name.includes(text)),
  );
  if (chosen.length === 0) {
    console.error(
      `no target matches --only ${options.only.join(", ")}; targets:\n  ${properties.TARGETS.map((t) => t.name).join("\n  ")}`,
    );
    return 2;
  }
  const ctx = await properties.fuzzContext(readFileSync("test/fixtures/app-key.pkcs8.pem", "utf8"));
  console.log(`fuzz: ${chosen.length} targets, seed ${options.seed}`);
  const started = performance.now();
  let cases = 0;
  let failures = 0;
  for (const { target, index } of chosen) {
    const runs = options.runs ?? target.ciRuns * 10;
    const seed = options.seed + index;
    const report = await properties.runTarget(target, ctx, { runs, seed, keepSlowest: options.slowest });
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

process.exitCode = await main();

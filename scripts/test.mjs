#!/usr/bin/env node
// npm test: the type-check (scripts/typecheck.mjs), the lint (biome check .) and every test (vitest run)
// at the same time (scripts/lib/checks.mjs). On 2 cores this takes about 4–12 s less than one after the
// other: vitest does not keep both cores busy all the time, and the type-check fills the gaps. vitest
// prints as it goes; the type-check's and the lint's output follows it, each under its own heading, and
// the command exits 1 if any of the three failed, naming which. Arguments go to vitest
// (`npm test -- test/worker/trust`, `npm test -- --help`).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { runChecks } from "./lib/checks.mjs";

const require = createRequire(import.meta.url);
// vitest's package exports no path to its command, only package.json, beside which it lives.
const vitest = join(dirname(require.resolve("vitest/package.json")), "vitest.mjs");
const biome = require.resolve("@biomejs/biome/bin/biome");

process.exitCode = await runChecks({
  label: "npm test",
  background: [
    { name: "type-check (npm run typecheck)", args: ["scripts/typecheck.mjs"] },
    { name: "lint (npm run lint)", args: [biome, "check", "."] },
  ],
  foreground: { name: "tests (vitest run)", args: [vitest, "run", ...process.argv.slice(2)] },
});

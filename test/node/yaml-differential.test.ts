/**
 * The policy YAML reader (src/trust/yaml.ts over yaml-compose.ts, the `yaml` package's syntax tree)
 * against the reader it replaced (test/node/yaml/oracle.ts, the package's Document API): the same
 * tree, positions included, for every input that either accepts, and the same problems (message and
 * position) for every input either refuses, over a corpus of fixtures, docs examples, the strings
 * of the YAML-reading tests and edge cases, then mutated and generated documents. The differences
 * that are intended are named in `intended` and checked for what the new reader does instead.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MAX_POLICY_YAML_PROBLEMS } from "../../src/platform/limits";
import { parseYaml } from "../../src/trust/yaml";
import { blockDocument, corpus, mutated, stringified, yamlSoup } from "./yaml/corpus";
import { parseYamlOracle } from "./yaml/oracle";

type Result = ReturnType<typeof parseYaml>;

const messages = (r: Result) => (r.ok ? [] : r.problems.map((p) => p.message));

/**
 * Why the two readers may answer an input differently, when they may: each is a refusal by both, with
 * another message (docs/policy-reference.md, "YAML rules").
 */
function intended(text: string, old: Result, now: Result): string | null {
  if (old.ok || now.ok) return null;
  const was = messages(old);
  const is = messages(now);
  // A second document: the message names the rule, not the library's API.
  const renamed = JSON.parse(
    JSON.stringify(old).replace(
      "Source contains multiple documents; please use YAML.parseAllDocuments()",
      "Source contains multiple documents; a policy file is one YAML document",
    ),
  ) as typeof old;
  if (JSON.stringify(renamed) === JSON.stringify(now)) return "second document";
  // At most MAX_POLICY_YAML_PROBLEMS are listed: the first ones (in order) of all the old reader found.
  if (!renamed.ok && !now.ok && now.problems.length === MAX_POLICY_YAML_PROBLEMS) {
    const all = renamed.problems.map((p) => JSON.stringify(p));
    let at = 0;
    for (const p of now.problems) at = all.indexOf(JSON.stringify(p), at) + 1 || Number.NaN;
    if (all.length > MAX_POLICY_YAML_PROBLEMS && !Number.isNaN(at)) return "problem cap";
  }
  // The Composer caught its own stack overflow mid-document; the new reader refuses the whole text.
  if (
    was.some((m) => m.includes("Maximum call stack size exceeded")) &&
    is[0] === "invalid YAML: nested too deeply"
  )
    return "stack overflow";
  // Under %YAML 1.2 the Composer resolves five more tags, with their own refusals (`!!timestamp x`);
  // here each is an unsupported tag, refused after the rest of the document is read.
  if (/^%YAML 1\.2/m.test(text) && /!!(binary|timestamp|set|omap|pairs)\b/.test(text)) return "YAML 1.2 tags";
  return null;
}

function compare(text: string): { text: string; old: Result; now: Result } | null {
  const old = parseYamlOracle(text);
  const now = parseYaml(text);
  if (JSON.stringify(old) === JSON.stringify(now)) return null;
  if (intended(text, old, now) !== null) return null;
  return { text, old, now };
}

const CORPUS = corpus();

/**
 * How many generated texts, as a share of the runs written below (32,000 in all): `npm test` tries a
 * fifth of them, a few seconds, with fixed seeds; `YAML_DIFF_SCALE=1` all of them, and with
 * `YAML_DIFF_SEED=<n>` other seeds (the reader was explored at over a million texts this way).
 */
const SCALE = Number(process.env.YAML_DIFF_SCALE ?? 0.2);

/** Both readers on `runs` × SCALE texts of `texts`. fast-check shrinks a difference to a small text. */
function agreeOn(texts: fc.Arbitrary<string>, runs: number, fixedSeed: number) {
  const env = process.env;
  fc.assert(
    fc.property(texts, (text) => {
      expect(compare(text)).toBeNull();
    }),
    {
      numRuns: Math.max(1, Math.round(runs * SCALE)),
      seed: env.YAML_DIFF_SEED ? Number(env.YAML_DIFF_SEED) + fixedSeed : fixedSeed,
    },
  );
}

// Exploring at a larger scale takes longer than the suite's hang detector (vitest.config.ts) allows.
const timeout = 60_000 * Math.max(1, SCALE);

describe("the CST reader agrees with the Document API reader", { timeout }, () => {
  it(`on every text of the corpus (${CORPUS.length} texts)`, () => {
    expect(CORPUS.length).toBeGreaterThan(1500);
    const differ = CORPUS.map(compare).filter((d) => d !== null);
    expect(differ.slice(0, 5)).toEqual([]);
  });

  it("on corpus texts changed in a few places", () => {
    agreeOn(mutated(fc.constantFrom(...CORPUS.filter((t) => t.length < 4000))), 10_000, 1);
  });

  it("on valid YAML written by the yaml package, in all its styles", () => {
    agreeOn(stringified(stringify), 4_000, 2);
  });

  it("on generated documents", () => {
    agreeOn(blockDocument, 4_000, 3);
  });

  it("on character soup", () => {
    agreeOn(yamlSoup, 10_000, 5);
  });

  it("on generated documents changed in a few places", () => {
    agreeOn(mutated(blockDocument), 4_000, 4);
  });
});

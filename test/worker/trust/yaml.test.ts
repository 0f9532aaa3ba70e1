/**
 * The policy YAML reader in the Worker's runtime (src/trust/yaml.ts over yaml-compose.ts): the malformed
 * YAML that the `yaml` package's Composer used to refuse is still refused, at its line and column, and
 * the scalar styles read as before (docs/policy-reference.md, "YAML rules"). test/node/yaml-differential.test.ts
 * compares the reader with the one it replaced on thousands of texts; these pin the main refusals here.
 */

import { describe, expect, it } from "vitest";
import { MAX_POLICY_YAML_PROBLEMS } from "../../../src/platform/limits";
import { parseYaml, type YNode } from "../../../src/trust/yaml";

/** The first problem as `line:col message`. */
function refusal(text: string): string {
  const r = parseYaml(text);
  if (r.ok) throw new Error(`expected a refusal of ${JSON.stringify(text)}`);
  const [first] = r.problems;
  return `${first?.pos.line}:${first?.pos.col} ${first?.message}`;
}

/** The tree as plain values: scalars as their text. */
function plain(node: YNode | null): unknown {
  if (node === null) return null;
  if (node.kind === "scalar") return node.text;
  if (node.kind === "seq") return node.items.map(plain);
  return Object.fromEntries(node.entries.map((e) => [e.key, plain(e.value)]));
}

function read(text: string): unknown {
  const r = parseYaml(text);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return plain(r.root);
}

/**
 * Texts the `yaml` package's Composer refused, with the first problem as it reported it, and what this
 * reader refuses on top of YAML (tags, merge keys, keys that are not scalars, a second document).
 */
const REFUSALS: [string, string][] = [
  ["a:\n  b: 1\n c: 2\n", "3:1 invalid YAML: All mapping items must start at the same column"],
  ["a: 1\n  b: 2\n", "1:4 invalid YAML: Nested mappings are not allowed in compact mappings"],
  ["a\nb: 1\n", "1:1 invalid YAML: Implicit keys need to be on a single line"],
  ["'a\n b': 1\n", "1:1 invalid YAML: Implicit keys need to be on a single line"],
  ["a:\n\tb: 1\n", "2:1 invalid YAML: Tabs are not allowed as indentation"],
  ["a: b\n]\n", '2:1 invalid YAML: Unexpected flow-seq-end token in YAML stream: "]"'],
  [
    "a: 1\n---\nb: 2\n",
    "2:1 invalid YAML: Source contains multiple documents; a policy file is one YAML document",
  ],
  ["a: |x\n  y\n", "1:5 invalid YAML: Block scalar header includes extra characters: |x"],
  ["a: *x\n", "1:4 invalid YAML: unresolvable alias"],
  ["- &x - 1\n", "1:3 invalid YAML: Missing newline after block sequence props"],
  ["&x *y : 1\n", "1:4 invalid YAML: An alias node must not specify any properties"],
  ["a: !!str !!str b\n", "1:10 invalid YAML: A node can have at most one tag"],
  ["a: 'b'# c\n", "1:7 invalid YAML: Comments must be separated from other tokens by white space characters"],
  ["[a: 1, b\n", "2:1 invalid YAML: Flow sequence must end with a ]"],
  ["{a: 1 b: 2}\n", "1:5 invalid YAML: Block collections are not allowed within flow collections"],
  ["a: [b, - c]\n", "1:8 invalid YAML: Implicit keys of flow sequence pairs need to be on a single line"],
  ['a: "\\q"\n', "1:5 invalid YAML: Invalid escape sequence \\q"],
  ["a: 'b\n", "2:1 invalid YAML: Missing closing 'quote"],
  ["a: @b\n", "1:4 invalid YAML: Plain value cannot start with reserved character @"],
  ["%YAML 2\n---\na: 1\n", "1:7 invalid YAML: Unsupported YAML version 2"],
  ["%YAML 1.1\na: 1\n", "2:1 invalid YAML: Missing directives-end/doc-start indicator line"],
  ["a: !e!x b\n", "1:4 invalid YAML: Could not resolve tag: !e!x"],
  [
    `${"k".repeat(1100)}: v\n`,
    "1:1 invalid YAML: The : indicator must be at most 1024 chars after the start of an implicit block mapping key",
  ],
  ["a: !x b\n", "1:7 unsupported YAML tag !x"],
  ["<<: {a: 1}\n", "1:1 YAML merge keys (<<) are not supported in trust policies"],
  ["[a]: b\n", "1:1 a mapping key must be a plain value"],
  ["? [c]\n: d\n", "1:3 a mapping key must be a plain value"],
];

describe("malformed YAML is refused at its position", () => {
  it.each(REFUSALS.map(([text, expected]) => [expected, text]))("%s", (expected, text) => {
    expect(refusal(text)).toBe(expected);
  });

  it("a problem after a refused multi-line scalar is placed on its own line", () => {
    expect(parseYaml("c: d}\n c: d}\n").ok).toBe(false);
    const r = parseYaml("{a: b\n c: d}\nc: d}\n c: d}\n");
    expect(!r.ok && r.problems.at(-1)?.pos).toEqual({ line: 4, col: 5 });
  });

  it("a second document is refused even when the problems waiting for it already fill the list", () => {
    for (const bad of [
      1,
      MAX_POLICY_YAML_PROBLEMS - 1,
      MAX_POLICY_YAML_PROBLEMS,
      3 * MAX_POLICY_YAML_PROBLEMS,
    ]) {
      const text = `issuer: https://x\nsubject: foo\n...\n${"%TAG a\n".repeat(bad)}--- \nsubject: evil\n`;
      const r = parseYaml(text);
      expect(r.ok, `${bad} bad directives`).toBe(false);
      if (r.ok) continue;
      expect(r.problems.length).toBeLessThanOrEqual(MAX_POLICY_YAML_PROBLEMS);
      expect(r.problems.at(-1)?.message).toBe(
        "invalid YAML: Source contains multiple documents; a policy file is one YAML document",
      );
    }
  });

  it(`lists at most ${MAX_POLICY_YAML_PROBLEMS} problems (a 1 MiB scalar of bad escapes holds half a million)`, () => {
    const r = parseYaml(`a: "${"\\q".repeat(512 * 1024 - 4)}"\n`);
    expect(!r.ok && r.problems.length).toBe(MAX_POLICY_YAML_PROBLEMS);
    expect(!r.ok && r.problems[1]?.pos).toEqual({ line: 1, col: 7 });
  });
});

describe("scalars read as before", () => {
  it.each([
    ["a: |\n  x\n  y\n\n", { a: "x\ny\n" }],
    ["a: |-\n  x\n\n", { a: "x" }],
    ["a: |+\n  x\n\n", { a: "x\n\n" }],
    ["a: |2\n    x\n   y\n", { a: "  x\n y\n" }],
    ["a: >\n  x\n  y\n\n  z\n    more\n", { a: "x y\nz\n  more\n" }],
    ["a: x\n  y\n\n  z\n", { a: "x y\nz" }],
    ["a: 'it''s\n  folded'\n", { a: "it's folded" }],
    ['a: "\\x41\\u00e9\\U0001F600\\t\\\n    b"\n', { a: "Aé😀\tb" }],
    ['a: "x  \n\n  y"\n', { a: "x\ny" }],
    ["a: 1\r\nb: |\r\n  x\r\n", { a: "1", b: "x\n" }],
    ["\ufeffa: 1\n", { a: "1" }],
    ["? a\n: b\n", { a: "b" }],
    ["a: [b: c, {d: e}]\n", { a: [{ b: "c" }, { d: "e" }] }],
    ["a: &x [1, 2]\nb: *x\n", { a: ["1", "2"], b: ["1", "2"] }],
    ["%TAG !e! tag:yaml.org,2002:\n---\na: !e!str yes\n", { a: "yes" }],
    ["a: !!str 010\nb: 010\n", { a: "010", b: "8" }],
    ["---\na: 1\n...\n# end\n", { a: "1" }],
  ])("%j", (text, expected) => {
    expect(read(text)).toEqual(expected);
  });

  it("an empty document is no tree; a lone --- is a null", () => {
    expect(parseYaml("# nothing\n")).toEqual({ ok: true, root: null });
    expect(read("---\n")).toBe("");
  });
});

/**
 * Inputs for test/node/yaml-differential.test.ts: every policy and trusted-issuer fixture, the YAML
 * blocks of the docs, every string the YAML-reading tests and the fuzz targets write (evaluated from
 * their source with the TypeScript parser: literals, templates, `+` and `.repeat()`), and hand-written
 * YAML 1.1/1.2 edge cases. Generators of mutated and structured documents are beside them.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import ts from "typescript";

const ROOT = new URL("../../../", import.meta.url).pathname;

function files(dir: string, test: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path, test));
    else if (test(name)) out.push(path);
  }
  return out.sort();
}

/** Repetitions are cut to this many: the corpus wants the shapes, the bounds have their own tests. */
const MAX_REPEAT = 300;

/** Every string expression of a TypeScript file that can be evaluated without running it. */
export function stringsOfSource(text: string): string[] {
  const file = ts.createSourceFile("x.ts", text, ts.ScriptTarget.ES2022, true);
  const consts = new Map<string, string>();
  const out: string[] = [];
  const evaluate = (node: ts.Node): string | undefined => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
    if (ts.isTemplateExpression(node)) {
      let s = node.head.text;
      for (const span of node.templateSpans) s += (evaluate(span.expression) ?? "x") + span.literal.text;
      return s;
    }
    if (ts.isParenthesizedExpression(node)) return evaluate(node.expression);
    if (ts.isIdentifier(node)) return consts.get(node.text);
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const left = evaluate(node.left);
      const right = evaluate(node.right);
      return left !== undefined && right !== undefined ? left + right : undefined;
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === "repeat"
    ) {
      const base = evaluate(node.expression.expression);
      const n = node.arguments[0];
      const count = n && ts.isNumericLiteral(n) ? Number(n.text.replaceAll("_", "")) : 3;
      return base === undefined ? undefined : base.repeat(Math.min(count, MAX_REPEAT));
    }
    return undefined;
  };
  const visit = (node: ts.Node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      const value = evaluate(node.initializer);
      if (value !== undefined) consts.set(node.name.text, value);
    }
    if (ts.isExpression(node)) {
      const value = evaluate(node);
      if (value !== undefined) out.push(value);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** Hand-written YAML 1.1/1.2 edge cases, valid and not. */
export const EDGE_CASES: string[] = [
  "",
  " ",
  "\n",
  "# only a comment\n",
  "---\n",
  "---",
  "...\n",
  "--- \n...\n",
  "---\n...\n---\n",
  "a: 1\n---\nb: 2\n",
  "a: 1\n...\n",
  "a: 1\n...\n# after\n",
  "a: 1\n...\nb: 2\n",
  "a: 1\n--- \n",
  "--- a\n",
  "--- |\n  x\n",
  "--- >-\n  x\n  y\n",
  "--- a: 1\n",
  "--- - a\n",
  "--- [a]\n",
  "--- {a: 1}\n",
  "--- &x\na: 1\n",
  "--- !!map\na: 1\n",
  "%YAML 1.1\n---\na: 1\n",
  "%YAML 1.2\n---\na: 1\n",
  "%YAML 1.3\n---\na: 1\n",
  "%YAML 2\n---\na: 1\n",
  "%YAML 1.1 1.2\n---\na: 1\n",
  "%YAML 1.1\na: 1\n",
  "%YAML 1.1\n",
  "%TAG !e! tag:yaml.org,2002:\n---\na: !e!str 1\n",
  "%TAG !e! tag:example.com,2000:\n---\na: !e!foo 1\n",
  "%TAG ! tag:yaml.org,2002:\n---\na: !str 1\n",
  "%TAG !!\n---\na: 1\n",
  "%TAG !! tag:example.com,2000: extra\n---\na: !!str 1\n",
  "%FOO bar\n---\na: 1\n",
  "a: 1\n%YAML 1.1\n",
  "a: 1\n...\n%YAML 1.1\n",
  "a: 1\n...\n%YAML 1.1\n---\nb: 2\n",
  "\ufeffa: 1\n",
  "\ufeff---\na: 1\n",
  "a: 1\r\nb: 2\r\n",
  "a: |\r\n  x\r\n  y\r\n",
  'a: "x\r\n  y"\r\n',
  "a: 'x\r\n\r\n  y'\r\n",
  "a: x\r\n  y\r\n",
  "a: 1\rb: 2\n",
  "a:\tb\n",
  "a: b\t\n",
  "\ta: b\n",
  "a:\n\tb: c\n",
  "a:\n \tb: c\n",
  "- \ta\n",
  "-\ta\n",
  "[a,\tb]\n",
  "{\ta: b}\n",
  "a: [\n\tb]\n",
  "a: {b: c,\n\td: e}\n",
  "a: b # c\n",
  "a: b# c\n",
  "a: 'b'# c\n",
  'a: "b"# c\n',
  "a: [b]# c\n",
  "a: *x# c\n",
  "a: &x b# c\n",
  "a: |# c\n  x\n",
  "a: | # c\n  x\n",
  "a: # c\n  b\n",
  "# c\na: 1\n# d\n",
  "a:\n  # c\n  b: 1\n",
  "a:\n# c\n  b: 1\n",
  "a:\n  - 1\n  # c\n  - 2\n",
  "a: 1\n  # indented comment\nb: 2\n",
  "a:\n  b: 1\n # less indented comment\n  c: 2\n",
  "a\n",
  "a b c\n",
  "a:\n",
  "a:\nb:\n",
  "a: \n",
  "a: ~\n",
  ": a\n",
  ":\n",
  "? a\n",
  "? a\n: b\n",
  "? a\n: b\n? c\n",
  "? - a\n  - b\n: c\n",
  "? |\n  x\n: y\n",
  "? {a: 1}\n: b\n",
  "? [a]\n: b\n",
  "?\n: b\n",
  "? a\n? b\n",
  "?a: b\n",
  "a:b\n",
  "a :b\n",
  "a : b\n",
  "'a': b\n",
  '"a": b\n',
  "'a\nb': c\n",
  '"a\nb": c\n',
  "a\nb: c\n",
  "&x a: b\n",
  "&x\na: b\n",
  "!!str a: b\n",
  "*x : b\n",
  "x: &a k\n*a : v\n",
  "x: &a k\n? *a\n: v\n",
  "x: &a [k]\n*a : v\n",
  "x: &a {k: v}\ny: {*a : v}\n",
  "a: &x\nb: *x\n",
  "a: &x\n  c: 1\nb: *x\n",
  "a: &x\n  - 1\nb: *x\n",
  "a: &x [1]\nb: *x\n",
  "a: &x !!str 1\nb: *x\n",
  "a: !!str &x 1\nb: *x\n",
  "a: &x &y 1\n",
  "a: !!str !!int 1\n",
  "a: &x *y\n",
  "a: !!str *y\n",
  "a: *\n",
  "a: &\n",
  "a: & b\n",
  "a: &x: b\n",
  "a: *x:\n",
  "a: &x b\nc: *x:\n",
  "a: *x\n",
  "a: &a b\nc: *a\nd: &a e\nf: *a\n",
  "a: &a {b: *a}\n",
  "a: &a [*a]\n",
  "a: &a\n  b: *a\n",
  "a: !!binary aGVsbG8=\n",
  "a: !!timestamp 2001-01-01\n",
  "%YAML 1.2\n---\na: !!binary aGVsbG8=\n",
  "%YAML 1.2\n---\na: !!timestamp x\n",
  "%YAML 1.2\n---\na: !!set {b, c}\n",
  "%YAML 1.2\n---\na: !!omap [b: 1]\n",
  "%YAML 1.2\n---\na: !!omap {b: 1}\n",
  "a: !!set {b, c}\n",
  "a: !!omap [b: 1]\n",
  "a: !!int 1\n",
  "a: !!int x\n",
  "a: !!float 1\n",
  "a: !!bool yes\n",
  "a: !!null ~\n",
  "a: !!str yes\n",
  "a: !!str 1\n",
  "a: !!map {b: 1}\n",
  "a: !!seq [1]\n",
  "a: !!map [1]\n",
  "a: !!seq {b: 1}\n",
  "a: !!map b\n",
  "a: !!str [b]\n",
  "a: !!str\n",
  "a: !\n",
  "a: ! b\n",
  "a: ! [b]\n",
  "a: ! {b: c}\n",
  "a: !foo b\n",
  "a: !foo [b]\n",
  "a: !<tag:yaml.org,2002:str> b\n",
  "a: !<tag:yaml.org,2002:str b\n",
  "a: !<!> b\n",
  "a: !<!!> b\n",
  "a: !<> b\n",
  "a: !! b\n",
  "a: !e!foo b\n",
  "a: !!%41 b\n",
  "a: !!%ZZ b\n",
  "a: !!str%20x b\n",
  "a: !!merge b\n",
  "!!merge <<: {a: 1}\n",
  "<<: {a: 1}\n",
  "'<<': {a: 1}\n",
  "x: &m <<\n*m : 1\n",
  "? <<\n: 1\n",
  "{<<: 1}\n",
  "a: !!str\n  b: 1\n",
  "a: !!map\n  b: 1\n",
  "a: !!seq\n- 1\n",
  "a: !!seq\n  - 1\n",
  "a: !!seq - 1\n",
  "a: &x - 1\n",
  "a: &x\n  - 1\n",
  "- &x\n  - 1\n",
  "- &x - 1\n",
  "a: - 1\n",
  "a: b: c\n",
  "a:\n  b: c\n d: e\n",
  "a:\n  b: c\n   d: e\n",
  "a:\n - b\n  - c\n",
  "a:\n  - b\n - c\n",
  "- a\n- b\n  - c\n",
  "- a\n -b\n",
  "- a\nb: c\n",
  "a: b\n- c\n",
  "- - - a\n",
  "- - a\n  - b\n- c\n",
  "- a: 1\n  b: 2\n",
  "- a: 1\n b: 2\n",
  "-\n  a: 1\n",
  "-\n- a\n",
  "- \n",
  "-\n",
  "--\n",
  "- -\n",
  "a:\n- b\n- c\n",
  "a:\n- b\nc: d\n",
  "[]\n",
  "{}\n",
  "[a, b]\n",
  "[a, b, ]\n",
  "[a, , b]\n",
  "[, a]\n",
  "[a b]\n",
  "[a: b]\n",
  "[a: b, c: d]\n",
  "[? a: b]\n",
  "[? a]\n",
  "[a:b]\n",
  "[a :b]\n",
  "[a\n: b]\n",
  "[a\n, b]\n",
  "['a': b]\n",
  "[{a: b}: c]\n",
  "[[a]: b]\n",
  "[&x a, *x]\n",
  "[a, [b, [c, {d: [e]}]]]\n",
  "{a: b, c: d}\n",
  "{a: b, c: d, }\n",
  "{a: b,, c: d}\n",
  "{, a: b}\n",
  "{a, b}\n",
  "{a: b c: d}\n",
  "{a: b\n c: d}\n",
  "{a:b}\n",
  "{a: }\n",
  "{: a}\n",
  "{a}\n",
  "{? a}\n",
  "{? a: b}\n",
  "{a: [b, c], d: {e: f}}\n",
  "{a: 1, a: 2}\n",
  "{'a': 1, \"b\": 2}\n",
  '{"a":1}\n',
  '{"a":b}\n',
  "{a\n: b}\n",
  "{a:\n b}\n",
  "{a: b}}\n",
  "[a]]\n",
  "a: [b\n",
  "a: {b\n",
  "a: [b,\nc]\n",
  "a: [b,\n  c]\n",
  "a: [b,\n c\n]\n",
  "a: [\n  b\n]\n",
  "a:\n  [b,\n  c]\n",
  "a:\n  [b,\n c]\n",
  "a: {\n  b: c\n}\n",
  "a: {\nb: c}\n",
  "[a,\n---\n]\n",
  "[a,\n...\n]\n",
  "a: [b]\nc: }\n",
  "a: ]\n",
  "]\n",
  "}\n",
  "a: [b] c\n",
  "a: [b] # c\n",
  "a: {b: - c}\n",
  "a: [- b]\n",
  "a: [b: - c]\n",
  "a: {b: {c: [d, {e: f}]}}\n",
  "a: |\n  x\n  y\n",
  "a: |-\n  x\n\n",
  "a: |+\n  x\n\n",
  "a: |+\n\n",
  "a: |-\n",
  "a: |\n",
  "a: |2\n    x\n",
  "a: |1\n  x\n",
  "a: |2-\n   x\n  y\n",
  "a: |-2\n   x\n",
  "a: |+1\n  x\n",
  "a: |0\n  x\n",
  "a: |10\n  x\n",
  "a: |2+-\n  x\n",
  "a: |x\n  x\n",
  "a: |  \n  x\n",
  "a: | x\n  y\n",
  "a: |\n    x\n  y\n",
  "a: |\n\n  x\n",
  "a: |\n   \n  x\n",
  "a: |\n  \n   x\n",
  "a: |\n  x\n   \n",
  "a: |\n  x\n\n\n",
  "a: |\n  x\n\n\nb: 1\n",
  "a: |+\n  x\n\n\nb: 1\n",
  "a: |\n  x\n  \ty\n",
  "a: |\n\tx\n",
  "a: |\n  x\n\t\n",
  "a: >\n  x\n  y\n\n  z\n",
  "a: >\n  x\n    y\n  z\n",
  "a: >\n  x\n\n    y\n\n  z\n",
  "a: >-\n  x\n  \ty\n  z\n",
  "a: >\n\n  x\n",
  "a: >+\n  x\n\n",
  "a: >\n x\n",
  "a:\n  b: |\n  x\n",
  "a:\n  b: |\nx\n",
  "a: |\nx\n",
  "|\nx\n",
  ">\n x\n y\n",
  "|\n  x\n",
  "- |\n  x\n- >\n  y\n",
  "- |\n x\n",
  "? |\n  x\n: >\n  y\n",
  "a: 'x''y'\n",
  "a: 'x\n  y'\n",
  "a: 'x\n\n  y'\n",
  "a: 'x\n \n  y'\n",
  "a: 'x  \n  y'\n",
  "a: 'x\n",
  "a: '\n",
  "a: 'x'y\n",
  "a: ''\n",
  "a: '''\n",
  'a: "x\\ny"\n',
  'a: "x\\\n  y"\n',
  'a: "x\\\r\n  y"\r\n',
  'a: "x\n  y"\n',
  'a: "x\n\n  y"\n',
  'a: "x  \n  y"\n',
  'a: "x \\t y"\n',
  'a: "\\x41\\u0042\\U00000043"\n',
  'a: "\\x4"\n',
  'a: "\\u00"\n',
  'a: "\\U0011FFFF"\n',
  'a: "\\uD800"\n',
  'a: "\\q"\n',
  'a: "\\0\\a\\b\\e\\f\\n\\r\\t\\v\\N\\_\\L\\P\\ \\"\\/\\\\\\\t"\n',
  'a: "\\"\n',
  'a: "x\n',
  'a: "\n',
  'a: ""\n',
  'a: "x"y\n',
  "a: x\n  y\n",
  "a: x\n\n  y\n",
  "a: x\n  y\n  z\n",
  "a: x\ny\n",
  "a: x\n y: z\n",
  "a: x # c\n  y\n",
  "a: x\n  # c\n  y\n",
  "a: x  \n  y\n",
  "a: x\t\n  y\n",
  "a: x\n  - y\n",
  "a: x\n  ---\n",
  "a: x\n---\n",
  "a:\n  x\n  y\n",
  "- x\n  y\n",
  "a: ,x\n",
  "a: %x\n",
  "a: @x\n",
  "a: `x\n",
  "a: |x\n",
  "a: >x\n",
  "a: x,y\n",
  "a: x:y\n",
  "a: x :y\n",
  "a: x#y\n",
  "a: -x\n",
  "a: ?x\n",
  "a: :x\n",
  "a: ? x\n",
  "a: : x\n",
  "a: - x\n",
  "- : x\n",
  "- ? x\n",
  "- ? x\n  : y\n",
  "a: 1e6\nb: 0x1F\nc: 010\nd: 1_000\ne: .5\nf: -.inf\ng: 1:30\nh: 2024-01-01\n",
  "yes: no\non: off\ny: n\n~: null\n",
  "\"yes\": 'no'\n",
  `a: ${"x".repeat(1100)}: b\n`,
  `${"x".repeat(1030)}: b\n`,
  `[${"x".repeat(1030)}: b]\n`,
  `{${"x".repeat(1030)}: b}\n`,
  `? ${"x".repeat(1030)}\n: b\n`,
  "a: b\n  c\n",
  "a:\n  b\n  c: d\n",
  "a: 1\n a: 2\n",
  "a:\n    b: 1\n  c: 2\n",
  "a:\n  b:\n    c:\n      d: 1\n  e: 2\nf: 3\n",
  "issuer: https://x\nsubject: s\npermissions:\n  contents: read\n",
  "issuer: \"https://x\"\nsubject: 'repo:a/b:ref:refs/heads/main'\npermissions: {contents: read, issues: write}\n",
  "claim_pattern:\n  ref: refs/heads/.*\n  job_workflow_ref: a/b/\\.github/workflows/c\\.yaml@.*\n",
];

/** Texts the corpus holds: fixtures, docs examples, the strings of the YAML-reading tests, edge cases. */
export function corpus(): string[] {
  const texts = new Set<string>(EDGE_CASES);
  for (const path of files("test/fixtures", (n) => /\.ya?ml$/.test(n)))
    texts.add(readFileSync(join(ROOT, path), "utf8"));
  for (const path of ["README.md", ...files("docs", (n) => n.endsWith(".md"))]) {
    const text = readFileSync(join(ROOT, path), "utf8");
    for (const m of text.matchAll(/```ya?ml\n([\s\S]*?)```/g)) texts.add(m[1] as string);
  }
  const sources = [
    ...files("test/worker/trust", (n) => n.endsWith(".ts")),
    ...files("test/worker/security", (n) => n.endsWith(".ts")),
    ...files("test/shared", (n) => n.endsWith(".ts")),
    "test/node/cli.test.ts",
    "test/node/schema.test.ts",
    "test/node/yaml/corpus.ts",
  ];
  for (const path of sources)
    for (const s of stringsOfSource(readFileSync(join(ROOT, path), "utf8"))) texts.add(s);
  return [...texts];
}

/** Atoms for mutations and generated documents: what YAML gives meaning to. */
const ATOMS = [
  ":",
  ": ",
  "-",
  "- ",
  "?",
  "? ",
  ",",
  "[",
  "]",
  "{",
  "}",
  "#",
  " #",
  "&a",
  "&a ",
  "*a",
  "*a ",
  "!!str ",
  "!x ",
  "! ",
  "|",
  ">",
  "|-",
  ">+",
  "|2",
  "'",
  '"',
  "\\",
  "\n",
  "\r\n",
  "\r",
  "\t",
  " ",
  "  ",
  "---",
  "...",
  "\n---\n",
  "\n...\n",
  "%",
  "@",
  "`",
  "\ufeff",
  "<<",
  "~",
  "yes",
  "1e6",
  "\0",
  "\u2028",
];

/** A corpus text changed in a few places: atoms inserted, characters and lines deleted, lines moved or re-indented. */
export function mutated(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.oneof(
    fc.tuple(fc.constant("insert"), fc.nat(), fc.constantFrom(...ATOMS)),
    fc.tuple(fc.constant("delete"), fc.nat(), fc.integer({ min: 1, max: 3 })),
    fc.tuple(fc.constant("indent"), fc.nat(), fc.constantFrom(" ", "  ", "\t", "-1", "-2")),
    fc.tuple(fc.constant("line"), fc.nat(), fc.constantFrom("dup", "drop", "swap", "join")),
  );
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([text, edits]) => {
    let s = text;
    for (const [kind, at, arg] of edits) {
      if (kind === "insert") {
        const i = s.length === 0 ? 0 : at % (s.length + 1);
        s = s.slice(0, i) + String(arg) + s.slice(i);
      } else if (kind === "delete") {
        const i = s.length === 0 ? 0 : at % s.length;
        s = s.slice(0, i) + s.slice(i + Number(arg));
      } else {
        const lines = s.split("\n");
        const i = at % lines.length;
        const line = lines[i] as string;
        if (kind === "indent")
          lines[i] =
            arg === "-1"
              ? line.replace(/^ /, "")
              : arg === "-2"
                ? line.replace(/^ {2}/, "")
                : `${arg}${line}`;
        else if (arg === "dup") lines.splice(i, 0, line);
        else if (arg === "drop") lines.splice(i, 1);
        else if (arg === "swap" && i + 1 < lines.length) {
          lines[i] = lines[i + 1] as string;
          lines[i + 1] = line;
        } else if (arg === "join" && i + 1 < lines.length) lines.splice(i, 2, `${line} ${lines[i + 1]}`);
        s = lines.join("\n");
      }
    }
    return s;
  });
}

const scalarText = fc.oneof(
  fc.constantFrom(
    "a",
    "b c",
    "yes",
    "No",
    "~",
    "null",
    "",
    "1e6",
    "0x1F",
    "010",
    "1_000",
    "-.inf",
    ".NaN",
    "1:30",
    "2024-01-01",
    "<<",
    "https://x.example/a?b=c#d",
    "a:b",
    "a #b",
    "a#b",
    "-a",
    "?a",
    ":a",
    "a: b",
    "a,b",
    "[a]",
    "{a}",
    "'a'",
    '"a"',
    "a\\b",
    "\\x41",
    "é",
    "\u2028",
    "  lead",
    "trail  ",
    "x\ny",
    "x\n\ny",
  ),
  fc.string({ maxLength: 8 }),
);

/** A scalar written in one of YAML's styles (some of them wrongly). */
const scalarNode = (indent: number) =>
  fc.oneof(
    { weight: 4, arbitrary: scalarText.map((s) => s.replaceAll("\n", " ")) },
    { weight: 2, arbitrary: scalarText.map((s) => `'${s.replaceAll("'", "''").replaceAll("\n", "\n\n")}'`) },
    { weight: 2, arbitrary: scalarText.map((s) => JSON.stringify(s)) },
    { weight: 1, arbitrary: scalarText.map((s) => `"${s}"`) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom("|", ">", "|-", ">+", "|2", ">1-", "|+"),
          fc.array(scalarText, { maxLength: 3 }),
        )
        .map(([h, lines]) => `${h}\n${lines.map((l) => `${" ".repeat(indent + 2)}${l}`).join("\n")}`),
    },
    { weight: 1, arbitrary: fc.constantFrom("*a", "*b", "*a ", "", "~") },
    {
      weight: 1,
      arbitrary: fc
        .tuple(scalarText, scalarText)
        .map(([a, b]) => `${a.replaceAll("\n", " ")}\n${" ".repeat(indent + 2)}${b.replaceAll("\n", " ")}`),
    },
  );

const props = fc.constantFrom(
  "",
  "",
  "",
  "",
  "&a ",
  "&b ",
  "!!str ",
  "!!map ",
  "!!seq ",
  "! ",
  "!x ",
  "&a !!str ",
);
const comment = fc.constantFrom("", "", "", " # c", "# c", "  #");

/** A flow collection, nested. */
const flowNode: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.tuple(props, scalarNode(0)).map(([p, s]) => p + (s.includes("\n") ? "x" : s)),
    fc
      .tuple(
        props,
        fc.array(tie("node"), { maxLength: 4 }),
        fc.constantFrom(", ", ",", " , ", ",\n  ", ", , "),
      )
      .map(([p, items, sep]) => `${p}[${items.join(sep)}]`),
    fc
      .tuple(
        props,
        fc.array(fc.tuple(tie("node"), tie("node"), fc.constantFrom(": ", ":", " : ", "")), { maxLength: 4 }),
        fc.constantFrom(", ", ",", ",\n  "),
      )
      .map(([p, pairs, sep]) => `${p}{${pairs.map(([k, v, c]) => `${k}${c}${v}`).join(sep)}}`),
    fc.tuple(tie("node"), tie("node")).map(([k, v]) => `[${k}: ${v}]`),
    fc.tuple(tie("node"), tie("node")).map(([k, v]) => `{? ${k} : ${v}}`),
  ),
})).node;

type Lines = [number, string][];
const indented = (lines: Lines, by: number): Lines => lines.map(([i, l]) => [i + by, l]);

/** A block document: maps, sequences, explicit keys, scalars and flow collections, at varying indents. */
export const blockDocument: fc.Arbitrary<string> = fc
  .letrec<{ node: Lines }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      scalarNode(0).map((s): Lines => [[0, s]]),
      flowNode.map((s): Lines => [[0, s]]),
      fc
        .array(fc.tuple(scalarText, props, tie("node"), comment, fc.constantFrom(0, 0, 0, 0, 1, -1)), {
          minLength: 1,
          maxLength: 4,
        })
        .map((entries) =>
          entries.flatMap(([key, p, value, c, shift]): Lines => {
            const k = /^[\w.~-]*$/.test(key) ? key || "k" : JSON.stringify(key);
            const [first, ...rest] = value;
            if (rest.length === 0 && first && !first[1].includes("\n"))
              return [[Math.max(0, shift), `${k}: ${p}${first[1]}${c}`]];
            return [[Math.max(0, shift), `${k}:${p ? ` ${p.trim()}` : ""}${c}`], ...indented(value, 2)];
          }),
        ),
      fc.array(fc.tuple(props, tie("node"), comment), { minLength: 1, maxLength: 4 }).map((items) =>
        items.flatMap(([p, value, c]): Lines => {
          const [first, ...rest] = value;
          if (rest.length === 0 && first && !first[1].includes("\n")) return [[0, `- ${p}${first[1]}${c}`]];
          return [[0, `-${p ? ` ${p.trim()}` : ""}${c}`], ...indented(value, 2)];
        }),
      ),
      fc
        .tuple(tie("node"), tie("node"))
        .map(([k, v]): Lines => [[0, "?"], ...indented(k, 2), [0, ":"], ...indented(v, 2)]),
    ),
  }))
  .node.chain((lines) =>
    fc
      .tuple(
        fc.constantFrom("", "", "---\n", "--- ", "%YAML 1.1\n---\n", "\ufeff", "# head\n"),
        fc.constantFrom("", "", "\n", "\n...\n", "\n# tail\n", "\n---\n"),
        fc.constantFrom("\n", "\n", "\r\n"),
      )
      .map(([head, tail, nl]) => {
        const body = lines
          .map(([indent, line]) =>
            line
              .split("\n")
              .map((l) => " ".repeat(indent) + l)
              .join(nl),
          )
          .join(nl);
        return head + body + tail;
      }),
  );

/** A value for the stringifier: nested maps and lists of the scalars above (as strings, numbers, booleans, null). */
const plainValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalarText,
    fc.string({ unit: "grapheme", maxLength: 30 }),
    fc.string({ maxLength: 120 }).map((s) => `${s} ${s}\n${s}`),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(scalarText, tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** Valid YAML as the `yaml` package writes it, in its styles: block and flow, every scalar style, folding, anchors. */
export function stringified(stringify: (value: unknown, options: object) => string): fc.Arbitrary<string> {
  return fc
    .tuple(
      plainValue,
      fc.record({
        version: fc.constantFrom("1.1", "1.2"),
        collectionStyle: fc.constantFrom("any", "block", "flow"),
        defaultStringType: fc.constantFrom(
          "PLAIN",
          "QUOTE_DOUBLE",
          "QUOTE_SINGLE",
          "BLOCK_LITERAL",
          "BLOCK_FOLDED",
        ),
        defaultKeyType: fc.constantFrom(null, "PLAIN", "QUOTE_DOUBLE", "QUOTE_SINGLE"),
        blockQuote: fc.constantFrom(true, false, "folded", "literal"),
        lineWidth: fc.constantFrom(0, 20, 40, 80),
        minContentWidth: fc.constantFrom(0, 5, 20),
        indent: fc.constantFrom(1, 2, 4),
        indentSeq: fc.boolean(),
        flowCollectionPadding: fc.boolean(),
        doubleQuotedAsJSON: fc.boolean(),
        directives: fc.boolean(),
      }),
      fc.boolean(),
    )
    .map(([value, options, aliased]) => {
      try {
        // The same object twice: the stringifier writes an anchor and an alias.
        const shared = value !== null && typeof value === "object";
        return stringify(aliased && shared ? { first: value, second: value } : value, options);
      } catch {
        return "";
      }
    });
}

/** Character soup over what YAML gives meaning to, for the parser states no document reaches. */
export const yamlSoup: fc.Arbitrary<string> = fc
  .array(
    fc.constantFrom(
      ..." \n\n\t:-?[]{},#&*!|>'\"%@`a b1\\\r~.<",
      "  ",
      "- ",
      ": ",
      "---",
      "...",
      "\n  ",
      "!!",
      "&a",
      "*a",
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(""));

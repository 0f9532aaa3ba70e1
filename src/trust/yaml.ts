/**
 * @module policy/yaml
 * Reads a policy file the way octo-sts does (docs/policy-reference.md, "YAML rules"): go-yaml v2 (YAML 1.1)
 * resolves plain scalars, then sigs.k8s.io/yaml turns them into the strings the Go struct fields hold.
 * The `yaml` package's Lexer and Parser read the text into a concrete syntax tree, ./yaml-compose.ts
 * composes it (with the refusals of the package's Composer, every scalar kept as text), and this module
 * resolves plain scalars itself with go-yaml v2's table, because the `yaml` package's YAML 1.1 schema
 * disagrees with Go in places that change a policy's meaning (`1e6` is a float for Go, a string for
 * YAML 1.1; dates become timestamps; sexagesimal `1:30` becomes 90).
 *
 * The result is a small tree of maps, sequences and scalars, each with the position of its node, so
 * every later problem can point at the line and column the user wrote.
 */

import type { CST, Lexer as LexerType, Parser as ParserType } from "yaml";
// The package's "exports" name only its entry point, and through it esbuild keeps the Document,
// Composer, schema and stringifier modules in the Worker (it cannot tell them free of side effects):
// the Lexer and Parser files are imported by path instead, which keeps some 70 KiB out of the bundle
// (docs/performance.md, "Bundle"). They are the package's ES module build, which has no type
// declarations: the types are the entry point's.
// @ts-expect-error no declaration file beside the ES module build
import { Lexer as LexerModule } from "../../node_modules/yaml/browser/dist/parse/lexer.js";
// @ts-expect-error no declaration file beside the ES module build
import { Parser as ParserModule } from "../../node_modules/yaml/browser/dist/parse/parser.js";
import { MAX_POLICY_EXPANDED_CHARS, MAX_POLICY_YAML_NODES } from "../platform/limits";
import { NO_POS, type Pos } from "./problem";
import { compose, MAP_TAG, type RawNode, SEQ_TAG } from "./yaml-compose";

const Lexer = LexerModule as typeof LexerType;
const Parser = ParserModule as typeof ParserType;

export { NO_POS, type Pos };

/** What go-yaml v2 resolved a scalar to; `text` is the string a Go `string` field receives. */
type ScalarKind = "null" | "bool" | "int" | "float" | "string";

export type YNode =
  | { kind: "map"; pos: Pos; entries: YEntry[] }
  | { kind: "seq"; pos: Pos; items: YNode[] }
  | { kind: "scalar"; pos: Pos; scalar: ScalarKind; text: string };

interface YEntry {
  /** The key as a string, converted as sigs.k8s.io/yaml converts map keys. */
  key: string;
  keyPos: Pos;
  /** What the key resolved to: `n:` or `yes:` is a boolean key for go-yaml v2. */
  keyScalar: ScalarKind;
  value: YNode;
}

interface YamlProblem {
  message: string;
  pos: Pos;
}

type YamlResult = { ok: true; root: YNode | null } | { ok: false; problems: YamlProblem[] };

const NULLS = new Set(["", "~", "null", "Null", "NULL"]);
const TRUES = new Set(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"]);
const FALSES = new Set(["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"]);
const POS_INF = new Set([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"]);
const NEG_INF = new Set(["-.inf", "-.Inf", "-.INF"]);
const NANS = new Set([".nan", ".NaN", ".NAN"]);
/** go-yaml v2 `yamlStyleFloat`. */
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Go `strconv.ParseInt(s, 0, 64)` / `ParseUint`: sign, `0x`/`0o`/`0b` prefixes, leading-0 octal. */
function goParseInteger(s: string): bigint | null {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return null;
  const sign = m[1] === "-" ? -1n : 1n;
  let digits = m[2] as string;
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const magnitude = BigInt(digits.toLowerCase().replace(/^0([xob])/, "0$1"));
  const value = sign * magnitude;
  if (value >= INT64_MIN && value <= INT64_MAX) return value;
  // ParseUint takes no sign.
  if (m[1] === "" && value <= UINT64_MAX) return value;
  return null;
}

/**
 * Go `strconv.FormatFloat(v, 'g', -1, 32)`, what sigs.k8s.io/yaml writes into a string field for a
 * float: the shortest decimal that survives a round trip through float32, `%e` form when the
 * exponent is below -4 or at least 6 (`1e6` → `1e+06`, `1.10` → `1.1`).
 */
function goFormatFloat32(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return "NaN";
  if (f === Number.POSITIVE_INFINITY) return "+Inf";
  if (f === Number.NEGATIVE_INFINITY) return "-Inf";
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  const sign = f < 0 ? "-" : "";
  const abs = Math.abs(f);
  let digits = "";
  let exp = 0;
  for (let p = 1; p <= 9; p++) {
    const e = abs.toExponential(p - 1);
    if (Math.fround(Number(e)) === abs) {
      const [mantissa, exponent] = e.split("e") as [string, string];
      digits = mantissa.replace(".", "").replace(/0+$/, "") || "0";
      exp = Number(exponent);
      break;
    }
  }
  if (exp < -4 || exp >= 6) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mantissa}e${exp < 0 ? "-" : "+"}${e < 10 ? `0${e}` : e}`;
  }
  const dp = exp + 1; // digits before the decimal point
  if (dp <= 0) return `${sign}0.${"0".repeat(-dp)}${digits}`;
  if (dp >= digits.length) return `${sign}${digits}${"0".repeat(dp - digits.length)}`;
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** go-yaml v2 `resolve()` for a plain (unquoted) scalar, then sigs.k8s.io/yaml's string conversion. */
export function resolvePlain(raw: string): { scalar: ScalarKind; text: string } {
  if (NULLS.has(raw)) return { scalar: "null", text: "" };
  if (TRUES.has(raw)) return { scalar: "bool", text: "true" };
  if (FALSES.has(raw)) return { scalar: "bool", text: "false" };
  if (POS_INF.has(raw)) return { scalar: "float", text: "+Inf" };
  if (NEG_INF.has(raw)) return { scalar: "float", text: "-Inf" };
  if (NANS.has(raw)) return { scalar: "float", text: "NaN" };
  const first = raw[0] as string;
  if (first === ".") {
    // go-yaml: `strconv.ParseFloat(in, 64)` on the raw text.
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(raw)) {
      const n = Number(raw);
      if (Number.isFinite(n)) return { scalar: "float", text: goFormatFloat32(n) };
    }
    return { scalar: "string", text: raw };
  }
  if (/[-+0-9]/.test(first)) {
    // Timestamps (`2024-01-01`) never parse as numbers, and go-yaml keeps them as the string written.
    const plain = raw.replaceAll("_", "");
    const int = goParseInteger(plain);
    if (int !== null) return { scalar: "int", text: int.toString() };
    if (YAML_STYLE_FLOAT.test(plain)) {
      const n = Number(plain);
      // Go's ParseFloat reports a range error on overflow; go-yaml then keeps the string.
      if (Number.isFinite(n)) return { scalar: "float", text: goFormatFloat32(n) };
    }
  }
  return { scalar: "string", text: raw };
}

const STR_TAG = "tag:yaml.org,2002:str";
const KNOWN_TAGS = new Set([
  STR_TAG,
  "tag:yaml.org,2002:int",
  "tag:yaml.org,2002:float",
  "tag:yaml.org,2002:bool",
  "tag:yaml.org,2002:null",
  MAP_TAG,
  SEQ_TAG,
]);

/**
 * Tokens are counted as the Parser reads them: a file with more than any policy within the node budget
 * could have (a 1 MiB flow list) is refused as soon as that many are read, before it is composed.
 */
const MAX_POLICY_YAML_TOKENS = MAX_POLICY_YAML_NODES * 10;

const TOO_BIG: YamlResult = {
  ok: false,
  problems: [{ message: `policy has more than ${MAX_POLICY_YAML_NODES} YAML nodes`, pos: NO_POS }],
};

/** Parses one YAML document into a {@link YNode} tree (null for an empty document). No I/O, no throw. */
export function parseYaml(text: string): YamlResult {
  try {
    return parseChecked(text);
  } catch (error) {
    // Deep nesting exhausts the stack (of the composer or of the conversion below): a refusal, not a 500.
    const why = error instanceof RangeError ? "nested too deeply" : "unreadable document";
    return { ok: false, problems: [{ message: `invalid YAML: ${why}`, pos: NO_POS }] };
  }
}

/** 1-based line and column of an offset (a line ends at `\n`, as for the `yaml` package). */
function lineMap(text: string): (offset: number) => Pos {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((starts[mid] as number) <= offset) low = mid + 1;
      else high = mid;
    }
    return { line: low, col: offset - (starts[low - 1] as number) + 1 };
  };
}

function parseChecked(text: string): YamlResult {
  const tokens: CST.Token[] = [];
  const parser = new Parser();
  let count = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (++count > MAX_POLICY_YAML_TOKENS) return TOO_BIG;
    for (const token of parser.next(lexeme)) tokens.push(token);
  }
  for (const token of parser.end()) tokens.push(token);
  const composed = compose(tokens, text.length);
  const linePos = lineMap(text);
  if (composed.problems.length > 0) {
    return {
      ok: false,
      // A message quotes at most the first line of what it names.
      problems: composed.problems.map((p) => ({
        message: `invalid YAML: ${p.message.split("\n")[0]}`,
        pos: linePos(p.offset),
      })),
    };
  }

  const problems: YamlProblem[] = [];
  let budget = MAX_POLICY_YAML_NODES;
  // Characters of scalars after alias expansion: 50 aliases of a 100 KB scalar are 5 MB of policy.
  let expanded = 0;
  let expandedTooLarge = false;

  const convert = (node: RawNode, aliasDepth: number): YNode | null => {
    if (--budget < 0) return null;
    const pos = linePos(node.start);
    if (node.kind === "alias") {
      // Aliases are expanded like go-yaml does; the node budget bounds "billion laughs" documents.
      // The target is the last node anchored with the name before the alias (yaml-compose.ts).
      if (node.target === undefined || aliasDepth > 32) {
        problems.push({ message: "invalid YAML: unresolvable alias", pos });
        return null;
      }
      return convert(node.target, aliasDepth + 1);
    }
    const tag = node.tag;
    if (tag !== undefined && !KNOWN_TAGS.has(tag)) {
      problems.push({ message: `unsupported YAML tag ${tag}`, pos });
      return null;
    }
    if (node.pairs) {
      const entries: YEntry[] = [];
      for (const [rawKey, rawValue] of node.pairs) {
        const key = convert(rawKey, aliasDepth);
        if (key === null) return null;
        if (key.kind !== "scalar") {
          problems.push({ message: "a mapping key must be a plain value", pos: key.pos });
          return null;
        }
        if (key.text === "<<" && key.scalar === "string" && rawKey.plain) {
          problems.push({
            message: "YAML merge keys (<<) are not supported in trust policies",
            pos: key.pos,
          });
          return null;
        }
        const value =
          rawValue === null
            ? ({ kind: "scalar", pos: key.pos, scalar: "null", text: "" } as YNode)
            : convert(rawValue, aliasDepth);
        if (value === null) return null;
        // sigs.k8s.io/yaml turns a null key into "null"; other keys become their string form.
        const keyText = key.scalar === "null" ? "null" : key.text;
        entries.push({ key: keyText, keyPos: key.pos, keyScalar: key.scalar, value });
      }
      return { kind: "map", pos, entries };
    }
    if (node.items) {
      const items: YNode[] = [];
      for (const item of node.items) {
        const converted = convert(item, aliasDepth);
        if (converted === null) return null;
        items.push(converted);
      }
      return { kind: "seq", pos, items };
    }
    const raw = node.value as string;
    expanded += raw.length;
    if (expanded > MAX_POLICY_EXPANDED_CHARS) {
      budget = -1;
      expandedTooLarge = true;
      return null;
    }
    if (node.plain && tag !== STR_TAG) return { kind: "scalar", pos, ...resolvePlain(raw) };
    return { kind: "scalar", pos, scalar: "string", text: raw };
  };

  if (composed.root === null) return { ok: true, root: null };
  const root = convert(composed.root, 0);
  if (expandedTooLarge) {
    return {
      ok: false,
      problems: [
        {
          message: `policy is over ${MAX_POLICY_EXPANDED_CHARS} characters after alias expansion (the expanded size bound)`,
          pos: NO_POS,
        },
      ],
    };
  }
  if (budget < 0) return TOO_BIG;
  if (root === null || problems.length > 0) return { ok: false, problems };
  return { ok: true, root };
}

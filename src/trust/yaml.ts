/**
 * @module policy/yaml
 * Reads a policy file the way octo-sts does (docs/policy-reference.md, "YAML rules"): go-yaml v2 (YAML 1.1)
 * resolves plain scalars, then sigs.k8s.io/yaml turns them into the strings the Go struct fields hold.
 * The `yaml` package parses (with every scalar kept as text, the "failsafe" schema), and this module
 * resolves plain scalars itself with go-yaml v2's table, because the `yaml` package's YAML 1.1 schema
 * disagrees with Go in places that change a policy's meaning (`1e6` is a float for Go, a string for
 * YAML 1.1; dates become timestamps; sexagesimal `1:30` becomes 90).
 *
 * The result is a small tree of maps, sequences and scalars, each with the position of its node, so
 * every later problem can point at the line and column the user wrote.
 */

import { isAlias, isMap, isScalar, isSeq, Lexer, LineCounter, type Node, parseDocument, visit } from "yaml";
import { MAX_POLICY_EXPANDED_CHARS, MAX_POLICY_YAML_NODES } from "../platform/limits";

import { NO_POS, type Pos } from "./problem";

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
function resolvePlain(raw: string): { scalar: ScalarKind; text: string } {
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
  "tag:yaml.org,2002:map",
  "tag:yaml.org,2002:seq",
]);

/** First line of a `yaml` error, without its "at line X, column Y" suffix (the position is separate). */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "");
}

/**
 * Lexing is some twenty times cheaper than building the document: a file with more tokens than any
 * policy within the node budget could have (a 1 MiB flow list) is refused before it costs seconds.
 */
const MAX_POLICY_YAML_TOKENS = MAX_POLICY_YAML_NODES * 10;

function tooManyTokens(text: string): boolean {
  let tokens = 0;
  for (const _ of new Lexer().lex(text)) if (++tokens > MAX_POLICY_YAML_TOKENS) return true;
  return false;
}

const TOO_BIG: YamlResult = {
  ok: false,
  problems: [{ message: `policy has more than ${MAX_POLICY_YAML_NODES} YAML nodes`, pos: NO_POS }],
};

/** Parses one YAML document into a {@link YNode} tree (null for an empty document). No I/O, no throw. */
export function parseYaml(text: string): YamlResult {
  if (tooManyTokens(text)) return TOO_BIG;
  try {
    return parseChecked(text);
  } catch (error) {
    // Deep nesting exhausts the stack (of the library or of the conversion below): a refusal, not a 500.
    const why = error instanceof RangeError ? "nested too deeply" : "unreadable document";
    return { ok: false, problems: [{ message: `invalid YAML: ${why}`, pos: NO_POS }] };
  }
}

function parseChecked(text: string): YamlResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    version: "1.1",
    schema: "failsafe",
    lineCounter: lines,
    // Duplicates are found below, where `subject` and `Subject` count as the same key.
    uniqueKeys: false,
    prettyErrors: true,
  });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        message: `invalid YAML: ${yamlMessage(e.message)}`,
        pos: e.linePos?.[0] ?? NO_POS,
      })),
    };
  }
  const posOf = (node: { range?: [number, number, number] | null } | null | undefined): Pos => {
    const offset = node?.range?.[0];
    return offset === undefined ? NO_POS : lines.linePos(offset);
  };

  const problems: YamlProblem[] = [];
  let budget = MAX_POLICY_YAML_NODES;
  // Characters of scalars after alias expansion: 50 aliases of a 100 KB scalar are 5 MB of policy.
  let expanded = 0;
  let expandedTooLarge = false;

  // Every alias's target, found in one pass: the last node before it anchored with its name (what
  // the library's `Alias.resolve` answers, but that walks the whole document on every call, and a
  // 1 MiB file of aliases then costs minutes of CPU).
  const aliasTargets = new Map<unknown, unknown>();
  const anchors = new Map<string, unknown>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) aliasTargets.set(node, anchors.get(node.source));
      else if (node.anchor) anchors.set(node.anchor, node);
    },
  });

  const convert = (node: unknown, aliasDepth: number): YNode | null => {
    if (--budget < 0) return null;
    if (isAlias(node)) {
      // Aliases are expanded like go-yaml does; the node budget bounds "billion laughs" documents.
      const target = aliasTargets.get(node);
      if (target === undefined || aliasDepth > 32) {
        problems.push({ message: "invalid YAML: unresolvable alias", pos: posOf(node) });
        return null;
      }
      return convert(target, aliasDepth + 1);
    }
    const tag = (node as { tag?: string } | null)?.tag;
    if (tag !== undefined && !KNOWN_TAGS.has(tag)) {
      problems.push({ message: `unsupported YAML tag ${tag}`, pos: posOf(node as Node) });
      return null;
    }
    if (isMap(node)) {
      const entries: YEntry[] = [];
      for (const pair of node.items) {
        const key = convert(pair.key, aliasDepth);
        if (key === null) return null;
        if (key.kind !== "scalar") {
          problems.push({ message: "a mapping key must be a plain value", pos: key.pos });
          return null;
        }
        if (key.text === "<<" && key.scalar === "string" && isScalar(pair.key) && pair.key.type === "PLAIN") {
          problems.push({
            message: "YAML merge keys (<<) are not supported in trust policies",
            pos: key.pos,
          });
          return null;
        }
        const value =
          pair.value === null || pair.value === undefined
            ? ({ kind: "scalar", pos: key.pos, scalar: "null", text: "" } as YNode)
            : convert(pair.value, aliasDepth);
        if (value === null) return null;
        // sigs.k8s.io/yaml turns a null key into "null"; other keys become their string form.
        const keyText = key.scalar === "null" ? "null" : key.text;
        entries.push({ key: keyText, keyPos: key.pos, keyScalar: key.scalar, value });
      }
      return { kind: "map", pos: posOf(node), entries };
    }
    if (isSeq(node)) {
      const items: YNode[] = [];
      for (const item of node.items) {
        const converted = convert(item, aliasDepth);
        if (converted === null) return null;
        items.push(converted);
      }
      return { kind: "seq", pos: posOf(node), items };
    }
    if (isScalar(node)) {
      const raw = String(node.value ?? "");
      expanded += raw.length;
      if (expanded > MAX_POLICY_EXPANDED_CHARS) {
        budget = -1;
        expandedTooLarge = true;
        return null;
      }
      const pos = posOf(node);
      if (node.type === "PLAIN" && tag !== STR_TAG) return { kind: "scalar", pos, ...resolvePlain(raw) };
      return { kind: "scalar", pos, scalar: "string", text: raw };
    }
    problems.push({ message: "invalid YAML node", pos: posOf(node as Node) });
    return null;
  };

  if (doc.contents === null) return { ok: true, root: null };
  const root = convert(doc.contents, 0);
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

/**
 * The oracle of test/node/yaml-differential.test.ts: the policy YAML reader as it was before
 * src/trust/yaml.ts read the `yaml` package's syntax tree itself, through the package's Document API
 * (`parseDocument`, whose Composer makes the refusals src/trust/yaml-compose.ts now re-derives). Kept
 * here only as the reference that the new reader is compared against; the go-yaml v2 plain-scalar
 * resolution is unchanged and shared (`resolvePlain`).
 */

import { isAlias, isMap, isScalar, isSeq, Lexer, LineCounter, type Node, parseDocument, visit } from "yaml";
import { MAX_POLICY_EXPANDED_CHARS, MAX_POLICY_YAML_NODES } from "../../../src/platform/limits";
import { NO_POS, type Pos } from "../../../src/trust/problem";
import { resolvePlain, type YNode } from "../../../src/trust/yaml";

type ScalarKind = "null" | "bool" | "int" | "float" | "string";

interface YEntry {
  key: string;
  keyPos: Pos;
  keyScalar: ScalarKind;
  value: YNode;
}

interface YamlProblem {
  message: string;
  pos: Pos;
}

export type YamlResult = { ok: true; root: YNode | null } | { ok: false; problems: YamlProblem[] };

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
export function parseYamlOracle(text: string): YamlResult {
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
  const doc = parseDocument(text, {
    version: "1.1",
    schema: "failsafe",
    // Duplicates are found below, where `subject` and `Subject` count as the same key.
    uniqueKeys: false,
    prettyErrors: false,
  });
  // One change to the reader as it was: it placed problems with the line starts the Parser reports,
  // and the Parser reports none inside a scalar it refuses at the top of the stream (`c: d}\n c: d}`),
  // which put every later problem a line too early. Lines are counted in the text here, as src/trust/yaml.ts
  // counts them.
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines.addNewLine(i + 1);
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        message: `invalid YAML: ${yamlMessage(e.message)}`,
        pos: e.pos[0] === -1 ? NO_POS : lines.linePos(e.pos[0]),
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

/**
 * @module trust/yaml-compose
 * Turns the `yaml` package's concrete syntax tree (its Parser's output) into a small tree of maps,
 * sequences, scalars and aliases, refusing what the package's Composer refuses (docs/policy-reference.md,
 * "YAML rules"). The Worker reads policies with the package's Lexer and Parser only: its Document API
 * (Composer, node classes, schemas, stringifier) is most of its size (docs/performance.md, "Bundle").
 *
 * Each check below is the Composer's, in its order and with its message (yaml 2.9.1, src/compose/):
 * the Parser accepts nearly anything and leaves bad indentation, keys without values, misplaced
 * anchors and tags, missing commas, tabs as indentation and the like to the Composer. Its warnings are
 * not refusals and are left out, as are comments. Scalar values are resolved as the Composer resolves
 * them (quotes, escapes, folding, block scalar headers and chomping), all as strings: tags are kept
 * for the caller to judge, plain scalars are marked for the caller's YAML 1.1 resolution.
 */

import type { CST } from "yaml";
import { MAX_POLICY_YAML_PROBLEMS } from "../platform/limits";

type Token = CST.Token;
type SourceToken = CST.SourceToken;

/** A node as composed: offsets into the text; `end` is where what follows it may start. */
export interface RawNode {
  kind: "map" | "seq" | "scalar" | "alias";
  start: number;
  end: number;
  tag?: string;
  anchor?: string;
  /** Maps: each key with its value (null: a key with no `:` at all). */
  pairs?: [RawNode, RawNode | null][];
  items?: RawNode[];
  /** Scalars: the value as a string, and whether it was written plain (unquoted, not a block scalar). */
  value?: string;
  plain?: boolean;
  /** Aliases: the node last anchored with the alias's name before it (in document order), if any. */
  target?: RawNode;
}

export interface RawProblem {
  offset: number;
  message: string;
}

export const MAP_TAG = "tag:yaml.org,2002:map";
export const SEQ_TAG = "tag:yaml.org,2002:seq";

/** The properties before a node: `resolveProps` of the Composer. */
interface Props {
  comma: SourceToken | null;
  found: SourceToken | null;
  hasNewline: boolean;
  comment: boolean;
  anchor: SourceToken | null;
  tag: SourceToken | null;
  newlineAfterProp: SourceToken | null;
  end: number;
  start: number;
}

const NEEDS_SPACE = "Tags and anchors must be separated from the next token by white space";
const COMMENT_SPACE = "Comments must be separated from other tokens by white space characters";
const TABS = "Tabs are not allowed as indentation";
const START_COL = "All mapping items must start at the same column";
const BLOCK_IN_FLOW = "Block collections are not allowed within flow collections";
const FLOW_SEQ_KEY_LINE = "Implicit keys of flow sequence pairs need to be on a single line";

const isBlock = (token: Token | null | undefined) =>
  token?.type === "block-map" || token?.type === "block-seq";

/** Whether an implicit key spans lines (`containsNewline` of the Composer). */
function containsNewline(key: Token | null | undefined): boolean {
  if (!key) return false;
  switch (key.type) {
    case "alias":
    case "scalar":
    case "double-quoted-scalar":
    case "single-quoted-scalar":
      return key.source.includes("\n") || !!key.end?.some((st) => st.type === "newline");
    case "flow-collection":
      for (const it of key.items) {
        if (it.start.some((st) => st.type === "newline") || it.sep?.some((st) => st.type === "newline"))
          return true;
        if (containsNewline(it.key) || containsNewline(it.value)) return true;
      }
      return false;
    default:
      return true;
  }
}

/** Where an empty node is placed: after the last token before it that is not space, plus any spaces. */
function emptyScalarPosition(offset: number, before: SourceToken[] | undefined): number {
  if (!before) return offset;
  for (let i = before.length - 1; i >= 0; --i) {
    let st = before[i] as SourceToken | undefined;
    const type = st?.type;
    if (type === "space" || type === "comment" || type === "newline") {
      offset -= (st as SourceToken).source.length;
      continue;
    }
    st = before[++i];
    while (st?.type === "space") {
      offset += st.source.length;
      st = before[++i];
    }
    break;
  }
  return offset;
}

/**
 * Composes the Parser's top-level tokens (one document; a second one is refused, as `parseDocument`
 * refuses it) into a {@link RawNode} tree. `root` is null for a stream with no document at all.
 * Recursion follows the nesting of the text: very deep nesting throws a RangeError for the caller.
 */
export function compose(
  tokens: Iterable<Token>,
  textLength: number,
): { root: RawNode | null; problems: RawProblem[] } {
  let problems: RawProblem[] = [];
  /** Problems not yet given to a document: those before the first, and those after it, until a second. */
  let pending: RawProblem[] = [];
  // Past the cap, problems are not recorded.
  const room = () => problems.length + pending.length < MAX_POLICY_YAML_PROBLEMS;
  const err = (offset: number, message: string) => {
    if (room()) pending.push({ offset, message });
  };
  const anchors = new Map<string, RawNode>();
  const tagHandles = new Map([["!!", "tag:yaml.org,2002:"]]);
  let atRoot = true;

  function props(
    tokens: SourceToken[],
    flow: string | undefined,
    indicator: string,
    next: Token | null | undefined,
    offset: number,
    parentIndent: number,
    startOnNewline: boolean,
  ): Props {
    let atNewline = startOnNewline;
    let hasSpace = startOnNewline;
    let hasNewline = false;
    let comment = false;
    let reqSpace = false;
    let tab: SourceToken | null = null;
    let anchor: SourceToken | null = null;
    let tag: SourceToken | null = null;
    let newlineAfterProp: SourceToken | null = null;
    let comma: SourceToken | null = null;
    let found: SourceToken | null = null;
    let start: number | null = null;
    for (const token of tokens) {
      const type = token.type;
      if (reqSpace) {
        if (type !== "space" && type !== "newline" && type !== "comma") err(token.offset, NEEDS_SPACE);
        reqSpace = false;
      }
      if (tab) {
        if (atNewline && type !== "comment" && type !== "newline") err(tab.offset, TABS);
        tab = null;
      }
      if (type === "space") {
        // At the document level, tabs before a flow collection are white space, not indentation.
        if (
          !flow &&
          (indicator !== "doc-start" || next?.type !== "flow-collection") &&
          token.source.includes("\t")
        )
          tab = token;
        hasSpace = true;
      } else if (type === "comment") {
        if (!hasSpace) err(token.offset, COMMENT_SPACE);
        comment = true;
        atNewline = false;
      } else if (type === "newline") {
        atNewline = true;
        hasNewline = true;
        if (anchor || tag) newlineAfterProp = token;
        hasSpace = true;
      } else if (type === "anchor" || type === "tag") {
        if (type === "anchor" ? anchor : tag)
          err(token.offset, `A node can have at most one ${type === "anchor" ? "anchor" : "tag"}`);
        if (type === "anchor") anchor = token;
        else tag = token;
        start ??= token.offset;
        atNewline = false;
        hasSpace = false;
        reqSpace = true;
      } else if (type === indicator) {
        if (anchor || tag) err(token.offset, `Anchors and tags must be after the ${token.source} indicator`);
        if (found) err(token.offset, `Unexpected ${token.source} in ${flow ?? "collection"}`);
        found = token;
        atNewline = indicator === "seq-item-ind" || indicator === "explicit-key-ind";
        hasSpace = false;
      } else if (type === "comma" && flow) {
        if (comma) err(token.offset, `Unexpected , in ${flow}`);
        comma = token;
        atNewline = false;
        hasSpace = false;
      } else {
        err(token.offset, `Unexpected ${type} token`);
        atNewline = false;
        hasSpace = false;
      }
    }
    const last = tokens[tokens.length - 1];
    const end = last ? last.offset + last.source.length : offset;
    if (
      reqSpace &&
      next &&
      next.type !== "space" &&
      next.type !== "newline" &&
      next.type !== "comma" &&
      (next.type !== "scalar" || next.source !== "")
    )
      err(next.offset, NEEDS_SPACE);
    if (
      tab &&
      ((atNewline && tab.indent <= parentIndent) || next?.type === "block-map" || next?.type === "block-seq")
    )
      err(tab.offset, TABS);
    return { comma, found, hasNewline, comment, anchor, tag, newlineAfterProp, end, start: start ?? end };
  }

  /** What may follow a node on its line: spaces and a comment (`resolveEnd`). Returns the end offset. */
  function resolveEnd(end: SourceToken[] | undefined, offset: number, reqSpace: boolean): number {
    let hasSpace = false;
    for (const token of end ?? []) {
      if (token.type === "space" || token.type === "newline") hasSpace = true;
      else if (token.type === "comment") {
        if (reqSpace && !hasSpace) err(token.offset, COMMENT_SPACE);
      } else err(token.offset, `Unexpected ${token.type} at node end`);
      offset += token.source.length;
    }
    return offset;
  }

  /** `Directives.tagName`: a tag as written, to its full name (null when it cannot be resolved). */
  function tagName(token: SourceToken): string | null {
    const source = token.source;
    const fail = (message: string) => err(token.offset, message);
    if (source === "!") return "!"; // the non-specific tag
    if (source[1] === "<") {
      const verbatim = source.slice(2, -1);
      if (verbatim === "!" || verbatim === "!!") {
        fail(`Verbatim tags aren't resolved, so ${source} is invalid.`);
        return null;
      }
      if (source[source.length - 1] !== ">") fail("Verbatim tags must end with a >");
      return verbatim;
    }
    const [, handle, suffix] = /^(.*!)([^!]*)$/s.exec(source) as unknown as [string, string, string];
    if (!suffix) fail(`The ${source} tag has no suffix`);
    const prefix = tagHandles.get(handle);
    if (prefix) {
      try {
        return prefix + decodeURIComponent(suffix);
      } catch (error) {
        fail(String(error));
        return null;
      }
    }
    if (handle === "!") return source; // a local tag
    fail(`Could not resolve tag: ${source}`);
    return null;
  }

  function anchorNode(node: RawNode, anchor: SourceToken | null) {
    if (!anchor) return;
    const name = anchor.source.substring(1);
    node.anchor = name;
    if (name) anchors.set(name, node);
  }

  function composeNode(token: Token, props: Props): RawNode {
    const { anchor, tag } = props;
    let node: RawNode | undefined;
    switch (token.type) {
      case "alias": {
        const name = token.source.substring(1);
        if (name === "") err(token.offset, "Alias cannot be an empty string");
        const end = resolveEnd(token.end, token.offset + token.source.length, true);
        node = { kind: "alias", start: token.offset, end };
        const target = anchors.get(name);
        if (target) node.target = target;
        if (anchor || tag) err(token.offset, "An alias node must not specify any properties");
        break;
      }
      case "scalar":
      case "single-quoted-scalar":
      case "double-quoted-scalar":
      case "block-scalar":
        node = composeScalar(token, tag);
        anchorNode(node, anchor);
        break;
      case "block-map":
      case "block-seq":
      case "flow-collection":
        node = composeCollection(token, props);
        break;
      default:
        err(token.offset, token.type === "error" ? token.message : `Unsupported token (type: ${token.type})`);
    }
    node ??= composeEmptyNode(token.offset, undefined, props);
    if (anchor && node.anchor === "") err(anchor.offset, "Anchor cannot be an empty string");
    return node;
  }

  function composeEmptyNode(offset: number, before: SourceToken[] | undefined, props: Props): RawNode {
    const start = emptyScalarPosition(offset, before);
    const node = composeScalar({ type: "scalar", offset: start, indent: -1, source: "" }, props.tag);
    if (props.comment) node.end = props.end;
    anchorNode(node, props.anchor);
    if (node.anchor === "") err((props.anchor as SourceToken).offset, "Anchor cannot be an empty string");
    return node;
  }

  function composeScalar(token: CST.FlowScalar | CST.BlockScalar, tagToken: SourceToken | null): RawNode {
    const node: RawNode =
      token.type === "block-scalar"
        ? blockScalar(token)
        : { kind: "scalar", ...flowScalar(token as CST.FlowScalar), plain: token.type === "scalar" };
    const name = tagToken ? tagName(tagToken) : null;
    if (name) node.tag = name;
    return node;
  }

  function composeCollection(token: CST.BlockMap | CST.BlockSequence | CST.FlowCollection, props: Props) {
    const { anchor, tag: tagToken } = props;
    const name = tagToken ? tagName(tagToken) : null;
    if (token.type === "block-seq") {
      const nl = props.newlineAfterProp;
      const lastProp =
        anchor && tagToken ? (anchor.offset > tagToken.offset ? anchor : tagToken) : (anchor ?? tagToken);
      if (lastProp && (!nl || nl.offset < lastProp.offset))
        err(lastProp.offset, "Missing newline after block sequence props");
    }
    const isMap =
      token.type === "block-map" || (token.type === "flow-collection" && token.start.source === "{");
    const node: RawNode = { kind: isMap ? "map" : "seq", start: token.offset, end: token.offset };
    // The non-specific tag `!` on a collection is its plain mapping or sequence tag.
    if (name) node.tag = name === "!" ? (isMap ? MAP_TAG : SEQ_TAG) : name;
    if (isMap) node.pairs = [];
    else node.items = [];
    // Anchored before its contents are read: an alias inside the node names the node itself.
    anchorNode(node, anchor);
    if (token.type === "block-map") blockMap(token, node);
    else if (token.type === "block-seq") blockSeq(token, node);
    else flowCollection(token, node);
    return node;
  }

  function blockMap(bm: CST.BlockMap, node: RawNode) {
    atRoot = false;
    const pairs = node.pairs as [RawNode, RawNode | null][];
    let offset = bm.offset;
    let commentEnd: number | null = null;
    for (const { start, key, sep, value } of bm.items) {
      const keyProps = props(start, undefined, "explicit-key-ind", key ?? sep?.[0], offset, bm.indent, true);
      const implicitKey = !keyProps.found;
      if (implicitKey) {
        if (key) {
          if (key.type === "block-seq")
            err(offset, "A block sequence may not be used as an implicit map key");
          else if ("indent" in key && key.indent !== bm.indent) err(offset, START_COL);
        }
        if (!keyProps.anchor && !keyProps.tag && !sep) {
          commentEnd = keyProps.end;
          continue;
        }
        if (keyProps.newlineAfterProp || containsNewline(key))
          err(
            (key ?? (start[start.length - 1] as SourceToken)).offset,
            "Implicit keys need to be on a single line",
          );
      } else if (keyProps.found?.indent !== bm.indent) err(offset, START_COL);
      const keyNode = key ? composeNode(key, keyProps) : composeEmptyNode(keyProps.end, start, keyProps);
      const valueProps = props(
        sep ?? [],
        undefined,
        "map-value-ind",
        value,
        keyNode.end,
        bm.indent,
        !key || key.type === "block-scalar",
      );
      offset = valueProps.end;
      if (valueProps.found) {
        if (implicitKey) {
          if (value?.type === "block-map" && !valueProps.hasNewline)
            err(offset, "Nested mappings are not allowed in compact mappings");
          if (keyProps.start < valueProps.found.offset - 1024)
            err(
              keyNode.start,
              "The : indicator must be at most 1024 chars after the start of an implicit block mapping key",
            );
        }
        const valueNode = value ? composeNode(value, valueProps) : composeEmptyNode(offset, sep, valueProps);
        offset = valueNode.end;
        pairs.push([keyNode, valueNode]);
      } else {
        if (implicitKey) err(keyNode.start, "Implicit map keys need to be followed by map values");
        pairs.push([keyNode, null]);
      }
    }
    if (commentEnd && commentEnd < offset) err(commentEnd, "Map comment with trailing content");
    node.end = commentEnd ?? offset;
  }

  function blockSeq(bs: CST.BlockSequence, node: RawNode) {
    atRoot = false;
    const items = node.items as RawNode[];
    let offset = bs.offset;
    let commentEnd: number | null = null;
    for (const { start, value } of bs.items) {
      const p = props(start, undefined, "seq-item-ind", value, offset, bs.indent, true);
      if (!p.found) {
        if (p.anchor || p.tag || value) {
          if (value?.type === "block-seq") err(p.end, "All sequence items must start at the same column");
          else err(offset, "Sequence item without - indicator");
        } else {
          commentEnd = p.end;
          continue;
        }
      }
      const item = value ? composeNode(value, p) : composeEmptyNode(p.end, start, p);
      offset = item.end;
      items.push(item);
    }
    node.end = commentEnd ?? offset;
  }

  function flowCollection(fc: CST.FlowCollection, node: RawNode) {
    const isMap = fc.start.source === "{";
    const fcName = isMap ? "flow map" : "flow sequence";
    const wasAtRoot = atRoot;
    atRoot = false;
    let offset = fc.offset + fc.start.source.length;
    for (let i = 0; i < fc.items.length; ++i) {
      const { start, key, sep, value } = fc.items[i] as CST.CollectionItem;
      const p = props(start, fcName, "explicit-key-ind", key ?? sep?.[0], offset, fc.indent, false);
      if (!p.found) {
        if (!p.anchor && !p.tag && !sep && !value) {
          if (i === 0 && p.comma) err(p.comma.offset, `Unexpected , in ${fcName}`);
          else if (i < fc.items.length - 1) err(p.start, `Unexpected empty item in ${fcName}`);
          offset = p.end;
          continue;
        }
        if (!isMap && containsNewline(key)) err((key as Token).offset, FLOW_SEQ_KEY_LINE);
      }
      if (i === 0) {
        if (p.comma) err(p.comma.offset, `Unexpected , in ${fcName}`);
      } else if (!p.comma) err(p.start, `Missing , between ${fcName} items`);
      if (!isMap && !sep && !p.found) {
        // A value in a sequence.
        const item = value ? composeNode(value, p) : composeEmptyNode(p.end, sep, p);
        (node.items as RawNode[]).push(item);
        offset = item.end;
        if (isBlock(value)) err(item.start, BLOCK_IN_FLOW);
        continue;
      }
      // A key and its value: an entry of the map, or a one-pair map in the sequence (`[a: b]`).
      const keyNode = key ? composeNode(key, p) : composeEmptyNode(p.end, start, p);
      if (isBlock(key)) err(keyNode.start, BLOCK_IN_FLOW);
      const vp = props(sep ?? [], fcName, "map-value-ind", value, keyNode.end, fc.indent, false);
      if (vp.found) {
        if (!isMap && !p.found) {
          for (const st of sep ?? []) {
            if (st === vp.found) break;
            if (st.type === "newline") {
              err(st.offset, FLOW_SEQ_KEY_LINE);
              break;
            }
          }
          if (p.start < vp.found.offset - 1024)
            err(
              vp.found.offset,
              "The : indicator must be at most 1024 chars after the start of an implicit flow sequence key",
            );
        }
      } else if (value) {
        if ("source" in value && value.source[0] === ":")
          err(value.offset, `Missing space after : in ${fcName}`);
        else err(vp.start, `Missing , or : between ${fcName} items`);
      }
      const valueNode = value ? composeNode(value, vp) : vp.found ? composeEmptyNode(vp.end, sep, vp) : null;
      if (valueNode && isBlock(value)) err(valueNode.start, BLOCK_IN_FLOW);
      if (isMap) (node.pairs as [RawNode, RawNode | null][]).push([keyNode, valueNode]);
      else
        (node.items as RawNode[]).push({
          kind: "map",
          start: keyNode.start,
          end: (valueNode ?? keyNode).end,
          pairs: [[keyNode, valueNode]],
        });
      offset = valueNode ? valueNode.end : vp.end;
    }
    const expectedEnd = isMap ? "}" : "]";
    const [ce, ...ee] = fc.end;
    let cePos = offset;
    if (ce?.source === expectedEnd) cePos = ce.offset + ce.source.length;
    else {
      const name = isMap ? "Flow map" : "Flow sequence";
      err(
        offset,
        wasAtRoot
          ? `${name} must end with a ${expectedEnd}`
          : `${name} in block collection must be sufficiently indented and end with a ${expectedEnd}`,
      );
      if (ce && ce.source.length !== 1) ee.unshift(ce);
    }
    node.end = ee.length > 0 ? resolveEnd(ee, cePos, true) : cePos;
  }

  /** A quoted or plain scalar (`resolveFlowScalar`). */
  function flowScalar({ offset, type, source, end }: CST.FlowScalar) {
    let value: string;
    if (type === "scalar") {
      const first = source[0];
      const bad =
        first === ","
          ? "flow indicator character ,"
          : first === "%"
            ? "directive indicator character %"
            : first === "|" || first === ">"
              ? `block scalar indicator ${first}`
              : first === "@" || first === "`"
                ? `reserved character ${first}`
                : first === "\t"
                  ? "a tab character"
                  : "";
      if (bad) err(offset, `Plain value cannot start with ${bad}`);
      value = unfoldLines(source);
    } else if (type === "single-quoted-scalar") {
      if (source[source.length - 1] !== "'" || source.length === 1)
        err(offset + source.length, "Missing closing 'quote");
      value = unfoldLines(source.slice(1, -1)).replace(/''/g, "'");
    } else value = doubleQuotedValue(source, offset);
    return { start: offset, end: resolveEnd(end, offset + source.length, true), value };
  }

  function doubleQuotedValue(source: string, offset: number): string {
    let res = "";
    for (let i = 1; i < source.length - 1; ++i) {
      const ch = source[i] as string;
      if (ch === "\r" && source[i + 1] === "\n") continue;
      if (ch === "\n") {
        // A line break folds to a space, several to one fewer line feeds.
        let fold = "";
        let next = source[i + 1];
        while (next === " " || next === "\t" || next === "\n" || next === "\r") {
          if (next === "\r" && source[i + 2] !== "\n") break;
          if (next === "\n") fold += "\n";
          next = source[++i + 1];
        }
        res += fold || " ";
      } else if (ch === "\\") {
        let next = source[++i] as string;
        const code = ESCAPES[next];
        if (code) res += code;
        else if (next === "\n" || (next === "\r" && source[i + 1] === "\n")) {
          // An escaped line break is skipped, and so is the next line's leading white space.
          if (next === "\r") ++i;
          next = source[i + 1] as string;
          while (next === " " || next === "\t") next = source[++i + 1] as string;
        } else if (next === "x" || next === "u" || next === "U") {
          const length = next === "x" ? 2 : next === "u" ? 4 : 8;
          const hex = source.substr(i + 1, length);
          // A code point, or the escape kept as written (String.fromCodePoint would throw, slowly).
          if (hex.length === length && /^[0-9a-fA-F]+$/.test(hex) && Number.parseInt(hex, 16) <= 0x10ffff)
            res += String.fromCodePoint(Number.parseInt(hex, 16));
          else {
            const raw = source.substr(i - 1, length + 2);
            err(offset + i - 1, `Invalid escape sequence ${raw}`);
            res += raw;
          }
          i += length;
        } else {
          const raw = source.substr(i - 1, 2);
          err(offset + i - 1, `Invalid escape sequence ${raw}`);
          res += raw;
        }
      } else if (ch === " " || ch === "\t") {
        // White space before a line break is dropped.
        const wsStart = i;
        let next = source[i + 1];
        while (next === " " || next === "\t") next = source[++i + 1];
        if (next !== "\n" && !(next === "\r" && source[i + 2] === "\n"))
          res += i > wsStart ? source.slice(wsStart, i + 1) : ch;
      } else res += ch;
    }
    if (source[source.length - 1] !== '"' || source.length === 1)
      err(offset + source.length, 'Missing closing "quote');
    return res;
  }

  /** A literal (`|`) or folded (`>`) block scalar (`resolveBlockScalar`). */
  function blockScalar(scalar: CST.BlockScalar): RawNode {
    const start = scalar.offset;
    const header = blockScalarHeader(scalar);
    const end = start + header.length + scalar.source.length;
    const node: RawNode = { kind: "scalar", start, end, value: "", plain: false };
    const lines = scalar.source ? splitLines(scalar.source) : [];
    // The end of the content, where chomping starts.
    let chompStart = lines.length;
    for (let i = lines.length - 1; i >= 0; --i) {
      const content = (lines[i] as [string, string])[1];
      if (content === "" || content === "\r") chompStart = i;
      else break;
    }
    if (chompStart === 0) {
      node.value = header.chomp === "+" && lines.length > 0 ? "\n".repeat(Math.max(1, lines.length - 1)) : "";
      return node;
    }
    // The indentation to trim.
    let trimIndent = scalar.indent + header.indent;
    let offset = scalar.offset + header.length;
    let contentStart = 0;
    for (let i = 0; i < chompStart; ++i) {
      const [indent, content] = lines[i] as [string, string];
      if (content === "" || content === "\r") {
        if (header.indent === 0 && indent.length > trimIndent) trimIndent = indent.length;
      } else {
        if (indent.length < trimIndent)
          err(
            offset + indent.length,
            "Block scalars with more-indented leading empty lines must use an explicit indentation indicator",
          );
        if (header.indent === 0) trimIndent = indent.length;
        contentStart = i;
        if (trimIndent === 0 && !atRoot) err(offset, "Block scalar values in collections must be indented");
        break;
      }
      offset += indent.length + content.length + 1;
    }
    // Trailing more-indented empty lines are content.
    for (let i = lines.length - 1; i >= chompStart; --i) {
      if ((lines[i] as [string, string])[0].length > trimIndent) chompStart = i + 1;
    }
    let value = "";
    let sep = "";
    let prevMoreIndented = false;
    // Leading empty lines are kept as they are.
    for (let i = 0; i < contentStart; ++i)
      value += `${(lines[i] as [string, string])[0].slice(trimIndent)}\n`;
    for (let i = contentStart; i < chompStart; ++i) {
      let [indent, content] = lines[i] as [string, string];
      offset += indent.length + content.length + 1;
      const crlf = content[content.length - 1] === "\r";
      if (crlf) content = content.slice(0, -1);
      if (content && indent.length < trimIndent) {
        const src = header.indent ? "explicit indentation indicator" : "first line";
        err(
          offset - content.length - (crlf ? 2 : 1),
          `Block scalar lines must not be less indented than their ${src}`,
        );
        indent = "";
      }
      if (header.mode === "|") {
        value += sep + indent.slice(trimIndent) + content;
        sep = "\n";
      } else if (indent.length > trimIndent || content[0] === "\t") {
        // More-indented lines of a folded scalar keep their line breaks.
        if (sep === " ") sep = "\n";
        else if (!prevMoreIndented && sep === "\n") sep = "\n\n";
        value += sep + indent.slice(trimIndent) + content;
        sep = "\n";
        prevMoreIndented = true;
      } else if (content === "") {
        if (sep === "\n") value += "\n";
        else sep = "\n";
      } else {
        value += sep + content;
        sep = " ";
        prevMoreIndented = false;
      }
    }
    if (header.chomp === "+") {
      for (let i = chompStart; i < lines.length; ++i)
        value += `\n${(lines[i] as [string, string])[0].slice(trimIndent)}`;
      if (value[value.length - 1] !== "\n") value += "\n";
    } else if (header.chomp !== "-") value += "\n";
    node.value = value;
    return node;
  }

  function blockScalarHeader({ offset, props }: CST.BlockScalar) {
    // The Parser always starts a block scalar's props with its header.
    const { source } = props[0] as SourceToken;
    const mode = source[0];
    let indent = 0;
    let chomp = "";
    let error = -1;
    for (let i = 1; i < source.length; ++i) {
      const ch = source[i] as string;
      if (!chomp && (ch === "-" || ch === "+")) chomp = ch;
      else {
        const n = Number(ch);
        if (!indent && n) indent = n;
        else if (error === -1) error = offset + i;
      }
    }
    if (error !== -1) err(error, `Block scalar header includes extra characters: ${source}`);
    let hasSpace = false;
    let length = source.length;
    for (const token of props.slice(1)) {
      if (token.type === "space") hasSpace = true;
      else if (token.type === "comment") {
        if (!hasSpace) err(token.offset, COMMENT_SPACE);
      } else if (token.type === "error") err(token.offset, token.message);
      else if (token.type !== "newline")
        err(token.offset, `Unexpected token in block scalar header: ${token.type}`);
      length += "source" in token ? token.source.length : 0;
    }
    return { mode, indent, chomp, length };
  }

  function directive({ offset, source }: CST.Directive) {
    const parts = source.trim().split(/[ \t]+/);
    const name = parts.shift();
    if (name === "%TAG") {
      if (parts.length !== 2) err(offset, "%TAG directive should contain exactly two parts");
      const [handle, prefix] = parts;
      if (handle !== undefined && prefix !== undefined) tagHandles.set(handle, prefix);
    } else if (name === "%YAML") {
      // Only the version's own problems count: another well-formed version is a warning of the Composer.
      const [version] = parts;
      if (parts.length !== 1) err(offset, "%YAML directive should contain exactly one part");
      else if (version !== "1.1" && version !== "1.2" && !/^\d+\.\d+$/.test(version as string))
        err(offset + 6, `Unsupported YAML version ${version}`);
    }
  }

  // The stream (`Composer.next`, `parseDocument`): directives, then one document, then at most `...`.
  let root: RawNode | null = null;
  let atDirectives = false;
  let docs = 0;
  for (const token of tokens) {
    if (token.type === "directive") {
      directive(token);
      atDirectives = true;
    } else if (token.type === "document") {
      if (++docs > 1) {
        // What the second document itself holds is not read, and the problems waiting for it (its
        // directives) are dropped with it; its refusal is always listed, within the cap, so that a full
        // list of them can never leave the file accepted.
        if (problems.length >= MAX_POLICY_YAML_PROBLEMS) problems.length = MAX_POLICY_YAML_PROBLEMS - 1;
        problems.push({
          offset: token.offset,
          message: "Source contains multiple documents; a policy file is one YAML document",
        });
        pending = [];
        break;
      }
      const p = props(
        token.start,
        undefined,
        "doc-start",
        token.value ?? token.end?.[0],
        token.offset,
        0,
        true,
      );
      if (p.found && isBlock(token.value) && !p.hasNewline)
        err(p.end, "Block collection cannot start on same line with directives-end marker");
      root = token.value ? composeNode(token.value, p) : composeEmptyNode(p.end, token.start, p);
      resolveEnd(token.end, root.end, false);
      if (atDirectives && !p.found) err(token.offset, "Missing directives-end/doc-start indicator line");
      problems = pending;
      pending = [];
      atDirectives = false;
    } else if (token.type === "error") {
      const message = token.source ? `${token.message}: ${JSON.stringify(token.source)}` : token.message;
      if (atDirectives || !root) err(token.offset, message);
      else if (room()) problems.push({ offset: token.offset, message });
    } else if (token.type === "doc-end") {
      if (!root) err(token.offset, "Unexpected doc-end without preceding document");
      else {
        resolveEnd(token.end, token.offset + token.source.length, true);
        problems.push(...pending);
        pending = [];
      }
    } else if (
      token.type !== "byte-order-mark" &&
      token.type !== "space" &&
      token.type !== "comment" &&
      token.type !== "newline"
    )
      err(token.offset, `Unsupported token ${token.type}`);
  }
  if (!root && atDirectives) err(textLength, "Missing directives-end indicator line");
  problems.push(...pending);
  return { root, problems };
}

/** `\` escapes of double-quoted scalars. */
const ESCAPES: Record<string, string> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  e: "\x1b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  N: "\u0085",
  _: "\u00a0",
  L: "\u2028",
  P: "\u2029",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
  "\t": "\t",
};

/** Folds the lines of a plain or single-quoted scalar: a line break is a space, more are line feeds. */
function unfoldLines(source: string): string {
  const line = /(.*?)\r?\n/sy;
  const first = line.exec(source);
  if (!first) return source;
  let res = (first[1] as string).replace(/(?<![ \t])[ \t]+$/, "");
  let sep = " ";
  let pos = line.lastIndex;
  for (let match = line.exec(source); match; match = line.exec(source)) {
    const lm = (match[1] as string).replace(/^[ \t]+|(?<![ \t])[ \t]+$/g, "");
    if (lm === "") {
      if (sep === "\n") res += sep;
      else sep = "\n";
    } else {
      res += sep + lm;
      sep = " ";
    }
    pos = line.lastIndex;
  }
  const last = /[ \t]*(.*)/sy;
  last.lastIndex = pos;
  return res + sep + (last.exec(source)?.[1] ?? "");
}

/** A block scalar's lines as `[indent, content]`. */
function splitLines(source: string): [string, string][] {
  const split = source.split(/\n( *)/);
  const first = split[0] as string;
  const m = /^( *)/.exec(first);
  const lines: [string, string][] = [m?.[1] ? [m[1], first.slice(m[1].length)] : ["", first]];
  for (let i = 1; i < split.length; i += 2) lines.push([split[i] as string, split[i + 1] as string]);
  return lines;
}

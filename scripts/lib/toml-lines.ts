/**
 * Reading and editing wrangler.toml one line at a time, for `npm run setup` and `npm run deploy`: the
 * user's file is never re-serialised, so comments, order and every other edit stay as they are; a
 * setting is changed by replacing its one line, or added as one line right under its table's header.
 *
 * Enough TOML for this file: `[table]` and `[[array.of.tables]]` headers, `key = value` lines whose
 * value is a basic or literal string, a number, a boolean, or an array on that line. A value this reader
 * cannot read is reported as such (never guessed).
 */

export interface TomlTable {
  /** The header as written inside the brackets (`vars`, `kv_namespaces`); "" for the top level. */
  name: string;
  /** `[[name]]` rather than `[name]`. */
  array: boolean;
  /** Line index of the header (-1 for the top level). */
  header: number;
  /** Line indexes of the table's body: from `header + 1` up to, not including, `end`. */
  end: number;
}

const HEADER = /^\s*(\[\[?)\s*([A-Za-z0-9_.\-"' ]+?)\s*\]\]?\s*(?:#.*)?$/;
const KEY_LINE = /^(\s*)([A-Za-z0-9_-]+)\s*=\s*(.*?)\s*$/;

export function splitLines(text: string): string[] {
  return text.split("\n");
}

/** Every table of the file, the top level first. */
export function tables(lines: readonly string[]): TomlTable[] {
  const out: TomlTable[] = [{ name: "", array: false, header: -1, end: lines.length }];
  lines.forEach((line, index) => {
    const m = HEADER.exec(line);
    if (m === null) return;
    (out.at(-1) as TomlTable).end = index;
    out.push({ name: (m[2] as string).trim(), array: m[1] === "[[", header: index, end: lines.length });
  });
  return out;
}

/** The line index of `key` in `table`, or undefined (commented-out lines do not count). */
export function findKey(lines: readonly string[], table: TomlTable, key: string): number | undefined {
  for (let i = table.header + 1; i < table.end; i++) {
    const m = KEY_LINE.exec(lines[i] as string);
    if (m !== null && m[2] === key) return i;
  }
  return undefined;
}

/** A value as written after `=`, without a trailing comment (outside strings). */
function valueText(raw: string): string {
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (quote !== undefined) {
      if (ch === "\\" && quote === '"') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "#") return raw.slice(0, i).trim();
  }
  return raw.trim();
}

export type TomlValue =
  | { kind: "string"; value: string }
  | { kind: "number"; value: string }
  | { kind: "boolean"; value: boolean }
  | { kind: "array"; items: string[] }
  | { kind: "unreadable"; raw: string };

function readString(text: string): string | undefined {
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2 && !text.startsWith("'''")) {
    return text.slice(1, -1);
  }
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2 && !text.startsWith('"""')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Reads the value of one `key = value` line. */
export function readValue(line: string): TomlValue {
  const m = KEY_LINE.exec(line);
  const text = valueText(m?.[3] ?? "");
  const str = readString(text);
  if (str !== undefined) return { kind: "string", value: str };
  if (/^[+-]?[0-9_]+$/.test(text)) return { kind: "number", value: text.replace(/_/g, "") };
  if (text === "true" || text === "false") return { kind: "boolean", value: text === "true" };
  if (text.startsWith("[") && text.endsWith("]")) {
    const items: string[] = [];
    const inner = text.slice(1, -1).trim();
    const re = /\s*("(?:[^"\\]|\\.)*"|'[^']*')\s*(,|$)/gy;
    let at = 0;
    while (at < inner.length) {
      re.lastIndex = at;
      const item = re.exec(inner);
      if (item === null) return { kind: "unreadable", raw: text };
      items.push(readString(item[1] as string) ?? "");
      at = re.lastIndex;
    }
    return { kind: "array", items };
  }
  return { kind: "unreadable", raw: text };
}

/** The first `[name]` table (or the top level for ""). */
export function table(lines: readonly string[], name: string): TomlTable | undefined {
  return tables(lines).find((t) => t.name === name && !t.array);
}

/** The `[[kv_namespaces]]` entry whose `binding` is `binding`. */
export function kvNamespace(lines: readonly string[], binding: string): TomlTable | undefined {
  return tables(lines).find((t) => {
    if (!t.array || t.name !== "kv_namespaces") return false;
    const at = findKey(lines, t, "binding");
    if (at === undefined) return false;
    const value = readValue(lines[at] as string);
    return value.kind === "string" && value.value === binding;
  });
}

/** `key = "value"` as TOML writes a basic string. */
export function stringLine(key: string, value: string): string {
  return `${key} = ${JSON.stringify(value)}`;
}

/**
 * Sets `key` in `table` to the string `value`: its line replaced (indentation and a trailing comment
 * kept) when it is there, else one line added under the table's header. Answers the new lines and
 * whether anything changed.
 */
export function setString(
  lines: readonly string[],
  at: TomlTable,
  key: string,
  value: string,
): { lines: string[]; changed: boolean } {
  const out = [...lines];
  const index = findKey(lines, at, key);
  if (index !== undefined) {
    const line = lines[index] as string;
    const current = readValue(line);
    if (current.kind === "string" && current.value === value) return { lines: out, changed: false };
    const indent = /^\s*/.exec(line)?.[0] ?? "";
    const rawValue = KEY_LINE.exec(line)?.[3] ?? "";
    const comment = rawValue.slice(valueText(rawValue).length).trim();
    out[index] = `${indent}${stringLine(key, value)}${comment.startsWith("#") ? ` ${comment}` : ""}`;
    return { lines: out, changed: true };
  }
  out.splice(at.header + 1, 0, stringLine(key, value));
  return { lines: out, changed: true };
}

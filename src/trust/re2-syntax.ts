/**
 * @module trust/re2-syntax
 * A parse tree for RE2 patterns in Go's syntax (regexp/syntax with the Perl flags, which is what
 * re2js compiles), because re2js exposes none and two trust rules need one:
 * - `hostBoundaryProblem`: an organization's `issuer_patterns` must not let a match span a host
 *   boundary: no class or `.` that can match "/", no "/" under a repetition or inside an alternation
 *   (after Go's literal-prefix factoring, which is the tree octo-sts inspects);
 * - `repetitionCost`: the repetition expansion that bounds a trust-policy pattern's compiled size.
 * The tree is the pattern as written (every node has its source span), not Go's simplified one.
 * Pure: no I/O; re2js is asked only at the end, to confirm that the engine accepts what this parser
 * accepts. Never throws: a policy author controls these patterns, so every failure is a result,
 * nesting is bounded (no stack overflow) and the work is linear in the pattern's length.
 *
 * Known divergences of `parseRe2Syntax` from the engine (`parseRe2` returns the engine's verdict
 * for all of them, except the first, which it refuses):
 * - groups nested deeper than 1000 are refused even when they do not capture (Go counts only the
 *   nodes of its tree, where `(?:…)` leaves none, so it accepts 10,000 nested `(?:`);
 * - the tree-height limit (1000) is estimated on this tree, not on Go's factored one, so a pattern
 *   within a few levels of the limit may be judged differently;
 * - "expression too large" (Go's limit on the compiled program) is left to the engine.
 */

import { RE2JS } from "re2js";

/** Zero-width assertions: `^ $` (`beginLine`/`endLine` under `(?m)`), `\A \z \b \B`. */
type Assertion = "beginLine" | "endLine" | "beginText" | "endText" | "wordBoundary" | "noWordBoundary";

/** Where a node was written: `pattern.slice(start, end)` is its source text. */
interface Span {
  readonly start: number;
  readonly end: number;
}

/** One character, however written (`a`, `\.`, `\x2F`, `\057`, a character of `\Q…\E`). */
interface LiteralNode extends Span {
  readonly kind: "literal";
  readonly codePoint: number;
  /** Under `(?i)`. */
  readonly foldCase: boolean;
}

/** `.`; it matches "\n" only under `(?s)`, and "/" always. */
interface AnyCharNode extends Span {
  readonly kind: "anyChar";
  readonly matchesNewline: boolean;
}

/** `[…]`, `\d \D \s \S \w \W`, `\pL \p{Greek} \PL \P{…}`. */
interface CharClassNode extends Span {
  readonly kind: "charClass";
  /** `[^…]`, or an escape that means the complement (`\D`, `\P…`, `\p{^…}`). */
  readonly negated: boolean;
  /** Whether "/" is in the set (case folding never changes that: nothing folds to "/"). */
  readonly canMatchSlash: boolean;
  readonly foldCase: boolean;
}

interface EmptyWidthNode extends Span {
  readonly kind: "emptyWidth";
  readonly assertion: Assertion;
}

/** Matches "": an empty branch (`a|`) or group (`()`). */
interface EmptyNode extends Span {
  readonly kind: "empty";
}

/** `(…)`, `(?P<name>…)`, `(?<name>…)` capture; `(?:…)`, `(?i:…)` do not. */
interface GroupNode extends Span {
  readonly kind: "group";
  readonly capture: boolean;
  readonly name: string | undefined;
  readonly sub: Node;
}

interface ConcatNode extends Span {
  readonly kind: "concat";
  readonly subs: readonly Node[];
}

interface AlternateNode extends Span {
  readonly kind: "alternate";
  readonly subs: readonly Node[];
}

/** `* + ?` and the counted `{n} {n,} {n,m}`, each possibly lazy (`?` suffix, or `(?U)`). */
interface RepeatNode extends Span {
  readonly kind: "repeat";
  readonly min: number;
  /** -1 when unbounded. */
  readonly max: number;
  readonly greedy: boolean;
  /** Written with braces (`{…}`), as opposed to `* + ?`. */
  readonly counted: boolean;
  readonly sub: Node;
  /** Characters (code points) of the source text of `sub`. */
  readonly sourceLength: number;
}

export type Node =
  | LiteralNode
  | AnyCharNode
  | CharClassNode
  | EmptyWidthNode
  | EmptyNode
  | GroupNode
  | ConcatNode
  | AlternateNode
  | RepeatNode;

export type ParseResult = { ok: true; node: Node } | { ok: false; error: string };

type CostResult = { ok: true; expansion: number } | { ok: false; error: string };

/**
 * Parses `pattern` as Go's regexp/syntax does with the Perl flags, then asks re2js to compile it:
 * when the engine refuses what this parser accepts (a limit this parser does not model), the
 * engine's error is the answer.
 */
export function parseRe2(pattern: string): ParseResult {
  const parsed = parseRe2Syntax(pattern);
  if (!parsed.ok) return parsed;
  try {
    RE2JS.compile(pattern);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  return parsed;
}

/** The parser alone, without asking the engine (see the module comment for how the two differ). */
export function parseRe2Syntax(pattern: string): ParseResult {
  if (typeof pattern !== "string")
    return { ok: false, error: "error parsing regexp: the pattern is not a string" };
  try {
    return { ok: true, node: new Parser(pattern).parse() };
  } catch (error) {
    if (error instanceof SyntaxFailure) return { ok: false, error: error.message };
    // Not reachable by design; a result all the same, because the input is hostile.
    return {
      ok: false,
      error: `error parsing regexp: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

const PROBLEM_CLASS = 'a character class that can match "/"';
const PROBLEM_DOT = '"." can match "/"';
const PROBLEM_REPEATED = '"/" under a repetition';
const PROBLEM_ALTERNATED = '"/" inside an alternation';
const PROBLEM_ESCAPE = "an escape out of the anchoring group";

/**
 * Why an organization's trusted-issuer pattern could let an issuer span a host boundary, or
 * undefined when it cannot. The pattern is later anchored as `^(?:p)$`, so it must compile alone and
 * anchored; then no class (bracketed, Perl, POSIX or Unicode) nor `.` may match "/", and a "/" may
 * stand neither under a repetition (`x{1}` is none) nor inside an alternation once Go has factored
 * the branches' common literal prefix out of it (`https://a\.com|https://b\.com` keeps its slashes
 * outside). A problem is named without quoting the pattern; a parse error is the engine's wording
 * (`error parsing regexp: …`), which quotes the offending piece as compileAnchored's errors do.
 */
export function hostBoundaryProblem(pattern: string): string | undefined {
  const parsed = parseRe2(pattern);
  if (!parsed.ok) return parsed.error;
  // Compiling alone rules out `)|(`; only an unterminated `\Q` compiles alone and then swallows the
  // anchoring `)$`.
  if (!parseRe2(`^(?:${pattern})$`).ok) return PROBLEM_ESCAPE;
  try {
    return new BoundaryCheck(pattern).node(parsed.node, { repeated: false, alternated: false });
  } catch {
    // Not reachable by design (the tree's depth is bounded); refuse rather than throw.
    return "a pattern too complex to check";
  }
}

/**
 * The repetition expansion of `pattern`: for each counted repeat `x{n}`, `x{n,}`, `x{n,m}`, the
 * larger count times the characters of the source text of `x`, times the counts of the counted
 * repeats around it, summed over the pattern. `* + ?` count nothing themselves (and multiply
 * nothing). A count over 1000 is a parse error, as in Go.
 */
export function repetitionCost(pattern: string): CostResult {
  // The parser alone: this bound is checked before the engine compiles (that compile is the cost).
  const parsed = parseRe2Syntax(pattern);
  if (!parsed.ok) return parsed;
  try {
    return { ok: true, expansion: expansion(parsed.node, 1) };
  } catch {
    return { ok: false, error: "a pattern too complex to measure" };
  }
}

function expansion(node: Node, multiplier: number): number {
  let total = 0;
  let inner = multiplier;
  if (node.kind === "repeat" && node.counted) {
    const count = node.max < 0 ? node.min : node.max;
    total += count * node.sourceLength * multiplier;
    inner = multiplier * count;
  }
  for (const sub of children(node)) total += expansion(sub, inner);
  return total;
}

function children(node: Node): readonly Node[] {
  switch (node.kind) {
    case "group":
    case "repeat":
      return [node.sub];
    case "concat":
    case "alternate":
      return node.subs;
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------------------------------
// The parser: Go's regexp/syntax parse loop (as ported by re2js), building a tree of the source.

/** Go's limits: tree height, and the largest repeat count. */
const MAX_HEIGHT = 1000;
const MAX_REPEAT = 1000;

const FOLD_CASE = 1;
const DOT_NL = 2;
const ONE_LINE = 4;
const NON_GREEDY = 8;
const ALL_FLAGS = FOLD_CASE | DOT_NL | ONE_LINE | NON_GREEDY;

const SLASH = 0x2f;

/** Go's error codes, worded as re2js words them, so both report a problem the same way. */
const ERR = {
  duplicateNamedCapture: "duplicate capture group name",
  invalidCharRange: "invalid character class range",
  invalidEscape: "invalid escape sequence",
  invalidNamedCapture: "invalid named capture",
  invalidPerlOp: "invalid or unsupported Perl syntax",
  invalidRepeatOp: "invalid nested repetition operator",
  invalidRepeatSize: "invalid repeat count",
  missingBracket: "missing closing ]",
  missingParen: "missing closing )",
  missingRepeatArgument: "missing argument to repetition operator",
  nestingDepth: "expression nests too deeply",
  trailingBackslash: "trailing backslash at end of expression",
  unexpectedParen: "unexpected )",
} as const;

/** Thrown inside the parser only, and always caught by `parseRe2Syntax`. */
class SyntaxFailure {
  constructor(readonly message: string) {}
}

function fail(code: string, expr?: string): never {
  throw new SyntaxFailure(
    expr ? `error parsing regexp: ${code}: \`${expr}\`` : `error parsing regexp: ${code}`,
  );
}

/** POSIX classes: whether each contains "/" (`[:^name:]` is the complement). */
const POSIX_SLASH = new Map<string, boolean>(
  Object.entries({
    alnum: false,
    alpha: false,
    ascii: true,
    blank: false,
    cntrl: false,
    digit: false,
    graph: true,
    lower: false,
    print: true,
    punct: true,
    space: false,
    upper: false,
    word: false,
    xdigit: false,
  }).flatMap(([name, slash]) => [
    [`[:${name}:]`, slash],
    [`[:^${name}:]`, !slash],
  ]),
);

/** `\d \s \w` do not contain "/"; their capitals do. */
const PERL_SLASH = new Map<string, boolean>([
  ["d", false],
  ["s", false],
  ["w", false],
  ["D", true],
  ["S", true],
  ["W", true],
]);

/**
 * The Unicode class names re2js 2.10 knows (its general categories, binary properties and scripts,
 * plus Any, Ascii, Assigned, Lc); a test checks each against the engine, names and "/" alike.
 */
const UNICODE_NAMES = new Set(
  (
    "Any Ascii Assigned Lc C Cc Cf Cn Co Cs L LC Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi " +
    "Po Ps S Sc Sk Sm So Z Zl Zp Zs ASCII_Hex_Digit Alphabetic Dash Emoji Emoji_Component Emoji_Modifier " +
    "Emoji_Modifier_Base Emoji_Presentation Extended_Pictographic Hex_Digit Lowercase Math Quotation_Mark " +
    "Terminal_Punctuation Uppercase White_Space " +
    "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali " +
    "Beria_Erfe Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian " +
    "Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan " +
    "Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic " +
    "Garay Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Gurung_Khema Han " +
    "Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited " +
    "Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi Kayah_Li " +
    "Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Kirat_Rai Lao Latin Lepcha Limbu Linear_A " +
    "Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi " +
    "Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro " +
    "Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong " +
    "Ogham Ol_Chiki Ol_Onal Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian " +
    "Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau " +
    "Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham Sidetic " +
    "SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Sunuwar Syloti_Nagri Syriac Tagalog " +
    "Tagbanwa Tai_Le Tai_Tham Tai_Viet Tai_Yo Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan " +
    "Tifinagh Tirhuta Todhri Tolong_Siki Toto Tulu_Tigalari Ugaritic Unknown Vai Vithkuqi Wancho " +
    "Warang_Citi Yezidi Yi Zanabazar_Square"
  ).split(" "),
);

/** The Unicode classes that contain "/" (U+002F is Po, punctuation, in the Common script). */
const UNICODE_SLASH = new Set(["Any", "Ascii", "Assigned", "P", "Po", "Common"]);

/** The names `\p{…}` accepts (exported so that a test can hold them against the engine). */
export const UNICODE_CLASS_NAMES: ReadonlySet<string> = UNICODE_NAMES;

/**
 * A node under construction, with what Go's parser would make of it, for the height limit: Go
 * merges adjacent literals into one node, keeps no node for `(?:…)` and turns an alternation of
 * single characters into one class.
 */
interface Built {
  readonly node: Node;
  /** Height of the tree Go would build. */
  readonly height: number;
  /** Go would hold a single literal string here; its case folding. */
  readonly literalFold: boolean | null;
  /** Go would hold one character or class here (its `isCharClass`). */
  readonly charLike: boolean;
  /** Go would hold a concatenation or alternation here, which it splices into an enclosing one. */
  readonly op: "concat" | "alternate" | undefined;
}

/** The whole pattern, or one open group. */
interface Frame {
  /** Index of the "(", -1 for the whole pattern. */
  readonly open: number;
  readonly capture: boolean;
  readonly name: string | undefined;
  /** The flags to restore at ")": `(?i)` inside a group ends with it. */
  readonly savedFlags: number;
  readonly contentStart: number;
  readonly branches: Built[];
  items: Built[];
  branchStart: number;
}

class Parser {
  private i = 0;
  private flags = ONE_LINE;
  private readonly frames: Frame[];
  private readonly names = new Set<string>();
  /** Start of the previous token when it was a repetition operator (Go refuses `a**`), else -1. */
  private lastRepeat = -1;
  /** Cached `indexOf(":]")` (-2: not searched yet), so `[[:[:[:…` stays linear. */
  private colonBracket = -2;
  private readonly surrogates: boolean;

  constructor(private readonly p: string) {
    this.frames = [this.frame(-1, false, undefined, 0)];
    this.surrogates = /[\uD800-\uDFFF]/.test(p);
  }

  parse(): Node {
    const p = this.p;
    while (this.i < p.length) {
      const start = this.i;
      let repeat = -1;
      switch (p[start]) {
        case "(":
          if (p[start + 1] === "?") this.perlGroup();
          else this.open(start, true, undefined, start + 1);
          break;
        case "|":
          this.verticalBar();
          break;
        case ")":
          this.close();
          break;
        case "^":
          this.assertion(this.flags & ONE_LINE ? "beginText" : "beginLine", 1);
          break;
        case "$":
          this.assertion(this.flags & ONE_LINE ? "endText" : "endLine", 1);
          break;
        case ".":
          this.push(
            { kind: "anyChar", matchesNewline: (this.flags & DOT_NL) !== 0, start, end: start + 1 },
            true,
          );
          this.i = start + 1;
          break;
        case "[":
          this.bracketClass();
          break;
        case "*":
          repeat = start;
          this.repeat(0, -1, false, start, start + 1);
          break;
        case "+":
          repeat = start;
          this.repeat(1, -1, false, start, start + 1);
          break;
        case "?":
          repeat = start;
          this.repeat(0, 1, false, start, start + 1);
          break;
        case "{": {
          const counts = this.repeatCounts(start);
          if (counts) {
            repeat = start;
            this.repeat(counts.min, counts.max, true, start, counts.end);
          } else {
            // Go: a "{" that does not open a valid repeat is a literal ("a{", "a{x}", "a{,2}").
            this.literal(0x7b, start, start + 1);
            this.i = start + 1;
          }
          break;
        }
        case "\\":
          this.backslash();
          break;
        default: {
          const c = p.codePointAt(start) ?? 0;
          this.literal(c, start, start + width(c));
          this.i = start + width(c);
        }
      }
      this.lastRepeat = repeat;
    }
    if (this.frames.length > 1) fail(ERR.missingParen, p);
    const top = this.frames[0];
    if (!top) fail(ERR.missingParen, p);
    return this.alternation(top, p.length).node;
  }

  private get top(): Frame {
    const frame = this.frames[this.frames.length - 1];
    if (!frame) fail(ERR.unexpectedParen, this.p);
    return frame;
  }

  private frame(open: number, capture: boolean, name: string | undefined, contentStart: number): Frame {
    return {
      open,
      capture,
      name,
      savedFlags: this.flags,
      contentStart,
      branches: [],
      items: [],
      branchStart: contentStart,
    };
  }

  private built(
    node: Node,
    height: number,
    literalFold: boolean | null,
    charLike: boolean,
    op?: "concat" | "alternate",
  ): Built {
    if (height > MAX_HEIGHT) fail(ERR.nestingDepth);
    return { node, height, literalFold, charLike, op };
  }

  private push(node: Node, charLike: boolean): void {
    this.top.items.push(this.built(node, 1, null, charLike));
  }

  private literal(codePoint: number, start: number, end: number): void {
    const foldCase = (this.flags & FOLD_CASE) !== 0;
    this.top.items.push(this.built({ kind: "literal", codePoint, foldCase, start, end }, 1, foldCase, true));
  }

  private assertion(assertion: Assertion, length: number): void {
    this.push({ kind: "emptyWidth", assertion, start: this.i, end: this.i + length }, false);
    this.i += length;
  }

  private chars(start: number, end: number): number {
    if (!this.surrogates) return end - start;
    let n = 0;
    for (let k = start; k < end; k += width(this.p.codePointAt(k) ?? 0)) n++;
    return n;
  }

  // --- groups and alternation ---

  private open(at: number, capture: boolean, name: string | undefined, contentStart: number): void {
    // Our own bound, for every kind of group: the tree is walked recursively.
    if (this.frames.length > MAX_HEIGHT) fail(ERR.nestingDepth);
    this.frames.push(this.frame(at, capture, name, contentStart));
    this.i = contentStart;
  }

  /** `(?P<name>`, `(?<name>`, `(?flags)`, `(?flags:`. */
  private perlGroup(): void {
    const p = this.p;
    const start = this.i;
    if (p.startsWith("(?P<", start) || p.startsWith("(?<", start)) {
      const begin = start + (p[start + 2] === "P" ? 4 : 3);
      const end = p.indexOf(">", start);
      if (end < 0) fail(ERR.invalidNamedCapture, p.slice(start));
      const name = p.slice(begin, end);
      if (!/^[A-Za-z0-9_]+$/.test(name)) fail(ERR.invalidNamedCapture, p.slice(start, end + 1));
      if (this.names.has(name)) fail(ERR.duplicateNamedCapture, name);
      this.names.add(name);
      this.open(start, true, name, end + 1);
      return;
    }
    let j = start + 2;
    let flags = this.flags;
    let sign = 1;
    let sawFlag = false;
    while (j < p.length) {
      const c = p[j];
      j++;
      if (c === "i" || c === "m" || c === "s" || c === "U") {
        // Under "-" the flags are inverted, so setting a bit clears it.
        if (c === "i") flags |= FOLD_CASE;
        else if (c === "m") flags &= ~ONE_LINE;
        else if (c === "s") flags |= DOT_NL;
        else flags |= NON_GREEDY;
        sawFlag = true;
      } else if (c === "-" && sign > 0) {
        sign = -1;
        flags = ~flags;
        sawFlag = false;
      } else if (c === ":" || c === ")") {
        if (sign < 0) {
          if (!sawFlag) break;
          flags = ~flags;
        }
        // `(?i:` restores the old flags at its ")"; `(?i)` lasts to the end of the enclosing group.
        if (c === ":") this.open(start, false, undefined, j);
        this.flags = flags & ALL_FLAGS;
        this.i = j;
        return;
      } else {
        // An astral character is two code units; the error shows it whole.
        if (c !== undefined && /[\uD800-\uDBFF]/.test(c) && j < p.length) j++;
        break;
      }
    }
    fail(ERR.invalidPerlOp, p.slice(start, j));
  }

  private verticalBar(): void {
    const frame = this.top;
    frame.branches.push(this.concat(frame, this.i));
    frame.items = [];
    frame.branchStart = this.i + 1;
    this.i++;
  }

  private close(): void {
    if (this.frames.length < 2) fail(ERR.unexpectedParen, this.p);
    const frame = this.top;
    const content = this.alternation(frame, this.i);
    this.frames.pop();
    this.flags = frame.savedFlags;
    const end = this.i + 1;
    const node: GroupNode = {
      kind: "group",
      capture: frame.capture,
      name: frame.name,
      sub: content.node,
      start: frame.open,
      end,
    };
    // Go keeps a node for a capture only.
    this.top.items.push(
      frame.capture
        ? this.built(node, content.height + 1, null, false)
        : this.built(node, content.height, content.literalFold, content.charLike, content.op),
    );
    this.i = end;
  }

  private concat(frame: Frame, end: number): Built {
    const items = frame.items;
    const [first] = items;
    if (!first) return this.built({ kind: "empty", start: frame.branchStart, end }, 1, null, false);
    if (items.length === 1) return first;
    // Go merges adjacent literals of the same case folding into one node.
    let nodes = 0;
    let height = 0;
    let previous: boolean | null = null;
    for (const item of items) {
      if (item.literalFold === null || item.literalFold !== previous) nodes++;
      previous = item.literalFold;
      // A concatenation inside one (from `(?:…)`) is spliced into it.
      height = Math.max(height, item.op === "concat" ? item.height - 1 : item.height);
    }
    const node: ConcatNode = {
      kind: "concat",
      subs: items.map((item) => item.node),
      start: frame.branchStart,
      end,
    };
    return nodes === 1
      ? this.built(node, 1, first.literalFold, false)
      : this.built(node, height + 1, null, false, "concat");
  }

  private alternation(frame: Frame, end: number): Built {
    const branches = [...frame.branches, this.concat(frame, end)];
    const [first] = branches;
    if (!first) fail(ERR.missingParen, this.p);
    if (branches.length === 1) return first;
    const node: AlternateNode = {
      kind: "alternate",
      subs: branches.map((b) => b.node),
      start: frame.contentStart,
      end,
    };
    // Go turns `a|b|[cd]` into one class.
    if (branches.every((b) => b.charLike)) return this.built(node, 1, null, true);
    // An alternation inside one (`a|(?:b|c)`) is spliced into it.
    let height = 0;
    for (const b of branches) height = Math.max(height, b.op === "alternate" ? b.height - 1 : b.height);
    return this.built(node, height + 1, null, false, "alternate");
  }

  // --- repetition ---

  /** `{n}`, `{n,}`, `{n,m}` at `start`, or undefined when the "{" is a literal. */
  private repeatCounts(start: number): { min: number; max: number; end: number } | undefined {
    const p = this.p;
    const lo = this.repeatCount(start + 1);
    if (!lo || lo.end >= p.length) return undefined;
    let j = lo.end;
    let max = lo.value;
    if (p[j] === ",") {
      j++;
      if (j >= p.length) return undefined;
      if (p[j] === "}") max = -1;
      else {
        const hi = this.repeatCount(j);
        if (!hi) return undefined;
        max = hi.value;
        j = hi.end;
      }
    }
    if (p[j] !== "}") return undefined;
    j++;
    const min = lo.value;
    if (min < 0 || min > MAX_REPEAT || max === -2 || max > MAX_REPEAT || (max >= 0 && min > max)) {
      fail(ERR.invalidRepeatSize, p.slice(start, j));
    }
    return { min, max, end: j };
  }

  /** Decimal digits at `j`: undefined for none or a leading zero (Go: a literal), -2 if too long. */
  private repeatCount(j: number): { value: number; end: number } | undefined {
    const p = this.p;
    let end = j;
    while (end < p.length && p.charCodeAt(end) >= 0x30 && p.charCodeAt(end) <= 0x39) end++;
    const digits = end - j;
    if (digits === 0 || (digits > 1 && p[j] === "0")) return undefined;
    return { value: digits > 8 ? -2 : Number(p.slice(j, end)), end };
  }

  private repeat(min: number, max: number, counted: boolean, opStart: number, opEnd: number): void {
    const p = this.p;
    let end = opEnd;
    let flags = this.flags;
    if (p[end] === "?") {
      end++;
      flags ^= NON_GREEDY;
    }
    if (this.lastRepeat >= 0) fail(ERR.invalidRepeatOp, p.slice(this.lastRepeat, end));
    const items = this.top.items;
    const sub = items.pop();
    if (!sub) fail(ERR.missingRepeatArgument, p.slice(opStart, end));
    const node: RepeatNode = {
      kind: "repeat",
      min,
      max,
      greedy: (flags & NON_GREEDY) === 0,
      counted,
      sub: sub.node,
      sourceLength: this.chars(sub.node.start, sub.node.end),
      start: sub.node.start,
      end,
    };
    items.push(this.built(node, sub.height + 1, null, false));
    // Go: nested counted repeats may not multiply past 1000 copies of the innermost thing.
    if (counted && (min >= 2 || max >= 2) && !repeatIsValid(node, MAX_REPEAT)) {
      fail(ERR.invalidRepeatSize, p.slice(opStart, end));
    }
    this.i = end;
  }

  // --- escapes and classes ---

  private backslash(): void {
    const p = this.p;
    const start = this.i;
    const assertion = BACKSLASH_ASSERTIONS.get(p[start + 1] ?? "");
    if (assertion) {
      this.assertion(assertion, 2);
      return;
    }
    // Go's "any byte", which it does not support.
    if (p[start + 1] === "C") fail(ERR.invalidEscape, "\\C");
    if (p[start + 1] === "Q") {
      // Everything up to `\E`, or to the end, is literal.
      const close = p.indexOf("\\E", start + 2);
      const stop = close < 0 ? p.length : close;
      for (let k = start + 2; k < stop; k += width(p.codePointAt(k) ?? 0)) {
        const c = p.codePointAt(k) ?? 0;
        this.literal(c, k, k + width(c));
      }
      this.i = close < 0 ? p.length : close + 2;
      return;
    }
    const foldCase = (this.flags & FOLD_CASE) !== 0;
    const next = p[start + 1];
    if (next === "p" || next === "P") {
      const u = this.unicodeClass(start);
      this.push(
        { kind: "charClass", negated: u.negated, canMatchSlash: u.slash, foldCase, start, end: u.end },
        true,
      );
      this.i = u.end;
      return;
    }
    const perl = next === undefined ? undefined : PERL_SLASH.get(next);
    if (perl !== undefined) {
      this.push(
        { kind: "charClass", negated: perl, canMatchSlash: perl, foldCase, start, end: start + 2 },
        true,
      );
      this.i = start + 2;
      return;
    }
    const single = this.escape(start);
    this.literal(single.codePoint, start, single.end);
    this.i = single.end;
  }

  /** An escape standing for one character, at `start` (the backslash). */
  private escape(start: number): { codePoint: number; end: number } {
    const p = this.p;
    let j = start + 1;
    if (j >= p.length) fail(ERR.trailingBackslash);
    const next = (): number => {
      const c = p.codePointAt(j) ?? 0;
      j += width(c);
      return c;
    };
    const invalid = (): never => fail(ERR.invalidEscape, p.slice(start, j));
    const c = next();
    // `\1`–`\7` alone would be backreferences, which RE2 has not; with a second digit, octal.
    if (c >= 0x31 && c <= 0x37 && !isOctal(p.charCodeAt(j))) invalid();
    if (c >= 0x30 && c <= 0x37) {
      let r = c - 0x30;
      for (let k = 1; k < 3 && isOctal(p.charCodeAt(j)); k++) r = r * 8 + (next() - 0x30);
      return { codePoint: r, end: j };
    }
    if (c === 0x78 /* x */) {
      if (j >= p.length) invalid();
      let d = next();
      if (d === 0x7b /* { */) {
        let digits = 0;
        let r = 0;
        for (;;) {
          if (j >= p.length) invalid();
          d = next();
          if (d === 0x7d /* } */) break;
          const v = unhex(d);
          if (v < 0) invalid();
          r = r * 16 + v;
          if (r > 0x10ffff) invalid();
          digits++;
        }
        if (digits === 0) invalid();
        return { codePoint: r, end: j };
      }
      const x = unhex(d);
      if (j >= p.length) invalid();
      const y = unhex(next());
      if (x < 0 || y < 0) invalid();
      return { codePoint: x * 16 + y, end: j };
    }
    const control = CONTROL_ESCAPES.get(c);
    if (control !== undefined) return { codePoint: control, end: j };
    // Escaped punctuation stands for itself; an escaped letter or digit means nothing in RE2.
    if (c <= 0x7f && !isAlnum(c)) return { codePoint: c, end: j };
    return invalid();
  }

  /** `\pL`, `\p{Name}`, `\p{^Name}`, `\P…` at `start`. */
  private unicodeClass(start: number): { negated: boolean; slash: boolean; end: number } {
    const p = this.p;
    let negated = p[start + 1] === "P";
    let j = start + 2;
    if (j >= p.length) fail(ERR.invalidCharRange, p.slice(start));
    const c = p.codePointAt(j) ?? 0;
    j += width(c);
    let name: string;
    if (c !== 0x7b) name = String.fromCodePoint(c);
    else {
      const close = p.indexOf("}", j);
      if (close < 0) fail(ERR.invalidCharRange, p.slice(start));
      name = p.slice(j, close);
      j = close + 1;
    }
    if (name.startsWith("^")) {
      negated = !negated;
      name = name.slice(1);
    }
    if (!UNICODE_NAMES.has(name)) fail(ERR.invalidCharRange, p.slice(start, j));
    const contains = UNICODE_SLASH.has(name);
    return { negated, slash: negated ? !contains : contains, end: j };
  }

  private bracketClass(): void {
    const p = this.p;
    const start = this.i;
    let j = start + 1;
    let negated = false;
    if (p[j] === "^") {
      negated = true;
      j++;
    }
    let contains = false;
    // "]" right after "[" or "[^" is a literal.
    let first = true;
    while (j >= p.length || p[j] !== "]" || first) {
      first = false;
      if (p.startsWith("[:", j)) {
        // As re2js: ":]" is looked for from the "[" on, even past the class's end.
        const close = this.findColonBracket(j);
        if (close >= 0) {
          const name = p.slice(j, close + 2);
          const slash = POSIX_SLASH.get(name);
          if (slash === undefined) fail(ERR.invalidCharRange, name);
          contains ||= slash;
          j = close + 2;
          continue;
        }
      }
      if (p[j] === "\\") {
        const next = p[j + 1];
        if (next === "p" || next === "P") {
          const u = this.unicodeClass(j);
          contains ||= u.slash;
          j = u.end;
          continue;
        }
        const perl = next === undefined ? undefined : PERL_SLASH.get(next);
        if (perl !== undefined) {
          contains ||= perl;
          j += 2;
          continue;
        }
      }
      const rangeStart = j;
      const lo = this.classChar(j, start);
      j = lo.end;
      let hi = lo.codePoint;
      // "a-" before "]" is "a" and "-".
      if (p[j] === "-" && p[j + 1] !== "]") {
        const high = this.classChar(j + 1, start);
        j = high.end;
        hi = high.codePoint;
        if (hi < lo.codePoint) fail(ERR.invalidCharRange, p.slice(rangeStart, j));
      }
      if (lo.codePoint <= SLASH && SLASH <= hi) contains = true;
    }
    j++;
    const foldCase = (this.flags & FOLD_CASE) !== 0;
    this.push(
      { kind: "charClass", negated, canMatchSlash: negated ? !contains : contains, foldCase, start, end: j },
      true,
    );
    this.i = j;
  }

  private classChar(j: number, classStart: number): { codePoint: number; end: number } {
    const p = this.p;
    if (j >= p.length) fail(ERR.missingBracket, p.slice(classStart));
    if (p[j] === "\\") return this.escape(j);
    const c = p.codePointAt(j) ?? 0;
    return { codePoint: c, end: j + width(c) };
  }

  private findColonBracket(from: number): number {
    if (this.colonBracket === -2 || (this.colonBracket >= 0 && this.colonBracket < from)) {
      this.colonBracket = this.p.indexOf(":]", from);
    }
    return this.colonBracket;
  }
}

/** Go's repeatIsValid: the counts of nested counted repeats multiply to at most `n`. */
function repeatIsValid(node: Node, n: number): boolean {
  let limit = n;
  if (node.kind === "repeat" && node.counted) {
    let m = node.max;
    if (m === 0) return true;
    if (m < 0) m = node.min;
    if (m > limit) return false;
    if (m > 0) limit = Math.trunc(limit / m);
  }
  return children(node).every((sub) => repeatIsValid(sub, limit));
}

const BACKSLASH_ASSERTIONS = new Map<string, Assertion>([
  ["A", "beginText"],
  ["b", "wordBoundary"],
  ["B", "noWordBoundary"],
  ["z", "endText"],
]);

const CONTROL_ESCAPES = new Map<number, number>([
  [0x61 /* a */, 0x07],
  [0x66 /* f */, 0x0c],
  [0x6e /* n */, 0x0a],
  [0x72 /* r */, 0x0d],
  [0x74 /* t */, 0x09],
  [0x76 /* v */, 0x0b],
]);

function width(codePoint: number): number {
  return codePoint > 0xffff ? 2 : 1;
}

function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function unhex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

// ---------------------------------------------------------------------------------------------------
// The host-boundary rule, on the tree as Go factors it.

interface Context {
  /** Under a repetition other than `{1}`. */
  readonly repeated: boolean;
  /** Inside an alternation that Go's factoring leaves standing. */
  readonly alternated: boolean;
}

/**
 * A concatenation flattened as Go's parser flattens it: literals one by one (Go merges runs of them,
 * which is what its prefix factoring compares), `(?:…)` dissolved, alternations already factored.
 */
type Atom =
  | { readonly t: "literal"; readonly node: LiteralNode }
  | { readonly t: "empty" }
  | { readonly t: "node"; readonly node: Node }
  /** `key` when Go would have made it one class (all branches single characters). */
  | {
      readonly t: "alternation";
      readonly branches: readonly (readonly Atom[])[];
      readonly key: string | undefined;
    };

const EMPTY_ATOM: Atom = { t: "empty" };

class BoundaryCheck {
  constructor(private readonly pattern: string) {}

  node(node: Node, context: Context): string | undefined {
    switch (node.kind) {
      case "literal":
        return this.slash(node, context);
      case "anyChar":
        return PROBLEM_DOT;
      case "charClass":
        return node.canMatchSlash ? PROBLEM_CLASS : undefined;
      case "emptyWidth":
      case "empty":
        return undefined;
      case "repeat":
        // Go's parser keeps `x{1}`, but it repeats nothing.
        return this.node(node.sub, {
          repeated: context.repeated || !(node.min === 1 && node.max === 1),
          alternated: context.alternated,
        });
      case "group":
        if (node.capture) return this.node(node.sub, context);
        return this.atoms(this.flatten(node), context);
      default:
        return this.atoms(this.flatten(node), context);
    }
  }

  private slash(node: LiteralNode, context: Context): string | undefined {
    if (node.codePoint !== SLASH) return undefined;
    if (context.repeated) return PROBLEM_REPEATED;
    if (context.alternated) return PROBLEM_ALTERNATED;
    return undefined;
  }

  private atoms(atoms: readonly Atom[], context: Context): string | undefined {
    for (const atom of atoms) {
      let problem: string | undefined;
      if (atom.t === "literal") problem = this.slash(atom.node, context);
      else if (atom.t === "node") problem = this.node(atom.node, context);
      else if (atom.t === "alternation") {
        const inside = { repeated: context.repeated, alternated: true };
        for (const branch of atom.branches) {
          problem = this.atoms(branch, inside);
          if (problem) break;
        }
      }
      if (problem) return problem;
    }
    return undefined;
  }

  private flatten(node: Node, out: Atom[] = []): Atom[] {
    switch (node.kind) {
      case "literal":
        out.push({ t: "literal", node });
        break;
      case "concat":
        for (const sub of node.subs) this.flatten(sub, out);
        break;
      case "group":
        if (node.capture) out.push({ t: "node", node });
        else this.flatten(node.sub, out);
        break;
      case "alternate":
        this.factor(
          node.subs.map((sub) => this.flatten(sub)),
          out,
        );
        break;
      case "empty":
        // Go keeps an empty match in a concatenation, where it stops prefix factoring.
        out.push(EMPTY_ATOM);
        break;
      default:
        out.push({ t: "node", node });
    }
    return out;
  }

  /**
   * Go's factoring of an alternation, as far as it can move a "/" out of it: while all the branches
   * start with the same literal characters (same case folding), or the same single class, those
   * leave the alternation, and the rest is factored again. Go also factors runs of consecutive
   * branches, but an alternation with two or more runs still stands, and then everything in it is
   * inside an alternation, which is all this rule asks. Iterative: the prefix can be long.
   */
  private factor(branches: readonly Atom[][], out: Atom[]): void {
    let live = branches.map((atoms) => ({ atoms, from: 0 }));
    for (;;) {
      // Go collapses repeated empty branches.
      live = live.filter((b, k) => !(k > 0 && isEmpty(b) && isEmpty(live[k - 1])));
      const [first] = live;
      if (!first) return;
      if (live.length === 1) {
        for (let k = first.from; k < first.atoms.length; k++) out.push(first.atoms[k] ?? EMPTY_ATOM);
        return;
      }
      let shared = commonLiteralPrefix(live);
      if (shared === 0 && this.commonLeader(live)) shared = 1;
      if (shared === 0) {
        const rest = live.map((b) => b.atoms.slice(b.from));
        out.push({ t: "alternation", branches: rest, key: this.classKey(rest) });
        return;
      }
      for (let k = 0; k < shared; k++) out.push(first.atoms[first.from + k] ?? EMPTY_ATOM);
      // A branch that was all prefix is left an empty match, as in Go.
      live = live.map((b) =>
        b.from + shared >= b.atoms.length
          ? { atoms: [EMPTY_ATOM], from: 0 }
          : { atoms: b.atoms, from: b.from + shared },
      );
    }
  }

  /** Go's second factoring round: every branch starts with the same class, `.` or `c{n}`. */
  private commonLeader(live: readonly { atoms: readonly Atom[]; from: number }[]): boolean {
    let key: string | undefined;
    for (const b of live) {
      const k = this.leaderKey(b.atoms[b.from]);
      if (k === undefined || (key !== undefined && k !== key)) return false;
      key = k;
    }
    return key !== undefined;
  }

  /** A key equal for equal single-character leaders (same source and flags: stricter than Go). */
  private leaderKey(atom: Atom | undefined): string | undefined {
    if (!atom) return undefined;
    if (atom.t === "alternation") return atom.key;
    if (atom.t !== "node") return undefined;
    const node = atom.node;
    if (node.kind === "repeat") {
      if (!node.counted || node.min !== node.max) return undefined;
      const sub =
        node.sub.kind === "literal" ? literalKey(node.sub) : this.leaderKey({ t: "node", node: node.sub });
      return sub === undefined ? undefined : `r${node.min}${node.greedy ? "g" : "l"}(${sub})`;
    }
    return this.charKey(node);
  }

  private charKey(node: Node): string | undefined {
    if (node.kind === "charClass")
      return `c${node.foldCase ? "i" : ""}:${this.pattern.slice(node.start, node.end)}`;
    if (node.kind === "anyChar") return node.matchesNewline ? "s." : ".";
    return undefined;
  }

  /** Go makes an alternation of single characters one class: a key for it, else undefined. */
  private classKey(branches: readonly (readonly Atom[])[]): string | undefined {
    const keys: string[] = [];
    for (const branch of branches) {
      const [atom] = branch;
      if (branch.length !== 1 || !atom) return undefined;
      const key =
        atom.t === "literal"
          ? literalKey(atom.node)
          : atom.t === "alternation"
            ? atom.key
            : atom.t === "node"
              ? this.charKey(atom.node)
              : undefined;
      if (key === undefined) return undefined;
      keys.push(key);
    }
    return `[${keys.join("|")}]`;
  }
}

function isEmpty(b: { atoms: readonly Atom[]; from: number } | undefined): boolean {
  return b !== undefined && b.atoms.length - b.from === 1 && b.atoms[b.from]?.t === "empty";
}

/** How many leading literal characters all branches share (one case folding, as Go's one node). */
function commonLiteralPrefix(live: readonly { atoms: readonly Atom[]; from: number }[]): number {
  const [first, ...others] = live;
  const lead = first?.atoms[first.from];
  if (!first || lead?.t !== "literal") return 0;
  const fold = lead.node.foldCase;
  for (let n = 0; ; n++) {
    const a = first.atoms[first.from + n];
    if (a?.t !== "literal" || a.node.foldCase !== fold) return n;
    const key = foldKey(a.node);
    for (const b of others) {
      const x = b.atoms[b.from + n];
      if (x?.t !== "literal" || x.node.foldCase !== fold || foldKey(x.node) !== key) return n;
    }
  }
}

function literalKey(node: LiteralNode): string {
  return `l${node.foldCase ? "i" : ""}${foldKey(node)}`;
}

/**
 * The character as Go compares it: under `(?i)`, its lower case when that is one character (Go
 * compares the smallest of the case orbit; the two agree, or this one is stricter, as for "ſ").
 */
function foldKey(node: LiteralNode): number {
  if (!node.foldCase) return node.codePoint;
  const lower = String.fromCodePoint(node.codePoint).toLowerCase();
  const c = lower.codePointAt(0) ?? node.codePoint;
  return lower.length === width(c) ? c : node.codePoint;
}

/**
 * src/trust/re2-syntax.ts: the RE2 (Go regexp/syntax, Perl flags) parse tree, the organization's
 * host-boundary rule for issuer_patterns, and the repetition cost. re2js is the oracle throughout:
 * whatever the parser accepts or refuses, and whatever it says a class can match, the engine agrees.
 */
import { RE2JS } from "re2js";
import { describe, expect, it } from "vitest";
import {
  hostBoundaryProblem,
  type Node,
  parseRe2,
  parseRe2Syntax,
  repetitionCost,
  UNICODE_CLASS_NAMES,
} from "../../../src/trust/re2-syntax";

const engineAccepts = (pattern: string): boolean => {
  try {
    RE2JS.compile(pattern);
    return true;
  } catch {
    return false;
  }
};

const engineMatches = (pattern: string, input: string): boolean => RE2JS.compile(pattern).matches(input);

function tree(pattern: string): Node {
  const parsed = parseRe2(pattern);
  if (!parsed.ok) throw new Error(`${pattern}: ${parsed.error}`);
  return parsed.node;
}

function errorOf(pattern: string): string {
  const parsed = parseRe2Syntax(pattern);
  return parsed.ok ? "(accepted)" : parsed.error;
}

function kids(node: Node): readonly Node[] {
  if (node.kind === "group" || node.kind === "repeat") return [node.sub];
  if (node.kind === "concat" || node.kind === "alternate") return node.subs;
  return [];
}

function* walk(node: Node): Generator<Node> {
  yield node;
  for (const sub of kids(node)) yield* walk(sub);
}

/** A compact picture of a tree, so shapes read as one line. */
function show(node: Node): string {
  switch (node.kind) {
    case "literal":
      return `'${String.fromCodePoint(node.codePoint)}'${node.foldCase ? "i" : ""}`;
    case "anyChar":
      return node.matchesNewline ? ".s" : ".";
    case "charClass":
      return node.canMatchSlash ? "class(/)" : "class";
    case "emptyWidth":
      return node.assertion;
    case "empty":
      return "empty";
    case "group":
      return `${node.capture ? `cap${node.name ? `<${node.name}>` : ""}` : "grp"}(${show(node.sub)})`;
    case "concat":
      return `cat(${node.subs.map(show).join(",")})`;
    case "alternate":
      return `alt(${node.subs.map(show).join(",")})`;
    case "repeat": {
      const op = node.counted
        ? `{${node.min},${node.max}}`
        : node.max === 1
          ? "quest"
          : node.min === 0
            ? "star"
            : "plus";
      return `${op}${node.greedy ? "" : "lazy"}(${show(node.sub)})`;
    }
  }
}

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomPatterns(seed: number, count: number, alphabet: string, maxLength: number): string[] {
  const next = random(seed);
  const chars = [...alphabet];
  return Array.from({ length: count }, () => {
    let s = "";
    const n = Math.floor(next() * (maxLength + 1));
    for (let k = 0; k < n; k++) s += chars[Math.floor(next() * chars.length)];
    return s;
  });
}

describe("parseRe2: the tree as written", () => {
  it.each([
    ["abc", "cat('a','b','c')"],
    ["a.b", "cat('a',.,'b')"],
    ["(?s).", ".s"],
    ["a|b|", "alt('a','b',empty)"],
    ["", "empty"],
    ["()", "cap(empty)"],
    ["(a)(?:b)(?P<x>c)(?<y>d)", "cat(cap('a'),grp('b'),cap<x>('c'),cap<y>('d'))"],
    ["^a$", "cat(beginText,'a',endText)"],
    ["(?m)^a$", "cat(beginLine,'a',endLine)"],
    ["\\Aa\\z\\b\\B", "cat(beginText,'a',endText,wordBoundary,noWordBoundary)"],
    ["ab*", "cat('a',star('b'))"],
    ["a+?b??c*?", "cat(pluslazy('a'),questlazy('b'),starlazy('c'))"],
    ["(?U)a*b*?", "cat(starlazy('a'),star('b'))"],
    ["a{2}b{2,}c{2,5}d{0}", "cat({2,2}('a'),{2,-1}('b'),{2,5}('c'),{0,0}('d'))"],
    ["a{2}?", "{2,2}lazy('a')"],
    ["(?i)ab", "cat('a'i,'b'i)"],
    ["a(?i:b)c", "cat('a',grp('b'i),'c')"],
    ["(a(?i)b)c", "cat(cap(cat('a','b'i)),'c')"],
    ["(?i)a(?-i)b", "cat('a'i,'b')"],
    ["a(?i)*", "star('a')"],
    ["^*", "star(beginText)"],
    ["a*\\Q\\E*", "star(star('a'))"],
    ["(?:a|b)c", "cat(grp(alt('a','b')),'c')"],
    ["[a-z]\\d\\S\\pL\\P{Po}", "cat(class,class,class(/),class,class)"],
  ])("%s → %s", (pattern, picture) => {
    expect(show(tree(pattern))).toBe(picture);
  });

  it.each([
    ["\\x2F", 0x2f],
    ["\\x2f", 0x2f],
    ["\\x{2F}", 0x2f],
    ["\\x{0000002f}", 0x2f],
    ["\\057", 0x2f],
    ["\\0", 0],
    ["\\12", 0o12],
    ["\\n", 10],
    ["\\t", 9],
    ["\\f", 12],
    ["\\r", 13],
    ["\\v", 11],
    ["\\a", 7],
    ["\\.", 0x2e],
    ["\\/", 0x2f],
    ["\\_", 0x5f],
    ["\\ ", 0x20],
    ["\\x{1F600}", 0x1f600],
    ["\u{1F600}", 0x1f600],
  ])("the escape %s is the one character %i, the whole escape its span", (pattern, codePoint) => {
    expect(tree(pattern)).toEqual({
      kind: "literal",
      codePoint,
      foldCase: false,
      start: 0,
      end: pattern.length,
    });
    expect(engineMatches(pattern, String.fromCodePoint(codePoint))).toBe(true);
  });

  it("reads \\08 as \\0 then 8, \\1011 as \\101 then 1 (octal: at most three digits)", () => {
    expect(show(tree("\\08"))).toBe(`cat('\0','8')`);
    expect(show(tree("\\1011"))).toBe("cat('A','1')");
  });

  it("gives every node its source span", () => {
    const pattern = "x(?P<h>[a-z]+|\\d{2,3})*?\\Q.*\\E$";
    const node = tree(pattern);
    const spans = [...walk(node)].map((n) => `${n.kind}:${pattern.slice(n.start, n.end)}`);
    expect(spans).toEqual([
      `concat:${pattern}`,
      "literal:x",
      "repeat:(?P<h>[a-z]+|\\d{2,3})*?",
      "group:(?P<h>[a-z]+|\\d{2,3})",
      "alternate:[a-z]+|\\d{2,3}",
      "repeat:[a-z]+",
      "charClass:[a-z]",
      "repeat:\\d{2,3}",
      "charClass:\\d",
      "literal:.",
      "literal:*",
      "emptyWidth:$",
    ]);
    const repeat = [...walk(node)].find((n) => n.kind === "repeat" && n.counted);
    expect(repeat).toMatchObject({ min: 2, max: 3, sourceLength: 2 });
  });

  it("reads \\Q…\\E as literals, to the end when \\E is missing", () => {
    expect(show(tree("\\Qa|*\\Eb"))).toBe("cat('a','|','*','b')");
    expect(show(tree("a\\Q(x"))).toBe("cat('a','(','x')");
    expect(show(tree("\\Q"))).toBe("empty");
  });

  it.each(["a{", "a{x}", "a{,2}", "a{01}", "{", "x{2,", "x{2,3", "{}", "a{1,x}", "a{99999999999"])(
    "reads the %s that opens no valid repeat as a literal, as Go does",
    (pattern) => {
      const node = tree(pattern);
      expect([...walk(node)].some((n) => n.kind === "repeat")).toBe(false);
      expect([...walk(node)].some((n) => n.kind === "literal" && n.codePoint === 0x7b)).toBe(true);
      expect(engineMatches(pattern, pattern)).toBe(true);
    },
  );
});

describe("classes and whether they can match '/'", () => {
  it.each([
    ["[a-z0-9-]", false],
    ["[^a]", true],
    ["[^\\n]", true],
    ["[.-9]", true],
    ["[\\x2F]", true],
    ["[/]", true],
    ["[^/]", false],
    ["[^\\x00-\\x{10FFFF}]", false],
    ["[]a]", false],
    ["[^]a]", true],
    ["[a-]", false],
    ["[--/]", true],
    ["[\\d\\D]", true],
    ["[^\\d\\D]", false],
    ["[\\w]", false],
    ["[^\\W]", false],
    ["[[:ascii:]]", true],
    ["[[:punct:]]", true],
    ["[[:graph:]]", true],
    ["[[:print:]]", true],
    ["[[:alpha:]]", false],
    ["[[:^alpha:]]", true],
    ["[^[:^punct:]]", true],
    ["[\\pP]", true],
    ["[^\\pL]", true],
    ["\\d", false],
    ["\\D", true],
    ["\\s", false],
    ["\\S", true],
    ["\\w", false],
    ["\\W", true],
    ["\\pP", true],
    ["\\p{Po}", true],
    ["\\p{Pd}", false],
    ["\\pL", false],
    ["\\PL", true],
    ["\\p{^L}", true],
    ["\\P{^Po}", true],
    ["\\P{Po}", false],
    ["\\p{Greek}", false],
    ["\\p{Common}", true],
    ["\\p{Any}", true],
    ["(?i)[^k]", true],
    ["(?i)[a-z]", false],
  ])("%s: %s", (pattern, slash) => {
    const node = [...walk(tree(pattern))].find((n) => n.kind === "charClass");
    expect(node).toMatchObject({ kind: "charClass", canMatchSlash: slash });
    expect(engineMatches(pattern, "/")).toBe(slash);
  });

  it("knows each Unicode class name the engine knows, and whether it holds '/'", () => {
    expect(UNICODE_CLASS_NAMES.size).toBeGreaterThan(200);
    for (const name of UNICODE_CLASS_NAMES) {
      for (const pattern of [`\\p{${name}}`, `\\P{${name}}`, `(?i)\\p{${name}}`, `[^\\p{${name}}]`]) {
        const node = [...walk(tree(pattern))].find((n) => n.kind === "charClass");
        expect(node?.kind === "charClass" && node.canMatchSlash, pattern).toBe(engineMatches(pattern, "/"));
      }
    }
  });

  it.each(["\\p{Foo}", "\\p{any}", "\\p{L&}", "\\p{}", "\\pX", "\\p", "\\P", "\\p{L", "[\\p{Foo}]", "\\p^"])(
    "refuses the unknown Unicode class %s, as the engine does",
    (pattern) => {
      expect(errorOf(pattern)).toMatch(/^error parsing regexp: invalid character class range/);
      expect(engineAccepts(pattern)).toBe(false);
    },
  );

  it("knows every POSIX class, both ways, as the engine does", () => {
    const names = "alnum alpha ascii blank cntrl digit graph lower print punct space upper word xdigit";
    for (const name of names.split(" ")) {
      for (const pattern of [`[[:${name}:]]`, `[[:^${name}:]]`]) {
        const node = tree(pattern);
        expect(node.kind === "charClass" && node.canMatchSlash, pattern).toBe(engineMatches(pattern, "/"));
      }
    }
    expect(errorOf("[[:foo:]]")).toMatch(/invalid character class range: `\[:foo:\]`/);
  });
});

describe("errors, as Go's parser reports them", () => {
  it.each([
    ["(", "missing closing )"],
    ["(?i:a", "missing closing )"],
    ["a)", "unexpected )"],
    ["token\\.example\\.com)|(", "unexpected )"],
    ["[", "missing closing ]"],
    ["[a", "missing closing ]"],
    ["[]", "missing closing ]"],
    ["[a-", "missing closing ]"],
    ["[[:alpha:]", "missing closing ]"],
    ["[z-a]", "invalid character class range"],
    ["[[:]", "invalid character class range"],
    ["\\", "trailing backslash at end of expression"],
    ["a\\", "trailing backslash at end of expression"],
    ["\\C", "invalid escape sequence"],
    ["\\Z", "invalid escape sequence"],
    ["\\1", "invalid escape sequence"],
    ["\\8", "invalid escape sequence"],
    ["\\x", "invalid escape sequence"],
    ["\\x1", "invalid escape sequence"],
    ["\\xg1", "invalid escape sequence"],
    ["\\x{}", "invalid escape sequence"],
    ["\\x{110000}", "invalid escape sequence"],
    ["\\x{2F", "invalid escape sequence"],
    ["\\é", "invalid escape sequence"],
    ["[\\b]", "invalid escape sequence"],
    ["[\\Q]", "invalid escape sequence"],
    ["*", "missing argument to repetition operator"],
    ["(*)", "missing argument to repetition operator"],
    ["a|*", "missing argument to repetition operator"],
    ["(?i)*", "missing argument to repetition operator"],
    ["a**", "invalid nested repetition operator"],
    ["a*+", "invalid nested repetition operator"],
    ["a{2}{3}", "invalid nested repetition operator"],
    ["a{2}??", "invalid nested repetition operator"],
    ["a{1001}", "invalid repeat count"],
    ["a{0,1001}", "invalid repeat count"],
    ["a{2,1}", "invalid repeat count"],
    ["a{99999999}", "invalid repeat count"],
    ["(?:x{1000}){2}", "invalid repeat count"],
    ["(?:(?:x{10}){10}){11}", "invalid repeat count"],
    ["(?P<", "invalid named capture"],
    ["(?<", "invalid named capture"],
    ["(?P<>x)", "invalid named capture"],
    ["(?P<a-b>x)", "invalid named capture"],
    ["(?<=a)", "invalid named capture"],
    ["(?P<n>a)(?P<n>b)", "duplicate capture group name"],
    ["(?P=n)", "invalid or unsupported Perl syntax"],
    ["(?P", "invalid or unsupported Perl syntax"],
    ["(?-)", "invalid or unsupported Perl syntax"],
    ["(?i-)", "invalid or unsupported Perl syntax"],
    ["(?x)", "invalid or unsupported Perl syntax"],
    ["(?i", "invalid or unsupported Perl syntax"],
    ["(?--i)", "invalid or unsupported Perl syntax"],
  ])("refuses %s: %s", (pattern, code) => {
    expect(errorOf(pattern).startsWith(`error parsing regexp: ${code}`)).toBe(true);
    expect(parseRe2(pattern).ok).toBe(false);
    expect(engineAccepts(pattern)).toBe(false);
  });

  it.each([
    "(?)",
    "(?i)",
    "(?i-s:a)",
    "(?-i)a",
    "[]a]",
    "[^]a]",
    "[a-]",
    "[-a]",
    "[a-b-c]",
    "x{0}",
    "x{1000}",
    "x{0,1000}",
    "(?:x{500}){2}",
    "(?:(?:x{10}){10}){10}",
    "(?:(?:a{1000}){0}){1000}",
    "(?:a{1,}){1000}",
    "(|)",
    "a||b",
    "\\Q\\E",
    "\\z\\A",
    "a\u{1F600}{2}",
    "[\u{1F600}-\u{1F601}]",
    "\\x{D800}",
    "[[:word:]]",
    "\\p{Lc}",
    "\\p{Assigned}",
    "\\pN",
  ])("accepts %s, as the engine does", (pattern) => {
    expect(parseRe2Syntax(pattern).ok).toBe(true);
    expect(parseRe2(pattern).ok).toBe(true);
    expect(engineAccepts(pattern)).toBe(true);
  });

  it("never names a pattern it was not given: errors quote the offending piece, as re2js does", () => {
    expect(errorOf("ab\\C")).toBe("error parsing regexp: invalid escape sequence: `\\C`");
    expect(errorOf("a{1001}")).toBe("error parsing regexp: invalid repeat count: `{1001}`");
    expect(errorOf("x**")).toBe("error parsing regexp: invalid nested repetition operator: `**`");
  });
});

describe("limits: nesting and size", () => {
  const nest = (open: string, n: number, close = ")") => `${open.repeat(n)}a${close.repeat(n)}`;

  it("accepts 999 nested capture groups and refuses 1000, with the engine (Go's tree height 1000)", () => {
    expect(parseRe2Syntax(nest("(", 999)).ok).toBe(true);
    expect(engineAccepts(nest("(", 999))).toBe(true);
    expect(errorOf(nest("(", 1000))).toBe("error parsing regexp: expression nests too deeply");
    expect(engineAccepts(nest("(", 1000))).toBe(false);
  });

  it("refuses stacked repetitions past the height limit without any group (a*\\Q\\E*…)", () => {
    expect(parseRe2(`a${"*\\Q\\E".repeat(998)}`).ok).toBe(true);
    expect(errorOf(`a${"*\\Q\\E".repeat(1000)}`)).toBe("error parsing regexp: expression nests too deeply");
    expect(engineAccepts(`a${"*\\Q\\E".repeat(1000)}`)).toBe(false);
  });

  it("accepts 1000 nested non-capturing groups; refuses 1001, which Go would accept (documented divergence)", () => {
    expect(parseRe2(nest("(?:", 1000)).ok).toBe(true);
    expect(errorOf(nest("(?:", 1001))).toBe("error parsing regexp: expression nests too deeply");
    expect(engineAccepts(nest("(?:", 1001))).toBe(true);
  });

  it("leaves 'expression too large' to the engine: parseRe2 reports it", () => {
    const big = `(?:${"a".repeat(1400)}){1000}`;
    expect(parseRe2Syntax(big).ok).toBe(true);
    expect(parseRe2(big)).toEqual({ ok: false, error: "error parsing regexp: expression too large" });
  });
});

describe("hostile input: every failure is a result", () => {
  /**
   * "same": the engine decides the same. "ours": only we refuse (Go accepts non-capturing groups
   * nested past 1000). "unasked": we refuse, and the engine is not asked because it is quadratic
   * there (re2js looks for ":]" from every "[:").
   */
  const HOSTILE: [string, string, ("same" | "ours" | "unasked")?][] = [
    ["10,000 nested (", "(".repeat(10_000)],
    ["10,000 nested ( closed", `${"(".repeat(10_000)}a${")".repeat(10_000)}`],
    ["10,000 nested (?:", `${"(?:".repeat(10_000)}a${")".repeat(10_000)}`, "ours"],
    ["10,000 nested (?i:", `${"(?i:".repeat(10_000)}a${")".repeat(10_000)}`, "ours"],
    ["10,000 ) alone", ")".repeat(10_000)],
    ["100 KB of a|", "a|".repeat(50_000)],
    ["100 KB of ab|", "ab|".repeat(33_000)],
    ["100 KB of https://x/|", "https://x/|".repeat(9_000)],
    ["100 KB of one literal", "a/".repeat(50_000)],
    ["100 KB of [[:", `[${"[:".repeat(50_000)}`, "unasked"],
    ["100 KB of [[: then :]", `[${"[:".repeat(50_000)}:]`],
    ["100 KB of [", "[".repeat(100_000)],
    ["100 KB of \\", "\\".repeat(100_001)],
    ["100 KB of (?P<", "(?P<".repeat(25_000)],
    ["100 KB of \\p{", "\\p{".repeat(33_000)],
    ["100 KB of \\x{0", `\\x{${"0".repeat(100_000)}`],
    ["100 KB of a{", "a{".repeat(50_000)],
    ["100 KB of {1,", "a{1,".repeat(25_000)],
    ["100 KB of a*\\Q\\E", `a${"*\\Q\\E".repeat(20_000)}`],
    ["100 KB of (?:a{2})", "(?:a{2})".repeat(12_500)],
    ["\\Q without \\E", `\\Q${"a".repeat(100_000)}`],
    ["[", "["],
    ["\\", "\\"],
    ["(?P<", "(?P<"],
    ["{1001}", "a{1001}"],
    ["unbalanced brackets", "[[a]]]]"],
    ["unbalanced parentheses", "((a)"],
    ["lone surrogates", "\uD800\uDC00\uDFFF[\uD800-\uDBFF]"],
    ["NUL and controls", "\u0000\u0001\u007f"],
  ];

  it.each(HOSTILE)("%s", (_name, pattern, engine = "same") => {
    // Each would fail the test by throwing.
    const syntax = parseRe2Syntax(pattern);
    const parsed = parseRe2(pattern);
    const problem = hostBoundaryProblem(pattern);
    const cost = repetitionCost(pattern);
    if (engine === "same") expect(parsed.ok).toBe(engineAccepts(pattern));
    else expect(parsed.ok).toBe(false);
    if (!syntax.ok) expect(parsed).toEqual(syntax);
    if (!parsed.ok) {
      expect(parsed.error).toMatch(/^error parsing regexp: /);
      expect(problem).toBe(parsed.error);
      expect(cost).toEqual(parsed);
    }
  });

  it("parses 100 KB of [[:a[:a…] in one pass, where the engine is quadratic, and agrees at 3 KB", () => {
    const open = (n: number) => `[${"[:a".repeat(n)}]`;
    expect(parseRe2Syntax(open(33_000)).ok).toBe(true);
    expect(parseRe2(open(1_000)).ok).toBe(true);
    expect(engineMatches(open(1_000), ":")).toBe(true);
  });

  it("refuses a non-string as a result", () => {
    expect(parseRe2Syntax(42 as unknown as string).ok).toBe(false);
  });
});

describe("property: random patterns from a small alphabet agree with the engine", () => {
  const CASES: [string, number, string, number][] = [
    ["operators", 1, "ab()[]{}|*+?\\^$.-,0129:/P<>ixdQEpLU^sm=_", 12],
    ["classes", 2, "a[]^-\\:/.dDsSwWpPL{}x2F09", 14],
    ["groups and flags", 3, "(?:)|P<>n_a-isUm", 12],
    ["repeats", 4, "{},0123456789a*?+()", 12],
    ["escapes", 5, "\\x{}0F2f7g01234567/[]-nQE", 12],
  ];

  it.each(CASES)("%s", (_name, seed, alphabet, maxLength) => {
    for (const pattern of randomPatterns(seed, 300, alphabet, maxLength)) {
      const syntax = parseRe2Syntax(pattern);
      const full = parseRe2(pattern);
      const engine = engineAccepts(pattern);
      expect(syntax.ok, `${JSON.stringify(pattern)}: ${syntax.ok ? "" : syntax.error}`).toBe(engine);
      expect(full.ok).toBe(engine);
      expect(() => hostBoundaryProblem(pattern)).not.toThrow();
      expect(() => repetitionCost(pattern)).not.toThrow();
      if (!full.ok) continue;
      for (const node of walk(full.node)) {
        expect(node.start >= 0 && node.start <= node.end && node.end <= pattern.length).toBe(true);
        for (const sub of kids(node)) expect(sub.start >= node.start && sub.end <= node.end).toBe(true);
        if (node.kind === "charClass") {
          const source = `${node.foldCase ? "(?i)" : ""}${pattern.slice(node.start, node.end)}`;
          expect(node.canMatchSlash, `${JSON.stringify(pattern)} ${source}`).toBe(engineMatches(source, "/"));
        }
        if (node.kind === "literal" && node.end - node.start > 1 && pattern[node.start] === "\\") {
          const source = pattern.slice(node.start, node.end);
          expect(engineMatches(source, String.fromCodePoint(node.codePoint)), source).toBe(true);
        }
      }
    }
  });
});

describe("hostBoundaryProblem: octo-sts's trusted-issuer rule", () => {
  const CLASS = 'a character class that can match "/"';
  const DOT = '"." can match "/"';
  const REPEATED = '"/" under a repetition';
  const ALTERNATED = '"/" inside an alternation';
  const ESCAPE = "an escape out of the anchoring group";

  it.each([
    ["https://.*.example.com", DOT],
    ["https://[a-z0-9-]+.example.com", DOT],
    ["https://ci.example\\.com", DOT],
    ["https://\\S+\\.example\\.com", CLASS],
    ["https://[^\\n]+\\.example\\.com", CLASS],
    ["https://[[:ascii:]]+\\.example\\.com", CLASS],
    ["https://[.-9]+\\.example\\.com", CLASS],
    ["https://([a-z0-9.-]+/)*trusted\\.example\\.com", REPEATED],
    ["https://(x\\.com/)?trusted\\.example\\.com", REPEATED],
  ])("refuses %s (the brief's list): %s", (pattern, problem) => {
    expect(hostBoundaryProblem(pattern)).toBe(problem);
  });

  it("refuses token\\.example\\.com)|(, which does not compile alone", () => {
    expect(hostBoundaryProblem("token\\.example\\.com)|(")).toMatch(/^error parsing regexp: unexpected \)/);
  });

  it.each([
    "https://[a-z0-9-]+\\.example\\.com",
    "https://oidc\\.eks\\.[a-z0-9-]+\\.amazonaws\\.com/id/[A-Z0-9]+",
    "https://login\\.microsoftonline\\.com/[a-f0-9-]+/v2\\.0",
    "https://a\\.example\\.com|https://b\\.example\\.com",
    "https://a\\x2Fb\\.example\\.com",
    "(?i)https://gitlab\\.example\\.com",
  ])("accepts %s (the brief's list)", (pattern) => {
    expect(hostBoundaryProblem(pattern)).toBeUndefined();
  });

  it.each([
    ["https://(a/|b/)x\\.com", ALTERNATED],
    ["https://x\\.com/(a|b/c)", ALTERNATED],
    ["https://a\\.com|x", ALTERNATED],
    ["https://a|x|https://b", ALTERNATED],
    ["https://a/|https://b|https://c/", ALTERNATED],
    ["https://a|(?i)https://b", ALTERNATED],
    ["(?:)https://a|(?:)https://b", ALTERNATED],
    ["https://a\\.com|https://b\\.com/x|https://b\\.com", ALTERNATED],
    ["[\\x2F]", CLASS],
    ["[/]", CLASS],
    ["[^a]", CLASS],
    ["\\pP", CLASS],
    ["\\p{Po}", CLASS],
    ["\\PL", CLASS],
    ["\\W", CLASS],
    ["[[:punct:]]", CLASS],
    ["[[:^alpha:]]", CLASS],
    ["[\\d\\D]", CLASS],
    ["(?s).", DOT],
    ["a/{2}", REPEATED],
    ["a/{0}", REPEATED],
    ["(?:/){0,1}", REPEATED],
    ["https:\\x2f{2}a", REPEATED],
    ["https:/+a", REPEATED],
    ["(?:https://a|https://b)*", REPEATED],
    ["https://x\\.com\\Q", ESCAPE],
  ])("refuses %s: %s", (pattern, problem) => {
    expect(hostBoundaryProblem(pattern)).toBe(problem);
  });

  it.each([
    "https://(a|b)/x\\.com",
    "\\d+",
    "\\w+",
    "a{1}/",
    "(?:/){1}",
    "(?:https://x){1,1}",
    "\\pL+",
    "\\P{Po}",
    "https://a\\.com/x{0}",
    "^https://a\\.com$",
    "\\Qhttps://a.com\\E",
    "(https://a\\.com|https://b\\.com)",
    "https://a\\.com|https://b\\.com|https://c\\.com",
    "https://x/y|https://x/y",
    "(?i)https://a|https://b",
    "(?i:HTTPS://a)|(?i:https://b)",
    "(?:https://a|https://b)|https://c",
    "x(?:https://a|https://b)|x(?:https://c)",
    "https://(?:a|b)\\.com/x|https://(?:a|b)\\.com/y",
    "[a-z]+\\.com|[a-z]+\\.org",
    "[a-z]/x|[a-z]/y",
    "\\d{3}/x|\\d{3}/y",
  ])("accepts %s", (pattern) => {
    expect(hostBoundaryProblem(pattern)).toBeUndefined();
  });

  it("returns the parse error for a pattern that does not parse", () => {
    expect(hostBoundaryProblem("https://[a-")).toMatch(/^error parsing regexp: missing closing \]/);
    expect(hostBoundaryProblem("https://a{1001}")).toMatch(/^error parsing regexp: invalid repeat count/);
  });

  it("factors a long common prefix without recursion (thousands of literal steps)", () => {
    const prefix = "https://x/".repeat(5_000);
    expect(hostBoundaryProblem(`${prefix}a|${prefix}b`)).toBeUndefined();
    expect(hostBoundaryProblem(`${prefix}a/|${prefix}b`)).toBe(ALTERNATED);
  });
});

describe("repetitionCost: the repetition expansion", () => {
  it.each([
    ["(?:a?){1000}", 6000],
    ["a{1000}", 1000],
    ["(?:a{10}){10}", 190],
    ["abc", 0],
    ["x{2,5}", 5],
    ["x{3,}", 3],
    ["x{1}", 1],
    ["x{0}", 0],
    ["a*b+c?", 0],
    ["(?:a{100})*", 100],
    ["(?:a{5}){0}", 0],
    ["\\x2F{3}", 12],
    ["\u{1F600}{2}", 2],
    ["(?:a{2}|b{3}){4}", 72],
    ["(?:(?:a{2})*){3}", 45],
    ["a{2}b{3}", 5],
    // 5 × 22 + 4 × 15 × 5 + 3 × 8 × 20 + 2 × 1 × 60
    ["(?:(?:(?:a{2}){3}){4}){5}", 1010],
  ])("%s → %i", (pattern, expansion) => {
    expect(repetitionCost(pattern)).toEqual({ ok: true, expansion });
  });

  it("is a parse error past 1000, as in Go", () => {
    expect(repetitionCost("a{1001}")).toEqual({
      ok: false,
      error: "error parsing regexp: invalid repeat count: `{1001}`",
    });
    expect(repetitionCost("(?:a{1000}){2}").ok).toBe(false);
    expect(repetitionCost("(").ok).toBe(false);
  });
});

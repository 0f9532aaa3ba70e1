/// <reference types="vite/client" />
/**
 * An organization's trusted-issuer file (docs/trusted-issuers.md): the four fixture files, each rule
 * with an input it refuses and one it accepts, the limits, positions, and hostile YAML.
 */
import { describe, expect, it } from "vitest";
import page from "../../../docs/trusted-issuers.md?raw";
import {
  allowsIssuer,
  parseTrustedIssuers,
  TRUSTED_ISSUERS_PATH,
  type TrustedIssuers,
} from "../../../src/trust";
import orgAllow from "../../fixtures/trusted-issuers/orgallow.yaml?raw";
import orgAudit from "../../fixtures/trusted-issuers/orgaudit.yaml?raw";
import orgBad from "../../fixtures/trusted-issuers/orgbad.yaml?raw";
import orgDeny from "../../fixtures/trusted-issuers/orgdeny.yaml?raw";

const GITHUB = "https://token.actions.githubusercontent.com";

function accepted(text: string): TrustedIssuers {
  const r = parseTrustedIssuers(text);
  if (!r.ok) throw new Error(`expected a valid file, got ${JSON.stringify(r.problems)}`);
  return r.file;
}

function refused(text: string) {
  const r = parseTrustedIssuers(text);
  if (r.ok) throw new Error(`expected problems, got a valid file (mode ${r.file.mode})`);
  return r.problems;
}

const messages = (text: string) => refused(text).map((p) => p.message);
const issuersFile = (...issuers: string[]) =>
  `issuers:\n${issuers.map((i) => `  - ${JSON.stringify(i)}\n`).join("")}`;
const patternsFile = (...patterns: string[]) =>
  `issuer_patterns:\n${patterns.map((p) => `  - ${JSON.stringify(p)}\n`).join("")}`;

describe("the file", () => {
  it("lives in the org policy repository at .github/chainguard/trusted-token-issuers.yaml", () => {
    expect(TRUSTED_ISSUERS_PATH).toBe(".github/chainguard/trusted-token-issuers.yaml");
  });
});

describe("docs/trusted-issuers.md", () => {
  it("its example file is valid and means what the page says", () => {
    const example = /<!-- trusted-issuers -->\n```yaml\n([\s\S]*?)```/.exec(page)?.[1];
    expect(example).toBeDefined();
    const r = parseTrustedIssuers(example ?? "");
    expect(r.ok ? r.warnings : r.problems).toEqual([]);
    const file = accepted(example ?? "");
    expect(file.mode).toBe("enforce");
    expect(allowsIssuer(file.allowlist, GITHUB)).toBe(true);
    expect(allowsIssuer(file.allowlist, "https://oidc.eks.eu-west-1.amazonaws.com/id/0A1B2C")).toBe(true);
    expect(allowsIssuer(file.allowlist, "https://accounts.google.com")).toBe(false);
  });
});

describe("fixtures", () => {
  it("orgallow: GitHub's issuer is allowed, in enforce mode (the default)", () => {
    const file = accepted(orgAllow);
    expect(file.mode).toBe("enforce");
    expect(allowsIssuer(file.allowlist, GITHUB)).toBe(true);
  });
  it("orgdeny: GitHub's issuer is not allowed", () => {
    const file = accepted(orgDeny);
    expect(file.mode).toBe("enforce");
    expect(allowsIssuer(file.allowlist, GITHUB)).toBe(false);
    expect(allowsIssuer(file.allowlist, "https://some-other-idp.example.com")).toBe(true);
  });
  it("orgaudit: parses with mode audit", () => {
    const file = accepted(orgAudit);
    expect(file.mode).toBe("audit");
    expect(allowsIssuer(file.allowlist, GITHUB)).toBe(false);
  });
  it("orgbad: an unclosed character class is invalid, reported at the entry", () => {
    const problems = refused(orgBad);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 2, col: 5, field: "issuer_patterns[0]" });
    expect(problems[0]?.message).toMatch(/^issuer_patterns\[0\]: /);
  });
});

describe("mode", () => {
  it("is enforce or audit, written exactly", () => {
    expect(accepted(`mode: enforce\n${issuersFile(GITHUB)}`).mode).toBe("enforce");
    expect(accepted(`mode: "audit"\n${issuersFile(GITHUB)}`).mode).toBe("audit");
    // An empty value leaves the field unset, as in a policy: the default.
    expect(accepted(`mode:\n${issuersFile(GITHUB)}`).mode).toBe("enforce");
  });
  it("refuses any other value", () => {
    expect(refused(`mode: Enforce\n${issuersFile(GITHUB)}`)).toEqual([
      { message: "mode must be enforce or audit, not the string Enforce", line: 1, col: 7, field: "mode" },
    ]);
    // YAML 1.1: `off` is the boolean false.
    expect(messages(`mode: off\n${issuersFile(GITHUB)}`)).toEqual([
      "mode must be enforce or audit, not the bool false",
    ]);
    expect(messages(`mode: "off"\n${issuersFile(GITHUB)}`)).toEqual([
      "mode must be enforce or audit, not the string off",
    ]);
    expect(messages(`mode: [audit]\n${issuersFile(GITHUB)}`)).toEqual([
      "mode must be enforce or audit, not a list",
    ]);
  });
});

describe("at least one entry", () => {
  const EMPTY = /must list at least one entry/;
  it("an empty file, a comment, or an empty document lists none", () => {
    for (const text of ["", "\n", "# nothing yet\n", "---\n", "~\n"]) {
      const problems = refused(text);
      expect(problems).toHaveLength(1);
      expect(problems[0]?.message).toMatch(EMPTY);
    }
  });
  it("empty lists, or only a mode, list none", () => {
    expect(messages("issuers: []\n")).toEqual([expect.stringMatching(EMPTY)]);
    expect(refused("mode: audit\nissuer_patterns: []\n")).toEqual([
      expect.objectContaining({ message: expect.stringMatching(EMPTY), line: 2, col: 1 }),
    ]);
    expect(messages("mode: audit\n")).toEqual([expect.stringMatching(EMPTY)]);
    expect(messages("issuers:\nissuer_patterns:\n")).toEqual([expect.stringMatching(EMPTY)]);
  });
  it("one issuer, or one pattern, is enough", () => {
    expect(accepted("issuers: [https://gitlab.com]\n").allowlist.issuers).toEqual(["https://gitlab.com"]);
    expect(accepted("issuer_patterns: ['https://gitlab\\.com']\n").allowlist.patterns).toHaveLength(1);
  });
});

describe("keys", () => {
  it("issuer_pattern (singular) is an unknown key, with a did-you-mean", () => {
    expect(refused("issuer_pattern: https://gitlab\\.com\n")).toEqual([
      {
        message: 'unknown key "issuer_pattern" in the trusted-issuer file: did you mean "issuer_patterns"?',
        line: 1,
        col: 1,
        field: "issuer_pattern",
      },
    ]);
    expect(messages(`issuer: ${GITHUB}\n`)).toEqual([
      'unknown key "issuer" in the trusted-issuer file: did you mean "issuers"?',
    ]);
    expect(messages(`${issuersFile(GITHUB)}permissions:\n  contents: read\n`)).toEqual([
      'unknown key "permissions" in the trusted-issuer file (valid keys: mode, issuers, issuer_patterns)',
    ]);
  });
  it("match case-insensitively, as a policy's keys do, and a second spelling is a duplicate", () => {
    expect(accepted(`Mode: audit\nISSUERS: [${GITHUB}]\n`).mode).toBe("audit");
    expect(refused(`issuers: [${GITHUB}]\nIssuers: [https://gitlab.com]\n`)).toEqual([
      {
        message: 'duplicate key "Issuers": issuers is already set at line 1 (keys match case-insensitively)',
        line: 2,
        col: 1,
        field: "issuers",
      },
    ]);
    expect(messages("mode: audit\nmode: enforce\nissuers: [https://gitlab.com]\n")).toEqual([
      expect.stringMatching(/^duplicate key "mode"/),
    ]);
  });
  it("the file must be a mapping, the lists lists of strings", () => {
    expect(messages(`- ${GITHUB}\n`)).toEqual([
      "the trusted-issuer file must be a mapping of keys to values, not a list",
    ]);
    expect(messages(`issuers: ${GITHUB}\n`)).toEqual([
      `issuers must be a list of issuer URLs, not the string ${GITHUB}`,
    ]);
    expect(messages("issuer_patterns: {a: b}\n")).toEqual([
      "issuer_patterns must be a list of RE2 patterns, not a mapping",
    ]);
    expect(refused(`issuers:\n  - ${GITHUB}\n  - [https://gitlab.com]\n  -\n`)).toEqual([
      { message: "issuers[1] must be an issuer URL, not a list", line: 3, col: 5, field: "issuers[1]" },
      { message: "issuers[2] must be an issuer URL, not empty", line: 4, col: 4, field: "issuers[2]" },
    ]);
  });
  it("reports every problem of the file in one pass, sorted by position", () => {
    const problems = refused(
      `mode: off\nissuers:\n  - https://Accounts.Google.com\nissuer_patterns:\n  - "(x"\nextra: 1\n`,
    );
    expect(problems.map((p) => [p.line, p.col, p.field])).toEqual([
      [1, 7, "mode"],
      [3, 5, "issuers[0]"],
      [5, 5, "issuer_patterns[0]"],
      [6, 1, "extra"],
    ]);
  });
});

describe("issuers", () => {
  it("must have a lowercase scheme and host", () => {
    expect(refused(issuersFile("https://Accounts.Google.com"))).toEqual([
      expect.objectContaining({
        message: expect.stringContaining("must be lowercase"),
        line: 2,
        col: 5,
        field: "issuers[0]",
      }),
    ]);
    expect(messages(issuersFile("HTTPS://accounts.google.com"))).toEqual([
      expect.stringContaining("must be lowercase"),
    ]);
    // The path is the issuer's own: its case is kept and compared exactly.
    expect(accepted(issuersFile("https://accounts.google.com")).allowlist.issuers).toEqual([
      "https://accounts.google.com",
    ]);
  });
  it("must pass the issuer syntax rules: https, or http on a loopback host only", () => {
    expect(refused(issuersFile("http://evil.example.com"))).toEqual([
      { message: "issuers[0]: not a valid issuer URL", line: 2, col: 5, field: "issuers[0]" },
    ]);
    for (const bad of [
      "https://example.com?x=1",
      "https://example.com#frag",
      "https://user@example.com",
      "https://example.com/a/../b",
      "https://example.com//x",
      "ftp://example.com",
      "example.com",
      "https://",
    ]) {
      expect(messages(issuersFile(bad)), bad).toEqual(["issuers[0]: not a valid issuer URL"]);
    }
  });
  it("accepts real-world issuers", () => {
    const real = [
      GITHUB,
      "https://accounts.google.com",
      "https://gitlab.com",
      "https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF123456",
      "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
      "https://tenant.us.auth0.com/",
      "http://localhost",
      "http://127.0.0.1",
      "http://localhost:8080",
    ];
    const file = accepted(issuersFile(...real));
    for (const issuer of real) expect(allowsIssuer(file.allowlist, issuer), issuer).toBe(true);
  });
  it("are compared byte for byte", () => {
    const file = accepted(issuersFile("https://tenant.us.auth0.com/"));
    expect(allowsIssuer(file.allowlist, "https://tenant.us.auth0.com/")).toBe(true);
    expect(allowsIssuer(file.allowlist, "https://tenant.us.auth0.com")).toBe(false);
    expect(allowsIssuer(file.allowlist, "https://TENANT.us.auth0.com/")).toBe(false);
  });
  it("warns about an exact issuer that looks like a pattern, and about a repeat", () => {
    const r = parseTrustedIssuers(issuersFile("https://*.example.com", GITHUB, GITHUB));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.warnings.map((w) => [w.line, w.field, w.message])).toEqual([
      [2, "issuers[0]", expect.stringContaining("looks like a pattern: use issuer_patterns")],
      [4, "issuers[2]", "issuers[2] repeats issuers[1]"],
    ]);
    expect(parseTrustedIssuers(orgAllow)).toMatchObject({ ok: true, warnings: [] });
  });
  it("at most 64", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `https://idp${i}.example.com`);
    expect(accepted(issuersFile(...many(64))).allowlist.issuers).toHaveLength(64);
    // Reported at the first entry over the limit (line 1 is the key).
    expect(refused(issuersFile(...many(65)))).toEqual([
      { message: "issuers: more than 64 issuers (at most 64)", line: 66, col: 5, field: "issuers" },
    ]);
  });
});

describe("issuer_patterns", () => {
  const REFUSED = [
    "https://.*.example.com",
    "https://[a-z0-9-]+.example.com",
    "https://ci.example\\.com",
    "https://\\S+\\.example\\.com",
    "https://[^\\n]+\\.example\\.com",
    "https://[[:ascii:]]+\\.example\\.com",
    "https://[.-9]+\\.example\\.com",
    "https://([a-z0-9.-]+/)*trusted\\.example\\.com",
    "https://(x\\.com/)?trusted\\.example\\.com",
    "token\\.example\\.com)|(",
  ];
  it.each(REFUSED)("refuses %s", (pattern) => {
    const problems = refused(patternsFile(pattern));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 2, col: 5, field: "issuer_patterns[0]" });
    expect(problems[0]?.message).toMatch(
      pattern.endsWith(")|(")
        ? /^issuer_patterns\[0\]: error parsing regexp/
        : /^issuer_patterns\[0\]: could let an issuer span a host boundary: ./,
    );
  });

  const ACCEPTED: [string, string[], string[]][] = [
    [
      "https://[a-z0-9-]+\\.example\\.com",
      ["https://ci.example.com", "https://a-1.example.com"],
      ["https://evil.com/.example.com", "https://a.b.example.com", "https://ci.example.com.evil.com"],
    ],
    [
      "https://oidc\\.eks\\.[a-z0-9-]+\\.amazonaws\\.com/id/[A-Z0-9]+",
      ["https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF123456"],
      ["https://oidc.eks.us-west-2.amazonaws.com/id/ABC/DEF", "https://oidc.eks.evil.com/id/A"],
    ],
    [
      "https://login\\.microsoftonline\\.com/[a-f0-9-]+/v2\\.0",
      ["https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"],
      ["https://login.microsoftonline.com/x/v2.0"],
    ],
    [
      "https://a\\.example\\.com|https://b\\.example\\.com",
      ["https://a.example.com", "https://b.example.com"],
      [
        "https://a.example.comhttps://b.example.com",
        "https://a.example.com.evil.com",
        "https://evil.com/https://b.example.com",
      ],
    ],
    ["https://a\\x2Fb\\.example\\.com", ["https://a/b.example.com"], ["https://a.b.example.com"]],
    ["(?i)https://ci\\.example\\.com", ["https://ci.example.com", "https://CI.Example.com"], []],
  ];
  it.each(ACCEPTED)("accepts %s, anchored as a whole", (pattern, allowed, notAllowed) => {
    const file = accepted(patternsFile(pattern));
    for (const issuer of allowed) expect(allowsIssuer(file.allowlist, issuer), issuer).toBe(true);
    for (const issuer of notAllowed) expect(allowsIssuer(file.allowlist, issuer), issuer).toBe(false);
  });

  it("at most 16", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `https://idp${i}\\.example\\.com`);
    expect(accepted(patternsFile(...many(16))).allowlist.patterns).toHaveLength(16);
    expect(refused(patternsFile(...many(17)))).toEqual([
      {
        message: "issuer_patterns: more than 16 patterns (at most 16)",
        line: 18,
        col: 5,
        field: "issuer_patterns",
      },
    ]);
  });
  it("each at most 256 characters", () => {
    const ofLength = (n: number) => `https://${"a".repeat(n - 22)}\\.example\\.com`;
    expect(ofLength(256)).toHaveLength(256);
    expect(accepted(patternsFile(ofLength(256))).allowlist.patterns).toHaveLength(1);
    expect(refused(patternsFile(ofLength(257)))).toEqual([
      {
        message: "issuer_patterns[0]: longer than 256 characters",
        line: 2,
        col: 5,
        field: "issuer_patterns[0]",
      },
    ]);
  });
  it("positions point at the entry, in block and flow lists", () => {
    expect(refused(`mode: audit\nissuer_patterns: ["https://gitlab\\\\.com", "(x"]\n`)).toEqual([
      expect.objectContaining({ line: 2, col: 43, field: "issuer_patterns[1]" }),
    ]);
  });
  it("exact issuers and patterns together: either allows", () => {
    const file = accepted(`issuers: [${GITHUB}]\n${patternsFile("https://[a-z]+\\.example\\.com")}`);
    expect(allowsIssuer(file.allowlist, GITHUB)).toBe(true);
    expect(allowsIssuer(file.allowlist, "https://ci.example.com")).toBe(true);
    expect(allowsIssuer(file.allowlist, "https://gitlab.com")).toBe(false);
  });
});

describe("hostile input is refused through the YAML budgets, without hanging", () => {
  it("a 1 MiB flow list", () => {
    const text = `issuers: [${"a,".repeat(512 * 1024)}]\n`;
    expect(messages(text)).toEqual([expect.stringMatching(/more than \d+ YAML nodes/)]);
  });
  it("a 1 MiB block list", () => {
    const text = `issuers:\n${"  - https://a.example.com\n".repeat(42_000)}`;
    expect(text.length).toBeGreaterThan(1024 * 1024);
    expect(messages(text)).toEqual([expect.stringMatching(/more than \d+ YAML nodes/)]);
  });
  it("deep nesting", () => {
    const depth = 100_000;
    expect(refused(`issuers: ${"[".repeat(depth)}${"]".repeat(depth)}\n`)).toHaveLength(1);
    const blocks = Array.from({ length: 5_000 }, (_, i) => `${" ".repeat(i)}a:\n`).join("");
    expect(refused(blocks).length).toBeGreaterThan(0);
  });
  it("an alias bomb", () => {
    const lines = ['a: &a ["https://x.example.com","https://x.example.com","https://x.example.com"]'];
    for (let i = 1; i < 20; i++)
      lines.push(
        `${"b".repeat(i)}: &a${i} [*${i === 1 ? "a" : `a${i - 1}`},*${i === 1 ? "a" : `a${i - 1}`},*${i === 1 ? "a" : `a${i - 1}`}]`,
      );
    lines.push(`issuers: *a19`);
    expect(messages(`${lines.join("\n")}\n`)).toEqual([expect.stringMatching(/more than \d+ YAML nodes/)]);
  });
  it("one huge scalar", () => {
    expect(messages(issuersFile(`https://${"a".repeat(200_000)}.com`))).toEqual([
      "issuers[0]: not a valid issuer URL",
    ]);
    expect(messages(patternsFile("a".repeat(200_000)))).toEqual([
      "issuer_patterns[0]: longer than 256 characters",
    ]);
    // Over 1 MiB, whichever bound refuses it first: one problem, no hang.
    expect(refused(issuersFile(`https://${"a".repeat(2 * 1024 * 1024)}.com`))).toHaveLength(1);
    expect(refused(patternsFile("a".repeat(2 * 1024 * 1024)))).toHaveLength(1);
  });
  it("unsupported tags and merge keys", () => {
    expect(messages(`issuers: !!binary aGVsbG8=\n`)).toEqual([expect.stringMatching(/unsupported YAML tag/)]);
    expect(messages(`base: &b {issuers: [${GITHUB}]}\n<<: *b\n`)).toEqual([
      expect.stringMatching(/merge keys/),
    ]);
  });
});

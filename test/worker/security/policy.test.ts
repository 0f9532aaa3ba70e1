/**
 * Security review of src/trust: what a policy author (anyone who can push a `.sts.yaml` to a repository
 * the App is installed on) can make the service spend, and the YAML and pattern tricks that must not
 * change what a policy means.
 */
import { describe, expect, it } from "vitest";
import { checkToken, loadPolicy } from "../../../src/trust";

const HEAD = "issuer: https://example.com\nsubject: s\npermissions:\n  contents: read\n";
const DOMAIN = "sts.example.com";

describe("CPU a policy file can cost", () => {
  // Each input is refused by a budget that is checked before the expensive work, so these assert which
  // budget refused it (never a duration: they must pass on a loaded machine); the suite's test timeout
  // (vitest.config.ts) catches a hang.
  it("20 000 aliases are refused by the YAML node budget (alias resolution was quadratic)", () => {
    const text = `x: &x y\nclaim_pattern: [${"*x,".repeat(20_000)}]\n${HEAD}`;
    const value = loadPolicy(text, "repo");
    expect(!value.ok && value.problems[0]?.message).toMatch(/more than \d+ YAML nodes/);
  });

  it("a 1 MiB flow list is refused before the document is built", () => {
    const text = `claim_pattern: [${"a,".repeat(500_000)}]\n${HEAD}`;
    const value = loadPolicy(text, "repo");
    expect(!value.ok && value.problems[0]?.message).toMatch(/YAML nodes/);
  });

  /** Parses once: never throws, and refuses. */
  const refusedWithoutThrowing = (text: string) => {
    let ok: boolean | undefined;
    expect(() => {
      ok = loadPolicy(text, "org").ok;
    }).not.toThrow();
    expect(ok).toBe(false);
  };

  it.each([500, 2_000, 5_000, 9_000])("flow and sequence nesting %i deep never throws", (depth) => {
    refusedWithoutThrowing(`claim_pattern: ${"[".repeat(depth)}${"]".repeat(depth)}\n${HEAD}`);
    refusedWithoutThrowing(`repositories:\n${"- ".repeat(depth)}x\n${HEAD}`);
  });

  // Each is about 1 MiB, the most the policy store reads (docs/security.md, "Policy files").
  const MIB = 1024 * 1024;
  it.each([
    ["a scalar of bad escapes (half a million problems)", `subject: "${"\\q".repeat(MIB / 2 - 8)}"\n`],
    ["a scalar of bad \\x escapes", `subject: "${"\\xZZ".repeat(MIB / 4 - 4)}"\n`],
    ["a folded block scalar", `subject: >\n${"  line\n\n   more\n".repeat(MIB / 20)}`],
    ["a single-quoted scalar of ''", `subject: '${"''".repeat(MIB / 2 - 8)}'\n`],
    ["one line of spaces and tabs", `subject:${" \t".repeat(MIB / 2 - 8)}s\n`],
    ["a thousand keys over 1024 characters", `${"k".repeat(1030)}: v\n`.repeat(1000)],
    ["a keep-chomped block scalar of empty lines", `subject: |+\n  s\n${"\n".repeat(MIB - 32)}`],
  ])("%s never throws and is refused with at most a hundred problems", (_name, text) => {
    let result: ReturnType<typeof loadPolicy> | undefined;
    expect(() => {
      result = loadPolicy(text + HEAD, "repo");
    }).not.toThrow();
    expect(result?.ok).toBe(false);
    expect(!result?.ok && result?.problems.length).toBeLessThanOrEqual(100);
  });

  // A block mapping's indentation grows with its depth, so its text grows with the square of it: 1 400
  // levels are already the 1 MiB the policy store reads at most (docs/security.md, "Policy files"), and
  // nothing deeper can reach the parser.
  it.each([500, 1_400])("block nesting %i deep never throws", (depth) => {
    let block = "claim_pattern:\n";
    for (let i = 0; i < depth; i++) block += `${" ".repeat(i + 2)}k${i}:\n`;
    refusedWithoutThrowing(block + HEAD);
  });
});

describe("aliases keep their YAML meaning", () => {
  it("an alias names the last anchor of that name before it", () => {
    const text =
      "x: &a https://one.example\ny: &a https://example.com\n" +
      "subject: s\npermissions: {contents: read}\n";
    // x and y are unknown keys: the aliases are checked through values that are read.
    const aliased = `issuer: &a https://one.example\nsubject: &b s\naudience: &a ${DOMAIN}\nclaim_pattern:\n  c: *a\n  d: *b\npermissions: {contents: read}\n`;
    expect(loadPolicy(text, "repo").ok).toBe(false);
    const r = loadPolicy(aliased, "repo");
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.policy.claims.map((c) => [c.name, c.pattern.source])).toEqual([
      ["c", DOMAIN],
      ["d", "s"],
    ]);
  });

  it("an alias to a later anchor, or to nothing, is refused", () => {
    expect(loadPolicy(`issuer: *a\nsubject: &a s\npermissions: {contents: read}\n`, "repo").ok).toBe(false);
  });

  it("a self-referencing anchor is bounded, not a hang or a throw", () => {
    const text = `claim_pattern: &a {k: [*a]}\n${HEAD}`;
    expect(() => loadPolicy(text, "repo")).not.toThrow();
    expect(loadPolicy(text, "repo").ok).toBe(false);
  });
});

describe("YAML tricks that must not change a policy (pins)", () => {
  it.each([
    ["a merge key", "<<: {issuer: https://evil.example}\nsubject: s\npermissions: {contents: read}\n"],
    [
      "a tagged merge key",
      "!!merge <<: {subject: s}\nissuer: https://x.example\npermissions: {contents: read}\n",
    ],
    ["a custom tag", "issuer: !evil https://x.example\nsubject: s\npermissions: {contents: read}\n"],
    ["a binary tag", "issuer: https://x.example\nsubject: !!binary cw==\npermissions: {contents: read}\n"],
    ["subject twice, by case", `${HEAD}Subject: t\n`],
    ["subject twice, by Unicode folding (long s)", `${HEAD}\u017fubject: t\n`],
    ["a permission twice, by case", `${HEAD}  CONTENTS: write\n`],
    ["__proto__ as a permission", `${HEAD}  __proto__: write\n`],
    ["repositories in a repository policy, any case", `${HEAD}REPOSITORIES: [a]\n`],
    ["two documents", `${HEAD}---\n${HEAD}`],
    ["a permission level outside read/write/admin", HEAD.replace("read", "Write")],
  ])("refuses %s", (_name, text) => {
    expect(loadPolicy(text, "repo").ok).toBe(false);
  });

  it("a claim named __proto__ is an ordinary claim, matched as its own member", () => {
    const r = loadPolicy(`${HEAD}audience: a\nclaim_pattern:\n  __proto__: yes\n`, "repo");
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const claims = { iss: "https://example.com", sub: "s", aud: "a" };
    expect(checkToken(r.policy, claims, DOMAIN).ok).toBe(false);
    const withProto = JSON.parse('{"iss":"https://example.com","sub":"s","aud":"a","__proto__":"true"}');
    expect(checkToken(r.policy, withProto, DOMAIN).ok).toBe(true);
  });
});

describe("patterns stay whole-value matches (pins)", () => {
  const policy = (pattern: string) => {
    const r = loadPolicy(
      `issuer: https://example.com\nsubject_pattern: '${pattern}'\naudience: a\npermissions: {contents: read}\n`,
      "repo",
    );
    return r.ok ? r.policy : null;
  };
  const matches = (pattern: string, sub: string) => {
    const p = policy(pattern);
    if (p === null) return "compile error";
    return checkToken(p, { iss: "https://example.com", sub, aud: "a" }, DOMAIN).ok;
  };
  it.each([
    ["main|develop", "main-evil", false],
    ["main|develop", "x-develop", false],
    ["(?m)main", "main\nevil", false],
    ["(?s)main.*", "main", true],
    ["(?i)MAIN", "main", true],
    ["\\Qmain\\E", "main", true],
    ["\\Qmain", "main", "compile error"],
    ["main)|(.*", "anything", "compile error"],
    ["(a+)+b", "a".repeat(40), false],
  ])("%j against %j → %j", (pattern, sub, expected) => {
    expect(matches(pattern, sub)).toBe(expected);
  });
});

describe("claim types (pins)", () => {
  const r = loadPolicy(`${HEAD}audience: a\nclaim_pattern:\n  ref: .*\n`, "repo");
  if (!r.ok) throw new Error("fixture");
  const base = { iss: "https://example.com", sub: "s", aud: "a" };
  it.each([
    ["a number", 1],
    ["null", null],
    ["an array", ["x"]],
    ["an object", { x: "y" }],
  ])("a claim that is %s never matches, even .*", (_name, value) => {
    const result = checkToken(r.policy, { ...base, ref: value }, DOMAIN);
    expect(!result.ok && result.failure.reason).toBe("CLAIM_MISMATCH");
  });
  it("a missing claim never matches .*", () => {
    expect(checkToken(r.policy, base, DOMAIN).ok).toBe(false);
  });
  it("aud as a string and as an array both work; a non-string entry is refused", () => {
    expect(checkToken(r.policy, { ...base, ref: "x", aud: "a" }, DOMAIN).ok).toBe(true);
    expect(checkToken(r.policy, { ...base, ref: "x", aud: ["b", "a"] }, DOMAIN).ok).toBe(true);
    const bad = checkToken(r.policy, { ...base, ref: "x", aud: ["a", 1] }, DOMAIN);
    expect(!bad.ok && bad.failure.reason).toBe("INVALID_TOKEN_CLAIMS");
    const obj = checkToken(r.policy, { ...base, ref: "x", aud: { a: 1 } }, DOMAIN);
    expect(!obj.ok && obj.failure.reason).toBe("INVALID_TOKEN_CLAIMS");
  });
});

/**
 * Cost bounds on what a policy author controls (docs/policy-reference.md, "Patterns"; every bound in
 * src/platform/limits.ts): each attack that once cost seconds per exchange is refused at compile time
 * with a problem naming its bound, at the line and column of the offending value, and a policy at the
 * bounds still compiles. No test here asserts a duration: bench:bounds prints the worst cases.
 */

import { describe, expect, it } from "vitest";
import { failure, retryAfterOf } from "../../../src/errors/catalogue";
import { bounded } from "../../../src/exchange/audit";
import {
  AUDIT_MAX_STRING_CHARS,
  MAX_PATTERN_CHARS,
  MAX_PATTERN_REPETITION_EXPANSION_CHARS,
  MAX_POLICY_REPETITION_EXPANSION_CHARS,
} from "../../../src/platform/limits";
import { loadPolicy } from "../../../src/trust";
import { compileAnchored } from "../../../src/trust/pattern";

const HEAD = "issuer: https://token.actions.githubusercontent.com\n";
const PERMS = "permissions:\n  contents: read\n";

function problemsOf(yaml: string, kind: "repo" | "org" = "repo") {
  const loaded = loadPolicy(yaml, kind);
  if (loaded.ok) throw new Error("expected the policy to be refused");
  return loaded.problems;
}

describe("pattern bounds", () => {
  it("(?:a?){1000} repeated 40 times is refused by the per-pattern repetition bound, at its line", () => {
    const [first] = problemsOf(`${HEAD}subject_pattern: '${"(?:a?){1000}".repeat(40)}'\n${PERMS}`);
    expect(first?.message).toContain("the repetition bound per pattern");
    expect(first?.message).toContain("240000");
    expect(first?.line).toBe(2);
  });

  it("a pattern at the per-pattern bound compiles; one past it does not", () => {
    // (?:a?) is 6 characters: {166} is 996, {167} is 1002.
    expect(compileAnchored("(?:a?){166}").ok).toBe(true);
    const over = compileAnchored("(?:a?){167}");
    expect(over.ok).toBe(false);
    expect(!over.ok && over.error).toContain(`over ${MAX_PATTERN_REPETITION_EXPANSION_CHARS}`);
    expect(compileAnchored("a{1000}").ok).toBe(true);
    expect(compileAnchored("(?:a{10}){10}").ok && true).toBe(true);
  });

  it("a pattern longer than the length bound is refused before it is compiled (a 7 KB pattern)", () => {
    expect(compileAnchored("a".repeat(MAX_PATTERN_CHARS)).ok).toBe(true);
    const long = compileAnchored("a".repeat(7 * 1024));
    expect(!long.ok && long.error).toContain("the pattern length bound");
  });

  it("one 700-byte pattern aliased into four claim_pattern entries is refused (the per-policy sum, or each)", () => {
    const heavy = "(?:a?){160}".repeat(4).slice(0, 700);
    const yaml = `${HEAD}subject: s\nclaim_pattern:\n  a: &p '${heavy}'\n  b: *p\n  c: *p\n  d: *p\n${PERMS}`;
    const problems = problemsOf(yaml);
    expect(problems.some((p) => /repetition bound per (pattern|policy)/.test(p.message))).toBe(true);
  });

  it("patterns each within the bound but together over the per-policy bound are refused at the one that crosses it", () => {
    const p = "(?:a?){160}"; // 960 each
    const yaml = `${HEAD}subject_pattern: '${p}'\naudience_pattern: '${p}'\nclaim_pattern:\n  a: '${p}'\n  b: '${p}'\n  c: '${p}'\n${PERMS}`;
    const problems = problemsOf(yaml);
    const crossing = problems.find((q) => q.message.includes("the repetition bound per policy"));
    expect(crossing?.message).toContain(`over ${MAX_POLICY_REPETITION_EXPANSION_CHARS}`);
    expect(crossing?.line).toBe(7); // claim_pattern c: 5 × 960 = 4800, the fifth crosses 4000
    // Four of them (3840) are within every bound.
    const four = `${HEAD}subject_pattern: '${p}'\naudience_pattern: '${p}'\nclaim_pattern:\n  a: '${p}'\n  b: '${p}'\n${PERMS}`;
    expect(loadPolicy(four, "repo").ok).toBe(true);
  });
});

describe("YAML bounds", () => {
  it("an org policy whose repositories hold 50 aliases of a 100 KB name is refused by the expanded size bound", () => {
    const name = "r".repeat(100 * 1024);
    const yaml = `${HEAD}subject: s\nrepositories:\n  - &n ${name}\n${"  - *n\n".repeat(49)}${PERMS}`;
    const problems = problemsOf(yaml, "org");
    expect(problems[0]?.message).toContain("the expanded size bound");
  });

  it("two 120 KB unknown permission keys get no did-you-mean hint (and no quadratic edit distance)", () => {
    const key = (c: string) => c.repeat(120 * 1024);
    const yaml = `${HEAD}subject: s\npermissions:\n  ? ${key("q")}\n  : read\n  ? ${key("r")}\n  : read\n`;
    const problems = problemsOf(yaml);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => !p.message.includes("did you mean"))).toBe(true);
  });

  it("a short typo still gets its hint", () => {
    const problems = problemsOf(`${HEAD}subject: s\npermissions:\n  contnets: read\n`);
    expect(problems.some((p) => p.message.includes('did you mean "contents"'))).toBe(true);
  });
});

describe("what leaves the Worker stays small", () => {
  it("every string of the audit line is cut to 1 KiB with a marker, lists to 100 entries", () => {
    const record = bounded({
      detail: "x".repeat(100 * 1024),
      permissions: { contents: "w".repeat(100 * 1024) },
      repositories: Array.from({ length: 600 }, () => "r".repeat(100 * 1024)),
    }) as { detail: string; permissions: { contents: string }; repositories: string[] };
    expect(record.detail.length).toBeLessThan(AUDIT_MAX_STRING_CHARS + 40);
    expect(record.detail).toContain("[cut ");
    expect(record.permissions.contents.length).toBeLessThan(AUDIT_MAX_STRING_CHARS + 40);
    expect(record.repositories).toHaveLength(101);
    expect(record.repositories.at(-1)).toContain("cut 500 entries");
    expect(JSON.stringify(record).length).toBeLessThan(150 * 1024);
  });

  it.each([
    ["99999999999999999999999", 3600],
    ["0", 1],
    ["-5", 1],
    ["42", 42],
    ["4.2", 5],
  ])("Retry-After %s from GitHub is sent as %i (an integer from 1 to 3600)", (given, sent) => {
    expect(retryAfterOf(failure("RATE_LIMITED", { retryAfterSeconds: Number(given) }))).toBe(sent);
  });
});

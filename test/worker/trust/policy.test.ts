/// <reference types="vite/client" />
/**
 * The trust policy engine: octo-sts's compile and check cases, the anchoring fix (docs/policy-reference.md,
 * "Patterns"), YAML 1.1 decoding ("YAML rules"), the schema rules ("Fields", "Permissions") and octo-sts's
 * own policies against the claim fixtures.
 */
import { describe, expect, it } from "vitest";
import { checkToken, explain, loadPolicy, type PolicyKind } from "../../../src/trust";
import buildkite from "../../fixtures/claims/buildkite.json";
import defaultAudience from "../../fixtures/claims/github-actions-default-audience.json";
import pullRequest from "../../fixtures/claims/github-actions-pull-request.json";
import push from "../../fixtures/claims/github-actions-push.json";
import useAction from "../../fixtures/policies/use-action.sts.yaml?raw";
import verifyProd from "../../fixtures/policies/verify-prod.sts.yaml?raw";

const DOMAIN = "octo-sts.dev";
const PERMS = "permissions:\n  contents: read\n";

function load(text: string, kind: PolicyKind = "repo") {
  const r = loadPolicy(text, kind);
  if (!r.ok) throw new Error(`expected a policy, got ${JSON.stringify(r.problems)}`);
  return r;
}

function problems(text: string, kind: PolicyKind = "repo") {
  const r = loadPolicy(text, kind);
  if (r.ok) throw new Error("expected problems");
  return r;
}

const token = (over: Record<string, unknown> = {}) => ({
  iss: "https://example.com",
  sub: "subject",
  aud: [DOMAIN],
  ...over,
});

describe("compile: octo-sts's cases", () => {
  const ok = [
    "issuer: https://example.com\nsubject: subject\n",
    'issuer_pattern: https://(example|google)\\.com\nsubject_pattern: "[0-9]{10}"\nclaim_pattern:\n  email: .*@example.com\n',
  ];
  it.each(ok)("compiles %j", (p) => {
    expect(loadPolicy(p + PERMS, "repo").ok).toBe(true);
  });

  const bad: [string, string, "parse" | "compile", RegExp][] = [
    [
      "issuer and issuer_pattern",
      "issuer: https://example.com\nissuer_pattern: .*\nsubject: s\n",
      "compile",
      /both issuer and issuer_pattern/,
    ],
    [
      "subject and subject_pattern",
      "issuer: https://example.com\nsubject: s\nsubject_pattern: s\n",
      "compile",
      /both subject and subject_pattern/,
    ],
    ["bad issuer_pattern", 'issuer_pattern: ")("\nsubject: s\n', "compile", /invalid issuer_pattern/],
    [
      "bad subject_pattern",
      'issuer: https://example.com\nsubject_pattern: ")("\n',
      "compile",
      /invalid subject_pattern/,
    ],
    [
      "bad audience_pattern",
      'issuer: https://example.com\nsubject: s\naudience_pattern: ")("\n',
      "compile",
      /invalid audience_pattern/,
    ],
    [
      "bad claim_pattern",
      'issuer: https://example.com\nsubject: s\nclaim_pattern:\n  claim: ")()"\n',
      "compile",
      /invalid claim_pattern\["claim"\]/,
    ],
    ["only subject", "subject: s\n", "compile", /neither issuer nor issuer_pattern/],
    ["only issuer", "issuer: https://example.com\n", "compile", /neither subject nor subject_pattern/],
    [
      "audience and audience_pattern",
      "issuer: https://e.com\nsubject: s\naudience: a\naudience_pattern: a\n",
      "compile",
      /both audience and audience_pattern/,
    ],
  ];
  it.each(bad)("refuses %s", (_, p, stage, message) => {
    const r = problems(p + PERMS);
    expect(r.stage).toBe(stage);
    expect(r.problems.map((x) => x.message).join("\n")).toMatch(message);
  });

  it("points at the offending pattern", () => {
    const r = problems(`issuer: https://example.com\nsubject_pattern: ")("\n${PERMS}`);
    expect(r.problems[0]).toMatchObject({ line: 2, col: 18, field: "subject_pattern" });
  });

  it("treats an empty issuer as absent, as Go does", () => {
    expect(problems(`issuer: ""\nsubject: s\n${PERMS}`).problems[0]?.message).toMatch(/neither issuer/);
    expect(problems(`issuer:\nsubject: s\n${PERMS}`).problems[0]?.message).toMatch(/neither issuer/);
  });
});

describe("checkToken: octo-sts's cases (domain octo-sts.dev)", () => {
  const base = "issuer: https://example.com\nsubject: subject\n";
  const patterns = 'issuer_pattern: https://(example|google)\\.com\nsubject_pattern: "[0-9]{10}"\n';
  const cases: [string, string, Record<string, unknown>, string | null][] = [
    ["default audience", base, token(), null],
    ["other issuer", base, token({ iss: "https://example.org" }), "ISSUER_MISMATCH"],
    ["other subject", base, token({ sub: "asdf" }), "SUBJECT_MISMATCH"],
    ["audience not in aud", `${base}audience: octo-sts.com\n`, token(), "AUDIENCE_MISMATCH"],
    ["patterns", patterns, token({ sub: "1234567890" }), null],
    [
      "issuer pattern mismatch",
      patterns,
      token({ iss: "https://example.org", sub: "1234567890" }),
      "ISSUER_MISMATCH",
    ],
    ["subject pattern mismatch", patterns, token({ sub: "blah" }), "SUBJECT_MISMATCH"],
    [
      "audience_pattern no entry",
      `${base}audience_pattern: octo-sts\\.com\n`,
      token({ aud: ["octo-sts.dev", "octo-sts.co"] }),
      "AUDIENCE_MISMATCH",
    ],
    ["missing email", `${base}claim_pattern:\n  email: .*@example.com\n`, token(), "CLAIM_MISMATCH"],
    [
      "^(123|456)$",
      `issuer: https://example.com\nsubject_pattern: ^(123|456)$\n`,
      token({ sub: "123999" }),
      "SUBJECT_MISMATCH",
    ],
    [
      "(123|456)",
      `issuer: https://example.com\nsubject_pattern: (123|456)\n`,
      token({ sub: "123999" }),
      "SUBJECT_MISMATCH",
    ],
    [
      "audience_pattern alternation",
      `${base}audience_pattern: (octo|nona)-sts\\.dev\n`,
      token({ aud: ["deka-sts.dev", "nona-sts.dev"] }),
      null,
    ],
    [
      "audience_pattern any entry",
      `${base}audience_pattern: example.com\n`,
      token({ aud: ["octo-sts.dev", "deka-sts.dev", "example.com", "nona-sts.dev"] }),
      null,
    ],
    [
      "boolean claim",
      `${base}claim_pattern:\n  email_verified: "true"\n`,
      token({ email_verified: true }),
      null,
    ],
    [
      "email claim",
      `${base}claim_pattern:\n  email: .*@example.com\n`,
      token({ email: "test@example.com" }),
      null,
    ],
    [
      "two claims",
      `${base}claim_pattern:\n  email: .*@example.com\n  domain: .*\\.net\n`,
      token({ email: "test@example.com", domain: "example.net", extra: "extra" }),
      null,
    ],
    [
      "second claim missing",
      `${base}claim_pattern:\n  email_verified: "true"\n  email: .*@example.com\n`,
      token({ email_verified: true }),
      "CLAIM_MISMATCH",
    ],
    ["numeric claim", `${base}claim_pattern:\n  age: \\d+\n`, token({ age: 21 }), "CLAIM_MISMATCH"],
    [
      "claim mismatch",
      `${base}claim_pattern:\n  email: .*@example.com\n`,
      token({ email: "test@example.dev" }),
      "CLAIM_MISMATCH",
    ],
    [
      "one of two claims mismatched",
      `${base}claim_pattern:\n  email: .*@example.com\n  domain: .*\\.net\n`,
      token({ email: "test@example.dev", domain: "example.net" }),
      "CLAIM_MISMATCH",
    ],
  ];
  it.each(cases)("%s", (_, policy, claims, reason) => {
    const r = checkToken(load(policy + PERMS).policy, claims, DOMAIN);
    if (reason === null) expect(r.ok).toBe(true);
    else expect(!r.ok && r.failure.reason).toBe(reason);
  });

  it("the default audience failure carries the audience hint; an explicit audience does not", () => {
    const d = checkToken(load(base + PERMS).policy, token({ aud: "https://github.com/acme" }), DOMAIN);
    expect(!d.ok && d.failure.args.audienceHint).toBe(true);
    const e = checkToken(load(`${base}audience: x\n${PERMS}`).policy, token(), DOMAIN);
    expect(!e.ok && e.failure.args.audienceHint).toBeFalsy();
  });

  it("names the claim and never copies the policy into the audit detail", () => {
    const secret = "very-secret-pattern-[0-9]+";
    const p = load(`${base}audience: secret-audience\nclaim_pattern:\n  team: ${secret}\n${PERMS}`).policy;
    const claimFail = checkToken(p, token({ aud: "secret-audience", team: "x" }), DOMAIN);
    expect(!claimFail.ok && claimFail.failure.args.claimName).toBe("team");
    for (const r of [
      claimFail,
      checkToken(p, token(), DOMAIN),
      checkToken(p, token({ sub: "other" }), DOMAIN),
    ]) {
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.failure.detail).toBeTruthy();
      expect(r.failure.detail).not.toContain("very-secret");
      expect(r.failure.detail).not.toContain("secret-audience");
      expect(r.failure.detail).not.toContain("https://example.com");
    }
  });

  it("returns the grant with the matched claims for the audit line", () => {
    const r = checkToken(
      load(
        `${base}claim_pattern:\n  email: .*@example.com\npermissions:\n  pull_requests: write\n  contents: read\n`,
      ).policy,
      token({ aud: ["other", DOMAIN], email: "a@example.com" }),
      DOMAIN,
    );
    expect(r.ok && r.value).toEqual({
      permissions: { pull_requests: "write", contents: "read" },
      matched: [
        { name: "iss", value: "https://example.com" },
        { name: "sub", value: "subject" },
        { name: "aud", value: DOMAIN },
        { name: "email", value: "a@example.com" },
      ],
    });
    expect(r.ok && Object.keys(r.value.permissions)).toEqual(["pull_requests", "contents"]);
  });

  it("checks issuer, subject, audience, then claims, in that order", () => {
    const p = load(`${base}audience: a\nclaim_pattern:\n  x: y\n${PERMS}`).policy;
    const r = checkToken(p, token({ iss: "https://o.example", sub: "other", aud: "b" }), DOMAIN);
    expect(!r.ok && r.failure.reason).toBe("ISSUER_MISMATCH");
    const s = checkToken(p, token({ sub: "other", aud: "b" }), DOMAIN);
    expect(!s.ok && s.failure.reason).toBe("SUBJECT_MISMATCH");
    const a = checkToken(p, token({ aud: "b" }), DOMAIN);
    expect(!a.ok && a.failure.reason).toBe("AUDIENCE_MISMATCH");
  });
});

describe("anchoring and RE2: a pattern matches the whole value", () => {
  const sub = (pattern: string, value: string) =>
    checkToken(
      load(`issuer: https://example.com\nsubject_pattern: '${pattern}'\n${PERMS}`).policy,
      token({ sub: value }),
      DOMAIN,
    ).ok;

  it("main|develop matches only main and develop", () => {
    expect(sub("main|develop", "main")).toBe(true);
    expect(sub("main|develop", "develop")).toBe(true);
    expect(sub("main|develop", "main-x")).toBe(false);
    expect(sub("main|develop", "x-develop")).toBe(false);
  });
  it("(123|456) refuses 123999", () => expect(sub("(123|456)", "123999")).toBe(false));
  it("(?i) works", () => expect(sub("(?i)MAIN", "main")).toBe(true));
  it("Go syntax works: \\z, [[:alpha:]], \\pL", () => {
    expect(sub("ma\\z", "ma")).toBe(true);
    expect(sub("[[:alpha:]]+", "main")).toBe(true);
    expect(sub("\\pL+", "用户")).toBe(true);
  });
  it("a backreference, lookaround and a repeat over 1000 are compile errors", () => {
    for (const p of ["(a)\\1", "(?=a)a", "(?<=a)b", "a{1001}"]) {
      const r = problems(`issuer: https://example.com\nsubject_pattern: '${p}'\n${PERMS}`);
      expect(r.stage).toBe("compile");
    }
  });
  it("(a+)+b against 40 a's answers (false) without backtracking", () => {
    const p = load(`issuer: https://example.com\nsubject: s\nclaim_pattern:\n  x: (a+)+b\n${PERMS}`).policy;
    expect(checkToken(p, token({ x: "a".repeat(40) }), DOMAIN).ok).toBe(false);
  });
  it("$ does not match before a trailing newline; . excludes only \\n; \\s is Go's", () => {
    const claim = (pattern: string, value: string) =>
      checkToken(
        load(`issuer: https://example.com\nsubject: subject\nclaim_pattern:\n  x: '${pattern}'\n${PERMS}`)
          .policy,
        token({ x: value }),
        DOMAIN,
      ).ok;
    expect(claim("main", "main\n")).toBe(false);
    expect(claim("main$", "main\n")).toBe(false);
    expect(claim("a.b", "a\nb")).toBe(false);
    expect(claim("a.b", "a\rb")).toBe(true);
    expect(claim("a.b", "a\u2028b")).toBe(true);
    expect(claim("a\\sb", "a\fb")).toBe(true);
    expect(claim("a\\sb", "a\vb")).toBe(false);
    expect(claim("a\\sb", "a\u00a0b")).toBe(false);
    expect(claim(".", "😀")).toBe(true);
  });
});

describe("YAML decoding as go-yaml v2 does", () => {
  it('ref_protected: yes matches the claim "true"', () => {
    const p = load(
      `issuer: https://example.com\nsubject: subject\nclaim_pattern:\n  ref_protected: yes\n${PERMS}`,
    ).policy;
    expect(checkToken(p, token({ ref_protected: "true" }), DOMAIN).ok).toBe(true);
    expect(checkToken(p, token({ ref_protected: true }), DOMAIN).ok).toBe(true);
    expect(checkToken(p, token({ ref_protected: "yes" }), DOMAIN).ok).toBe(false);
  });
  it("Subject: is read as subject; ISSUER and Permissions too", () => {
    const p = load("ISSUER: https://example.com\nSubject: subject\nPermissions:\n  Contents: read\n").policy;
    expect(checkToken(p, token(), DOMAIN).ok).toBe(true);
    expect(p.permissions).toEqual({ contents: "read" });
  });
  it("subject and Subject in one mapping is a duplicate", () => {
    const r = problems(`issuer: https://example.com\nsubject: a\nSubject: b\n${PERMS}`);
    expect(r.problems[0]).toMatchObject({ line: 3, col: 1, field: "subject" });
    expect(r.problems[0]?.message).toMatch(/duplicate/);
  });
  it("an exact duplicate key is an error", () => {
    expect(
      problems(`issuer: https://example.com\nsubject: a\nsubject: a\n${PERMS}`).problems[0]?.message,
    ).toMatch(/duplicate/);
  });
  it('subject: 12345 matches "12345"', () => {
    const p = load(`issuer: https://example.com\nsubject: 12345\n${PERMS}`).policy;
    expect(checkToken(p, token({ sub: "12345" }), DOMAIN).ok).toBe(true);
  });
  it.each([
    ["1.10", "1.1"],
    ["1e6", "1e+06"],
    ["1234567.0", "1.234567e+06"],
    ["0x1F", "31"],
    ["0777", "511"],
    ["1_000", "1000"],
    ["2024-01-01", "2024-01-01"],
    ["on", "true"],
    ["Off", "false"],
    ["'yes'", "yes"],
    ["1:30", "1:30"],
    [".5", "0.5"],
  ])("the scalar %s becomes the string %j", (written, value) => {
    const p = load(`issuer: https://example.com\nsubject: ${written}\n${PERMS}`).policy;
    expect(p.subject).toEqual({ kind: "exact", field: "subject", value });
  });
  it("claim_pattern keys are kept as written", () => {
    const p = load(
      `issuer: https://example.com\nsubject: s\nclaim_pattern:\n  Email: x\n  email: y\n${PERMS}`,
    ).policy;
    expect(p.claims.map((c) => c.name)).toEqual(["Email", "email"]);
  });
  it.each([
    ["a list", "- a\n- b\n", /must be a mapping/],
    ["a scalar", "hello\n", /must be a mapping/],
    ["empty", "", /empty/],
    ["only comments", "# nothing\n", /empty/],
    ["invalid YAML", "issuer: [\n", /invalid YAML/],
  ])("refuses %s", (_, text, message) => {
    expect(problems(text).problems[0]?.message).toMatch(message);
  });
  it("bounds alias expansion", () => {
    let text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < 8; i++)
      text += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    expect(problems(text).problems[0]?.message).toMatch(/YAML nodes/);
  });
});

describe("schema: keys, permission levels, repositories", () => {
  const head = "issuer: https://example.com\nsubject: s\n";
  it("pull-requests fails with the did-you-mean hint, at its position", () => {
    const r = problems(`${head}permissions:\n  pull-requests: write\n`);
    expect(r.problems[0]).toMatchObject({ line: 4, col: 3 });
    expect(r.problems[0]?.message).toContain('did you mean "pull_requests"?');
  });
  it("claim_patterns fails with did you mean claim_pattern", () => {
    expect(problems(`${head}claim_patterns:\n  x: y\n${PERMS}`).problems[0]?.message).toContain(
      'did you mean "claim_pattern"?',
    );
  });
  it("repositories in a repository policy fails; in an org policy it is the grant's list", () => {
    const r = problems(`${head}repositories: [a]\n${PERMS}`, "repo");
    expect(r.problems[0]).toMatchObject({ line: 3, col: 1, field: "repositories" });
    const org = load(`${head}repositories: [a, b]\n${PERMS}`, "org").policy;
    const g = checkToken(org, token({ sub: "s" }), DOMAIN);
    expect(g.ok && g.value.repositories).toEqual(["a", "b"]);
  });
  it("an org policy without repositories grants no repository list", () => {
    const g = checkToken(load(head + PERMS, "org").policy, token({ sub: "s" }), DOMAIN);
    expect(g.ok && "repositories" in g.value).toBe(false);
  });
  it("repositories: [] is refused", () => {
    expect(problems(`${head}repositories: []\n${PERMS}`, "org").problems[0]?.message).toMatch(
      /repositories: \[\]/,
    );
  });
  it.each([
    ["no permissions", head],
    ["empty permissions", `${head}permissions: {}\n`],
    ["null permissions", `${head}permissions:\n`],
  ])("a policy with %s fails", (_, text) => {
    expect(problems(text).problems.some((p) => /no permissions/.test(p.message))).toBe(true);
  });
  it.each(["writ", "none", "true", ""])("permissions: {contents: %j} fails", (level) => {
    const r = problems(`${head}permissions:\n  contents: ${level === "true" ? "yes" : level}\n`);
    expect(r.problems[0]).toMatchObject({ field: "permissions.contents", line: 4 });
  });
  it("app and app_pattern are accepted and ignored", () => {
    const p = load(`${head}app: x\napp_pattern: y.*\n${PERMS}`).policy;
    expect(checkToken(p, token({ sub: "s" }), DOMAIN).ok).toBe(true);
  });
  it("a string field given a list is a type error at its position", () => {
    expect(problems(`issuer: https://example.com\nsubject: [a]\n${PERMS}`).problems[0]).toMatchObject({
      line: 2,
      field: "subject",
    });
  });
  it("warns (does not fail) when an exact subject looks like a pattern", () => {
    const r = load(`issuer: https://example.com\nsubject: repo:x:ref:refs/*\n${PERMS}`);
    expect(r.warnings[0]).toMatchObject({ line: 2, col: 10, field: "subject" });
    expect(r.warnings[0]?.message).toContain("subject_pattern");
  });
  it("reports every problem of a file in one pass", () => {
    const r = problems(`${head}permissions:\n  pull-requests: write\n  contents: writ\n`);
    expect(r.problems.map((p) => p.line)).toEqual([4, 5]);
  });
});

describe("claim types: a number, null, array or object never matches", () => {
  const p = () =>
    load(`issuer: https://example.com\nsubject: subject\nclaim_pattern:\n  x: .*\n${PERMS}`).policy;
  it.each([
    ["a number", 1],
    ["null", null],
    ["an array", ["a"]],
    ["an object", { a: "b" }],
  ])("refuses %s", (_, value) => {
    const r = checkToken(p(), token({ x: value }), DOMAIN);
    expect(!r.ok && r.failure).toMatchObject({ reason: "CLAIM_MISMATCH", args: { claimName: "x" } });
    expect(!r.ok && r.failure.detail).toMatch(/not a string/);
  });
  it("a claim inherited from Object.prototype is missing", () => {
    const q = load(
      `issuer: https://example.com\nsubject: subject\nclaim_pattern:\n  constructor: .*\n${PERMS}`,
    ).policy;
    const r = checkToken(q, token(), DOMAIN);
    expect(!r.ok && r.failure.detail).toMatch(/missing/);
  });
});

describe("octo-sts's own policies against the claim fixtures", () => {
  const D = "sts.example.com";
  it("verify-prod: grants to the octo-sts/app pull request, refuses acme's", () => {
    const p = load(verifyProd).policy;
    const ours = {
      ...pullRequest,
      sub: "repo:octo-sts/app:pull_request",
      workflow_ref: "octo-sts/app/.github/workflows/verify-prod.yaml@refs/pull/1/merge",
    };
    const g = checkToken(p, ours, D);
    expect(g.ok && g.value.permissions).toEqual({ pull_requests: "write" });
    const r = checkToken(p, pullRequest, D);
    expect(!r.ok && r.failure.reason).toBe("SUBJECT_MISMATCH");
    const wf = checkToken(
      p,
      { ...ours, workflow_ref: "octo-sts/app/.github/workflows/other.yaml@refs/heads/main" },
      D,
    );
    expect(!wf.ok && wf.failure).toMatchObject({
      reason: "CLAIM_MISMATCH",
      args: { claimName: "workflow_ref" },
    });
  });
  it("use-action: the escaped dots match only the literal workflow path", () => {
    const p = load(useAction).policy;
    const ours = {
      ...pullRequest,
      sub: "repo:octo-sts/action:pull_request",
      workflow_ref: "octo-sts/action/.github/workflows/use-action.yaml@refs/heads/main",
    };
    expect(checkToken(p, ours, D).ok).toBe(true);
    expect(
      checkToken(
        p,
        { ...ours, workflow_ref: "octo-sts/action/xgithub/workflows/use-action.yaml@refs/heads/main" },
        D,
      ).ok,
    ).toBe(false);
  });
  it("a push token with ref_protected: yes and a release pattern", () => {
    const p = load(`issuer: https://token.actions.githubusercontent.com
subject_pattern: repo:acme/deploy-tools:ref:refs/heads/(main|release/.*)
claim_pattern:
  ref_protected: yes
permissions:
  contents: write
`).policy;
    expect(checkToken(p, push, D).ok).toBe(true);
    const r = checkToken(p, defaultAudience, D);
    expect(!r.ok && r.failure).toMatchObject({ reason: "AUDIENCE_MISMATCH", args: { audienceHint: true } });
  });
  it("buildkite's numeric build_number cannot be matched", () => {
    const p = load(`issuer: https://agent.buildkite.com
subject_pattern: organization:acme:pipeline:deploy-tools:.*
claim_pattern:
  build_number: "[0-9]+"
permissions:
  contents: read
`).policy;
    const r = checkToken(p, buildkite, D);
    expect(!r.ok && r.failure).toMatchObject({
      reason: "CLAIM_MISMATCH",
      args: { claimName: "build_number" },
    });
  });
});

describe("explain", () => {
  it("runs every check and answers like checkToken", () => {
    const p = load(`issuer: https://example.com\nsubject: subject\nclaim_pattern:\n  x: z\n${PERMS}`).policy;
    const claims = token({ sub: "other", x: "z" });
    const report = explain(p, claims, DOMAIN);
    expect(report.steps.map((s) => [s.check, s.pass])).toEqual([
      ["token syntax", true],
      ["issuer", true],
      ["subject", false],
      ["audience", true],
      ["claim x", true],
    ]);
    expect(report.result).toEqual(checkToken(p, claims, DOMAIN));
    expect(report.steps[2]?.why).toContain('"subject"');
  });
  it("keeps going after a token syntax failure and reports INVALID_TOKEN_CLAIMS", () => {
    const p = load(`issuer: https://example.com\nsubject: subject\n${PERMS}`).policy;
    const report = explain(p, token({ sub: "a b" }), DOMAIN);
    expect(report.steps).toHaveLength(4);
    expect(!report.result.ok && report.result.failure).toMatchObject({
      reason: "INVALID_TOKEN_CLAIMS",
      args: { claim: "subject" },
    });
  });
});

describe("key matching and hints", () => {
  const head = "issuer: https://example.com\nsubject: s\n";
  it("folds keys like Go's encoding/json, including ſ and the Kelvin sign", () => {
    const p = load("iſſuer: https://example.com\nſubject: s\npermissions:\n  \u212Aeys: read\n").policy;
    expect(p.permissions).toEqual({ keys: "read" });
  });
  it("a permission written at the top level is pointed under permissions", () => {
    const r = problems(`${head}issues: write\n${PERMS}`);
    expect(r.problems[0]?.message).toContain('permissions go under "permissions:"');
  });
  it.each([
    ["Issuer-Pattern", "issuer_pattern"],
    ["subjet", "subject"],
    ["permission", "permissions"],
    ["audiences", "audience"],
  ])("%s: did you mean %s", (key, guess) => {
    expect(problems(`${head}${key}: x\n${PERMS}`).problems[0]?.message).toContain(`did you mean "${guess}"?`);
  });
  it("repository in an org policy suggests repositories", () => {
    expect(problems(`${head}repository: [a]\n${PERMS}`, "org").problems[0]?.message).toContain(
      '"repositories"',
    );
  });
  it("a claim named __proto__ is an ordinary claim", () => {
    const p = load(`${head}claim_pattern:\n  __proto__: x\n${PERMS}`).policy;
    expect(p.claims.map((c) => c.name)).toEqual(["__proto__"]);
    expect(
      checkToken(
        p,
        JSON.parse('{"iss":"https://example.com","sub":"s","aud":"octo-sts.dev","__proto__":"x"}'),
        DOMAIN,
      ).ok,
    ).toBe(true);
    expect(checkToken(p, token({ sub: "s" }), DOMAIN).ok).toBe(false);
  });
  it("warns when a claim name is a YAML 1.1 boolean", () => {
    const r = load(`${head}claim_pattern:\n  n: x\n${PERMS}`);
    expect(r.policy.claims.map((c) => c.name)).toEqual(["false"]);
    expect(r.warnings[0]?.message).toMatch(/quote it/);
  });
  it("warns about /* in a pattern", () => {
    const r = load(`issuer: https://example.com\nsubject_pattern: repo:x:ref:refs/tags/*\n${PERMS}`);
    expect(r.warnings[0]?.message).toContain('"/.*"');
  });
  it("warns when an exact subject can never pass the token syntax rules", () => {
    const r = load(`issuer: https://example.com\nsubject: "a b"\n${PERMS}`);
    expect(r.warnings[0]?.message).toMatch(/can never match/);
  });
});

describe("explain wording", () => {
  it("says what failed in plain words", () => {
    const p = load(
      "issuer: https://example.com\nsubject_pattern: main\npermissions: {contents: read}\n",
    ).policy;
    const steps = explain(p, token({ sub: "dev", aud: ["x"] }), "").steps;
    expect(steps[2]?.why).toBe('sub "dev" does not match subject_pattern /main/');
    expect(steps[3]?.why).toContain("STS_DOMAIN, not given");
  });
});

/**
 * The policy normal form kept beside its text in KV (docs/performance.md, "Policy normal form"): made
 * only by the validating parser, used only under this code's version, the kind asked for and the hash
 * of the very text, never trusted beyond that, and always compiled again.
 */

import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/platform/cache";
import type { CompiledPolicy } from "../../../src/trust/compile";
import { loadPolicy, loadPolicyWithForm } from "../../../src/trust/load";
import { compileForm, formKey, POLICY_FORM_VERSION } from "../../../src/trust/normal-form";
import type { PolicyKind } from "../../../src/trust/parse";

const POLICY = `Issuer: https://token.actions.githubusercontent.com
subject_pattern: "repo:org/repo:ref:refs/heads/(main|release-[0-9]+)"
claim_pattern:
  workflow_ref: "org/repo/\\\\.github/workflows/[a-z-]+\\\\.ya?ml@refs/heads/main"
  __proto__: "x"
permissions:
  pull_requests: write
  contents: read
`;

const ORG_POLICY = `${POLICY}repositories: [a, b]\n`;

/** What a compiled policy decides, without its functions. */
function shape(p: CompiledPolicy) {
  const m = (x: CompiledPolicy["issuer"] | null) =>
    x === null ? null : x.kind === "exact" ? x : { kind: x.kind, field: x.field, source: x.pattern.source };
  return {
    kind: p.kind,
    issuer: m(p.issuer),
    subject: m(p.subject),
    audience: m(p.audience),
    claims: p.claims.map((c) => [c.name, c.pattern.source, c.pattern.expansion]),
    permissions: Object.entries(p.permissions),
    repositories: p.repositories,
  };
}

/** The form as it comes back from KV (JSON). */
async function stored(text: string, kind: PolicyKind) {
  const hash = await sha256Hex(text);
  const { form } = loadPolicyWithForm(text, kind, hash);
  return { hash, form: JSON.parse(JSON.stringify(form)) as Record<string, unknown> };
}

describe("policy normal form", () => {
  for (const [kind, text] of [
    ["repo", POLICY],
    ["org", ORG_POLICY],
  ] as const) {
    it(`a ${kind} policy compiled from its stored form is the policy compiled from its text`, async () => {
      const { hash, form } = await stored(text, kind);
      expect(form.key).toBe(`v${POLICY_FORM_VERSION}:${kind}:${hash}`);
      const fromText = loadPolicy(text, kind);
      const fromForm = compileForm(form, kind, hash);
      if (!fromText.ok || fromForm === undefined) throw new Error("did not load");
      expect(shape(fromForm.policy)).toEqual(shape(fromText.policy));
      expect(fromForm.policy.claims.map((c) => c.name)).toEqual(["workflow_ref", "__proto__"]);
      expect(fromForm.warnings).toEqual(fromText.warnings);
      expect(
        fromForm.policy.subject.kind === "pattern" &&
          fromForm.policy.subject.pattern.test("repo:org/repo:ref:refs/heads/main"),
      ).toBe(true);
    });
  }

  it("is never made for a policy that does not load", async () => {
    for (const text of [
      "issuer: x\nsubject: y\n",
      "issuer: x\nsubject_pattern: '('\npermissions: {contents: read}\n",
      "subjct: x\n",
    ]) {
      const { loaded, form } = loadPolicyWithForm(text, "repo", await sha256Hex(text));
      expect(loaded.ok).toBe(false);
      expect(form).toBeUndefined();
    }
  });

  it("is ignored under another code version, another kind or another text", async () => {
    const { hash, form } = await stored(POLICY, "repo");
    expect(
      compileForm({ ...form, key: `v${POLICY_FORM_VERSION - 1}:repo:${hash}` }, "repo", hash),
    ).toBeUndefined();
    expect(
      compileForm({ ...form, key: `v${POLICY_FORM_VERSION + 1}:repo:${hash}` }, "repo", hash),
    ).toBeUndefined();
    expect(compileForm(form, "org", hash)).toBeUndefined();
    expect(compileForm(form, "repo", await sha256Hex(`${POLICY} `))).toBeUndefined();
    expect(compileForm({ ...form, key: undefined }, "repo", hash)).toBeUndefined();
    expect(compileForm(null, "repo", hash)).toBeUndefined();
    expect(compileForm("form", "repo", hash)).toBeUndefined();
  });

  it("is not trusted beyond its key: a shape this code never writes is ignored", async () => {
    const { hash, form } = await stored(ORG_POLICY, "org");
    const policy = form.policy as Record<string, unknown>;
    const variants: unknown[] = [
      { ...policy, permissions: { contents: "writ" } },
      { ...policy, permissions: { not_a_permission: "read" } },
      { ...policy, permissions: ["contents"] },
      { ...policy, issuer: 5 },
      { ...policy, unknown_key: "x" },
      { ...policy, claim_pattern: { workflow_ref: "x" } },
      { ...policy, claim_pattern: [["a"]] },
      { ...policy, repositories: [] },
      { ...policy, repositories: [""] },
      { ...policy, repositories: "a" },
    ];
    for (const v of variants) expect(compileForm({ ...form, policy: v }, "org", hash)).toBeUndefined();
    expect(compileForm({ ...form, warnings: "none" }, "org", hash)).toBeUndefined();
    const repo = await stored(POLICY, "repo");
    const repoPolicy = repo.form.policy as Record<string, unknown>;
    expect(
      compileForm({ ...repo.form, policy: { ...repoPolicy, repositories: ["a"] } }, "repo", repo.hash),
    ).toBeUndefined();
  });

  it("is compiled again: every compile rule still holds for a form under a matching key", async () => {
    const { hash, form } = await stored(POLICY, "repo");
    const policy = form.policy as Record<string, unknown>;
    const broken: unknown[] = [
      { ...policy, issuer_pattern: "https://.*" }, // both issuer and issuer_pattern
      { ...policy, issuer: undefined }, // neither
      { ...policy, subject_pattern: "(" }, // not RE2
      { ...policy, subject_pattern: "a{1000}{1000}" }, // over the repetition bound
      { ...policy, subject_pattern: "x".repeat(5000) }, // over the length bound
      { ...policy, permissions: {} }, // no permission
    ];
    for (const v of broken) {
      expect(compileForm(JSON.parse(JSON.stringify({ ...form, policy: v })), "repo", hash)).toBeUndefined();
    }
  });

  it("names its version in its key", () => {
    expect(formKey("org", "ab")).toBe(`v${POLICY_FORM_VERSION}:org:ab`);
  });
});

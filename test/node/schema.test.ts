/** The committed JSON Schemas are exactly what `npm run schema` generates from src/trust/json-schema.ts. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import {
  OrgPolicySchema,
  policyJsonSchemas,
  RepoPolicySchema,
  TrustedIssuersSchema,
} from "../../src/trust/json-schema.ts";
import * as mini from "../../src/trust/schema.ts";

const withoutDescriptions = (v: unknown) =>
  JSON.parse(JSON.stringify(v, (k, x) => (k === "description" ? undefined : x)));

describe("schema drift", () => {
  for (const [name, text] of Object.entries(policyJsonSchemas())) {
    it(`schema/${name} is up to date (run npm run schema)`, () => {
      expect(readFileSync(new URL(`../../schema/${name}`, import.meta.url), "utf8")).toBe(text);
    });
  }
  it("the org schema adds repositories, the repository schema refuses it", () => {
    const s = policyJsonSchemas();
    const repo = JSON.parse(s["trust-policy.schema.json"]);
    const org = JSON.parse(s["org-trust-policy.schema.json"]);
    expect(repo.additionalProperties).toBe(false);
    expect(repo.properties.repositories).toBeUndefined();
    expect(org.properties.repositories).toMatchObject({ type: "array", minItems: 1 });
    expect(repo.properties.permissions.properties.pull_requests.enum).toEqual(["read", "write", "admin"]);
  });
  it("the trusted-issuer schema: a mode enum and two string lists, nothing else", () => {
    const s = JSON.parse(policyJsonSchemas()["trusted-token-issuers.schema.json"]);
    expect(s.additionalProperties).toBe(false);
    expect(Object.keys(s.properties)).toEqual(["mode", "issuers", "issuer_patterns"]);
    expect(s.properties.mode.enum).toEqual(["enforce", "audit"]);
    expect(s.properties.issuers).toMatchObject({ type: "array", items: { type: "string" } });
    expect(s.properties.issuer_patterns).toMatchObject({ type: "array", items: { type: "string" } });
  });
  it("the Worker's zod/mini schemas accept exactly what the described ones accept", () => {
    expect(z.toJSONSchema(mini.RepoPolicySchema)).toEqual(
      withoutDescriptions(z.toJSONSchema(RepoPolicySchema)),
    );
    expect(z.toJSONSchema(mini.OrgPolicySchema)).toEqual(
      withoutDescriptions(z.toJSONSchema(OrgPolicySchema)),
    );
    expect(mini.TRUSTED_ISSUERS_KEYS).toEqual(Object.keys(TrustedIssuersSchema.shape));
    expect(z.toJSONSchema(TrustedIssuersSchema).properties?.mode).toMatchObject({
      enum: [...mini.TRUSTED_ISSUER_MODES],
    });
  });
});

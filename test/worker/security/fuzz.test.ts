/**
 * Property-based fuzzing with fixed seeds (docs/security.md, "Fuzzing"): every target of
 * test/worker/security/fuzz/properties.ts for its CI number of cases, inside workerd. A failure prints
 * fast-check's shrunk counterexample with its seed and path; `npm run fuzz` runs the same targets for
 * longer. The timeout is a hang detector only.
 */

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ciSeed, type FuzzContext, fuzzContext, runTarget, TARGETS } from "./fuzz/properties";

let ctx: FuzzContext;

beforeAll(async () => {
  ctx = await fuzzContext(env.TEST_APP_KEY_PKCS8);
});

describe("fuzz", () => {
  for (const [index, target] of TARGETS.entries()) {
    it(`${target.name}: ${target.ciRuns} cases hold`, async () => {
      const report = await runTarget(target, ctx, { runs: target.ciRuns, seed: ciSeed(index) });
      expect(report.message ?? "", report.message).toBe("");
      expect(report.runs).toBe(target.ciRuns);
    }, 120_000);
  }
});

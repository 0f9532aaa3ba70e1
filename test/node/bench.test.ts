/**
 * The benchmark must not rot: its smoke mode runs end to end and prints every row and every target.
 * No test here asserts a duration (durations depend on the machine and its load, so such a test would
 * only be flaky): only that the figures are produced and well-formed.
 */

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { attributeBySourceMap, packageOf } from "../../scripts/lib/bench-bundle";
import { classifyGitHub, classifyIssuer } from "../../scripts/lib/bench-fixture";
import { percentile } from "../../scripts/lib/bench-load";

describe("bench statistics and attribution", () => {
  it("takes nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("names the package a bundled input belongs to", () => {
    expect(packageOf("node_modules/zod/v4/core/schemas.js")).toBe("zod");
    expect(packageOf("node_modules/@octokit/auth-app/dist-src/index.js")).toBe("@octokit/auth-app");
    expect(packageOf("../node_modules/.pnpm/x/node_modules/yaml/dist/index.js")).toBe("yaml");
    expect(packageOf("src/exchange/core.ts")).toBe("src (this project)");
    expect(packageOf("../../src/index.ts")).toBe("src (this project)");
  });

  it("attributes every byte of a minified bundle to its source package by the source map", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-map-"));
    try {
      const result = await build({
        stdin: {
          contents:
            'import { parse } from "yaml"; export default { fetch: () => new Response(String(parse("a: 1").a)) };',
          resolveDir: process.cwd(),
          sourcefile: "src/entry.ts",
          loader: "ts",
        },
        bundle: true,
        minify: true,
        format: "esm",
        sourcemap: "external",
        outfile: join(dir, "out.js"),
        write: true,
        logLevel: "silent",
      });
      expect(result.errors).toEqual([]);
      const code = readFileSync(join(dir, "out.js"), "utf8").replace(
        /\n?\/\/# sourceMappingURL=\S+\s*$/,
        "\n",
      );
      const map = JSON.parse(readFileSync(join(dir, "out.js.map"), "utf8"));
      const parts = attributeBySourceMap(code, map);
      const total = [...parts.values()].reduce((n, t) => n + t.length, 0);
      expect(total).toBe(code.length);
      expect((parts.get("yaml") ?? "").length).toBeGreaterThan(0.8 * code.length);
      expect(parts.has("src (this project)")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("classifies outbound calls by purpose", () => {
    const gh = (method: string, path: string, body = "") => classifyGitHub({ method, path, body });
    expect(gh("GET", "/orgs/acme/installation")).toBe("installation");
    expect(gh("GET", "/users/octocat/installation")).toBe("installation");
    expect(
      gh(
        "POST",
        "/app/installations/7/access_tokens",
        '{"repositories":["x"],"permissions":{"contents":"read"}}',
      ),
    ).toBe("read-token mint");
    expect(gh("POST", "/app/installations/7/access_tokens", '{"permissions":{"issues":"write"}}')).toBe(
      "mint",
    );
    expect(gh("GET", "/repos/acme/x/contents/.github/chainguard/ci.sts.yaml")).toBe("policy read");
    expect(gh("DELETE", "/installation/token")).toBe("revoke");
    expect(classifyIssuer("/.well-known/openid-configuration")).toBe("discovery");
    expect(classifyIssuer("/.well-known/jwks")).toBe("jwks");
  });
});

const ROWS = [
  "warm exchange, median latency",
  "warm exchange, p99 latency",
  "warm exchange, sequential throughput",
  "warm exchange, concurrent throughput",
  "floor, median latency",
  "floor, p99 latency",
  "floor, sequential throughput",
  "floor, concurrent throughput",
  "RATIO warm / floor (median latency)",
  "outbound per warm exchange",
  "outbound, cold exchange",
  "outbound, new isolate + warm KV",
  "CPU per warm exchange (workerd process)",
  "CPU per request as workerd reports it",
  "bundle, minified",
  "bundle, gzipped (level 9)",
  "start-up: new workerd ready, real Worker",
  "start-up: new workerd ready, floor",
  "first exchange after start (cold)",
  "cold: new isolate, empty KV, CPU beyond I/O",
  "cold: new isolate, warm KV, CPU beyond I/O",
  "cold: new isolate, warm KV, policy miss, CPU beyond I/O",
  "cold floor: first request, CPU beyond I/O",
  "start-up CPU: module evaluation over the floor",
  "audit lines during warm runs",
];

describe("npm run bench -- --smoke", () => {
  it("runs in seconds and prints every row and every target", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-smoke-"));
    const jsonPath = join(dir, "bench.json");
    try {
      const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
        (resolve) => {
          execFile(
            process.execPath,
            ["scripts/run.mjs", "scripts/bench.ts", "--smoke", "--json", jsonPath],
            { timeout: 280_000, maxBuffer: 8 * 1024 * 1024 },
            (error, out, err) =>
              resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: out, stderr: err }),
          );
        },
      );
      expect(stderr + stdout).not.toContain("bench could not measure correctly");
      expect(code).toBe(0);
      for (const label of ROWS) expect(stdout).toContain(label);
      const report = JSON.parse(readFileSync(jsonPath, "utf8")) as {
        rows: [string, string, string][];
        targets: { name: string; pass: boolean; measured: string }[];
        problems: string[];
      };
      expect(report.problems).toEqual([]);
      expect(report.targets.map((t) => t.name.split(" ")[0])).toEqual([
        "warm",
        "warm:",
        "new",
        "cold:",
        "cold:",
        "cold:",
        "bundle",
        "bundle",
      ]);
      for (const t of report.targets)
        expect(stdout).toMatch(
          new RegExp(`^(PASS|FAIL)  ${t.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"),
        );
      // every figure is a number with its unit, never NaN or empty
      for (const [, value] of report.rows) expect(value).not.toMatch(/NaN|undefined|^$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

/**
 * The benchmark's own arithmetic: percentiles, attributing a bundle's bytes to packages, classifying
 * outbound calls. That it still runs end to end is kept by `.ci/run`, which runs `npm run bench:smoke`
 * on every change; the smoke run fails when a figure comes out empty or not a number, never on its value
 * (durations depend on the machine and its load, so no test here asserts one).
 */

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

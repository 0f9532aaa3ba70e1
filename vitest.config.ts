import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { createOutboundRouter } from "./test/doubles/outbound.ts";

const fixture = (name: string) => readFileSync(new URL(`./test/fixtures/${name}`, import.meta.url), "utf8");

export default defineConfig({
  test: {
    // The JSON report feeds the "N passed, M failed" line that .ci/run prints.
    reporters: ["default", ["json", { outputFile: "build/vitest-results.json" }]],
    globalSetup: ["./test/global-setup.ts"],
    // Three test files at a time even on 2 cores: much of a file's time is waiting on workerd, on the
    // processes it starts or on I/O (61 s against 74 s with two, idle); tests assert no durations, so load
    // cannot fail them.
    maxWorkers: 3,
    // Hang detectors, not speed checks: no test asserts a duration, and on a loaded 2-core machine a test
    // that takes 0.5 s idle can take ten times that, past vitest's 5 s default. A test that hangs still
    // fails, after a minute. Tests that start processes or build bundles set their own, longer timeouts.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              kvNamespaces: ["STS_CACHE"],
              // The real Rate Limiting binding, under a name the Worker does not read: only the tests
              // that hand it in as CALLER_LIMITER (test/worker/exchange/limits.test.ts) are limited.
              ratelimits: { TEST_CALLER_LIMITER: { simple: { limit: 3, period: 60 } } },
              bindings: {
                ISSUER_DOUBLE_URL: inject("issuerUrl"),
                GITHUB_DOUBLE_URL: inject("githubUrl"),
                TEST_APP_KEY_PKCS1: fixture("app-key.pkcs1.pem"),
                TEST_APP_KEY_PKCS8: fixture("app-key.pkcs8.pem"),
              },
              outboundService: createOutboundRouter({ hosts: inject("outboundHosts") }),
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/worker/**/*.test.ts"],
          // One module graph per worker for all its files instead of one per file: importing the Worker's
          // code (zod, yaml, re2js, jose and src) into a fresh graph cost about 1.5 s per file, 50 s of the
          // suite. Safe because no test relies on a fresh module: every test builds its own runtime (the
          // state of an "isolate" hangs off it, see src/platform/isolate.ts), stores under names no other
          // test uses (helpers.ts, `unique`), and restores its console spies and mocks.
          isolate: false,
          // Every test's console output is scanned for tokens, JWTs, keys and the test webhook secret.
          setupFiles: ["./test/shared/log-scan.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          setupFiles: ["./test/shared/log-scan.ts"],
        },
      },
    ],
  },
});

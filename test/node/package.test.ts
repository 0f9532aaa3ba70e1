/**
 * sts-policy outside this repository, as another repository's CI gets it: the steps of the composite
 * action (.github/actions/check-policies/action.yml) are run here as GitHub runs them (bash, with
 * GITHUB_ACTION_PATH, RUNNER_TEMP and the step's env from its inputs), in a workspace of their own:
 * `npm pack` builds the tarball (prepack bundles the checker to dist-cli/), it is installed into an empty
 * directory (the package has no runtime dependency, so nothing comes from the registry), and the check
 * exits 0 on good files and 1 with file:line:col on bad ones. The one-line
 * `npx --yes --package=<tarball> sts-policy check …` of the docs is run too.
 */

import { execFileSync, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = resolve(__dirname, "../..");
const ACTION_DIR = join(ROOT, ".github/actions/check-policies");

interface Step {
  name: string;
  shell?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}
interface Action {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; steps: Step[] };
}

const action = parse(readFileSync(join(ACTION_DIR, "action.yml"), "utf8")) as Action;

let temp: string;
let workspace: string;

/** The environment GitHub gives a composite step: its `env`, with `${{ inputs.X }}` filled in. */
function stepEnv(step: Step, inputs: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    GITHUB_ACTION_PATH: ACTION_DIR,
    RUNNER_TEMP: temp,
    npm_config_prefer_offline: "true",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
  };
  for (const [name, value] of Object.entries(step.env ?? {})) {
    env[name] = value.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_, input: string) => {
      return inputs[input] ?? action.inputs[input]?.default ?? "";
    });
  }
  return env;
}

function runStep(index: number, inputs: Record<string, string> = {}) {
  const step = action.runs.steps[index] as Step;
  const r = spawnSync("bash", ["-e", "-c", step.run ?? ""], {
    cwd: workspace,
    env: stepEnv(step, inputs),
    encoding: "utf8",
    timeout: 240_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const GOOD = `issuer: https://token.actions.githubusercontent.com
subject: repo:acme/app:ref:refs/heads/main
permissions:
  contents: read
`;

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), "sts-action-"));
  workspace = join(temp, "workspace");
  mkdirSync(join(workspace, ".github", "chainguard"), { recursive: true });
  writeFileSync(join(workspace, ".github", "chainguard", "good.sts.yaml"), GOOD);
  // The first two steps: build and pack, then install the tarball.
  for (const index of [0, 1]) {
    const r = runStep(index);
    if (r.code !== 0) throw new Error(`step ${index + 1} failed (${r.code}):\n${r.out}\n${r.err}`);
  }
}, 300_000);

afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe("the check-policies action", { timeout: 120_000 }, () => {
  it("is a composite action of plain shell steps", () => {
    expect(action.runs.using).toBe("composite");
    for (const step of action.runs.steps) {
      expect(step.uses, step.name).toBeUndefined();
      expect(step.shell, step.name).toBe("bash");
      // Inputs reach the scripts only through env, never spliced into the shell text.
      expect(step.run, step.name).not.toContain("${{");
    }
  });

  it("packs a tarball of the built checker only, installed without esbuild or the source", () => {
    const tarball = readFileSync(join(temp, "sts-policy", "tarball"), "utf8").trim();
    expect(tarball).toMatch(/^github-sts-worker-[\d.]+\.tgz$/);
    const listing = execFileSync("tar", ["-tzf", join(temp, "sts-policy", tarball)], { encoding: "utf8" });
    expect(listing).toContain("package/dist-cli/sts-policy.mjs");
    expect(listing).toContain("package/bin/sts-policy.mjs");
    expect(listing).not.toMatch(/package\/(src|scripts|test)\//);
    const installed = join(temp, "sts-policy", "install", "node_modules");
    expect(existsSync(join(installed, "github-sts-worker", "dist-cli", "sts-policy.mjs"))).toBe(true);
    // The tarball alone: no dependency of the Worker, no esbuild.
    expect(readdirSync(installed).filter((name) => !name.startsWith("."))).toEqual(["github-sts-worker"]);
  });

  it("passes good policies (exit 0)", () => {
    const r = runStep(2);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(".github/chainguard/good.sts.yaml: ok (repository policy, 1 permission)");
  });

  it("fails a bad policy with file:line:col (exit 1), and checks the org file and org layout", () => {
    const bad = join(workspace, ".github", "chainguard", "bad.sts.yaml");
    cpSync(join(ROOT, "test/fixtures/policies/bad.sts.yaml"), bad);
    const issuers = join(workspace, ".github", "chainguard", "trusted-token-issuers.yaml");
    writeFileSync(issuers, "mode: Enforce\nissuers: [https://token.actions.githubusercontent.com]\n");
    try {
      const r = runStep(2);
      expect(r.code).toBe(1);
      expect(r.out).toContain(
        `.github/chainguard/bad.sts.yaml:4:3: unknown permission "pull-requests": did you mean "pull_requests"?`,
      );
      expect(r.out).toContain(".github/chainguard/good.sts.yaml: ok");
      expect(r.out).toContain(
        ".github/chainguard/trusted-token-issuers.yaml:1:7: mode must be enforce or audit, not the string Enforce",
      );
    } finally {
      rmSync(bad);
      rmSync(issuers);
    }
    // The files input picks other files; matching none is not a failure.
    const none = runStep(2, { files: "policies/*.sts.yaml" });
    expect(none.code).toBe(0);
    expect(none.out).toContain("no file matches policies/*.sts.yaml");
  });

  it("runs as the docs' one-line CI step: npx --yes --package=<tarball> sts-policy check", () => {
    const tarball = join(
      temp,
      "sts-policy",
      readFileSync(join(temp, "sts-policy", "tarball"), "utf8").trim(),
    );
    const r = spawnSync(
      "npx",
      ["--yes", `--package=${tarball}`, "sts-policy", "check", ".github/chainguard/good.sts.yaml"],
      { cwd: workspace, env: stepEnv({ name: "npx" }, {}), encoding: "utf8", timeout: 240_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(".github/chainguard/good.sts.yaml: ok (repository policy, 1 permission)");
  }, 300_000);
});

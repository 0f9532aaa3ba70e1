/**
 * Keeps the README honest offline: every policy example it shows compiles with the real policy engine
 * and grants against the claim set it names; the GitHub App manifest is valid JSON for GitHub's manifest
 * flow with exactly the permissions the README lists, and covers what every example policy grants.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkToken, loadPolicy } from "../../src/trust";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const manifestText = readFileSync(new URL("../../github-app-manifest.json", import.meta.url), "utf8");
const LEVEL: Record<string, number> = { read: 1, write: 2, admin: 3 };

interface Example {
  kind: "repo" | "org";
  claims: string;
  yaml: string;
}

function examples(): Example[] {
  const out: Example[] = [];
  const re = /<!-- policy kind=(repo|org) claims=([\w.-]+\.json) -->\n```yaml\n([\s\S]*?)```/g;
  for (const m of readme.matchAll(re)) {
    out.push({ kind: m[1] as "repo" | "org", claims: m[2] as string, yaml: m[3] as string });
  }
  return out;
}

function readmePermissions(): Record<string, string> {
  const block =
    /<!-- app-permissions:start -->([\s\S]*?)<!-- app-permissions:end -->/.exec(readme)?.[1] ?? "";
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/^\| `([a-z_]+)`\s*\| `(read|write|admin)`\s*\|/gm))
    out[m[1] as string] = m[2] as string;
  return out;
}

describe("README policy examples", () => {
  const all = examples();

  it("shows an example for GitHub Actions (repo and org), GitLab, Buildkite and Kubernetes", () => {
    const sets = all.map((e) => e.claims);
    for (const name of [
      "github-actions-push.json",
      "github-actions-immutable-sub.json",
      "gitlab-ci.json",
      "buildkite.json",
      "kubernetes-serviceaccount.json",
    ]) {
      expect(sets).toContain(name);
    }
    expect(all.some((e) => e.kind === "org")).toBe(true);
  });

  it.each(examples().map((e, i) => [`${i + 1} (${e.kind}, ${e.claims})`, e] as const))(
    "example %s compiles and grants against its claim set",
    (_name, example) => {
      const claims = JSON.parse(
        readFileSync(new URL(`../fixtures/claims/${example.claims}`, import.meta.url), "utf8"),
      ) as Record<string, unknown>;
      const loaded = loadPolicy(example.yaml, example.kind);
      expect(loaded.ok ? [] : loaded.problems).toEqual([]);
      if (!loaded.ok) return;
      expect(loaded.warnings).toEqual([]);
      const grant = checkToken(loaded.policy, claims, "sts.example.com");
      expect(grant.ok ? "granted" : grant.failure).toBe("granted");
    },
  );

  it("the immutable-sub example also grants the name-only sub, and refuses a pull_request run", () => {
    const example = all.find((e) => e.claims === "github-actions-immutable-sub.json") as Example;
    const loaded = loadPolicy(example.yaml, "repo");
    if (!loaded.ok) throw new Error("does not compile");
    const fixture = (name: string) =>
      JSON.parse(readFileSync(new URL(`../fixtures/claims/${name}`, import.meta.url), "utf8"));
    expect(checkToken(loaded.policy, fixture("github-actions-push.json"), "sts.example.com").ok).toBe(true);
    const pr = checkToken(loaded.policy, fixture("github-actions-pull-request.json"), "sts.example.com");
    expect(pr.ok ? "granted" : pr.failure.reason).toBe("SUBJECT_MISMATCH");
  });

  it("every permission an example grants is within the App permissions the README lists", () => {
    const app = readmePermissions();
    for (const example of all) {
      const loaded = loadPolicy(example.yaml, example.kind);
      if (!loaded.ok) throw new Error("does not compile");
      const claims = JSON.parse(
        readFileSync(new URL(`../fixtures/claims/${example.claims}`, import.meta.url), "utf8"),
      );
      const grant = checkToken(loaded.policy, claims, "sts.example.com");
      if (!grant.ok) throw new Error("refused");
      for (const [name, level] of Object.entries(grant.value.permissions)) {
        expect(LEVEL[app[name] ?? ""] ?? 0, `${name}: ${level}`).toBeGreaterThanOrEqual(LEVEL[level] ?? 9);
      }
    }
    // The service itself reads policies with contents: read.
    expect(LEVEL[app.contents ?? ""] ?? 0).toBeGreaterThanOrEqual(1);
  });
});

describe("github-app-manifest.json", () => {
  const manifest = JSON.parse(manifestText) as Record<string, unknown>;

  it("is a GitHub App manifest: private, no active webhook, no events", () => {
    expect(typeof manifest.name).toBe("string");
    expect(String(manifest.url)).toMatch(/^https:\/\//);
    expect(manifest.public).toBe(false);
    expect(manifest.hook_attributes).toMatchObject({ active: false });
    expect(manifest.default_events).toEqual([]);
    expect(String(manifest.redirect_url)).toMatch(/^https?:\/\//);
    const known = [
      "name",
      "url",
      "description",
      "public",
      "redirect_url",
      "callback_urls",
      "setup_url",
      "setup_on_update",
      "request_oauth_on_install",
      "hook_attributes",
      "default_permissions",
      "default_events",
    ];
    for (const key of Object.keys(manifest)) expect(known).toContain(key);
  });

  it("has exactly the permissions the README lists", () => {
    const listed = readmePermissions();
    expect(Object.keys(listed).length).toBeGreaterThan(0);
    expect(manifest.default_permissions).toEqual(listed);
  });

  it("can be pasted into the README's single-quoted HTML attribute", () => {
    expect(manifestText).not.toMatch(/['<>&]/);
    expect(readme).toContain(`value='$(cat github-app-manifest.json)'`);
  });
});

/**
 * Keeps the README and docs/ honest offline: every policy example they show compiles with the real policy
 * engine and grants against the claim set it names; the GitHub App manifest is valid JSON for GitHub's
 * manifest flow with exactly the permissions the docs list for the App (the least the service needs), and
 * every permission an example policy grants is listed among those to add; every relative link between
 * README.md and docs/*.md resolves (file and heading); the headings that code comments cite exist; the code
 * cites no document outside this repository; the refusal table matches the failure catalogue.
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CATALOGUE } from "../../src/errors/catalogue";
import { checkToken, loadPolicy } from "../../src/trust";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const read = (path: string) => readFileSync(resolve(root, path), "utf8");

/** README.md and every docs/*.md, by repository-relative path. */
const pages: ReadonlyMap<string, string> = new Map(
  [
    "README.md",
    ...readdirSync(resolve(root, "docs"))
      .filter((name) => name.endsWith(".md"))
      .sort()
      .map((name) => `docs/${name}`),
  ].map((path) => [path, read(path)]),
);
const readme = pages.get("README.md") as string;
const manifestText = read("github-app-manifest.json");
const LEVEL: Record<string, number> = { read: 1, write: 2, admin: 3 };

interface Example {
  page: string;
  kind: "repo" | "org";
  claims: string;
  yaml: string;
}

function examples(): Example[] {
  const out: Example[] = [];
  const re = /<!-- policy kind=(repo|org) claims=([\w.-]+\.json) -->\n```yaml\n([\s\S]*?)```/g;
  for (const [page, text] of pages) {
    for (const m of text.matchAll(re)) {
      out.push({ page, kind: m[1] as "repo" | "org", claims: m[2] as string, yaml: m[3] as string });
    }
  }
  return out;
}

const APP_PERMISSIONS = /<!-- app-permissions:start -->([\s\S]*?)<!-- app-permissions:end -->/;

/** The pages holding the App permission table (exactly one is expected). */
function appPermissionPages(): string[] {
  return [...pages].filter(([, text]) => APP_PERMISSIONS.test(text)).map(([page]) => page);
}

/** The permissions of a marked table (`<!-- NAME:start -->` … `<!-- NAME:end -->`) of any page. */
function permissionTable(marker: RegExp): Record<string, string> {
  const page = [...pages].find(([, text]) => marker.test(text))?.[0] ?? "README.md";
  const block = marker.exec(pages.get(page) ?? "")?.[1] ?? "";
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/^\| `([a-z_]+)`\s*\| `(read|write|admin)`\s*\|/gm))
    out[m[1] as string] = m[2] as string;
  return out;
}

/** What the App holds (github-app-manifest.json). */
function appPermissions(): Record<string, string> {
  return permissionTable(APP_PERMISSIONS);
}

/** What the docs tell an operator to add for the example policies. */
const POLICY_PERMISSIONS = /<!-- policy-permissions:start -->([\s\S]*?)<!-- policy-permissions:end -->/;

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(read(`test/fixtures/claims/${name}`)) as Record<string, unknown>;
}

/** The text outside fenced code blocks (a `# comment` in a shell block is no heading). */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, "");
}

/** GitHub's heading anchors: lower case, punctuation dropped (not `-` and `_`), each space a `-`. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(text).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = (m[1] as string)
      .toLowerCase()
      .replace(/<[^>]*>/g, "")
      .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The `## ` headings of a page, as written. */
function sections(text: string): string[] {
  return [...prose(text).matchAll(/^###? (.+)$/gm)].map((m) => (m[1] as string).trim());
}

/** The code and configuration of this repository: every text file a citation could sit in. */
function codeFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? walk(resolve(dir, e.name))
        : /\.(ts|mjs|js|json|ya?ml|toml)$/.test(e.name)
          ? [resolve(dir, e.name)]
          : [],
    );
  return [
    ...["src", "test", "scripts", "bench", "bin", "schema"].flatMap((dir) => walk(resolve(root, dir))),
    ...["wrangler.toml", ".dev.vars.example", "package.json", "vitest.config.ts"].map((f) =>
      resolve(root, f),
    ),
  ];
}

/**
 * Citations of documents that are not in this repository (design notes, an issue tracker). Written with
 * `\s` so that this file does not cite them itself.
 */
const OUTSIDE_CITATION =
  /\b(?:decisions|behaviou?r)\s§|\b(?:decisions|behaviou?r|toolchain)\.md\b|\bissue\s\d/;

describe("policy examples in README.md and docs/", () => {
  const all = examples();

  it("show an example for GitHub Actions (repo and org), GitLab, Buildkite and Kubernetes", () => {
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
    // The README keeps a first policy; the reference keeps every kind.
    expect(all.some((e) => e.page === "README.md")).toBe(true);
  });

  it("are all found: every policy marker is followed by a yaml block", () => {
    let markers = 0;
    for (const text of pages.values()) markers += text.match(/<!-- policy kind=/g)?.length ?? 0;
    expect(all.length).toBe(markers);
  });

  it.each(all.map((e, i) => [`${i + 1} (${e.page}, ${e.kind}, ${e.claims})`, e] as const))(
    "example %s compiles and grants against its claim set",
    (_name, example) => {
      const loaded = loadPolicy(example.yaml, example.kind);
      expect(loaded.ok ? [] : loaded.problems).toEqual([]);
      if (!loaded.ok) return;
      expect(loaded.warnings).toEqual([]);
      const grant = checkToken(loaded.policy, fixture(example.claims), "sts.example.com");
      expect(grant.ok ? "granted" : grant.failure).toBe("granted");
    },
  );

  it("the immutable-sub example also grants the name-only sub, and refuses a pull_request run", () => {
    const example = all.find((e) => e.claims === "github-actions-immutable-sub.json") as Example;
    const loaded = loadPolicy(example.yaml, "repo");
    if (!loaded.ok) throw new Error("does not compile");
    expect(checkToken(loaded.policy, fixture("github-actions-push.json"), "sts.example.com").ok).toBe(true);
    const pr = checkToken(loaded.policy, fixture("github-actions-pull-request.json"), "sts.example.com");
    expect(pr.ok ? "granted" : pr.failure.reason).toBe("SUBJECT_MISMATCH");
  });

  it("every permission an example grants is the App's or listed among the permissions to add", () => {
    expect(appPermissionPages()).toHaveLength(1);
    expect([...pages.values()].filter((text) => POLICY_PERMISSIONS.test(text))).toHaveLength(1);
    const held = appPermissions();
    const toAdd = permissionTable(POLICY_PERMISSIONS);
    const app: Record<string, string> = { ...held };
    for (const [name, level] of Object.entries(toAdd)) {
      if ((LEVEL[level] ?? 0) > (LEVEL[app[name] ?? ""] ?? 0)) app[name] = level;
    }
    for (const example of all) {
      const loaded = loadPolicy(example.yaml, example.kind);
      if (!loaded.ok) throw new Error("does not compile");
      const grant = checkToken(loaded.policy, fixture(example.claims), "sts.example.com");
      if (!grant.ok) throw new Error("refused");
      for (const [name, level] of Object.entries(grant.value.permissions)) {
        expect(LEVEL[app[name] ?? ""] ?? 0, `${name}: ${level}`).toBeGreaterThanOrEqual(LEVEL[level] ?? 9);
      }
    }
    // The service itself reads policies with contents: read; the webhook needs checks: write (its check
    // run) and pull_requests: read (a pull request's files). Nothing more: checks is the App's only write
    // permission, and it holds no admin.
    expect(held.contents).toBe("read");
    expect(held.checks).toBe("write");
    expect(held.pull_requests).toBe("read");
    expect(Object.keys(held).filter((name) => held[name] !== "read")).toEqual(["checks"]);
  });
});

describe("github-app-manifest.json", () => {
  const manifest = JSON.parse(manifestText) as Record<string, unknown>;

  it("is a GitHub App manifest: private, its webhook on /webhook with the events the webhook handles", () => {
    expect(typeof manifest.name).toBe("string");
    expect(String(manifest.url)).toMatch(/^https:\/\//);
    expect(manifest.public).toBe(false);
    expect(manifest.hook_attributes).toEqual({ url: "https://sts.example.com/webhook", active: true });
    // installation and installation_repositories reach every App without a subscription (and cannot be
    // subscribed to): the manifest lists the four the App must ask for.
    expect(manifest.default_events).toEqual(["check_run", "check_suite", "pull_request", "push"]);
    for (const event of manifest.default_events as string[]) {
      expect(pages.get("docs/webhook.md") ?? "", event).toContain(`\`${event}\``);
      expect(readme, event).toContain(`\`${event}\``);
    }
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

  it("has exactly the permissions the docs list for the App", () => {
    const listed = appPermissions();
    expect(Object.keys(listed).length).toBeGreaterThan(0);
    expect(manifest.default_permissions).toEqual(listed);
  });

  it("can be pasted into the single-quoted HTML attribute of the manual steps", () => {
    expect(manifestText).not.toMatch(/['<>&]/);
    expect(pages.get("docs/deploying.md")).toContain(`value='$(cat github-app-manifest.json)'`);
  });
});

describe("links and headings of README.md and docs/", () => {
  it("every relative link resolves to a file of this repository, and its #anchor to a heading", () => {
    const broken: string[] = [];
    for (const [page, text] of pages) {
      for (const m of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
        const href = m[1] as string;
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:
        const [path = "", anchor] = href.split("#");
        const target = path === "" ? resolve(root, page) : resolve(root, dirname(page), path);
        const inRepo = relative(root, target);
        if (inRepo.startsWith("..") || !existsSync(target)) {
          broken.push(`${page}: ${href} (no such file in this repository)`);
          continue;
        }
        if (anchor !== undefined && !anchors(readFileSync(target, "utf8")).has(anchor)) {
          broken.push(`${page}: ${href} (no heading with that anchor)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("every docs page is linked from the README", () => {
    for (const page of pages.keys()) {
      if (page !== "README.md") expect(readme).toContain(`](${page})`);
    }
  });

  it("keeps the section headings that code comments cite", () => {
    // Headings cited as `docs/<page>.md, "<heading>"` (or `…, "<heading>" and "<heading>"`) in the code,
    // comments joined across their line breaks.
    const cited = new Map<string, Set<string>>();
    const cite = (page: string, heading: string) => {
      if (!cited.has(page)) cited.set(page, new Set());
      cited.get(page)?.add(heading);
    };
    for (const file of codeFiles()) {
      const text = readFileSync(file, "utf8").replace(/\n\s*(\*|\/\/|#)\s*/g, " ");
      for (const m of text.matchAll(/(docs\/[\w.-]+\.md),((?:,? (?:and )?"[^"\n]+")+)/g)) {
        for (const h of (m[2] as string).matchAll(/"([^"]+)"/g)) cite(m[1] as string, h[1] as string);
      }
    }
    // And the headings this documentation promises to keep stable for such citations.
    for (const [page, headings] of Object.entries({
      "docs/refusals.md": ["Error body", "Evaluation order", "Reasons", "Retry-After", "The audit line"],
      "docs/security.md": ["What is trusted", "Policy files", "Tokens", "Issuer fetches", "Caching"],
      "docs/configuration.md": [
        "Settings",
        "Issuer allowlist",
        "Misconfiguration",
        "GitHub Enterprise Server",
      ],
      "docs/policy-reference.md": ["Fields", "Patterns", "YAML rules", "Examples"],
      "docs/ARCHITECTURE.md": [
        "Request flow",
        "Folders",
        "Rules",
        "Where a new door goes",
        "Where a new check goes",
      ],
      "docs/differences-from-octo-sts.md": ["App JWT", "Tokens are never shared"],
      "docs/webhook.md": [
        "Setup",
        "Signature",
        "Events",
        "What is checked",
        "The check run",
        "Lints",
        "Eviction",
        "Limits",
        "The audit line",
      ],
      "README.md": ["Quick start", "Local development with a real GitHub App"],
    })) {
      for (const heading of headings) cite(page, heading);
    }
    const missing: string[] = [];
    for (const [page, headings] of cited) {
      if (!pages.has(page)) {
        missing.push(`${page} (no such page)`);
        continue;
      }
      const have = sections(pages.get(page) ?? "");
      for (const heading of headings) if (!have.includes(heading)) missing.push(`${page}: "${heading}"`);
    }
    expect(missing).toEqual([]);
  });

  it("names every step of the evaluation order, in order", () => {
    const refusals = pages.get("docs/refusals.md") ?? "";
    const section = /^## Evaluation order\n([\s\S]*?)^## /m.exec(refusals)?.[1] ?? "";
    const steps = [...section.matchAll(/^\| (\d+b?) +\| ([^|]*?) +\|/gm)].map((m) => m[1]);
    expect(steps).toEqual(["1", "2", "3", "4", "5", "6", "6b", "7", "8", "9", "10", "11", "12", "12b", "13"]);
  });

  it("lists the refusal reasons with the status and code the catalogue gives them", () => {
    const refusals = pages.get("docs/refusals.md") ?? "";
    const section = /^## Reasons\n([\s\S]*?)^## /m.exec(refusals)?.[1] ?? "";
    const rows = new Map(
      [...section.matchAll(/^\| `([A-Z_]+)` +\| (\d+) \/ (\d+) +\|/gm)].map((m) => [
        m[1] as string,
        { status: Number(m[2]), code: Number(m[3]) },
      ]),
    );
    // Every row names a reason the catalogue has, with its status and gRPC code.
    const catalogue: Record<string, { status: number; code: number }> = CATALOGUE;
    for (const [reason, row] of rows) {
      const entry = catalogue[reason];
      expect(entry, reason).toBeDefined();
      expect(row, reason).toEqual({ status: entry?.status, code: entry?.code });
    }
    // Every reason of the octo-sts door has a row (a reason added to the catalogue needs one too).
    for (const reason of [
      "NOT_FOUND",
      "METHOD_NOT_ALLOWED",
      "INVALID_REQUEST",
      "MULTIPLE_SCOPES",
      "MISSING_BEARER",
      "MALFORMED_TOKEN",
      "INVALID_ISSUER",
      "ISSUER_NOT_ALLOWED",
      "DISCOVERY_FAILED",
      "TOKEN_EXPIRED",
      "TOKEN_NOT_YET_VALID",
      "SIGNATURE_INVALID",
      "INVALID_TOKEN_CLAIMS",
      "SCOPE_REQUIRED",
      "INVALID_SCOPE",
      "IDENTITY_REQUIRED",
      "INVALID_IDENTITY",
      "NO_INSTALLATION",
      "POLICY_NOT_FOUND",
      "POLICY_FORBIDDEN",
      "RATE_LIMITED",
      "ISSUER_MISMATCH",
      "SUBJECT_MISMATCH",
      "AUDIENCE_MISMATCH",
      "CLAIM_MISMATCH",
      "PERMISSION_NOT_GRANTABLE",
      "GITHUB_UNAVAILABLE",
      "MISCONFIGURED",
      "REFRESH_NOT_SUPPORTED",
      "INTERNAL",
    ]) {
      expect([...rows.keys()], reason).toContain(reason);
    }
  });

  it("refers to nothing outside this repository", () => {
    for (const [page, text] of pages) {
      expect(text, page).not.toMatch(OUTSIDE_CITATION);
      expect(text, page).not.toMatch(/\.\.\/shared|\.\.\/\.\.\//);
    }
  });
});

describe("citations in the code", () => {
  it('name only this repository\'s documents (docs/<page>.md, "<heading>"), never outside notes', () => {
    const found: string[] = [];
    for (const file of codeFiles()) {
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (OUTSIDE_CITATION.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });
});

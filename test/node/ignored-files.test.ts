/**
 * Following the docs never leaves a secret where git or the linter would pick it up: every file a shell
 * step of README.md or docs/*.md writes (`> FILE`, `>> FILE`, `cp … FILE`) is either outside the
 * repository (`~/…`, `$HOME/…`) or git-ignored, and `npm run lint` (biome, which reads .gitignore)
 * passes with such files lying in the working tree.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const PAGES = ["README.md", ...readdirSync(join(ROOT, "docs")).map((name) => `docs/${name}`)].filter((p) =>
  p.endsWith(".md"),
);

/** The files shell steps of the docs write: redirection targets and `cp` destinations. */
function writtenFiles(): { page: string; target: string }[] {
  const out: { page: string; target: string }[] = [];
  for (const page of PAGES) {
    const text = readFileSync(join(ROOT, page), "utf8");
    for (const block of text.matchAll(/^```(?:sh|bash|shell|console)\n([\s\S]*?)^```/gm)) {
      let heredoc: string | undefined;
      for (const line of (block[1] as string).split("\n")) {
        // A here-document's body is data (HTML, a key), not commands.
        if (heredoc !== undefined) {
          if (line.trim() === heredoc) heredoc = undefined;
          continue;
        }
        heredoc = /<<-?\s*['"]?(\w+)['"]?/.exec(line)?.[1];
        const code = line.replace(/^\$ /, "").replace(/\s#.*$/, "");
        for (const m of code.matchAll(/(?:^|[^0-9&<>])>>?\s*("?)([^\s"|;&)]+)\1/g)) {
          out.push({ page, target: m[2] as string });
        }
        const cp = /^\s*cp\s+(?:-\S+\s+)*\S+\s+(\S+)\s*$/.exec(code);
        if (cp) out.push({ page, target: cp[1] as string });
      }
    }
  }
  return out.filter(({ target }) => target !== "/dev/null" && !target.startsWith("&"));
}

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe("files the docs create", () => {
  it("are found (the scan sees the steps that write secrets)", () => {
    const targets = writtenFiles().map((w) => w.target);
    expect(targets).toContain(".dev.vars");
  });

  it("are outside the repository or git-ignored", () => {
    const inRepo = writtenFiles().filter(
      ({ target }) => !/^(~|\$HOME|\$\{HOME\}|\$XDG_CONFIG_HOME|\$\{XDG_CONFIG_HOME)/.test(target),
    );
    const notIgnored = inRepo.filter(({ target }) => {
      const r = spawnSync("git", ["check-ignore", "-q", "--no-index", target], { cwd: ROOT });
      return r.status !== 0;
    });
    expect(notIgnored).toEqual([]);
  });

  it("include the usual secret files, all git-ignored; the committed test keys and the example stay tracked", () => {
    const secrets = [
      ".dev.vars",
      ".dev.vars.production",
      ".env",
      "app.json",
      "app.private-key.pem",
      "github-sts.2026-01-01.private-key.pem",
      "create-app.html",
      "github-sts-worker-0.1.0.tgz",
      "dist-cli/sts-policy.mjs",
    ];
    for (const file of secrets) {
      const r = spawnSync("git", ["check-ignore", "-q", "--no-index", file], { cwd: ROOT });
      expect({ file, ignored: r.status === 0 }).toEqual({ file, ignored: true });
    }
    for (const file of [".dev.vars.example", "test/fixtures/app-key.pkcs1.pem"]) {
      const r = spawnSync("git", ["check-ignore", "-q", "--no-index", file], { cwd: ROOT });
      expect({ file, ignored: r.status === 0 }).toEqual({ file, ignored: false });
    }
  });

  it("do not trip npm run lint: biome skips what .gitignore ignores", () => {
    const dir = mkdtempSync(join(tmpdir(), "sts-lint-"));
    made.push(dir);
    copyFileSync(join(ROOT, "biome.json"), join(dir, "biome.json"));
    copyFileSync(join(ROOT, ".gitignore"), join(dir, ".gitignore"));
    execFileSync("git", ["init", "-q"], { cwd: dir });
    // What GitHub's manifest conversion and the manual steps leave behind, none of it biome-formatted.
    writeFileSync(join(dir, "app.json"), '{"id":1,\n    "pem":"-----BEGIN RSA PRIVATE KEY-----"}');
    writeFileSync(join(dir, "create-app.html"), '<form action="x"   method="post">\n<input  value=\'{}\'>');
    writeFileSync(join(dir, ".dev.vars"), 'GITHUB_APP_PRIVATE_KEY="x"\n');
    writeFileSync(join(dir, "app.private-key.pem"), "-----BEGIN RSA PRIVATE KEY-----\n");
    const biome = join(ROOT, "node_modules", ".bin", "biome");
    const clean = spawnSync(biome, ["check", "."], { cwd: dir, encoding: "utf8" });
    expect(clean.status, clean.stdout + clean.stderr).toBe(0);
    // The control: the same JSON under a name that is not ignored is checked, and fails.
    writeFileSync(join(dir, "other.json"), '{"id":1,\n    "pem":"x"}');
    const control = spawnSync(biome, ["check", "."], { cwd: dir, encoding: "utf8" });
    expect(control.status).not.toBe(0);
    expect(control.stdout + control.stderr).toContain("other.json");
    expect(control.stdout + control.stderr).not.toContain("app.json");
  });
});

/**
 * `POST /webhook` end to end through the Worker (src/endpoints/webhook/), against the GitHub double:
 * the route exists only with GITHUB_WEBHOOK_SECRET; the 25 MiB cap before hashing; every signature
 * refusal (401, no GitHub call, nothing parsed); each event and action; the check run (its body, the
 * annotations at their lines, POST then PATCH past 50); the lints; the budget of 20 files; removed files
 * never read; the organization policy repository; bot senders; a GitHub rate limit; the token's scope;
 * the audit line.
 */

import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { handle } from "../../../src/app";
import { setWebhookAnswerDeadline } from "../../../src/endpoints/webhook";
import { MAX_WEBHOOK_BODY_BYTES } from "../../../src/platform/limits";
import { captureConsole, TEST_DOMAIN, testRuntime } from "../helpers";
import {
  BOT,
  github,
  HUMAN,
  OWNER_ID,
  policy,
  policyPath,
  REPO_ID,
  repository,
  SECRET,
  sha,
  signatureOf,
  webhookLines,
  world,
  ZERO,
} from "./webhook-world";

const output = captureConsole();

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

const HEAD = sha(0xbeef);
const GOOD = policy();
const BROKEN = `issuer: https://token.actions.githubusercontent.com
subject: repo:org@${OWNER_ID}/repo@${REPO_ID}:ref:refs/heads/main
permision:
  contents: read
`;

/** org/repo with `foo` on main and `head` files at HEAD, pull request 7 from HEAD. */
function prRepo(head: Record<string, string>, main: Record<string, string> = { [policyPath("foo")]: GOOD }) {
  return { "org/repo": { files: main, refs: { [HEAD]: head }, pulls: { "7": { head: HEAD } } } };
}

async function body(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe("the route", () => {
  it("does not exist without GITHUB_WEBHOOK_SECRET: 404 for every method, like an unknown path", async () => {
    const rt = testRuntime();
    for (const method of ["POST", "GET", "PUT"]) {
      const ctx = createExecutionContext();
      const response = await handle(new Request(`https://${TEST_DOMAIN}/webhook`, { method }), rt, ctx);
      await waitOnExecutionContext(ctx);
      expect(response.status).toBe(404);
      expect(await body(response)).toMatchObject({ code: 5, message: "Not Found" });
    }
    // A secret of only separators is no secret.
    const blank = testRuntime({ GITHUB_WEBHOOK_SECRET: " , " });
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/webhook`, { method: "POST" }),
      blank,
      createExecutionContext(),
    );
    expect(response.status).toBe(404);
  });

  it("with a secret, other methods are METHOD_NOT_ALLOWED (501) from the route table", async () => {
    const rt = testRuntime({ GITHUB_WEBHOOK_SECRET: SECRET });
    for (const method of ["GET", "PUT", "DELETE"]) {
      const response = await handle(
        new Request(`https://${TEST_DOMAIN}/webhook`, { method }),
        rt,
        createExecutionContext(),
      );
      expect(response.status).toBe(501);
      expect(await body(response)).toMatchObject({ code: 12, message: "Method Not Allowed" });
    }
  });

  it("ping → 200, with one audit line naming the delivery and the secret that matched", async () => {
    const w = await world({ "org/repo": {} });
    const response = await w.post("ping", { zen: "Keep it logically awesome.", hook_id: 1 });
    expect(response.status).toBe(200);
    expect(await body(response)).toEqual({ conclusion: "ping" });
    const [line] = webhookLines(output.lines);
    expect(line).toMatchObject({ event: "ping", conclusion: "ping", status: 200, secret_index: 1 });
    expect(typeof line?.delivery).toBe("string");
    expect(output.lines.join("\n")).not.toContain(SECRET);
    expect(await w.calls()).toEqual([]);
  });
});

describe("signatures", () => {
  const payload = { action: "opened", number: 7, repository: repository(), sender: HUMAN };

  async function refused(response: Response, calls: () => Promise<unknown[]>) {
    expect(response.status).toBe(401);
    const b = await body(response);
    expect(b).toMatchObject({ code: 16, message: "no matching secrets" });
    expect((b.details as { reason: string }[])[0]?.reason).toBe("WEBHOOK_SIGNATURE_INVALID");
    expect(await calls()).toEqual([]);
  }

  it("none, a wrong secret, a changed body, a re-serialised body, SHA-1 only, a malformed header → 401, no GitHub call", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: BROKEN }));
    const text = JSON.stringify(payload, null, 2);
    const good = await signatureOf(SECRET, text);
    await refused(await w.post("pull_request", payload, { secret: null, body: text }), w.calls);
    await refused(await w.post("pull_request", payload, { secret: "another secret", body: text }), w.calls);
    await refused(await w.post("pull_request", payload, { body: `${text} `, signature: good }), w.calls);
    // Same JSON value, other bytes: the signature is over the raw body.
    await refused(
      await w.post("pull_request", payload, { body: JSON.stringify(payload), signature: good }),
      w.calls,
    );
    const sha1Only = { "X-Hub-Signature": "sha1=0123456789abcdef0123456789abcdef01234567" };
    await refused(
      await w.post("pull_request", payload, { secret: null, body: text, headers: sha1Only }),
      w.calls,
    );
    for (const malformed of [
      good.replace("sha256=", "sha1="),
      good.slice(0, -2),
      `${good}00`,
      good.replace("sha256=", ""),
      `${good.slice(0, 20)}-${good.slice(21)}`,
      "sha256=",
      "",
    ]) {
      await refused(await w.post("pull_request", payload, { body: text, signature: malformed }), w.calls);
    }
    const lines = webhookLines(output.lines);
    expect(lines).toHaveLength(12);
    expect(lines.every((l) => l.conclusion === "refused" && l.status === 401)).toBe(true);
    expect(lines[4]?.detail).toContain("SHA-1");
  });

  it("the second secret of a rotation is accepted; so is an upper-case hex signature", async () => {
    const w = await world({ "org/repo": {} }, { env: { GITHUB_WEBHOOK_SECRET: `old-secret, ${SECRET}` } });
    const response = await w.post("ping", { zen: "z" });
    expect(response.status).toBe(200);
    expect(webhookLines(output.lines)[0]?.secret_index).toBe(2);
    const text = JSON.stringify({ zen: "z" });
    const upper = (await signatureOf("old-secret", text)).replace(/[0-9a-f]+$/, (h) => h.toUpperCase());
    expect((await w.post("ping", {}, { body: text, signature: upper })).status).toBe(200);
    expect(webhookLines(output.lines)[1]?.secret_index).toBe(1);
  });

  it("a signed body that is not a JSON object → 400, no GitHub call", async () => {
    const w = await world({ "org/repo": {} });
    for (const text of ["not json", "[1,2]", "null"]) {
      const response = await w.post("push", {}, { body: text });
      expect(response.status).toBe(400);
      expect((await body(response)).message).toBe("webhook payload is not a JSON object");
    }
    expect(await w.calls()).toEqual([]);
  });

  it("a form-encoded delivery (payload=…) is read too", async () => {
    const w = await world({ "org/repo": {} });
    const text = new URLSearchParams({ payload: JSON.stringify({ zen: "z" }) }).toString();
    const response = await w.post(
      "ping",
      {},
      {
        body: text,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      },
    );
    expect(response.status).toBe(200);
  });
});

describe("the size cap (25 MiB, before hashing)", () => {
  /** A body of `mib` MiB streamed in 1 MiB chunks, counting how many were pulled. */
  function stream(mib: number) {
    const pulled = { chunks: 0 };
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled.chunks >= mib) return controller.close();
        pulled.chunks++;
        controller.enqueue(chunk);
      },
    });
    return { readable, pulled };
  }

  async function send(rt: ReturnType<typeof testRuntime>, init: RequestInit) {
    const ctx = createExecutionContext();
    const response = await handle(new Request(`https://${TEST_DOMAIN}/webhook`, init), rt, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  it("a body over the cap is refused 413 once the cap is passed, without reading on or any GitHub call", async () => {
    const w = await world({ "org/repo": {} });
    const { readable, pulled } = stream(40);
    const digest = vi.spyOn(crypto.subtle, "verify");
    const response = await send(w.rt, {
      method: "POST",
      body: readable,
      headers: { "X-Hub-Signature-256": await signatureOf(SECRET, "x"), "X-GitHub-Event": "push" },
    });
    expect(response.status).toBe(413);
    expect(await body(response)).toMatchObject({ code: 3, message: "webhook payload too large" });
    expect(pulled.chunks).toBeLessThanOrEqual(MAX_WEBHOOK_BODY_BYTES / (1024 * 1024) + 2);
    expect(digest).not.toHaveBeenCalled();
    expect(await w.calls()).toEqual([]);
    expect(webhookLines(output.lines)[0]).toMatchObject({
      conclusion: "refused",
      status: 413,
      reason: "WEBHOOK_TOO_LARGE",
    });
  });

  it("a Content-Length over the cap is refused at once, nothing read", async () => {
    const w = await world({ "org/repo": {} });
    const { readable, pulled } = stream(1);
    const response = await send(w.rt, {
      method: "POST",
      body: readable,
      headers: { "Content-Length": String(MAX_WEBHOOK_BODY_BYTES + 1), "X-GitHub-Event": "push" },
    });
    expect(response.status).toBe(413);
    expect(pulled.chunks).toBeLessThanOrEqual(1);
  });

  it("a body of exactly the cap is read and then judged by its signature", async () => {
    const w = await world({ "org/repo": {} });
    const { readable } = stream(MAX_WEBHOOK_BODY_BYTES / (1024 * 1024));
    const response = await send(w.rt, {
      method: "POST",
      body: readable,
      headers: { "X-Hub-Signature-256": await signatureOf(SECRET, "x"), "X-GitHub-Event": "push" },
    });
    expect(response.status).toBe(401);
  });
});

describe("pull_request", () => {
  it("opened: reads the changed policies at the head, posts one failing check run with an annotation at the line", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: BROKEN, "README.md": "hi" }));
    const response = await w.pullRequest("opened", 7, HEAD);
    expect(response.status).toBe(200);
    const runs = await w.checkRuns();
    expect(runs).toHaveLength(1);
    const run = runs[0];
    expect(run?.created).toMatchObject({
      name: "Trust Policy Validation",
      head_sha: HEAD,
      external_id: HEAD,
      status: "completed",
      conclusion: "failure",
      output: { title: "Invalid trust policy." },
    });
    const created = run?.created as { started_at: string; completed_at: string; output: { summary: string } };
    expect(created.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(created.completed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(created.output.summary).toContain("Failed to validate trust policy.");
    expect(created.output.summary).toContain(policyPath("foo"));
    expect(created.output.summary).toContain(
      '3:1: unknown key "permision" in a repository policy: did you mean "permissions"?',
    );
    expect(run?.annotations).toEqual([
      {
        path: policyPath("foo"),
        start_line: 3,
        end_line: 3,
        annotation_level: "failure",
        title: "Invalid trust policy",
        message: 'unknown key "permision" in a repository policy: did you mean "permissions"?',
      },
    ]);
    expect(await body(response)).toEqual({ conclusion: "failure", check_run_id: run?.id });
    const calls = (await w.calls()).map((c) => `${c.method} ${c.path} ${c.status}`);
    expect(calls).toEqual([
      `POST /app/installations/${w.installationId}/access_tokens 201`,
      "GET /repos/org/repo/pulls/7/files?per_page=100&page=1 200",
      `GET /app/installations/${w.installationId} 200`,
      `GET /repos/org/repo/contents/.github/chainguard/foo.sts.yaml?ref=${HEAD} 200`,
      "POST /repos/org/repo/check-runs 201",
      "DELETE /installation/token 204",
    ]);
    const [token] = await w.tokens();
    expect(token).toMatchObject({
      repositories: ["repo"],
      permissions: { contents: "read", checks: "write", pull_requests: "read" },
      revoked: true,
    });
    const [line] = webhookLines(output.lines);
    expect(line).toMatchObject({
      event: "pull_request",
      action: "opened",
      repository: "org/repo",
      files: [policyPath("foo")],
      conclusion: "failure",
      failures: 1,
      check_run_id: run?.id,
      status: 200,
      evictions: [],
    });
    expect(output.lines.join("\n")).not.toContain(token?.token as string);
  });

  it("synchronize and reopened validate too; a fixed policy gets a success with an empty summary", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: GOOD }, { [policyPath("foo")]: BROKEN }));
    for (const action of ["synchronize", "reopened"]) {
      expect((await w.pullRequest(action, 7, HEAD)).status).toBe(200);
    }
    const runs = await w.checkRuns();
    expect(runs.map((r) => r.created.conclusion)).toEqual(["success", "success"]);
    expect(runs[0]?.created.output).toEqual({ title: "Valid trust policy.", summary: "" });
  });

  it("other actions are 202 with no GitHub call", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: BROKEN }));
    for (const action of ["closed", "labeled", "edited", "assigned", "ready_for_review"]) {
      const response = await w.pullRequest(action, 7, HEAD);
      expect(response.status).toBe(202);
    }
    expect(await w.calls()).toEqual([]);
  });

  it("no validated file changed → no check run", async () => {
    const w = await world(
      prRepo({ [policyPath("foo")]: GOOD, "src/x.ts": "x", ".github/workflows/ci.yaml": "on: push" }),
    );
    const response = await w.pullRequest("opened", 7, HEAD);
    expect(response.status).toBe(200);
    expect(await body(response)).toEqual({ conclusion: "none" });
    expect(await w.checkRuns()).toEqual([]);
    expect((await w.calls()).some((c) => c.path.includes("/contents/"))).toBe(false);
  });
});

describe("which files: octo-sts's validator", () => {
  it("reads every page of a pull request's files (past 100), one level of .github/chainguard only, removed files never", async () => {
    const head: Record<string, string> = {};
    for (let i = 0; i < 150; i++) head[`src/file-${String(i).padStart(3, "0")}.ts`] = "x";
    head[policyPath("zz-late")] = BROKEN; // sorts after every src/ file: on page 2
    head[".github/chainguard/sub/deep.sts.yaml"] = BROKEN;
    const main = { [policyPath("gone")]: GOOD };
    const w = await world(prRepo(head, main));
    const response = await w.pullRequest("opened", 7, HEAD);
    expect(response.status).toBe(200);
    const calls = await w.calls();
    expect(calls.filter((c) => c.path.includes("/pulls/7/files")).map((c) => c.path)).toEqual([
      "/repos/org/repo/pulls/7/files?per_page=100&page=1",
      "/repos/org/repo/pulls/7/files?per_page=100&page=2",
    ]);
    const reads = calls.filter((c) => c.path.includes("/contents/")).map((c) => c.path);
    expect(reads).toEqual([`/repos/org/repo/contents/.github/chainguard/zz-late.sts.yaml?ref=${HEAD}`]);
    const [run] = await w.checkRuns();
    expect(run?.created.conclusion).toBe("failure");
    // The subfolder's file is never read by the exchange either: a warning, not a validation.
    expect(run?.annotations.map((a) => [a.path, a.annotation_level, a.title])).toEqual([
      [policyPath("zz-late"), "failure", "Invalid trust policy"],
      [".github/chainguard/sub/deep.sts.yaml", "warning", "File never read"],
    ]);
    expect(webhookLines(output.lines)[0]?.files).toEqual([policyPath("zz-late")]);
  });

  it("a policy that parses but does not compile fails, annotated at the pattern's line", async () => {
    const uncompilable = `# a comment
issuer: ${"https://token.actions.githubusercontent.com"}
subject_pattern: repo:org/repo:ref:refs/heads/(main
permissions:
  contents: read
`;
    const w = await world(prRepo({ [policyPath("foo")]: uncompilable }));
    await w.pullRequest("opened", 7, HEAD);
    const [run] = await w.checkRuns();
    expect(run?.created.conclusion).toBe("failure");
    const failures = run?.annotations.filter((a) => a.annotation_level === "failure") ?? [];
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ path: policyPath("foo"), start_line: 3, end_line: 3 });
    expect(String(failures[0]?.message)).toMatch(/^invalid subject_pattern: /);
  });

  it("annotations sit at the lines of the file: several problems, each at its own line, in the summary by file", async () => {
    const text = `issuer: ${"https://token.actions.githubusercontent.com"}
subject: repo:org@${OWNER_ID}/repo@${REPO_ID}:ref:refs/heads/main

permissions:
  pull-requests: write
  contents: writ
claim_patern:
  ref: main
`;
    const w = await world(prRepo({ [policyPath("a")]: text, [policyPath("b")]: BROKEN }));
    await w.pullRequest("opened", 7, HEAD);
    const [run] = await w.checkRuns();
    expect(run?.annotations.map((a) => [a.path, a.start_line, a.message])).toEqual([
      [policyPath("a"), 5, 'unknown permission "pull-requests": did you mean "pull_requests"?'],
      [policyPath("a"), 6, 'permissions.contents must be read, write or admin, not "writ"'],
      [
        policyPath("a"),
        7,
        'unknown key "claim_patern" in a repository policy: did you mean "claim_pattern"?',
      ],
      [policyPath("b"), 3, 'unknown key "permision" in a repository policy: did you mean "permissions"?'],
    ]);
    const lines = text.split("\n");
    for (const a of run?.annotations ?? []) {
      if (a.path === policyPath("a")) {
        const key = String(a.message).match(/"([^"]+)"/)?.[1] ?? "";
        const onLine = lines[(a.start_line as number) - 1] ?? "";
        expect(onLine.includes(key) || onLine.includes("contents"), `${a.message} at ${onLine}`).toBe(true);
      }
    }
    const summary = String((run?.created.output as { summary?: string } | undefined)?.summary);
    expect(summary.indexOf(policyPath("a"))).toBeLessThan(summary.indexOf(policyPath("b")));
    expect(summary).toContain('5:3: unknown permission "pull-requests"');
  });

  it("an added file is read; a removed one never, in a pull request and in a push", async () => {
    const w = await world({
      "org/repo": {
        files: { [policyPath("old")]: GOOD, [policyPath("keep")]: GOOD },
        refs: { [HEAD]: { [policyPath("keep")]: GOOD, [policyPath("new")]: BROKEN } },
        pulls: { "7": { head: HEAD } },
      },
    });
    await w.pullRequest("opened", 7, HEAD);
    await w.push({
      ref: "refs/heads/feature",
      after: HEAD,
      commits: [{ added: [policyPath("new")], removed: [policyPath("old")] }],
    });
    const reads = (await w.calls()).filter((c) => c.path.includes("/contents/")).map((c) => c.path);
    expect(reads).toEqual([
      `/repos/org/repo/contents/.github/chainguard/new.sts.yaml?ref=${HEAD}`,
      `/repos/org/repo/contents/.github/chainguard/new.sts.yaml?ref=${HEAD}`,
    ]);
    expect((await w.checkRuns()).map((r) => r.created.conclusion)).toEqual(["failure", "failure"]);
  });

  it("a file added and removed again within one push is not read (the last commit says)", async () => {
    const w = await world({ "org/repo": { files: {}, refs: { [HEAD]: {} } } });
    const response = await w.push({
      ref: "refs/heads/feature",
      after: HEAD,
      commits: [{ added: [policyPath("tmp")] }, { removed: [policyPath("tmp")] }],
    });
    expect(await body(response)).toEqual({ conclusion: "none" });
    expect(await w.calls()).toEqual([]);
  });
});

describe("the organization policy repository", () => {
  const ORG = `issuer: ${"https://token.actions.githubusercontent.com"}
subject_pattern: repo:org@${OWNER_ID}/[a-z-]+@[0-9]+:ref:refs/heads/main
repositories:
  - repo
permissions:
  issues: write
`;
  const ISSUERS_BAD = "mode: enforce\nissuers:\n  - https://Token.Actions.GitHubUserContent.com\n";
  const ISSUERS_GOOD = `issuers:\n  - ${"https://token.actions.githubusercontent.com"}\n`;

  function orgRepo(name: string, head: Record<string, string>) {
    return { [`org/${name}`]: { files: {}, refs: { [HEAD]: head }, pulls: { "7": { head: HEAD } } } };
  }
  const pr = (w: Awaited<ReturnType<typeof world>>, name: string) =>
    w.post("pull_request", {
      action: "opened",
      number: 7,
      pull_request: { number: 7, head: { sha: HEAD } },
      repository: repository(name),
      installation: { id: w.installationId },
      sender: HUMAN,
    });

  it("policies in ORG_POLICY_REPO (matched case-insensitively) are organization policies: repositories is allowed", async () => {
    const w = await world(orgRepo(".GitHub", { [policyPath("triage")]: ORG }));
    await pr(w, ".GitHub");
    const [run] = await w.checkRuns();
    expect(run?.created.conclusion).toBe("success");
  });

  it("the same file in another repository is a repository policy: repositories fails", async () => {
    const w = await world(orgRepo("repo", { [policyPath("triage")]: ORG }));
    await pr(w, "repo");
    const [run] = await w.checkRuns();
    expect(run?.created.conclusion).toBe("failure");
    expect(String(run?.annotations[0]?.message)).toContain(
      "repositories is only allowed in an organization policy",
    );
  });

  it("the trusted-issuer file is validated in ORG_POLICY_REPO with the exchange's parser", async () => {
    const w = await world(
      orgRepo(".github", { ".github/chainguard/trusted-token-issuers.yaml": ISSUERS_BAD }),
    );
    await pr(w, ".github");
    const [run] = await w.checkRuns();
    expect(run?.created.conclusion).toBe("failure");
    expect(run?.annotations[0]).toMatchObject({
      path: ".github/chainguard/trusted-token-issuers.yaml",
      start_line: 3,
      annotation_level: "failure",
      title: "Invalid trusted-issuer file",
    });
    expect(String(run?.annotations[0]?.message)).toContain("lowercase");

    const fixed = await world(
      orgRepo(".github", { ".github/chainguard/trusted-token-issuers.yaml": ISSUERS_GOOD }),
    );
    await pr(fixed, ".github");
    expect((await fixed.checkRuns())[0]?.created.conclusion).toBe("success");
  });

  it("ORG_POLICY_REPO is a setting: another name moves both rules", async () => {
    const w = await world(
      orgRepo("policies", { ".github/chainguard/trusted-token-issuers.yaml": ISSUERS_BAD }),
      {
        env: { ORG_POLICY_REPO: "policies" },
      },
    );
    await pr(w, "policies");
    expect((await w.checkRuns())[0]?.created.conclusion).toBe("failure");
  });

  it("in any other repository the trusted-issuer file is not validated: alone it posts nothing", async () => {
    const w = await world(orgRepo("repo", { ".github/chainguard/trusted-token-issuers.yaml": ISSUERS_BAD }));
    const response = await pr(w, "repo");
    expect(await body(response)).toEqual({ conclusion: "none" });
    expect(await w.checkRuns()).toEqual([]);
  });
});

describe("check_suite and check_run", () => {
  const BEFORE = sha(0xb0);

  function suiteRepo(head: Record<string, string>, before: Record<string, string> = {}) {
    return {
      "org/repo": {
        files: { [policyPath("foo")]: GOOD },
        refs: { [HEAD]: head, [BEFORE]: before },
        pulls: {
          "7": { head: HEAD },
          "8": { head: HEAD, files: [{ filename: policyPath("pr8"), status: "added" as const }] },
        },
      },
    };
  }
  const suite = (
    w: Awaited<ReturnType<typeof world>>,
    event: string,
    action: string,
    s: Record<string, unknown>,
    sender = HUMAN,
  ) => {
    const checkSuite = {
      id: 1,
      head_sha: HEAD,
      head_branch: "feature",
      before: BEFORE,
      after: HEAD,
      pull_requests: [],
      ...s,
    };
    return w.post(event, {
      action,
      ...(event === "check_suite"
        ? { check_suite: checkSuite }
        : { check_run: { id: 9, head_sha: HEAD, check_suite: checkSuite } }),
      repository: repository(),
      installation: { id: w.installationId },
      sender,
    });
  };

  it("requested: compares before...head, adds every pull request's files, posts one run at the head", async () => {
    const w = await world(
      suiteRepo(
        { [policyPath("changed")]: BROKEN, [policyPath("pr8")]: GOOD, [policyPath("same")]: GOOD },
        { [policyPath("changed")]: GOOD, [policyPath("same")]: GOOD },
      ),
    );
    const response = await suite(w, "check_suite", "requested", { pull_requests: [{ number: 8 }] });
    expect(response.status).toBe(200);
    const paths = (await w.calls()).map((c) => `${c.method} ${c.path}`);
    expect(paths).toContain(`GET /repos/org/repo/compare/${BEFORE}...${HEAD}`);
    expect(paths).toContain("GET /repos/org/repo/pulls/8/files?per_page=100&page=1");
    expect(webhookLines(output.lines)[0]?.files).toEqual([policyPath("changed"), policyPath("pr8")]);
    const [run] = await w.checkRuns();
    expect(run?.created).toMatchObject({ head_sha: HEAD, conclusion: "failure" });
  });

  it("rerequested check_suite and rerequested check_run (its check_suite) validate too", async () => {
    const w = await world(suiteRepo({ [policyPath("changed")]: GOOD }, {}));
    expect((await suite(w, "check_suite", "rerequested", {})).status).toBe(200);
    expect((await suite(w, "check_run", "rerequested", {})).status).toBe(200);
    expect((await w.checkRuns()).map((r) => r.created.conclusion)).toEqual(["success", "success"]);
  });

  it("other actions (completed; check_run created, completed, requested_action) are 202, no GitHub call", async () => {
    const w = await world(suiteRepo({ [policyPath("changed")]: GOOD }));
    expect((await suite(w, "check_suite", "completed", {})).status).toBe(202);
    for (const action of ["created", "completed", "requested_action"]) {
      expect((await suite(w, "check_run", action, {})).status).toBe(202);
    }
    expect(await w.calls()).toEqual([]);
  });

  it("a bot sender is skipped (202) before any GitHub call: the loop guard", async () => {
    const w = await world(suiteRepo({ [policyPath("changed")]: BROKEN }));
    expect((await suite(w, "check_suite", "requested", {}, BOT)).status).toBe(202);
    expect((await suite(w, "check_run", "rerequested", {}, BOT)).status).toBe(202);
    expect(await w.calls()).toEqual([]);
    expect(webhookLines(output.lines).map((l) => l.detail)).toEqual(["sender is a bot", "sender is a bot"]);
  });

  it("a new branch (zero before): the default branch lists .github/chainguard at the head (files only)", async () => {
    const w = await world(
      suiteRepo({
        [policyPath("a")]: GOOD,
        [policyPath("b")]: BROKEN,
        ".github/chainguard/README.md": "docs",
        ".github/chainguard/dir.sts.yaml/x": "a directory named like a policy",
      }),
    );
    await suite(w, "check_suite", "requested", { before: ZERO, head_branch: "main" });
    const paths = (await w.calls()).map((c) => c.path);
    expect(paths).toContain(`/repos/org/repo/contents/.github/chainguard?ref=${HEAD}`);
    expect(webhookLines(output.lines)[0]?.files).toEqual([policyPath("a"), policyPath("b")]);
    expect((await w.checkRuns())[0]?.created.conclusion).toBe("failure");
  });

  it("a new branch other than the default without pull requests is skipped; with one it is listed", async () => {
    const w = await world(suiteRepo({ [policyPath("a")]: BROKEN }));
    const skipped = await suite(w, "check_suite", "requested", { before: ZERO, head_branch: "feature" });
    expect(skipped.status).toBe(202);
    expect(await w.calls()).toEqual([]);
    await suite(w, "check_suite", "requested", {
      before: ZERO,
      head_branch: "feature",
      pull_requests: [{ number: 7 }],
    });
    expect((await w.checkRuns())[0]?.created.conclusion).toBe("failure");
  });
});

describe("push", () => {
  it("fewer than 20 commits: the payload's added and modified files, read at after, one run there", async () => {
    const AFTER = sha(0xaf);
    const w = await world({
      "org/repo": { files: {}, refs: { [AFTER]: { [policyPath("a")]: BROKEN, [policyPath("b")]: GOOD } } },
    });
    const response = await w.push({
      ref: "refs/heads/feature",
      after: AFTER,
      commits: [{ added: [policyPath("a")] }, { modified: [policyPath("b"), "README.md"] }],
    });
    expect(response.status).toBe(200);
    const calls = await w.calls();
    expect(calls.some((c) => c.path.includes("/compare/"))).toBe(false);
    expect(webhookLines(output.lines)[0]?.files).toEqual([policyPath("a"), policyPath("b")]);
    expect((await w.checkRuns())[0]?.created).toMatchObject({ head_sha: AFTER, conclusion: "failure" });
  });

  it("20 commits or more: compares before...after", async () => {
    const BEFORE = sha(0xb0);
    const AFTER = sha(0xaf);
    const w = await world({
      "org/repo": {
        files: {},
        refs: { [BEFORE]: { [policyPath("a")]: GOOD }, [AFTER]: { [policyPath("a")]: BROKEN } },
      },
    });
    const commits = Array.from({ length: 20 }, () => ({ modified: ["README.md"] }));
    await w.push({ ref: "refs/heads/feature", before: BEFORE, after: AFTER, commits });
    expect((await w.calls()).map((c) => c.path)).toContain(`/repos/org/repo/compare/${BEFORE}...${AFTER}`);
    expect((await w.checkRuns())[0]?.created.conclusion).toBe("failure");
  });

  it("a deleted branch (zero after) posts nothing; a bot's push posts nothing", async () => {
    const w = await world({ "org/repo": { files: {}, refs: { [HEAD]: { [policyPath("a")]: BROKEN } } } });
    await w.push({ ref: "refs/heads/feature", after: ZERO, commits: [] });
    await w.push({
      ref: "refs/heads/feature",
      after: HEAD,
      commits: [{ added: [policyPath("a")] }],
      sender: BOT,
    });
    await w.pullRequest("opened", 7, HEAD, { sender: BOT });
    expect(await w.calls()).toEqual([]);
    expect(await w.checkRuns()).toEqual([]);
  });
});

describe("events that only evict, and the rest", () => {
  it("unknown events are 202 with nothing done", async () => {
    const w = await world({ "org/repo": {} });
    for (const event of ["issues", "star", "workflow_run", ""]) {
      const response = await w.post(event, { action: "created", repository: repository() });
      expect(response.status).toBe(202);
    }
    expect(await w.calls()).toEqual([]);
  });
});

describe("lints: warnings that do not fail the run", () => {
  it("a name-only Actions subject (with the exact immutable form), a regex-looking exact subject, a YAML file never read, a permission not granted", async () => {
    const nameOnly = `issuer: ${"https://token.actions.githubusercontent.com"}
subject: repo:org/repo:ref:refs/heads/main
permissions:
  contents: read
`;
    const globby = `issuer: ${"https://token.actions.githubusercontent.com"}
subject: repo:org@${OWNER_ID}/repo@${REPO_ID}:ref:refs/heads/*
permissions:
  contents: read
`;
    const tooMuch = `issuer: ${"https://token.actions.githubusercontent.com"}
subject: repo:org@${OWNER_ID}/repo@${REPO_ID}:ref:refs/heads/main
permissions:
  contents: read
  administration: write
  issues: admin
`;
    const w = await world(
      prRepo({
        [policyPath("name-only")]: nameOnly,
        [policyPath("globby")]: globby,
        [policyPath("too-much")]: tooMuch,
        ".github/chainguard/release.sts.yml": GOOD,
        ".github/chainguard/notes.yaml": "x: 1",
      }),
      {
        permissions: {
          contents: "write",
          issues: "write",
          metadata: "read",
          checks: "write",
          pull_requests: "read",
        },
      },
    );
    await w.pullRequest("opened", 7, HEAD);
    const [run] = await w.checkRuns();
    expect(run?.created.conclusion).toBe("success");
    const output = run?.created.output as { summary: string; text: string };
    expect(output.summary).toBe("");
    const byPath = (p: string) => (run?.annotations ?? []).filter((a) => a.path === p);
    expect(byPath(policyPath("name-only"))).toEqual([
      expect.objectContaining({
        start_line: 2,
        annotation_level: "warning",
        title: "Repository pinned by name only",
      }),
    ]);
    const hint = String(byPath(policyPath("name-only"))[0]?.message);
    expect(hint).toContain(`subject: repo:org@${OWNER_ID}/repo@${REPO_ID}:…`);
    expect(hint).toContain(`subject_pattern: repo:org(@${OWNER_ID})?/repo(@${REPO_ID})?:…`);
    expect(byPath(policyPath("globby"))).toEqual([
      expect.objectContaining({ start_line: 2, annotation_level: "warning", title: "Trust policy warning" }),
    ]);
    expect(String(byPath(policyPath("globby"))[0]?.message)).toContain("looks like a pattern");
    expect(byPath(policyPath("too-much")).map((a) => [a.start_line, a.title])).toEqual([
      [5, "Permission not granted"],
      [6, "Permission not granted"],
    ]);
    expect(String(byPath(policyPath("too-much"))[0]?.message)).toContain(
      "was not granted administration: write (it has no administration permission)",
    );
    expect(String(byPath(policyPath("too-much"))[1]?.message)).toContain(
      "issues: admin (it has issues: write)",
    );
    expect(byPath(".github/chainguard/release.sts.yml")).toEqual([
      expect.objectContaining({ start_line: 1, annotation_level: "warning", title: "File never read" }),
    ]);
    expect(String(byPath(".github/chainguard/release.sts.yml")[0]?.message)).toContain(
      "did you mean .github/chainguard/release.sts.yaml?",
    );
    expect(byPath(".github/chainguard/notes.yaml")).toHaveLength(1);
    expect(output.text).toContain("Warnings (they do not fail this check):");
    // The installation's permissions are read once per delivery, with the App JWT.
    const reads = (await w.calls()).filter((c) => c.path === `/app/installations/${w.installationId}`);
    expect(reads).toHaveLength(1);
    expect(reads[0]?.headers.authorization).toMatch(/^bearer ey/i);
  });
});

describe("limits", () => {
  it("more than 20 validated files: the first 20 are checked, the rest named as not checked", async () => {
    const head: Record<string, string> = {};
    for (let i = 1; i <= 23; i++) head[policyPath(`p${String(i).padStart(2, "0")}`)] = GOOD;
    const w = await world(prRepo(head));
    await w.pullRequest("opened", 7, HEAD);
    const reads = (await w.calls()).filter((c) => c.path.includes("/contents/"));
    expect(reads).toHaveLength(20);
    const [run] = await w.checkRuns();
    expect(run?.created.conclusion).toBe("success");
    const text = String((run?.created.output as { text?: string } | undefined)?.text);
    expect(text).toContain("Not checked (one delivery validates at most 20 files)");
    for (const n of ["p21", "p22", "p23"]) expect(text).toContain(policyPath(n));
    expect(run?.annotations.filter((a) => a.title === "Not checked").map((a) => a.path)).toEqual(
      ["p21", "p22", "p23"].map(policyPath),
    );
    expect(webhookLines(output.lines)[0]?.unchecked).toEqual(["p21", "p22", "p23"].map(policyPath));
  });

  it("more than 50 annotations: 50 with the POST, the rest by PATCH in batches of 50", async () => {
    const many = `${Array.from({ length: 120 }, (_, i) => `unknown_${i}: x`).join("\n")}\n`;
    const w = await world(prRepo({ [policyPath("many")]: many }));
    await w.pullRequest("opened", 7, HEAD);
    const [run] = await w.checkRuns();
    expect((run?.created.output as { annotations?: unknown[] } | undefined)?.annotations).toHaveLength(50);
    expect(run?.updates.map((u) => (u.output as { annotations: unknown[] }).annotations.length)).toEqual([
      50, 20,
    ]);
    expect(run?.annotations).toHaveLength(120);
    expect(run?.annotations.map((a) => a.start_line)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const calls = (await w.calls()).map((c) => `${c.method} ${c.path}`);
    expect(calls.filter((c) => c.startsWith("PATCH"))).toEqual([
      `PATCH /repos/org/repo/check-runs/${run?.id}`,
      `PATCH /repos/org/repo/check-runs/${run?.id}`,
    ]);
  });
});

describe("GitHub refusing", () => {
  it("a rate limit while validating: acknowledged 200, no check run, logged; the token still revoked", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: BROKEN, [policyPath("bar")]: BROKEN }));
    await github.addFault(w.id, {
      path: "/repos/org/repo/contents/**",
      answer: "too-many-requests",
      times: 1,
    });
    const response = await w.pullRequest("opened", 7, HEAD);
    expect(response.status).toBe(200);
    expect(await body(response)).toEqual({ conclusion: "rate-limited" });
    expect(await w.checkRuns()).toEqual([]);
    expect(webhookLines(output.lines)[0]).toMatchObject({ conclusion: "rate-limited", status: 200 });
    expect((await w.tokens()).every((t) => t.revoked)).toBe(true);
  });

  it("a rate limit on the pull request's files, or on the check run, is acknowledged the same way", async () => {
    for (const path of ["/repos/org/repo/pulls/7/files", "/repos/org/repo/check-runs"]) {
      const w = await world(prRepo({ [policyPath("foo")]: BROKEN }));
      await github.addFault(w.id, { path, answer: "rate-limited" });
      const response = await w.pullRequest("opened", 7, HEAD);
      expect(response.status).toBe(200);
      expect(await w.checkRuns()).toEqual([]);
    }
  });

  it("GitHub unavailable (5xx after the retries) → 503 GITHUB_UNAVAILABLE, no check run", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: BROKEN }));
    await github.addFault(w.id, { path: "/repos/org/repo/pulls/7/files", answer: "server-error" });
    const response = await w.pullRequest("opened", 7, HEAD);
    expect(response.status).toBe(503);
    expect((await body(response)).message).toBe("GitHub unavailable");
    expect(await w.checkRuns()).toEqual([]);
  });

  it("an installation that cannot grant checks:write is logged (200), nothing posted", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: BROKEN }), {
      permissions: { contents: "read", metadata: "read", pull_requests: "read" },
    });
    const response = await w.pullRequest("opened", 7, HEAD);
    expect(response.status).toBe(200);
    expect(await body(response)).toEqual({ conclusion: "not-permitted" });
    expect(webhookLines(output.lines)[0]?.detail).toContain("checks:write");
  });
});

describe("GitHub's 10 s", () => {
  it("a delivery still at work at the deadline is answered 202 and finishes in the background", async () => {
    const w = await world(prRepo({ [policyPath("foo")]: BROKEN }));
    setWebhookAnswerDeadline(w.rt, 200);
    await github.addFault(w.id, { path: "/repos/org/repo/pulls/7/files", answer: "hold", times: 1 });
    const text = JSON.stringify({
      action: "opened",
      number: 7,
      pull_request: { number: 7, head: { sha: HEAD } },
      repository: repository(),
      installation: { id: w.installationId },
      sender: HUMAN,
    });
    const ctx = createExecutionContext();
    const response = await handle(
      new Request(`https://${TEST_DOMAIN}/webhook`, {
        method: "POST",
        body: text,
        headers: { "X-GitHub-Event": "pull_request", "X-Hub-Signature-256": await signatureOf(SECRET, text) },
      }),
      w.rt,
      ctx,
    );
    expect(response.status).toBe(202);
    expect(await body(response)).toEqual({ conclusion: "accepted" });
    expect(await w.checkRuns()).toEqual([]);
    expect(await github.release(w.id)).toBe(1);
    await waitOnExecutionContext(ctx);
    expect((await w.checkRuns())[0]?.created.conclusion).toBe("failure");
    expect(webhookLines(output.lines)).toEqual([
      expect.objectContaining({ conclusion: "failure", status: 202, answered_early: true }),
    ]);
  });
});

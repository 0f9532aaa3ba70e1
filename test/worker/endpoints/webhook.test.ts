/**
 * `POST /webhook` end to end through the Worker (src/endpoints/webhook/), against the GitHub double:
 * the route exists only with GITHUB_WEBHOOK_SECRET; the 25 MiB cap before hashing; every signature
 * refusal (401, no GitHub call, nothing parsed); each event and action; the check run (its body, the
 * annotations at their lines, POST then PATCH past 50); the lints; the budget of 20 files; removed files
 * never read; the organization policy repository; bot senders; a GitHub rate limit; the token's scope;
 * the audit line.
 */

import { createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handle } from "../../../src/app";
import { MAX_WEBHOOK_BODY_BYTES } from "../../../src/platform/limits";
import { TEST_DOMAIN, testRuntime } from "../helpers";
import {
  BOT,
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

let logs: string[];

beforeEach(() => {
  logs = [];
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logs.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
});

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
    const [line] = webhookLines(logs);
    expect(line).toMatchObject({ event: "ping", conclusion: "ping", status: 200, secret_index: 1 });
    expect(typeof line?.delivery).toBe("string");
    expect(logs.join("\n")).not.toContain(SECRET);
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
    const lines = webhookLines(logs);
    expect(lines).toHaveLength(12);
    expect(lines.every((l) => l.conclusion === "refused" && l.status === 401)).toBe(true);
    expect(lines[4]?.detail).toContain("SHA-1");
  });

  it("the second secret of a rotation is accepted; so is an upper-case hex signature", async () => {
    const w = await world({ "org/repo": {} }, { env: { GITHUB_WEBHOOK_SECRET: `old-secret, ${SECRET}` } });
    const response = await w.post("ping", { zen: "z" });
    expect(response.status).toBe(200);
    expect(webhookLines(logs)[0]?.secret_index).toBe(2);
    const text = JSON.stringify({ zen: "z" });
    const upper = (await signatureOf("old-secret", text)).replace(/[0-9a-f]+$/, (h) => h.toUpperCase());
    expect((await w.post("ping", {}, { body: text, signature: upper })).status).toBe(200);
    expect(webhookLines(logs)[1]?.secret_index).toBe(1);
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
    expect(webhookLines(logs)[0]).toMatchObject({
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
    const [line] = webhookLines(logs);
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
    expect(logs.join("\n")).not.toContain(token?.token as string);
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

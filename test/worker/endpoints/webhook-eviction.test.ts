/**
 * What the webhook does to the caches (docs/webhook.md, "Eviction"): a push to the default branch
 * evicts every cached copy (isolate memory and KV; fresh, stale and the remembered 404) of each
 * changed, added or removed policy and of the trusted-issuer file, so an exchange right after the push
 * mints the new permissions, from the isolate that took the delivery and from a new isolate over the same
 * KV; a push to another branch evicts nothing; a read that started before an eviction never writes its
 * result back over it (held open by the double while the push is delivered); a pull request's head
 * never decides an exchange; installation events forget the owner's cached installation.
 */

import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { findInstallation, lookupPolicy } from "../../../src/github";
import type { ManualClock } from "../../../src/platform/clock";
import { POLICY_MEMORY_TTL_MS } from "../../../src/platform/limits";
import type { Runtime } from "../../../src/platform/runtime";
import { captureConsole } from "../helpers";
import {
  github,
  HUMAN,
  policy,
  policyPath,
  repository,
  sha,
  type World,
  webhookLines,
  world,
} from "./webhook-world";

const output = captureConsole();

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

const FOO = policyPath("foo");
const V1 = policy("contents: read");
const V2 = policy("contents: write");
const AFTER = sha(0xaf);

/** org/repo with policy foo at V1 on main. */
async function fooWorld(): Promise<World> {
  return world({ "org/repo": { files: { [FOO]: V1 }, refs: {} } });
}

/** Changes foo on main to `text` (null: deletes it) as a merge would, with the commit AFTER. */
async function merge(w: World, text: string | null, repo = "org/repo", path = FOO): Promise<void> {
  await github.setFile(w.id, repo, path, text);
  await github.setRef(w.id, repo, AFTER, text === null ? {} : { [path]: text });
}

const contentReads = async (w: World) =>
  (await w.calls()).filter((c) => c.path.startsWith("/repos/org/repo/contents/") && !c.path.includes("?ref="))
    .length;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("a push to the default branch", () => {
  it("evicts the policy: the same isolate and a new isolate over the same KV mint the new permissions at once", async () => {
    const w = await fooWorld();
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "read" });
    const warmOther = w.newIsolate();
    expect((await w.exchange("foo", warmOther)).permissions).toEqual({ contents: "read" });
    // Cached now: in both isolates' memory and in KV.
    await merge(w, V2);
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "read" });

    const response = await w.push({ after: AFTER, commits: [{ modified: [FOO] }] });
    expect(response.status).toBe(200);
    expect(webhookLines(output.lines)[0]).toMatchObject({
      evictions: ["policy org/repo foo"],
      conclusion: "success",
    });

    expect((await w.exchange("foo")).permissions).toEqual({ contents: "write" });
    expect((await w.exchange("foo", w.newIsolate())).permissions).toEqual({ contents: "write" });
    // An isolate that already held a memory copy keeps it for at most the memory TTL.
    expect((await w.exchange("foo", warmOther)).permissions).toEqual({ contents: "read" });
    (warmOther.clock as ManualClock).advance(POLICY_MEMORY_TTL_MS + 1);
    expect((await w.exchange("foo", warmOther)).permissions).toEqual({ contents: "write" });
  });

  it("evicts the stale copy too: a rate-limited read after the push is refused, not served the old text", async () => {
    const w = await fooWorld();
    await w.exchange("foo");
    await merge(w, V2);
    await w.push({ after: AFTER, commits: [{ modified: [FOO] }] });
    await github.addFault(w.id, {
      method: "GET",
      path: `/repos/org/repo/contents/${FOO}`,
      answer: "too-many-requests",
    });
    expect((await w.exchange("foo")).status).toBe(429);
  });

  it("evicts a removed policy (then 404) and the remembered 404 of an added one", async () => {
    const w = await fooWorld();
    expect((await w.exchange("foo")).status).toBe(200);
    expect((await w.exchange("bar")).status).toBe(404); // remembered 5 minutes
    await github.setFile(w.id, "org/repo", FOO, null);
    await github.setFile(w.id, "org/repo", policyPath("bar"), V2);
    await github.setRef(w.id, "org/repo", AFTER, { [policyPath("bar")]: V2 });
    await w.push({ after: AFTER, commits: [{ removed: [FOO] }, { added: [policyPath("bar")] }] });
    expect(webhookLines(output.lines)[0]?.evictions).toEqual(["policy org/repo foo", "policy org/repo bar"]);
    expect((await w.exchange("foo")).status).toBe(404);
    expect((await w.exchange("bar")).permissions).toEqual({ contents: "write" });
  });

  it("20 commits or more: evicts what the comparison lists", async () => {
    const BEFORE = sha(0xb0);
    const w = await world({ "org/repo": { files: { [FOO]: V1 }, refs: { [BEFORE]: { [FOO]: V1 } } } });
    await w.exchange("foo");
    await merge(w, V2);
    const commits = Array.from({ length: 25 }, () => ({ modified: ["README.md"] }));
    await w.push({ before: BEFORE, after: AFTER, commits });
    expect(webhookLines(output.lines)[0]?.evictions).toEqual(["policy org/repo foo"]);
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "write" });
  });

  it("a bot's push to the default branch still evicts (no check run)", async () => {
    const w = await fooWorld();
    await w.exchange("foo");
    await merge(w, V2);
    const response = await w.push({
      after: AFTER,
      commits: [{ modified: [FOO] }],
      sender: { login: "github-merge-queue[bot]", id: 9, type: "Bot" },
    });
    expect(response.status).toBe(200);
    expect(await w.checkRuns()).toEqual([]);
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "write" });
  });

  it("a bot's push of 20 commits or more is compared to evict what it changed (still no check run)", async () => {
    const BEFORE = sha(0xb0);
    const w = await world({ "org/repo": { files: { [FOO]: V1 }, refs: { [BEFORE]: { [FOO]: V1 } } } });
    await w.exchange("foo");
    await merge(w, V2);
    const commits = Array.from({ length: 25 }, () => ({ modified: ["README.md"] }));
    const bot = { login: "github-merge-queue[bot]", id: 9, type: "Bot" };
    await w.push({ before: BEFORE, after: AFTER, commits, sender: bot });
    expect(webhookLines(output.lines)[0]).toMatchObject({
      conclusion: "evicted",
      evictions: ["policy org/repo foo"],
    });
    expect(await w.checkRuns()).toEqual([]);
    // With a token of its own: contents:read on the one repository, revoked after.
    const compare = (await w.calls()).find((c) => c.path === `/repos/org/repo/compare/${BEFORE}...${AFTER}`);
    const used = (await w.tokens()).find((t) => compare?.headers.authorization === `token ${t.token}`);
    expect(used).toMatchObject({ repositories: ["repo"], permissions: { contents: "read" }, revoked: true });
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "write" });
  });

  it("a push to another branch evicts nothing: the exchange keeps the cached default-branch text", async () => {
    const w = await fooWorld();
    await w.exchange("foo");
    await merge(w, V2);
    const before = await contentReads(w);
    await w.push({ ref: "refs/heads/feature", after: AFTER, commits: [{ modified: [FOO] }] });
    expect(webhookLines(output.lines)[0]?.evictions).toEqual([]);
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "read" });
    expect((await w.exchange("foo", w.newIsolate())).permissions).toEqual({ contents: "read" });
    expect(await contentReads(w)).toBe(before);
  });
});

describe("the trusted-issuer file", () => {
  const ISSUERS = ".github/chainguard/trusted-token-issuers.yaml";
  const OTHER_ONLY = "issuers:\n  - https://some-other-idp.example.com\n";
  const ACTIONS_TOO =
    "issuers:\n  - https://some-other-idp.example.com\n  - https://token.actions.githubusercontent.com\n";

  async function orgWorld(file: string): Promise<World> {
    return world({ "org/repo": { files: { [FOO]: V1 } }, "org/.github": { files: { [ISSUERS]: file } } });
  }

  it("a push to ORG_POLICY_REPO's default branch evicts it: the next exchange follows the new file", async () => {
    const w = await orgWorld(OTHER_ONLY);
    expect((await w.exchange("foo")).status).toBe(403);
    await merge(w, ACTIONS_TOO, "org/.github", ISSUERS);
    expect((await w.exchange("foo")).status).toBe(403);
    await w.push({ repo: ".github", after: AFTER, commits: [{ modified: [ISSUERS] }] });
    expect(webhookLines(output.lines)[0]?.evictions).toEqual(["org-issuers org"]);
    expect((await w.exchange("foo")).status).toBe(200);
    expect((await w.exchange("foo", w.newIsolate())).status).toBe(200);
  });

  it("keeps the last-known-good copy: an invalid file merged after a good one does not refuse", async () => {
    const w = await orgWorld(ACTIONS_TOO);
    expect((await w.exchange("foo")).status).toBe(200);
    await merge(w, "issuers: []\n", "org/.github", ISSUERS);
    await w.push({ repo: ".github", after: AFTER, commits: [{ modified: [ISSUERS] }] });
    expect((await w.checkRuns())[0]?.created.conclusion).toBe("failure");
    expect((await w.exchange("foo")).status).toBe(200);
  });

  it("in another repository the same path evicts nothing", async () => {
    const w = await orgWorld(OTHER_ONLY);
    await w.exchange("foo");
    await w.push({ after: AFTER, commits: [{ modified: [ISSUERS] }] });
    expect(webhookLines(output.lines)[0]?.evictions).toEqual([]);
  });

  it("a lookup held open across the eviction stores nothing, and no later lookup joins it", async () => {
    const w = await orgWorld(OTHER_ONLY);
    await github.addFault(w.id, {
      method: "GET",
      path: `/repos/org/.github/contents/${ISSUERS}`,
      answer: "hold",
      times: 1,
    });
    const slow = w.exchange("foo");
    await until(async () => (await github.held(w.id)) === 1, "the held trusted-issuer read");
    await merge(w, ACTIONS_TOO, "org/.github", ISSUERS);
    await w.push({ repo: ".github", after: AFTER, commits: [{ modified: [ISSUERS] }] });
    // Before the held read is released, a new lookup reads the new file itself.
    expect((await w.exchange("foo")).status).toBe(200);
    expect(await github.release(w.id)).toBe(1);
    expect((await slow).status).toBe(403); // it started before the eviction, with the old file
    expect((await w.exchange("foo")).status).toBe(200);
    expect((await w.exchange("foo", w.newIsolate())).status).toBe(200);
  });
});

describe("a read that started before an eviction never writes its result back over it", () => {
  async function race(w: World, reader: Runtime, pusher: Runtime): Promise<void> {
    await github.addFault(w.id, {
      method: "GET",
      path: `/repos/org/repo/contents/${FOO}`,
      answer: "hold",
      times: 1,
    });
    const slow = w.exchange("foo", reader);
    await until(async () => (await github.held(w.id)) === 1, "the held policy read");
    await merge(w, V2);
    const pushed = await w.post(
      "push",
      {
        ref: "refs/heads/main",
        before: sha(1),
        after: AFTER,
        commits: [{ id: sha(2), added: [], modified: [FOO], removed: [] }],
        repository: repository(),
        installation: { id: w.installationId },
        sender: HUMAN,
      },
      { rt: pusher },
    );
    expect(pushed.status).toBe(200);
    expect(await github.release(w.id)).toBe(1);
    // The held read answers with the text GitHub had when it was asked.
    expect((await slow).permissions).toEqual({ contents: "read" });
    expect((await w.exchange("foo", reader)).permissions).toEqual({ contents: "write" });
    expect((await w.exchange("foo", pusher)).permissions).toEqual({ contents: "write" });
    expect((await w.exchange("foo", w.newIsolate())).permissions).toEqual({ contents: "write" });
  }

  it("in the isolate that took the delivery", async () => {
    const w = await fooWorld();
    await race(w, w.rt, w.rt);
  });

  it("in another isolate (the eviction's marker in KV)", async () => {
    const w = await fooWorld();
    await race(w, w.newIsolate(), w.rt);
  });
});

describe("a pull request's head", () => {
  it("is never cached and never decides an exchange: the default branch's policy does", async () => {
    const HEAD = sha(0xbeef);
    const w = await world({
      "org/repo": {
        files: { [FOO]: V1 },
        refs: { [HEAD]: { [FOO]: policy("administration: write") } },
        pulls: { "7": { head: HEAD } },
      },
    });
    const response = await w.pullRequest("opened", 7, HEAD);
    expect(response.status).toBe(200);
    expect((await w.checkRuns())[0]?.created.conclusion).toBe("success");
    expect(await lookupPolicy(w.rt, "org", "repo", "foo")).toEqual({ state: "unknown" });
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "read" });
    expect((await w.exchange("foo", w.newIsolate())).permissions).toEqual({ contents: "read" });
  });
});

describe("installation events", () => {
  const lookups = async (w: World) =>
    (await w.calls()).filter((c) => c.path === "/orgs/org/installation").length;

  async function send(w: World, event: string, action: string) {
    return w.post(event, {
      action,
      installation: { id: w.installationId, account: { login: "org", id: 4001, type: "Organization" } },
      ...(event === "installation_repositories" ? { repositories_added: [], repositories_removed: [] } : {}),
      sender: HUMAN,
    });
  }

  it("every action forgets the owner's cached installation (found)", async () => {
    const w = await fooWorld();
    const cases: [string, string][] = [
      ["installation", "created"],
      ["installation", "deleted"],
      ["installation", "suspend"],
      ["installation", "unsuspend"],
      ["installation", "new_permissions_accepted"],
      ["installation_repositories", "added"],
      ["installation_repositories", "removed"],
    ];
    for (const [event, action] of cases) {
      expect((await findInstallation(w.rt, "org")).ok).toBe(true);
      const before = await lookups(w);
      expect((await findInstallation(w.rt, "org")).ok).toBe(true);
      expect(await lookups(w)).toBe(before); // cached
      const response = await send(w, event, action);
      expect(response.status).toBe(200);
      expect((await findInstallation(w.rt, "org")).ok).toBe(true);
      expect(await lookups(w), `${event} ${action}`).toBe(before + 1);
    }
    const lines = webhookLines(output.lines);
    expect(lines).toHaveLength(cases.length);
    expect(lines.every((l) => JSON.stringify(l.evictions) === '["installation org"]')).toBe(true);
  });

  it("a remembered 'not installed' is forgotten when the App is installed", async () => {
    const w = await fooWorld();
    await github.uninstall(w.id, "org");
    expect((await w.exchange("foo")).status).toBe(404); // NO_INSTALLATION, remembered 5 minutes
    const { installationId } = await github.reinstall(w.id, "org");
    expect((await w.exchange("foo")).status).toBe(404);
    const response = await w.post("installation", {
      action: "created",
      installation: { id: installationId, account: { login: "org", id: 4001, type: "Organization" } },
      sender: HUMAN,
    });
    expect(response.status).toBe(200);
    expect((await w.exchange("foo")).permissions).toEqual({ contents: "read" });
    expect((await w.exchange("foo", w.newIsolate())).permissions).toEqual({ contents: "read" });
  });
});

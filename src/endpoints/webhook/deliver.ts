/**
 * @module endpoints/webhook/deliver
 * What a verified delivery does, per event (docs/webhook.md, "Events"):
 *
 * - `pull_request` (`opened`, `synchronize`, `reopened`): the pull request's changed files, every page;
 * - `check_suite` (`requested`, `rerequested`) and `check_run` (`rerequested`): for a new branch (a zero
 *   `before`) the `.github/chainguard` directory at the head (nothing for a branch other than the
 *   default without pull requests), else the comparison `before...head`; plus every pull request's files;
 * - `push`: the files of the payload's commits (fewer than 20), else the comparison `before...after`;
 *   on the default branch first the cached copies of every changed, added or removed policy and
 *   trusted-issuer file are evicted;
 * - `installation`, `installation_repositories`: the owner's cached installation is forgotten;
 * - `ping`: nothing; anything else: nothing (202).
 *
 * The files checked are octo-sts's ({@link isValidatedPath}), read at the head SHA through the contents
 * capability with the delivery's own least-privilege token (`contents: read`, `checks: write`,
 * `pull_requests: read` on that one repository, revoked when the delivery is done), never through the
 * stores and never cached: a policy nobody merged never decides an exchange. They are judged by the
 * exchange's own engine, linted, and reported as one check run. Senders whose login ends in `[bot]`
 * never get a check run (the loop guard); a GitHub rate limit is acknowledged without one.
 */

import { type Failure, failure } from "../../errors/catalogue";
import {
  evictOrgIssuers,
  evictPolicy,
  forgetInstallation,
  type Installation,
  installationPermissions,
  type Waiter,
} from "../../github";
import {
  type ApiFault,
  type ApiResult,
  type ChangedFile,
  compareFiles,
  type Listing,
  listDirectory,
  listPullFiles,
  type PageBudget,
} from "../../github/changes";
import { createCheckRun, updateCheckRun } from "../../github/checks";
import { readFileWith, type TokenScope, withReadToken } from "../../github/contents";
import type { Config } from "../../platform/config";
import {
  MAX_POLICY_BYTES,
  MAX_WEBHOOK_LIST_PAGES,
  MAX_WEBHOOK_VALIDATED_FILES,
  WEBHOOK_PUSH_PAYLOAD_COMMITS,
} from "../../platform/limits";
import type { Runtime } from "../../platform/runtime";
import {
  type Lint,
  lintPolicy,
  loadPolicy,
  type PolicyKind,
  type PolicyProblem,
  parseTrustedIssuers,
} from "../../trust";
import type { WebhookAudit } from "./audit";
import {
  isOrgPolicyRepo,
  isTrustedIssuersPath,
  isValidatedPath,
  neverReadReason,
  policyIdentity,
} from "./paths";
import {
  type Common,
  checkSuiteOf,
  commonOf,
  installationAccountOf,
  isBot,
  pullRequestOf,
  pushOf,
  ZERO_SHA,
} from "./payload";
import { buildReport, createBody, type Finding, updateBody } from "./report";

export interface Delivery {
  rt: Runtime;
  ctx: Waiter;
  config: Config;
  audit: WebhookAudit;
  /** `X-GitHub-Event`. */
  event: string;
  payload: unknown;
}

/** What a delivery came to: an answer (200 done, 202 nothing to do), or a failure to render. */
export type Outcome =
  | { status: 200 | 202; conclusion: string; detail?: string; checkRunId?: number }
  | { status: "failed"; conclusion: string; failure: Failure };

/** The least privilege a delivery needs, on the one repository it is about. */
const TOKEN_PERMISSIONS = { contents: "read", checks: "write", pull_requests: "read" } as const;

const PULL_REQUEST_ACTIONS = new Set(["opened", "synchronize", "reopened"]);
const CHECK_SUITE_ACTIONS = new Set(["requested", "rerequested"]);
const CHECK_RUN_ACTIONS = new Set(["rerequested"]);

const skip = (detail: string): Outcome => ({ status: 202, conclusion: "skipped", detail });

export async function deliver(d: Delivery): Promise<Outcome> {
  const common = commonOf(d.payload);
  const { audit } = d;
  if (common.action !== undefined) audit.set("action", common.action);
  if (common.repository !== undefined) audit.set("repository", common.repository.fullName);
  if (common.sender !== undefined) audit.set("sender", common.sender);
  if (common.installationId !== undefined) audit.set("installation_id", common.installationId);
  switch (d.event) {
    case "ping":
      return { status: 200, conclusion: "ping" };
    case "installation":
    case "installation_repositories":
      return onInstallation(d);
    case "pull_request":
      return onPullRequest(d, common);
    case "check_suite":
    case "check_run":
      return onCheckSuite(d, common, d.event);
    case "push":
      return onPush(d, common);
    default:
      return skip(`event ${d.event || "(none)"} is not handled`);
  }
}

// ---- events -------------------------------------------------------------------------------------

async function onInstallation(d: Delivery): Promise<Outcome> {
  const account = installationAccountOf(d.payload);
  if (account === undefined) return skip("no installation account in the payload");
  // Found or not found, the cached answer for this owner is stale now.
  await forgetInstallation(d.rt, account);
  d.audit.evicted(`installation ${account}`);
  return { status: 200, conclusion: "evicted" };
}

async function onPullRequest(d: Delivery, common: Common): Promise<Outcome> {
  if (!PULL_REQUEST_ACTIONS.has(common.action ?? "")) {
    return skip(`pull_request action ${common.action ?? "(none)"} cannot change the files`);
  }
  if (isBot(common.sender)) return skip("sender is a bot");
  const pr = pullRequestOf(d.payload);
  const number = pr.number;
  const target = targetOf(d, common, pr.headSha);
  if (target === undefined || number === undefined)
    return skip("no repository, installation or pull request");
  return validate(d, target, (token, pages) =>
    listPullFiles(d.rt, token, target.owner, target.repo, number, pages),
  );
}

async function onCheckSuite(
  d: Delivery,
  common: Common,
  event: "check_suite" | "check_run",
): Promise<Outcome> {
  const actions = event === "check_suite" ? CHECK_SUITE_ACTIONS : CHECK_RUN_ACTIONS;
  if (!actions.has(common.action ?? "")) return skip(`${event} action ${common.action ?? "(none)"}`);
  if (isBot(common.sender)) return skip("sender is a bot");
  const suite = checkSuiteOf(event, d.payload);
  const target = targetOf(d, common, suite.headSha);
  if (target === undefined) return skip("no repository, installation or head SHA");
  const newBranch = suite.before === undefined || suite.before === ZERO_SHA;
  if (newBranch && suite.headBranch !== common.repository?.defaultBranch && suite.pullNumbers.length === 0) {
    return skip("a new branch other than the default, without pull requests");
  }
  const { rt } = d;
  const { owner, repo, sha } = target;
  return validate(d, target, async (token, pages) => {
    const files: ChangedFile[] = [];
    let truncated = false;
    if (newBranch) {
      const listed = await listDirectory(rt, token, owner, repo, ".github/chainguard", sha, pages);
      if (!listed.ok) return listed;
      for (const entry of listed.value) {
        if (entry.type === "file") files.push({ filename: entry.path, status: "added" });
      }
    } else {
      const compared = await compareFiles(rt, token, owner, repo, suite.before as string, sha, pages);
      if (!compared.ok) return compared;
      files.push(...compared.value.files);
      truncated ||= compared.value.truncated;
    }
    for (const number of suite.pullNumbers) {
      const listed = await listPullFiles(rt, token, owner, repo, number, pages);
      if (!listed.ok) return listed;
      files.push(...listed.value.files);
      truncated ||= listed.value.truncated;
    }
    return { ok: true, value: { files, truncated } };
  });
}

async function onPush(d: Delivery, common: Common): Promise<Outcome> {
  const push = pushOf(d.payload);
  const repository = common.repository;
  if (repository === undefined) return skip("no repository");
  const onDefault =
    repository.defaultBranch !== undefined && push.ref === `refs/heads/${repository.defaultBranch}`;
  // The net change of each path over the pushed commits, in order: the last commit that touched it says.
  const touched = new Map<string, "present" | "removed">();
  for (const commit of push.commits) {
    for (const path of [...commit.added, ...commit.modified]) touched.set(path, "present");
    for (const path of commit.removed) touched.set(path, "removed");
  }
  // Eviction needs no GitHub call: it happens first, whatever follows (a bot, a rate limit).
  const evicted = new Set<string>();
  if (onDefault) await evictPaths(d, repository.owner, repository.name, [...touched.keys()], evicted);
  const nothing = (detail: string): Outcome =>
    evicted.size > 0 ? { status: 200, conclusion: "evicted", detail } : skip(detail);
  const target = targetOf(d, common, push.after);
  if (target === undefined || push.after === ZERO_SHA) {
    return nothing(isBot(common.sender) ? "sender is a bot" : "no installation, or a deleted branch");
  }
  const fromPayload =
    push.commits.length < WEBHOOK_PUSH_PAYLOAD_COMMITS ||
    push.before === undefined ||
    push.before === ZERO_SHA;
  if (isBot(common.sender)) {
    // No check run for a bot (the loop guard), but a long push to the default branch is still compared,
    // so that everything it changed is evicted (a merge queue pushes as a bot).
    if (onDefault && !fromPayload) await evictByComparison(d, target, push.before as string, evicted);
    return nothing("sender is a bot");
  }
  if (fromPayload) {
    const files = [...touched].map(
      ([filename, state]): ChangedFile => ({
        filename,
        status: state === "removed" ? "removed" : "modified",
      }),
    );
    const outcome = await validate(d, target, undefined, { files, truncated: false });
    return outcome.status === 200 && outcome.conclusion === "none" && evicted.size > 0
      ? { ...outcome, conclusion: "evicted" }
      : outcome;
  }
  const before = push.before as string;
  return validate(d, target, async (token, pages) => {
    const compared = await compareFiles(d.rt, token, target.owner, target.repo, before, target.sha, pages);
    if (compared.ok && onDefault) {
      await evictPaths(d, target.owner, target.repo, changedPaths(compared.value.files), evicted);
    }
    return compared;
  });
}

/** Compares `before...` the target's SHA with a `contents: read` token and evicts what it lists. */
async function evictByComparison(d: Delivery, target: Target, before: string, evicted: Set<string>) {
  const scope: TokenScope = {
    repositories: [target.repo],
    permissions: { contents: "read" },
    what: "webhook eviction",
  };
  const used = await withReadToken(d.rt, d.ctx, target.owner, target.installation, scope, (token) =>
    compareFiles(d.rt, token, target.owner, target.repo, before, target.sha, { left: 1 }),
  );
  if (!used.ok || !used.value.ok) return;
  await evictPaths(d, target.owner, target.repo, changedPaths(used.value.value.files), evicted);
}

/** Every path a listing names, renamed files by their old name too. */
function changedPaths(files: ChangedFile[]): string[] {
  return files.flatMap((f) =>
    f.previousFilename === undefined ? [f.filename] : [f.filename, f.previousFilename],
  );
}

/** Evicts the cached copies of every policy and trusted-issuer file among `paths` (once each). */
async function evictPaths(
  d: Delivery,
  owner: string,
  repo: string,
  paths: string[],
  done: Set<string>,
): Promise<void> {
  for (const path of paths) {
    if (done.has(path)) continue;
    const identity = policyIdentity(path);
    if (identity !== undefined && identity !== "") {
      done.add(path);
      await evictPolicy(d.rt, owner, repo, identity);
      d.audit.evicted(`policy ${owner}/${repo} ${identity}`);
    } else if (isTrustedIssuersPath(repo, path, d.config.orgPolicyRepo)) {
      done.add(path);
      await evictOrgIssuers(d.rt, owner);
      d.audit.evicted(`org-issuers ${owner}`);
    }
  }
}

// ---- validation ---------------------------------------------------------------------------------

interface Target {
  owner: string;
  repo: string;
  ownerId: number | undefined;
  repoId: number | undefined;
  installation: Installation;
  /** The commit the files are read at and the check run is posted on. */
  sha: string;
  kind: PolicyKind;
}

function targetOf(d: Delivery, common: Common, sha: string | undefined): Target | undefined {
  const repository = common.repository;
  if (repository === undefined || common.installationId === undefined || sha === undefined) return undefined;
  d.audit.set("head_sha", sha);
  return {
    owner: repository.owner,
    repo: repository.name,
    ownerId: repository.ownerId,
    repoId: repository.id,
    installation: { id: common.installationId, accountType: repository.accountType },
    sha,
    kind: isOrgPolicyRepo(repository.name, d.config.orgPolicyRepo) ? "org" : "repo",
  };
}

type Collector = (token: string, pages: PageBudget) => Promise<ApiResult<Listing>>;

function fromFault(fault: ApiFault): Outcome {
  switch (fault.kind) {
    case "rate-limited":
      // Acknowledged: a failed delivery would only be sent again into the same limit.
      return { status: 200, conclusion: "rate-limited", detail: fault.detail };
    case "unavailable":
      return {
        status: "failed",
        conclusion: "unavailable",
        failure: failure("GITHUB_UNAVAILABLE", {}, fault.detail),
      };
    case "refused":
      return { status: 200, conclusion: "error", detail: fault.detail };
  }
}

/** The validated files of a listing (removed ones skipped), sorted and once each, as octo-sts does. */
function validatedOf(files: ChangedFile[], repo: string, orgPolicyRepo: string): string[] {
  const paths = files
    .filter((f) => f.status !== "removed" && isValidatedPath(repo, f.filename, orgPolicyRepo))
    .map((f) => f.filename);
  return [...new Set(paths)].sort();
}

/**
 * Lists the changed files (with `collect`, or the `known` listing), and when a validated file is among
 * them reads, judges and reports them as one check run, all with one token minted for the delivery.
 */
async function validate(d: Delivery, target: Target, collect?: Collector, known?: Listing): Promise<Outcome> {
  if (known !== undefined && validatedOf(known.files, target.repo, d.config.orgPolicyRepo).length === 0) {
    return { status: 200, conclusion: "none" };
  }
  const scope: TokenScope = {
    repositories: [target.repo],
    permissions: { ...TOKEN_PERMISSIONS },
    what: "webhook",
  };
  const started = d.rt.clock.now();
  const used = await withReadToken(d.rt, d.ctx, target.owner, target.installation, scope, async (token) => {
    let listing = known;
    if (listing === undefined && collect !== undefined) {
      const listed = await collect(token, { left: MAX_WEBHOOK_LIST_PAGES });
      if (!listed.ok) return fromFault(listed.fault);
      listing = listed.value;
    }
    return check(d, target, token, listing ?? { files: [], truncated: false }, started);
  });
  if (used.ok) return used.value;
  const refusal = used.refusal;
  switch (refusal.kind) {
    case "rate-limited":
      return { status: 200, conclusion: "rate-limited", detail: refusal.detail };
    case "unavailable":
      return { status: "failed", conclusion: "unavailable", failure: refusal.failure };
    case "no-access":
      return {
        status: 200,
        conclusion: "not-permitted",
        detail: `${refusal.detail}: the installation cannot grant contents:read, checks:write and pull_requests:read on ${target.repo} (has it accepted the App's permissions?)`,
      };
    case "not-installed":
      return { status: 200, conclusion: "not-permitted", detail: refusal.detail };
  }
}

async function check(
  d: Delivery,
  target: Target,
  token: string,
  listing: Listing,
  started: number,
): Promise<Outcome> {
  const { rt, audit, config } = d;
  const { owner, repo, sha } = target;
  const validated = validatedOf(listing.files, repo, config.orgPolicyRepo);
  if (validated.length === 0) return { status: 200, conclusion: "none" };
  const checked = validated.slice(0, MAX_WEBHOOK_VALIDATED_FILES);
  const unchecked = validated.slice(MAX_WEBHOOK_VALIDATED_FILES);
  audit.set("files", checked);
  if (unchecked.length > 0) audit.set("unchecked", unchecked);

  // What the installation was granted, once per delivery, for the permission lint.
  const permissions = await installationPermissions(rt, owner, target.installation.id);
  if (!permissions.ok && permissions.failure.reason === "RATE_LIMITED") {
    return { status: 200, conclusion: "rate-limited", detail: permissions.failure.detail };
  }
  const granted = permissions.ok ? permissions.value : undefined;

  const findings: Finding[] = [];
  for (const path of checked) {
    const read = await readFileWith(rt, token, { owner, repo, path, ref: sha, maxBytes: MAX_POLICY_BYTES });
    switch (read.kind) {
      case "file":
        findings.push(...judge(d, target, path, read.text, granted));
        break;
      case "rate-limited":
        return { status: 200, conclusion: "rate-limited", detail: read.detail };
      case "unavailable":
        return { status: "failed", conclusion: "unavailable", failure: read.failure };
      case "absent":
        findings.push(unreadable(path, `not found at ${sha}`));
        break;
      case "forbidden":
        findings.push(unreadable(path, "GitHub refused to read it (403)"));
        break;
      case "invalid":
        findings.push(
          unreadable(
            path,
            /directory/.test(read.detail)
              ? "a directory, not a file"
              : `over ${MAX_POLICY_BYTES} bytes: the exchange treats a file this large as missing`,
          ),
        );
        break;
      default:
        findings.push(unreadable(path, read.detail));
    }
  }
  const never = new Set<string>();
  for (const file of listing.files) {
    if (file.status === "removed" || never.has(file.filename)) continue;
    const why = neverReadReason(repo, file.filename, config.orgPolicyRepo);
    if (why === undefined) continue;
    never.add(file.filename);
    findings.push({
      path: file.filename,
      line: 1,
      col: 1,
      level: "warning",
      title: "File never read",
      message: why,
    });
  }
  for (const path of unchecked) {
    findings.push({
      path,
      line: 1,
      col: 1,
      level: "warning",
      title: "Not checked",
      message: `not checked: one delivery validates at most ${MAX_WEBHOOK_VALIDATED_FILES} files`,
    });
  }

  const report = buildReport(findings, {
    unchecked,
    truncated: listing.truncated,
    permissionsUnknown: granted === undefined,
  });
  audit.set("failures", report.failures);
  audit.set("warnings", report.warnings);
  const created = await createCheckRun(
    rt,
    token,
    owner,
    repo,
    createBody(report, sha, started, rt.clock.now()),
  );
  if (!created.ok) return fromFault(created.fault);
  audit.set("check_run_id", created.value);
  for (const batch of report.batches.slice(1)) {
    const updated = await updateCheckRun(rt, token, owner, repo, created.value, updateBody(report, batch));
    if (!updated.ok) return { ...fromFault(updated.fault), conclusion: report.conclusion } as Outcome;
  }
  return { status: 200, conclusion: report.conclusion, checkRunId: created.value };
}

function unreadable(path: string, why: string): Finding {
  return {
    path,
    line: 1,
    col: 1,
    level: "failure",
    title: "Unreadable file",
    message: `could not be read: ${why}`,
  };
}

const LINT_TITLES: Record<Lint["rule"], string> = {
  "name-only-subject": "Repository pinned by name only",
  "permission-not-granted": "Permission not granted",
};

/** One file's findings, by the exchange's own engine, and the lints. */
function judge(
  d: Delivery,
  target: Target,
  path: string,
  text: string,
  granted: Record<string, string> | undefined,
): Finding[] {
  const at = (p: PolicyProblem, level: Finding["level"], title: string): Finding => ({
    path,
    line: p.line,
    col: p.col,
    level,
    title,
    message: p.message,
  });
  if (isTrustedIssuersPath(target.repo, path, d.config.orgPolicyRepo)) {
    const parsed = parseTrustedIssuers(text);
    if (!parsed.ok) return parsed.problems.map((p) => at(p, "failure", "Invalid trusted-issuer file"));
    return parsed.warnings.map((p) => at(p, "warning", "Trusted-issuer file warning"));
  }
  const loaded = loadPolicy(text, target.kind);
  if (!loaded.ok) return loaded.problems.map((p) => at(p, "failure", "Invalid trust policy"));
  const lints = lintPolicy(text, target.kind, {
    owner: target.owner,
    repo: target.repo,
    ownerId: target.ownerId,
    repoId: target.repoId,
    granted,
  });
  return [
    ...loaded.warnings.map((p) => at(p, "warning", "Trust policy warning")),
    ...lints.map((l) => at(l, "warning", LINT_TITLES[l.rule])),
  ].sort((a, b) => a.line - b.line || a.col - b.col);
}

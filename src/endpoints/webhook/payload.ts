/**
 * @module endpoints/webhook/payload
 * The facts a delivery's payload gives, read defensively: the payload is signed by GitHub but its
 * shape is still checked field by field (a missing or mistyped field is absent, never a crash). The
 * shapes are those of `@octokit/webhooks-types`.
 */

import type {
  CheckRunEvent,
  CheckSuiteEvent,
  InstallationEvent,
  InstallationRepositoriesEvent,
  PullRequestEvent,
  PushEvent,
  Repository,
  User,
} from "@octokit/webhooks-types";

/** A payload as it arrives: every field may be missing or of another type. */
type Untrusted<T> = T extends readonly (infer U)[]
  ? readonly Untrusted<U>[]
  : T extends object
    ? { readonly [K in keyof T]?: Untrusted<T[K]> | null }
    : T | null | undefined;

/** A commit SHA that names no commit: a branch created (`before`) or deleted (`after`). */
export const ZERO_SHA = "0000000000000000000000000000000000000000";

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const int = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];

export interface RepositoryFacts {
  owner: string;
  name: string;
  fullName: string;
  ownerId: number | undefined;
  id: number | undefined;
  defaultBranch: string | undefined;
  accountType: "Organization" | "User";
}

/** What every event this service acts on carries. */
export interface Common {
  action: string | undefined;
  /** The sender's login. */
  sender: string | undefined;
  installationId: number | undefined;
  repository: RepositoryFacts | undefined;
}

function repositoryOf(repo: Untrusted<Repository> | null | undefined): RepositoryFacts | undefined {
  const owner = str(repo?.owner?.login) ?? str(repo?.owner?.name);
  const name = str(repo?.name);
  if (owner === undefined || name === undefined) return undefined;
  return {
    owner,
    name,
    fullName: `${owner}/${name}`,
    ownerId: int(repo?.owner?.id),
    id: int(repo?.id),
    defaultBranch: str(repo?.default_branch) ?? str(repo?.master_branch),
    accountType: repo?.owner?.type === "User" ? "User" : "Organization",
  };
}

export function commonOf(payload: unknown): Common {
  const p = payload as Untrusted<{
    action: string;
    sender: User;
    installation: { id: number };
    repository: Repository;
  }> | null;
  return {
    action: str(p?.action),
    sender: str(p?.sender?.login),
    installationId: int(p?.installation?.id),
    repository: repositoryOf(p?.repository),
  };
}

/** True for a sender that is an App (`dependabot[bot]`, this App itself): the loop guard. */
export function isBot(sender: string | undefined): boolean {
  return sender?.endsWith("[bot]") ?? false;
}

export interface PullRequestFacts {
  number: number | undefined;
  headSha: string | undefined;
}

export function pullRequestOf(payload: unknown): PullRequestFacts {
  const p = payload as Untrusted<PullRequestEvent> | null;
  return { number: int(p?.number) ?? int(p?.pull_request?.number), headSha: str(p?.pull_request?.head?.sha) };
}

export interface CheckSuiteFacts {
  headSha: string | undefined;
  before: string | undefined;
  headBranch: string | undefined;
  pullNumbers: number[];
}

/** `check_suite`, or a `check_run`'s own `check_suite`. */
export function checkSuiteOf(event: "check_suite" | "check_run", payload: unknown): CheckSuiteFacts {
  const suite =
    event === "check_suite"
      ? (payload as Untrusted<CheckSuiteEvent> | null)?.check_suite
      : (payload as Untrusted<CheckRunEvent> | null)?.check_run?.check_suite;
  const pulls = Array.isArray(suite?.pull_requests) ? suite.pull_requests : [];
  const numbers = pulls.map((pr) => int(pr?.number)).filter((n): n is number => n !== undefined);
  return {
    headSha: str(suite?.head_sha),
    before: str(suite?.before),
    headBranch: str(suite?.head_branch),
    pullNumbers: [...new Set(numbers)],
  };
}

export interface PushFacts {
  ref: string | undefined;
  before: string | undefined;
  after: string | undefined;
  commits: { added: string[]; modified: string[]; removed: string[] }[];
}

export function pushOf(payload: unknown): PushFacts {
  const p = payload as Untrusted<PushEvent> | null;
  const commits = Array.isArray(p?.commits) ? p.commits : [];
  return {
    ref: str(p?.ref),
    before: str(p?.before),
    after: str(p?.after),
    commits: commits.map((c) => ({
      added: strings(c?.added),
      modified: strings(c?.modified),
      removed: strings(c?.removed),
    })),
  };
}

/** The account an `installation` or `installation_repositories` event is about. */
export function installationAccountOf(payload: unknown): string | undefined {
  const p = payload as Untrusted<InstallationEvent | InstallationRepositoriesEvent> | null;
  return str(p?.installation?.account?.login);
}

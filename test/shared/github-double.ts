/**
 * @module test/shared/github-double
 * The client of the GitHub API double's control API (`/__control/` on the double's base URL), and the
 * types both sides share. It only needs `fetch`, so the same client works inside workerd tests (over
 * 127.0.0.1) and from Node scripts (the demo, the benchmark).
 */

import { ControlClient, type FetchLike, type RecordedCall } from "./control-client";

export type AccountType = "Organization" | "User";

interface InstallationSetup {
  /** The account's login (GitHub matches logins case-insensitively). */
  account: string;
  type?: AccountType;
  /** What the installation was granted (default {@link DEFAULT_INSTALLATION_PERMISSIONS}). */
  permissions?: Record<string, string>;
  /** `all` (default) or `selected` with {@link repositories}. */
  repositorySelection?: "all" | "selected";
  /** Repository names (without owner) for a `selected` installation. */
  repositories?: string[];
}

export interface RepoSetup {
  defaultBranch?: string;
  /** Path in the repository → file text, on the default branch. */
  files?: Record<string, string>;
  /** Files at other refs (a pull request's head SHA, another branch): ref → path → text. */
  refs?: Record<string, Record<string, string>>;
  /** Pull requests by number. */
  pulls?: Record<string, PullSetup>;
}

/** A file as GitHub lists it in a pull request's files or a comparison. */
export interface ChangedFile {
  filename: string;
  status: "added" | "modified" | "removed" | "renamed" | "copied" | "changed" | "unchanged";
  /** For `renamed`: the path it had before. */
  previous_filename?: string;
}

export interface PullSetup {
  /** The head commit SHA; its files are `RepoSetup.refs[head]`. */
  head: string;
  /** The base ref (default: the default branch). */
  base?: string;
  /** The files GitHub lists for the pull request (default: what differs between base and head). */
  files?: ChangedFile[];
}

/** A check run created on the double, with everything sent to it. */
export interface CheckRunRecord {
  id: number;
  /** `owner/repo` as the request path named it. */
  repo: string;
  /** The body of `POST /repos/{owner}/{repo}/check-runs`. */
  created: Record<string, unknown>;
  /** The bodies of every later `PATCH /repos/{owner}/{repo}/check-runs/{id}`, in order. */
  updates: Record<string, unknown>[];
  /** Every annotation the run received, in the order sent. */
  annotations: Record<string, unknown>[];
}

export interface TenantSetup {
  /** The App id the double expects as the JWT's `iss`. */
  appId: string | number;
  /** SPKI PEM of the App's public key (default: test/fixtures/app-key.pub.pem). */
  publicKeyPem?: string;
  installations?: InstallationSetup[];
  /** `"owner/repo"` → repository. */
  repos?: Record<string, RepoSetup>;
  /**
   * Hostname tenant instead of a path tenant: `api.github.com` (base `https://api.github.com`) or
   * `github.example.com` (base `https://github.example.com/api/v3`), reached through the outbound
   * router. Hostname tenants are shared by every test file: a setup ADDS accounts and repositories
   * (use distinct owners), and faults there would hit other files, so fault tests use path tenants.
   */
  host?: string;
  /** The double's clock runs this many seconds ahead of real time (tests that move a ManualClock). */
  clockOffsetSeconds?: number;
}

export interface Tenant {
  id: string;
  /** What `GITHUB_BASE_URL` must be for the Worker to reach this tenant. */
  baseUrl: string;
  /** Installation id by account login (lowercase), as webhook payloads carry it. */
  installations: Record<string, number>;
}

/** The paths a fault's `path` glob covers: `*` within one segment, `**` across segments. */
export function faultPathRegex(glob: string): RegExp {
  const escaped = glob
    .split("**")
    .map((part) =>
      part
        .split("*")
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join("[^/]*"),
    )
    .join(".*");
  return new RegExp(`^${escaped}$`);
}

/**
 * How a faulted route answers:
 * - `unprocessable`: 422 with a validation message,
 * - `forbidden`: a bare 403 (no rate-limit headers),
 * - `rate-limited`: 403 with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` (`resetInSeconds`),
 * - `too-many-requests`: 429 with `Retry-After: retryAfter`,
 * - `server-error`: 500, `hang`: never answers,
 * - `not-found`: 404,
 * - `hold`: answers as GitHub would at the moment of the request, but only once `release` is called
 *   (a read held open while something else happens),
 * - `truncated-json`: the route's own answer (status and headers, the full `Content-Length`) cut off
 *   after half its body, the connection then dropped (a mint still creates its token on the double).
 */
export type FaultAnswer =
  | "unprocessable"
  | "forbidden"
  | "rate-limited"
  | "too-many-requests"
  | "server-error"
  | "hang"
  | "not-found"
  | "hold"
  | "truncated-json";

export interface Fault {
  /** HTTP method (default: any). */
  method?: string;
  /**
   * Path below the tenant base, `*` matching within one segment and `**` across segments
   * (`/app/installations/*\/access_tokens`, `/repos/org/repo/contents/**`).
   */
  path: string;
  answer: FaultAnswer;
  /** Answer like this this many times, then behave (default: until cleared). */
  times?: number;
  /** The `Retry-After` of `too-many-requests`, sent as written (a string can be any text, `99999999999999999999999`). */
  retryAfter?: number | string;
  resetInSeconds?: number;
}

export interface TokenRecord {
  token: string;
  installationId: number;
  /** Repository names the token covers; null = every repository of the installation. */
  repositories: string[] | null;
  permissions: Record<string, string>;
  expiresAt: string;
  revoked: boolean;
}

export const DEFAULT_INSTALLATION_PERMISSIONS: Readonly<Record<string, string>> = {
  actions: "write",
  checks: "write",
  contents: "write",
  deployments: "write",
  issues: "write",
  members: "read",
  metadata: "read",
  packages: "write",
  pull_requests: "write",
  statuses: "write",
  workflows: "write",
};

/** The control API surface (the double implements it in process, the client over HTTP). */
export interface GitHubControl {
  setupTenant(id: string, setup: TenantSetup): Promise<Tenant>;
  addFault(id: string, fault: Fault): Promise<void>;
  clearFaults(id: string): Promise<void>;
  calls(id: string): Promise<RecordedCall[]>;
  clearCalls(id: string): Promise<void>;
  tokens(id: string): Promise<TokenRecord[]>;
  /** Removes the App from `account` (its tokens stop working). */
  uninstall(id: string, account: string): Promise<void>;
  /** Installs the App again on `account`, under a NEW installation id. */
  reinstall(id: string, account: string): Promise<{ installationId: number }>;
  setFile(id: string, repo: string, path: string, text: string | null): Promise<void>;
  /** Sets the files of a ref (a commit SHA or a branch other than the default); null removes the ref. */
  setRef(id: string, repo: string, ref: string, files: Record<string, string> | null): Promise<void>;
  /** Creates or replaces a pull request. */
  setPull(id: string, repo: string, number: number, pull: PullSetup): Promise<void>;
  setClockOffset(id: string, seconds: number): Promise<void>;
  /** The check runs created so far, oldest first. */
  checkRuns(id: string): Promise<CheckRunRecord[]>;
  /** How many answers a `hold` fault is holding. */
  held(id: string): Promise<number>;
  /** Sends every held answer; how many there were. */
  release(id: string): Promise<number>;
}

/** Talks to the double at `baseUrl` (e.g. `env.GITHUB_DOUBLE_URL`). */
export class GitHubDoubleClient extends ControlClient implements GitHubControl {
  constructor(baseUrl: string, fetchFn?: FetchLike) {
    super(baseUrl, "github double", fetchFn);
  }

  private tenant(id: string): string {
    return `/tenants/${encodeURIComponent(id)}`;
  }

  setupTenant(id: string, setup: TenantSetup): Promise<Tenant> {
    return this.call("POST", this.tenant(id), setup);
  }
  async addFault(id: string, fault: Fault): Promise<void> {
    await this.call("POST", `${this.tenant(id)}/faults`, fault);
  }
  async clearFaults(id: string): Promise<void> {
    await this.call("DELETE", `${this.tenant(id)}/faults`);
  }
  async calls(id: string): Promise<RecordedCall[]> {
    return (await this.call<{ calls: RecordedCall[] }>("GET", `${this.tenant(id)}/calls`)).calls;
  }
  async clearCalls(id: string): Promise<void> {
    await this.call("DELETE", `${this.tenant(id)}/calls`);
  }
  async tokens(id: string): Promise<TokenRecord[]> {
    return (await this.call<{ tokens: TokenRecord[] }>("GET", `${this.tenant(id)}/tokens`)).tokens;
  }
  async uninstall(id: string, account: string): Promise<void> {
    await this.call("POST", `${this.tenant(id)}/uninstall`, { account });
  }
  reinstall(id: string, account: string): Promise<{ installationId: number }> {
    return this.call("POST", `${this.tenant(id)}/reinstall`, { account });
  }
  async setFile(id: string, repo: string, path: string, text: string | null): Promise<void> {
    await this.call("POST", `${this.tenant(id)}/file`, { repo, path, text });
  }
  async setRef(id: string, repo: string, ref: string, files: Record<string, string> | null): Promise<void> {
    await this.call("POST", `${this.tenant(id)}/ref`, { repo, ref, files });
  }
  async setPull(id: string, repo: string, number: number, pull: PullSetup): Promise<void> {
    await this.call("POST", `${this.tenant(id)}/pull`, { repo, number, pull });
  }
  async setClockOffset(id: string, seconds: number): Promise<void> {
    await this.call("POST", `${this.tenant(id)}/clock`, { seconds });
  }
  async checkRuns(id: string): Promise<CheckRunRecord[]> {
    return (await this.call<{ checkRuns: CheckRunRecord[] }>("GET", `${this.tenant(id)}/check-runs`))
      .checkRuns;
  }
  async held(id: string): Promise<number> {
    return (await this.call<{ held: number }>("GET", `${this.tenant(id)}/held`)).held;
  }
  async release(id: string): Promise<number> {
    return (await this.call<{ released: number }>("POST", `${this.tenant(id)}/release`, {})).released;
  }
}

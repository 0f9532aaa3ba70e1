/**
 * @module test/doubles/github
 * The GitHub API double (Node), behaving like GitHub where this service depends on it: it verifies
 * the App JWT (RS256 with the App's public key, `iss`, sane `iat`/`exp`, at most 10 min apart) and
 * answers 401 otherwise; refuses a request without `User-Agent` (403); mints installation tokens scoped
 * to repositories and permissions (422 when the request exceeds the installation, 404 for an unknown
 * or uninstalled id); finds installations by org or user (case-insensitive logins); pages
 * `/app/installations`; serves files with the raw media type or as base64 JSON, refusing (404) a token
 * that does not cover the repository with contents read; revokes tokens on `DELETE /installation/token`.
 * For the webhook: a pull request's files (`GET /repos/{o}/{r}/pulls/{n}/files`, paged with `Link`
 * headers, at most 100 a page), comparisons (`GET /repos/{o}/{r}/compare/{base}...{head}`, what differs
 * between the two refs' files), check runs (`POST /repos/{o}/{r}/check-runs` and `PATCH …/{id}`, an
 * installation token with `checks: write` on the repository, at most 50 annotations a request) and an
 * installation's own record (`GET /app/installations/{id}`, App JWT, with its `permissions`; also read
 * when a mint is refused, to name what the installation lacks).
 * Faults (422, bare 403, rate-limited 403, 429, 500, hang, 404, hold, a truncated JSON body) can be
 * injected per route.
 *
 * The App manifest flow, as `npm run setup` drives it: the web form GitHub serves at
 * `/t/<name>/settings/apps/new` (or `/t/<name>/organizations/<org>/settings/apps/new`) takes the posted
 * `manifest` and `?state=`, and redirects to the manifest's `redirect_url` with `?code=…&state=…`, as
 * GitHub does once the user confirms; `POST /app-manifests/{code}/conversions` trades a code (once,
 * within an hour) for the new App: id, slug, pem (a new RSA key, which the tenant then verifies App
 * JWTs with), webhook_secret, client_id and client_secret, as GitHub answers.
 *
 * Test files run in parallel, so all state is per tenant: a path tenant's base URL is
 * `http://127.0.0.1:<port>/t/<name>/api/v3` (GHES-style); hostname tenants (`api.github.com`,
 * `github.example.com` with `/api/v3`) are reached through the outbound router as `/h/<host>/…`.
 * The control API (`/__control/`) is wrapped by `test/shared/github-double.ts`; the same operations
 * are methods of {@link GitHubDouble} for Node scripts.
 */

import {
  createHash,
  createPublicKey,
  createVerify,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { RecordedCall } from "../shared/control-client";
import {
  type AccountType,
  type ChangedFile,
  type CheckRunRecord,
  DEFAULT_INSTALLATION_PERMISSIONS,
  type Fault,
  faultPathRegex,
  type GitHubControl,
  type PullSetup,
  type Tenant,
  type TenantSetup,
  type TokenRecord,
} from "../shared/github-double";
import {
  type CallLog,
  type DoubleRequest,
  type DoubleResponse,
  jsonResponse,
  recordAndRoute,
} from "./server";

/**
 * The test App's public key, read on first use. Next to this module when it runs from test/doubles/;
 * from the working directory (the project root) when a script runs it bundled into build/scripts/.
 */
let defaultPublicKey: string | undefined;
function defaultPublicKeyPem(): string {
  if (defaultPublicKey === undefined) {
    const beside = new URL("../fixtures/app-key.pub.pem", import.meta.url);
    defaultPublicKey = existsSync(beside)
      ? readFileSync(beside, "utf8")
      : readFileSync(resolve("test/fixtures/app-key.pub.pem"), "utf8");
  }
  return defaultPublicKey;
}

/** Hostname tenants: host → the path prefix GitHub serves the API under on that host. */
const HOSTS: Record<string, { apiPrefix: string; baseUrl: string }> = {
  "api.github.com": { apiPrefix: "", baseUrl: "https://api.github.com" },
  "github.example.com": { apiPrefix: "/api/v3", baseUrl: "https://github.example.com/api/v3" },
};

const LEVEL: Record<string, number> = { read: 1, write: 2, admin: 3 };
const DOCS = "https://docs.github.com/rest";

interface Account {
  login: string;
  type: AccountType;
  accountId: number;
  installationId: number | null;
  permissions: Record<string, string>;
  selection: "all" | "selected";
  repositories: string[];
}

interface Repo {
  owner: string;
  name: string;
  id: number;
  defaultBranch: string;
  files: Map<string, string>;
  /** Files at other refs (a pull request's head SHA, another branch): ref → path → text. */
  refs: Map<string, Map<string, string>>;
  pulls: Map<number, PullSetup>;
}

/** GitHub's own caps: a comparison lists at most 300 files, a pull request at most 3000. */
const MAX_COMPARE_FILES = 300;
const MAX_PULL_FILES = 3000;
const MAX_ANNOTATIONS_PER_REQUEST = 50;
const ANNOTATION_LEVELS = new Set(["notice", "warning", "failure"]);
const CONCLUSIONS = new Set([
  "action_required",
  "cancelled",
  "failure",
  "neutral",
  "success",
  "skipped",
  "stale",
  "timed_out",
]);

interface ActiveFault extends Fault {
  regex: RegExp;
  left: number;
}

interface TenantState extends CallLog {
  id: string;
  baseUrl: string;
  appId: string;
  publicKey: KeyObject;
  accounts: Map<string, Account>;
  repos: Map<string, Repo>;
  tokens: Map<string, TokenRecord>;
  faults: ActiveFault[];
  clockOffsetSeconds: number;
  checkRuns: CheckRunRecord[];
  /** Answers a `hold` fault keeps back, each sent when released. */
  held: (() => void)[];
  /** Manifest codes handed out by the web form: code → what was posted. */
  manifestCodes: Map<string, ManifestCode>;
}

/** One pass through the manifest form: what GitHub would create when the code is converted. */
export interface ManifestCode {
  manifest: Record<string, unknown>;
  /** The organization the form was posted for; undefined for the user's own account. */
  org?: string;
  state: string | null;
  createdAt: number;
  used: boolean;
}

/** The login the web form acts as when posted for a personal account. */
const WEB_USER = "octocat";
const MANIFEST_CODE_LIFETIME_MS = 60 * 60 * 1000;

function message(status: number, text: string, headers: Record<string, string> = {}): DoubleResponse {
  return jsonResponse(status, { message: text, documentation_url: DOCS, status: String(status) }, headers);
}

/** `answer` cut off after half its body, its full length announced (the connection then drops). */
function truncated(answer: DoubleResponse): DoubleResponse {
  const body = Buffer.from(answer.body ?? "");
  return { ...answer, body, cutAfter: Math.floor(body.length / 2) };
}

function tenantOf(id: string, tenants: Map<string, TenantState>): TenantState {
  const tenant = tenants.get(id);
  if (tenant === undefined) throw new Error(`unknown github tenant ${id}`);
  return tenant;
}

function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export class GitHubDouble implements GitHubControl {
  private readonly tenants = new Map<string, TenantState>();
  /** Installation, account and repository ids are unique across tenants, like GitHub's. */
  private nextId = 1000;

  constructor(readonly baseUrl: string) {}

  // ---- in-process control API ------------------------------------------------------------------

  async setupTenant(name: string, setup: TenantSetup): Promise<Tenant> {
    let tenant: TenantState;
    if (setup.host !== undefined) {
      const host = setup.host.toLowerCase();
      const known = HOSTS[host];
      if (known === undefined) throw new Error(`unknown github host ${host}`);
      const id = `host:${host}`;
      const existing = this.tenants.get(id);
      if (existing !== undefined && existing.appId !== String(setup.appId)) {
        throw new Error(`host tenant ${host} already serves App ${existing.appId}`);
      }
      tenant = existing ?? this.newTenant(id, known.baseUrl, setup);
    } else {
      if (!/^[a-z0-9-]{1,63}$/.test(name)) throw new Error(`bad tenant name ${name}`);
      tenant = this.newTenant(name, `${this.baseUrl}/t/${name}/api/v3`, setup);
    }
    if (setup.clockOffsetSeconds !== undefined) tenant.clockOffsetSeconds = setup.clockOffsetSeconds;
    for (const inst of setup.installations ?? []) {
      tenant.accounts.set(inst.account.toLowerCase(), {
        login: inst.account,
        type: inst.type ?? "Organization",
        accountId: this.nextId++,
        installationId: this.nextId++,
        permissions: { ...(inst.permissions ?? DEFAULT_INSTALLATION_PERMISSIONS) },
        selection: inst.repositorySelection ?? "all",
        repositories: [...(inst.repositories ?? [])],
      });
    }
    for (const [fullName, repo] of Object.entries(setup.repos ?? {})) {
      const [owner, name] = fullName.split("/");
      if (owner === undefined || name === undefined) throw new Error(`bad repo name ${fullName}`);
      tenant.repos.set(fullName.toLowerCase(), {
        owner,
        name,
        id: this.nextId++,
        defaultBranch: repo.defaultBranch ?? "main",
        files: new Map(Object.entries(repo.files ?? {})),
        refs: new Map(
          Object.entries(repo.refs ?? {}).map(([ref, files]) => [ref, new Map(Object.entries(files))]),
        ),
        pulls: new Map(Object.entries(repo.pulls ?? {}).map(([n, pull]) => [Number(n), { ...pull }])),
      });
    }
    this.tenants.set(tenant.id, tenant);
    const installations: Record<string, number> = {};
    for (const [login, account] of tenant.accounts) {
      if (account.installationId !== null) installations[login] = account.installationId;
    }
    return { id: tenant.id, baseUrl: tenant.baseUrl, installations };
  }

  async addFault(id: string, fault: Fault): Promise<void> {
    const tenant = tenantOf(id, this.tenants);
    tenant.faults.push({
      ...fault,
      regex: faultPathRegex(fault.path),
      left: fault.times ?? Number.POSITIVE_INFINITY,
    });
  }

  async clearFaults(id: string): Promise<void> {
    tenantOf(id, this.tenants).faults.length = 0;
  }

  async calls(id: string): Promise<RecordedCall[]> {
    return [...tenantOf(id, this.tenants).calls];
  }

  async clearCalls(id: string): Promise<void> {
    tenantOf(id, this.tenants).calls.length = 0;
  }

  async tokens(id: string): Promise<TokenRecord[]> {
    return [...tenantOf(id, this.tenants).tokens.values()].map((t) => ({ ...t }));
  }

  async uninstall(id: string, login: string): Promise<void> {
    const tenant = tenantOf(id, this.tenants);
    const account = this.account(tenant, login);
    // GitHub revokes an installation's tokens when the App is uninstalled.
    for (const token of tenant.tokens.values()) {
      if (token.installationId === account.installationId) token.revoked = true;
    }
    account.installationId = null;
  }

  async reinstall(id: string, login: string): Promise<{ installationId: number }> {
    const tenant = tenantOf(id, this.tenants);
    const account = this.account(tenant, login);
    if (account.installationId !== null) await this.uninstall(id, login);
    account.installationId = this.nextId++;
    return { installationId: account.installationId };
  }

  async setFile(id: string, repoName: string, path: string, text: string | null): Promise<void> {
    const repo = tenantOf(id, this.tenants).repos.get(repoName.toLowerCase());
    if (repo === undefined) throw new Error(`unknown repo ${repoName}`);
    if (text === null) repo.files.delete(path);
    else repo.files.set(path, text);
  }

  async setRef(
    id: string,
    repoName: string,
    ref: string,
    files: Record<string, string> | null,
  ): Promise<void> {
    const repo = this.repoOf(id, repoName);
    if (files === null) repo.refs.delete(ref);
    else repo.refs.set(ref, new Map(Object.entries(files)));
  }

  async setPull(id: string, repoName: string, number: number, pull: PullSetup): Promise<void> {
    this.repoOf(id, repoName).pulls.set(number, { ...pull });
  }

  async setClockOffset(id: string, seconds: number): Promise<void> {
    tenantOf(id, this.tenants).clockOffsetSeconds = seconds;
  }

  async checkRuns(id: string): Promise<CheckRunRecord[]> {
    return tenantOf(id, this.tenants).checkRuns.map((run) => structuredClone(run));
  }

  async held(id: string): Promise<number> {
    return tenantOf(id, this.tenants).held.length;
  }

  async release(id: string): Promise<number> {
    const tenant = tenantOf(id, this.tenants);
    const waiting = tenant.held.splice(0);
    for (const send of waiting) send();
    return waiting.length;
  }

  private repoOf(id: string, repoName: string): Repo {
    const repo = tenantOf(id, this.tenants).repos.get(repoName.toLowerCase());
    if (repo === undefined) throw new Error(`unknown repo ${repoName}`);
    return repo;
  }

  /** The manifests posted to the tenant's web form, in order (Node scripts and tests only). */
  manifestsPosted(id: string): ManifestCode[] {
    return [...tenantOf(id, this.tenants).manifestCodes.values()];
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  async handle(req: DoubleRequest): Promise<DoubleResponse> {
    const path = req.url.pathname;
    try {
      if (path.startsWith("/__control/")) return await this.control(req, path.slice("/__control".length));
      const webForm = /^\/t\/([a-z0-9-]+)\/(?:organizations\/([^/]+)\/)?settings\/apps\/new$/.exec(path);
      if (webForm && req.method === "POST") {
        const tenant = this.tenants.get(webForm[1] as string);
        if (tenant === undefined) return message(404, "Not Found");
        return this.manifestForm(
          tenant,
          req,
          webForm[2] === undefined ? undefined : decodeURIComponent(webForm[2]),
        );
      }
      const tenantMatch = /^\/t\/([a-z0-9-]+)\/api\/v3(\/.*)?$/.exec(path);
      if (tenantMatch) {
        const tenant = this.tenants.get(tenantMatch[1] as string);
        if (tenant === undefined) return message(404, "Not Found");
        return this.serve(tenant, req, tenantMatch[2] ?? "/");
      }
      const hostMatch = /^\/h\/([a-z0-9.-]+)(\/.*)?$/.exec(path);
      if (hostMatch) {
        const host = hostMatch[1] as string;
        const known = HOSTS[host];
        const tenant = this.tenants.get(`host:${host}`);
        let rest = hostMatch[2] ?? "/";
        if (known === undefined || tenant === undefined) return message(404, "Not Found");
        if (known.apiPrefix !== "") {
          if (!rest.startsWith(`${known.apiPrefix}/`)) return message(404, "Not Found");
          rest = rest.slice(known.apiPrefix.length);
        }
        return this.serve(tenant, req, rest);
      }
      return message(404, "Not Found");
    } catch (error) {
      return jsonResponse(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async control(req: DoubleRequest, path: string): Promise<DoubleResponse> {
    const body = req.body === "" ? {} : (JSON.parse(req.body) as Record<string, unknown>);
    const match = /^\/tenants\/([^/]+)(?:\/([a-z-]+))?$/.exec(path);
    if (!match) return jsonResponse(404, { error: "unknown control path" });
    const id = decodeURIComponent(match[1] as string);
    const op = `${req.method} ${match[2] ?? ""}`;
    switch (op) {
      case "POST ":
        return jsonResponse(200, await this.setupTenant(id, body as unknown as TenantSetup));
      case "POST faults":
        await this.addFault(id, body as unknown as Fault);
        return jsonResponse(200, {});
      case "DELETE faults":
        await this.clearFaults(id);
        return jsonResponse(200, {});
      case "GET calls":
        return jsonResponse(200, { calls: await this.calls(id) });
      case "DELETE calls":
        await this.clearCalls(id);
        return jsonResponse(200, {});
      case "GET tokens":
        return jsonResponse(200, { tokens: await this.tokens(id) });
      case "POST uninstall":
        await this.uninstall(id, String(body.account));
        return jsonResponse(200, {});
      case "POST reinstall":
        return jsonResponse(200, await this.reinstall(id, String(body.account)));
      case "POST file":
        await this.setFile(
          id,
          String(body.repo),
          String(body.path),
          body.text === null ? null : String(body.text),
        );
        return jsonResponse(200, {});
      case "POST clock":
        await this.setClockOffset(id, Number(body.seconds));
        return jsonResponse(200, {});
      case "POST ref":
        await this.setRef(
          id,
          String(body.repo),
          String(body.ref),
          body.files === null ? null : (body.files as Record<string, string>),
        );
        return jsonResponse(200, {});
      case "POST pull":
        await this.setPull(id, String(body.repo), Number(body.number), body.pull as unknown as PullSetup);
        return jsonResponse(200, {});
      case "GET check-runs":
        return jsonResponse(200, { checkRuns: await this.checkRuns(id) });
      case "GET held":
        return jsonResponse(200, { held: await this.held(id) });
      case "POST release":
        return jsonResponse(200, { released: await this.release(id) });
      default:
        return jsonResponse(404, { error: `unknown control operation ${op}` });
    }
  }

  private newTenant(id: string, baseUrl: string, setup: TenantSetup): TenantState {
    return {
      id,
      baseUrl,
      appId: String(setup.appId),
      publicKey: createPublicKey(setup.publicKeyPem ?? defaultPublicKeyPem()),
      accounts: new Map(),
      repos: new Map(),
      tokens: new Map(),
      faults: [],
      calls: [],
      seq: 0,
      clockOffsetSeconds: 0,
      checkRuns: [],
      held: [],
      manifestCodes: new Map(),
    };
  }

  private account(tenant: TenantState, login: string): Account {
    const account = tenant.accounts.get(login.toLowerCase());
    if (account === undefined) throw new Error(`unknown account ${login}`);
    return account;
  }

  private async serve(tenant: TenantState, req: DoubleRequest, path: string): Promise<DoubleResponse> {
    let hold = false;
    const out = recordAndRoute(tenant, req, path, () => {
      const routed = this.route(tenant, req, path);
      hold = routed.hold;
      return routed.answer;
    });
    // A held answer is what GitHub said when asked, sent only once released.
    if (hold) await new Promise<void>((release) => tenant.held.push(release));
    // GitHub's clock, as every GitHub answer carries it (auth-app measures clock skew from it).
    if (!out.hang) {
      out.headers = { date: new Date(this.nowSeconds(tenant) * 1000).toUTCString(), ...(out.headers ?? {}) };
    }
    return out;
  }

  private route(
    tenant: TenantState,
    req: DoubleRequest,
    path: string,
  ): { answer: DoubleResponse; hold: boolean } {
    if ((req.headers["user-agent"] ?? "").trim() === "") {
      const answer = message(
        403,
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.",
      );
      return { answer, hold: false };
    }
    const fault = tenant.faults.find(
      (f) =>
        f.left > 0 && (f.method === undefined || f.method.toUpperCase() === req.method) && f.regex.test(path),
    );
    if (fault !== undefined) fault.left--;
    if (fault?.answer === "truncated-json") {
      return { answer: truncated(this.api(tenant, req, path)), hold: false };
    }
    if (fault !== undefined && fault.answer !== "hold") {
      return { answer: this.faultAnswer(tenant, fault), hold: false };
    }
    return { answer: this.api(tenant, req, path), hold: fault !== undefined };
  }

  private api(tenant: TenantState, req: DoubleRequest, path: string): DoubleResponse {
    const m = req.method;
    if (m === "GET" && path === "/app/installations")
      return this.withApp(tenant, req, () => this.list(tenant, req));
    const lookup = /^\/(orgs|users)\/([^/]+)\/installation$/.exec(path);
    if (m === "GET" && lookup) {
      const [, kind, login] = lookup as unknown as [string, string, string];
      return this.withApp(tenant, req, () => this.installationOf(tenant, kind, decodeURIComponent(login)));
    }
    const mint = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (m === "POST" && mint) {
      const id = Number(mint[1]);
      return this.withApp(tenant, req, () => this.mint(tenant, id, req.body));
    }
    const installation = /^\/app\/installations\/(\d+)$/.exec(path);
    if (m === "GET" && installation) {
      const id = Number(installation[1]);
      return this.withApp(tenant, req, () => this.installationById(tenant, id));
    }
    const pullFiles = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)\/files$/.exec(path);
    if (m === "GET" && pullFiles) {
      const [, owner, repo, n] = (pullFiles as unknown as string[]).map((s) => decodeURIComponent(s));
      return this.pullFiles(tenant, req, owner as string, repo as string, Number(n));
    }
    const compare = /^\/repos\/([^/]+)\/([^/]+)\/compare\/([^/]+)$/.exec(path);
    if (m === "GET" && compare) {
      const [, owner, repo, basehead] = (compare as unknown as string[]).map((s) => decodeURIComponent(s));
      return this.compare(tenant, req, owner as string, repo as string, basehead as string);
    }
    const checkRun = /^\/repos\/([^/]+)\/([^/]+)\/check-runs(?:\/(\d+))?$/.exec(path);
    if (
      checkRun &&
      ((m === "POST" && checkRun[3] === undefined) || (m === "PATCH" && checkRun[3] !== undefined))
    ) {
      const owner = decodeURIComponent(checkRun[1] as string);
      const repo = decodeURIComponent(checkRun[2] as string);
      const id = checkRun[3] === undefined ? undefined : Number(checkRun[3]);
      return this.checkRun(tenant, req, owner, repo, id);
    }
    const contents = /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/.exec(path);
    if (m === "GET" && contents) {
      const [, owner, repo, file] = (contents as unknown as string[]).map((s) => decodeURIComponent(s));
      return this.contents(tenant, req, owner as string, repo as string, file as string);
    }
    if (m === "DELETE" && path === "/installation/token") return this.revoke(tenant, req);
    const conversion = /^\/app-manifests\/([^/]+)\/conversions$/.exec(path);
    if (m === "POST" && conversion) return this.convert(tenant, decodeURIComponent(conversion[1] as string));
    return message(404, "Not Found");
  }

  private faultAnswer(tenant: TenantState, fault: ActiveFault): DoubleResponse {
    const now = this.nowSeconds(tenant);
    switch (fault.answer) {
      case "unprocessable":
        return message(422, "Validation Failed (injected): secret upstream detail");
      case "forbidden":
        return message(403, "Resource not accessible by integration (injected)");
      case "rate-limited":
        return message(403, "API rate limit exceeded (injected)", {
          "x-ratelimit-limit": "5000",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(now + (fault.resetInSeconds ?? 120)),
        });
      case "too-many-requests":
        return message(429, "You have exceeded a secondary rate limit (injected)", {
          "retry-after": String(fault.retryAfter ?? 60),
        });
      case "server-error":
        return message(500, "Server Error (injected): secret upstream detail");
      case "not-found":
        return message(404, "Not Found");
      case "hang":
        return { status: 200, hang: true };
      case "hold":
        throw new Error("a held answer is the API's own (see route)");
      case "truncated-json":
        throw new Error("truncated-json is answered by route()");
    }
  }

  private nowSeconds(tenant: TenantState): number {
    return Math.floor(Date.now() / 1000) + tenant.clockOffsetSeconds;
  }

  /** Verifies the App JWT like GitHub does, then runs `then`; 401 otherwise. */
  private withApp(tenant: TenantState, req: DoubleRequest, then: () => DoubleResponse): DoubleResponse {
    const problem = this.jwtProblem(tenant, req.headers.authorization ?? "");
    if (problem !== null) return message(401, problem);
    return then();
  }

  private jwtProblem(tenant: TenantState, authorization: string): string | null {
    const match = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(authorization);
    if (!match) return "A JSON web token could not be decoded";
    const [, h, p, s] = match as unknown as [string, string, string, string];
    let header: { alg?: unknown };
    let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
      claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    } catch {
      return "A JSON web token could not be decoded";
    }
    if (header.alg !== "RS256") return "A JSON web token could not be decoded";
    const verifier = createVerify("RSA-SHA256");
    verifier.update(`${h}.${p}`);
    if (!verifier.verify(tenant.publicKey, Buffer.from(s, "base64url"))) {
      return "A JSON web token could not be decoded";
    }
    if (String(claims.iss) !== tenant.appId) return "Integration not found";
    const { iat, exp } = claims;
    if (
      typeof iat !== "number" ||
      typeof exp !== "number" ||
      !Number.isInteger(iat) ||
      !Number.isInteger(exp)
    ) {
      return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued.";
    }
    const now = this.nowSeconds(tenant);
    // GitHub's exact messages: @octokit/auth-app recognises clock skew by them.
    if (iat > now + 60)
      return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued.";
    if (exp <= now)
      return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires.";
    if (exp - iat > 600 || exp > now + 600) {
      return "'Expiration time' claim ('exp') is too far in the future";
    }
    return null;
  }

  private installationJson(account: Account): Record<string, unknown> {
    return {
      id: account.installationId,
      account: { login: account.login, id: account.accountId, type: account.type },
      target_type: account.type,
      repository_selection: account.selection,
      permissions: account.permissions,
      access_tokens_url: `/app/installations/${account.installationId}/access_tokens`,
    };
  }

  private list(tenant: TenantState, req: DoubleRequest): DoubleResponse {
    const perPage = Math.min(100, Math.max(1, Number(req.url.searchParams.get("per_page") ?? "30") || 30));
    const page = Math.max(1, Number(req.url.searchParams.get("page") ?? "1") || 1);
    const installed = [...tenant.accounts.values()].filter((a) => a.installationId !== null);
    const items = installed.slice((page - 1) * perPage, page * perPage).map((a) => this.installationJson(a));
    const headers: Record<string, string> = {};
    if (page * perPage < installed.length) {
      headers.link = `<${tenant.baseUrl}/app/installations?per_page=${perPage}&page=${page + 1}>; rel="next"`;
    }
    return jsonResponse(200, items, headers);
  }

  private installationOf(tenant: TenantState, kind: string, login: string): DoubleResponse {
    const account = tenant.accounts.get(login.toLowerCase());
    // `/orgs/{org}` knows only organizations; `/users/{user}` finds any account, as on GitHub.
    if (account === undefined || account.installationId === null) return message(404, "Not Found");
    if (kind === "orgs" && account.type !== "Organization") return message(404, "Not Found");
    return jsonResponse(200, this.installationJson(account));
  }

  private accessibleRepos(tenant: TenantState, account: Account): Repo[] {
    return [...tenant.repos.values()].filter(
      (r) =>
        r.owner.toLowerCase() === account.login.toLowerCase() &&
        (account.selection === "all" ||
          account.repositories.some((n) => n.toLowerCase() === r.name.toLowerCase())),
    );
  }

  private mint(tenant: TenantState, installationId: number, rawBody: string): DoubleResponse {
    const account = [...tenant.accounts.values()].find((a) => a.installationId === installationId);
    if (account === undefined) return message(404, "Not Found");
    let body: { repositories?: unknown; permissions?: unknown; repository_ids?: unknown };
    try {
      body = rawBody === "" ? {} : JSON.parse(rawBody);
    } catch {
      return message(400, "Problems parsing JSON");
    }
    let permissions: Record<string, string> = { ...account.permissions };
    if (body.permissions !== undefined) {
      if (typeof body.permissions !== "object" || body.permissions === null) {
        return message(422, "Invalid request: permissions is not an object");
      }
      permissions = {};
      for (const [name, level] of Object.entries(body.permissions as Record<string, unknown>)) {
        const granted = account.permissions[name];
        if (typeof level !== "string" || LEVEL[level] === undefined) {
          return message(422, `Invalid request: ${name} is not a permission level`);
        }
        if (granted === undefined || (LEVEL[granted] ?? 0) < (LEVEL[level] ?? 0)) {
          return message(422, `The permissions requested are not granted to this installation.`);
        }
        permissions[name] = level;
      }
    }
    const accessible = this.accessibleRepos(tenant, account);
    let repositories: string[] | null = null;
    if (body.repositories !== undefined) {
      if (!Array.isArray(body.repositories) || !body.repositories.every((r) => typeof r === "string")) {
        return message(422, "Invalid request: repositories is not an array of strings");
      }
      repositories = [];
      for (const name of body.repositories as string[]) {
        const repo = accessible.find((r) => r.name.toLowerCase() === name.toLowerCase());
        if (repo === undefined)
          return message(
            422,
            `There is at least one repository that does not exist or is not accessible to the parent installation.`,
          );
        repositories.push(repo.name);
      }
    }
    const token = `ghs_${randomBytes(27).toString("base64url").replace(/[-_]/g, "x").slice(0, 36)}`;
    const expiresAt = isoSeconds((this.nowSeconds(tenant) + 3600) * 1000);
    tenant.tokens.set(token, { token, installationId, repositories, permissions, expiresAt, revoked: false });
    const out: Record<string, unknown> = {
      token,
      expires_at: expiresAt,
      permissions,
      repository_selection: repositories === null ? account.selection : "selected",
    };
    if (repositories !== null) {
      out.repositories = repositories.map((name) => ({ name, full_name: `${account.login}/${name}` }));
    }
    return jsonResponse(201, out);
  }

  /** The installation token of an `Authorization: token|Bearer ghs_…` header, if it still works. */
  private tokenOf(tenant: TenantState, authorization: string): TokenRecord | undefined {
    const match = /^(?:token|bearer) (\S+)$/i.exec(authorization);
    if (!match) return undefined;
    const record = tenant.tokens.get(match[1] as string);
    if (record === undefined || record.revoked) return undefined;
    if (Date.parse(record.expiresAt) <= this.nowSeconds(tenant) * 1000) return undefined;
    return record;
  }

  private contents(
    tenant: TenantState,
    req: DoubleRequest,
    owner: string,
    name: string,
    file: string,
  ): DoubleResponse {
    const token = this.tokenOf(tenant, req.headers.authorization ?? "");
    if (token === undefined) return message(401, "Bad credentials");
    const repo = tenant.repos.get(`${owner}/${name}`.toLowerCase());
    const account = [...tenant.accounts.values()].find((a) => a.installationId === token.installationId);
    // Like GitHub for a private repository the token cannot see: 404, not 403.
    const covers =
      repo !== undefined &&
      account !== undefined &&
      this.accessibleRepos(tenant, account).includes(repo) &&
      (token.repositories === null ||
        token.repositories.some((r) => r.toLowerCase() === repo.name.toLowerCase())) &&
      (LEVEL[token.permissions.contents ?? ""] ?? 0) >= 1;
    if (!covers || repo === undefined) return message(404, "Not Found");
    const ref = req.url.searchParams.get("ref");
    const files = ref === null || ref === repo.defaultBranch ? repo.files : repo.refs.get(ref);
    if (files === undefined) return message(404, `No commit found for the ref ${ref}`);
    const text = files.get(file);
    if (text === undefined) {
      // A directory: GitHub answers its listing as JSON, whatever media type was asked for.
      const prefix = `${file.replace(/\/+$/, "")}/`;
      const entries = [...files.keys()].filter((p) => p.startsWith(prefix));
      if (entries.length === 0) return message(404, "Not Found");
      const names = [...new Set(entries.map((p) => p.slice(prefix.length).split("/")[0] as string))];
      return jsonResponse(
        200,
        names.map((name) => {
          const path = `${prefix}${name}`;
          return { type: files.has(path) ? "file" : "dir", name, path };
        }),
      );
    }
    const accept = req.headers.accept ?? "";
    const bytes = Buffer.from(text, "utf8");
    if (/application\/vnd\.github(\.v3)?\.raw/.test(accept)) {
      return {
        status: 200,
        headers: { "content-type": "application/vnd.github.raw; charset=utf-8" },
        body: bytes,
      };
    }
    return jsonResponse(200, {
      type: "file",
      encoding: "base64",
      size: bytes.length,
      name: file.split("/").pop(),
      path: file,
      content: bytes.toString("base64").replace(/(.{60})/g, "$1\n"),
    });
  }

  private installationById(tenant: TenantState, id: number): DoubleResponse {
    const account = [...tenant.accounts.values()].find((a) => a.installationId === id);
    if (account === undefined) return message(404, "Not Found");
    return jsonResponse(200, this.installationJson(account));
  }

  /**
   * The repository `owner/name` if the request's installation token covers it with `permission` at
   * `level` or more; otherwise GitHub's answer: 401 for no working token, 404 for a repository the token
   * cannot see, 403 for one it sees without that permission.
   */
  private authorize(
    tenant: TenantState,
    req: DoubleRequest,
    owner: string,
    name: string,
    permission: string,
    level: "read" | "write",
  ): { repo: Repo } | { refused: DoubleResponse } {
    const token = this.tokenOf(tenant, req.headers.authorization ?? "");
    if (token === undefined) return { refused: message(401, "Bad credentials") };
    const repo = tenant.repos.get(`${owner}/${name}`.toLowerCase());
    const account = [...tenant.accounts.values()].find((a) => a.installationId === token.installationId);
    const sees =
      repo !== undefined &&
      account !== undefined &&
      this.accessibleRepos(tenant, account).includes(repo) &&
      (token.repositories === null ||
        token.repositories.some((r) => r.toLowerCase() === repo.name.toLowerCase()));
    if (!sees || repo === undefined) return { refused: message(404, "Not Found") };
    if ((LEVEL[token.permissions[permission] ?? ""] ?? 0) < (LEVEL[level] ?? 9)) {
      return { refused: message(403, "Resource not accessible by integration") };
    }
    return { repo };
  }

  /** The files of a ref: the default branch by name, or a ref set up in `refs`. */
  private filesAt(repo: Repo, ref: string): Map<string, string> | undefined {
    return ref === repo.defaultBranch ? repo.files : repo.refs.get(ref);
  }

  /** What differs between two sets of files, as GitHub lists changed files (sorted by name). */
  private diff(base: Map<string, string>, head: Map<string, string>): ChangedFile[] {
    const out: ChangedFile[] = [];
    for (const [filename, text] of head) {
      const before = base.get(filename);
      if (before === undefined) out.push({ filename, status: "added" });
      else if (before !== text) out.push({ filename, status: "modified" });
    }
    for (const filename of base.keys()) if (!head.has(filename)) out.push({ filename, status: "removed" });
    return out.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  }

  private fileJson(file: ChangedFile): Record<string, unknown> {
    const sha = createHash("sha1").update(file.filename).digest("hex");
    return { sha, additions: 0, deletions: 0, changes: 0, ...file };
  }

  private pullFiles(
    tenant: TenantState,
    req: DoubleRequest,
    owner: string,
    name: string,
    number: number,
  ): DoubleResponse {
    const auth = this.authorize(tenant, req, owner, name, "pull_requests", "read");
    if ("refused" in auth) return auth.refused;
    const pull = auth.repo.pulls.get(number);
    if (pull === undefined) return message(404, "Not Found");
    const base = this.filesAt(auth.repo, pull.base ?? auth.repo.defaultBranch) ?? new Map();
    const head = this.filesAt(auth.repo, pull.head) ?? new Map();
    const files = (pull.files ?? this.diff(base, head)).slice(0, MAX_PULL_FILES);
    const perPage = Math.min(100, Math.max(1, Number(req.url.searchParams.get("per_page") ?? "30") || 30));
    const page = Math.max(1, Number(req.url.searchParams.get("page") ?? "1") || 1);
    const items = files.slice((page - 1) * perPage, page * perPage).map((f) => this.fileJson(f));
    const last = Math.max(1, Math.ceil(files.length / perPage));
    const url = (p: number) =>
      `${tenant.baseUrl}/repos/${auth.repo.owner}/${auth.repo.name}/pulls/${number}/files?per_page=${perPage}&page=${p}`;
    const links: string[] = [];
    if (page < last) links.push(`<${url(page + 1)}>; rel="next"`, `<${url(last)}>; rel="last"`);
    if (page > 1) links.push(`<${url(1)}>; rel="first"`, `<${url(page - 1)}>; rel="prev"`);
    return jsonResponse(200, items, links.length > 0 ? { link: links.join(", ") } : {});
  }

  private compare(
    tenant: TenantState,
    req: DoubleRequest,
    owner: string,
    name: string,
    basehead: string,
  ): DoubleResponse {
    const auth = this.authorize(tenant, req, owner, name, "contents", "read");
    if ("refused" in auth) return auth.refused;
    const parts = basehead.split("...");
    if (parts.length !== 2) return message(404, "Not Found");
    const base = this.filesAt(auth.repo, parts[0] as string);
    const head = this.filesAt(auth.repo, parts[1] as string);
    if (base === undefined || head === undefined) return message(404, "Not Found");
    const files = this.diff(base, head).slice(0, MAX_COMPARE_FILES);
    return jsonResponse(200, {
      status: files.length === 0 ? "identical" : "ahead",
      ahead_by: files.length === 0 ? 0 : 1,
      behind_by: 0,
      total_commits: files.length === 0 ? 0 : 1,
      commits: [],
      files: files.map((f) => this.fileJson(f)),
    });
  }

  private checkRun(
    tenant: TenantState,
    req: DoubleRequest,
    owner: string,
    name: string,
    id: number | undefined,
  ): DoubleResponse {
    const auth = this.authorize(tenant, req, owner, name, "checks", "write");
    if ("refused" in auth) return auth.refused;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return message(400, "Problems parsing JSON");
    }
    if (typeof body !== "object" || body === null) return message(400, "Problems parsing JSON");
    const invalid = (why: string) => message(422, `Invalid request.\n\n${why}`);
    const output = body.output as Record<string, unknown> | undefined;
    let annotations: Record<string, unknown>[] = [];
    if (output !== undefined) {
      if (typeof output !== "object" || output === null) return invalid("output is not an object.");
      if (typeof output.title !== "string" || typeof output.summary !== "string") {
        return invalid('"title" and "summary" are required keys of output.');
      }
      if (output.annotations !== undefined) {
        if (!Array.isArray(output.annotations)) return invalid("annotations is not an array.");
        annotations = output.annotations as Record<string, unknown>[];
        if (annotations.length > MAX_ANNOTATIONS_PER_REQUEST) {
          return invalid(`Only ${MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed per request.`);
        }
        for (const a of annotations) {
          const ok =
            typeof a === "object" &&
            a !== null &&
            typeof a.path === "string" &&
            Number.isInteger(a.start_line) &&
            Number.isInteger(a.end_line) &&
            (a.start_line as number) >= 1 &&
            (a.end_line as number) >= (a.start_line as number) &&
            typeof a.message === "string" &&
            ANNOTATION_LEVELS.has(String(a.annotation_level));
          if (!ok)
            return invalid("an annotation lacks path, start_line, end_line, annotation_level or message.");
        }
      }
    }
    if (body.conclusion !== undefined && !CONCLUSIONS.has(String(body.conclusion))) {
      return invalid(`${String(body.conclusion)} is not a valid conclusion.`);
    }
    const fullName = `${auth.repo.owner}/${auth.repo.name}`;
    if (id === undefined) {
      if (typeof body.name !== "string" || body.name === "") return invalid('"name" wasn\'t supplied.');
      if (typeof body.head_sha !== "string") return invalid('"head_sha" wasn\'t supplied.');
      if (!auth.repo.refs.has(body.head_sha)) return invalid(`No commit found for SHA: ${body.head_sha}`);
      if (body.status === "completed" && body.conclusion === undefined) {
        return invalid('"conclusion" is required when status is completed.');
      }
      const run: CheckRunRecord = {
        id: this.nextId++,
        repo: fullName,
        created: body,
        updates: [],
        annotations: [...annotations],
      };
      tenant.checkRuns.push(run);
      return jsonResponse(201, this.checkRunJson(run));
    }
    const run = tenant.checkRuns.find((r) => r.id === id && r.repo.toLowerCase() === fullName.toLowerCase());
    if (run === undefined) return message(404, "Not Found");
    run.updates.push(body);
    run.annotations.push(...annotations);
    return jsonResponse(200, this.checkRunJson(run));
  }

  private checkRunJson(run: CheckRunRecord): Record<string, unknown> {
    const latest = { ...run.created, ...Object.assign({}, ...run.updates) } as Record<string, unknown>;
    const output = (latest.output ?? {}) as Record<string, unknown>;
    return {
      id: run.id,
      head_sha: run.created.head_sha,
      external_id: latest.external_id ?? "",
      name: latest.name,
      status: latest.status ?? "queued",
      conclusion: latest.conclusion ?? null,
      output: {
        title: output.title ?? null,
        summary: output.summary ?? null,
        text: output.text ?? null,
        annotations_count: run.annotations.length,
      },
    };
  }

  /** The web form: remembers the manifest under a new code and redirects as GitHub does on "Create". */
  private manifestForm(tenant: TenantState, req: DoubleRequest, org: string | undefined): DoubleResponse {
    const form = new URLSearchParams(req.body);
    let manifest: Record<string, unknown>;
    try {
      manifest = JSON.parse(form.get("manifest") ?? "") as Record<string, unknown>;
    } catch {
      return {
        status: 422,
        headers: { "content-type": "text/plain" },
        body: "Invalid GitHub App configuration",
      };
    }
    const hook = manifest.hook_attributes as { url?: unknown } | undefined;
    if (
      typeof manifest.url !== "string" ||
      typeof hook?.url !== "string" ||
      typeof manifest.redirect_url !== "string"
    ) {
      return {
        status: 422,
        headers: { "content-type": "text/plain" },
        body: "Invalid GitHub App configuration",
      };
    }
    const code = randomBytes(10).toString("hex");
    const state = req.url.searchParams.get("state");
    tenant.manifestCodes.set(code, { manifest, org, state, createdAt: Date.now(), used: false });
    const target = new URL(manifest.redirect_url);
    target.searchParams.set("code", code);
    if (state !== null) target.searchParams.set("state", state);
    return { status: 302, headers: { location: target.toString() } };
  }

  /** `POST /app-manifests/{code}/conversions`: the App, its key and secrets, once per code. */
  private convert(tenant: TenantState, code: string): DoubleResponse {
    const entry = tenant.manifestCodes.get(code);
    if (entry === undefined || entry.used || Date.now() - entry.createdAt > MANIFEST_CODE_LIFETIME_MS) {
      return message(404, "Not Found");
    }
    entry.used = true;
    const { publicKey, privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
    });
    // The new App's key is the one this tenant now verifies App JWTs with.
    tenant.publicKey = createPublicKey(publicKey);
    const manifest = entry.manifest;
    const name = typeof manifest.name === "string" ? manifest.name : "github-app";
    const slug = name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "");
    const owner = entry.org ?? WEB_USER;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    return jsonResponse(201, {
      id: Number(tenant.appId),
      slug,
      node_id: `A_kwDO${randomBytes(6).toString("base64url")}`,
      owner: { login: owner, id: this.nextId++, type: entry.org === undefined ? "User" : "Organization" },
      name,
      description: manifest.description ?? "",
      external_url: manifest.url,
      html_url: `https://github.com/apps/${slug}`,
      created_at: now,
      updated_at: now,
      permissions: manifest.default_permissions ?? {},
      events: manifest.default_events ?? [],
      client_id: `Iv23li${randomBytes(7).toString("hex")}`,
      client_secret: randomBytes(20).toString("hex"),
      webhook_secret: randomBytes(20).toString("hex"),
      pem: privateKey,
    });
  }

  private revoke(tenant: TenantState, req: DoubleRequest): DoubleResponse {
    const token = this.tokenOf(tenant, req.headers.authorization ?? "");
    if (token === undefined) return message(401, "Bad credentials");
    token.revoked = true;
    return { status: 204 };
  }
}

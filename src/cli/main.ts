/**
 * @module cli/main
 * `sts-policy`, the command-line checker (docs/policy-reference.md, "Checking policies with sts-policy"):
 * `check` validates policy files the way the service will read them (and an organization's trusted-issuer
 * file, recognised by its name) and prints `file:line:col: message` per problem; `explain` runs a policy
 * against a token's claims and says which check passes or fails and why, so a refused exchange can be
 * debugged without guessing. All I/O goes through {@link CliIo} (bin/sts-policy.mjs supplies Node's), which
 * keeps this file free of Node APIs and testable.
 */

import { messageOf } from "../errors/catalogue";
import { decodeJsonObject } from "../oidc/token";
import {
  type ExplainReport,
  explain,
  loadPolicy,
  type PolicyKind,
  type PolicyProblem,
  parseTrustedIssuers,
  TRUSTED_ISSUERS_FILE_NAME,
} from "../trust";

interface CliIo {
  /** The file's text; throws when it cannot be read. */
  readFile(path: string): string;
  /** The absolute, normalised form of a path (for org-repository detection). */
  resolve(path: string): string;
  out(line: string): void;
  err(line: string): void;
}

const EXIT_OK = 0;
const EXIT_PROBLEMS = 1;
const EXIT_USAGE = 2;

const DEFAULT_ORG_POLICY_REPO = ".github";

export const USAGE = `usage:
  sts-policy check [--org] [--org-policy-repo NAME] FILE...
      Validate trust policy files. A file at <repo>/.github/chainguard/*.sts.yaml where <repo> is the
      org policy repository (.github unless --org-policy-repo) is read as an organization policy;
      --org forces that. A file named trusted-token-issuers.yaml is checked as an organization's
      trusted-issuer file. Prints file:line:col: message per problem; exit 1 on any error.
  sts-policy explain --policy FILE (--claims CLAIMS.json | --token JWT) [--domain DOMAIN] [--org]
      Run the policy against a token's claims: every check with pass/fail and why, then the grant or
      the refusal the service would give. --token decodes the JWT payload WITHOUT verifying it.
      DOMAIN is the service's STS_DOMAIN (the default audience).`;

interface Flags {
  positional: string[];
  values: Map<string, string>;
  switches: Set<string>;
}

const VALUE_FLAGS = new Set(["--org-policy-repo", "--policy", "--claims", "--token", "--domain"]);
const SWITCHES = new Set(["--org", "--help", "-h"]);

function parseFlags(args: string[]): Flags | string {
  const flags: Flags = { positional: [], values: new Map(), switches: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      flags.positional.push(...args.slice(i + 1));
      break;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_FLAGS.has(name)) {
      const value = eq > 0 && name !== arg ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) return `${name} needs a value`;
      if (flags.values.has(name)) return `${name} given twice`;
      flags.values.set(name, value);
    } else if (SWITCHES.has(arg)) flags.switches.add(arg);
    else if (arg.startsWith("-") && arg !== "-") return `unknown option ${arg}`;
    else flags.positional.push(arg);
  }
  return flags;
}

/**
 * Org policy when the file sits in `<orgRepo>/.github/chainguard/` (docs/policy-reference.md,
 * "Where a policy lives").
 */
function kindForPath(absolutePath: string, orgPolicyRepo: string): PolicyKind {
  const parts = absolutePath.split(/[\\/]+/);
  const n = parts.length;
  return n >= 4 &&
    parts[n - 2] === "chainguard" &&
    parts[n - 3] === ".github" &&
    parts[n - 4] === orgPolicyRepo
    ? "org"
    : "repo";
}

/** An organization's trusted-issuer file, recognised by its name (docs/trusted-issuers.md). */
function isTrustedIssuersPath(path: string): boolean {
  return path.split(/[\\/]+/).at(-1) === TRUSTED_ISSUERS_FILE_NAME;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** Checks a trusted-issuer file; the exit status for it. */
function checkTrustedIssuers(file: string, text: string, io: CliIo): number {
  const parsed = parseTrustedIssuers(text);
  if (!parsed.ok) {
    for (const p of parsed.problems) io.out(format(file, p, false));
    return EXIT_PROBLEMS;
  }
  for (const p of parsed.warnings) io.out(format(file, p, true));
  const { mode, allowlist } = parsed.file;
  const warned = parsed.warnings.length > 0 ? `, ${plural(parsed.warnings.length, "warning")}` : "";
  io.out(
    `${file}: ok (trusted issuers, ${mode} mode, ${plural(allowlist.issuers.length, "issuer")}, ${plural(allowlist.patterns.length, "pattern")}${warned})`,
  );
  return EXIT_OK;
}

function format(file: string, p: PolicyProblem, warning: boolean): string {
  return `${file}:${p.line}:${p.col}: ${warning ? "warning: " : ""}${p.message}`;
}

function check(flags: Flags, io: CliIo): number {
  if (flags.positional.length === 0) {
    io.err("sts-policy check: no files given");
    io.err(USAGE);
    return EXIT_USAGE;
  }
  const orgRepo = flags.values.get("--org-policy-repo") ?? DEFAULT_ORG_POLICY_REPO;
  let status = EXIT_OK;
  for (const file of flags.positional) {
    let text: string;
    try {
      text = io.readFile(file);
    } catch (error) {
      io.out(`${file}:1:1: cannot read file: ${error instanceof Error ? error.message : String(error)}`);
      status = EXIT_PROBLEMS;
      continue;
    }
    if (isTrustedIssuersPath(file)) {
      if (checkTrustedIssuers(file, text, io) !== EXIT_OK) status = EXIT_PROBLEMS;
      continue;
    }
    const kind: PolicyKind = flags.switches.has("--org") ? "org" : kindForPath(io.resolve(file), orgRepo);
    const loaded = loadPolicy(text, kind);
    if (!loaded.ok) {
      for (const p of loaded.problems) io.out(format(file, p, false));
      status = EXIT_PROBLEMS;
      continue;
    }
    for (const p of loaded.warnings) io.out(format(file, p, true));
    const n = Object.keys(loaded.policy.permissions).length;
    io.out(
      `${file}: ok (${kind === "org" ? "organization" : "repository"} policy, ${n} permission${n === 1 ? "" : "s"}${loaded.warnings.length > 0 ? `, ${loaded.warnings.length} warning${loaded.warnings.length === 1 ? "" : "s"}` : ""})`,
    );
  }
  return status;
}

/** The payload of a compact JWS, decoded without any verification. */
function decodeJwtPayload(token: string): Record<string, unknown> | string {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return "not a JWT (expected three dot-separated parts)";
  // The service's own decode (unpadded base64url, a JSON object), so explain accepts what it accepts.
  return decodeJsonObject(parts[1] as string) ?? "the JWT payload is not an unpadded base64url JSON object";
}

function explainCommand(flags: Flags, io: CliIo): number {
  const policyFile = flags.values.get("--policy");
  const claimsFile = flags.values.get("--claims");
  const token = flags.values.get("--token");
  if (
    policyFile === undefined ||
    (claimsFile === undefined) === (token === undefined) ||
    flags.positional.length > 0
  ) {
    io.err("sts-policy explain: needs --policy FILE and exactly one of --claims FILE or --token JWT");
    io.err(USAGE);
    return EXIT_USAGE;
  }
  const domain = flags.values.get("--domain");

  let claims: Record<string, unknown>;
  let source: string;
  if (token !== undefined) {
    const decoded = decodeJwtPayload(token);
    if (typeof decoded === "string") {
      io.err(`sts-policy explain: --token: ${decoded}`);
      return EXIT_USAGE;
    }
    claims = decoded;
    source = "--token (payload decoded WITHOUT verifying the signature, issuer or expiry)";
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(io.readFile(claimsFile as string));
    } catch (error) {
      io.err(`sts-policy explain: ${claimsFile}: ${error instanceof Error ? error.message : String(error)}`);
      return EXIT_USAGE;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      io.err(`sts-policy explain: ${claimsFile}: the claims must be a JSON object`);
      return EXIT_USAGE;
    }
    claims = parsed as Record<string, unknown>;
    source = claimsFile as string;
  }

  let text: string;
  try {
    text = io.readFile(policyFile);
  } catch (error) {
    io.out(`${policyFile}:1:1: cannot read file: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_PROBLEMS;
  }
  const kind: PolicyKind = flags.switches.has("--org")
    ? "org"
    : kindForPath(io.resolve(policyFile), DEFAULT_ORG_POLICY_REPO);
  const loaded = loadPolicy(text, kind);
  io.out(`policy: ${policyFile} (${kind === "org" ? "organization" : "repository"} policy)`);
  io.out(`claims: ${source}`);
  io.out(`domain: ${domain ?? "(not given: pass --domain to check the default audience)"}`);
  if (!loaded.ok) {
    for (const p of loaded.problems) io.out(format(policyFile, p, false));
    io.out(
      "result: refused: POLICY_NOT_FOUND (404): the service treats a policy it cannot parse or compile as missing",
    );
    return EXIT_PROBLEMS;
  }
  for (const p of loaded.warnings) io.out(format(policyFile, p, true));
  const report = explain(loaded.policy, claims, domain ?? "");
  io.out("");
  printReport(report, domain ?? "", io);
  return report.result.ok ? EXIT_OK : EXIT_PROBLEMS;
}

function printReport(report: ExplainReport, domain: string, io: CliIo): void {
  const width = Math.max(...report.steps.map((s) => s.check.length));
  for (const s of report.steps) io.out(`  ${s.pass ? "PASS" : "FAIL"}  ${s.check.padEnd(width)}  ${s.why}`);
  io.out("");
  const r = report.result;
  if (r.ok) {
    io.out("result: granted");
    io.out(
      `  permissions: ${Object.entries(r.value.permissions)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ")}`,
    );
    io.out(
      `  repositories: ${r.value.repositories === undefined ? "(set by the request's scope: owner/repo gets that repository; owner gets every repository of the installation; owner/<org policy repo> gets that repository)" : r.value.repositories.join(", ")}`,
    );
    return;
  }
  const f = r.failure;
  const claim = f.args.claimName !== undefined ? ` (metadata.claim ${JSON.stringify(f.args.claimName)})` : "";
  io.out(`result: refused: ${f.reason}${claim}: ${messageOf(f, domain || "<STS_DOMAIN>")}`);
}

/** Runs the checker; returns the process exit code. */
export function main(argv: string[], io: CliIo): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    (command === undefined ? io.err : io.out)(USAGE);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const flags = parseFlags(rest);
  if (typeof flags === "string") {
    io.err(`sts-policy ${command}: ${flags}`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  if (flags.switches.has("--help") || flags.switches.has("-h")) {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (command === "check") return check(flags, io);
  if (command === "explain") return explainCommand(flags, io);
  io.err(`sts-policy: unknown command ${JSON.stringify(command)}`);
  io.err(USAGE);
  return EXIT_USAGE;
}

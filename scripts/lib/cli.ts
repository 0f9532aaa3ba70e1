/**
 * What every script of this project shares at its edge with the user: flags parsed one way (`--help`
 * answers, an unknown flag or a bad value is a usage line and exit 2), a user's mistake reported as one
 * message without a stack ({@link UserError}), and network errors described in words instead of
 * Node's bare `fetch failed`.
 */

/** A mistake the user can fix (a missing file, a busy port, a wrong setting): printed without a stack. */
export class UserError extends Error {
  override name = "UserError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** How a flag takes its value: a switch takes none. */
export type FlagKind = "switch" | "string" | "int" | "port";

export interface FlagSpec {
  kind: FlagKind;
  /** May be given more than once (the values are collected in order). */
  repeat?: boolean;
}

export type ParsedFlags = {
  /** Switches given (`--ci`), by name without the dashes. */
  switches: Set<string>;
  /** The last value of each value flag given, by name without the dashes. */
  values: Map<string, string>;
  /** Every value of a repeatable flag. */
  lists: Map<string, string[]>;
  /** Arguments after a literal `--`, untouched. */
  rest: string[];
};

/**
 * Parses `argv` against `spec` (names without the leading `--`); `--name=value` works as well as
 * `--name value`. Returns the flags, or a problem for the usage line. `--help`/`-h` is always known.
 */
export function parseFlags(argv: string[], spec: Record<string, FlagSpec>): ParsedFlags | string {
  const out: ParsedFlags = { switches: new Set(), values: new Map(), lists: new Map(), rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (arg === "--help" || arg === "-h") {
      out.switches.add("help");
      continue;
    }
    if (!arg.startsWith("--")) return `unexpected argument ${JSON.stringify(arg)}`;
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq > 0 ? eq : undefined);
    const flag = spec[name];
    if (flag === undefined) return `unknown option --${name}`;
    if (flag.kind === "switch") {
      if (eq > 0) return `--${name} takes no value`;
      out.switches.add(name);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith("--"))) return `--${name} needs a value`;
    if (flag.kind === "int" && !/^[0-9]{1,9}$/.test(value))
      return `--${name} needs a whole number, not ${JSON.stringify(value)}`;
    if (
      flag.kind === "port" &&
      !(/^[0-9]{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535)
    ) {
      return `--${name} needs a port number (1-65535), not ${JSON.stringify(value)}`;
    }
    out.values.set(name, value);
    if (flag.repeat) out.lists.set(name, [...(out.lists.get(name) ?? []), value]);
  }
  return out;
}

/** Prints `problem` and the usage text to stderr and exits 2. */
export function usageExit(script: string, problem: string, usage: string): never {
  process.stderr.write(`${script}: ${problem}\n${usage}\n`);
  process.exit(2);
}

/**
 * Parses the process's arguments for `script`: `--help` prints `usage` and exits 0, a problem exits 2
 * with the usage line.
 */
export function parseArgsOrExit(script: string, usage: string, spec: Record<string, FlagSpec>): ParsedFlags {
  const parsed = parseFlags(process.argv.slice(2), spec);
  if (typeof parsed === "string") usageExit(script, parsed, usage);
  if (parsed.switches.has("help")) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed;
}

/**
 * The end of every script's `main().catch`: a {@link UserError} is one line and its exit code; anything
 * else is a bug, printed with its stack.
 */
/** Problems as a list under a heading's line: `  - ` before each, its further lines indented under it. */
export function bulletList(problems: readonly string[]): string {
  return problems.map((p) => `  - ${p.replaceAll("\n", "\n    ")}`).join("\n");
}

export function exitOnError(script: string): (error: unknown) => never {
  return (error: unknown) => {
    if (error instanceof UserError) {
      process.stderr.write(`${script}: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${script}: unexpected error (a bug; please report it):\n${text}\n`);
    process.exit(1);
  };
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found (DNS)",
  EAI_AGAIN: "host name lookup failed (DNS; offline?)",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed",
  ENETUNREACH: "network unreachable (offline?)",
  EHOSTUNREACH: "host unreachable",
  CERT_HAS_EXPIRED: "TLS certificate expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS certificate not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate not trusted",
};

/**
 * What went wrong with a request that got no answer, in words: Node's fetch throws
 * `TypeError: fetch failed` and keeps the reason in `cause`.
 */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return "no answer";
  if (error.name === "TimeoutError" || error.name === "AbortError") return "timed out";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  if (code !== undefined) return `${NETWORK_CODES[code] ?? "no answer"} (${code})`;
  if (error.message === "fetch failed") return "no answer (network error)";
  return error.message;
}

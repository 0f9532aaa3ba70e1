#!/usr/bin/env node
// `npm start`: `wrangler dev` (local workerd, local KV) against a real GitHub App whose settings come
// from `.dev.vars` in the current directory (npm runs scripts from the project root). Refuses to start,
// with a message saying what to do, when `.dev.vars` is missing or one of the three required values is
// empty, when STS_DOMAIN names another local port than the one wrangler would listen on, or when that
// port is busy (wrangler dev would quietly move to another one, and STS_DOMAIN would then be wrong).
// `--port N` chooses the port (passed on to wrangler dev); arguments after `--` go to wrangler dev as
// they are (`npm start -- --port 8443 -- --inspector-port 9230`).
//
// wrangler runs as a child `node …/wrangler.js dev` process (never through npx: ending npx leaves workerd
// running); SIGINT/SIGTERM are forwarded to it, and wrangler stops its workerd before exiting.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";

const REQUIRED = [
  ["STS_DOMAIN", "the authority clients use (the default audience), e.g. localhost:8787"],
  ["GITHUB_APP_ID", "the numeric App id from the App's settings page"],
  ["GITHUB_APP_PRIVATE_KEY", "the App's private key (PEM), as GitHub hands it out"],
];

// dotenv 16's line grammar (what wrangler uses to read .dev.vars), enough to tell empty from set.
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

/** Parses a .dev.vars file into name → value (quotes removed), as dotenv does. */
function parseDevVars(text) {
  const out = {};
  for (const match of text.replace(/\r\n?/g, "\n").matchAll(LINE)) {
    let value = (match[2] ?? "").trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, "$2");
    if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
    out[match[1]] = value;
  }
  return out;
}

function fail(lines) {
  console.error(lines.join("\n"));
  process.exit(1);
}

const DEFAULT_PORT = 8787;
const USAGE = `usage: npm start -- [--port N] [-- WRANGLER_DEV_ARGS...]
  Runs the Worker locally (wrangler dev on http://localhost:${DEFAULT_PORT}) against a real GitHub App, with
  the settings in .dev.vars (see .dev.vars.example).
  --port N    listen on N instead of ${DEFAULT_PORT}; STS_DOMAIN in .dev.vars must then be localhost:N
  -- ...      everything after -- goes to wrangler dev unchanged (e.g. -- --inspector-port 9230)`;

function usage(problem) {
  console.error(`npm start: ${problem}\n${USAGE}`);
  process.exit(2);
}

/** This script's own flags, and what goes to wrangler dev. */
function parseArgs(argv) {
  let port = DEFAULT_PORT;
  const passOn = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      passOn.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (arg === "--port" || arg.startsWith("--port=")) {
      const value = arg === "--port" ? argv[++i] : arg.slice("--port=".length);
      if (!/^[0-9]{1,5}$/.test(value ?? "") || Number(value) < 1 || Number(value) > 65535) {
        usage(`--port needs a port number (1-65535), not ${JSON.stringify(value ?? "")}`);
      }
      port = Number(value);
      continue;
    }
    usage(`unknown option ${arg} (options for wrangler dev go after --: npm start -- -- ${arg})`);
  }
  return { port, passOn };
}

/** Whether 127.0.0.1:`port` can be listened on now. */
function portFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/** The port STS_DOMAIN says local clients use, or undefined when it names no loopback host. */
function loopbackPort(domain) {
  const match = /^(localhost|127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?$/i.exec(domain.trim());
  if (match === null) return undefined;
  return match[2] === undefined ? 443 : Number(match[2]);
}

const { port, passOn } = parseArgs(process.argv.slice(2));
if (passOn.some((a) => a === "--port" || a.startsWith("--port="))) {
  usage("give the port as npm start -- --port N (before --), so that it can be checked against STS_DOMAIN");
}

const devVarsPath = resolve(".dev.vars");
if (!existsSync(devVarsPath)) {
  fail([
    `npm start: no .dev.vars in ${process.cwd()}.`,
    "",
    "`npm start` runs the Worker locally (wrangler dev) against a real GitHub App and reads its settings",
    "from .dev.vars (git-ignored). Create it from the example and fill in the three values:",
    "",
    "  cp .dev.vars.example .dev.vars",
    "",
    ...REQUIRED.map(([name, what]) => `  ${name.padEnd(24)} ${what}`),
    "",
    "No App yet? `npm run demo` shows the whole exchange offline, with no account at all.",
  ]);
}

const vars = parseDevVars(readFileSync(devVarsPath, "utf8"));
const missing = REQUIRED.filter(([name]) => !vars[name] || vars[name].trim() === "");
if (missing.length > 0) {
  fail([
    `npm start: .dev.vars does not set ${missing.map(([n]) => n).join(", ")}.`,
    "",
    ...missing.map(([name, what]) => `  ${name.padEnd(24)} ${what}`),
    "",
    "See .dev.vars.example for the format (README: Local development with a real GitHub App).",
  ]);
}

const expected = loopbackPort(vars.STS_DOMAIN);
if (expected !== undefined && expected !== port) {
  fail([
    `npm start: STS_DOMAIN="${vars.STS_DOMAIN.trim()}" in .dev.vars says clients reach the Worker on port ${expected}, but it would listen on ${port}.`,
    "",
    `Either start it there (npm start -- --port ${expected}) or set STS_DOMAIN="localhost:${port}" in .dev.vars:`,
    "STS_DOMAIN is the audience every token must carry, so it must be the address clients use.",
  ]);
}
if (!(await portFree(port))) {
  fail([
    `npm start: port ${port} is in use (another npm start, npm run demo or wrangler dev?).`,
    "",
    "wrangler dev would quietly listen on another port, and STS_DOMAIN would then name the wrong one.",
    `Stop whatever holds port ${port}, or choose another: npm start -- --port N, with STS_DOMAIN="localhost:N" in .dev.vars.`,
  ]);
}

const require = createRequire(import.meta.url);
const wrangler = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
const args = [wrangler, "dev", "--port", String(port), ...passOn];
if (!process.stdout.isTTY && !args.some((a) => a.startsWith("--show-interactive-dev-session"))) {
  args.push("--show-interactive-dev-session=false");
}
const child = spawn(process.execPath, args, {
  stdio: "inherit",
  env: {
    ...process.env,
    WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? "false",
    CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
  },
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on("exit", (code, signal) => {
  process.exit(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1));
});

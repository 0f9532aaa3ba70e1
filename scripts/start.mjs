#!/usr/bin/env node
// `npm start`: `wrangler dev` (local workerd, local KV) against a real GitHub App whose settings come
// from `.dev.vars` in the current directory (npm runs scripts from the project root). Refuses to start,
// with a message saying what to do, when `.dev.vars` is missing or one of the three required values is
// empty. Extra arguments go to `wrangler dev` (`npm start -- --port 8443`).
//
// wrangler runs as a child `node …/wrangler.js dev` process (never through npx: ending npx leaves workerd
// running); SIGINT/SIGTERM are forwarded to it, and wrangler stops its workerd before exiting.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
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

const require = createRequire(import.meta.url);
const wrangler = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
const args = [wrangler, "dev", ...process.argv.slice(2)];
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

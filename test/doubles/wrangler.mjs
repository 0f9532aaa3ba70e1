#!/usr/bin/env node
// A stand-in for `wrangler` 4.86 for the tests of npm run setup and npm run deploy: the commands those
// scripts run, answering on stdout and stderr with the very strings wrangler 4.86 prints (taken from
// node_modules/wrangler/wrangler-dist/cli.js: the banner, `kv namespace create`'s snippet, `kv namespace
// list` and `secret list` JSON, `secret put`'s draft-Worker dialogue in a non-interactive shell, the
// not-logged-in and Worker-not-found errors, `deploy`'s summary), with its state in a JSON file:
//
//   WRANGLER_STAND_IN_STATE=/tmp/x/state.json   {"loggedIn": true, "namespaces": [...], "workers": {...}}
//
// Every call is appended to `calls` in that file (argv, and stdin for `secret put`, so tests can check
// what reached the secret store). Exit codes as wrangler's: 0, or 1 on an error.
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const VERSION = "4.86.0";
const statePath = process.env.WRANGLER_STAND_IN_STATE;
if (!statePath) {
  process.stderr.write("wrangler stand-in: set WRANGLER_STAND_IN_STATE to a JSON state file\n");
  process.exit(2);
}
const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, "utf8")) : {};
state.loggedIn ??= true;
state.namespaces ??= [];
state.workers ??= {};
state.calls ??= [];
const save = () => writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`);

const argv = process.argv.slice(2);
const log = (...parts) => process.stdout.write(`${parts.join(" ")}\n`);

function banner() {
  const text = ` \u26C5\uFE0F wrangler ${VERSION}`;
  log(`\n${text}\n${"\u2500".repeat(text.length)}`);
}

/** How wrangler prints a UserError (esbuild's message format), then exit 1. */
function userError(message) {
  process.stderr.write(`\n\u2718 [ERROR] ${message}\n\n`);
  save();
  process.exit(1);
}

function flag(name) {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

/** The Worker's name: --name, else `name` of the config file (--config, else ./wrangler.toml). */
function workerName() {
  const explicit = flag("name");
  if (explicit) return explicit;
  const config = resolve(flag("config") ?? "wrangler.toml");
  const toml = existsSync(config) ? readFileSync(config, "utf8") : "";
  return /^name\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
}

function requireAuth() {
  if (!state.loggedIn) {
    userError(
      "In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work. Please go to https://developers.cloudflare.com/fundamentals/api/get-started/create-token/ for instructions on how to create an api token, and assign its value to CLOUDFLARE_API_TOKEN.",
    );
  }
}

function readStdin() {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return "";
  }
}

/** getValidBindingName of wrangler: what `kv namespace create` proposes as the binding. */
function bindingName(name) {
  let b = name
    .replace(/[\s-]/g, "_")
    .replace(/[^a-zA-Z0-9_]/g, "")
    .replace(/_+/g, "_");
  if (/^[0-9]/.test(b)) b = `_${b}`;
  return !b.length || /^_+$/.test(b) ? "KV" : b;
}

const call = { argv };
state.calls.push(call);
const [a, b, c] = argv;

if (a === "kv" && b === "namespace" && c === "create") {
  const title = argv[3];
  banner();
  requireAuth();
  log("Resource location:", "remote", "\n");
  log(`\u{1F300} Creating namespace with title "${title}"`);
  if (state.namespaces.some((n) => n.title === title)) {
    userError(
      `A KV namespace with the title "${title}" already exists.\n\nYou can list existing namespaces with their IDs by running:\n  wrangler kv namespace list\n\nOr choose a different namespace name.`,
    );
  }
  const id = randomBytes(16).toString("hex");
  state.namespaces.push({ id, title, supports_url_encoding: true });
  log("\u2728 Success!");
  log(
    "To access your new KV Namespace in your Worker, add the following snippet to your configuration file:",
  );
  log(`[[kv_namespaces]]\nbinding = "${flag("binding") ?? bindingName(title)}"\nid = "${id}"\n`);
} else if (a === "kv" && b === "namespace" && c === "list") {
  requireAuth();
  log(JSON.stringify(state.namespaces, null, "  "));
} else if (a === "secret" && b === "put") {
  const key = argv[2];
  const name = workerName();
  banner();
  requireAuth();
  const value = readStdin().replace(/\s+$/, "");
  call.stdin = value;
  log(`\u{1F300} Creating the secret for the Worker "${name}" `);
  if (state.workers[name] === undefined) {
    log(
      `? There doesn't seem to be a Worker called "${name}". Do you want to create a new Worker with that name and add secrets to it?`,
    );
    log("\u{1F916} Using fallback value in non-interactive context: yes");
    log(`\u{1F300} Creating new Worker "${name}"...`);
    state.workers[name] = { secrets: {}, deployed: false };
  }
  state.workers[name].secrets[key] = value;
  log(`\u2728 Success! Uploaded secret ${key}`);
} else if (a === "secret" && b === "list") {
  const name = workerName();
  if ((flag("format") ?? "json") === "pretty") banner();
  requireAuth();
  const worker = state.workers[name];
  if (worker === undefined) {
    userError(
      `Worker "${name}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.\nOtherwise, check that the Worker name is correct and you're logged into the right account.`,
    );
  }
  const secrets = Object.keys(worker.secrets).map((n) => ({ name: n, type: "secret_text" }));
  if (flag("format") === "pretty") for (const s of secrets) log(`Secret Name: ${s.name}\n`);
  else log(JSON.stringify(secrets, null, "  "));
} else if (a === "deploy") {
  const name = workerName();
  banner();
  requireAuth();
  state.workers[name] ??= { secrets: {}, deployed: false };
  state.workers[name].deployed = true;
  log("Total Upload: 430.53 KiB / gzip: 137.89 KiB");
  log("Uploaded", name, "(1.02 sec)");
  log(`Deployed ${name} triggers`, "(0.35 sec)");
  log(`  https://${name}.example.workers.dev`);
  log("Current Version ID:", randomUUID());
} else if (a === "whoami") {
  banner();
  if (!state.loggedIn) log("You are not authenticated. Please run `wrangler login`.");
  else log("\u{1F44B} You are logged in with an OAuth Token, associated with the email user@example.com.");
} else {
  userError(`Unknown arguments: ${argv.join(", ")}`);
}
save();

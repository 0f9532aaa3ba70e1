/**
 * `npm run deploy`: a preflight, then `wrangler deploy` (docs/deploying.md, "npm run deploy"). The
 * preflight refuses what would deploy a Worker that answers every exchange with MISCONFIGURED, or does
 * not start: the placeholder KV id, STS_DOMAIN or GITHUB_APP_ID missing from [vars] (or GITHUB_APP_ID
 * not a number), and GITHUB_APP_PRIVATE_KEY missing from the Worker's secrets (`wrangler secret list`).
 * It warns when neither ALLOWED_ISSUERS nor ALLOWED_ISSUER_PATTERNS is set. Every problem is listed
 * before anything is deployed.
 */

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { bulletList, exitOnError, parseArgsOrExit, UserError } from "./lib/cli";
import { findKey, kvNamespace, readValue, splitLines, table } from "./lib/toml-lines";
import { jsonOutput, runWrangler, wranglerCommand, wranglerError, wranglerHint } from "./lib/wrangler";

const SCRIPT = "npm run deploy";
const KV_PLACEHOLDER = "00000000000000000000000000000000";

const USAGE = `usage: npm run deploy -- [--check] [--config FILE] [--wrangler CMD] [-- WRANGLER_DEPLOY_ARGS...]
  Checks the deployment's settings and secrets, then runs wrangler deploy. Refuses the placeholder KV id,
  a missing STS_DOMAIN or GITHUB_APP_ID in [vars] of wrangler.toml, and a Worker without the secret
  GITHUB_APP_PRIVATE_KEY; warns when ALLOWED_ISSUERS is not set.
  --check          only check; do not deploy
  --config FILE    the wrangler configuration (default: wrangler.toml)
  --wrangler CMD   the wrangler to run (a .js or .mjs file runs with node; or STS_WRANGLER)
  -- ...           everything after -- goes to wrangler deploy (--var NAME:VALUE counts as set)`;

const flags = parseArgsOrExit(SCRIPT, USAGE, {
  check: { kind: "switch" },
  config: { kind: "string" },
  wrangler: { kind: "string" },
});

const say = (line = "") => process.stdout.write(`${line}\n`);

/** `--var NAME:VALUE` given to wrangler deploy after `--`. */
function varsOnCommandLine(rest: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    const given = arg === "--var" ? rest[++i] : arg.startsWith("--var=") ? arg.slice(6) : undefined;
    const colon = given?.indexOf(":") ?? -1;
    if (given !== undefined && colon > 0) out.set(given.slice(0, colon), given.slice(colon + 1));
  }
  return out;
}

function main(): void {
  const configPath = resolve(flags.values.get("config") ?? "wrangler.toml");
  if (!existsSync(configPath))
    throw new UserError(`no wrangler configuration at ${configPath} (--config FILE)`);
  const lines = splitLines(readFileSync(configPath, "utf8"));
  const problems: string[] = [];
  const warnings: string[] = [];
  const extraVars = varsOnCommandLine(flags.rest);

  // The KV namespace the Worker caches in.
  const kv = kvNamespace(lines, "STS_CACHE");
  const idAt = kv === undefined ? undefined : findKey(lines, kv, "id");
  const id = idAt === undefined ? undefined : readValue(lines[idAt] as string);
  if (kv === undefined) problems.push('no [[kv_namespaces]] entry with binding = "STS_CACHE"');
  else if (id?.kind !== "string" || id.value === KV_PLACEHOLDER || !/^[0-9a-f]{32}$/.test(id.value)) {
    problems.push(
      `[[kv_namespaces]] STS_CACHE: ${id?.kind === "string" && id.value === KV_PLACEHOLDER ? "the id is still the placeholder 000…000" : "no KV namespace id"}; npm run setup creates the namespace and writes its id (or: npx wrangler kv namespace create github-sts-STS_CACHE, then copy its id there)`,
    );
  }

  // The settings with no safe default.
  const vars = table(lines, "vars");
  const varOf = (key: string): string | undefined => {
    if (extraVars.has(key)) return extraVars.get(key);
    const at = vars === undefined ? undefined : findKey(lines, vars, key);
    if (at === undefined) return undefined;
    const v = readValue(lines[at] as string);
    if (v.kind === "string" || v.kind === "number") return String(v.value).trim();
    if (v.kind === "array") return v.items.join(",");
    return undefined;
  };
  const stsDomain = varOf("STS_DOMAIN");
  if (stsDomain === undefined || stsDomain === "") {
    problems.push(
      'STS_DOMAIN is not set in [vars]: the hostname clients use, e.g. STS_DOMAIN = "sts.example.com" (npm run setup -- --domain HOST writes it)',
    );
  } else if (/^[a-z]+:\/\//i.test(stsDomain) || stsDomain.includes("/")) {
    problems.push(`STS_DOMAIN is "${stsDomain}": a host name (host or host:port), not a URL`);
  }
  const appId = varOf("GITHUB_APP_ID");
  if (appId === undefined || appId === "") {
    problems.push(
      'GITHUB_APP_ID is not set in [vars]: the App\'s numeric id, e.g. GITHUB_APP_ID = "123456" (npm run setup writes it)',
    );
  } else if (!/^[1-9][0-9]{0,19}$/.test(appId)) {
    problems.push(`GITHUB_APP_ID is "${appId}": not a numeric App id`);
  }
  const allowed = varOf("ALLOWED_ISSUERS");
  const patterns = varOf("ALLOWED_ISSUER_PATTERNS");
  if ((allowed === undefined || allowed === "") && (patterns === undefined || patterns === "")) {
    warnings.push(
      'ALLOWED_ISSUERS is not set: any issuer a policy names may be fetched and trusted; set it in [vars] to the issuers you use before production traffic (docs/deploying.md, "Settings for production")',
    );
  }

  // The secret: only wrangler can see it.
  const wrangler = wranglerCommand(flags.values.get("wrangler"));
  const listed = runWrangler(wrangler, ["secret", "list", "--config", configPath]);
  if (listed.status !== 0) {
    const error = wranglerError(listed);
    if (/not found/i.test(error)) {
      problems.push(
        "the Worker does not exist yet, so it has no secret GITHUB_APP_PRIVATE_KEY: npm run setup stores it (or: npx wrangler secret put GITHUB_APP_PRIVATE_KEY < ~/.config/github-sts/private-key.pem)",
      );
    } else {
      // Not a reason to hide the other problems: this one joins the list.
      problems.push(
        `cannot check the Worker's secrets: wrangler secret list failed: ${error.split("\n")[0]}${wranglerHint(listed).replace(/^\n/, " ")}`,
      );
    }
  } else {
    const secrets = jsonOutput<{ name: string }[]>(listed);
    if (secrets === undefined) throw new UserError(`wrangler secret list printed no list:\n${listed.stdout}`);
    const names = new Set(secrets.map((s) => s.name));
    if (!names.has("GITHUB_APP_PRIVATE_KEY")) {
      problems.push(
        "the Worker has no secret GITHUB_APP_PRIVATE_KEY: npm run setup stores it (or: npx wrangler secret put GITHUB_APP_PRIVATE_KEY < ~/.config/github-sts/private-key.pem)",
      );
    }
    if (!names.has("GITHUB_WEBHOOK_SECRET")) {
      warnings.push(
        "GITHUB_WEBHOOK_SECRET is not set: the App's webhook deliveries to /webhook cannot be verified (npm run setup stores it)",
      );
    }
  }

  for (const warning of warnings) say(`warning: ${warning}`);
  if (problems.length > 0) {
    process.stderr.write(
      `${SCRIPT}: not deploying, ${problems.length === 1 ? "one thing is" : `${problems.length} things are`} missing (${configPath}):\n${bulletList(problems)}\n`,
    );
    process.exit(1);
  }
  say(
    `preflight ok: STS_DOMAIN=${stsDomain}, GITHUB_APP_ID=${appId}, KV namespace set, GITHUB_APP_PRIVATE_KEY stored`,
  );
  if (flags.switches.has("check")) return;

  const deployed = runWrangler(wrangler, ["deploy", "--config", configPath, ...flags.rest], {
    inherit: true,
  });
  if (deployed.status !== 0)
    throw new UserError("wrangler deploy failed (its message is above)", deployed.status);
  say("");
  say(
    `Deployed. Check it: curl -sS https://${stsDomain}/healthz   ({"ok":true}, or 503 naming the setting that is wrong)`,
  );
}

try {
  main();
} catch (error) {
  exitOnError(SCRIPT)(error);
}

/**
 * Running wrangler from `npm run setup` and `npm run deploy`: the project's own wrangler by default, or
 * the command given by `--wrangler CMD` / `STS_WRANGLER` (the tests give a stand-in that prints what
 * wrangler 4.86 prints). A `.js`/`.mjs`/`.cjs` command runs with this Node.
 */

import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { UserError } from "./cli";

export interface Wrangler {
  /** The command as it is run (for messages). */
  display: string;
  argv: string[];
}

export function wranglerCommand(given: string | undefined): Wrangler {
  const chosen = given ?? process.env.STS_WRANGLER?.trim();
  if (chosen !== undefined && chosen !== "") {
    const argv = /\.[cm]?js$/.test(chosen) ? [process.execPath, chosen] : [chosen];
    return { display: chosen, argv };
  }
  const require = createRequire(import.meta.url);
  let bin: string;
  try {
    bin = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
  } catch {
    throw new UserError("wrangler is not installed here: run npm ci first");
  }
  return { display: "wrangler", argv: [process.execPath, bin] };
}

export interface WranglerRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `wrangler ARGS`, `input` on its stdin; output captured (`inherit` passes it through instead). */
export function runWrangler(
  wrangler: Wrangler,
  args: string[],
  options: { input?: string; inherit?: boolean } = {},
): WranglerRun {
  const [command, ...base] = wrangler.argv as [string, ...string[]];
  const r = spawnSync(command, [...base, ...args], {
    input: options.input ?? "",
    encoding: "utf8",
    stdio: options.inherit ? ["pipe", "inherit", "inherit"] : "pipe",
    maxBuffer: 16 * 1024 * 1024,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? "false",
      // wrangler colours its messages even into a pipe; what is captured is read, so plain text.
      ...(options.inherit ? {} : { FORCE_COLOR: "0" }),
    },
  });
  if (r.error !== undefined) {
    throw new UserError(`cannot run ${wrangler.display} (${r.error.message})`);
  }
  return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Terminal colour codes (ESC [ … m), in case wrangler printed them anyway. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** wrangler's error lines (`✘ [ERROR] …` and what follows), for a message of ours. */
export function wranglerError(run: WranglerRun): string {
  const text = `${run.stderr}\n${run.stdout}`.replace(ANSI, "").trim();
  const at = text.indexOf("[ERROR]");
  const shown = (at >= 0 ? text.slice(at + "[ERROR]".length) : text).trim();
  return shown
    .split("\n")
    .filter((l) => !/^🪵|Logs were written to/.test(l.trim()))
    .join("\n")
    .trim();
}

/** A hint for the usual reasons wrangler fails on a new machine. */
export function wranglerHint(run: WranglerRun): string {
  const text = `${run.stderr}\n${run.stdout}`;
  if (/CLOUDFLARE_API_TOKEN|not authenticated|Did not login|wrangler login/i.test(text)) {
    return "\nLog in to Cloudflare first: npx wrangler login (or set CLOUDFLARE_API_TOKEN), then run this again.";
  }
  return "";
}

/** The JSON value wrangler printed (a list), skipping anything around it. */
export function jsonOutput<T>(run: WranglerRun): T | undefined {
  const start = run.stdout.indexOf("[");
  const end = run.stdout.lastIndexOf("]");
  if (start < 0 || end < start) return undefined;
  try {
    return JSON.parse(run.stdout.slice(start, end + 1)) as T;
  } catch {
    return undefined;
  }
}

#!/usr/bin/env node
// A stand-in for the browser `npm run setup` opens (its --browser): given the local page's address, it
// reads the page, "presses the button" (posts the form, with the manifest, to the action GitHub would
// receive), follows GitHub's redirect back to the listener and stops. What it saw is written as JSON to
// $BROWSER_STAND_IN_LOG. With BROWSER_STAND_IN_WRONG_STATE=1 it first calls the listener back with a
// state of its own, as a stale tab or another site would.
import { writeFileSync } from "node:fs";

const url = process.argv[2];
const log = { page: url, steps: [] };
const unescapeHtml = (s) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
try {
  const html = await (await fetch(url)).text();
  const action = unescapeHtml(/<form action="([^"]*)" method="post">/.exec(html)?.[1] ?? "");
  const manifest = unescapeHtml(/name="manifest" value="([^"]*)"/.exec(html)?.[1] ?? "");
  log.action = action;
  log.manifest = JSON.parse(manifest);
  if (process.env.BROWSER_STAND_IN_WRONG_STATE === "1") {
    const forged = new URL("/callback?code=forged&state=not-this-run", url);
    const r = await fetch(forged);
    log.steps.push({ forged: forged.toString(), status: r.status });
  }
  const posted = await fetch(action, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ manifest }).toString(),
    redirect: "manual",
  });
  const location = posted.headers.get("location");
  log.steps.push({ posted: posted.status, location });
  if (location !== null) {
    const back = await fetch(location);
    log.steps.push({ callback: back.status, body: await back.text() });
  }
} catch (error) {
  log.error = error instanceof Error ? error.message : String(error);
}
if (process.env.BROWSER_STAND_IN_LOG)
  writeFileSync(process.env.BROWSER_STAND_IN_LOG, JSON.stringify(log, null, 2));

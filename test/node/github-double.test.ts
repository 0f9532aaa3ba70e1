/**
 * The GitHub double's behaviours that workerd cannot reach (a request with no User-Agent at all:
 * the outbound router's client adds one), exercised in process.
 */

import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { GitHubDouble } from "../doubles/github";

function request(double: GitHubDouble, path: string, headers: Record<string, string>) {
  const url = new URL(path, double.baseUrl);
  return double.handle({ method: "GET", url, headers, body: "", raw: {} as IncomingMessage });
}

describe("GitHub double", () => {
  it("refuses a request without User-Agent with 403, like GitHub", async () => {
    const double = new GitHubDouble("http://127.0.0.1:1");
    await double.setupTenant("ua", { appId: 1, installations: [{ account: "org" }] });
    const refused = await request(double, "/t/ua/api/v3/orgs/org/installation", {});
    expect(refused.status).toBe(403);
    expect(String(refused.body)).toContain("User-Agent");
    const withAgent = await request(double, "/t/ua/api/v3/orgs/org/installation", { "user-agent": "x" });
    expect(withAgent.status).toBe(401);
    expect((await double.calls("ua")).map((c) => c.status)).toEqual([403, 401]);
  });
});

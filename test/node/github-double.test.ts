/**
 * The GitHub double called in process, without workerd or HTTP in between (the same refusals are also
 * reached from workerd, test/worker/github/app.test.ts).
 */

import { describe, expect, it } from "vitest";
import { GitHubDouble } from "../doubles/github";

function request(
  double: GitHubDouble,
  path: string,
  headers: Record<string, string>,
  method = "GET",
  body = "",
) {
  const url = new URL(path, double.baseUrl);
  return double.handle({ method, url, headers, body });
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

  it("runs the App manifest flow: the form redirects with a code and the state, a code converts once", async () => {
    const double = new GitHubDouble("http://127.0.0.1:1");
    await double.setupTenant("flow", { appId: 99 });
    const manifest = {
      name: "My STS",
      url: "https://example.com",
      redirect_url: "http://127.0.0.1:9/callback",
      hook_attributes: { url: "https://sts.example.com/webhook" },
      default_permissions: { contents: "read" },
    };
    const form = await request(
      double,
      "/t/flow/organizations/acme/settings/apps/new?state=abc",
      {},
      "POST",
      new URLSearchParams({ manifest: JSON.stringify(manifest) }).toString(),
    );
    expect(form.status).toBe(302);
    const location = new URL(String(form.headers?.location));
    expect(`${location.origin}${location.pathname}`).toBe("http://127.0.0.1:9/callback");
    expect(location.searchParams.get("state")).toBe("abc");
    const code = location.searchParams.get("code") as string;
    const ua = { "user-agent": "x" };
    const converted = await request(double, `/t/flow/api/v3/app-manifests/${code}/conversions`, ua, "POST");
    expect(converted.status).toBe(201);
    const app = JSON.parse(String(converted.body)) as Record<string, unknown>;
    expect(app).toMatchObject({ id: 99, slug: "my-sts", owner: { login: "acme", type: "Organization" } });
    for (const key of ["pem", "webhook_secret", "client_id", "client_secret"])
      expect(typeof app[key]).toBe("string");
    expect(String(app.pem)).toContain("-----BEGIN RSA PRIVATE KEY-----");
    // A code works once; an unknown one is 404.
    expect(
      (await request(double, `/t/flow/api/v3/app-manifests/${code}/conversions`, ua, "POST")).status,
    ).toBe(404);
    expect((await request(double, "/t/flow/api/v3/app-manifests/nope/conversions", ua, "POST")).status).toBe(
      404,
    );
    expect(double.manifestsPosted("flow")).toMatchObject([{ org: "acme", state: "abc", used: true }]);
  });
});

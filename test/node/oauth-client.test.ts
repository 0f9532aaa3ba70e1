/**
 * A real generic OAuth client against the demo's stack, in Node as a CI job would run it: the Worker
 * bundle exactly as `wrangler deploy --dry-run` builds it (into a directory of its own, so this test does
 * not race the demo's build in dist/), in workerd with the demo's world (acme/deploy-tools, the release
 * policy) on the demo's helpers, on a free port. The oauth4webapi example of docs/oauth.md is run as
 * written (only the issuer URL and the http opt-in of a local deployment are substituted), so the
 * documentation cannot drift from what the library and the Worker do. Nothing outside a directory of
 * its own under build/ is written, and that directory is removed afterwards.
 */

import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEMO_IDENTITY,
  DEMO_OWNER,
  DEMO_POLICY,
  DEMO_POLICY_PATH,
  DEMO_SCOPE,
  demoClaims,
} from "../../scripts/lib/demo-world";
import { DEMO_APP_ID, DEMO_APP_KEY_PATH, type RunningWorker, startWorker } from "../../scripts/lib/stack";
import { type Doubles, startDoubles } from "../doubles/launch";

const ROOT = resolve(__dirname, "../..");
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => done());
  });
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

let outdir: string;
let doubles: Doubles;
let worker: RunningWorker;
let domain: string;
let issuerId: string;
const lines: string[] = [];

beforeAll(async () => {
  // Under the repository: workerd refuses a module path that leaves Miniflare's working directory.
  mkdirSync(resolve(ROOT, "build"), { recursive: true });
  outdir = mkdtempSync(resolve(ROOT, "build/oauth-client-test-"));
  execFileSync(
    process.execPath,
    [resolve(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir],
    {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    },
  );
  doubles = await startDoubles();
  const port = await freePort();
  domain = `localhost:${port}`;
  worker = await startWorker({
    scriptPath: join(outdir, "index.js"),
    doubles,
    port,
    onLine: (line) => lines.push(line),
    bindings: {
      STS_DOMAIN: domain,
      GITHUB_APP_ID: DEMO_APP_ID,
      GITHUB_APP_PRIVATE_KEY: readFileSync(resolve(ROOT, DEMO_APP_KEY_PATH), "utf8"),
    },
  });
  // The demo's world (scripts/demo.ts setUpWorld).
  issuerId = (await doubles.issuer.double.createIssuer({ host: "token.actions.githubusercontent.com" })).id;
  await doubles.github.double.setupTenant("demo", {
    host: "api.github.com",
    appId: DEMO_APP_ID,
    installations: [{ account: DEMO_OWNER, type: "Organization" }],
    repos: { [DEMO_SCOPE]: { files: { [DEMO_POLICY_PATH]: DEMO_POLICY } }, [`${DEMO_OWNER}/.github`]: {} },
  });
}, 300_000);

afterAll(async () => {
  await worker?.dispose();
  await doubles?.close();
  if (outdir !== undefined) rmSync(outdir, { recursive: true, force: true });
});

const jobToken = (claimSet = "push") =>
  doubles.issuer.double.mintToken(issuerId, { claims: demoClaims(domain, { claimSet }) });

/** The fenced block after `<!-- oauth4webapi-example -->` in docs/oauth.md. */
function docsExample(): string {
  const docs = readFileSync(resolve(ROOT, "docs/oauth.md"), "utf8");
  const block = /<!-- oauth4webapi-example -->\n```js\n([\s\S]*?)```/.exec(docs)?.[1];
  if (block === undefined) throw new Error("docs/oauth.md has no oauth4webapi example");
  return block;
}

describe("oauth4webapi against the demo stack (Node)", () => {
  it("discovers the local deployment (http: only with allowInsecureRequests) and exchanges a job token", async () => {
    const issuer = new URL(`http://${domain}`);
    await expect(oauth.discoveryRequest(issuer, { algorithm: "oauth2" })).rejects.toMatchObject({
      code: oauth.HTTP_REQUEST_FORBIDDEN,
    });
    const options = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...options, algorithm: "oauth2" }),
    );
    expect(as).toMatchObject({
      issuer: `http://${domain}`,
      token_endpoint: `http://${domain}/oauth/token`,
      grant_types_supported: [TOKEN_EXCHANGE],
      token_endpoint_auth_methods_supported: ["none"],
    });
    const client: oauth.Client = { client_id: "ci" };
    const exchange = async (subjectToken: string) =>
      oauth.genericTokenEndpointRequest(
        as,
        client,
        oauth.None(),
        TOKEN_EXCHANGE,
        {
          subject_token: subjectToken,
          subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
          scope: DEMO_SCOPE,
          audience: DEMO_IDENTITY,
        },
        options,
      );
    const result = await oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await exchange(await jobToken()),
    );
    expect(result.access_token).toMatch(/^ghs_/);
    expect(result.issued_token_type).toBe("urn:ietf:params:oauth:token-type:access_token");
    expect(result.token_type).toBe("bearer");

    // A pull_request run is refused: the library reads the RFC 6749 error.
    const refused = await oauth
      .processGenericTokenEndpointResponse(as, client, await exchange(await jobToken("pull-request")))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(oauth.ResponseBodyError);
    expect(refused).toMatchObject({
      status: 400,
      error: "invalid_grant",
      error_description: "token does not match trust policy",
      cause: { reason: "SUBJECT_MISMATCH" },
    });
  }, 60_000);

  it("runs the docs/oauth.md example as written", async () => {
    const seen = lines.length;
    const source = docsExample();
    const issuerLine = 'const issuer = new URL("https://sts.example.com");';
    const optionsLine = "const options = {};";
    expect(source).toContain(issuerLine);
    expect(source).toContain(optionsLine);
    expect(source).toContain(`scope: "${DEMO_SCOPE}"`);
    expect(source).toContain(`audience: "${DEMO_IDENTITY}"`);
    const runnable = `${source
      .replace(issuerLine, `const issuer = new URL("http://${domain}");`)
      .replace(optionsLine, "const options = { [oauth.allowInsecureRequests]: true };")}
console.log(JSON.stringify({ token: access_token.startsWith("ghs_"), expires_in }));
`;
    // Inside the repository, so that `import "oauth4webapi"` resolves as it would in a project.
    const file = join(outdir, "example.mjs");
    writeFileSync(file, runnable);
    try {
      const token = await jobToken();
      // Asynchronously: the doubles answer the Worker from this process's event loop.
      const output = await new Promise<string>((done, reject) =>
        execFile(
          process.execPath,
          [file],
          { cwd: ROOT, encoding: "utf8", env: { ...process.env, OIDC_TOKEN: token } },
          (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stderr}`)) : done(stdout),
        ),
      );
      const printed = JSON.parse(output.trim().split("\n").at(-1) as string) as {
        token: boolean;
        expires_in: number;
      };
      expect(printed.token).toBe(true);
      expect(printed.expires_in).toBeGreaterThan(3500);
    } finally {
      rmSync(file, { force: true });
    }
    // The example's own exchange, granted on the OAuth door: its audit line comes through workerd's
    // stdout, on its own path, so it is waited for (the test's timeout is the hang detector).
    const granted = () =>
      lines
        .slice(seen)
        .filter((l) => l.includes('"door":"oauth/token"') && l.includes('"decision":"granted"'));
    while (granted().length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(granted()).toHaveLength(1);
  }, 60_000);
});

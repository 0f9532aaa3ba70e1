/**
 * A GitHub double tenant with one installation and one policy, a runtime over it, and the Worker's
 * `handle` to send requests through: what the tests of the doors (`/sts/exchange`, `/oauth/token`) and of
 * the rate limits share. Tokens come from the hostname tenant https://token.actions.githubusercontent.com
 * of the issuer double.
 */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { handle } from "../../src/app";
import { TOKEN_EXCHANGE_GRANT } from "../../src/endpoints/oauth-token";
import type { Env } from "../../src/platform/config";
import type { Runtime } from "../../src/platform/runtime";
import type { RecordedCall } from "../shared/control-client";
import type { TenantSetup } from "../shared/github-double";
import { defaultTenant, github, issuers, TEST_DOMAIN, testEnv, testRuntime } from "./helpers";

export const ACTIONS = "https://token.actions.githubusercontent.com";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

let actionsId: string | undefined;

/** Mints a token of the GitHub Actions issuer (hostname tenant) with these claims. */
export async function mint(claims: Record<string, unknown>): Promise<string> {
  actionsId ??= (await issuers.createIssuer({ host: "token.actions.githubusercontent.com" })).id;
  return issuers.mintToken(actionsId, { claims });
}

interface Scenario {
  ghId: string;
  rt: Runtime;
  env: Env;
  /** Runs one request through the Worker and waits for its background work (revocations). */
  send(path: string, init?: RequestInit): Promise<Response>;
  /** `POST /oauth/token` with these form parameters (a list, so that one can be repeated). */
  exchange(params: [string, string][] | Record<string, string>): Promise<Response>;
  calls(): Promise<RecordedCall[]>;
}

export async function scenario(
  setup: Partial<TenantSetup> = {},
  overrides: Partial<Env> = {},
): Promise<Scenario> {
  const tenant = await defaultTenant("scenario", setup);
  const ghId = tenant.id;
  const scenarioEnv = testEnv({ GITHUB_BASE_URL: tenant.baseUrl, ...overrides });
  const rt = testRuntime({ GITHUB_BASE_URL: tenant.baseUrl, ...overrides });
  const send = async (path: string, init?: RequestInit) => {
    const ctx = createExecutionContext();
    const response = await handle(new Request(`https://${TEST_DOMAIN}${path}`, init), rt, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
  return {
    ghId,
    rt,
    env: scenarioEnv,
    send,
    exchange: (params) =>
      send("/oauth/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(params).toString(),
      }),
    calls: () => github.calls(ghId),
  };
}

/** The parameters of a token exchange for `org/repo`, policy `foo`, with `overrides` set over them. */
export function exchangeParams(
  subjectToken: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: ID_TOKEN_TYPE,
    scope: "org/repo",
    audience: "foo",
    ...overrides,
  };
}

export function mintBodies(calls: RecordedCall[]): unknown[] {
  return calls
    .filter((c) => c.method === "POST" && /\/access_tokens$/.test(c.path))
    .map((c) => JSON.parse(c.body) as unknown);
}

/**
 * @module github/app-auth
 * GitHub App authentication through `@octokit/auth-app` and `@octokit/request`, in exactly one shape:
 * `createAppAuth({ appId, createJwt })` with our own Web Crypto signer (github/jwt.ts), and its `hook`
 * on the App-authenticated routes only (installation lookup, token creation, and the webhook's read of an
 * installation's permissions, `GET /app/installations/{id}`, which is in auth-app's list of App routes
 * too). The hook puts the App JWT
 * on those calls and, when GitHub refuses it for clock skew (its exact `'Issued at' claim …` and
 * `'Expiration time' claim …` messages), measures GitHub's clock from the `Date` header and retries once
 * with a JWT made for GitHub's time.
 *
 * Never auth-app's installation authentication: it caches installation tokens and de-duplicates
 * concurrent requests, which would hand one caller's token to another (docs/security.md, "Tokens").
 * Calls made with an installation token (contents, revocation) do not come through here
 * (github/http.ts).
 *
 * The service's own rules stay around the library: a timeout per attempt, two quick retries on 5xx and
 * network errors, a byte cap on every body (the library reads error bodies whole), no GitHub error text
 * in any answer or log line (the library puts GitHub's message in its errors and in its warnings), and
 * our User-Agent.
 */

import { createAppAuth } from "@octokit/auth-app";
import { request as octokitRequest } from "@octokit/request";
import type { Failure } from "../errors/catalogue";
import { readCapped } from "../platform/body";
import { NO_ANSWER } from "../platform/fetch";
import { isolateState } from "../platform/isolate";
import { GITHUB_API_VERSION, GITHUB_USER_AGENT, MAX_GITHUB_APP_RESPONSE_BYTES } from "../platform/limits";
import type { Runtime } from "../platform/runtime";
import { type Attempt, GITHUB_JSON, withTransientRetries } from "./http";
import { appJwt } from "./jwt";

/** An App-authenticated call. */
export interface AppCall {
  method: "GET" | "POST";
  /** Path below the base URL, already escaped (`/orgs/acme/installation`). */
  path: string;
  /** A JSON request body, already serialised (the mint body's member order matters). */
  body?: string;
  /** What the call is, for the audit detail (`mint`, `installation lookup (orgs)`, …). */
  what: string;
}

/** GitHub's answer to an App call, whatever its status. */
export interface AppAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body (or text); never passed on to a caller or a log line. */
  data: unknown;
}

/** The body was larger than {@link MAX_GITHUB_APP_RESPONSE_BYTES}. */
class OversizedResponse extends Error {
  override name = "OversizedResponse";
}

/** The `fetch` the library is handed: ours, with redirects left alone and every body capped. */
function cappedFetch(rt: Runtime): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await rt.fetch(input as Request | string | URL, { ...init, redirect: "manual" });
    const noBody = response.status === 204 || response.status === 205 || response.status === 304;
    if (noBody) {
      await response.body?.cancel();
      return new Response(null, { status: response.status, headers: response.headers });
    }
    const bytes = await readCapped(response.body, MAX_GITHUB_APP_RESPONSE_BYTES);
    if (bytes === null) throw new OversizedResponse("GitHub answer over the byte cap");
    return new Response(bytes, { status: response.status, headers: response.headers });
  }) as typeof fetch;
}

/**
 * The library's log: its warnings carry GitHub's error messages and deprecation notices, so nothing of
 * it is written. A clock-skew retry is logged by the JWT signer, from the difference it is handed
 * (github/jwt.ts).
 */
const quietLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

type AppRequest = typeof octokitRequest;

/** The library objects of this isolate (the hook keeps no token; the JWT lives in github/jwt.ts). */
const appClients = isolateState<{ request?: AppRequest }>(() => ({}));

function appRequestOf(rt: Runtime): AppRequest {
  const state = appClients(rt);
  if (state.request !== undefined) return state.request;
  if (!rt.config.ok) throw new Error("GitHub call without a valid configuration");
  const { appId, githubBaseUrl } = rt.config.value;
  const auth = createAppAuth({
    appId,
    log: quietLog,
    // auth-app asks on every App call; `timeDifference` is set only on its clock-skew retry.
    createJwt: async (_appId: string | number, timeDifference?: number) => {
      const jwt = await appJwt(rt, timeDifference);
      if (!jwt.ok) throw new AppJwtUnavailable(jwt.failure);
      return { jwt: jwt.value, expiresAt: "" };
    },
  });
  state.request = octokitRequest.defaults({
    baseUrl: githubBaseUrl,
    headers: {
      "user-agent": GITHUB_USER_AGENT,
      accept: GITHUB_JSON,
      "x-github-api-version": GITHUB_API_VERSION,
    },
    request: { fetch: cappedFetch(rt), hook: auth.hook, log: quietLog },
  });
  return state.request;
}

/** The JWT could not be made (an unreadable key): the failure travels through the library untouched. */
class AppJwtUnavailable extends Error {
  override name = "AppJwtUnavailable";
  constructor(readonly failure: Failure) {
    super("App JWT unavailable");
  }
}

interface LibraryError {
  status?: unknown;
  response?: { status: number; headers: Record<string, string>; data: unknown };
}

function headersOf(plain: Record<string, unknown> | undefined): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(plain ?? {})) {
    if (value !== undefined && value !== null) headers.set(name, String(value));
  }
  return headers;
}

/**
 * Sends an App call under the transient-failure policy of every GitHub call (github/http.ts
 * `withTransientRetries`); answers GitHub's first non-5xx answer (any status: the caller classifies it).
 */
export async function appFetch(
  rt: Runtime,
  call: AppCall,
): Promise<{ ok: true; answer: AppAnswer } | { ok: false; failure: Failure }> {
  const request = appRequestOf(rt);
  try {
    const sent = await withTransientRetries(rt, call, async (signal): Promise<Attempt<AppAnswer>> => {
      try {
        const response = await request({
          method: call.method,
          url: call.path,
          ...(call.body !== undefined ? { data: call.body } : {}),
          request: { signal },
        });
        const answer = { status: response.status, headers: headersOf(response.headers), data: response.data };
        return { answer, status: answer.status };
      } catch (error) {
        if (error instanceof AppJwtUnavailable) throw error;
        const response = (error as LibraryError).response;
        // No answer at all: a network error, a timeout, or a body over the cap (never GitHub's text).
        if (response === undefined) {
          return { noAnswer: error instanceof OversizedResponse ? "answer over the byte cap" : NO_ANSWER };
        }
        const answer = { status: response.status, headers: headersOf(response.headers), data: response.data };
        return { answer, status: answer.status };
      }
    });
    return sent.ok ? { ok: true, answer: sent.value } : sent;
  } catch (error) {
    if (error instanceof AppJwtUnavailable) return { ok: false, failure: error.failure };
    throw error;
  }
}

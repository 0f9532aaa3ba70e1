/**
 * @module github/jwt
 * The App JWT of decisions §3.12: RS256, `iat` = now − 60 s, `exp` = now + 540 s, `iss` = the App id,
 * signed with the PKCS#8 key from the configuration and reused from isolate memory until one minute
 * before `exp`, so a warm isolate signs about once every eight minutes and imports the key once.
 *
 * Signed with jose's `SignJWT`, not `@octokit/auth-app`: auth-app 8.3.1 (through
 * universal-github-app-jwt 2.2.2) reads `Date.now()` itself (only a `timeDifference` offset can be
 * given), hard-codes `iat` = now − 30 s and `exp` = now + 570 s, and re-imports the key on every sign.
 * It could honour neither the injectable clock nor the claims of §3.12 exactly.
 */

import { importPKCS8, SignJWT } from "jose";
import { fail, ok, type Result } from "../errors/catalogue";
import { epochSeconds } from "../platform/clock";
import { isolateState } from "../platform/isolate";
import {
  APP_JWT_BACKDATE_SECONDS,
  APP_JWT_LIFETIME_SECONDS,
  APP_JWT_RENEW_BEFORE_EXPIRY_SECONDS,
} from "../platform/limits";
import type { Runtime } from "../platform/runtime";

interface JwtState {
  key?: Promise<CryptoKey>;
  jwt?: { token: string; exp: number };
  /** A signature in progress, shared by concurrent callers so a cold isolate signs once. */
  signing?: Promise<Result<string>>;
  /** How many JWTs this instance signed (tests and the benchmark read it). */
  signed: number;
}

const jwtState = isolateState<JwtState>(() => ({ signed: 0 }));

function stateFor(rt: Runtime): JwtState {
  return jwtState(rt);
}

/** How many App JWTs this runtime has signed. */
export function appJwtSignatures(rt: Runtime): number {
  return stateFor(rt).signed;
}

/** Forgets the cached JWT (GitHub refused it: the next call signs a new one). */
export function dropAppJwt(rt: Runtime): void {
  stateFor(rt).jwt = undefined;
}

const UNREADABLE = "GITHUB_APP_PRIVATE_KEY";

async function sign(rt: Runtime, state: JwtState): Promise<Result<string>> {
  if (!rt.config.ok) return { ok: false, failure: rt.config.failure };
  const { appId, privateKeyPkcs8Pem } = rt.config.value;
  state.key ??= importPKCS8(privateKeyPkcs8Pem, "RS256");
  let key: CryptoKey;
  try {
    key = await state.key;
  } catch (error) {
    // Keep the rejected promise: the key will not become readable without a new deployment.
    const why = error instanceof Error ? error.name : "error";
    return fail(
      "MISCONFIGURED",
      { setting: UNREADABLE },
      `${UNREADABLE}: Web Crypto refused the key (${why})`,
    );
  }
  const now = epochSeconds(rt.clock);
  const iat = now - APP_JWT_BACKDATE_SECONDS;
  const exp = now + APP_JWT_LIFETIME_SECONDS;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(appId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key);
  state.jwt = { token, exp };
  state.signed++;
  return ok(token);
}

/** The App JWT for an `Authorization: Bearer` header, from memory when it has a minute left. */
export async function appJwt(rt: Runtime): Promise<Result<string>> {
  const state = stateFor(rt);
  const cached = state.jwt;
  if (cached !== undefined && epochSeconds(rt.clock) < cached.exp - APP_JWT_RENEW_BEFORE_EXPIRY_SECONDS) {
    return ok(cached.token);
  }
  if (state.signing === undefined) {
    state.signing = sign(rt, state).finally(() => {
      state.signing = undefined;
    });
  }
  return state.signing;
}

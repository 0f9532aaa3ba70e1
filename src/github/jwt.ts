/**
 * @module github/jwt
 * The App JWT (docs/differences-from-octo-sts.md, "App JWT"): RS256, `iat` = now − 60 s, `exp` = now +
 * 540 s, `iss` = the App id, signed with Web Crypto (through jose) from the PKCS#8 key of the
 * configuration, and reused from isolate memory until one minute before `exp`, so a warm isolate signs
 * about once every eight minutes and imports the key once.
 *
 * This is the signer `@octokit/auth-app` is given as `createJwt` (github/app-auth.ts): auth-app asks for
 * a JWT on every App-authenticated call and, when GitHub refuses one for clock skew, asks again with the
 * difference between GitHub's clock (its `Date` header) and ours. That difference is kept for every later
 * JWT of this isolate, so one skewed refusal is enough.
 */

import { importPKCS8, SignJWT } from "jose";
import { fail, ok, type Result } from "../errors/catalogue";
import { epochSeconds } from "../platform/clock";
import { isolateState } from "../platform/isolate";
import {
  APP_JWT_BACKDATE_SECONDS,
  APP_JWT_LIFETIME_SECONDS,
  APP_JWT_RENEW_BEFORE_EXPIRY_SECONDS,
  MAX_GITHUB_CLOCK_SKEW_SECONDS,
} from "../platform/limits";
import type { Runtime } from "../platform/runtime";

interface JwtState {
  key?: Promise<CryptoKey>;
  /** The JWT in use, with `exp` on GitHub's clock (ours plus {@link skewSeconds}). */
  jwt?: { token: string; exp: number };
  /** A signature in progress, shared by concurrent callers so a cold isolate signs once. */
  signing?: Promise<Result<string>>;
  /** GitHub's clock minus ours, in seconds, as auth-app measured it after a skew refusal (0 until then). */
  skewSeconds: number;
  /** How many JWTs this instance signed (tests and the benchmark read it). */
  signed: number;
}

const jwtState = isolateState<JwtState>(() => ({ signed: 0, skewSeconds: 0 }));

/** How many App JWTs this runtime has signed. */
export function appJwtSignatures(rt: Runtime): number {
  return jwtState(rt).signed;
}

/** GitHub's clock minus ours, as last measured (0 until GitHub refused a JWT for skew). */
export function appClockSkewSeconds(rt: Runtime): number {
  return jwtState(rt).skewSeconds;
}

/** Forgets the cached JWT (GitHub refused it: the next call signs a new one). */
export function dropAppJwt(rt: Runtime): void {
  jwtState(rt).jwt = undefined;
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
      { setting: UNREADABLE, problem: "key does not import" },
      `${UNREADABLE}: key does not import (Web Crypto refused it: ${why})`,
    );
  }
  const now = epochSeconds(rt.clock) + state.skewSeconds;
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

/**
 * The App JWT, from memory while it has a minute left. `skewSeconds`, when given, is GitHub's clock
 * minus ours: it replaces the one in use and forces a new signature.
 */
export async function appJwt(rt: Runtime, skewSeconds?: number): Promise<Result<string>> {
  const state = jwtState(rt);
  if (skewSeconds !== undefined && Number.isFinite(skewSeconds)) {
    // A Date header is GitHub's word, but never a reason to sign JWTs hours away from our own clock.
    const bounded = Math.max(
      -MAX_GITHUB_CLOCK_SKEW_SECONDS,
      Math.min(MAX_GITHUB_CLOCK_SKEW_SECONDS, skewSeconds),
    );
    state.skewSeconds = Math.trunc(bounded);
    state.jwt = undefined;
    console.warn(JSON.stringify({ msg: "github clock skew; App JWT re-signed", seconds: state.skewSeconds }));
  }
  const cached = state.jwt;
  const now = epochSeconds(rt.clock) + state.skewSeconds;
  if (cached !== undefined && now < cached.exp - APP_JWT_RENEW_BEFORE_EXPIRY_SECONDS) {
    return ok(cached.token);
  }
  if (state.signing === undefined) {
    state.signing = sign(rt, state).finally(() => {
      state.signing = undefined;
    });
  }
  return state.signing;
}

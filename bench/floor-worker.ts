/**
 * The benchmark's floor: the least a token exchange can do on Workers. It verifies the same RS256 OIDC
 * token as the real Worker (signature with an already-imported key, `exp`, `iss`, `aud`), makes the one
 * unavoidable request (the installation-token mint, with an App JWT signed once per isolate) and returns
 * JSON. No discovery, no JWKS, no policy, no cache, no audit line: anything the real exchange costs above
 * this is what the service adds (`npm run bench` prints the ratio).
 *
 * Bindings (set by scripts/lib/bench-stack.ts):
 *   FLOOR_ISSUER_JWK   the issuer's RS256 public JWK (JSON)
 *   FLOOR_ISSUER       the expected `iss`
 *   FLOOR_AUDIENCE     the expected `aud`
 *   FLOOR_APP_ID       GitHub App id
 *   FLOOR_APP_KEY      the App's PKCS#8 PEM
 *   FLOOR_MINT_URL     https://api.github.com/app/installations/<id>/access_tokens
 *   FLOOR_MINT_BODY    the JSON body the real Worker sends for the same policy
 */

interface FloorEnv {
  FLOOR_ISSUER_JWK: string;
  FLOOR_ISSUER: string;
  FLOOR_AUDIENCE: string;
  FLOOR_APP_ID: string;
  FLOOR_APP_KEY: string;
  FLOOR_MINT_URL: string;
  FLOOR_MINT_BODY: string;
}

const RS256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let issuerKey: Promise<CryptoKey> | undefined;
let appKey: Promise<CryptoKey> | undefined;
let appJwt: { jwt: string; exp: number } | undefined;

function b64Decode(b64: string): Uint8Array {
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function b64urlDecode(s: string): Uint8Array {
  return b64Decode(s.replace(/-/g, "+").replace(/_/g, "/"));
}

function b64urlEncode(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function pemBody(pem: string): Uint8Array {
  return b64Decode(
    pem
      .replace(/\\n/g, "\n")
      .replace(/-----[^-]+-----/g, "")
      .replace(/[\s=]+/g, ""),
  );
}

function fail(status: number, message: string): Response {
  return new Response(JSON.stringify({ message }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function signedAppJwt(env: FloorEnv): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  if (appJwt !== undefined && appJwt.exp - 60 > now) return appJwt.jwt;
  appKey ??= crypto.subtle.importKey("pkcs8", pemBody(env.FLOOR_APP_KEY), RS256, false, ["sign"]);
  const header = b64urlEncode(encoder.encode(JSON.stringify({ alg: "RS256", typ: "JWT" })));
  const exp = now + 540;
  const payload = b64urlEncode(encoder.encode(JSON.stringify({ iat: now - 60, exp, iss: env.FLOOR_APP_ID })));
  const input = `${header}.${payload}`;
  const sig = new Uint8Array(await crypto.subtle.sign(RS256, await appKey, encoder.encode(input)));
  appJwt = { jwt: `${input}.${b64urlEncode(sig)}`, exp };
  return appJwt.jwt;
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const auth = request.headers.get("authorization") ?? "";
    const jwt = auth.replace(/^bearer\s+/i, "");
    const parts = jwt.split(".");
    if (parts.length !== 3) return fail(400, "invalid bearer token");
    const [h, p, s] = parts as [string, string, string];
    issuerKey ??= crypto.subtle.importKey("jwk", JSON.parse(env.FLOOR_ISSUER_JWK), RS256, false, ["verify"]);
    const ok = await crypto.subtle.verify(
      RS256,
      await issuerKey,
      b64urlDecode(s),
      encoder.encode(`${h}.${p}`),
    );
    if (!ok) return fail(401, "unable to verify bearer token");
    const claims = JSON.parse(decoder.decode(b64urlDecode(p))) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (typeof claims.exp !== "number" || claims.exp <= now)
      return fail(401, "unable to verify bearer token");
    if (
      claims.iss !== env.FLOOR_ISSUER ||
      !aud.includes(env.FLOOR_AUDIENCE) ||
      typeof claims.sub !== "string"
    ) {
      return fail(403, "token does not match trust policy");
    }
    const minted = await fetch(env.FLOOR_MINT_URL, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signedAppJwt(env)}`,
        accept: "application/vnd.github+json",
        "content-type": "application/json",
        "user-agent": "github-sts-floor",
        "x-github-api-version": "2022-11-28",
      },
      body: env.FLOOR_MINT_BODY,
    });
    const body = (await minted.json()) as { token?: string; expires_at?: string };
    if (!minted.ok || typeof body.token !== "string") return fail(502, `mint answered ${minted.status}`);
    return new Response(JSON.stringify({ token: body.token, expiry: body.expires_at }), {
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  },
};

/**
 * @module test/doubles/rsa-pool
 * RSA-2048 signing keys for the issuer double without generating them: a run of the suite wants about
 * 130, and generating one costs ~270 ms of CPU (over half a minute of the suite on 2 cores). The primes of
 * 160 keys generated once by Node (`crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })`, the JWK's
 * `p` and `q`) are in test/fixtures/issuer-rsa-primes.txt; each key's other members are derived here in
 * microseconds. Every key is handed out at most once per process, so no two tenants (and no tenant and
 * its "foreign" key) ever share one; past the file, keys are generated as before. Test keys only: they
 * sign tokens for the local issuer double and nothing else.
 */

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { JWK } from "jose";

const E = 65537n;

const fromB64 = (s: string): bigint => BigInt(`0x${Buffer.from(s, "base64url").toString("hex")}`);

function toB64(n: bigint): string {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, "hex").toString("base64url");
}

/** `a`⁻¹ mod `m` (extended Euclid). */
function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/** The private JWK of the RSA key with primes `p`, `q` and public exponent 65537. */
function rsaJwk(p: bigint, q: bigint): JWK {
  const d = inverse(E, (p - 1n) * (q - 1n));
  return {
    kty: "RSA",
    n: toB64(p * q),
    e: toB64(E),
    d: toB64(d),
    p: toB64(p),
    q: toB64(q),
    dp: toB64(d % (p - 1n)),
    dq: toB64(d % (q - 1n)),
    qi: toB64(inverse(q, p)),
  };
}

let pool: [bigint, bigint][] | undefined;

/**
 * The primes file: next to this module when it runs from test/doubles/, from the working directory (the
 * project root) when a script runs it bundled into build/scripts/; none (keys generated) elsewhere.
 */
function primesText(): string {
  const beside = new URL("../fixtures/issuer-rsa-primes.txt", import.meta.url);
  if (existsSync(beside)) return readFileSync(beside, "utf8");
  const fromRoot = resolve("test/fixtures/issuer-rsa-primes.txt");
  return existsSync(fromRoot) ? readFileSync(fromRoot, "utf8") : "";
}

/** The next unused pooled key as a private JWK, or undefined once the pool is spent. */
export function pooledRsaJwk(): JWK | undefined {
  pool ??= primesText()
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.trim().split(" ").map(fromB64) as [bigint, bigint]);
  const next = pool.shift();
  return next === undefined ? undefined : rsaJwk(...next);
}

/**
 * @module github/app-key
 * The GitHub App private key as GitHub hands it out. GitHub issues PKCS#1 (`BEGIN RSA PRIVATE KEY`);
 * Web Crypto (and so jose, which signs the App JWT) imports only PKCS#8. This module accepts
 * either, with real newlines or literal `\n` sequences (how keys survive many secret stores), and wraps
 * a PKCS#1 key in a PKCS#8 `PrivateKeyInfo` with a few lines of DER instead of a dependency.
 */

/**
 * A key that cannot be used: `problem` is a fixed phrase (it travels to the caller as
 * `metadata.problem`), `hint` says more for the audit line; neither echoes any of the key.
 */
type AppKeyResult = { ok: true; pkcs8Pem: string } | { ok: false; problem: string; hint?: string };

const PEM = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/;

/** DER `AlgorithmIdentifier` for rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters. */
const RSA_ALGORITHM_IDENTIFIER = [
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

function derLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/** `tag`, the DER length of `parts` together, then the parts (typed-array copies, no per-byte work). */
function derTlv(tag: number, ...parts: ArrayLike<number>[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const header = [tag, ...derLength(length)];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let at = header.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads the outer DER SEQUENCE header; returns true when it spans exactly the whole buffer. */
function isWholeDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1] as number;
  if (first < 0x80) return 2 + first === der.length;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || der.length < 2 + count) return false;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (der[2 + i] as number);
  return 2 + count + length === der.length;
}

/** Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5). */
function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const version = [0x02, 0x01, 0x00];
  return derTlv(0x30, version, RSA_ALGORITHM_IDENTIFIER, derTlv(0x04, pkcs1));
}

function base64ToBytes(b64: string): Uint8Array | null {
  const clean = b64.replace(/\s+/g, "");
  if (clean === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) return null;
  try {
    const bin = atob(clean);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  // In chunks: one call per 4 KiB instead of a string append per byte (the key is read on an isolate's
  // first request; docs/performance.md, "Cold exchanges").
  let bin = "";
  for (let i = 0; i < bytes.length; i += 4096) bin += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return btoa(bin);
}

/**
 * Parses `GITHUB_APP_PRIVATE_KEY`. Problems are described without echoing any of the key.
 */
export function parseAppPrivateKey(raw: string | undefined): AppKeyResult {
  if (raw === undefined || raw.trim() === "") return { ok: false, problem: "not set" };
  const text = raw.replace(/\\r\\n|\\n/g, "\n").replace(/\r\n/g, "\n");
  const match = PEM.exec(text);
  if (match === null) {
    return {
      ok: false,
      problem: "not a PEM private key",
      // The armour is named, not quoted: a log line holding "-----BEGIN … PRIVATE KEY-----" reads as a
      // leaked key to every secret scanner (docs/security.md, "Tokens").
      hint: 'expected a "BEGIN RSA PRIVATE KEY" or "BEGIN PRIVATE KEY" block',
    };
  }
  const label = match[1];
  const der = base64ToBytes(match[2] ?? "");
  if (der === null || !isWholeDerSequence(der)) {
    return {
      ok: false,
      problem: "PEM body is not base64 DER",
      hint: "was the key truncated or its newlines lost?",
    };
  }
  let pkcs8: Uint8Array;
  if (label === "RSA PRIVATE KEY") pkcs8 = pkcs1ToPkcs8(der);
  else if (label === "PRIVATE KEY") pkcs8 = der;
  else
    return {
      ok: false,
      problem: "not an RSA private key",
      hint: `PEM type "${label}"; GitHub App keys are RSA`,
    };
  const lines = bytesToBase64(pkcs8).match(/.{1,64}/g) ?? [];
  const pkcs8Pem = `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----\n`;
  return { ok: true, pkcs8Pem };
}

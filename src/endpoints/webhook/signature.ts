/**
 * @module endpoints/webhook/signature
 * A delivery's body and its signature (docs/webhook.md, "Signature"): the body is read with a byte cap
 * counted while it streams (a `Content-Length` over the cap is refused without reading), then its
 * HMAC-SHA256 is checked against `X-Hub-Signature-256` for every secret of `GITHUB_WEBHOOK_SECRET`, and
 * nothing of it is parsed before one matches.
 *
 * The HMAC is `@octokit/webhooks-methods`' `verify`; its Web Crypto build (the one workerd loads)
 * compares with `crypto.subtle.verify`, which workerd does in constant time (BoringSSL's
 * `CRYPTO_memcmp`). Its own parsing of the header is lenient (it skips characters that are not hex), so
 * the header's form is checked here first, and it takes the body as a string: the raw bytes are decoded
 * as UTF-8 without replacement and without dropping a byte-order mark, so the string encodes back to
 * exactly the bytes GitHub signed (a body that is not UTF-8 is no GitHub delivery and is refused).
 */

import { verify } from "@octokit/webhooks-methods";
import { type Failure, failure, type Result } from "../../errors/catalogue";
import { readCapped } from "../../platform/body";
import { MAX_WEBHOOK_BODY_BYTES } from "../../platform/limits";

/** GitHub's header: `sha256=` and 64 hex digits. */
const SIGNATURE = /^sha256=[0-9a-f]{64}$/i;

export interface VerifiedBody {
  /** The body as GitHub sent it, decoded as UTF-8. */
  text: string;
  /** Which secret of the list matched (1-based), so a rotation can tell when the old one is unused. */
  secretIndex: number;
}

const invalid = (detail: string): Result<VerifiedBody> => ({
  ok: false,
  failure: failure("WEBHOOK_SIGNATURE_INVALID", {}, detail),
});

function tooLarge(detail: string): { ok: false; failure: Failure } {
  return { ok: false, failure: failure("WEBHOOK_TOO_LARGE", {}, detail) };
}

/** Reads and verifies the delivery; refuses before hashing anything over the cap. */
export async function readVerified(
  request: Request,
  secrets: readonly string[],
): Promise<Result<VerifiedBody>> {
  const declared = Number(request.headers.get("Content-Length") ?? "NaN");
  if (Number.isFinite(declared) && declared > MAX_WEBHOOK_BODY_BYTES) {
    await request.body?.cancel().catch(() => {});
    return tooLarge(`Content-Length ${declared} over ${MAX_WEBHOOK_BODY_BYTES} bytes`);
  }
  const bytes = await readCapped(request.body, MAX_WEBHOOK_BODY_BYTES);
  if (bytes === null) return tooLarge(`body over ${MAX_WEBHOOK_BODY_BYTES} bytes`);

  const header = request.headers.get("X-Hub-Signature-256");
  if (header === null) {
    return invalid(
      request.headers.get("X-Hub-Signature") !== null
        ? "only X-Hub-Signature (SHA-1), which is not accepted"
        : "no X-Hub-Signature-256",
    );
  }
  const signature = header.trim();
  if (!SIGNATURE.test(signature)) return invalid("X-Hub-Signature-256 is not sha256=<64 hex digits>");
  if (bytes.byteLength === 0) return invalid("empty body");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return invalid("body is not UTF-8");
  }
  // Every secret is tried, also after one matched: the time taken says nothing about which one did.
  let secretIndex = 0;
  for (const [i, secret] of secrets.entries()) {
    if ((await verify(secret, text, signature.toLowerCase())) && secretIndex === 0) secretIndex = i + 1;
  }
  if (secretIndex === 0) return invalid(`no secret of ${secrets.length} matches`);
  return { ok: true, value: { text, secretIndex } };
}

/**
 * @module body
 * Reading a body with a byte cap, counted while streaming: `Content-Length` is never trusted (a peer
 * can lie or omit it). Shared by every place that reads untrusted bytes: the exchange's form body, OIDC
 * discovery and JWKS documents (GHSA-75r6-6jg8-pfcq), and policy files from GitHub.
 */

/** At most `maxBytes` of `body`; null once it goes over (the stream is then cancelled). */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (body === null) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * @module test/shared/secrets
 * What no test's output may ever contain (docs/security.md, "Tokens": never logged), as patterns: an
 * installation token, a JWT (the caller's OIDC token, the App JWT), a private key, and the webhook secret
 * the tests configure. test/shared/log-scan.ts fails any test whose console output matches one.
 */

/** The `GITHUB_WEBHOOK_SECRET` the tests configure (the webhook tests sign their deliveries with it). */
export const TEST_WEBHOOK_SECRET = "it's a secret to everybody";

/** Name and pattern of each kind of secret. */
export const SECRET_PATTERNS: readonly { name: string; pattern: RegExp }[] = [
  { name: "a GitHub installation token (ghs_…)", pattern: /ghs_[A-Za-z0-9]{20,}/ },
  { name: "a JWT (eyJ….eyJ….)", pattern: /eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\./ },
  { name: "a private key", pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  {
    name: "the test webhook secret",
    pattern: new RegExp(TEST_WEBHOOK_SECRET.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
  },
];

/** The kinds of secret `text` holds (empty when none). */
export function secretsIn(text: string): string[] {
  return SECRET_PATTERNS.filter(({ pattern }) => pattern.test(text)).map(({ name }) => name);
}

/** `text` with every secret replaced by a marker (for a failure message that must not leak either). */
export function redactSecrets(text: string): string {
  let out = text;
  for (const { name, pattern } of SECRET_PATTERNS) {
    out = out.replace(new RegExp(pattern.source, "g"), `[${name}]`);
  }
  return out;
}

/**
 * The security matrix (docs/security.md, "Attack matrix"): one test per published advisory and pitfall
 * a token service must not repeat, and per attack on the cost bounds, each named "<row>: <answer>" and
 * driven end to end through the Worker (`handle`) against the issuer and GitHub doubles. Every exchange
 * must be answered (a refusal or a grant, never a hang) with exactly one small audit line.
 *
 * Each test was shown to fail with its protection removed: the "Without it" comment above each test says
 * which change to src/ makes it fail (checked by hand, one change at a time, then reverted). No test
 * asserts a duration; the generous timeout is only a hang detector.
 */

import { reset } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { sha256Hex } from "../../../src/platform/cache";
import type { CreatedIssuer, MintOptions } from "../../shared/issuer-double";
import { TEST_WEBHOOK_SECRET } from "../../shared/secrets";
import {
  sha,
  signatureOf,
  webhookLines,
  policy as webhookPolicy,
  policyPath as webhookPolicyPath,
  world as webhookWorld,
} from "../endpoints/webhook-world";
import { captureConsole, github, issuers, TEST_DOMAIN } from "../helpers";
import { ACTIONS, oneSmallAuditLine, policyFiles, unsignedToken, type World, world } from "./world";

/** A hang detector, far above what any of these exchanges takes. */
const HANG = 60_000;

let actions: CreatedIssuer;

beforeAll(async () => {
  actions = await issuers.createIssuer({ host: "token.actions.githubusercontent.com" });
});

const output = captureConsole();

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

const FOO = { sub: "foo", aud: "octosts" };
const PERMS = "permissions:\n  contents: read\n";

/** A repository policy for `sub: foo`, `aud: octosts` from `issuer`, with `extra` lines. */
function fooPolicy(issuer: string, extra = ""): string {
  return `issuer: ${issuer}\nsubject: foo\naudience: octosts\n${extra}${PERMS}`;
}

function mint(issuer: CreatedIssuer, claims: Record<string, unknown>, options: MintOptions = {}) {
  return issuers.mintToken(issuer.id, { ...options, claims });
}

/** A world whose `org/repo` holds `policy` as identity `id`. */
function withPolicy(policy: string, id = "id"): Promise<World> {
  return world({ setup: { repos: { "org/repo": { files: policyFiles(id, policy) } } } });
}

const issuerCalls = async (issuer: CreatedIssuer) => (await issuers.calls(issuer.id)).length;

describe("security matrix", () => {
  // ---- published advisories ---------------------------------------------------------------------

  // Without it: src/oidc/fetch.ts reads the body with `readCapped(response.body, Infinity)`.
  it(
    "GHSA-75r6-6jg8-pfcq / CVE-2024-34079, unbounded discovery and JWKS bodies: over 100 KiB is DISCOVERY_FAILED or SIGNATURE_INVALID, counted while streaming",
    async () => {
      const w = await world();
      const bigDiscovery = await issuers.createIssuer();
      await issuers.setBehaviour(bigDiscovery.id, { discovery: { oversize: 200 * 1024 } });
      const one = await w.exchange(await mint(bigDiscovery, FOO), "org/repo", "id");
      expect([one.status, one.reason]).toEqual([400, "DISCOVERY_FAILED"]);
      expect(oneSmallAuditLine(output).detail).toContain("larger than 102400 bytes");

      const bigJwks = await issuers.createIssuer();
      await issuers.setBehaviour(bigJwks.id, { jwks: { oversize: 200 * 1024 } });
      const two = await w.exchange(await mint(bigJwks, FOO), "org/repo", "id");
      expect([two.status, two.reason]).toEqual([401, "SIGNATURE_INVALID"]);
      expect(oneSmallAuditLine(output).detail).toContain("larger than 102400 bytes");
    },
    HANG,
  );

  // Without it: src/oidc/index.ts issuerVerdict skips `isValidIssuer` (every issuer is "ok").
  it(
    "GHSA-h3qp-hwvr-9xcq / CVE-2025-52477, SSRF through token fields: an iss with a query, userinfo, dot segments or another scheme is INVALID_ISSUER before anything is fetched",
    async () => {
      const w = await world();
      for (const iss of [
        "https://169.254.169.254/latest/meta-data?x=1",
        "https://user@internal.example.com",
        "http://internal.example.com",
        "file:///etc/passwd",
        "https://internal.example.com/a/../admin",
        "https://internal.example.com#frag",
      ]) {
        const token = unsignedToken({ alg: "RS256", kid: "k" }, { iss, sub: "foo", exp: 4_000_000_000 });
        const sent = await w.exchange(token, "org/repo", "id");
        expect([iss, sent.status, sent.reason]).toEqual([iss, 400, "INVALID_ISSUER"]);
        oneSmallAuditLine(output);
      }
      expect(w.fetched).toEqual([]);
    },
    HANG,
  );

  // Without it: src/errors/grpc.ts appends `f.detail` to the message and src/github/http.ts `describe`
  // appends the answer's text (both layers: no upstream text in a detail, no detail in an answer).
  it(
    "GHSA-h3qp-hwvr-9xcq, upstream error bodies reflected: GitHub's and the issuer's error text never reaches the caller or the audit line",
    async () => {
      const secrets = ["secret upstream detail", "upstream secret", "injected"];
      const noSecret = (text: string) => {
        for (const s of secrets) expect(text).not.toContain(s);
      };
      // The issuer answers 500 with a text body.
      const broken = await issuers.createIssuer();
      await issuers.setBehaviour(broken.id, { discovery: { status: 500 } });
      const w = await withPolicy(fooPolicy(actions.issuer));
      const one = await w.exchange(await mint(broken, FOO), "org/repo", "id");
      expect(one.reason).toBe("DISCOVERY_FAILED");
      noSecret(one.text);
      noSecret(oneSmallAuditLine(output).raw);
      // GitHub answers 500 (after the retries) on the installation lookup.
      await github.addFault(w.ghId, { path: "/orgs/*/installation", answer: "server-error" });
      const two = await w.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([two.status, two.reason]).toEqual([503, "GITHUB_UNAVAILABLE"]);
      noSecret(two.text);
      noSecret(oneSmallAuditLine(output).raw);
      // GitHub refuses the caller's mint with 422 and its validation message.
      await github.clearFaults(w.ghId);
      expect((await w.exchange(await mint(actions, FOO), "org/repo", "id")).reason).toBe("granted");
      oneSmallAuditLine(output);
      await github.addFault(w.ghId, { path: "/app/installations/*/access_tokens", answer: "unprocessable" });
      const three = await w.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([three.status, three.reason]).toEqual([403, "PERMISSION_NOT_GRANTABLE"]);
      noSecret(three.text);
      noSecret(oneSmallAuditLine(output).raw);
    },
    HANG,
  );

  // Without it: src/trust/pattern.ts matches with `re.test(input)` (a search) instead of `testExact`.
  it(
    "GHSA-mwqh-2vg8-rhj3, a half-anchored alternation: subject_pattern main|develop does not match main-evil (SUBJECT_MISMATCH)",
    async () => {
      const w = await withPolicy(
        `issuer: ${ACTIONS}\nsubject_pattern: main|develop\naudience: octosts\n${PERMS}`,
      );
      for (const sub of ["main-evil", "x-develop", "evil-main"]) {
        const sent = await w.exchange(await mint(actions, { sub, aud: "octosts" }), "org/repo", "id");
        expect([sub, sent.status, sent.reason]).toEqual([sub, 403, "SUBJECT_MISMATCH"]);
        oneSmallAuditLine(output);
      }
      const ok = await w.exchange(await mint(actions, { sub: "develop", aud: "octosts" }), "org/repo", "id");
      expect(ok.reason).toBe("granted");
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/oidc/index.ts drops the `algs.includes(alg)` check and verifies with
  // `compactVerify(token, key, {})` (any algorithm the key can do).
  it(
    "CVE-2026-22817 / CVE-2026-22818, a JWK without alg lets the header choose: keys without alg still verify only with an algorithm the issuer advertises (SIGNATURE_INVALID)",
    async () => {
      const issuer = await issuers.createIssuer({ algs: ["RS256"] });
      await issuers.setBehaviour(issuer.id, { jwksWithoutAlg: true });
      const w = await withPolicy(fooPolicy(issuer.issuer));
      // ES256 is a key the JWKS holds (without alg), but the issuer advertises RS256 only.
      const es = await w.exchange(await mint(issuer, FOO, { alg: "ES256" }), "org/repo", "id");
      expect([es.status, es.reason]).toEqual([401, "SIGNATURE_INVALID"]);
      oneSmallAuditLine(output);
      const rs = await w.exchange(await mint(issuer, FOO, { alg: "RS256" }), "org/repo", "id");
      expect(rs.reason).toBe("granted");
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/oidc/index.ts accepts HS256 (`SUPPORTED` also holds "HS256"): the issuer is then
  // asked for its documents for the forged token.
  it(
    "GHSA-qwph-4952-7xr6 / CVE-2026-48526 / GHSA-mvf2-f6gm-w987, the public key as an HMAC secret: HS256 signed with the issuer's PEM or JWK is SIGNATURE_INVALID before anything is fetched",
    async () => {
      const issuer = await issuers.createIssuer();
      const w = await withPolicy(fooPolicy(issuer.issuer));
      for (const secretForm of ["pem", "jwk"] as const) {
        const token = await issuers.confusionToken(issuer.id, { claims: FOO, secretForm });
        const sent = await w.exchange(token, "org/repo", "id");
        expect([secretForm, sent.status, sent.reason]).toEqual([secretForm, 401, "SIGNATURE_INVALID"]);
        oneSmallAuditLine(output);
      }
      expect(await issuerCalls(issuer)).toBe(0);
    },
    HANG,
  );

  // ---- known pitfalls of token services ----------------------------------------------------------------------------------

  // Without it: src/oidc/index.ts skips the `SUPPORTED.has(alg)` check (the issuer is then asked).
  it(
    "algorithm confusion and none: alg none and a whitespace-prefixed alg are refused before anything is fetched; a key marked use enc never verifies (SIGNATURE_INVALID)",
    async () => {
      const issuer = await issuers.createIssuer();
      const w = await withPolicy(fooPolicy(issuer.issuer));
      const none = await w.exchange(await mint(issuer, FOO, { alg: "none" }), "org/repo", "id");
      expect([none.status, none.reason]).toEqual([401, "SIGNATURE_INVALID"]);
      oneSmallAuditLine(output);
      const spaced = unsignedToken({ alg: " RS256" }, { iss: issuer.issuer, ...FOO, exp: 4_000_000_000 });
      expect((await w.exchange(spaced, "org/repo", "id")).reason).toBe("SIGNATURE_INVALID");
      oneSmallAuditLine(output);
      expect(await issuerCalls(issuer)).toBe(0);

      const encKeys = await issuers.createIssuer();
      await issuers.setBehaviour(encKeys.id, { jwkOverride: { use: "enc" } });
      const w2 = await withPolicy(fooPolicy(encKeys.issuer));
      expect((await w2.exchange(await mint(encKeys, FOO), "org/repo", "id")).reason).toBe(
        "SIGNATURE_INVALID",
      );
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/oidc/jwks.ts `mayRefetch` always answers true.
  it(
    "kid lookup and JWKS refresh: 20 tokens with invented kids cost one JWKS fetch, and one more after the 30 s cool-down (SIGNATURE_INVALID each)",
    async () => {
      const issuer = await issuers.createIssuer();
      const w = await withPolicy(fooPolicy(issuer.issuer));
      const jwksFetches = async () =>
        (await issuers.calls(issuer.id)).filter((c) => !c.path.includes("openid-configuration")).length;
      for (let i = 0; i < 20; i++) {
        const token = await mint(issuer, FOO, { alg: "ES256", foreignKey: true, kid: `invented-${i}` });
        expect((await w.exchange(token, "org/repo", "id")).reason).toBe("SIGNATURE_INVALID");
        oneSmallAuditLine(output);
      }
      expect(await jwksFetches()).toBe(1);
      await w.advance(31_000);
      const late = await mint(issuer, FOO, { alg: "ES256", foreignKey: true, kid: "invented-late" });
      expect((await w.exchange(late, "org/repo", "id")).reason).toBe("SIGNATURE_INVALID");
      oneSmallAuditLine(output);
      expect(await jwksFetches()).toBe(2);
    },
    HANG,
  );

  // Without it: src/oidc/discovery.ts compares the document's issuer without its trailing slash, and
  // src/trust/check.ts compares `iss` with the policy's issuer without a trailing slash.
  it(
    "issuer handling and normalisation: a trailing slash is another issuer (ISSUER_MISMATCH), and discovery's issuer must equal iss byte for byte (DISCOVERY_FAILED)",
    async () => {
      const issuer = await issuers.createIssuer();
      const w = await withPolicy(fooPolicy(`${issuer.issuer}/`));
      const slash = await w.exchange(await mint(issuer, FOO), "org/repo", "id");
      expect([slash.status, slash.reason]).toEqual([403, "ISSUER_MISMATCH"]);
      oneSmallAuditLine(output);

      const lying = await issuers.createIssuer();
      await issuers.setBehaviour(lying.id, { discoveryIssuer: `${lying.issuer}/` });
      const w2 = await withPolicy(fooPolicy(lying.issuer));
      const doc = await w2.exchange(await mint(lying, FOO), "org/repo", "id");
      expect([doc.status, doc.reason]).toEqual([400, "DISCOVERY_FAILED"]);
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/oidc/index.ts issuerVerdict skips the allowlist, and src/oidc/fetch.ts
  // `redirectTarget` returns every target unchecked.
  it(
    "SSRF via issuer discovery: under ALLOWED_ISSUERS an unlisted issuer is ISSUER_NOT_ALLOWED before anything is fetched, and a redirect to a non-loopback http URL is not followed (DISCOVERY_FAILED)",
    async () => {
      const unlisted = await issuers.createIssuer();
      const w = await world({ env: { ALLOWED_ISSUERS: ACTIONS } });
      const sent = await w.exchange(await mint(unlisted, FOO), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([403, "ISSUER_NOT_ALLOWED"]);
      oneSmallAuditLine(output);
      expect(w.fetched).toEqual([]);

      const redirecting = await issuers.createIssuer();
      await issuers.setBehaviour(redirecting.id, {
        discovery: { redirect: "http://169.254.169.254/latest/meta-data/" },
      });
      const w2 = await world();
      const redirected = await w2.exchange(await mint(redirecting, FOO), "org/repo", "id");
      expect([redirected.status, redirected.reason]).toEqual([400, "DISCOVERY_FAILED"]);
      oneSmallAuditLine(output);
      expect(w2.fetched.some((u) => u.includes("169.254.169.254"))).toBe(false);
    },
    HANG,
  );

  // Without it: src/trust/pattern.ts matches with `new RegExp(`^(?:${p})$`).test(input)` (a
  // backtracking engine): the exchange never ends and only this test's hang detector stops it.
  it(
    "regex anchoring and engine (ReDoS): (a+)+b against a 255-character subject of a's is SUBJECT_MISMATCH at once (RE2, linear time)",
    async () => {
      const w = await withPolicy(`issuer: ${ACTIONS}\nsubject_pattern: (a+)+b\naudience: octosts\n${PERMS}`);
      const sub = "a".repeat(255);
      const sent = await w.exchange(await mint(actions, { sub, aud: "octosts" }), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([403, "SUBJECT_MISMATCH"]);
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/oidc/index.ts `checkTimes` answers ok at once.
  it(
    "clock skew and time claims: exp is required (TOKEN_EXPIRED), nbf and iat at most 300 s ahead (TOKEN_NOT_YET_VALID)",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS));
      const now = Math.floor(w.clock.now() / 1000);
      const noExp = await w.exchange(await mint(actions, FOO, { omit: ["exp"] }), "org/repo", "id");
      expect([noExp.status, noExp.reason]).toEqual([401, "TOKEN_EXPIRED"]);
      oneSmallAuditLine(output);
      for (const claim of ["iat", "nbf"]) {
        const ahead = await mint(actions, { ...FOO, [claim]: now + 301, exp: now + 900 });
        const sent = await w.exchange(ahead, "org/repo", "id");
        expect([claim, sent.status, sent.reason]).toEqual([claim, 401, "TOKEN_NOT_YET_VALID"]);
        oneSmallAuditLine(output);
      }
      const within = await mint(actions, { ...FOO, iat: now + 290, exp: now + 900 });
      expect((await w.exchange(within, "org/repo", "id")).reason).toBe("granted");
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/trust/check.ts takes any aud entry when the policy sets no audience.
  it(
    "audience: a policy without audience wants STS_DOMAIN in aud; GitHub's default https://github.com/<owner> is AUDIENCE_MISMATCH with the hint",
    async () => {
      const w = await withPolicy(`issuer: ${ACTIONS}\nsubject: foo\n${PERMS}`);
      const sent = await w.exchange(
        await mint(actions, { sub: "foo", aud: "https://github.com/org" }),
        "org/repo",
        "id",
      );
      expect([sent.status, sent.reason]).toEqual([403, "AUDIENCE_MISMATCH"]);
      expect(sent.body.message).toContain(`request the OIDC token with audience=${TEST_DOMAIN}`);
      oneSmallAuditLine(output);
      const ok = await w.exchange(await mint(actions, { sub: "foo", aud: TEST_DOMAIN }), "org/repo", "id");
      expect(ok.reason).toBe("granted");
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/trust/check.ts `claimText` reads any value with `String(v)`, and
  // src/exchange/core.ts skips step 6 (`checkTokenSyntax`).
  it(
    "claim types: a claim_pattern never matches a number, an array or an object (CLAIM_MISMATCH), and a sub with shell characters is INVALID_TOKEN_CLAIMS before GitHub is called",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS, "claim_pattern:\n  run_number: '.*'\n"));
      for (const run_number of [42, ["42"], { n: 42 }]) {
        const sent = await w.exchange(await mint(actions, { ...FOO, run_number }), "org/repo", "id");
        expect([sent.status, sent.reason]).toEqual([403, "CLAIM_MISMATCH"]);
        expect((sent.body.details as { metadata: { claim: string } }[])[0]?.metadata.claim).toBe(
          "run_number",
        );
        oneSmallAuditLine(output);
      }
      const w2 = await withPolicy(fooPolicy(ACTIONS));
      const shell = await w2.exchange(
        await mint(actions, { sub: "foo;rm -rf $(x)", aud: "octosts" }),
        "org/repo",
        "id",
      );
      expect([shell.status, shell.reason]).toEqual([400, "INVALID_TOKEN_CLAIMS"]);
      oneSmallAuditLine(output);
      expect(await w2.calls()).toEqual([]);
    },
    HANG,
  );

  // Without it: src/exchange/core.ts keeps the first grant per OIDC token and hands it out again.
  it(
    "replay: a job token is accepted again while it is valid (as octo-sts), and every exchange mints a token of its own",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS));
      const token = await mint(actions, FOO);
      const one = await w.exchange(token, "org/repo", "id");
      const first = oneSmallAuditLine(output);
      const two = await w.exchange(token, "org/repo", "id");
      const second = oneSmallAuditLine(output);
      expect([one.reason, two.reason]).toEqual(["granted", "granted"]);
      expect(one.body.token).not.toBe(two.body.token);
      expect(first.token_sha256).not.toBe(second.token_sha256);
    },
    HANG,
  );

  // Without it: src/exchange/scope.ts accepts any identity (`IDENTITY` is /^.+$/s and `..` is allowed)
  // and any scope: GitHub is then called for these names.
  it(
    "identity and path injection: identity ../x, a/b or %2e%2e and scope org/../x are INVALID_IDENTITY / INVALID_SCOPE before GitHub is called",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS));
      const token = await mint(actions, FOO);
      for (const identity of ["../x", "a/b", "..", "x/../../y", "%2e%2e", "id\n"]) {
        const sent = await w.exchange(token, "org/repo", identity);
        expect([identity, sent.status, sent.reason]).toEqual([identity, 400, "INVALID_IDENTITY"]);
        oneSmallAuditLine(output);
      }
      for (const scope of ["org/../x", "org/repo/extra", "../org", "org/.."]) {
        const sent = await w.exchange(token, scope, "id");
        expect([scope, sent.status, sent.reason]).toEqual([scope, 400, "INVALID_SCOPE"]);
        oneSmallAuditLine(output);
      }
      expect(await w.calls()).toEqual([]);
    },
    HANG,
  );

  // Without it: src/trust/schema.ts lets a repository policy carry repositories (REPO_KEYS lists it)
  // and src/exchange/scope.ts `tokenRepositories` ignores the policy's list.
  it(
    "repositories in repository and organization policies: a repository policy carrying repositories is POLICY_NOT_FOUND; an organization policy's repositories are exactly what GitHub is asked for",
    async () => {
      const w = await world({
        setup: {
          repos: {
            "org/repo": { files: policyFiles("id", fooPolicy(ACTIONS, "repositories: [repo, other]\n")) },
            "org/other": { files: {} },
            "org/.github": { files: policyFiles("org-id", fooPolicy(ACTIONS, "repositories: [other]\n")) },
          },
        },
      });
      const token = await mint(actions, FOO);
      const repo = await w.exchange(token, "org/repo", "id");
      expect([repo.status, repo.reason]).toEqual([404, "POLICY_NOT_FOUND"]);
      expect(oneSmallAuditLine(output).detail).toContain(
        "repositories is only allowed in an organization policy",
      );
      const org = await w.exchange(token, "org", "org-id");
      expect(org.reason).toBe("granted");
      expect(oneSmallAuditLine(output).repositories).toEqual(["other"]);
      const mints = (await w.calls()).filter((c) => c.path.endsWith("/access_tokens")).map((c) => c.body);
      expect(mints.at(-1)).toBe('{"repositories":["other"],"permissions":{"contents":"read"}}');
    },
    HANG,
  );

  // Without it: src/trust/check.ts skips the claim_pattern loop.
  it(
    "name squatting and immutable ids: a policy pinning repository_owner_id refuses a token for the same names under another owner id (CLAIM_MISMATCH)",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS, "claim_pattern:\n  repository_owner_id: '1234567'\n"));
      const squatter = { ...FOO, repository_owner: "org", repository_owner_id: "7654321" };
      const sent = await w.exchange(await mint(actions, squatter), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([403, "CLAIM_MISMATCH"]);
      oneSmallAuditLine(output);
      const owner = { ...FOO, repository_owner: "org", repository_owner_id: "1234567" };
      expect((await w.exchange(await mint(actions, owner), "org/repo", "id")).reason).toBe("granted");
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // Without it: src/exchange/core.ts writes the token itself into the audit line's token_sha256 (the
  // line then holds no hash of the token: the audit redaction replaces the token by its marker).
  it(
    "token handling: the token answered is never logged (the audit line has its SHA-256), the policy-read token is revoked, and two concurrent callers never share a token",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS));
      const [a, b] = await Promise.all([
        w.exchange(await mint(actions, FOO), "org/repo", "id"),
        w.exchange(await mint(actions, FOO), "org/repo", "id"),
      ]);
      expect([a.reason, b.reason]).toEqual(["granted", "granted"]);
      const tokens = [a.body.token as string, b.body.token as string];
      expect(tokens[0]).not.toBe(tokens[1]);
      const lines = output.lines.filter((l) => l.includes('"msg":"sts.exchange"'));
      expect(lines).toHaveLength(2);
      const hashes = await Promise.all(tokens.map((t) => sha256Hex(t)));
      for (const line of lines) expect(hashes).toContain(JSON.parse(line).token_sha256);
      for (const text of output.lines) for (const token of tokens) expect(text).not.toContain(token);
      const records = await github.tokens(w.ghId);
      const readTokens = records.filter((r) => !tokens.includes(r.token));
      expect(readTokens.length).toBeGreaterThan(0);
      expect(readTokens.every((r) => r.revoked && r.permissions.contents === "read")).toBe(true);
    },
    HANG,
  );

  // Without it: src/github/http.ts `rateLimitOf` counts every 403 as a rate limit.
  it(
    "GitHub error semantics: a 422 mint is PERMISSION_NOT_GRANTABLE (403) and a bare 403 reading the policy is POLICY_FORBIDDEN (403), neither a rate limit (no Retry-After)",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS));
      expect((await w.exchange(await mint(actions, FOO), "org/repo", "id")).reason).toBe("granted");
      oneSmallAuditLine(output);
      await github.addFault(w.ghId, { path: "/app/installations/*/access_tokens", answer: "unprocessable" });
      const mintRefused = await w.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([mintRefused.status, mintRefused.reason]).toEqual([403, "PERMISSION_NOT_GRANTABLE"]);
      expect(mintRefused.response.headers.get("Retry-After")).toBeNull();
      oneSmallAuditLine(output);

      const w2 = await withPolicy(fooPolicy(ACTIONS));
      await github.addFault(w2.ghId, { path: "/repos/org/repo/contents/**", answer: "forbidden" });
      const readRefused = await w2.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([readRefused.status, readRefused.reason]).toEqual([403, "POLICY_FORBIDDEN"]);
      expect(readRefused.response.headers.get("Retry-After")).toBeNull();
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // ---- attacks on the cost bounds -------------------------------------------------------------------

  // Without it: src/trust/pattern.ts skips the per-pattern repetition bound: the policy compiles, and
  // the 255 a's match, so the exchange is granted.
  it(
    "subject_pattern '(?:a?){1000}' repeated 40 times against a 255-char sub: POLICY_NOT_FOUND (the repetition bound per pattern), at once",
    async () => {
      const pattern = "(?:a?){1000}".repeat(40);
      const w = await withPolicy(
        `issuer: ${ACTIONS}\nsubject_pattern: '${pattern}'\naudience: octosts\n${PERMS}`,
      );
      const sub = "a".repeat(255);
      const sent = await w.exchange(await mint(actions, { sub, aud: "octosts" }), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([404, "POLICY_NOT_FOUND"]);
      expect(oneSmallAuditLine(output).detail).toContain("the repetition bound per pattern");
    },
    HANG,
  );

  // Without it: src/trust/pattern.ts skips the per-pattern bound and src/trust/compile.ts the
  // per-policy one: the policy compiles and the exchange goes on to the claims (CLAIM_MISMATCH).
  it(
    "one 700-byte pattern aliased into four claim_pattern entries: POLICY_NOT_FOUND (the repetition bounds), at once",
    async () => {
      const heavy = "(?:a?){160}".repeat(4).slice(0, 700);
      const w = await withPolicy(
        fooPolicy(ACTIONS, `claim_pattern:\n  a: &p '${heavy}'\n  b: *p\n  c: *p\n  d: *p\n`),
      );
      const sent = await w.exchange(
        await mint(actions, { ...FOO, a: "a", b: "a", c: "a", d: "a" }),
        "org/repo",
        "id",
      );
      expect([sent.status, sent.reason]).toEqual([404, "POLICY_NOT_FOUND"]);
      expect(oneSmallAuditLine(output).detail).toMatch(/the repetition bound per (pattern|policy)/);
    },
    HANG,
  );

  // Without it: src/trust/pattern.ts skips the length bound: the 7 KB pattern compiles and does not
  // match (SUBJECT_MISMATCH).
  it(
    "a 7 KB pattern: POLICY_NOT_FOUND (the pattern length bound), at once",
    async () => {
      const w = await withPolicy(
        `issuer: ${ACTIONS}\nsubject_pattern: '${"a".repeat(7 * 1024)}'\naudience: octosts\n${PERMS}`,
      );
      const sent = await w.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([404, "POLICY_NOT_FOUND"]);
      expect(oneSmallAuditLine(output).detail).toContain("the pattern length bound");
    },
    HANG,
  );

  // Without it (MAX_HINT_KEY_CHARS unbounded in src/platform/limits.ts) the answer is the same but the
  // exchange took 6 to 14 s instead of about 0.1 s on 2 cores: only a duration tells the two apart, and
  // no test asserts one, so this protection was checked by timing it by hand.
  it(
    "two 120 KB unknown permission keys: POLICY_NOT_FOUND without a did-you-mean hint (hints only for keys of at most 64 characters), the detail cut to 1 KiB",
    async () => {
      const key = (c: string) => c.repeat(120 * 1024);
      const w = await withPolicy(
        `issuer: ${ACTIONS}\nsubject: foo\naudience: octosts\npermissions:\n  ? ${key("q")}\n  : read\n  ? ${key("r")}\n  : read\n`,
      );
      const sent = await w.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([404, "POLICY_NOT_FOUND"]);
      const line = oneSmallAuditLine(output);
      expect(line.detail).toContain("unknown permission");
      expect(line.detail).not.toContain("did you mean");
      expect(line.detail).toContain("[cut ");
    },
    HANG,
  );

  // Without it: src/trust/yaml.ts skips the expanded size bound: the names pass the schema, the
  // exchange reaches the mint (5 MB of repositories) and GitHub refuses it (PERMISSION_NOT_GRANTABLE).
  it.each([
    ["98 KiB", 50, "100 KB"],
    ["883 KiB", 600, "900 KB"],
  ])(
    "a %s org policy whose repositories hold %i aliases of a %s name: POLICY_NOT_FOUND (the 1 MiB expanded size bound), at once",
    async (_size, aliases, nameSize) => {
      const nameChars = Number.parseInt(nameSize as string, 10) * 1000;
      const name = "r".repeat(nameChars);
      const text = `${fooPolicy(ACTIONS)}repositories:\n  - &n ${name}\n${"  - *n\n".repeat((aliases as number) - 1)}`;
      const w = await world({
        setup: { repos: { "org/repo": { files: {} }, "org/.github": { files: policyFiles("big", text) } } },
      });
      const sent = await w.exchange(await mint(actions, FOO), "org", "big");
      expect([sent.status, sent.reason]).toEqual([404, "POLICY_NOT_FOUND"]);
      expect(oneSmallAuditLine(output).detail).toContain("the expanded size bound");
    },
    HANG,
  );

  // Without it: src/platform/limits.ts AUDIT_MAX_STRING_CHARS is unbounded: the detail, which quotes
  // the value, makes the audit line over 100 KB.
  it(
    "a 100 KB permission value copied into the audit line: POLICY_NOT_FOUND, the detail cut to 1 KiB with a marker",
    async () => {
      const w = await withPolicy(
        `issuer: ${ACTIONS}\nsubject: foo\naudience: octosts\npermissions:\n  contents: ${"w".repeat(100 * 1024)}\n`,
      );
      const sent = await w.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([404, "POLICY_NOT_FOUND"]);
      expect(sent.text.length).toBeLessThan(1024);
      const line = oneSmallAuditLine(output);
      expect(line.detail).toContain("permissions.contents must be");
      expect(line.detail).toMatch(/…\[cut \d+ chars\]$/);
    },
    HANG,
  );

  // Without it: src/errors/catalogue.ts `retryAfterOf` sends GitHub's number as it came (1e+23).
  it(
    "GitHub answering Retry-After: 99999999999999999999999: RATE_LIMITED (429) with Retry-After 3600 on both doors",
    async () => {
      const w = await withPolicy(fooPolicy(ACTIONS));
      await github.addFault(w.ghId, {
        path: "/orgs/*/installation",
        answer: "too-many-requests",
        retryAfter: "99999999999999999999999",
      });
      const sent = await w.exchange(await mint(actions, FOO), "org/repo", "id");
      expect([sent.status, sent.reason]).toEqual([429, "RATE_LIMITED"]);
      expect(sent.response.headers.get("Retry-After")).toBe("3600");
      oneSmallAuditLine(output);
      const form = new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: await mint(actions, FOO),
        subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
        scope: "org/repo",
        audience: "id",
      });
      const oauth = await w.send("/oauth/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
      expect([oauth.status, oauth.body.error, oauth.reason]).toEqual([
        429,
        "temporarily_unavailable",
        "RATE_LIMITED",
      ]);
      expect(oauth.response.headers.get("Retry-After")).toBe("3600");
      oneSmallAuditLine(output);
    },
    HANG,
  );

  // ---- the webhook ------------------------------------------------------------------------------------

  /** Exactly one `sts.webhook` line since the last call, and small; returns it. */
  const oneWebhookLine = () => {
    const lines = webhookLines(output.lines);
    expect(lines, "webhook audit lines").toHaveLength(1);
    expect(JSON.stringify(lines[0]).length).toBeLessThan(4 * 1024);
    output.lines.length = 0;
    return lines[0] as Record<string, unknown>;
  };

  // Without it: src/endpoints/webhook/signature.ts readVerified accepts any signature (returns the body
  // as verified by the first secret): the forged deliveries are read and GitHub is called.
  it(
    "webhook: a forged, SHA-1-only, missing or malformed signature: 401 WEBHOOK_SIGNATURE_INVALID, nothing of the body read, no GitHub call",
    async () => {
      const head = sha(0xabc);
      const w = await webhookWorld({
        "org/repo": {
          files: {},
          refs: { [head]: { [webhookPolicyPath("a")]: "x: [" } },
          pulls: { "7": { head } },
        },
      });
      const payload = {
        action: "opened",
        number: 7,
        pull_request: { number: 7, head: { sha: head } },
        repository: { name: "repo", full_name: "org/repo", owner: { login: "org" }, default_branch: "main" },
        installation: { id: w.installationId },
        sender: { login: "octocat" },
      };
      const body = JSON.stringify(payload);
      for (const options of [
        { secret: "not the secret" },
        { secret: null, headers: { "X-Hub-Signature": "sha1=0123456789abcdef0123456789abcdef01234567" } },
        { secret: null },
        { signature: "sha256=not-hex" },
        // The right signature with its last digit changed (to another digit: "0" for "0" would be no change).
        {
          signature: (await signatureOf(TEST_WEBHOOK_SECRET, body)).replace(/.$/, (d) =>
            d === "0" ? "1" : "0",
          ),
        },
      ]) {
        const response = await w.post("pull_request", payload, options);
        expect(response.status).toBe(401);
        expect(oneWebhookLine()).toMatchObject({
          reason: "WEBHOOK_SIGNATURE_INVALID",
          conclusion: "refused",
        });
      }
      expect(await w.calls()).toEqual([]);
    },
    HANG,
  );

  // Without it: src/platform/limits.ts MAX_WEBHOOK_BODY_BYTES unbounded: the 26 MiB body is read whole
  // and hashed, and answered 401.
  it(
    "webhook: a 26 MiB delivery: 413 WEBHOOK_TOO_LARGE before anything is hashed, no GitHub call",
    async () => {
      const w = await webhookWorld({ "org/repo": { files: {} } });
      const response = await w.post(
        "push",
        {},
        { body: "x".repeat(26 * 1024 * 1024), signature: `sha256=${"0".repeat(64)}` },
      );
      expect(response.status).toBe(413);
      expect(oneWebhookLine()).toMatchObject({ reason: "WEBHOOK_TOO_LARGE", status: 413 });
      expect(await w.calls()).toEqual([]);
    },
    HANG,
  );

  // Without it: src/endpoints/webhook/deliver.ts treats every push as one to the default branch: the
  // push to a feature branch evicts the merged policy.
  it(
    "webhook: a pull request or a push to another branch changing a policy: nothing is evicted, only a push to the default branch evicts",
    async () => {
      const head = sha(0xdef);
      const changed = webhookPolicyPath("foo");
      const w = await webhookWorld({
        "org/repo": {
          files: { [changed]: webhookPolicy() },
          refs: { [head]: { [changed]: webhookPolicy("contents: write") } },
          pulls: { "7": { head } },
        },
      });
      // The merged policy is read and cached by an exchange.
      expect((await w.exchange("foo")).status).toBe(200);
      output.lines.length = 0;
      await w.pullRequest("opened", 7, head);
      expect(oneWebhookLine().evictions).toEqual([]);
      await w.push({ ref: "refs/heads/feature", after: head, commits: [{ modified: [changed] }] });
      expect(oneWebhookLine().evictions).toEqual([]);
      await w.push({ ref: "refs/heads/main", after: head, commits: [{ modified: [changed] }] });
      expect(oneWebhookLine().evictions).toEqual(["policy org/repo foo"]);
    },
    HANG,
  );
});

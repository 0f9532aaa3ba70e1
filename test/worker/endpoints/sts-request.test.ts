import { describe, expect, it } from "vitest";
import { parseQuery, readBearer, readParams } from "../../../src/endpoints/sts-request";
import { messageOf } from "../../../src/errors/catalogue";
import { resolveTarget, tokenRepositories } from "../../../src/exchange/scope";

const BASE = "https://sts.example.com/sts/exchange";

async function params(query: string, init?: RequestInit) {
  const request = new Request(`${BASE}${query}`, init);
  return readParams(request, new URL(request.url));
}

function form(
  body: string,
  query = "",
): Promise<ReturnType<typeof readParams> extends Promise<infer R> ? R : never> {
  return params(query, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body,
  });
}

describe("exchange parameters as grpc-gateway reads them", () => {
  it("reads the octo-sts/action request with unencoded values", async () => {
    const r = await params("?scope=org/repo&scopes=org/repo&identity=ci");
    expect(r).toEqual({ ok: true, value: { scope: "org/repo", identity: "ci", formPost: false } });
  });

  it("reads the Chainguard SDK form POST (aud ignored) and marks it for the strict shape", async () => {
    const r = await form(
      "aud=does-not-matter&scope=my-org%2Fmy-repo&scopes=my-org%2Fmy-repo&identity=deploy",
    );
    expect(r).toEqual({ ok: true, value: { scope: "my-org/my-repo", identity: "deploy", formPost: true } });
  });

  it("prefers scopes[0] over scope, and falls back to scope", async () => {
    expect(await params("?scope=a/b&scopes=c/d&identity=x")).toMatchObject({ value: { scope: "c/d" } });
    expect(await params("?scope=a/b&identity=x")).toMatchObject({ value: { scope: "a/b" } });
  });

  it("ignores a JSON body and unknown keys", async () => {
    const r = await params("?identity=x&unknown=1", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ scope: "a/b" }),
    });
    expect(r).toEqual({ ok: true, value: { scope: "", identity: "x", formPost: false } });
  });

  it("does not split commas", async () => {
    expect(await params("?scopes=a,b&identity=x")).toMatchObject({ value: { scope: "a,b" } });
  });

  it("refuses a singular field given twice, also across body and query (body first)", async () => {
    const twice = await params("?identity=a&identity=b&scope=o/r");
    expect(twice.ok).toBe(false);
    if (!twice.ok) {
      expect(twice.failure.reason).toBe("INVALID_REQUEST");
      expect(messageOf(twice.failure, "d")).toBe('too many values for field "identity": a, b');
    }
    const across = await form("scope=body/one", "?scope=query/two&identity=x");
    expect(across.ok).toBe(false);
    if (!across.ok)
      expect(messageOf(across.failure, "d")).toBe('too many values for field "scope": body/one, query/two');
  });

  it("refuses a form body over the limit, counted while reading", async () => {
    const r = await form(`scope=o/r&identity=x&aud=${"a".repeat(17 * 1024)}`);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.failure.reason).toBe("INVALID_REQUEST");
      expect(messageOf(r.failure, "d")).toBe("http: POST too large");
    }
    expect((await form(`scope=o/r&identity=x&aud=${"a".repeat(15 * 1024)}`)).ok).toBe(true);
  });

  it("refuses more than one scopes value", async () => {
    const r = await params("?scopes=a/b&scopes=c/d&identity=x");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.failure.reason).toBe("MULTIPLE_SCOPES");
      expect(messageOf(r.failure, "d")).toBe("multiple scopes not supported");
    }
  });

  it("reads `name[x]` keys as grpc-gateway does: `name` with the extra value `x` in front", async () => {
    const indexed = await params("?scopes[0]=org/repo&identity=x");
    expect(indexed).toMatchObject({ ok: false, failure: { reason: "MULTIPLE_SCOPES" } });
    const keyed = await params("?scope[x]=org/repo&identity=ci");
    expect(keyed.ok).toBe(false);
    if (!keyed.ok) {
      expect(keyed.failure.reason).toBe("INVALID_REQUEST");
      expect(messageOf(keyed.failure, "d")).toBe('too many values for field "scope": x, org/repo');
    }
    const inBody = await form("identity[]=ci&scope=org/repo");
    expect(inBody.ok).toBe(false);
    if (!inBody.ok) expect(messageOf(inBody.failure, "d")).toBe('too many values for field "identity": , ci');
    // An unknown name in front of the brackets is ignored, like any unknown key.
    expect(await params("?scope=org/repo&identity=ci&x[0]=1&scope[=y")).toMatchObject({
      ok: true,
      value: { scope: "org/repo", identity: "ci" },
    });
  });

  it("counts values per key: a singular field under its proto and JSON names is set twice, not refused", async () => {
    expect(
      await params("?scope=org/repo&identity=ci&identity_provider=a&identityProvider=b&cap=1&cap=2&aud=x"),
    ).toEqual({ ok: true, value: { scope: "org/repo", identity: "ci", formPost: false } });
    const twice = await params("?scope=org/repo&identity=ci&identityProvider=a&identityProvider=b");
    expect(twice.ok).toBe(false);
    if (!twice.ok)
      expect(messageOf(twice.failure, "d")).toBe('too many values for field "identity_provider": a, b');
  });

  it("refuses malformed percent-encoding with Go's error text", async () => {
    const r = await params("?scope=a%zzb&identity=x");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.failure.reason).toBe("INVALID_REQUEST");
      expect(messageOf(r.failure, "d")).toBe('invalid URL escape "%zz"');
    }
    expect(parseQuery("a=%4").error).toBe('invalid URL escape "%4"');
    expect(parseQuery("a=1;b=2").error).toBe("invalid semicolon separator in query");
    expect(parseQuery("a=x+y&b=%2F").pairs).toEqual([
      ["a", "x y"],
      ["b", "/"],
    ]);
  });

  it("keeps a raw character outside the Basic Multilingual Plane whole (found by fuzzing)", () => {
    // A form body is read as text, so a client that does not escape sends the character itself.
    expect(parseQuery("identity=😀&scope=%F0%9F%98%80").pairs).toEqual([
      ["identity", "😀"],
      ["scope", "😀"],
    ]);
  });
});

describe("Authorization: exactly one bearer token", () => {
  const req = (headers: Record<string, string>) => new Request(BASE, { headers });

  it("accepts Bearer in any case, and a bare JWT", () => {
    expect(readBearer(req({ Authorization: "Bearer a.b.c" }))).toEqual({ ok: true, value: "a.b.c" });
    expect(readBearer(req({ Authorization: "bearer a.b.c" }))).toEqual({ ok: true, value: "a.b.c" });
    expect(readBearer(req({ Authorization: "BEARER   a.b.c" }))).toEqual({ ok: true, value: "a.b.c" });
    expect(readBearer(req({ Authorization: "a.b.c" }))).toEqual({ ok: true, value: "a.b.c" });
  });

  it("refuses a missing header and a second value", () => {
    const cases: Record<string, string>[] = [
      {},
      { Authorization: "Bearer a.b.c, Bearer d.e.f" },
      { Authorization: "Bearer a.b.c", "Grpc-Metadata-Authorization": "Bearer d.e.f" },
    ];
    for (const headers of cases) {
      const r = readBearer(req(headers));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.failure.reason).toBe("MISSING_BEARER");
    }
  });

  it("treats an empty or oversized bearer as malformed", () => {
    for (const value of ["Bearer ", `Bearer ${"a".repeat(20000)}`]) {
      const r = readBearer(req({ Authorization: value }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.failure.reason).toBe("MALFORMED_TOKEN");
    }
  });
});

describe("scope and identity: strict names, the three scope forms", () => {
  it("maps the three scope forms", () => {
    expect(resolveTarget("org/repo", "ci", ".github")).toEqual({
      ok: true,
      value: {
        owner: "org",
        policyRepo: "repo",
        kind: "repo",
        repositories: ["repo"],
        policyListsRepositories: false,
      },
    });
    expect(resolveTarget("org", "ci", ".github")).toEqual({
      ok: true,
      value: { owner: "org", policyRepo: ".github", kind: "org", policyListsRepositories: true },
    });
    expect(resolveTarget("org/.github", "ci", ".github")).toEqual({
      ok: true,
      value: {
        owner: "org",
        policyRepo: ".github",
        kind: "org",
        repositories: [".github"],
        policyListsRepositories: true,
      },
    });
    expect(resolveTarget("org", "ci", "my-policies")).toMatchObject({ value: { policyRepo: "my-policies" } });
  });

  it("limits the token to the policy's repositories, or to the scope's repository", () => {
    const repo = resolveTarget("org/repo", "ci", ".github");
    const org = resolveTarget("org", "ci", ".github");
    const orgRepo = resolveTarget("org/.github", "ci", ".github");
    if (!repo.ok || !org.ok || !orgRepo.ok) throw new Error("unreachable");
    expect(tokenRepositories(repo.value, undefined)).toEqual(["repo"]);
    expect(tokenRepositories(org.value, undefined)).toBeUndefined();
    expect(tokenRepositories(org.value, ["a", "b"])).toEqual(["a", "b"]);
    expect(tokenRepositories(orgRepo.value, undefined)).toEqual([".github"]);
    expect(tokenRepositories(orgRepo.value, ["a"])).toEqual(["a"]);
  });

  it("requires scope, then identity", () => {
    expect(resolveTarget("", "", ".github")).toMatchObject({ failure: { reason: "SCOPE_REQUIRED" } });
    expect(resolveTarget("org/repo", "", ".github")).toMatchObject({
      failure: { reason: "IDENTITY_REQUIRED" },
    });
  });

  it.each([
    "a/b/c",
    "org/",
    "/repo",
    "./x",
    "a/../x",
    "org/..",
    "org/.",
    "-org/repo",
    "o rg/repo",
    `${"a".repeat(40)}/r`,
    "org/re po",
  ])("refuses scope %j", (scope) => {
    const r = resolveTarget(scope, "ci", ".github");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.failure.reason).toBe("INVALID_SCOPE");
      expect(messageOf(r.failure, "d")).toBe(`invalid scope ${JSON.stringify(scope)}`);
    }
  });

  it.each(["../x", "..", "sub/foo", "a..b", ".hidden", "-x", "x y", "x\\y", "a".repeat(101)])(
    "refuses identity %j",
    (identity) => {
      const r = resolveTarget("org/repo", identity, ".github");
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.failure.reason).toBe("INVALID_IDENTITY");
    },
  );

  it("accepts usual identities", () => {
    for (const identity of ["ci", "release-bot", "deploy.prod", "a_b", "A1", "a".repeat(100)]) {
      expect(resolveTarget("org/repo", identity, ".github").ok).toBe(true);
    }
  });
});

/**
 * @module test/doubles/issuer
 * The OIDC issuer double (Node): a multi-tenant issuer serving discovery and a JWKS, minting tokens,
 * and misbehaving on request (500, hang, 200 KiB, redirects, a lying `issuer`, keys without `alg`).
 *
 * Test files run in parallel, so all state is per tenant: a path tenant is issuer
 * `http://127.0.0.1:<port>/t/<name>` (http on loopback passes the issuer rules); a hostname tenant is
 * issuer `https://<host>`, reached through the outbound router as `/h/<host>/…`, created lazily with
 * default behaviour and shared by every test file (so tests that change behaviour use path tenants).
 * The control API (`/__control/`) is wrapped by `test/shared/issuer-double.ts`; the same operations are
 * methods of {@link IssuerDouble} for Node scripts.
 */

import { randomBytes } from "node:crypto";
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK } from "jose";
import type { RecordedCall } from "../shared/control-client";
import type {
  ConfusionOptions,
  CreatedIssuer,
  CreateIssuerOptions,
  DocumentFault,
  DoubleAlg,
  IssuerBehaviour,
  IssuerControl,
  IssuerKeys,
  MintOptions,
} from "../shared/issuer-double";
import { pooledRsaJwk } from "./rsa-pool";
import {
  type CallLog,
  type DoubleRequest,
  type DoubleResponse,
  jsonResponse,
  recordAndRoute,
} from "./server";

const ALGS: readonly DoubleAlg[] = ["RS256", "ES256", "EdDSA"];
const DEFAULT_SUPPORTED_ALGS = ["RS256", "ES256", "EdDSA"];
const DISCOVERY_PATH = "/.well-known/openid-configuration";
const MOVED_DISCOVERY_PATH = `/moved${DISCOVERY_PATH}`;
/** Path tenants serve their JWKS here; hostname tenants at `/.well-known/jwks` as GitHub does. */
const TENANT_JWKS_PATH = "/jwks";
const HOST_JWKS_PATH = "/.well-known/jwks";

interface SigningKey {
  alg: DoubleAlg;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

interface Tenant extends CallLog {
  id: string;
  issuer: string;
  /** The path prefix on the double (`/t/<name>` or `/h/<host>`). */
  prefix: string;
  jwksUri: string;
  current: Map<DoubleAlg, SigningKey>;
  /** The keys before the last rotation (still served, as real issuers do during a rotation). */
  previous: SigningKey[];
  behaviour: IssuerBehaviour;
  algs: string[] | null;
}

async function newKey(alg: DoubleAlg): Promise<SigningKey> {
  const kid = `${alg.toLowerCase()}-${randomBytes(6).toString("hex")}`;
  const pooled = alg === "RS256" ? pooledRsaJwk() : undefined;
  if (pooled !== undefined) {
    const privateKey = (await importJWK(pooled, alg, { extractable: true })) as CryptoKey;
    const publicJwk = { kty: "RSA", n: pooled.n, e: pooled.e, kid, alg, use: "sig" };
    return { alg, kid, privateKey, publicJwk };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicJwk };
}

async function newKeySet(): Promise<Map<DoubleAlg, SigningKey>> {
  const keys = await Promise.all(ALGS.map(newKey));
  return new Map(keys.map((k) => [k.alg, k]));
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function tenantOf(id: string, tenants: Map<string, Tenant>): Tenant {
  const tenant = tenants.get(id);
  if (tenant === undefined) throw new Error(`unknown issuer tenant ${id}`);
  return tenant;
}

export class IssuerDouble implements IssuerControl {
  private readonly tenants = new Map<string, Tenant>();
  /** Hostname tenants being created (so two parallel first uses make one tenant). */
  private readonly creating = new Map<string, Promise<Tenant>>();
  private counter = 0;

  constructor(readonly baseUrl: string) {}

  // ---- in-process control API ------------------------------------------------------------------

  async createIssuer(options: CreateIssuerOptions = {}): Promise<CreatedIssuer> {
    const tenant =
      options.host !== undefined
        ? await this.hostTenant(options.host.toLowerCase())
        : await this.pathTenant(options.name ?? `i${++this.counter}-${randomBytes(4).toString("hex")}`);
    if (options.algs !== undefined && options.host === undefined) tenant.algs = options.algs;
    return this.describe(tenant);
  }

  async mintToken(id: string, options: MintOptions = {}): Promise<string> {
    const tenant = tenantOf(id, this.tenants);
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: tenant.issuer,
      iat: now,
      nbf: now,
      exp: now + (options.expiresIn ?? 300),
      ...options.claims,
    };
    for (const name of options.omit ?? []) delete payload[name];
    const alg = options.alg ?? "RS256";
    if (alg === "none") {
      return `${b64url({ alg: "none", typ: "JWT", ...options.header })}.${b64url(payload)}.`;
    }
    const key = tenant.current.get(alg) as SigningKey;
    const header: Record<string, unknown> = { alg, typ: "JWT", ...options.header };
    const kid = options.kid === undefined ? key.kid : options.kid;
    if (kid !== null) header.kid = kid;
    const signer = options.foreignKey ? (await newKey(alg)).privateKey : key.privateKey;
    return new CompactSign(Buffer.from(JSON.stringify(payload)))
      .setProtectedHeader(header as { alg: string })
      .sign(signer);
  }

  async confusionToken(id: string, options: ConfusionOptions): Promise<string> {
    const tenant = tenantOf(id, this.tenants);
    const rsa = tenant.current.get("RS256") as SigningKey;
    const secret =
      options.secretForm === "pem"
        ? Buffer.from(await this.rsaPem(rsa))
        : Buffer.from(JSON.stringify(rsa.publicJwk));
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: tenant.issuer, iat: now, nbf: now, exp: now + 300, ...options.claims };
    const header: Record<string, unknown> = { alg: "HS256", typ: "JWT" };
    const kid = options.kid === undefined ? rsa.kid : options.kid;
    if (kid !== null) header.kid = kid;
    return new CompactSign(Buffer.from(JSON.stringify(payload)))
      .setProtectedHeader(header as { alg: string })
      .sign(new Uint8Array(secret));
  }

  async setBehaviour(id: string, behaviour: IssuerBehaviour): Promise<void> {
    const tenant = tenantOf(id, this.tenants);
    tenant.behaviour = { ...tenant.behaviour, ...behaviour };
    if (behaviour.algs !== undefined) tenant.algs = behaviour.algs;
  }

  async rotateKeys(id: string): Promise<IssuerKeys> {
    const tenant = tenantOf(id, this.tenants);
    tenant.previous = [...tenant.current.values()];
    tenant.current = await newKeySet();
    return this.keys(id);
  }

  async keys(id: string): Promise<IssuerKeys> {
    const tenant = tenantOf(id, this.tenants);
    const kids = Object.fromEntries([...tenant.current].map(([alg, k]) => [alg, k.kid])) as Record<
      DoubleAlg,
      string
    >;
    return {
      keys: this.publicKeys(tenant),
      rsaPublicPem: await this.rsaPem(tenant.current.get("RS256") as SigningKey),
      kids,
    };
  }

  async calls(id: string): Promise<RecordedCall[]> {
    return [...tenantOf(id, this.tenants).calls];
  }

  async clearCalls(id: string): Promise<void> {
    tenantOf(id, this.tenants).calls.length = 0;
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  async handle(req: DoubleRequest): Promise<DoubleResponse> {
    const path = req.url.pathname;
    try {
      if (path.startsWith("/__control/")) return await this.control(req, path.slice("/__control".length));
      const tenantMatch = /^\/t\/([a-z0-9-]+)(\/.*)?$/.exec(path);
      if (tenantMatch) {
        const tenant = this.tenants.get(tenantMatch[1] as string);
        if (tenant === undefined) return jsonResponse(404, { error: "no such issuer" });
        return this.serve(tenant, req, tenantMatch[2] ?? "/");
      }
      const hostMatch = /^\/h\/([a-z0-9.-]+)(\/.*)?$/.exec(path);
      if (hostMatch) {
        const tenant = await this.hostTenant(hostMatch[1] as string);
        return this.serve(tenant, req, hostMatch[2] ?? "/");
      }
      return jsonResponse(404, { error: "not found" });
    } catch (error) {
      return jsonResponse(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async control(req: DoubleRequest, path: string): Promise<DoubleResponse> {
    const body = req.body === "" ? {} : (JSON.parse(req.body) as Record<string, unknown>);
    if (path === "/issuers" && req.method === "POST") {
      return jsonResponse(200, await this.createIssuer(body as CreateIssuerOptions));
    }
    const match = /^\/issuers\/([^/]+)\/([a-z-]+)$/.exec(path);
    if (!match) return jsonResponse(404, { error: "unknown control path" });
    const id = decodeURIComponent(match[1] as string);
    const op = `${req.method} ${match[2]}`;
    switch (op) {
      case "POST token":
        return jsonResponse(200, { token: await this.mintToken(id, body as MintOptions) });
      case "POST confusion-token":
        return jsonResponse(200, {
          token: await this.confusionToken(id, body as unknown as ConfusionOptions),
        });
      case "POST behaviour":
        await this.setBehaviour(id, body as IssuerBehaviour);
        return jsonResponse(200, {});
      case "POST rotate":
        return jsonResponse(200, await this.rotateKeys(id));
      case "GET keys":
        return jsonResponse(200, await this.keys(id));
      case "GET calls":
        return jsonResponse(200, { calls: await this.calls(id) });
      case "DELETE calls":
        await this.clearCalls(id);
        return jsonResponse(200, {});
      default:
        return jsonResponse(404, { error: `unknown control operation ${op}` });
    }
  }

  private serve(tenant: Tenant, req: DoubleRequest, path: string): DoubleResponse {
    return recordAndRoute(tenant, req, path, () => this.route(tenant, path));
  }

  private route(tenant: Tenant, path: string): DoubleResponse {
    const jwksPath = tenant.prefix.startsWith("/h/") ? HOST_JWKS_PATH : TENANT_JWKS_PATH;
    if (path === DISCOVERY_PATH) return this.answer(tenant.behaviour.discovery, this.discoveryDoc(tenant));
    if (path === MOVED_DISCOVERY_PATH) return this.answer("ok", this.discoveryDoc(tenant));
    if (path === jwksPath) return this.answer(tenant.behaviour.jwks, { keys: this.publicKeys(tenant) });
    return jsonResponse(404, { error: "not found" });
  }

  private answer(fault: DocumentFault | undefined, document: unknown): DoubleResponse {
    if (fault === undefined || fault === "ok") return jsonResponse(200, document);
    if (fault === "hang") return { status: 200, hang: true };
    if ("status" in fault) {
      return { status: fault.status, headers: { "content-type": "text/plain" }, body: "upstream secret" };
    }
    if ("oversize" in fault) {
      // No Content-Length: Node streams it chunked. Valid JSON followed by whitespace, so only a byte
      // cap (not a parse error) can refuse it.
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(document),
        streamBytes: fault.oversize,
      };
    }
    if ("redirect" in fault) return { status: 302, headers: { location: fault.redirect }, body: "" };
    return {
      status: 200,
      headers: { "content-type": fault.contentType ?? "application/json" },
      body: fault.body,
    };
  }

  private discoveryDoc(tenant: Tenant): Record<string, unknown> {
    const doc: Record<string, unknown> = {
      issuer: tenant.behaviour.discoveryIssuer ?? tenant.issuer,
      jwks_uri: tenant.behaviour.jwksUri ?? tenant.jwksUri,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      claims_supported: ["sub", "aud", "exp", "iat", "iss"],
    };
    if (tenant.algs !== null) doc.id_token_signing_alg_values_supported = tenant.algs;
    return doc;
  }

  private publicKeys(tenant: Tenant): Record<string, unknown>[] {
    const keys = [...tenant.current.values(), ...tenant.previous].map((k) => ({
      ...k.publicJwk,
      ...tenant.behaviour.jwkOverride,
    }));
    if (tenant.behaviour.jwksWithoutAlg) for (const k of keys) delete k.alg;
    return keys as Record<string, unknown>[];
  }

  private async rsaPem(key: SigningKey): Promise<string> {
    return exportSPKI((await importJWK(key.publicJwk, "RS256", { extractable: true })) as CryptoKey);
  }

  private describe(tenant: Tenant): CreatedIssuer {
    const base = `${this.baseUrl}${tenant.prefix}`;
    return {
      id: tenant.id,
      issuer: tenant.issuer,
      discoveryUrl: `${base}${DISCOVERY_PATH}`,
      movedDiscoveryUrl: `${base}${MOVED_DISCOVERY_PATH}`,
    };
  }

  private async pathTenant(name: string): Promise<Tenant> {
    if (!/^[a-z0-9-]{1,63}$/.test(name)) throw new Error(`bad tenant name ${name}`);
    if (this.tenants.has(name)) throw new Error(`tenant ${name} exists`);
    const issuer = `${this.baseUrl}/t/${name}`;
    const tenant: Tenant = {
      id: name,
      issuer,
      prefix: `/t/${name}`,
      jwksUri: `${issuer}${TENANT_JWKS_PATH}`,
      current: await newKeySet(),
      previous: [],
      behaviour: {},
      algs: DEFAULT_SUPPORTED_ALGS,
      calls: [],
      seq: 0,
    };
    this.tenants.set(name, tenant);
    return tenant;
  }

  private hostTenant(host: string): Promise<Tenant> {
    const id = `host:${host}`;
    const existing = this.tenants.get(id);
    if (existing !== undefined) return Promise.resolve(existing);
    let pending = this.creating.get(id);
    if (pending === undefined) {
      pending = newKeySet().then((current) => {
        const tenant: Tenant = {
          id,
          issuer: `https://${host}`,
          prefix: `/h/${host}`,
          jwksUri: `https://${host}${HOST_JWKS_PATH}`,
          current,
          previous: [],
          behaviour: {},
          algs: DEFAULT_SUPPORTED_ALGS,
          calls: [],
          seq: 0,
        };
        this.tenants.set(id, tenant);
        return tenant;
      });
      this.creating.set(id, pending);
    }
    return pending;
  }
}

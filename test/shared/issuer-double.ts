/**
 * @module test/shared/issuer-double
 * The client of the OIDC issuer double's control API (`/__control/` on the double's base URL), and the
 * types both sides share. It only needs `fetch`, so the same client works inside workerd tests (over
 * 127.0.0.1) and from Node scripts (the demo, the benchmark).
 */

import { ControlClient, type FetchLike, type RecordedCall } from "./control-client";

/** Signing algorithms the double holds a key for. */
export type DoubleAlg = "RS256" | "ES256" | "EdDSA";

/**
 * How one of the double's two documents (discovery or JWKS) is answered.
 * - `"ok"`: the normal document.
 * - `{ status }`: that status with a short text body.
 * - `"hang"`: never answer.
 * - `{ oversize }`: the normal document followed by `oversize` bytes of JSON whitespace, streamed
 *   without a Content-Length (a reader without a byte cap would parse it successfully).
 * - `{ redirect }`: 302 to that Location.
 * - `{ body, contentType? }`: this exact body with status 200.
 */
export type DocumentFault =
  | "ok"
  | "hang"
  | { status: number }
  | { oversize: number }
  | { redirect: string }
  | { body: string; contentType?: string };

export interface IssuerBehaviour {
  discovery?: DocumentFault;
  jwks?: DocumentFault;
  /** The `issuer` the discovery document claims (default: the tenant's issuer). */
  discoveryIssuer?: string;
  /** The `jwks_uri` the discovery document advertises (default: the tenant's own JWKS). */
  jwksUri?: string;
  /** `id_token_signing_alg_values_supported`; null omits the member (default RS256, ES256, EdDSA). */
  algs?: string[] | null;
  /** Serve the JWKS without `alg` members on the keys. */
  jwksWithoutAlg?: boolean;
  /** Members merged into every served JWK (e.g. `{ use: "enc" }`, `{ key_ops: ["encrypt"] }`). */
  jwkOverride?: Record<string, unknown>;
}

export interface CreateIssuerOptions {
  /** Path tenant name (`[a-z0-9-]`, generated when absent): issuer `http://127.0.0.1:<port>/t/<name>`. */
  name?: string;
  /** Hostname tenant (routed by the outbound router): issuer `https://<host>`, shared by all tests. */
  host?: string;
  algs?: string[] | null;
}

export interface CreatedIssuer {
  id: string;
  issuer: string;
  /** Where the discovery document of this tenant is served on the double (loopback URL). */
  discoveryUrl: string;
  /** A second path serving the same discovery document (a valid redirect target). */
  movedDiscoveryUrl: string;
}

export interface MintOptions {
  /** Claims merged over the defaults `iss`, `iat`, `nbf` (now) and `exp` (now + expiresIn). */
  claims?: Record<string, unknown>;
  /** Signing algorithm (default RS256); `"none"` produces an unsigned token. */
  alg?: DoubleAlg | "none";
  /** Header `kid` (default: the current key's kid; null omits it). */
  kid?: string | null;
  /** Extra protected header members. */
  header?: Record<string, unknown>;
  /** Claims to leave out entirely (e.g. `exp`), after defaults and `claims` are merged. */
  omit?: string[];
  /** Lifetime in seconds (default 300). */
  expiresIn?: number;
  /** Sign with a fresh key that is NOT in the JWKS (keeping the header's kid). */
  foreignKey?: boolean;
}

/** An HS256 token whose HMAC secret is the tenant's RS256 public key, as PEM text or as JWK JSON. */
export interface ConfusionOptions {
  claims?: Record<string, unknown>;
  secretForm: "pem" | "jwk";
  kid?: string | null;
}

export interface IssuerKeys {
  /** The public JWKs currently served (with kid and alg). */
  keys: Record<string, unknown>[];
  /** The RS256 public key as SPKI PEM. */
  rsaPublicPem: string;
  kids: Record<DoubleAlg, string>;
}

/** The control API surface (the double implements it in process, the client over HTTP). */
export interface IssuerControl {
  createIssuer(options?: CreateIssuerOptions): Promise<CreatedIssuer>;
  mintToken(id: string, options?: MintOptions): Promise<string>;
  confusionToken(id: string, options: ConfusionOptions): Promise<string>;
  setBehaviour(id: string, behaviour: IssuerBehaviour): Promise<void>;
  rotateKeys(id: string): Promise<IssuerKeys>;
  keys(id: string): Promise<IssuerKeys>;
  calls(id: string): Promise<RecordedCall[]>;
  clearCalls(id: string): Promise<void>;
}

/** Talks to the double at `baseUrl` (e.g. `env.ISSUER_DOUBLE_URL`). */
export class IssuerDoubleClient extends ControlClient implements IssuerControl {
  constructor(baseUrl: string, fetchFn?: FetchLike) {
    super(baseUrl, "issuer double", fetchFn);
  }

  private tenant(id: string): string {
    return `/issuers/${encodeURIComponent(id)}`;
  }

  createIssuer(options: CreateIssuerOptions = {}): Promise<CreatedIssuer> {
    return this.call("POST", "/issuers", options);
  }
  async mintToken(id: string, options: MintOptions = {}): Promise<string> {
    return (await this.call<{ token: string }>("POST", `${this.tenant(id)}/token`, options)).token;
  }
  async confusionToken(id: string, options: ConfusionOptions): Promise<string> {
    return (await this.call<{ token: string }>("POST", `${this.tenant(id)}/confusion-token`, options)).token;
  }
  async setBehaviour(id: string, behaviour: IssuerBehaviour): Promise<void> {
    await this.call("POST", `${this.tenant(id)}/behaviour`, behaviour);
  }
  rotateKeys(id: string): Promise<IssuerKeys> {
    return this.call("POST", `${this.tenant(id)}/rotate`, {});
  }
  keys(id: string): Promise<IssuerKeys> {
    return this.call("GET", `${this.tenant(id)}/keys`);
  }
  async calls(id: string): Promise<RecordedCall[]> {
    return (await this.call<{ calls: RecordedCall[] }>("GET", `${this.tenant(id)}/calls`)).calls;
  }
  async clearCalls(id: string): Promise<void> {
    await this.call("DELETE", `${this.tenant(id)}/calls`);
  }
}

/**
 * @module oidc/deps
 * Everything the OIDC stage may use, and nothing else: the outbound `fetch` (discovery and JWKS only),
 * the clock, this isolate's caches, and the deployment allowlist. It never sees GitHub settings, the App
 * key or a request, so it can be read and tested on its own.
 */

import type { CacheFactory } from "../platform/cache";
import type { Clock } from "../platform/clock";
import type { FetchFn } from "../platform/fetch";
import type { IssuerAllowlist } from "../trust/allowlist";

export interface OidcDeps {
  readonly fetch: FetchFn;
  readonly clock: Clock;
  /** This isolate's caches; also the key of the stage's per-isolate state. */
  readonly caches: CacheFactory;
  /** The deployment allowlist; null: every issuer with valid documents may be tried. */
  readonly allowlist: IssuerAllowlist | null;
}

/**
 * The OIDC issuer double (placeholder shape; the OIDC work fills in discovery, JWKS and tokens).
 */

import { CallLog, type DoubleRequest, type DoubleResponse, jsonResponse } from "./server";

export class IssuerDouble {
  readonly log = new CallLog();
  constructor(readonly baseUrl: string) {}
  async handle(req: DoubleRequest): Promise<DoubleResponse> {
    this.log.record(req, req.url.pathname + req.url.search, req.headers["x-forwarded-host"] ?? req.url.host);
    return jsonResponse(404, { error: "not implemented yet" });
  }
}

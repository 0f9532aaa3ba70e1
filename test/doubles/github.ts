/**
 * The GitHub API double (placeholder shape; the GitHub work fills in the API).
 */

import { CallLog, type DoubleRequest, type DoubleResponse, jsonResponse } from "./server";

export class GitHubDouble {
  readonly log = new CallLog();
  constructor(readonly baseUrl: string) {}
  async handle(req: DoubleRequest): Promise<DoubleResponse> {
    this.log.record(req, req.url.pathname + req.url.search, req.headers["x-forwarded-host"] ?? req.url.host);
    return jsonResponse(404, { message: "Not Found" });
  }
}

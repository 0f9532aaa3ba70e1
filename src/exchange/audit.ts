/**
 * @module exchange/audit
 * One structured JSON line per exchange (decisions §5), through `console.log` so it shows in
 * `wrangler tail` and Workers Logs. It carries the SHA-256 of the issued token (the same hex the action
 * prints as "Token hash"), never a token, a JWT or a key.
 */

import type { Failure } from "../errors/catalogue";

export interface AuditRecord {
  msg: "sts.exchange";
  request_id: string;
  cf_ray: string | null;
  time: string;
  decision: "granted" | "refused";
  reason?: string;
  detail?: string;
  issuer?: string;
  subject?: string;
  /** The claims the policy looked at (name and the token's value). */
  claims?: { name: string; value: string }[];
  scope?: string;
  identity?: string;
  installation_id?: number;
  /** Where the policy text came from: memory, kv, github or stale. */
  policy_source?: string;
  permissions?: Record<string, string>;
  repositories?: string[];
  user_agent: string | null;
  token_sha256?: string;
  duration_ms: number;
}

/** Builds the record incrementally as the stages run; `emit` writes it once. */
export class Audit {
  readonly record: AuditRecord;
  private emitted = false;

  constructor(requestId: string, request: Request, clockNow: number) {
    this.record = {
      msg: "sts.exchange",
      request_id: requestId,
      cf_ray: request.headers.get("cf-ray"),
      time: new Date(clockNow).toISOString(),
      decision: "refused",
      user_agent: request.headers.get("User-Agent"),
      duration_ms: 0,
    };
  }

  set<K extends keyof AuditRecord>(key: K, value: AuditRecord[K]): void {
    this.record[key] = value;
  }

  refuse(f: Failure): void {
    this.record.decision = "refused";
    this.record.reason = f.reason;
    if (f.detail !== undefined) this.record.detail = f.detail;
  }

  emit(durationMs: number): void {
    if (this.emitted) return;
    this.emitted = true;
    this.record.duration_ms = durationMs;
    console.log(JSON.stringify(this.record));
  }
}

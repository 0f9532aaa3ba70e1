/**
 * @module exchange/audit
 * One structured JSON line per exchange (docs/refusals.md, "The audit line"), through `console.log` so
 * it shows in `wrangler tail` and Workers Logs, whichever door the request came through. It carries the
 * SHA-256 of the issued token (the same hex the action prints as "Token hash"), never a token, a JWT or
 * a key (anything shaped like one in a value the caller sent is replaced by a marker). Every string it
 * carries is cut to {@link AUDIT_MAX_STRING_CHARS} and every list to
 * {@link AUDIT_MAX_LIST_ENTRIES}, so a line stays small whatever a policy or a token holds, and the line
 * is written on every path, also when a step threw.
 */

import type { Failure, Result } from "../errors/catalogue";
import { AUDIT_MAX_LIST_ENTRIES, AUDIT_MAX_STRING_CHARS } from "../platform/limits";

/** The door a request came through. */
export type Door = "sts/exchange" | "oauth/token";

interface AuditRecord {
  msg: "sts.exchange";
  door: Door;
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
  /**
   * Step 10: the organization's trusted-issuer file (`mode` none when it has none); in audit mode
   * `allowed: false` is what enforce would have refused.
   */
  org_issuers?: { mode: string; allowed: boolean; source: string };
  /** Where the policy text came from: memory, kv, github or stale. */
  policy_source?: string;
  permissions?: Record<string, string>;
  repositories?: string[];
  user_agent: string | null;
  token_sha256?: string;
  duration_ms: number;
}

/**
 * What a token looks like: a JWT (two base64url JSON parts and a signature) or a GitHub token. A caller
 * may put one where the line copies what it sent (its `User-Agent`, `scope`, `identity`), so every string
 * has these replaced before it is written (docs/refusals.md, "The audit line": never a token).
 */
const TOKEN_SHAPED = /eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*|\bgh[pousr]_[A-Za-z0-9]{20,}/g;

/** `text` with every token-shaped run replaced by a marker. */
export function redactTokens(text: string): string {
  return text.replace(TOKEN_SHAPED, (token) =>
    token.startsWith("eyJ") ? "[redacted JWT]" : "[redacted token]",
  );
}

/**
 * `value` with every string rid of token-shaped runs and cut, and every list shortened, with a marker
 * where something was cut.
 */
export function bounded(value: unknown): unknown {
  if (typeof value === "string") {
    const text = redactTokens(value);
    if (text.length <= AUDIT_MAX_STRING_CHARS) return text;
    return `${text.slice(0, AUDIT_MAX_STRING_CHARS)}…[cut ${text.length - AUDIT_MAX_STRING_CHARS} chars]`;
  }
  if (Array.isArray(value)) {
    const kept = value.slice(0, AUDIT_MAX_LIST_ENTRIES).map(bounded);
    if (value.length > AUDIT_MAX_LIST_ENTRIES)
      kept.push(`…[cut ${value.length - AUDIT_MAX_LIST_ENTRIES} entries]`);
    return kept;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    const out: Record<string, unknown> = {};
    for (const [key, inner] of entries.slice(0, AUDIT_MAX_LIST_ENTRIES))
      out[bounded(key) as string] = bounded(inner);
    if (entries.length > AUDIT_MAX_LIST_ENTRIES)
      out["…"] = `[cut ${entries.length - AUDIT_MAX_LIST_ENTRIES} entries]`;
    return out;
  }
  return value;
}

/** Builds the record incrementally as the steps run; `emit` writes it once. */
export class Audit {
  readonly record: AuditRecord;
  private emitted = false;

  constructor(door: Door, requestId: string, request: Request, clockNow: number) {
    this.record = {
      msg: "sts.exchange",
      door,
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

  /** Writes the line once; never throws (a line that cannot be serialised is replaced by a short one). */
  emit(durationMs: number): void {
    if (this.emitted) return;
    this.emitted = true;
    this.record.duration_ms = durationMs;
    let line: string;
    try {
      line = JSON.stringify(bounded(this.record));
    } catch {
      const { msg, door, request_id, decision, reason } = this.record;
      line = JSON.stringify({
        msg,
        door,
        request_id,
        decision,
        reason,
        detail: "audit record not serialisable",
      });
    }
    console.log(line);
  }
}

/** The detail logged for an exception: its kind, never its message or stack. */
export function unexpected(error: unknown): string {
  return `unexpected ${error instanceof Error ? error.name : typeof error}`;
}

/**
 * Runs one exchange under its audit line: a refusal is recorded with its reason and detail, an
 * exception becomes `INTERNAL` (never a stack or a token), and the line is written whatever happened.
 */
export async function audited<T>(audit: Audit, run: () => Promise<Result<T>>): Promise<Result<T>> {
  // Elapsed time is a measurement, not a decision: the wall clock, not the injectable one.
  const started = Date.now();
  let result: Result<T>;
  try {
    result = await run();
  } catch (error) {
    result = { ok: false, failure: { reason: "INTERNAL", args: {}, detail: unexpected(error) } };
  }
  if (!result.ok) audit.refuse(result.failure);
  audit.emit(Math.max(0, Date.now() - started));
  return result;
}

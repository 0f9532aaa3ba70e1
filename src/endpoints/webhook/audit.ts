/**
 * @module endpoints/webhook/audit
 * One JSON line per delivery (docs/webhook.md, "The audit line"), through `console.log` like the
 * exchange's: the delivery id, the event and action, the repository, the files checked, the
 * conclusion, the evictions and the HTTP status, whatever happened. It never carries a token or a
 * secret (which secret matched is its position in the list); strings and lists are cut as the
 * exchange's audit line cuts them.
 */

import { bounded } from "../../exchange/audit";

export interface WebhookRecord {
  msg: "sts.webhook";
  request_id: string;
  /** `X-GitHub-Delivery`. */
  delivery: string | null;
  /** `X-GitHub-Event`. */
  event: string | null;
  action?: string;
  repository?: string;
  sender?: string;
  installation_id?: number;
  head_sha?: string;
  /** Which secret of GITHUB_WEBHOOK_SECRET matched (1-based). */
  secret_index?: number;
  /** The files validated. */
  files?: string[];
  /** Validated files left unchecked (over the per-delivery budget). */
  unchecked?: string[];
  /**
   * `success` or `failure` (a check run was posted), `none` (no validated file changed), `skipped`
   * (nothing to do for this event, action or sender), `evicted`, `rate-limited`, `unavailable`,
   * `refused` (signature, size or payload), `not-permitted` (the installation cannot do it), `error`.
   */
  conclusion: string;
  failures?: number;
  warnings?: number;
  check_run_id?: number;
  /** Cache entries dropped: `policy OWNER/REPO IDENTITY`, `org-issuers OWNER`, `installation OWNER`. */
  evictions: string[];
  status: number;
  reason?: string;
  detail?: string;
  /** Answered 202 at the deadline; the work went on in the background. */
  answered_early?: boolean;
  duration_ms: number;
}

export class WebhookAudit {
  readonly record: WebhookRecord;
  private emitted = false;
  private readonly started = Date.now();

  constructor(requestId: string, request: Request) {
    this.record = {
      msg: "sts.webhook",
      request_id: requestId,
      delivery: request.headers.get("X-GitHub-Delivery"),
      event: request.headers.get("X-GitHub-Event"),
      conclusion: "error",
      evictions: [],
      status: 0,
      duration_ms: 0,
    };
  }

  set<K extends keyof WebhookRecord>(key: K, value: WebhookRecord[K]): void {
    this.record[key] = value;
  }

  evicted(what: string): void {
    this.record.evictions.push(what);
  }

  /** Writes the line once. */
  emit(): void {
    if (this.emitted) return;
    this.emitted = true;
    // Elapsed time is a measurement: the wall clock, not the injectable one.
    this.record.duration_ms = Math.max(0, Date.now() - this.started);
    let line: string;
    try {
      line = JSON.stringify(bounded(this.record));
    } catch {
      const { msg, request_id, delivery, conclusion, status } = this.record;
      line = JSON.stringify({ msg, request_id, delivery, conclusion, status, detail: "not serialisable" });
    }
    console.log(line);
  }
}

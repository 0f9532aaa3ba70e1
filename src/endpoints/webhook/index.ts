/**
 * @module endpoints/webhook
 * `POST /webhook`, the GitHub App's webhook (docs/webhook.md): served only when `GITHUB_WEBHOOK_SECRET`
 * is set (otherwise the route does not exist). The body is capped and its signature checked before
 * anything in it is read (signature.ts); the event is then handled (deliver.ts) before the answer, or,
 * when that takes longer than GitHub waits, answered 202 and finished in the background. One audit
 * line per delivery. The webhook grants nothing and does not go through the exchange core.
 */

import { type Failure, failure } from "../../errors/catalogue";
import { errorResponse } from "../../errors/grpc";
import { unexpected } from "../../exchange/audit";
import { isolateState } from "../../platform/isolate";
import { WEBHOOK_ANSWER_DEADLINE_MS } from "../../platform/limits";
import type { Runtime } from "../../platform/runtime";
import type { DoorContext } from "../context";
import { WebhookAudit } from "./audit";
import type { Outcome } from "./deliver";
import { readVerified } from "./signature";

const deadlines = isolateState<{ ms: number }>(() => ({ ms: WEBHOOK_ANSWER_DEADLINE_MS }));

/** Overrides how long this runtime works on a delivery before it answers 202 (tests). */
export function setWebhookAnswerDeadline(rt: Runtime, ms: number): void {
  deadlines(rt).ms = ms;
}

/** The route exists only when at least one webhook secret is configured. */
export function webhookEnabled(rt: Runtime): boolean {
  if (rt.config.ok) return rt.config.value.webhookSecrets.length > 0;
  const raw = rt.env.GITHUB_WEBHOOK_SECRET;
  return typeof raw === "string" && raw.split(",").some((s) => s.trim() !== "");
}

/** The payload: the JSON body, or the `payload` field of a form body (GitHub's two content types). */
function payloadOf(text: string, contentType: string | null): unknown {
  let json = text;
  if ((contentType ?? "").split(";")[0]?.trim().toLowerCase() === "application/x-www-form-urlencoded") {
    const field = new URLSearchParams(text).get("payload");
    if (field === null) return undefined;
    json = field;
  }
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function webhook(door: DoorContext): Promise<Response> {
  const { request, rt, ctx, requestId, domain } = door;
  const audit = new WebhookAudit(requestId, request);
  const refuse = (f: Failure, conclusion = "refused"): Response => {
    const response = errorResponse(f, { requestId, domain });
    audit.set("conclusion", conclusion);
    audit.set("status", response.status);
    audit.set("reason", f.reason);
    if (f.detail !== undefined) audit.set("detail", f.detail);
    audit.emit();
    return response;
  };
  /** Records what the delivery came to; the answer when it is given now. */
  const settle = (outcome: Outcome, status?: number): Response => {
    if (outcome.status === "failed") {
      if (status !== undefined) {
        audit.set("conclusion", outcome.conclusion);
        audit.set("reason", outcome.failure.reason);
        if (outcome.failure.detail !== undefined) audit.set("detail", outcome.failure.detail);
        audit.set("status", status);
        audit.emit();
        return new Response(null, { status });
      }
      return refuse(outcome.failure, outcome.conclusion);
    }
    audit.set("conclusion", outcome.conclusion);
    if (outcome.detail !== undefined) audit.set("detail", outcome.detail);
    audit.set("status", status ?? outcome.status);
    audit.emit();
    const body: Record<string, unknown> = { conclusion: outcome.conclusion };
    if (outcome.checkRunId !== undefined) body.check_run_id = outcome.checkRunId;
    return new Response(JSON.stringify(body), {
      status: status ?? outcome.status,
      headers: { "Content-Type": "application/json", "X-Request-Id": requestId },
    });
  };

  try {
    if (!rt.config.ok) return refuse(rt.config.failure, "error");
    const config = rt.config.value;
    const verified = await readVerified(request, config.webhookSecrets);
    if (!verified.ok) return refuse(verified.failure);
    audit.set("secret_index", verified.value.secretIndex);
    const payload = payloadOf(verified.value.text, request.headers.get("Content-Type"));
    if (payload === undefined) {
      return refuse(failure("INVALID_REQUEST", { requestError: "webhook payload is not a JSON object" }));
    }
    const event = request.headers.get("X-GitHub-Event") ?? "";
    // The delivery (and with it the policy engine's YAML reader and schema) is loaded only for a
    // verified delivery, so an exchange's isolate never evaluates it (docs/performance.md, "Cold exchanges").
    const work = import("./deliver")
      .then(({ deliver }) => deliver({ rt, ctx, config, audit, event, payload }))
      .catch(
        (error): Outcome => ({
          status: "failed",
          conclusion: "error",
          failure: failure("INTERNAL", {}, unexpected(error)),
        }),
      );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), deadlines(rt).ms);
    });
    const first = await Promise.race([work, late]);
    if (timer !== undefined) clearTimeout(timer);
    if (first !== "late") return settle(first);
    // GitHub stops waiting at 10 s: answer now, finish (and write the audit line) in the background.
    audit.set("answered_early", true);
    ctx.waitUntil(work.then((outcome) => settle(outcome, 202)));
    return new Response(JSON.stringify({ conclusion: "accepted" }), {
      status: 202,
      headers: { "Content-Type": "application/json", "X-Request-Id": requestId },
    });
  } catch (error) {
    return refuse(failure("INTERNAL", {}, unexpected(error)), "error");
  }
}

/**
 * @module endpoints/webhook/report
 * What a delivery found, turned into the check run (docs/webhook.md, "The check run"): one conclusion,
 * the title octo-sts uses, a summary that is empty on success and lists every problem by file on
 * failure, the warnings and what was not checked in `text`, and one annotation per finding at its file
 * and line (failures first, at most {@link MAX_CHECK_RUN_ANNOTATIONS}, sent 50 a request). Pure.
 */

import {
  MAX_CHECK_RUN_ANNOTATION_CHARS,
  MAX_CHECK_RUN_ANNOTATIONS,
  MAX_CHECK_RUN_ANNOTATIONS_PER_REQUEST,
  MAX_CHECK_RUN_OUTPUT_CHARS,
  MAX_WEBHOOK_LIST_PAGES,
  MAX_WEBHOOK_VALIDATED_FILES,
  WEBHOOK_LIST_FILES_PER_PAGE,
} from "../../platform/limits";

export const CHECK_RUN_NAME = "Trust Policy Validation";
export const VALID_TITLE = "Valid trust policy.";
export const INVALID_TITLE = "Invalid trust policy.";
const SUMMARY_HEAD = "Failed to validate trust policy.";

/** One thing found in one file, at a line (1 when the file has no better place). */
export interface Finding {
  path: string;
  line: number;
  col: number;
  level: "failure" | "warning";
  title: string;
  message: string;
}

/** What the check run says besides the findings. */
export interface ReportNotes {
  /** Validated files the delivery did not read (over the per-delivery budget). */
  unchecked: string[];
  /** A listing of changed files was cut short by the page budget. */
  truncated: boolean;
  /** The installation's permissions could not be read, so that lint did not run. */
  permissionsUnknown: boolean;
}

export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "failure" | "warning";
  message: string;
  title: string;
}

export interface CheckRunReport {
  conclusion: "success" | "failure";
  title: string;
  summary: string;
  text: string;
  /** At most {@link MAX_CHECK_RUN_ANNOTATIONS}, failures first, in batches of 50. */
  batches: Annotation[][];
  /** Findings over the annotation cap (listed in summary or text only). */
  unannotated: number;
  failures: number;
  warnings: number;
}

/** A path as it is shown inside Markdown inline code (a backtick would end it). */
function shownPath(path: string): string {
  return path.replaceAll("`", "'");
}

/** Lines inside a fenced block (three backticks would end it). */
function fenced(lines: string[]): string {
  return ["```text", ...lines.map((l) => l.replaceAll("```", "'''")), "```"].join("\n");
}

function byFile(findings: Finding[]): Map<string, Finding[]> {
  const out = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = out.get(f.path);
    if (list === undefined) out.set(f.path, [f]);
    else list.push(f);
  }
  return out;
}

function listing(findings: Finding[]): string {
  return [...byFile(findings)]
    .map(
      ([path, list]) =>
        `\`${shownPath(path)}\`\n${fenced(list.map((f) => `${f.line}:${f.col}: ${f.message}`))}`,
    )
    .join("\n\n");
}

function cut(text: string): string {
  if (text.length <= MAX_CHECK_RUN_OUTPUT_CHARS) return text;
  const marker = "\n…(cut: the rest is in the annotations)";
  return text.slice(0, MAX_CHECK_RUN_OUTPUT_CHARS - marker.length) + marker;
}

/** Builds the check run of a delivery from its findings (each file's in position order). */
export function buildReport(findings: Finding[], notes: ReportNotes): CheckRunReport {
  const failures = findings.filter((f) => f.level === "failure");
  const warnings = findings.filter((f) => f.level === "warning");
  const conclusion = failures.length > 0 ? "failure" : "success";
  const summary = failures.length > 0 ? `${SUMMARY_HEAD}\n\n${listing(failures)}` : "";

  const parts: string[] = [];
  if (warnings.length > 0) parts.push(`Warnings (they do not fail this check):\n\n${listing(warnings)}`);
  if (notes.unchecked.length > 0) {
    parts.push(
      `Not checked (one delivery validates at most ${MAX_WEBHOOK_VALIDATED_FILES} files):\n\n${notes.unchecked
        .map((p) => `- \`${shownPath(p)}\``)
        .join("\n")}`,
    );
  }
  if (notes.truncated) {
    parts.push(
      `The changed files were listed only up to ${MAX_WEBHOOK_LIST_PAGES} pages of ${WEBHOOK_LIST_FILES_PER_PAGE}: files after those were not looked at.`,
    );
  }
  if (notes.permissionsUnknown) {
    parts.push("The installation's permissions could not be read: permissions were not compared with them.");
  }
  const ordered = [...failures, ...warnings];
  const kept = ordered.slice(0, MAX_CHECK_RUN_ANNOTATIONS);
  const unannotated = ordered.length - kept.length;
  if (unannotated > 0) {
    parts.push(
      `${unannotated} more findings are listed here but not annotated (a check run carries at most ${MAX_CHECK_RUN_ANNOTATIONS} annotations from this service).`,
    );
  }
  const annotations: Annotation[] = kept.map((f) => ({
    path: f.path,
    start_line: Math.max(1, f.line),
    end_line: Math.max(1, f.line),
    annotation_level: f.level,
    message: f.message.slice(0, MAX_CHECK_RUN_ANNOTATION_CHARS),
    title: f.title,
  }));
  const batches: Annotation[][] = [];
  for (let i = 0; i < annotations.length; i += MAX_CHECK_RUN_ANNOTATIONS_PER_REQUEST) {
    batches.push(annotations.slice(i, i + MAX_CHECK_RUN_ANNOTATIONS_PER_REQUEST));
  }
  return {
    conclusion,
    title: conclusion === "success" ? VALID_TITLE : INVALID_TITLE,
    summary: cut(summary),
    text: cut(parts.join("\n\n")),
    batches,
    unannotated,
    failures: failures.length,
    warnings: warnings.length,
  };
}

/** GitHub's timestamp form, without milliseconds. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The `POST …/check-runs` body: the first batch of annotations rides along. */
export function createBody(report: CheckRunReport, sha: string, startedMs: number, nowMs: number) {
  const output: Record<string, unknown> = { title: report.title, summary: report.summary };
  if (report.text !== "") output.text = report.text;
  if (report.batches[0] !== undefined) output.annotations = report.batches[0];
  return {
    name: CHECK_RUN_NAME,
    head_sha: sha,
    external_id: sha,
    status: "completed",
    conclusion: report.conclusion,
    started_at: isoSeconds(startedMs),
    completed_at: isoSeconds(nowMs),
    output,
  };
}

/** A `PATCH …/check-runs/{id}` body carrying one further batch. */
export function updateBody(report: CheckRunReport, batch: Annotation[]) {
  const output: Record<string, unknown> = {
    title: report.title,
    summary: report.summary,
    annotations: batch,
  };
  if (report.text !== "") output.text = report.text;
  return { output };
}

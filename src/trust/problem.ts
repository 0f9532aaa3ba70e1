/**
 * @module trust/problem
 * Positions and problems of policy files, apart from the YAML reader and the schema, so that what
 * only compiles a policy (trust/compile.ts, trust/normal-form.ts) loads neither (docs/performance.md,
 * "Cold exchanges").
 */

/** 1-based line and column. */
export interface Pos {
  line: number;
  col: number;
}

export const NO_POS: Pos = { line: 1, col: 1 };

/** A problem in a policy file; line and column are 1-based (1:1 when there is no better place). */
export interface PolicyProblem {
  message: string;
  line: number;
  col: number;
  /** The field it concerns, e.g. `subject`, `permissions.contents`, `claim_pattern["email"]`. */
  field?: string;
}

/** Problems in the order of their position in the file. */
export function sortProblems(problems: PolicyProblem[]): PolicyProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
}

export function problem(message: string, pos: Pos, field?: string): PolicyProblem {
  return field === undefined
    ? { message, line: pos.line, col: pos.col }
    : { message, line: pos.line, col: pos.col, field };
}

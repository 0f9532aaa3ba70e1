/**
 * @module platform/fetch
 * The shape of the outbound `fetch` every stage is handed (so tests and the benchmark can count and
 * route every request the Worker makes).
 */

export type FetchFn = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

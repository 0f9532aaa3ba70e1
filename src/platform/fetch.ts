/**
 * @module platform/fetch
 * The shape of the outbound `fetch` every stage is handed (so tests and the benchmark can count and
 * route every request the Worker makes).
 */

export type FetchFn = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/**
 * The audit words for a request that got no answer at all. The runtime's own error (`TypeError`,
 * `Error: Network connection lost`) says nothing an operator can act on, so it is never passed on.
 */
export const NO_ANSWER = "no answer (network error: host unreachable, DNS, refused connection or TLS)";

/**
 * @module github/types
 * The shapes the GitHub stage hands to the exchange (src/github/index.ts re-exports them).
 */

export interface Installation {
  id: number;
  accountType: "Organization" | "User";
}

/** What to mint: the policy's permissions, and the repositories (omitted: every repository). */
export interface TokenRequest {
  permissions: Record<string, string>;
  repositories?: string[];
}

export interface MintedToken {
  token: string;
  /** GitHub's `expires_at`, as GitHub wrote it. */
  expiresAt: string;
  /** The installation that minted it (differs from the one asked for after a reinstall). */
  installationId: number;
}

export interface PolicyText {
  text: string;
  /** Where the text came from: memory, KV, a read from GitHub, or a stale copy served on a rate limit. */
  source: "memory" | "kv" | "github" | "stale";
  /**
   * The normal form stored beside the text (trust/normal-form.ts), as read: untrusted until its key
   * matches this code, the kind and the text.
   */
  form?: unknown;
}

/** `ExecutionContext.waitUntil`, all the policy read needs to revoke its token in the background. */
export interface Waiter {
  waitUntil(promise: Promise<unknown>): void;
}

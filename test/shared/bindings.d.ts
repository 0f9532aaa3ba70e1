// Bindings the test configuration (vitest.config.ts) adds to the Worker's env inside workerd.
declare namespace Cloudflare {
  interface Env {
    STS_CACHE: KVNamespace;
    ISSUER_DOUBLE_URL: string;
    GITHUB_DOUBLE_URL: string;
    TEST_APP_KEY_PKCS1: string;
    TEST_APP_KEY_PKCS8: string;
    /** A real Rate Limiting binding (3 per 60 s) for the limit tests; the Worker never reads it itself. */
    TEST_CALLER_LIMITER: RateLimit;
  }
}

/**
 * @module index
 * The Worker entry. workerd accepts only handlers as a module's exports, so this file exports nothing
 * else: routing lives in app.ts, per-isolate state in runtime.ts.
 */

import { handle } from "./app";
import type { Env } from "./platform/config";
import { runtimeFor } from "./platform/runtime";

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    return handle(request, runtimeFor(env), ctx);
  },
} satisfies ExportedHandler<Env>;

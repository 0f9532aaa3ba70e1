/**
 * vitest global setup: starts the local doubles once for the whole run and hands their URLs to the
 * tests (inside workerd they arrive as bindings, see vitest.config.ts).
 */

import type { TestProject } from "vitest/node";
import { startDoubles } from "./doubles/launch";

declare module "vitest" {
  export interface ProvidedContext {
    issuerUrl: string;
    githubUrl: string;
    outboundHosts: Record<string, string>;
  }
}

export default async function setup(project: TestProject) {
  const doubles = await startDoubles();
  project.provide("issuerUrl", doubles.issuer.url);
  project.provide("githubUrl", doubles.github.url);
  project.provide("outboundHosts", doubles.routes.hosts);
  return async () => {
    await doubles.close();
  };
}

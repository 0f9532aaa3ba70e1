#!/usr/bin/env node
// npm run schema: writes schema/trust-policy.schema.json, schema/org-trust-policy.schema.json and
// schema/trusted-token-issuers.schema.json from the zod definitions in src/trust/json-schema.ts
// (test/node/schema.test.ts fails when they drift).
// Node 20 cannot import TypeScript, so the module is bundled in memory with esbuild first.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { importTs } from "./lib/import-ts.mjs";
import { takeNoArguments } from "./lib/no-arguments.mjs";

const USAGE = `usage: npm run schema
  Writes the JSON Schemas in schema/ from src/trust/schema.ts (test/node/schema.test.ts checks they match).`;
takeNoArguments("npm run schema", USAGE);

const root = new URL("..", import.meta.url);
const { policyJsonSchemas } = await importTs(fileURLToPath(new URL("src/trust/json-schema.ts", root)));
mkdirSync(new URL("schema/", root), { recursive: true });
for (const [name, text] of Object.entries(policyJsonSchemas())) {
  writeFileSync(new URL(`schema/${name}`, root), text);
  console.log(`wrote schema/${name}`);
}

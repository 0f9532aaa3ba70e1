#!/usr/bin/env node
// sts-policy: the trust policy checker (bin/sts-policy.ts, src/cli/main.ts). In a clone, where the
// TypeScript source is beside this file, it is bundled (esbuild, a devDependency) into build/sts-policy/
// whenever a source file changed, so the checker is always the code of the tree. In the package that
// `npm pack` makes (docs/policy-reference.md, "Checking policies in CI"), there is no source: the
// prebuilt dist-cli/sts-policy.mjs runs, with no build tool and no dependency.
import { existsSync } from "node:fs";

if (existsSync(new URL("./sts-policy.ts", import.meta.url))) {
  const { runCliFromSource } = await import("../scripts/lib/cli-bundle.mjs");
  await runCliFromSource();
} else {
  await import("../dist-cli/sts-policy.mjs");
}

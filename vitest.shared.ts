// Shared vitest settings for every workspace project.
//
// Tests run against the TypeScript sources of workspace packages, not their
// built dist/, so `pnpm test` works on a fresh clone without a build. Each
// package exports "@memstack/source" → ./src/index.ts first; Vite must be told
// to use that condition for the Node (SSR) environment, and naming conditions
// replaces Vite's defaults, so the defaults are spread back in.
import { defaultClientConditions, defaultServerConditions } from "vite";
import { defineProject, type UserWorkspaceConfig } from "vitest/config";

export const SOURCE_CONDITION = "@memstack/source";

export function memstackProject(name: string, extra: UserWorkspaceConfig["test"] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
    ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
    test: {
      name,
      include: ["test/**/*.test.ts"],
      environment: "node",
      // Property tests run seconds on a loaded two-core machine; a test
      // that is slow is not a failure (benchmarks measure speed, tests don't).
      testTimeout: 60_000,
      typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
      ...extra,
    },
  });
}

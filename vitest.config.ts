// `pnpm test` runs every project (each package and app) in one vitest run.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*"],
  },
});

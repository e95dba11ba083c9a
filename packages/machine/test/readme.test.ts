import { expectReadmeExample } from "@memstack/testkit";
import { describe, it } from "vitest";

describe("README usage", () => {
  it("shows examples/usage.ts verbatim, and it runs as written", async () => {
    await expectReadmeExample(new URL("../", import.meta.url), [
      "Out of memory: Killed process 9 (worker8",
      "true",
      "9",
      "true",
    ]);
  });
});

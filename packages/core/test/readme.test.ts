import { describe, it } from "vitest";
import { expectReadmeExample } from "./testkit.js";

describe("README usage", () => {
  it("shows examples/usage.ts verbatim, and it runs as written", async () => {
    await expectReadmeExample(new URL("../", import.meta.url), [
      "adbe",
      "true",
      "0",
      "not-mapped",
      "281474976710656 1",
    ]);
  });
});

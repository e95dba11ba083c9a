import { expectReadmeExample } from "@memstack/testkit";
import { describe, it } from "vitest";

describe("README usage", () => {
  it("shows examples/usage.ts verbatim, and it runs as written", async () => {
    await expectReadmeExample(new URL("../", import.meta.url), [
      "42 7",
      "1",
      "not-mapped",
      "7ffff7dfe000-7ffff7e00000 rw-p 00000000 00:00 0 ",
    ]);
  });
});

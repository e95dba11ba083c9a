import { checkContents } from "@memstack/testkit";
import { describe, it } from "vitest";
import { testKernel } from "./helpers.js";

describe("what processes read back", () => {
  // Private and shared pages through swap-out, the swap cache, fork's
  // sharing and copy-on-write, PROT_NONE, mremap and the OOM killer, each
  // read compared with what was written (@memstack/testkit's checkContents).
  // (zeroPage false: reads of memory never written take pages too.)
  for (const [ram, swap, zeroPage] of [
    [1024 * 1024, 512 * 1024, true],
    [1024 * 1024, 64 * 1024, true],
    [1024 * 1024, 512 * 1024, false],
  ] as const) {
    it(
      `is what was written, on ${ram / 1024} KiB of RAM with ${swap / 1024} KiB of swap${zeroPage ? "" : ", no zero page"}`,
      { timeout: 600_000 },
      () =>
        checkContents({
          setup: () => {
            const k = testKernel(ram, { swapBytes: swap, overcommit: { mode: 1 }, zeroPage });
            return {
              spawn: () => k.spawn(),
              check: () => k.check(),
              reclaim: (n) => void k.pages.reclaim(n),
            };
          },
          numRuns: 60,
        }),
    );
  }
});

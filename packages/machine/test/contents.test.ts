import { checkContents } from "@memstack/testkit";
import { describe, it } from "vitest";
import { createMachine } from "../src/index.js";

describe("what processes read back on the whole machine", () => {
  // @memstack/testkit's checkContents over x86-64 page tables in RAM, the
  // TLB's Accessed and Dirty bits and the buddy allocator: swap-out, the swap
  // cache, fork, shared memory, PROT_NONE, mremap, transparent huge pages
  // and the OOM killer, every read compared with what was written.
  it("is what was written", { timeout: 600_000 }, () =>
    checkContents({
      setup: () => {
        const m = createMachine({ ram: "4M", swap: "2M", overcommit: 1 });
        return {
          spawn: () => m.spawn(),
          check: () => m.check(),
          reclaim: (n) => void m.kernel.pages.reclaim(n),
        };
      },
      hugePages: true,
      maxPages: 300,
      numRuns: 40,
    }),
  );
});

import {
  MADV_COLD,
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MADV_PAGEOUT,
  MADV_WILLNEED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
} from "@memstack/core";
import { checkContents } from "@memstack/testkit";
import { describe, it } from "vitest";
import { createMachine } from "../src/index.js";

describe("what processes read back on the whole machine", () => {
  // @memstack/testkit's checkContents over x86-64 page tables in RAM, the
  // TLB's Accessed and Dirty bits and the buddy allocator: swap-out, the swap
  // cache, fork, shared memory, PROT_NONE and the OOM killer, every read
  // compared with what was written.
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
      constants: {
        MAP_PRIVATE,
        MAP_SHARED,
        MADV_DONTNEED,
        MADV_PAGEOUT,
        MADV_COLD,
        MADV_WILLNEED,
        MREMAP_MAYMOVE,
        MADV_HUGEPAGE,
      },
      maxPages: 300,
      numRuns: 40,
    }),
  );
});

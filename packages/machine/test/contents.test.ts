import { MADV_HUGEPAGE, MAP_PRIVATE, PROT_READ, PROT_WRITE, virtAddr } from "@memstack/core";
import { checkContents } from "@memstack/testkit";
import { describe, expect, it } from "vitest";
import { createMachine } from "../src/index.js";

describe("what processes read back on the whole machine", () => {
  // @memstack/testkit's checkContents over x86-64 page tables in RAM, the
  // TLB's Accessed and Dirty bits and the buddy allocator: swap-out, the swap
  // cache, fork, shared memory, PROT_NONE, mremap, transparent huge pages
  // and the OOM killer, every read compared with what was written.
  // zeroPage false: every read of memory never written takes a page of zeros (a huge one where it may).
  it.each([true, false])("is what was written (zeroPage %s)", { timeout: 600_000 }, (zeroPage) =>
    checkContents({
      setup: () => {
        const m = createMachine({ ram: "4M", swap: "2M", overcommit: 1, zeroPage });
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

  // The property's seed 466074698 (zeroPage false), made plain: a copy-on-write
  // fault in a huge page three forks share allocates, the allocation reclaims,
  // and reclaim splits the folio to swap a page of it out, mapping its pages of
  // zeros to the zero page; the page being copied was one of them, freed under
  // the fault (a frame at -1 references). Its pin now keeps the folio whole.
  it("keeps a huge page whole while a copy-on-write fault holds a page of it", () => {
    const PAGE = 4096;
    const m = createMachine({ ram: "4M", swap: "2M", overcommit: 1 });
    const p = m.spawn();
    const a = p.mmap(0, 512 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    expect(p.madvise(a, 512 * PAGE, MADV_HUGEPAGE)).toBe(0);
    p.storeU8(virtAddr(a + 7), 1);
    expect(m.kernel.pages.stats.thpFaults).toBe(1);
    const written = new Map<number, number>([[0, 1]]);
    for (const [first, count] of [
      [0, 95],
      [386382415, 209],
      [2129940256, 79],
    ] as const) {
      expect(p.fork()).not.toBeNull();
      for (let i = 0; i < count; i++) {
        const pg = (first + i) % 512;
        p.storeU8(virtAddr(a + pg * PAGE + 7), (1 + i) & 0xff);
        written.set(pg, (1 + i) & 0xff);
        m.check();
      }
    }
    // Memory ran short: reclaim swapped pages out, and every byte reads back.
    expect(m.kernel.pages.stats.swapOuts).toBeGreaterThan(0);
    for (let pg = 0; pg < 512; pg++) expect(p.loadU8(virtAddr(a + pg * PAGE + 7))).toBe(written.get(pg) ?? 0);
    m.check();
  });
});

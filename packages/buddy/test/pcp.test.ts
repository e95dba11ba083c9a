// Per-CPU page lists (mm/page_alloc.c rmqueue_pcplist, rmqueue_bulk,
// free_frozen_page_commit, free_pcppages_bulk, drain_all_pages), one CPU.
import type { Pfn } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { createBuddyAllocator, GFP_HIGHUSER_MOVABLE } from "../src/index.js";

// 1 GiB of DMA32-sized Normal zone: managed 262144 → batch = rounddown_pow_of_two(64 + 32) − 1 = 63.
function gib() {
  return createBuddyAllocator({ frameCount: 262144, zones: [{ name: "Normal", endPfn: 262144 }] });
}

describe("per-CPU page lists", () => {
  it("sizes batch and high as zone_batchsize/zone_highsize do for one CPU", () => {
    const b = gib();
    const z = b.zoneStats("Normal");
    expect(z.pcpBatch).toBe(63);
    expect(z.pcpHigh).toBe(z.low);
    const small = createBuddyAllocator({ frameCount: 4096, zones: [{ name: "DMA", endPfn: 4096 }] });
    expect(small.zoneStats("DMA")).toMatchObject({ pcpBatch: 1 }); // managed >> 12 = 1
  });

  it("refills a batch from the buddy lists in split order and hands them out head first", () => {
    const b = gib();
    const first = b.alloc({ gfp: GFP_HIGHUSER_MOVABLE });
    expect(first).toBe(0);
    // rmqueue_bulk took 63 pages 0x0 … 0x3e from the buddy; 62 wait on the list.
    const z = b.zoneStats("Normal");
    expect(z.pcpCount).toBe(62);
    expect(z.freePages).toBe(262144 - 63);
    expect(b.freeFrameCount).toBe(262143);
    expect(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })).toBe(1);
    b.check();
  });

  it("frees rest on the list (LIFO) and go back in batches at pcp->high", () => {
    const b = gib();
    const pages: Pfn[] = [];
    const { high, batch } = { high: b.zoneStats("Normal").pcpHigh, batch: b.zoneStats("Normal").pcpBatch };
    for (let i = 0; i < high + batch; i++) pages.push(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })!);
    const held = b.zoneStats("Normal").pcpCount;
    b.free(pages[10]!, 0);
    expect(b.frameInfo(pages[10]!).state).toBe("pcp");
    expect(() => b.free(pages[10]!, 0)).toThrow(/is free \(on a per-CPU list\)/);
    expect(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })).toBe(pages[10]); // last freed, first reused
    // Free until the list reaches high: then batch pages leave from its tail.
    for (const p of pages) b.free(p, 0);
    expect(b.zoneStats("Normal").pcpCount).toBeLessThan(high);
    expect(held).toBeGreaterThanOrEqual(0);
    b.check();
    b.drainPages();
    expect(b.zoneStats("Normal").pcpCount).toBe(0);
    expect(b.buddyinfo()).toBe(`Node 0, zone   Normal ${"     0 ".repeat(10)}   256 \n`);
    b.check();
  });
});

// Reference counts: get_page/put_page, __free_pages on a still-referenced
// block (Linux's ___free_pages frees the upper parts), compound pages, the
// refcount overflow slot of an order-0 page whose buddy is free.
import { type Pfn, physAddr, SparseRam } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { __GFP_COMP, __GFP_ZERO, createBuddyAllocator, GFP_KERNEL } from "../src/index.js";
import { smallBuddy } from "./helpers.js";

describe("reference counts", () => {
  it("get_page/put_page keep an order-0 page until the last reference", () => {
    const b = smallBuddy();
    const p = b.alloc({ gfp: GFP_KERNEL })!;
    expect(b.page_ref_count(p)).toBe(1);
    b.get_page(p);
    b.get_page(p);
    expect(b.page_ref_count(p)).toBe(3);
    b.put_page(p);
    b.put_page(p);
    expect(b.frameInfo(p).state).toBe("allocated");
    b.put_page(p);
    expect(b.frameInfo(p).state).toBe("free");
    expect(b.page_ref_count(p)).toBe(0);
    b.check();
  });

  it("keeps refcounts of 8 and more for a page whose buddy is free (overflow slot)", () => {
    const b = smallBuddy();
    const p = b.alloc({ gfp: GFP_KERNEL })!; // 0x0; its buddy 0x1 is free
    expect(b.frameInfo(1).state).toBe("free");
    for (let i = 0; i < 20; i++) {
      b.get_page(p);
      b.check();
    }
    expect(b.page_ref_count(p)).toBe(21);
    const q = b.alloc({ gfp: GFP_KERNEL })!; // takes the buddy 0x1: the count moves to a slot
    expect(q).toBe(1);
    expect(b.page_ref_count(p)).toBe(21);
    b.free(q, 0); // buddy free again: back to the overflow slot
    expect(b.page_ref_count(p)).toBe(21);
    b.check();
    for (let i = 0; i < 20; i++) b.put_page(p);
    expect(b.page_ref_count(p)).toBe(1);
    b.put_page(p);
    expect(b.freeFrameCount).toBe(16);
    b.check();
  });

  it("split_page makes a block's pages order-0 pages, freed one by one and merging back", () => {
    const b = smallBuddy();
    const p = b.alloc({ order: 3, gfp: GFP_KERNEL })!;
    b.get_page(p);
    b.split_page(p, 3);
    b.check();
    expect(b.frameInfo(p)).toMatchObject({ state: "allocated", order: 0, refcount: 2 });
    for (let i = 1; i < 8; i++) {
      expect(b.frameInfo(p + i)).toMatchObject({ state: "allocated", order: 0, refcount: 1 });
    }
    expect(b.freeFrameCount).toBe(8);
    // Out of order, the head last: each page goes back alone.
    for (const i of [5, 1, 7, 2, 6, 3, 4]) {
      b.free((p + i) as Pfn, 0);
      b.check();
    }
    b.put_page(p);
    expect(b.freeFrameCount).toBe(15);
    b.put_page(p);
    b.drainPages();
    expect(b.freeFrameCount).toBe(16);
    expect(b.zoneStats(0).nrFree).toEqual([0, 0, 0, 2]);
    b.check();
  });

  it("split_page of an order-0 page changes nothing; the FrameAllocator view splits too", () => {
    const b = smallBuddy();
    const p = b.alloc({ gfp: GFP_KERNEL })!;
    b.split_page(p, 0);
    expect(b.frameInfo(p)).toMatchObject({ state: "allocated", order: 0, refcount: 1 });
    const view = b.frameAllocator(GFP_KERNEL);
    const q = view.allocFrames(2)!;
    view.splitFrames!(q, 2);
    for (let i = 0; i < 4; i++) view.freeFrames((q + i) as Pfn, 0);
    b.free(p, 0);
    b.drainPages();
    expect(b.freeFrameCount).toBe(16);
    b.check();
  });

  it("__free_pages on a referenced non-compound block frees all but the head page", () => {
    const b = smallBuddy();
    const p = b.alloc({ order: 3, gfp: GFP_KERNEL })!;
    b.get_page(p);
    b.__free_pages(p, 3); // refcount 2 -> 1: 0x4 (o2), 0x2 (o1), 0x1 (o0) go back
    expect(b.frameInfo(p)).toMatchObject({ state: "allocated", order: 0, refcount: 1 });
    expect(b.freeFrameCount).toBe(15);
    expect(b.zoneStats(0).nrFree).toEqual([1, 1, 1, 1]);
    b.check();
    b.put_page(p);
    expect(b.zoneStats(0).nrFree).toEqual([0, 0, 0, 2]);
    b.check();
  });

  it("a compound block (__GFP_COMP) goes back whole on the last put_page", () => {
    const b = smallBuddy();
    const p = b.alloc({ order: 2, gfp: GFP_KERNEL | __GFP_COMP })!;
    expect(b.frameInfo(p).compound).toBe(true);
    b.get_page(p);
    b.__free_pages(p, 2);
    expect(b.frameInfo(p)).toMatchObject({ state: "allocated", order: 2, refcount: 1 });
    b.put_page(p);
    expect(b.freeFrameCount).toBe(16);
    b.check();
  });
});

describe("zeroed pages with a memory", () => {
  it("__GFP_ZERO and get_zeroed_page clear the frames in SparseRam", () => {
    const memory = new SparseRam({ sizeBytes: 16 * 4096 });
    const b = createBuddyAllocator({
      memory,
      maxOrder: 3,
      minFreeKbytes: 0,
      zones: [{ name: "Normal", endPfn: 16 }],
    });
    const p = b.alloc({ order: 1, gfp: GFP_KERNEL })!;
    memory.writeU32(physAddr(p * 4096 + 8), 0xdeadbeef);
    memory.writeU32(physAddr((p + 1) * 4096 + 4092), 0xfeedface);
    b.free(p, 1);
    const q = b.alloc({ order: 1, gfp: GFP_KERNEL | __GFP_ZERO })!;
    expect(q).toBe(p);
    expect(memory.readU32(physAddr(q * 4096 + 8))).toBe(0);
    expect(memory.readU32(physAddr((q + 1) * 4096 + 4092))).toBe(0);
    memory.writeU8(physAddr(0x3000), 7);
    const addr = b.get_zeroed_page(GFP_KERNEL);
    expect(addr % 4096).toBe(0);
    expect(memory.readU8(physAddr(addr))).toBe(0);
    b.free_pages(addr, 0);
    b.free_pages(0, 3); // free_pages(0, …) is a no-op
    const block = b.__get_free_pages(GFP_KERNEL, 2);
    expect(block % (4 * 4096)).toBe(0);
    expect(b.frameInfo(block / 4096)).toMatchObject({ state: "allocated", order: 2 });
    b.free_pages(block, 2);
    b.free(q as Pfn, 1);
    expect(b.freeFrameCount).toBe(16);
    b.check();
  });
});

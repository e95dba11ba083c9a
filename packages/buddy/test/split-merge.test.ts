// Worked examples of Linux's split and merge (mm/page_alloc.c
// __rmqueue_smallest/expand and __free_one_page/buddy_merge_likely), with the
// exact pfns those rules give on a 16-frame zone of orders 0..3.
//
// Boot frees [0, 16) as two order-3 blocks to the list tail (FPI_TO_TAIL), so
// the order-3 list is [0x0, 0x8]. Allocation takes the list head; expand keeps
// the lower half and puts each upper half at the head of its list; a freed
// block goes to the head unless its order+1 buddy is free (then to the tail).
import { describe, expect, it } from "vitest";
import { GFP_HIGHUSER_MOVABLE, type Pfn } from "../src/index.js";
import { smallBuddy } from "./helpers.js";

const MOVABLE = GFP_HIGHUSER_MOVABLE;

function free0(b: ReturnType<typeof smallBuddy>): readonly number[] {
  return b.zoneStats(0).nrFree;
}

describe("split: __rmqueue_smallest + expand", () => {
  it("boot leaves the order-3 list in ascending pfn order", () => {
    const b = smallBuddy();
    expect(b.buddyinfo()).toBe("Node 0, zone   Normal      0      0      0      2 \n");
    expect(b.alloc({ order: 3, gfp: MOVABLE })).toBe(0x0);
    expect(b.alloc({ order: 3, gfp: MOVABLE })).toBe(0x8);
    expect(b.alloc({ order: 3, gfp: MOVABLE })).toBeNull();
    b.check();
  });

  it("an order-0 request splits the order-3 block at 0x0 into 0x4 (o2), 0x2 (o1), 0x1 (o0)", () => {
    const b = smallBuddy();
    expect(b.alloc({ order: 0, gfp: MOVABLE })).toBe(0x0);
    expect(free0(b)).toEqual([1, 1, 1, 1]);
    expect(b.frameInfo(0x1)).toMatchObject({ state: "free", order: 0 });
    expect(b.frameInfo(0x2)).toMatchObject({ state: "free", order: 1 });
    expect(b.frameInfo(0x4)).toMatchObject({ state: "free", order: 2 });
    expect(b.frameInfo(0x8)).toMatchObject({ state: "free", order: 3 });
    expect(b.stats().splits).toBe(3);
    b.check();
  });

  it("follows the list heads through a sequence of mixed orders", () => {
    const b = smallBuddy();
    const got = [0, 0, 1, 0, 2].map((order) => b.alloc({ order, gfp: MOVABLE }));
    // 0x0 splits 0x0-0x7; 0x1 is the free order-0 half; order 1 takes 0x2;
    // the next order 0 splits 0x4 (o2): keeps 0x4, frees 0x6 (o1) and 0x5 (o0);
    // order 2 finds no order-2 block left and splits 0x8 (o3): keeps 0x8, frees 0xc (o2).
    expect(got).toEqual([0x0, 0x1, 0x2, 0x4, 0x8]);
    expect(free0(b)).toEqual([1, 1, 1, 0]);
    expect(b.frameInfo(0x5)).toMatchObject({ state: "free", order: 0 });
    expect(b.frameInfo(0x6)).toMatchObject({ state: "free", order: 1 });
    expect(b.frameInfo(0xc)).toMatchObject({ state: "free", order: 2 });
    expect(b.buddyinfo()).toBe("Node 0, zone   Normal      1      1      1      0 \n");
    b.check();
  });
});

describe("merge: __free_one_page", () => {
  it("coalesces upward while the buddy pfn ^ (1 << order) is free", () => {
    const b = smallBuddy();
    const [a, c, d] = [0, 0, 1].map((order) => b.alloc({ order, gfp: MOVABLE })) as Pfn[];
    expect([a, c, d]).toEqual([0x0, 0x1, 0x2]);
    expect(free0(b)).toEqual([0, 0, 1, 1]);
    b.free(0x1 as Pfn, 0); // buddy 0x1 ^ 1 = 0x0 is allocated: stays at order 0
    expect(free0(b)).toEqual([1, 0, 1, 1]);
    b.free(0x0 as Pfn, 0); // 0x0 ^ 1 = 0x1 free -> order 1 at 0x0; 0x0 ^ 2 = 0x2 allocated: stop
    expect(free0(b)).toEqual([0, 1, 1, 1]);
    expect(b.frameInfo(0x0)).toMatchObject({ state: "free", order: 1 });
    b.free(0x2 as Pfn, 1); // 0x2 ^ 2 = 0x0 (o1) -> o2 at 0x0; 0x0 ^ 4 = 0x4 (o2) -> o3 at 0x0; order 3 is the top
    expect(free0(b)).toEqual([0, 0, 0, 2]);
    expect(b.stats().merges).toBe(3);
    b.check();
  });

  it("puts a block whose order+1 buddy is free at the tail (buddy_merge_likely), others at the head", () => {
    const b = smallBuddy();
    const got = [0, 0, 0, 0, 0, 0].map(() => b.alloc({ order: 0, gfp: MOVABLE }));
    expect(got).toEqual([0x0, 0x1, 0x2, 0x3, 0x4, 0x5]); // 0x6 (o1) and 0x8 (o3) stay free
    // Free 0x0: buddy 0x1 allocated; order-1 buddy of 0x0-0x1 is 0x2, allocated -> head.
    b.free(0x0 as Pfn, 0);
    // Free 0x4: buddy 0x5 allocated; order-1 buddy of 0x4-0x5 is 0x6, FREE -> tail,
    // so it stays where it is likely to merge once 0x5 comes back.
    b.free(0x4 as Pfn, 0);
    expect(b.alloc({ order: 0, gfp: MOVABLE })).toBe(0x0);
    expect(b.alloc({ order: 0, gfp: MOVABLE })).toBe(0x4);
    b.check();
  });

  it("puts an ordinary free at the head: last freed, first reused", () => {
    const b = smallBuddy();
    expect([0, 0, 0, 0].map(() => b.alloc({ order: 0, gfp: MOVABLE }))).toEqual([0x0, 0x1, 0x2, 0x3]);
    b.free(0x0 as Pfn, 0); // order-1 buddy 0x2 allocated -> head
    b.free(0x3 as Pfn, 0); // buddy 0x2 allocated; order-1 buddy 0x0-0x1 is not free at order 1 -> head
    expect(b.alloc({ order: 0, gfp: MOVABLE })).toBe(0x3);
    expect(b.alloc({ order: 0, gfp: MOVABLE })).toBe(0x0);
    b.check();
  });

  it("returns to the boot state after freeing everything in any order", () => {
    const b = smallBuddy({ frameCount: 64 });
    const blocks: [Pfn, number][] = [];
    for (const order of [0, 1, 0, 2, 0, 3, 1, 0, 0, 2])
      blocks.push([b.alloc({ order, gfp: MOVABLE })!, order]);
    for (const [p, o] of blocks.reverse()) b.free(p, o);
    expect(b.buddyinfo()).toBe("Node 0, zone   Normal      0      0      0      8 \n");
    expect(b.freeFrameCount).toBe(64);
    b.check();
  });
});

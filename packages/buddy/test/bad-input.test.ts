// Misuse gets a UsageError naming the pfn and order, and changes nothing.
import { type Pfn, SparseRam, UsageError } from "@memstack/core";
import { describe, expect, it } from "vitest";
import {
  __GFP_COMP,
  __GFP_DMA,
  __GFP_DMA32,
  __GFP_HIGHMEM,
  __GFP_MOVABLE,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
  __GFP_ZERO,
  createBuddyAllocator,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
} from "../src/index.js";
import { smallBuddy } from "./helpers.js";

function snapshot(b: ReturnType<typeof smallBuddy>) {
  return {
    info: b.buddyinfo(),
    free: b.freeFrameCount,
    stats: b.stats(),
    frames: [...Array(16)].map((_, i) => b.frameInfo(i)),
  };
}

function expectRejected(b: ReturnType<typeof smallBuddy>, fn: () => unknown, message: RegExp): void {
  const before = snapshot(b);
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UsageError);
  expect((error as Error).message).toMatch(message);
  expect((error as Error).message).toMatch(/^\[@memstack\/buddy\] /);
  expect(snapshot(b)).toEqual(before);
  b.check();
}

describe("bad frees", () => {
  it("refuses a frame that is not allocated (free, double free, tail, wrong order)", () => {
    const b = smallBuddy();
    const p = b.alloc({ order: 1, gfp: GFP_HIGHUSER_MOVABLE })!; // 0x0, order 1
    const q = b.alloc({ order: 0, gfp: GFP_HIGHUSER_MOVABLE })!; // 0x2
    expect([p, q]).toEqual([0x0, 0x2]);
    expectRejected(
      b,
      () => b.free(0x3 as Pfn, 0),
      /free: pfn 0x3 order 0 is free \(order 0\) \(double free\?\)/,
    );
    expectRejected(b, () => b.free(0x8 as Pfn, 3), /pfn 0x8 order 3 is free \(order 3\)/);
    expectRejected(b, () => b.free(0x9 as Pfn, 0), /pfn 0x9 order 0 is inside the free order-3 block at 0x8/);
    expectRejected(
      b,
      () => b.free(0x1 as Pfn, 0),
      /pfn 0x1 order 0 is inside the allocated order-1 block at 0x0/,
    );
    expectRejected(b, () => b.free(p, 0), /pfn 0x0 order 0 was allocated at order 1/);
    expectRejected(b, () => b.free(p, 2), /pfn 0x0 order 2 was allocated at order 1/);
    b.free(q, 0);
    expectRejected(
      b,
      () => b.__free_pages(q, 0),
      /__free_pages: pfn 0x2 order 0 is inside the free order-1 block at 0x2|is free/,
    );
  });

  it("refuses a pfn outside every zone and an order above the maximum", () => {
    const b = smallBuddy();
    expectRejected(b, () => b.free(16 as Pfn, 0), /pfn 0x10 order 0 is outside every zone/);
    expectRejected(b, () => b.free(-1 as Pfn, 0), /pfn -1 order 0 is outside every zone/);
    expectRejected(b, () => b.free(0.5 as Pfn, 0), /pfn 0.5 order 0/);
    expectRejected(
      b,
      () => b.free(0 as Pfn, 4),
      /free: pfn 0x0 order 4: order must be an integer in \[0, 3\]/,
    );
    expectRejected(b, () => b.allocFrames(4), /allocFrames: order must be an integer in \[0, 3\], got 4/);
    expectRejected(b, () => b.alloc({ order: -1 }), /order/);
    expectRejected(b, () => b.alloc_pages(GFP_KERNEL, 1.5), /alloc_pages: order/);
  });

  it("refuses a fractional pfn on the per-CPU fast path too", () => {
    const b = createBuddyAllocator({
      frameCount: 64,
      maxOrder: 3,
      minFreeKbytes: 0,
      zones: [{ name: "Normal", endPfn: 64 }],
    });
    const p = b.allocFrames(0)!;
    expect(p).toBe(0);
    const before = b.buddyinfo();
    expect(() => b.freeFrames(0.5 as Pfn, 0)).toThrow(/freeFrames: pfn 0.5 order 0/);
    expect(() => b.free(-0 as Pfn, 1)).toThrow(/was allocated at order 0/);
    expect(b.buddyinfo()).toBe(before);
    expect(b.frameInfo(0).state).toBe("allocated");
    b.check();
  });

  it("refuses reserved frames", () => {
    const b = createBuddyAllocator({
      frameCount: 16,
      maxOrder: 3,
      minFreeKbytes: 0,
      reserved: [{ startPfn: 4, endPfn: 6 }],
      zones: [{ name: "Normal", endPfn: 16 }],
    });
    expect(b.frameCount).toBe(14);
    expect(() => b.free(4 as Pfn, 0)).toThrow(/pfn 0x4 order 0 is reserved/);
    expect(b.frameInfo(5).state).toBe("reserved");
    b.check();
  });

  it("alloc_pages above MAX_PAGE_ORDER returns NULL with a warning, as Linux does", () => {
    const warnings: string[] = [];
    const b = smallBuddy({ hooks: { warn: (m) => warnings.push(m) } });
    expect(b.alloc_pages(GFP_KERNEL, 4)).toBeNull();
    expect(warnings).toEqual(["WARNING: alloc_pages order 4 > MAX_PAGE_ORDER 3"]);
    expect(b.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 4)).toBeNull();
    expect(warnings.length).toBe(1);
    b.check();
  });

  it("refuses GFP flags Linux rejects and __GFP_ZERO without memory", () => {
    const b = smallBuddy();
    expectRejected(b, () => b.alloc({ gfp: __GFP_DMA | __GFP_DMA32 }), /GFP_ZONE_BAD/);
    expectRejected(b, () => b.alloc({ gfp: __GFP_DMA | __GFP_HIGHMEM }), /GFP_ZONE_BAD/);
    expectRejected(
      b,
      () => b.alloc({ gfp: __GFP_MOVABLE | __GFP_RECLAIMABLE }),
      /both __GFP_MOVABLE and __GFP_RECLAIMABLE/,
    );
    expectRejected(b, () => b.alloc({ gfp: 1 << 30 }), /GFP bit mask/);
    expectRejected(
      b,
      () => b.alloc_pages(GFP_KERNEL | __GFP_ZERO, 0),
      /__GFP_ZERO needs the allocator's memory/,
    );
    expectRejected(b, () => b.get_zeroed_page(GFP_KERNEL), /__GFP_ZERO/);
  });

  it("refuses put_page on a non-compound high-order block and get_page on a free frame", () => {
    const b = smallBuddy();
    const p = b.alloc({ order: 2, gfp: GFP_KERNEL })!;
    expectRejected(b, () => b.put_page(p), /non-compound order-2 block/);
    expectRejected(b, () => b.get_page(8 as Pfn), /get_page: pfn 0x8 is free/);
  });

  it("refuses split_page of a compound block, at the wrong order, or of a free frame", () => {
    const b = smallBuddy();
    const p = b.alloc({ order: 2, gfp: GFP_KERNEL })!;
    const c = b.alloc({ order: 2, gfp: GFP_KERNEL | __GFP_COMP })!;
    expectRejected(b, () => b.split_page(p, 1), /order 2, not 1/);
    expectRejected(b, () => b.split_page(c, 2), /compound order-2 block/);
    expectRejected(b, () => b.split_page(8 as Pfn, 0), /split_page: pfn 0x8 is free/);
    expectRejected(b, () => b.splitFrames(p, -1), /order must be an integer/);
    expect(b.frameInfo(p)).toMatchObject({ state: "allocated", order: 2 });
  });

  it("refuses bad options", () => {
    expect(() => createBuddyAllocator({})).toThrow(/frameCount/);
    expect(() => createBuddyAllocator({ frameCount: 0 })).toThrow(UsageError);
    expect(() => createBuddyAllocator({ frameCount: 16, maxOrder: 0 })).toThrow(/maxOrder/);
    expect(() => createBuddyAllocator({ frameCount: 16, maxOrder: 3, pageblockOrder: 4 })).toThrow(
      /pageblockOrder/,
    );
    expect(() =>
      createBuddyAllocator({
        frameCount: 16,
        zones: [
          { name: "DMA32", endPfn: 8 },
          { name: "DMA", endPfn: 16 },
        ],
      }),
    ).toThrow(/zone-type order/);
    expect(() =>
      createBuddyAllocator({
        frameCount: 16,
        zones: [
          { name: "DMA", endPfn: 7 },
          { name: "Normal", endPfn: 16 },
        ],
      }),
    ).toThrow(/share a frame pair/);
    // An empty zone after an odd end shares nothing: a machine of an odd
    // number of frames (DMA32 or DMA ends at its last frame, the zones
    // after it are empty there) is valid, and every frame of it is free.
    for (const frameCount of [6537, 4093]) {
      const odd = createBuddyAllocator({ frameCount });
      odd.check();
      expect(odd.freeFrameCount).toBe(frameCount);
      const all: number[] = [];
      for (let p = odd.allocFrames(0); p !== null; p = odd.allocFrames(0)) all.push(p);
      expect(new Set(all).size).toBe(all.length);
      for (const p of all) odd.freeFrames(p as Pfn, 0);
      odd.check();
      expect(odd.freeFrameCount).toBe(frameCount);
    }
    expect(() => createBuddyAllocator({ frameCount: 16, zones: [{ name: "Normal", endPfn: 17 }] })).toThrow(
      /leaves/,
    );
    expect(() => createBuddyAllocator({ frameCount: 16, holes: [{ startPfn: 8, endPfn: 20 }] })).toThrow(
      /holes/,
    );
    expect(() => createBuddyAllocator({ frameCount: 16, defaultGfp: __GFP_DMA | __GFP_DMA32 })).toThrow(
      /defaultGfp/,
    );
    expect(() => createBuddyAllocator({ frameCount: 16, defaultGfp: GFP_KERNEL | __GFP_ZERO })).toThrow(
      /__GFP_ZERO but there is no memory/,
    );
    expect(() =>
      createBuddyAllocator({ frameCount: 16, memory: new SparseRam({ sizeBytes: 4096 * 8 }) }),
    ).toThrow(/memory/);
    expect(() => createBuddyAllocator({ frameCount: 16, faultInjection: { probability: 101 } })).toThrow(
      /probability/,
    );
  });
});

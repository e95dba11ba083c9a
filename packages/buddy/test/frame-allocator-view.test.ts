// frameAllocator(gfp): a FrameAllocator view that allocates with one GFP
// mask, checked once. It must place, count, zero and fail exactly as
// alloc({ order, gfp }) does on an identical allocator.
import { type Pfn, SparseRam, UsageError } from "@memstack/core";
import { describe, expect, it } from "vitest";
import {
  __GFP_MOVABLE,
  __GFP_RECLAIMABLE,
  __GFP_ZERO,
  type BuddyAllocator,
  createBuddyAllocator,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_KERNEL_ACCOUNT,
} from "../src/index.js";
import { smallBuddy } from "./helpers.js";

const PAGE = 4096;

// A 64 MiB machine with DMA and DMA32 zones, per-CPU lists and memory to zero.
function machine(): { ram: SparseRam; b: BuddyAllocator } {
  const ram = new SparseRam({ sizeBytes: 64 * 1024 * 1024 });
  return { ram, b: createBuddyAllocator({ memory: ram }) };
}

function state(b: BuddyAllocator) {
  return { info: b.buddyinfo(), types: b.pagetypeinfo(), free: b.freeFrameCount, stats: b.stats() };
}

describe("frameAllocator(gfp)", () => {
  for (const [name, gfp] of [
    ["GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE],
    ["GFP_KERNEL_ACCOUNT | __GFP_ZERO", GFP_KERNEL_ACCOUNT | __GFP_ZERO],
    ["GFP_KERNEL | __GFP_RECLAIMABLE", GFP_KERNEL | __GFP_RECLAIMABLE],
  ] as const) {
    it(`places, counts and frees as alloc({ order, gfp: ${name} })`, () => {
      const a = machine();
      const v = machine();
      const view = v.b.frameAllocator(gfp);
      expect(view.frameCount).toBe(v.b.frameCount);
      // A mix of orders, with frees in between so the per-CPU lists and merges are exercised.
      const orders = [0, 0, 3, 0, 1, 0, 0, 5, 0, 2, 0, 0, 0, 10, 0, 0];
      const held: [Pfn, Pfn, number][] = [];
      for (let round = 0; round < 40; round++) {
        for (const order of orders) {
          const p = a.b.alloc({ order, gfp });
          const q = view.allocFrames(order);
          expect(q).toBe(p);
          if (p !== null && q !== null) held.push([p, q, order]);
        }
        expect(view.freeFrameCount).toBe(a.b.freeFrameCount);
        for (let i = held.length - 1; i >= 0; i -= 3) {
          const [p, q, order] = held[i]!;
          a.b.freeFrames(p, order);
          view.freeFrames(q, order);
          held.splice(i, 1);
        }
        expect(state(v.b)).toEqual(state(a.b));
      }
      a.b.check();
      v.b.check();
    });
  }

  it("zeroes with __GFP_ZERO, as alloc does", () => {
    const { ram, b } = machine();
    const view = b.frameAllocator(GFP_KERNEL | __GFP_ZERO);
    const p = view.allocFrames(0)!;
    ram.writeU32((p * PAGE + 8) as never, 0xdeadbeef);
    view.freeFrames(p, 0);
    // The per-CPU list gives the same frame back, zeroed.
    expect(view.allocFrames(0)).toBe(p);
    expect(ram.readU32((p * PAGE + 8) as never)).toBe(0);
    b.check();
  });

  it("returns null when memory runs out, as alloc does", () => {
    const a = smallBuddy();
    const v = smallBuddy();
    const view = v.frameAllocator(GFP_HIGHUSER_MOVABLE);
    for (let i = 0; i < 16; i++) expect(view.allocFrames(0)).toBe(a.alloc({ gfp: GFP_HIGHUSER_MOVABLE }));
    expect(a.alloc({ gfp: GFP_HIGHUSER_MOVABLE })).toBeNull();
    expect(view.allocFrames(0)).toBeNull();
    expect(v.stats()).toEqual(a.stats());
    v.check();
  });

  it("refuses bad flags when made, and a bad order or free when used, changing nothing", () => {
    const b = smallBuddy();
    const before = state(b);
    expect(() => b.frameAllocator(__GFP_MOVABLE | __GFP_RECLAIMABLE)).toThrow(UsageError);
    expect(() => b.frameAllocator(-1)).toThrow(/frameAllocator: gfp must be a GFP bit mask/);
    // __GFP_ZERO needs the allocator's memory.
    expect(() => b.frameAllocator(GFP_KERNEL | __GFP_ZERO)).toThrow(
      /__GFP_ZERO needs the allocator's memory/,
    );
    const view = b.frameAllocator(GFP_KERNEL);
    expect(() => view.allocFrames(4)).toThrow(/allocFrames: order must be an integer in \[0, 3\], got 4/);
    expect(() => view.allocFrames(0.5)).toThrow(UsageError);
    expect(() => view.freeFrames(3 as Pfn, 0)).toThrow(
      /freeFrames: pfn 0x3 order 0 is inside the free order-3 block at 0x0/,
    );
    expect(state(b)).toEqual(before);
    b.check();
  });
});

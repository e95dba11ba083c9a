// Random alloc/free/refcount/compact sequences on a three-zone machine with
// watermarks, with check() and a model of the live blocks after every step.
import { type Pfn, UsageError } from "@memstack/core";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  __GFP_COMP,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
  type BuddyAllocator,
  createBuddyAllocator,
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
} from "../src/index.js";

interface Block {
  order: number;
  rc: number;
  compound: boolean;
}
interface S {
  b: BuddyAllocator;
  live: Map<number, Block>;
}

const GFPS = [
  GFP_KERNEL,
  GFP_HIGHUSER_MOVABLE,
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_KERNEL | __GFP_RECLAIMABLE,
];

function setup(): S {
  const live = new Map<number, Block>();
  const b = createBuddyAllocator({
    frameCount: 160,
    maxOrder: 4,
    pageblockOrder: 3,
    minFreeKbytes: 16,
    groupByMobility: true,
    zones: [
      { name: "DMA", endPfn: 32 },
      { name: "DMA32", endPfn: 96 },
      { name: "Normal", endPfn: 160 },
    ],
    reserved: [{ startPfn: 33, endPfn: 35 }],
    hooks: {
      migratePage: (from, to) => {
        const blk = live.get(from)!;
        live.delete(from);
        live.set(to, blk);
        return true;
      },
    },
  });
  return { b, live };
}

function pick(s: S, k: number): [number, Block] | undefined {
  if (s.live.size === 0) return undefined;
  return [...s.live][k % s.live.size];
}

const steps = fc.oneof(
  fc
    .record({ order: fc.integer({ min: 0, max: 4 }), g: fc.nat(GFPS.length - 1), comp: fc.boolean() })
    .map(({ order, g, comp }) =>
      step(`alloc(order ${order}, gfp #${g}${comp ? "|COMP" : ""})`, (s: S) => {
        const gfp = GFPS[g]! | __GFP_NOWARN | (comp ? __GFP_COMP : 0);
        const p = s.b.alloc({ order, gfp });
        if (p === null) return;
        expect(p % 2 ** order).toBe(0);
        for (const [q, blk] of s.live) expect(p + 2 ** order <= q || q + 2 ** blk.order <= p).toBe(true);
        s.live.set(p, { order, rc: 1, compound: comp && order > 0 });
      }),
    ),
  fc.nat().map((k) =>
    step(`free(#${k})`, (s: S) => {
      const e = pick(s, k);
      if (!e) return;
      const [p, blk] = e;
      s.b.__free_pages(p as Pfn, blk.order);
      if (blk.rc > 1) {
        blk.rc--;
        if (!blk.compound) blk.order = 0; // ___free_pages released the upper parts
      } else s.live.delete(p);
    }),
  ),
  fc.nat().map((k) =>
    step(`get_page(#${k})`, (s: S) => {
      const e = pick(s, k);
      if (!e) return;
      s.b.get_page(e[0] as Pfn);
      e[1].rc++;
    }),
  ),
  fc.nat().map((k) =>
    step(`put_page(#${k})`, (s: S) => {
      const e = pick(s, k);
      if (!e || (e[1].order > 0 && !e[1].compound)) return;
      s.b.put_page(e[0] as Pfn);
      if (--e[1].rc === 0) s.live.delete(e[0]);
    }),
  ),
  fc.nat().map((k) =>
    step(`split_page(#${k})`, (s: S) => {
      const e = pick(s, k);
      if (!e) return;
      const [p, blk] = e;
      if (blk.compound) {
        const before = s.b.buddyinfo();
        expect(() => s.b.split_page(p as Pfn, blk.order)).toThrow(UsageError);
        expect(s.b.buddyinfo()).toBe(before);
        return;
      }
      s.b.split_page(p as Pfn, blk.order);
      for (let i = 1; i < 2 ** blk.order; i++) s.live.set(p + i, { order: 0, rc: 1, compound: false });
      blk.order = 0;
    }),
  ),
  fc.nat(2).map((z) =>
    step(`compact(zone ${z})`, (s: S) => {
      s.b.compactZone(z);
    }),
  ),
  fc.record({ k: fc.nat(), order: fc.integer({ min: 0, max: 4 }) }).map(({ k, order }) =>
    step(`bad-free(${k % 160}, order ${order})`, (s: S) => {
      const p = k % 160;
      const blk = s.live.get(p);
      if (blk && blk.order === order) return;
      const before = s.b.buddyinfo();
      expect(() => s.b.free(p as Pfn, order)).toThrow(UsageError);
      expect(s.b.buddyinfo()).toBe(before);
    }),
  ),
);

describe("random sequences keep every invariant", () => {
  it("alloc/free/get_page/put_page/split_page/compact/bad free, check() after each step", () => {
    checkSequences<S>({
      setup,
      steps,
      maxSteps: 80,
      numRuns: 150,
      check: (s) => {
        s.b.check();
        let used = 0;
        for (const [p, blk] of s.live) {
          used += 2 ** blk.order;
          const info = s.b.frameInfo(p);
          expect(info).toMatchObject({ state: "allocated", order: blk.order, refcount: blk.rc });
        }
        expect(s.b.freeFrameCount).toBe(s.b.frameCount - used);
      },
    });
  });

  it("returns to the boot buddyinfo once everything is freed", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ order: fc.integer({ min: 0, max: 4 }), g: fc.nat(GFPS.length - 1) }), {
          maxLength: 60,
        }),
        (reqs) => {
          const s = setup();
          const boot = s.b.buddyinfo();
          const got: [Pfn, number][] = [];
          for (const { order, g } of reqs) {
            const p = s.b.alloc({ order, gfp: GFPS[g]! | __GFP_NOWARN });
            if (p !== null) got.push([p, order]);
          }
          for (const [p, o] of got.reverse()) s.b.free(p, o);
          s.b.check();
          expect(s.b.freeFrameCount).toBe(s.b.frameCount);
          // Order-0 frees rest on the per-CPU lists until drained.
          s.b.drainPages();
          s.b.check();
          // Stealing may have changed pageblock types, but every block merges back.
          expect(s.b.buddyinfo()).toBe(boot);
        },
      ),
      { numRuns: 100 },
    );
  });
});

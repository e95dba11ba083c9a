/**
 * Conformance suite of the FrameAllocator port: naturally aligned blocks of
 * 2^order frames, exhaustion as `null`, bad frees as a UsageError that
 * changes nothing.
 */
import { type Checkable, type FrameAllocator, type Pfn, pfn, UsageError } from "@memstack/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkSequences, step } from "./sequences.js";

type Allocator = FrameAllocator & Partial<Checkable>;

/** What a FrameAllocator factory hands the suite. */
export interface FrameAllocatorFixture {
  /** A fresh allocator with every frame free. */
  allocator: Allocator;
  /** The lowest frame it may hand out. */
  firstPfn: number;
  /** The largest order it accepts (at least 3). */
  maxOrder: number;
}

/**
 * Runs the FrameAllocator conformance tests on fixtures made by `create`:
 * a fresh allocator of at least 64 free frames each time.
 */
export function describeFrameAllocator(name: string, create: () => FrameAllocatorFixture): void {
  describe(`FrameAllocator conformance: ${name}`, () => {
    it("hands out naturally aligned, disjoint blocks inside its frames", () => {
      const { allocator: a, firstPfn } = create();
      const blocks: [number, number][] = [];
      for (const order of [0, 3, 1, 2, 0, 3]) {
        const p = a.allocFrames(order);
        expect(p).not.toBeNull();
        expect(p! % 2 ** order).toBe(0);
        expect(p!).toBeGreaterThanOrEqual(firstPfn);
        expect(p! + 2 ** order).toBeLessThanOrEqual(firstPfn + a.frameCount);
        blocks.push([p!, p! + 2 ** order]);
      }
      blocks.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < blocks.length; i++) expect(blocks[i]![0]).toBeGreaterThanOrEqual(blocks[i - 1]![1]);
      a.check?.();
    });

    it("counts free frames through allocation and free", () => {
      const { allocator: a } = create();
      const total = a.freeFrameCount;
      expect(total).toBe(a.frameCount);
      const p = a.allocFrames(2)!;
      expect(a.freeFrameCount).toBe(total - 4);
      a.freeFrames(p, 2);
      expect(a.freeFrameCount).toBe(total);
      a.check?.();
    });

    it("returns null when exhausted, and serves again after a free", () => {
      const { allocator: a } = create();
      const got: Pfn[] = [];
      for (;;) {
        const p = a.allocFrames(0);
        if (p === null) break;
        got.push(p);
        expect(got.length).toBeLessThanOrEqual(a.frameCount);
      }
      expect(got.length).toBe(a.frameCount);
      expect(a.freeFrameCount).toBe(0);
      expect(a.allocFrames(0)).toBeNull();
      a.freeFrames(got[5]!, 0);
      expect(a.allocFrames(0)).toBe(got[5]);
      a.check?.();
    });

    it("splits a block (splitFrames, where it has it) into pages freed one by one", () => {
      const { allocator: a, firstPfn } = create();
      if (a.splitFrames === undefined) return;
      const total = a.freeFrameCount;
      const p = a.allocFrames(3)!;
      expect(() => a.splitFrames!(p, 2)).toThrow(UsageError);
      expect(() => a.splitFrames!(pfn(firstPfn + a.frameCount + 8), 0)).toThrow(UsageError);
      expect(a.freeFrameCount).toBe(total - 8);
      a.check?.();
      a.splitFrames(p, 3);
      a.check?.();
      // The block is gone as a block; its pages are blocks of order 0.
      expect(() => a.freeFrames(p, 3)).toThrow(UsageError);
      for (const i of [3, 0, 7, 1, 6, 2, 5, 4]) {
        a.freeFrames(pfn(p + i), 0);
        a.check?.();
      }
      expect(a.freeFrameCount).toBe(total);
      expect(a.allocFrames(3)).not.toBeNull();
      a.check?.();
    });

    it("refuses a double free, a wrong order and a foreign pfn, changing nothing", () => {
      const { allocator: a, firstPfn, maxOrder } = create();
      const p = a.allocFrames(1)!;
      const q = a.allocFrames(0)!;
      const free = a.freeFrameCount;
      expect(() => a.freeFrames(p, 0)).toThrow(UsageError);
      expect(() => a.freeFrames(p, 2)).toThrow(UsageError);
      expect(() => a.freeFrames(pfn(firstPfn + a.frameCount + 8), 0)).toThrow(UsageError);
      a.freeFrames(q, 0);
      expect(() => a.freeFrames(q, 0)).toThrow(UsageError);
      expect(a.freeFrameCount).toBe(free + 1);
      a.check?.();
      expect(() => a.allocFrames(maxOrder + 1)).toThrow(UsageError);
      expect(() => a.allocFrames(-1)).toThrow(UsageError);
      expect(() => a.allocFrames(0.5)).toThrow(UsageError);
      a.check?.();
    });

    it("keeps blocks disjoint and counts right under random allocation and free", () => {
      type S = { fx: FrameAllocatorFixture; live: Map<number, number> };
      checkSequences<S>({
        setup: () => ({ fx: create(), live: new Map() }),
        check: ({ fx, live }) => {
          fx.allocator.check?.();
          let used = 0;
          for (const order of live.values()) used += 2 ** order;
          expect(fx.allocator.freeFrameCount).toBe(fx.allocator.frameCount - used);
        },
        steps: fc.oneof(
          fc.integer({ min: 0, max: 3 }).map((order) =>
            step(`alloc(${order})`, (s: S) => {
              const p = s.fx.allocator.allocFrames(order);
              if (p === null) return;
              expect(p % 2 ** order).toBe(0);
              for (const [q, o] of s.live) {
                expect(p + 2 ** order <= q || q + 2 ** o <= p).toBe(true);
              }
              s.live.set(p, order);
            }),
          ),
          fc.nat().map((k) =>
            step(`free(#${k})`, (s: S) => {
              if (s.live.size === 0) return;
              const [p, order] = [...s.live][k % s.live.size]!;
              s.fx.allocator.freeFrames(pfn(p), order);
              s.live.delete(p);
            }),
          ),
          fc.nat().map((k) =>
            step(`double-free(#${k})`, (s: S) => {
              const before = s.fx.allocator.freeFrameCount;
              const p = s.fx.firstPfn + (k % s.fx.allocator.frameCount);
              if (s.live.has(p)) return;
              expect(() => s.fx.allocator.freeFrames(pfn(p), 0)).toThrow(UsageError);
              expect(s.fx.allocator.freeFrameCount).toBe(before);
            }),
          ),
        ),
      });
    });
  });
}

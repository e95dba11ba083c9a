import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BitmapFrameAllocator, type Pfn, pfn, UsageError } from "../src/index.js";
import { checkSequences, describeFrameAllocator, step } from "./testkit.js";

describeFrameAllocator("BitmapFrameAllocator", () => ({
  allocator: new BitmapFrameAllocator({ frameCount: 64, maxOrder: 4 }),
  firstPfn: 0,
  maxOrder: 4,
}));

describeFrameAllocator("BitmapFrameAllocator from pfn 0x103", () => ({
  allocator: new BitmapFrameAllocator({ frameCount: 77, firstPfn: 0x103, maxOrder: 3 }),
  firstPfn: 0x103,
  maxOrder: 3,
}));

describe("BitmapFrameAllocator", () => {
  it("takes the lowest aligned block that fits (first fit)", () => {
    const a = new BitmapFrameAllocator({ frameCount: 16, firstPfn: 0x11 });
    expect(a.allocFrames(0)).toBe(0x11);
    expect(a.allocFrames(2)).toBe(0x14);
    expect(a.allocFrames(0)).toBe(0x12);
    expect(a.allocFrames(3)).toBe(0x18);
    expect(a.allocFrames(3)).toBeNull();
    a.check();
  });

  it("names the pfn and order in a bad free", () => {
    const a = new BitmapFrameAllocator({ frameCount: 8 });
    a.allocFrames(1);
    expect(() => a.freeFrames(pfn(0), 0)).toThrow("pfn 0x0 order 0 was allocated at order 1");
    expect(() => a.freeFrames(pfn(4), 0)).toThrow("is not the start of an allocated block");
  });

  it("refuses bad options", () => {
    expect(() => new BitmapFrameAllocator({ frameCount: 0 })).toThrow(UsageError);
    expect(() => new BitmapFrameAllocator({ frameCount: 8, maxOrder: 31 })).toThrow(UsageError);
    expect(() => new BitmapFrameAllocator({ frameCount: 8, firstPfn: -1 })).toThrow(UsageError);
  });

  it("places every block where a first-fit scan from the lowest frame would, hint or not", () => {
    // The model: the allocator's own rule, written as plainly as possible.
    type S = { a: BitmapFrameAllocator; used: Uint8Array; blocks: [Pfn, number][] };
    const FIRST = 0x13;
    const COUNT = 96;
    const firstFit = (used: Uint8Array, order: number): number | null => {
      const n = 2 ** order;
      for (let p = Math.ceil(FIRST / n) * n; p + n <= FIRST + COUNT; p += n) {
        if (used.subarray(p - FIRST, p - FIRST + n).every((b) => b === 0)) return p;
      }
      return null;
    };
    checkSequences<S>({
      setup: () => ({
        a: new BitmapFrameAllocator({ frameCount: COUNT, firstPfn: FIRST, maxOrder: 4 }),
        used: new Uint8Array(COUNT),
        blocks: [],
      }),
      check: (s) => s.a.check(),
      numRuns: 60,
      maxSteps: 80,
      steps: fc.oneof(
        fc.integer({ min: 0, max: 4 }).map((order) =>
          step(`alloc(${order})`, (s: S) => {
            const want = firstFit(s.used, order);
            const got = s.a.allocFrames(order);
            expect(got).toBe(want);
            if (got === null) return;
            s.used.fill(1, got - FIRST, got - FIRST + 2 ** order);
            s.blocks.push([got, order]);
          }),
        ),
        fc.nat().map((k) =>
          step(`free(#${k})`, (s: S) => {
            if (s.blocks.length === 0) return;
            const [frame, order] = s.blocks.splice(k % s.blocks.length, 1)[0]!;
            s.a.freeFrames(frame, order);
            s.used.fill(0, frame - FIRST, frame - FIRST + 2 ** order);
          }),
        ),
      ),
    });
  });
});

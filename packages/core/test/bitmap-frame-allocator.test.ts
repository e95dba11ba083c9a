import { describe, expect, it } from "vitest";
import { BitmapFrameAllocator, pfn, UsageError } from "../src/index.js";
import { describeFrameAllocator } from "./testkit.js";

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
});

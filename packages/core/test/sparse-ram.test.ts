import { describe, expect, it } from "vitest";
import { physAddr as P, PAGE_SIZE, pfn, SparseRam, UsageError } from "../src/index.js";
import { describePhysicalMemory } from "./testkit.js";

describePhysicalMemory("SparseRam 64 KiB", () => new SparseRam({ sizeBytes: 64 * 1024 }));
describePhysicalMemory("SparseRam 16 GiB", () => new SparseRam({ sizeBytes: 16 * 2 ** 30 }));

describe("SparseRam", () => {
  it("holds 1 TiB and backs only the frames that were written", () => {
    const ram = new SparseRam({ sizeBytes: 2 ** 40 });
    expect(ram.frameCount).toBe(2 ** 28);
    expect(ram.backedFrameCount).toBe(0);
    // Reads of untouched memory, even across the whole range, back nothing.
    expect(ram.readU64(P(2 ** 40 - 8))).toBe(0);
    ram.readBytes(P(2 ** 39), new Uint8Array(3 * PAGE_SIZE));
    ram.zeroFrame(pfn(12345));
    expect(ram.frameView(pfn(77), false)).toBeNull();
    expect(ram.backedFrameCount).toBe(0);

    const addrs = [0, 2 ** 32 - 4, 2 ** 32, 2 ** 39 + 5, 2 ** 40 - 4];
    for (const [i, a] of addrs.entries()) ram.writeU32(P(a), 0xa0000000 + i);
    expect(ram.backedFrameCount).toBe(addrs.length);
    for (const [i, a] of addrs.entries()) expect(ram.readU32(P(a))).toBe(0xa0000000 + i);
    // A write straddling two frames backs both.
    ram.writeU32(P(2 ** 33 - 2), 0xffffffff);
    expect(ram.backedFrameCount).toBe(addrs.length + 2);
    expect(ram.readU32(P(2 ** 33 - 2))).toBe(0xffffffff);
    ram.check();
  });

  it("refuses sizes that are not whole frames or exceed 64 TiB", () => {
    for (const sizeBytes of [0, 4095, 4097, -4096, 2 ** 46 + 4096, 1.5]) {
      expect(() => new SparseRam({ sizeBytes })).toThrow(UsageError);
    }
    expect(new SparseRam({ sizeBytes: 2 ** 46 }).frameCount).toBe(2 ** 34);
  });

  it("frameSlab gives the frame's slab without a new view, aliasing frameView", () => {
    const ram = new SparseRam({ sizeBytes: 4 * 2 ** 20 });
    expect(ram.frameSlab(pfn(3), false)).toBeNull();
    expect(ram.backedFrameCount).toBe(0);
    ram.writeU8(P(700 * PAGE_SIZE), 1); // slot 0
    const slab = ram.frameSlab(pfn(3), true)!; // slot 1
    expect(ram.frameSlabOffset).toBe(PAGE_SIZE);
    expect(slab.length).toBe(2 * 2 ** 20);
    slab[ram.frameSlabOffset + 9] = 0x5a;
    expect(ram.readU8(P(3 * PAGE_SIZE + 9))).toBe(0x5a);
    const view = ram.frameView(pfn(3), false)!;
    expect(view.buffer).toBe(slab.buffer);
    expect(view.byteOffset).toBe(PAGE_SIZE);
    // The same slab object every time; the offset follows the frame.
    expect(ram.frameSlab(pfn(700), false)).toBe(slab);
    expect(ram.frameSlabOffset).toBe(0);
    expect(() => ram.frameSlab(pfn(1024), true)).toThrow(UsageError);
    expect(ram.backedFrameCount).toBe(2);
    ram.check();
  });

  it("stays valid after refused calls", () => {
    const ram = new SparseRam({ sizeBytes: 8 * PAGE_SIZE });
    ram.writeU8(P(5), 1);
    expect(() => ram.writeU32(P(8 * PAGE_SIZE - 2), 0)).toThrow(UsageError);
    expect(() => ram.writeU16(P(0), 0x10000)).toThrow(UsageError);
    expect(() => ram.writeU8(P(0), -1)).toThrow(UsageError);
    expect(() => ram.frameView(pfn(8), true)).toThrow(UsageError);
    expect(ram.backedFrameCount).toBe(1);
    ram.check();
  });
});

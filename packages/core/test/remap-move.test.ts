import { describe, expect, it } from "vitest";
import {
  EFAULT,
  EINVAL,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  mremapArgsError,
  type RemapMapping,
  remapMove,
} from "../src/index.js";

// A list of mappings that moves pieces by cutting them out and placing them.
function list(...ranges: [number, number][]) {
  const maps: RemapMapping[] = ranges.map(([start, end]) => ({ start, end }));
  const moves: [number, number, number][] = [];
  const next = (addr: number) => maps.find((m) => m.end > addr) ?? null;
  const move = (_m: RemapMapping, from: number, length: number, to: number) => {
    moves.push([from, length, to]);
    return to;
  };
  return { next, move, moves };
}

describe("remapMove (Linux's remap_move)", () => {
  it("moves every mapping of the range in order, keeping the gaps between them", () => {
    const { next, move, moves } = list([0x1000, 0x3000], [0x4000, 0x5000], [0x7000, 0x9000]);
    expect(remapMove(0x2000, 0x6000, 0x20000, next, move)).toBe(0x20000);
    // [0x2000, 0x3000) at 0x20000; the 0x1000 gap; [0x4000, 0x5000); the 0x2000 gap; [0x7000, 0x8000).
    expect(moves).toEqual([
      [0x2000, 0x1000, 0x20000],
      [0x4000, 0x1000, 0x22000],
      [0x7000, 0x1000, 0x25000],
    ]);
  });

  it("is EFAULT when the range starts in a hole or holds no mapping, before moving anything", () => {
    const a = list([0x4000, 0x5000]);
    expect(remapMove(0x3000, 0x2000, 0x20000, a.next, a.move)).toBe(-EFAULT);
    expect(remapMove(0x6000, 0x2000, 0x20000, a.next, a.move)).toBe(-EFAULT);
    expect(a.moves).toEqual([]);
  });

  it("stops at a piece's error, leaving the pieces before it moved", () => {
    const { next, moves } = list([0x1000, 0x2000], [0x3000, 0x4000]);
    const failSecond = (_m: RemapMapping, from: number, length: number, to: number) => {
      if (from === 0x3000) return -EINVAL;
      moves.push([from, length, to]);
      return to;
    };
    expect(remapMove(0x1000, 0x3000, 0x20000, next, failSecond)).toBe(-EINVAL);
    expect(moves).toEqual([[0x1000, 0x1000, 0x20000]]);
  });
});

describe("mremapArgsError (Linux's check_mremap_params)", () => {
  const TOP = 0x100000;
  const FIXED = MREMAP_MAYMOVE | MREMAP_FIXED;
  it("accepts what Linux accepts, a new address unused without FIXED or DONTUNMAP", () => {
    expect(mremapArgsError(0x1000, 0x1000, 0x2000, MREMAP_MAYMOVE, 0x123, TOP)).toBe(0);
    expect(mremapArgsError(0x1000, 0x1000, 0x1000, FIXED, 0x8000, TOP)).toBe(0);
    expect(mremapArgsError(0x1000, 0, 0x1000, 0, 0, TOP)).toBe(0);
  });

  it("is EINVAL for each bad argument", () => {
    const bad: Parameters<typeof mremapArgsError>[] = [
      [0x1000, 0x1000, 0x1000, 8, 0, TOP], // unknown flag
      [0x1001, 0x1000, 0x1000, 0, 0, TOP], // unaligned old address
      [0x1000, 0x1000, 0, MREMAP_MAYMOVE, 0, TOP], // zero new length
      [0x1000, 0x1000, TOP + 0x1000, MREMAP_MAYMOVE, 0, TOP], // longer than the address space
      [0x1000, 0x1000, 0x1000, FIXED, TOP, TOP], // new range past the end
      [0x1000, 0x1000, 0x1000, FIXED, 0x8010, TOP], // unaligned new address
      [0x1000, 0x1000, 0x1000, MREMAP_FIXED, 0x8000, TOP], // FIXED without MAYMOVE
      [0x1000, 0x1000, 0x2000, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0x8000, TOP], // DONTUNMAP resizing
      [0x1000, 0x2000, 0x2000, FIXED, 0x2000, TOP], // the ranges overlap
    ];
    for (const args of bad) expect(mremapArgsError(...args)).toBe(-EINVAL);
  });
});

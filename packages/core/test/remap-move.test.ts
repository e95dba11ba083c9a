import { describe, expect, it } from "vitest";
import { EFAULT, EINVAL, type RemapMapping, remapMove } from "../src/index.js";

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

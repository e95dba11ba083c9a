import { describe, expect, it } from "vitest";
import {
  alignDown,
  alignUp,
  hi32,
  isAligned,
  isPowerOfTwo,
  joinWords,
  lo32,
  log2,
  PAGE_SIZE,
  PAGE_SIZE_1G,
  PAGE_SIZE_2M,
  pageNumber,
  pageOffset,
  pfn,
  pfnToPhys,
  physAddr,
  physToPfn,
  toHex,
  UsageError,
} from "../src/index.js";

const E32 = 2 ** 32;
const E48 = 2 ** 48;
const E53 = 2 ** 53;

describe("page constants", () => {
  it("are the x86-64 page sizes", () => {
    expect(PAGE_SIZE).toBe(4096);
    expect(PAGE_SIZE_2M).toBe(512 * PAGE_SIZE);
    expect(PAGE_SIZE_1G).toBe(512 * PAGE_SIZE_2M);
  });
});

describe("isPowerOfTwo", () => {
  it("holds exactly for powers of two up to 2^53", () => {
    for (let k = 0; k <= 53; k++) {
      expect(isPowerOfTwo(2 ** k)).toBe(true);
      if (k >= 2) expect(isPowerOfTwo(2 ** k - 1)).toBe(false);
      if (k >= 1 && k < 53) expect(isPowerOfTwo(2 ** k + 2)).toBe(k === 1);
    }
  });
  it("is false at the edges that are not powers", () => {
    for (const n of [
      0,
      -1,
      -4,
      0.5,
      E32 - 1,
      E32 + E48,
      E53 - 1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 54,
    ]) {
      expect(isPowerOfTwo(n)).toBe(false);
    }
  });
});

describe("log2", () => {
  it("gives the index of the highest set bit across the 32-bit line", () => {
    expect(log2(1)).toBe(0);
    expect(log2(4096)).toBe(12);
    expect(log2(4097)).toBe(12);
    expect(log2(E32 - 1)).toBe(31);
    expect(log2(E32)).toBe(32);
    expect(log2(E32 + 1)).toBe(32);
    expect(log2(E48)).toBe(48);
    expect(log2(E53 - 1)).toBe(52);
  });
  it("refuses 0, negatives, fractions and unsafe integers", () => {
    for (const n of [0, -8, 1.5, E53, Number.NaN]) expect(() => log2(n)).toThrow(UsageError);
  });
});

describe("alignUp / alignDown / isAligned", () => {
  it("round at the edges of 32 and 48 bits", () => {
    expect(alignDown(0, 4096)).toBe(0);
    expect(alignUp(0, 4096)).toBe(0);
    expect(alignDown(E32 - 1, 4096)).toBe(E32 - 4096);
    expect(alignUp(E32 - 1, 4096)).toBe(E32);
    expect(alignUp(E32, 4096)).toBe(E32);
    expect(alignUp(E32 + 1, PAGE_SIZE_2M)).toBe(E32 + PAGE_SIZE_2M);
    expect(alignDown(E48 + 0x1234, PAGE_SIZE_1G)).toBe(E48);
    expect(alignUp(E48 - 1, E48)).toBe(E48);
    expect(alignDown(E53 - 1, 4096)).toBe(E53 - 4096);
  });
  it("refuses results past 2^53 and bad alignments", () => {
    expect(() => alignUp(E53 - 1, 4096)).toThrow(UsageError);
    expect(() => alignUp(10, 3)).toThrow(/align/);
    expect(() => alignDown(10, 0)).toThrow(UsageError);
    expect(() => alignDown(-1, 8)).toThrow(UsageError);
    expect(() => alignDown(1.5, 8)).toThrow(UsageError);
  });
  it("tells aligned values", () => {
    expect(isAligned(0, 4096)).toBe(true);
    expect(isAligned(E32, 4096)).toBe(true);
    expect(isAligned(E48 + 8, 16)).toBe(false);
    expect(isAligned(E53 - 1, 2)).toBe(false);
    expect(() => isAligned(8, 6)).toThrow(UsageError);
  });
});

describe("hi32 / lo32 / joinWords", () => {
  it("split and join at 0, 2^32 - 1, 2^32, 2^48 and 2^53 - 1", () => {
    const cases: [number, number, number][] = [
      [0, 0, 0],
      [E32 - 1, 0, 0xffffffff],
      [E32, 1, 0],
      [E48, 0x10000, 0],
      [E53 - 1, 0x1fffff, 0xffffffff],
    ];
    for (const [v, hi, lo] of cases) {
      expect(hi32(v)).toBe(hi);
      expect(lo32(v)).toBe(lo);
      expect(joinWords(hi, lo)).toBe(v);
    }
  });
  it("refuses words that do not fit", () => {
    expect(() => joinWords(0x200000, 0)).toThrow(UsageError);
    expect(() => joinWords(0, E32)).toThrow(UsageError);
    expect(() => joinWords(-1, 0)).toThrow(UsageError);
    expect(() => hi32(-1)).toThrow(UsageError);
    expect(() => lo32(E53)).toThrow(UsageError);
  });
});

describe("pageNumber / pageOffset", () => {
  it("split addresses above 2^32 exactly", () => {
    expect(pageNumber(0x1_0000_3fff)).toBe(0x100003);
    expect(pageOffset(0x1_0000_3fff)).toBe(0xfff);
    expect(pageNumber(E32 - 1)).toBe(0xfffff);
    expect(pageNumber(E32)).toBe(0x100000);
    expect(pageNumber(E48 - 1)).toBe(2 ** 36 - 1);
    expect(pageOffset(E48 - 1)).toBe(0xfff);
    expect(pageNumber(E53 - 1, PAGE_SIZE_1G)).toBe(2 ** 23 - 1);
    expect(pageOffset(E53 - 1, PAGE_SIZE_2M)).toBe(PAGE_SIZE_2M - 1);
    expect(pageNumber(0)).toBe(0);
  });
  it("refuse bad addresses and page sizes", () => {
    expect(() => pageNumber(-4096)).toThrow(UsageError);
    expect(() => pageOffset(10, 1000)).toThrow(UsageError);
  });
});

describe("branded constructors", () => {
  it("are free casts that convert between frames and physical addresses", () => {
    expect(pfnToPhys(pfn(0x100000))).toBe(E32);
    expect(physToPfn(physAddr(E48 + 4095))).toBe(2 ** 36);
    expect(toHex(E48)).toBe("0x1000000000000");
  });
});

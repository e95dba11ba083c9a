import { describe, expect, it } from "vitest";
import { addU64, alignU64, errValueU64, isU64, pageAlignU64 } from "../src/index.js";

const TWO_64 = 2 ** 64;

// The unsigned long arithmetic of the mmap family, checked against BigInt's
// exact arithmetic modulo 2^64 on the values a number holds exactly.
const exact = (v: bigint) => Number(BigInt.asUintN(64, v));

describe("unsigned long arguments", () => {
  const values = [
    0,
    1,
    4095,
    4096,
    4097,
    2 ** 47 - 4096,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 63,
    2 ** 63 + 2048,
    TWO_64 - 8192,
    TWO_64 - 4096,
    TWO_64 - 2048,
  ];

  it("takes an integer in [0, 2^64) and nothing else", () => {
    for (const v of values) expect(isU64(v)).toBe(true);
    for (const v of [-1, 0.5, TWO_64, Number.NaN, Number.POSITIVE_INFINITY]) expect(isU64(v)).toBe(false);
  });

  it("page-aligns as PAGE_ALIGN does, wrapping to 0 past 2^64 - 4096", () => {
    for (const v of values) {
      const b = BigInt(v);
      expect(pageAlignU64(v)).toBe(exact((b + 4095n) & ~4095n));
    }
    expect(pageAlignU64(TWO_64 - 2048)).toBe(0);
    expect(pageAlignU64(TWO_64 - 4096)).toBe(TWO_64 - 4096);
  });

  it("aligns to a huge page as ALIGN does", () => {
    const huge = 2 * 1024 * 1024;
    for (const v of values) {
      const b = BigInt(v);
      expect(alignU64(v, huge)).toBe(exact((b + BigInt(huge - 1)) & ~BigInt(huge - 1)));
    }
    expect(alignU64(TWO_64 - 4096, huge)).toBe(0);
  });

  it("reads the last 4095 values below 2^64 as negated errnos, as IS_ERR_VALUE does", () => {
    for (const v of values)
      expect(errValueU64(v)).toBe(v > TWO_64 - 4096 ? Number(BigInt(v) - 2n ** 64n) : 0);
    expect(errValueU64(TWO_64 - 2048)).toBe(-2048);
    expect(errValueU64(TWO_64 - 4096)).toBe(0);
  });

  it("adds page-aligned values modulo 2^64", () => {
    const aligned = values.map(pageAlignU64);
    for (const a of aligned) for (const b of aligned) expect(addU64(a, b)).toBe(exact(BigInt(a) + BigInt(b)));
    expect(addU64(0x7fff_0000_1000, TWO_64 - 4096)).toBe(0x7fff_0000_0000);
  });
});

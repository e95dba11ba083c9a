import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createSv39Format,
  createX86_64Format,
  DECODE_ABSENT,
  DECODE_LEAF,
  DECODE_RESERVED,
  DECODE_TABLE,
  type PageTableFormat,
} from "../src/index.js";

// What decode must say, spelled out through the format's individual methods.
function expected(f: PageTableFormat, lo: number, hi: number, level: number): [number, number, number] {
  if (!f.isPresent(lo, hi)) return [DECODE_ABSENT, 0, 0];
  if (f.isReserved(lo, hi, level)) return [DECODE_RESERVED, 0, 0];
  const kind = f.isLeaf(lo, hi, level) ? DECODE_LEAF : DECODE_TABLE;
  return [kind, f.address(lo, hi, level), f.flags(lo, hi, level)];
}

function decoded(f: PageTableFormat, lo: number, hi: number, level: number): [number, number, number] {
  const out = new Float64Array(2);
  const kind = f.decode!(lo, hi, level, out);
  return kind === DECODE_ABSENT || kind === DECODE_RESERVED ? [kind, 0, 0] : [kind, out[0]!, out[1]!];
}

// Words with the interesting bits often set: P/V, PS, NX, reserved high bits, huge-page alignment bits.
const word = fc.oneof(
  fc.nat({ max: 0xffffffff }),
  fc.constantFrom(0, 1, 0x83, 0x87, 0xe7, 0x1e7, 0x2000_0083, 0x40_0083, 0x0000_2001, 0xcf, 0x0f, 0x05),
  fc
    .tuple(fc.nat({ max: 0xfffff }), fc.nat({ max: 0x1ff }))
    .map(([frame, bits]) => (frame * 4096 + bits) >>> 0),
);
const high = fc.oneof(
  fc.nat({ max: 0xffffffff }),
  fc.constantFrom(0, 0x8000_0000, 0x0000_0001, 0x000f_c000, 0x8000_0003, 0x0040_0000, 0xffc0_0000),
  fc.nat({ max: 0x3f }),
);

describe.each([
  ["x86-64", createX86_64Format()],
  [
    "x86-64 without NX, 1 GiB pages, 40 physical bits",
    createX86_64Format({ nx: false, pages1G: false, physicalBits: 40 }),
  ],
  ["x86-64 with 52 physical bits", createX86_64Format({ physicalBits: 52 })],
  ["Sv39", createSv39Format()],
] as [string, PageTableFormat][])("decode on %s", (_name, format) => {
  it("agrees with isPresent, isReserved, isLeaf, address and flags on every entry", () => {
    fc.assert(
      fc.property(word, high, fc.nat({ max: format.levels - 1 }), (lo, hi, level) => {
        expect(decoded(format, lo, hi, level)).toEqual(expected(format, lo, hi, level));
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees on the entries its own encoders write", () => {
    const out = new Uint32Array(2);
    for (let level = 0; level < format.levels; level++) {
      for (let flags = 0; flags < 128; flags++) {
        format.encodeLeaf(2 ** 30 * 3, flags | 1, level, out);
        expect(decoded(format, out[0]!, out[1]!, level)).toEqual(expected(format, out[0]!, out[1]!, level));
      }
      format.encodeTable(0x1234_5000, out);
      expect(decoded(format, out[0]!, out[1]!, level)).toEqual(expected(format, out[0]!, out[1]!, level));
    }
  });
});

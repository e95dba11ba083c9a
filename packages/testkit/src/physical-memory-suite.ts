/**
 * Conformance suite of the PhysicalMemory port: what every implementation
 * (SparseRam, or any other RAM) must do, run with its own factory.
 */
import { type Checkable, type PhysicalMemory, pfn, physAddr, UsageError } from "@memstack/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectSameBytes } from "./bytes.js";
import { checkSequences, step } from "./sequences.js";

type Ram = PhysicalMemory & Partial<Checkable>;

const P = physAddr;

/**
 * Runs the PhysicalMemory conformance tests on memories made by `create`,
 * which must return a fresh memory of at least 64 KiB each time.
 */
export function describePhysicalMemory(name: string, create: () => Ram): void {
  describe(`PhysicalMemory conformance: ${name}`, () => {
    it("reports its size in bytes and 4 KiB frames", () => {
      const ram = create();
      expect(ram.sizeBytes % 4096).toBe(0);
      expect(ram.frameCount).toBe(ram.sizeBytes / 4096);
    });

    it("reads zeros where nothing was written", () => {
      const ram = create();
      expect(ram.readU8(P(0))).toBe(0);
      expect(ram.readU32(P(0x1ffe))).toBe(0);
      expect(ram.readU64(P(ram.sizeBytes - 8))).toBe(0);
      const dest = new Uint8Array(10000).fill(7);
      ram.readBytes(P(100), dest);
      expect(dest.every((b) => b === 0)).toBe(true);
    });

    it("stores little-endian values of every width, aligned or not, across frames", () => {
      const ram = create();
      for (const addr of [0, 0x1001, 0x1ffd, 0x2ffe, 0x3fff, ram.sizeBytes - 8]) {
        ram.writeU64(P(addr), 2 ** 53 - 1);
        expect(ram.readU64(P(addr))).toBe(2 ** 53 - 1);
        ram.writeU32(P(addr), 0x11223344);
        expect(ram.readU32(P(addr))).toBe(0x11223344);
        expect(ram.readU8(P(addr))).toBe(0x44);
        expect(ram.readU8(P(addr + 3))).toBe(0x11);
        expect(ram.readU16(P(addr + 1))).toBe(0x2233);
        ram.writeU16(P(addr), 0xbeef);
        expect(ram.readU16(P(addr))).toBe(0xbeef);
        ram.writeU8(P(addr), 0xff);
        expect(ram.readU8(P(addr))).toBe(0xff);
      }
    });

    it("keeps u64 values exact at 32-bit and 53-bit edges", () => {
      const ram = create();
      for (const v of [0, 2 ** 32 - 1, 2 ** 32, 2 ** 48, 2 ** 53 - 1]) {
        ram.writeU64(P(0x800), v);
        expect(ram.readU64(P(0x800))).toBe(v);
        expect(ram.readU32(P(0x800))).toBe(v % 2 ** 32);
        expect(ram.readU32(P(0x804))).toBe(Math.floor(v / 2 ** 32));
      }
    });

    it("refuses a u64 read above 2^53 - 1 and a u64 write that is not a safe integer", () => {
      const ram = create();
      ram.writeU32(P(0x10), 0);
      ram.writeU32(P(0x14), 0x00200000); // exactly 2^53
      expect(() => ram.readU64(P(0x10))).toThrow(UsageError);
      expect(() => ram.writeU64(P(0x10), 2 ** 53)).toThrow(UsageError);
      expect(() => ram.writeU64(P(0x10), -1)).toThrow(UsageError);
      expect(ram.readU32(P(0x14))).toBe(0x00200000);
    });

    it("refuses addresses outside the RAM, negative or fractional, naming addr", () => {
      const ram = create();
      const bad = [-1, 0.5, ram.sizeBytes, ram.sizeBytes - 3, Number.NaN];
      for (const addr of bad) {
        expect(() => ram.readU32(P(addr))).toThrow(UsageError);
        expect(() => ram.writeU32(P(addr), 1)).toThrow(UsageError);
      }
      try {
        ram.readU8(P(ram.sizeBytes));
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
        expect((e as UsageError).argument).toBe("addr");
      }
      expect(() => ram.readBytes(P(ram.sizeBytes - 2), new Uint8Array(3))).toThrow(UsageError);
      expect(() => ram.writeBytes(P(ram.sizeBytes - 2), new Uint8Array(3))).toThrow(UsageError);
      expect(() => ram.zeroFrame(pfn(ram.frameCount))).toThrow(UsageError);
      expect(() => ram.copyFrame(pfn(0), pfn(-1))).toThrow(UsageError);
      ram.check?.();
    });

    it("copies byte ranges in and out across frame boundaries", () => {
      const ram = create();
      const src = Uint8Array.from({ length: 9000 }, (_, i) => (i * 7 + 3) & 0xff);
      ram.writeBytes(P(0xff0), src);
      const back = new Uint8Array(9000);
      ram.readBytes(P(0xff0), back);
      expect(back).toEqual(src);
      expect(ram.readU8(P(0xfef))).toBe(0);
      expect(ram.readU8(P(0xff0 + 9000))).toBe(0);
    });

    it("zeroes and copies whole frames", () => {
      const ram = create();
      ram.writeU32(P(0x1000), 0xdeadbeef);
      ram.writeU32(P(0x1ffc), 0xcafef00d);
      ram.copyFrame(pfn(3), pfn(1));
      expect(ram.readU32(P(0x3000))).toBe(0xdeadbeef);
      expect(ram.readU32(P(0x3ffc))).toBe(0xcafef00d);
      ram.zeroFrame(pfn(1));
      expect(ram.readU32(P(0x1000))).toBe(0);
      expect(ram.readU32(P(0x3000))).toBe(0xdeadbeef);
      // Copying an untouched frame over a written one zeroes it.
      ram.copyFrame(pfn(3), pfn(5));
      expect(ram.readU32(P(0x3000))).toBe(0);
      ram.check?.();
    });

    it("gives frame views that alias the frame, when it offers them", () => {
      const ram = create();
      if (ram.frameView === undefined) return;
      expect(ram.frameView(pfn(2), false)).toBeNull();
      const view = ram.frameView(pfn(2), true)!;
      expect(view.length).toBe(4096);
      view[5] = 0x5a;
      expect(ram.readU8(P(0x2005))).toBe(0x5a);
      ram.writeU8(P(0x2fff), 0xa5);
      expect(view[4095]).toBe(0xa5);
      ram.zeroFrame(pfn(2));
      expect(view[5]).toBe(0);
      ram.check?.();
    });

    it("matches a byte-array model under random writes and reads", () => {
      const size = 4 * 4096;
      checkSequences<{ ram: Ram; model: Uint8Array }>({
        setup: () => ({ ram: create(), model: new Uint8Array(size) }),
        check: ({ ram, model }) => {
          ram.check?.();
          const bytes = new Uint8Array(size);
          ram.readBytes(P(0), bytes);
          expectSameBytes(bytes, model, "RAM");
        },
        numRuns: 60,
        steps: fc.oneof(
          fc
            .tuple(fc.integer({ min: 0, max: size - 4 }), fc.integer({ min: 0, max: 0xffffffff }))
            .map(([a, v]) =>
              step(`writeU32(0x${a.toString(16)}, ${v})`, (s: { ram: Ram; model: Uint8Array }) => {
                s.ram.writeU32(P(a), v);
                new DataView(s.model.buffer).setUint32(a, v, true);
              }),
            ),
          fc
            .tuple(fc.integer({ min: 0, max: size - 1 }), fc.uint8Array({ maxLength: 5000 }))
            .map(([a, bytes]) =>
              step(
                `writeBytes(0x${a.toString(16)}, ${bytes.length} bytes)`,
                (s: { ram: Ram; model: Uint8Array }) => {
                  const n = Math.min(bytes.length, size - a);
                  s.ram.writeBytes(P(a), bytes.subarray(0, n));
                  s.model.set(bytes.subarray(0, n), a);
                },
              ),
            ),
          fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })).map(([d, src]) =>
            step(`copyFrame(${d}, ${src})`, (s: { ram: Ram; model: Uint8Array }) => {
              s.ram.copyFrame(pfn(d), pfn(src));
              s.model.copyWithin(d * 4096, src * 4096, src * 4096 + 4096);
            }),
          ),
          fc.integer({ min: 0, max: 3 }).map((f) =>
            step(`zeroFrame(${f})`, (s: { ram: Ram; model: Uint8Array }) => {
              s.ram.zeroFrame(pfn(f));
              s.model.fill(0, f * 4096, f * 4096 + 4096);
            }),
          ),
          fc.integer({ min: 0, max: size - 8 }).map((a) =>
            step(`readU64(0x${a.toString(16)})`, (s: { ram: Ram; model: Uint8Array }) => {
              const dv = new DataView(s.model.buffer);
              const hi = dv.getUint32(a + 4, true);
              if (hi >= 0x200000) expect(() => s.ram.readU64(P(a))).toThrow(UsageError);
              else expect(s.ram.readU64(P(a))).toBe(hi * 2 ** 32 + dv.getUint32(a, true));
            }),
          ),
        ),
      });
    });
  });
}

/**
 * Conformance suite of the VirtualMemory port: loads and stores through an
 * address space, with faults where the space forbids an access.
 */
import { Fault, UsageError, type VirtualMemory, virtAddr } from "@memstack/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectSameBytes } from "./bytes.js";
import { checkSequences, step } from "./sequences.js";

/** What a VirtualMemory factory hands the suite. */
export interface VirtualMemoryFixture {
  /** The address space under test. */
  memory: VirtualMemory;
  /** Start of a readable and writable range, page-aligned. */
  start: number;
  /** Length of that range: at least 3 pages (12 KiB). */
  length: number;
  /** Addresses where every access faults with reason `not-mapped`. */
  unmapped: readonly number[];
  /** The implementation's invariant check, if it has one. */
  check?: () => void;
}

const V = virtAddr;

function expectFault(fn: () => unknown, address: number, access: "read" | "write"): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Fault);
    const f = e as Fault;
    expect(f.access).toBe(access);
    expect(f.reason).toBe("not-mapped");
    expect(f.address).toBe(address);
    return;
  }
  expect.unreachable(`access at 0x${address.toString(16)} did not fault`);
}

/**
 * Runs the VirtualMemory conformance tests on fixtures made by `create`,
 * which must return a fresh address space each time.
 */
export function describeVirtualMemory(name: string, create: () => VirtualMemoryFixture): void {
  describe(`VirtualMemory conformance: ${name}`, () => {
    it("reads zeros from a fresh range", () => {
      const { memory, start, length } = create();
      expect(memory.loadU8(V(start))).toBe(0);
      expect(memory.loadU64(V(start + length - 8))).toBe(0);
    });

    it("stores little-endian values of every width, aligned or not, across pages", () => {
      const { memory, start, check } = create();
      for (const off of [0, 1, 0xffd, 0xffe, 0xfff, 0x1ffc]) {
        const a = V(start + off);
        memory.storeU64(a, 2 ** 53 - 1);
        expect(memory.loadU64(a)).toBe(2 ** 53 - 1);
        memory.storeU32(a, 0x11223344);
        expect(memory.loadU32(a)).toBe(0x11223344);
        expect(memory.loadU8(a)).toBe(0x44);
        expect(memory.loadU8(V(a + 3))).toBe(0x11);
        expect(memory.loadU16(V(a + 1))).toBe(0x2233);
        memory.storeU16(a, 0xbeef);
        expect(memory.loadU16(a)).toBe(0xbeef);
      }
      check?.();
    });

    it("keeps the low bits of stores narrower than the value", () => {
      const { memory, start } = create();
      memory.storeU8(V(start), 0x1ff);
      expect(memory.loadU8(V(start))).toBe(0xff);
      memory.storeU16(V(start), 0x12345);
      expect(memory.loadU16(V(start))).toBe(0x2345);
      memory.storeU32(V(start), 2 ** 32 + 7);
      expect(memory.loadU32(V(start))).toBe(7);
    });

    it("keeps u64 values exact at 32-bit and 53-bit edges and refuses larger ones", () => {
      const { memory, start } = create();
      for (const v of [0, 2 ** 32 - 1, 2 ** 32, 2 ** 48, 2 ** 53 - 1]) {
        memory.storeU64(V(start + 8), v);
        expect(memory.loadU64(V(start + 8))).toBe(v);
      }
      memory.storeU32(V(start + 12), 0xffffffff);
      expect(() => memory.loadU64(V(start + 8))).toThrow(UsageError);
      expect(() => memory.storeU64(V(start + 8), 2 ** 53)).toThrow(UsageError);
      expect(() => memory.storeU64(V(start + 8), -1)).toThrow(UsageError);
      expect(() => memory.storeU64(V(start + 8), 0.5)).toThrow(UsageError);
    });

    it("copies bytes in and out across pages", () => {
      const { memory, start } = create();
      const src = Uint8Array.from({ length: 9000 }, (_, i) => (i * 13 + 1) & 0xff);
      memory.storeBytes(V(start + 100), src);
      const back = new Uint8Array(9000);
      memory.loadBytes(V(start + 100), back);
      expect(back).toEqual(src);
      expect(memory.loadU8(V(start + 99))).toBe(0);
    });

    it("fills, and copies overlapping ranges as memmove does", () => {
      const { memory, start, check } = create();
      const model = new Uint8Array(3 * 4096);
      const pattern = Uint8Array.from({ length: model.length }, (_, i) => i & 0xff);
      memory.storeBytes(V(start), pattern);
      model.set(pattern);
      memory.fill(V(start + 4000), 300, 0xaa);
      model.fill(0xaa, 4000, 4300);
      memory.copy(V(start + 10), V(start), 5000); // forward overlap
      model.copyWithin(10, 0, 5000);
      memory.copy(V(start), V(start + 17), 6000); // backward overlap
      model.copyWithin(0, 17, 6017);
      memory.copy(V(start + 5), V(start + 5), 100); // same place
      const back = new Uint8Array(model.length);
      memory.loadBytes(V(start), back);
      expect(back).toEqual(model);
      check?.();
    });

    it("faults with the address and access kind where nothing is mapped", () => {
      const { memory, unmapped, check } = create();
      for (const a of unmapped) {
        expectFault(() => memory.loadU8(V(a)), a, "read");
        expectFault(() => memory.loadU32(V(a)), a, "read");
        expectFault(() => memory.storeU8(V(a), 1), a, "write");
        expectFault(() => memory.storeU64(V(a), 1), a, "write");
        expectFault(() => memory.loadBytes(V(a), new Uint8Array(4)), a, "read");
        expectFault(() => memory.fill(V(a), 4, 0), a, "write");
      }
      check?.();
    });

    it("refuses negative and fractional addresses with a RangeError naming addr", () => {
      const { memory, start } = create();
      for (const a of [-1, start + 0.5, Number.NaN]) {
        try {
          memory.loadU8(V(a));
          expect.unreachable();
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          expect((e as UsageError).argument).toBe("addr");
        }
        expect(() => memory.storeU32(V(a), 0)).toThrow(RangeError);
      }
    });

    it("matches a byte-array model under random stores, fills and copies", () => {
      type S = { fx: VirtualMemoryFixture; model: Uint8Array };
      const size = 3 * 4096;
      const addr = fc.integer({ min: 0, max: size - 8 });
      checkSequences<S>({
        setup: () => ({ fx: create(), model: new Uint8Array(size) }),
        check: ({ fx, model }) => {
          fx.check?.();
          const back = new Uint8Array(size);
          fx.memory.loadBytes(V(fx.start), back);
          expectSameBytes(back, model, "memory");
        },
        numRuns: 60,
        steps: fc.oneof(
          fc.tuple(addr, fc.integer({ min: 0, max: 0xffffffff })).map(([a, v]) =>
            step(`storeU32(+0x${a.toString(16)}, ${v})`, (s: S) => {
              s.fx.memory.storeU32(V(s.fx.start + a), v);
              new DataView(s.model.buffer).setUint32(a, v, true);
            }),
          ),
          fc.tuple(addr, fc.integer({ min: 0, max: 2 ** 53 - 1 })).map(([a, v]) =>
            step(`storeU64(+0x${a.toString(16)}, ${v})`, (s: S) => {
              s.fx.memory.storeU64(V(s.fx.start + a), v);
              const dv = new DataView(s.model.buffer);
              dv.setUint32(a, v >>> 0, true);
              dv.setUint32(a + 4, Math.floor(v / 2 ** 32), true);
            }),
          ),
          fc
            .tuple(addr, fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 255 }))
            .map(([a, n, b]) =>
              step(`fill(+0x${a.toString(16)}, ${n}, ${b})`, (s: S) => {
                const len = Math.min(n, size - a);
                s.fx.memory.fill(V(s.fx.start + a), len, b);
                s.model.fill(b, a, a + len);
              }),
            ),
          fc.tuple(addr, addr, fc.integer({ min: 0, max: 5000 })).map(([d, src, n]) =>
            step(`copy(+0x${d.toString(16)}, +0x${src.toString(16)}, ${n})`, (s: S) => {
              const len = Math.min(n, size - d, size - src);
              s.fx.memory.copy(V(s.fx.start + d), V(s.fx.start + src), len);
              s.model.copyWithin(d, src, src + len);
            }),
          ),
          fc.tuple(addr, fc.constantFrom(1, 2, 4, 8)).map(([a, w]) =>
            step(`load${w * 8}(+0x${a.toString(16)})`, (s: S) => {
              const m = s.fx.memory;
              const at = V(s.fx.start + a);
              const dv = new DataView(s.model.buffer);
              if (w === 1) expect(m.loadU8(at)).toBe(s.model[a]);
              if (w === 2) expect(m.loadU16(at)).toBe(dv.getUint16(a, true));
              if (w === 4) expect(m.loadU32(at)).toBe(dv.getUint32(a, true));
              if (w === 8) {
                const hi = dv.getUint32(a + 4, true);
                if (hi >= 0x200000) expect(() => m.loadU64(at)).toThrow(UsageError);
                else expect(m.loadU64(at)).toBe(hi * 2 ** 32 + dv.getUint32(a, true));
              }
            }),
          ),
        ),
      });
    });
  });
}

import { describe, expect, expectTypeOf, it } from "vitest";
import {
  type MemoryManagementUnit,
  type PageMapping,
  type PageRights,
  PF_INSTRUCTION,
  PF_PRESENT,
  PF_RESERVED,
  PF_USER,
  PF_WRITE,
  physAddr,
  SimpleMmu,
  SparseRam,
  type VirtualMemory,
  virtAddr,
} from "../src/index.js";

describe("MemoryManagementUnit port", () => {
  it("numbers the page-fault error-code bits as Intel SDM vol. 3A §4.7 and Linux's trap_pf.h do", () => {
    // bit 0 P, bit 1 W/R, bit 2 U/S, bit 3 RSVD, bit 4 I/D
    expect([PF_PRESENT, PF_WRITE, PF_USER, PF_RESERVED, PF_INSTRUCTION].map(Math.log2)).toEqual([
      0, 1, 2, 3, 4,
    ]);
    // The SDM's worked examples: a user write to a read-only page, a user read of an unmapped page.
    expect(PF_PRESENT | PF_WRITE | PF_USER).toBe(0x7);
    expect(PF_USER).toBe(0x4);
    expect(PF_PRESENT | PF_INSTRUCTION).toBe(0x11);
  });

  it("is a VirtualMemory, so libc can run on it unchanged, and reports mappings with all rights set", () => {
    expectTypeOf<MemoryManagementUnit>().toMatchTypeOf<VirtualMemory>();
    expectTypeOf<PageMapping>().toMatchTypeOf<Required<PageRights>>();
    expectTypeOf<MemoryManagementUnit["onPageFault"]>()
      .parameter(0)
      .toEqualTypeOf<
        ((address: number, access: "read" | "write" | "execute", errorCode: number) => boolean) | null
      >();
  });

  it("SimpleMmu keeps Accessed and Dirty per page; clean() clears both (MADV_FREE) until the next access", () => {
    const mmu = new SimpleMmu({ ram: new SparseRam({ sizeBytes: 1 << 24 }) });
    const space = mmu.createAddressSpace()!;
    mmu.switchAddressSpace(space);
    mmu.map(space, 0x10000, physAddr(0x5000), 4096, 4096, { write: true, user: true, execute: false });
    mmu.storeU8(virtAddr(0x10004), 9);
    expect(mmu.query(space, 0x10000)).toMatchObject({ accessed: true, dirty: true });
    expect(mmu.clean(space, 0x10000)).toBe(true);
    expect(mmu.query(space, 0x10000)).toMatchObject({ accessed: false, dirty: false });
    expect(mmu.loadU8(virtAddr(0x10004))).toBe(9);
    expect(mmu.query(space, 0x10000)).toMatchObject({ accessed: true, dirty: false });
    expect(mmu.clean(space, 0x20000)).toBe(false);
    expect(() => mmu.clean(space + 1, 0x10000)).toThrow(expect.objectContaining({ argument: "space" }));
  });

  it("SimpleMmu maps an entry dirty when asked (fork's copy of a dirty entry), accessed or not", () => {
    const mmu = new SimpleMmu({ ram: new SparseRam({ sizeBytes: 1 << 24 }) });
    const space = mmu.createAddressSpace()!;
    const ro = { write: false, user: true, execute: false };
    mmu.map(space, 0x10000, physAddr(0x5000), 8192, 4096, ro, true);
    mmu.map(space, 0x20000, physAddr(0x7000), 4096, 4096, ro);
    expect(mmu.query(space, 0x11000)).toMatchObject({ accessed: false, dirty: true, write: false });
    expect(mmu.query(space, 0x20000)).toMatchObject({ accessed: false, dirty: false });
  });
});

import {
  Fault,
  PF_INSTRUCTION,
  PF_PRESENT,
  PF_RESERVED,
  PF_USER,
  PF_WRITE,
  UsageError,
} from "@memstack/core";
import { describe, expect, it } from "vitest";
import {
  type Access,
  createX86_64Format,
  type PageFault,
  PTE_A,
  PTE_NX_HI,
  PTE_PS,
  PTE_RW,
  PTE_US,
} from "../src/index.js";
import { GiB, MiB, machine, P, RO_USER, RW_USER, USER_BASE, V } from "./helpers.js";

// The entry bits as Intel SDM vol. 3A table 4-19 numbers them; the test reads
// entries raw from SparseRam and decodes them with these, not with the package.
const BIT = { P: 1, RW: 2, US: 4, PWT: 8, PCD: 16, A: 32, D: 64, PS: 128, G: 256 };

function rawEntry(ram: { readU32(a: never): number }, addr: number): { lo: number; hi: number } {
  return { lo: ram.readU32(addr as never), hi: ram.readU32((addr + 4) as never) };
}

describe("x86-64 entries in RAM", () => {
  it("writes a 4 KiB leaf a person can decode by the manual", () => {
    const { mmu, space, ram } = machine();
    const phys = 0x1_2345_6000;
    mmu.map(space, USER_BASE, P(phys), 4096, 4096, { write: true, user: true, execute: false });
    const m = mmu.query(space, USER_BASE)!;
    const { lo, hi } = rawEntry(ram, m.pteAddress);
    expect(lo & BIT.P).toBe(BIT.P);
    expect(lo & BIT.RW).toBe(BIT.RW);
    expect(lo & BIT.US).toBe(BIT.US);
    expect(lo & (BIT.A | BIT.D | BIT.G)).toBe(0);
    expect(hi >>> 31).toBe(1); // NX is bit 63
    // Frame bits 12..51: 0x1_2345_6000 → lo bits 31..12 = 0x23456, hi bits 19..0 = 1.
    expect((lo >>> 12) * 4096 + (hi & 0xfffff) * 2 ** 32).toBe(phys);
    // The four levels: PML4 index of 0x7f12_3440_0000 is (addr >> 39) & 511.
    const walk = mmu.walk(space, USER_BASE, "read", "user");
    expect(walk.ok).toBe(true);
    expect(walk.memoryRefs).toBe(4);
    expect(walk.entryAddress).toBe(m.pteAddress);
    expect(mmu.rootOf(space) % 4096).toBe(0);
    const root = mmu.rootOf(space);
    const pml4e = rawEntry(ram, root + Math.floor(USER_BASE / 2 ** 39) * 8);
    expect(pml4e.lo & (BIT.P | BIT.RW | BIT.US)).toBe(BIT.P | BIT.RW | BIT.US);
    expect(pml4e.lo & BIT.PS).toBe(0);
  });

  it("sets Accessed in every entry used and Dirty in the leaf on a write, as hardware does", () => {
    const { mmu, space, ram, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    const pte = mmu.query(space, USER_BASE)!.pteAddress;
    const root = mmu.rootOf(space);
    const pml4e = root + Math.floor(USER_BASE / 2 ** 39) * 8;
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(0);
    expect(rawEntry(ram, pml4e).lo & BIT.A).toBe(0);
    mmu.loadU8(V(USER_BASE));
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(BIT.A);
    expect(rawEntry(ram, pml4e).lo & (BIT.A | BIT.D)).toBe(BIT.A); // D is a leaf-only bit
    expect(mmu.query(space, USER_BASE)).toMatchObject({ accessed: true, dirty: false });
    // The entry is cached clean; the write walks again to set D.
    const walks = mmu.stats().walks;
    mmu.storeU8(V(USER_BASE + 5), 1);
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(BIT.A | BIT.D);
    expect(mmu.stats().walks).toBe(walks + 1);
    // Now cached dirty: further writes need no walk.
    mmu.storeU8(V(USER_BASE + 6), 1);
    mmu.storeU32(V(USER_BASE + 8), 1);
    expect(mmu.stats().walks).toBe(walks + 1);
    // Clearing A (page aging) is seen by the next walk after invalidation.
    expect(mmu.testAndClearAccessed(space, USER_BASE)).toBe(true);
    expect(mmu.testAndClearAccessed(space, USER_BASE)).toBe(false);
    mmu.check();
    mmu.invalidatePage(space, USER_BASE);
    mmu.loadU8(V(USER_BASE));
    expect(rawEntry(ram, pte).lo & BIT.A).toBe(BIT.A);
    mmu.check();
    // clean() (MADV_FREE) clears A and D in RAM and drops the cached
    // translation: a load sets only A again, the next store walks to set D.
    expect(mmu.clean(space, USER_BASE)).toBe(true);
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(0);
    mmu.check();
    mmu.loadU8(V(USER_BASE));
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(BIT.A);
    const before = mmu.stats().walks;
    mmu.storeU8(V(USER_BASE + 1), 2);
    expect(rawEntry(ram, pte).lo & BIT.D).toBe(BIT.D);
    expect(mmu.stats().walks).toBe(before + 1);
    // Without the invalidation (the caller flushes later, as an mmu_gather
    // does): the cached, dirty translation keeps serving stores, which set
    // nothing in RAM, until the flush; check() takes the entry as stale.
    expect(mmu.clean(space, USER_BASE, false)).toBe(true);
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(0);
    mmu.check();
    mmu.storeU8(V(USER_BASE + 2), 3);
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(0);
    mmu.invalidatePage(space, USER_BASE);
    mmu.storeU8(V(USER_BASE + 3), 4);
    expect(rawEntry(ram, pte).lo & (BIT.A | BIT.D)).toBe(BIT.A | BIT.D);
    mmu.check();
    expect(mmu.clean(space, USER_BASE + 64 * 4096 * 512)).toBe(false);
    // Misuse names the argument and changes nothing.
    expect(() => mmu.clean(space + 999, USER_BASE)).toThrow(expect.objectContaining({ argument: "space" }));
    expect(() => mmu.clean(space, 2 ** 48)).toThrow(expect.objectContaining({ argument: "virt" }));
    expect(rawEntry(ram, pte).lo & BIT.D).toBe(BIT.D);
    mmu.check();
  });

  it("maps 2 MiB and 1 GiB pages with PS, walking 3 and 2 levels", () => {
    const { mmu, space, ram, frames } = machine();
    const big = frames.allocFrames(9)! * 4096;
    mmu.map(space, USER_BASE, P(big), 2 * MiB, 2 * MiB, RW_USER);
    const m2 = mmu.query(space, USER_BASE + 0x12345)!;
    expect(m2).toMatchObject({ virt: USER_BASE, phys: big, pageSize: 2 * MiB });
    expect(rawEntry(ram, m2.pteAddress).lo & BIT.PS).toBe(BIT.PS);
    expect(mmu.walk(space, USER_BASE + 0x12345, "read", "user").memoryRefs).toBe(3);
    mmu.storeU32(V(USER_BASE + 0x12344), 0xcafe);
    expect(ram.readU32(P(big + 0x12344))).toBe(0xcafe);
    expect(mmu.translate(USER_BASE + 0x1f_ffff)).toMatchObject({ phys: big + 0x1f_ffff, pageSize: 2 * MiB });

    // A 1 GiB page of RAM that was never touched costs nothing until written.
    mmu.map(space, 0x40_0000_0000, P(2 * GiB), GiB, GiB, RW_USER);
    const g = mmu.query(space, 0x40_0000_0000 + 0x3000_0123)!;
    expect(g).toMatchObject({ virt: 0x40_0000_0000, phys: 2 * GiB, pageSize: GiB });
    expect(rawEntry(ram, g.pteAddress).lo & BIT.PS).toBe(BIT.PS);
    expect(mmu.walk(space, 0x40_0000_0000, "read", "user").memoryRefs).toBe(2);
    mmu.storeU8(V(0x40_0000_0000 + 0x3000_0123), 7);
    expect(ram.readU8(P(2 * GiB + 0x3000_0123))).toBe(7);
    const stats = mmu.stats();
    expect(stats.levels[0]!.bySize["1G"]!.misses).toBe(1);
    expect(stats.levels[0]!.bySize["2M"]!.misses).toBe(1);
    mmu.check();
  });

  it("refuses what the format lacks, bad alignment, RAM overruns and overlaps, changing nothing", () => {
    const { mmu, space, frame } = machine({ format: createX86_64Format({ pages1G: false }) });
    const before = mmu.stats();
    const expectUsage = (fn: () => unknown, argument: string) => {
      try {
        fn();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as UsageError).argument).toBe(argument);
        expect((e as Error).message).toMatch(/^\[@memstack\/mmu\]/);
      }
      mmu.check();
    };
    expectUsage(() => mmu.map(space, 0, P(0), GiB, GiB, RW_USER), "pageSize");
    expectUsage(() => mmu.map(space, USER_BASE, P(0x1800), 4096, 4096, RW_USER), "phys");
    expectUsage(() => mmu.map(space, USER_BASE + 1, P(0), 4096, 4096, RW_USER), "virt");
    expectUsage(() => mmu.map(space, USER_BASE, P(64 * GiB), 4096, 4096, RW_USER), "phys");
    expectUsage(() => mmu.map(space, 2 ** 47 - 4096, P(0), 8192, 4096, RW_USER), "virt");
    expectUsage(() => mmu.map(space, 2 ** 47, P(0), 4096, 4096, RW_USER), "virt");
    expectUsage(() => mmu.map(space, USER_BASE, P(0), 0, 4096, RW_USER), "length");
    expectUsage(() => mmu.map(99, USER_BASE, P(0), 4096, 4096, RW_USER), "space");
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    const tables = mmu.query(space, USER_BASE)!;
    expectUsage(() => mmu.map(space, USER_BASE, P(0), 2 * MiB, 2 * MiB, RW_USER), "virt");
    mmu.map(space, USER_BASE + 4 * MiB, P(0x20_0000), 2 * MiB, 2 * MiB, RW_USER);
    expectUsage(() => mmu.map(space, USER_BASE + 4 * MiB, P(0), 4096, 4096, RW_USER), "virt");
    expectUsage(() => mmu.unmap(space, USER_BASE + 4 * MiB, 4096), "length");
    expectUsage(() => mmu.protect(space, USER_BASE + 5 * MiB, 4096, RW_USER), "length");
    expect(mmu.query(space, USER_BASE)).toEqual(tables);
    expect(mmu.stats()).toEqual(before);
  });

  it("rolls a map back when page-table frames run out", () => {
    const { mmu, space, frames } = machine();
    // Leave 2 free frames: enough for the PDPT and PD, not the PT.
    for (let order = 13; order >= 0; order--) {
      while (frames.freeFrameCount - 2 ** order >= 2 && frames.allocFrames(order) !== null);
    }
    expect(frames.freeFrameCount).toBe(2);
    const tablesBefore = frames.freeFrameCount;
    expect(mmu.map(space, USER_BASE, P(0), 4096, 4096, RW_USER)).toBe(false);
    expect(frames.freeFrameCount).toBe(tablesBefore);
    expect(mmu.query(space, USER_BASE)).toBeNull();
    mmu.check();
  });

  it("treats a set reserved bit as a #PF with RSVD, and PS in a PML4E too", () => {
    const { mmu, space, ram, frame } = machine({ format: createX86_64Format({ physicalBits: 40 }) });
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    const pte = mmu.query(space, USER_BASE)!.pteAddress;
    const { lo, hi } = rawEntry(ram, pte);
    ram.writeU32(P(pte + 4), (hi | (1 << (45 - 32))) >>> 0); // bit 45 ≥ MAXPHYADDR 40
    const t = mmu.translate(USER_BASE, "read");
    expect(t.errorCode).toBe(PF_PRESENT | PF_RESERVED | PF_USER);
    expect(() => mmu.check()).toThrow(/reserved bit/);
    ram.writeU32(P(pte + 4), hi);
    const root = mmu.rootOf(space);
    const pml4e = root + Math.floor(USER_BASE / 2 ** 39) * 8;
    const top = rawEntry(ram, pml4e);
    ram.writeU32(P(pml4e), (top.lo | PTE_PS) >>> 0);
    expect(mmu.translate(USER_BASE, "write").errorCode).toBe(PF_PRESENT | PF_RESERVED | PF_WRITE | PF_USER);
    ram.writeU32(P(pml4e), top.lo);
    expect(mmu.translate(USER_BASE, "read").errorCode).toBe(-1);
    expect(lo & PTE_A).toBe(0);
    mmu.check();
  });
});

describe("walks read every level from RAM", () => {
  // The walker remembers the tables and decodings of the last walk (see
  // page-walk.ts); every entry is still read again, so a change to any of
  // them counts at the next walk, even of the same 2 MiB.
  it("sees a change to any upper entry at the next walk of the same 2 MiB", () => {
    const { mmu, space, ram, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    mmu.map(space, USER_BASE + 4096, frame(), 4096, 4096, RW_USER);
    const walk = (page: number, access: Access) =>
      mmu.walk(space, USER_BASE + page * 4096, access, "user", true);
    expect(walk(0, "write").ok).toBe(true);
    // The entry of each upper level, PML4E to PDE, followed by hand.
    const upper: number[] = [];
    let table = mmu.rootOf(space) as number;
    for (const shift of [39, 30, 21]) {
      const at = table + (Math.floor(USER_BASE / 2 ** shift) % 512) * 8;
      upper.push(at);
      const { lo, hi } = rawEntry(ram, at);
      table = lo - (lo % 4096) + (hi & 0xfffff) * 2 ** 32;
    }
    for (const [level, at] of upper.entries()) {
      const { lo } = rawEntry(ram, at);
      // U/S cleared: a user access is not permitted, whichever level says so.
      ram.writeU32(P(at), (lo & ~PTE_US) >>> 0);
      const denied = walk(1, "read");
      expect([level, denied.ok, denied.errorCode]).toEqual([level, false, PF_PRESENT | PF_USER]);
      // R/W cleared: reads pass, writes do not.
      ram.writeU32(P(at), (lo & ~PTE_RW) >>> 0);
      expect(walk(1, "read").ok).toBe(true);
      expect(walk(1, "write").errorCode).toBe(PF_PRESENT | PF_WRITE | PF_USER);
      // Not present: the walk stops there.
      ram.writeU32(P(at), 0);
      const absent = walk(0, "read");
      expect([level, absent.ok, absent.errorCode, absent.memoryRefs]).toEqual([
        level,
        false,
        PF_USER,
        level + 1,
      ]);
      ram.writeU32(P(at), lo);
      expect(walk(1, "write").ok).toBe(true);
      expect(walk(1, "write").memoryRefs).toBe(4);
    }
    mmu.check();
  });

  it("starts again from the root of another address space", () => {
    const { mmu, space, frame } = machine();
    const other = mmu.createAddressSpace()!;
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    mmu.map(other, USER_BASE + 4096, frame(), 4096, 4096, RO_USER);
    expect(mmu.walk(space, USER_BASE, "write", "user").ok).toBe(true);
    expect(mmu.walk(other, USER_BASE + 4096, "write", "user").errorCode).toBe(
      PF_PRESENT | PF_WRITE | PF_USER,
    );
    expect(mmu.walk(other, USER_BASE, "read", "user").errorCode).toBe(PF_USER);
    expect(mmu.walk(space, USER_BASE + 4096, "read", "user").errorCode).toBe(PF_USER);
    mmu.check();
  });
});

describe("x86-64 permissions and the #PF error code", () => {
  // The rules of Intel SDM vol. 3A §4.6 with CR0.WP = 1, SMEP/SMAP off, and
  // the error-code bits of §4.7, written independently of the package.
  function expected(
    leaf: { rw: boolean; us: boolean; nx: boolean },
    upper: { rw: boolean; us: boolean; nx: boolean },
    access: Access,
    user: boolean,
  ): number {
    const rw = leaf.rw && upper.rw;
    const us = leaf.us && upper.us;
    const nx = leaf.nx || upper.nx;
    const denied = (user && !us) || (access === "write" && !rw) || (access === "execute" && nx);
    if (!denied) return -1;
    return 1 | (access === "write" ? 2 : 0) | (user ? 4 : 0) | (access === "execute" ? 16 : 0);
  }

  it("matches every combination of R/W, U/S, NX at the leaf and above, for each access and privilege", () => {
    const { mmu, space, ram, frame } = machine();
    let checked = 0;
    const bools = [false, true];
    for (const lrw of bools)
      for (const lus of bools)
        for (const lnx of bools)
          for (const urw of bools)
            for (const uus of bools)
              for (const unx of bools) {
                const addr = USER_BASE + checked * 2 * MiB; // a PD entry of its own each time
                mmu.map(space, addr, frame(), 4096, 4096, { write: lrw, user: lus, execute: !lnx });
                // Restrict the PD entry above the leaf by hand, as a kernel could.
                const pte = mmu.query(space, addr)!.pteAddress;
                const walk = mmu.walk(space, addr, "read", "supervisor");
                expect(walk.ok).toBe(true);
                const root = mmu.rootOf(space);
                const pml4e = rawEntry(ram, root + Math.floor(addr / 2 ** 39) * 8);
                const pdpt = (pml4e.lo >>> 12) * 4096 + (pml4e.hi & 0xfffff) * 2 ** 32;
                const pdpte = rawEntry(ram, pdpt + (Math.floor(addr / 2 ** 30) & 511) * 8);
                const pd = (pdpte.lo >>> 12) * 4096 + (pdpte.hi & 0xfffff) * 2 ** 32;
                const pdeAddr = pd + (Math.floor(addr / 2 ** 21) & 511) * 8;
                const pde = rawEntry(ram, pdeAddr);
                expect((pde.lo >>> 12) * 4096).toBe(pte - (pte % 4096));
                let plo = pde.lo & ~(PTE_RW | PTE_US);
                if (urw) plo |= PTE_RW;
                if (uus) plo |= PTE_US;
                ram.writeU32(P(pdeAddr), plo >>> 0);
                ram.writeU32(P(pdeAddr + 4), (unx ? pde.hi | PTE_NX_HI : pde.hi & ~PTE_NX_HI) >>> 0);
                for (const access of ["read", "write", "execute"] as const) {
                  for (const user of bools) {
                    const want = expected(
                      { rw: lrw, us: lus, nx: lnx },
                      { rw: urw, us: uus, nx: unx },
                      access,
                      user,
                    );
                    const w = mmu.walk(space, addr, access, user ? "user" : "supervisor");
                    expect(
                      w.errorCode,
                      `${access} user=${user} leaf ${lrw}${lus}${lnx} up ${urw}${uus}${unx}`,
                    ).toBe(want);
                    mmu.privilege = user ? "user" : "supervisor";
                    const t = mmu.translate(addr, access);
                    expect(t.errorCode).toBe(want);
                    mmu.invalidatePage(space, addr);
                  }
                }
                checked++;
              }
    expect(checked).toBe(64);
  });

  it("reports the documented examples: user write to read-only 0x7, user read of unmapped 0x4, kernel fetch from NX 0x11", () => {
    const { mmu, space, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, { write: false, user: true, execute: false });
    expect(mmu.translate(USER_BASE, "write").errorCode).toBe(0x7);
    expect(mmu.translate(USER_BASE + 4096, "read").errorCode).toBe(0x4);
    mmu.privilege = "supervisor";
    expect(mmu.translate(USER_BASE, "execute").errorCode).toBe(PF_PRESENT | PF_INSTRUCTION);
  });

  it("throws a PageFault carrying the error code, and a #GP-style fault for non-canonical addresses", () => {
    const { mmu, space, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, { write: false, user: true, execute: false });
    const faultOf = (fn: () => unknown): PageFault => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(Fault);
        return e as PageFault;
      }
      throw new Error("no fault");
    };
    const w = faultOf(() => mmu.storeU32(V(USER_BASE + 8), 1));
    expect(w).toMatchObject({
      address: USER_BASE + 8,
      access: "write",
      reason: "not-permitted",
      errorCode: 7,
    });
    const nc = faultOf(() => mmu.loadU8(V(2 ** 47)));
    expect(nc).toMatchObject({ address: 2 ** 47, access: "read", reason: "non-canonical", errorCode: -1 });
    // A non-canonical address never reaches the page-fault handler (it is a #GP).
    let calls = 0;
    mmu.onPageFault(() => {
      calls++;
      return false;
    });
    faultOf(() => mmu.loadU8(V(2 ** 52)));
    expect(calls).toBe(0);
    expect(mmu.translate(-(2 ** 47) - 1).source).toBe("non-canonical");
    expect(mmu.isCanonical(-(2 ** 47))).toBe(true);
    expect(mmu.isCanonical(2 ** 47 - 1)).toBe(true);
    expect(mmu.isCanonical(2 ** 47)).toBe(false);
    mmu.check();
  });

  it("keeps the kernel half (negative addresses) for supervisor pages", () => {
    const { mmu, space, frame } = machine();
    const kernel = -(2 ** 47) + 0x88_8000_0000; // 0xffff_8888_8000_0000
    mmu.map(space, kernel, frame(), 4096, 4096, { ...RW_USER, user: false, global: true });
    expect(mmu.query(space, kernel)).toMatchObject({ virt: kernel, user: false, global: true });
    expect(mmu.translate(kernel, "read").errorCode).toBe(PF_PRESENT | PF_USER);
    mmu.privilege = "supervisor";
    expect(mmu.translate(kernel, "write").errorCode).toBe(-1);
    const seen: number[] = [];
    mmu.walkRange(space, -(2 ** 47), 2 ** 47, (m) => seen.push(m.virt));
    expect(seen).toEqual([kernel]);
    mmu.check();
    // The VirtualMemory port takes non-negative addresses only.
    expect(() => mmu.loadU8(V(kernel))).toThrow(RangeError);
  });
});

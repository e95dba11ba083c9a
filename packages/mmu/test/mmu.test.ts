import {
  BitmapFrameAllocator,
  Fault,
  type FrameAllocator,
  PF_PRESENT,
  PF_USER,
  PF_WRITE,
  type Pfn,
  physAddr,
  SparseRam,
  UsageError,
} from "@memstack/core";
import { describe, expect, it } from "vitest";
import { createSv39Format, ENTRY_READ, Mmu, PageFault } from "../src/index.js";
import { GiB, MiB, machine, P, RO_USER, RW_USER, USER_BASE, V } from "./helpers.js";

describe("the TLB caches translations: stale entries", () => {
  it("keeps using the old frame after a PTE change until invlpg, as real hardware does", () => {
    const { mmu, space, ram, frame } = machine();
    const old = frame();
    const fresh = frame();
    ram.writeU32(P(old), 0x01d01d01);
    ram.writeU32(P(fresh), 0xf2e5f2e5);
    mmu.map(space, USER_BASE, old, 4096, 4096, RW_USER);
    expect(mmu.loadU32(V(USER_BASE))).toBe(0x01d01d01);
    mmu.storeU8(V(USER_BASE + 100), 1); // cache the entry dirty (a clean one would walk again on a write)

    // Remap to another frame without invalidating: the TLB still translates to the old one.
    mmu.map(space, USER_BASE, fresh, 4096, 4096, RW_USER);
    expect(mmu.query(space, USER_BASE)!.phys).toBe(fresh);
    expect(mmu.loadU32(V(USER_BASE))).toBe(0x01d01d01);
    mmu.storeU32(V(USER_BASE + 4), 0xbad);
    expect(ram.readU32(P(old + 4))).toBe(0xbad); // the write went to the old frame
    expect(ram.readU32(P(fresh + 4))).toBe(0);
    mmu.check(); // a stale entry after an edit is legal state, not corruption

    // Write-protect without invalidating: the cached writable entry still lets writes through.
    mmu.protect(space, USER_BASE, 4096, RO_USER);
    mmu.storeU32(V(USER_BASE + 8), 1);

    // The fix: invlpg. Now the new frame and the new rights apply.
    mmu.invalidatePage(space, USER_BASE);
    expect(mmu.loadU32(V(USER_BASE))).toBe(0xf2e5f2e5);
    expect(() => mmu.storeU32(V(USER_BASE + 8), 1)).toThrow(Fault);
    mmu.check();
  });

  it("stays stale in the second level too, and after an unmap", () => {
    const { mmu, space, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    mmu.storeU8(V(USER_BASE), 42);
    // Push the entry out of the 4-way L1 set with four other pages of the same set.
    for (let i = 1; i <= 4; i++) {
      const a = USER_BASE + i * 16 * 4096;
      mmu.map(space, a, frame(), 4096, 4096, RW_USER);
      mmu.loadU8(V(a));
    }
    mmu.unmap(space, USER_BASE, 4096);
    const before = mmu.stats();
    expect(mmu.loadU8(V(USER_BASE))).toBe(42); // served by the STLB
    const after = mmu.stats();
    expect(after.levels[0]!.misses - before.levels[0]!.misses).toBe(1);
    expect(after.levels[1]!.hits - before.levels[1]!.hits).toBe(1);
    expect(after.walks).toBe(before.walks);
    mmu.invalidatePage(space, USER_BASE);
    expect(() => mmu.loadU8(V(USER_BASE))).toThrow(/not-mapped/);
    mmu.check();
  });

  it("takes one spurious fault after a permission upgrade without invalidation (Intel §4.10.4.1)", () => {
    const { mmu, space, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RO_USER);
    mmu.loadU8(V(USER_BASE));
    mmu.protect(space, USER_BASE, 4096, RW_USER);
    const codes: number[] = [];
    mmu.onPageFault((_a, _k, code) => {
      codes.push(code);
      return mmu.query(space, USER_BASE)!.write; // the tables already allow it: retry
    });
    mmu.storeU8(V(USER_BASE), 9);
    expect(codes).toEqual([PF_PRESENT | PF_WRITE | PF_USER]);
    expect(mmu.loadU8(V(USER_BASE))).toBe(9);
    mmu.check();
  });
});

describe("PCIDs keep address spaces apart", () => {
  it("isolates two spaces mapping the same address, across switches, without flushing", () => {
    const { mmu, space: a, ram, frame } = machine();
    const b = mmu.createAddressSpace()!;
    const fa = frame();
    const fb = frame();
    mmu.map(a, USER_BASE, fa, 4096, 4096, RW_USER);
    mmu.map(b, USER_BASE, fb, 4096, 4096, RW_USER);
    expect(mmu.pcidOf(a)).not.toBe(mmu.pcidOf(b));

    mmu.switchAddressSpace(a);
    mmu.storeU32(V(USER_BASE), 0xaaaa);
    mmu.switchAddressSpace(b);
    mmu.storeU32(V(USER_BASE), 0xbbbb);
    expect(ram.readU32(P(fa))).toBe(0xaaaa);
    expect(ram.readU32(P(fb))).toBe(0xbbbb);

    // Both translations stay in the TLB: switching back hits, with no walk.
    const walks = mmu.stats().walks;
    mmu.switchAddressSpace(a);
    expect(mmu.loadU32(V(USER_BASE))).toBe(0xaaaa);
    mmu.switchAddressSpace(b);
    expect(mmu.loadU32(V(USER_BASE))).toBe(0xbbbb);
    expect(mmu.stats().walks).toBe(walks);
    expect(mmu.stats().invalidatedEntries).toBe(0);

    // Invalidating one space's page leaves the other's entry alone.
    mmu.invalidatePage(a, USER_BASE);
    expect(mmu.loadU32(V(USER_BASE))).toBe(0xbbbb);
    expect(mmu.stats().walks).toBe(walks);
    mmu.check();
  });

  it("flushes on every switch without PCIDs, but keeps global entries", () => {
    const { mmu, space: a, frame } = machine({ pcid: false });
    const b = mmu.createAddressSpace()!;
    mmu.map(a, USER_BASE, frame(), 4096, 4096, RW_USER);
    mmu.map(b, USER_BASE, frame(), 4096, 4096, RW_USER);
    const kernel = 0x4000_0000;
    const shared = frame();
    mmu.map(a, kernel, shared, 4096, 4096, { ...RW_USER, global: true });
    mmu.map(b, kernel, shared, 4096, 4096, { ...RW_USER, global: true });
    mmu.switchAddressSpace(a);
    mmu.loadU8(V(USER_BASE));
    mmu.loadU8(V(kernel));
    mmu.switchAddressSpace(b);
    const walks = mmu.stats().walks;
    mmu.loadU8(V(kernel)); // global: survives the CR3 write
    expect(mmu.stats().walks).toBe(walks);
    mmu.loadU8(V(USER_BASE)); // non-global: flushed
    expect(mmu.stats().walks).toBe(walks + 1);
    mmu.check();
  });

  it("recycles a PCID by flushing it when its new owner is switched to", () => {
    const { mmu, space: first, frame } = machine();
    mmu.map(first, USER_BASE, frame(), 4096, 4096, RW_USER);
    mmu.loadU8(V(USER_BASE));
    const spaces = [first];
    for (let i = 0; i < 4095; i++) spaces.push(mmu.createAddressSpace()!);
    const wrapped = spaces[4095]!;
    expect(mmu.pcidOf(wrapped)).toBe(mmu.pcidOf(first));
    mmu.map(wrapped, USER_BASE, frame(), 4096, 4096, RO_USER);
    mmu.switchAddressSpace(wrapped);
    expect(() => mmu.storeU8(V(USER_BASE), 1)).toThrow(Fault); // not first's writable entry
    mmu.switchAddressSpace(first);
    mmu.storeU8(V(USER_BASE), 1);
    mmu.check();
    for (const s of spaces.slice(1)) if (s !== mmu.currentAddressSpace) mmu.destroyAddressSpace(s);
    mmu.check();
  });

  it("destroys a space, freeing its tables and its TLB entries", () => {
    const { mmu, space: a, frames, frame } = machine();
    const b = mmu.createAddressSpace()!;
    const free = frames.freeFrameCount;
    mmu.map(b, USER_BASE, frame(), 2 * 4096, 4096, RW_USER);
    mmu.map(b, -(2 ** 40), frame(), 4096, 4096, RW_USER);
    mmu.switchAddressSpace(b);
    mmu.loadU8(V(USER_BASE));
    expect(() => mmu.destroyAddressSpace(b)).toThrow(UsageError);
    mmu.switchAddressSpace(a);
    mmu.destroyAddressSpace(b);
    expect(frames.freeFrameCount).toBe(free - 2 + 1); // the two data frames stay the caller's; the root is freed
    expect(() => mmu.switchAddressSpace(b)).toThrow(UsageError);
    mmu.check();
  });
});

describe("page faults go to the handler first", () => {
  it("supports demand-zero paging and copy-on-write through the handler", () => {
    const { mmu, space, ram, frame } = machine();
    const zeroPage = frame();
    const heap = USER_BASE;
    // The kernel's side: a read fault maps the shared zero page read-only; a
    // write fault on it (or a not-present write) maps a fresh frame.
    mmu.onPageFault((addr, access, code) => {
      const page = addr - (addr % 4096);
      if (page < heap || page >= heap + 16 * 4096) return false;
      if (access === "read" && !(code & PF_PRESENT)) {
        mmu.map(space, page, zeroPage, 4096, 4096, RO_USER);
        return true;
      }
      if (access === "write") {
        const f = frame();
        const m = mmu.query(space, page);
        if (m !== null) ram.copyFrame((f / 4096) as never, (m.phys / 4096) as never);
        mmu.map(space, page, f, 4096, 4096, RW_USER);
        mmu.invalidatePage(space, page);
        return true;
      }
      return false;
    });
    expect(mmu.loadU32(V(heap + 0x100))).toBe(0);
    expect(mmu.query(space, heap)!.phys).toBe(zeroPage);
    mmu.storeU32(V(heap + 0x100), 77);
    expect(mmu.query(space, heap)!.phys).not.toBe(zeroPage);
    expect(mmu.loadU32(V(heap + 0x100))).toBe(77);
    expect(ram.readU32(P(zeroPage + 0x100))).toBe(0);
    mmu.storeU32(V(heap + 0x2000), 5); // a not-present write
    expect(mmu.loadU32(V(heap + 0x2000))).toBe(5);
    expect(() => mmu.loadU8(V(heap + 16 * 4096))).toThrow(PageFault);
    expect(mmu.stats().pageFaults).toBe(4);
    mmu.check();
  });

  // After a fault the retry walks without probing the TLB while nothing was
  // filled in between; it must count what a retry that probes counts.
  it("counts a handled fault's retry as a later access with no handler counts it", () => {
    // Each case: the first access, what the handler (or the caller, after the
    // fault) does to the tables and the TLB, then the same access again.
    const cases: {
      name: string;
      setup: (m: ReturnType<typeof machine>) => void;
      fix: (m: ReturnType<typeof machine>, page: number) => void;
      access: (m: ReturnType<typeof machine>, addr: number) => void;
    }[] = [
      {
        name: "a store to an unmapped page, mapped by the handler",
        setup: () => {},
        fix: (m, page) => m.mmu.map(m.space, page, m.frame(), 4096, 4096, RW_USER),
        access: (m, addr) => m.mmu.storeU8(V(addr), 7),
      },
      {
        name: "a store through a cached read-only entry, made writable",
        setup: (m) => {
          for (let i = 0; i < 6; i++)
            m.mmu.map(m.space, USER_BASE + i * 4096, m.frame(), 4096, 4096, RO_USER);
          for (let i = 0; i < 6; i++) m.mmu.loadU8(V(USER_BASE + i * 4096));
        },
        fix: (m, page) => m.mmu.protect(m.space, page, 4096, RW_USER),
        access: (m, addr) => m.mmu.storeU8(V(addr), 7),
      },
      {
        // The second load takes the MMU's host-table entry of the page (1024
        // pages apart), so the retry must find the page in the TLB itself.
        name: "a load whose handler also loads the page (filling the TLB), then another",
        setup: () => {},
        fix: (m, page) => {
          const alias = page + 1024 * 4096;
          m.mmu.map(m.space, page, m.frame(), 4096, 4096, RW_USER);
          if (m.mmu.query(m.space, alias) === null) m.mmu.map(m.space, alias, m.frame(), 4096, 4096, RW_USER);
          m.mmu.loadU8(V(page + 1));
          m.mmu.loadU8(V(alias));
        },
        access: (m, addr) => m.mmu.loadU8(V(addr)),
      },
    ];
    for (const c of cases) {
      const handled = machine();
      const thrown = machine();
      c.setup(handled);
      c.setup(thrown);
      handled.mmu.onPageFault((addr) => {
        c.fix(handled, addr - (addr % 4096));
        return true;
      });
      for (let i = 0; i < 6; i++) {
        const addr = USER_BASE + i * 4096 + 8;
        c.access(handled, addr);
        expect(() => c.access(thrown, addr), c.name).toThrow(PageFault);
        c.fix(thrown, addr - (addr % 4096));
        c.access(thrown, addr);
        expect(handled.mmu.stats(), `${c.name}, page ${i}`).toEqual(thrown.mmu.stats());
      }
      handled.mmu.check();
      thrown.mmu.check();
    }
  });

  it("stops a handler that claims fixes it did not make", () => {
    const { mmu } = machine();
    mmu.onPageFault(() => true);
    expect(() => mmu.loadU8(V(USER_BASE))).toThrow(/still there/);
    mmu.onPageFault(null);
    expect(() => mmu.loadU8(V(USER_BASE))).toThrow(Fault);
    expect(() => mmu.onPageFault(42 as never)).toThrow(UsageError);
    mmu.check();
  });

  it("faults a page-crossing store before writing either page", () => {
    const { mmu, space, frame, ram } = machine();
    const f = frame();
    mmu.map(space, USER_BASE, f, 4096, 4096, RW_USER);
    expect(() => mmu.storeU32(V(USER_BASE + 4094), 0xffffffff)).toThrow(
      expect.objectContaining({ address: USER_BASE + 4096, reason: "not-mapped" }),
    );
    expect(ram.readU16(P(f + 4094))).toBe(0);
    expect(() => mmu.loadU64(V(USER_BASE + 4092))).toThrow(
      expect.objectContaining({ address: USER_BASE + 4096 }),
    );
    mmu.check();
  });
});

describe("statistics", () => {
  it("counts one TLB lookup per access, hits through the fast path included, in exact LRU order", () => {
    const { mmu, space, frame } = machine();
    for (let i = 0; i < 5; i++) mmu.map(space, USER_BASE + i * 16 * 4096, frame(), 4096, 4096, RW_USER);
    const at = (i: number) => V(USER_BASE + i * 16 * 4096);
    mmu.resetStats();
    // Pages 0-3 fill one 4-way L1 set; then 0 is used 1000 times through the fast path.
    for (let i = 0; i < 4; i++) mmu.loadU8(at(i));
    for (let k = 0; k < 1000; k++) mmu.loadU32(V(at(0) + (k % 1024) * 4));
    mmu.loadU8(at(4)); // evicts the LRU page: 1, not 0
    const s = mmu.stats().levels[0]!;
    // 4 misses, then 1000 hits (the first through the host table, 999 through the register), then a miss.
    expect(s).toMatchObject({ hits: 1000, misses: 5, evictions: 1 });
    expect(s.bySize["4K"]).toEqual({ hits: 1000, misses: 5, evictions: 1 });
    const walks = mmu.stats().walks;
    mmu.loadU8(at(0));
    expect(mmu.stats().walks).toBe(walks);
    mmu.loadU8(at(1));
    expect(mmu.stats().levels[0]!.misses).toBe(6);
    expect(mmu.stats().levels[1]!.hits).toBe(1); // found in the STLB, no walk
    expect(mmu.stats().walks).toBe(walks);
    expect(mmu.stats().walkMemoryRefs).toBe(5 * 4);
    mmu.check();
  });

  it("exposes the TLB's arrays for visualisers", () => {
    const { mmu, space, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    mmu.loadU8(V(USER_BASE));
    const tlb = mmu.tlb;
    const slots = [...tlb.pcid.keys()].filter((s) => tlb.pcid[s] !== -1);
    expect(slots.map((s) => tlb.levelOf(s))).toEqual([0, 1]);
    expect(tlb.flags[slots[0]!]! & ENTRY_READ).toBe(ENTRY_READ);
  });
});

describe("bad input", () => {
  it("names the argument and leaves everything valid", () => {
    const { mmu, space } = machine();
    const usage = (fn: () => unknown, argument: string) => {
      expect(fn).toThrow(UsageError);
      try {
        fn();
      } catch (e) {
        expect((e as UsageError).argument).toBe(argument);
      }
      mmu.check();
    };
    usage(() => mmu.map(space, USER_BASE, P(0), 4096, 4096, null as never), "rights");
    usage(() => mmu.translate(0.5), "addr");
    usage(() => mmu.translate(0, "fly" as never), "access");
    usage(() => mmu.touch(0, 0, "read"), "addr");
    usage(() => mmu.invalidatePage(space, 2 ** 60), "virt");
    usage(() => mmu.walk(space, 2 ** 48, "read", "user"), "virt");
    usage(() => {
      mmu.privilege = "root" as never;
    }, "privilege");
    usage(() => mmu.fill(V(USER_BASE), -1, 0), "length");
    usage(() => mmu.storeU64(V(USER_BASE), 2 ** 53), "value");
    usage(() => mmu.walkRange(space, 10, 5, () => {}), "start");
    const fresh = new Mmu({ memory: machine().ram, frames: machine().frames });
    expect(() => fresh.loadU8(V(0))).toThrow(/no address space is current/);
  });

  it("maps 2 MiB pages into the TLB's 2 MiB arrays and reports them by size", () => {
    const { mmu, space, frames } = machine();
    const big = frames.allocFrames(9)! * 4096;
    mmu.map(space, USER_BASE, P(big), 4 * MiB, 2 * MiB, RW_USER);
    for (let off = 0; off < 4 * MiB; off += 4096) mmu.loadU8(V(USER_BASE + off));
    const l1 = mmu.stats().levels[0]!;
    expect(l1.bySize["2M"]!.misses).toBe(2);
    expect(l1.bySize["2M"]!.hits).toBe(1024 - 2);
    expect(l1.bySize["4K"]).toEqual({ hits: 0, misses: 0, evictions: 0 });
    mmu.check();
  });
});

describe("the Dirty-bit walk", () => {
  it("faults, and drops the stale entry, when a page cached clean was write-protected meanwhile", () => {
    const { mmu, space, frame } = machine();
    mmu.map(space, USER_BASE, frame(), 4096, 4096, RW_USER);
    mmu.loadU8(V(USER_BASE)); // cached writable but clean
    mmu.protect(space, USER_BASE, 4096, RO_USER); // no invalidation
    expect(() => mmu.storeU8(V(USER_BASE), 1)).toThrow(
      expect.objectContaining({ reason: "not-permitted", errorCode: 7 }),
    );
    const walks = mmu.stats().walks;
    mmu.loadU8(V(USER_BASE)); // the fault dropped the entry: this walks
    expect(mmu.stats().walks).toBe(walks + 1);
    mmu.check();
  });
});

describe("a table allocation whose allocator frees tables (a kernel's reclaim or OOM hook)", () => {
  // The kernel's page-table frames come from an allocator that may reclaim:
  // unmap other pages and free the tables they leave empty, or destroy a
  // space. A map in the middle of its descent must not link its new table
  // into one that went meanwhile.
  function hooked() {
    const ram = new SparseRam({ sizeBytes: 2 ** 32 });
    const bitmap = new BitmapFrameAllocator({ frameCount: 4096 });
    let hook: (() => void) | null = null;
    const frames: FrameAllocator = {
      get frameCount() {
        return bitmap.frameCount;
      },
      get freeFrameCount() {
        return bitmap.freeFrameCount;
      },
      allocFrames(order: number): Pfn | null {
        const h = hook;
        hook = null;
        h?.();
        return bitmap.allocFrames(order);
      },
      freeFrames: (frame: Pfn, order: number) => bitmap.freeFrames(frame, order),
    };
    const mmu = new Mmu({ memory: ram, frames });
    const space = mmu.createAddressSpace()!;
    mmu.switchAddressSpace(space);
    const page = () => physAddr(bitmap.allocFrames(0)! * 4096);
    return { mmu, space, page, bitmap, onNextAlloc: (f: () => void) => (hook = f) };
  }

  it("one page: the descent starts again when its tables were freed", () => {
    const { mmu, space, page, bitmap, onNextAlloc } = hooked();
    // A alone under its PD and PT; B, 2 MiB further, needs a PT of its own
    // under A's PD. Allocating it unmaps A, which frees A's PT, PD and PDPT.
    mmu.map(space, USER_BASE, page(), 4096, 4096, RW_USER);
    const before = bitmap.freeFrameCount;
    onNextAlloc(() => mmu.unmap(space, USER_BASE, 4096));
    const b = page();
    expect(mmu.map(space, USER_BASE + 2 * MiB, b, 4096, 4096, RW_USER)).toBe(true);
    mmu.check();
    expect(mmu.query(space, USER_BASE)).toBeNull();
    expect(mmu.query(space, USER_BASE + 2 * MiB)!.phys).toBe(b);
    // A's three tables freed, B's three made, B's frame taken.
    expect(bitmap.freeFrameCount).toBe(before - 1);
  });

  it("one page: a space destroyed by the hook is not mapped into", () => {
    const { mmu, space, page, onNextAlloc } = hooked();
    const other = mmu.createAddressSpace()!;
    mmu.map(other, USER_BASE, page(), 4096, 4096, RW_USER);
    onNextAlloc(() => mmu.destroyAddressSpace(other));
    expect(mmu.map(other, USER_BASE + 2 * MiB, page(), 4096, 4096, RW_USER)).toBe(false);
    expect(() => mmu.query(other, USER_BASE)).toThrow(UsageError);
    mmu.check();
    expect(mmu.query(space, USER_BASE)).toBeNull();
  });

  it("several pages: the map fails, and writes nothing, when tables were freed", () => {
    const { mmu, space, page, onNextAlloc } = hooked();
    const c = page();
    mmu.map(space, USER_BASE + 2 ** 30, c, 4096, 4096, RW_USER); // elsewhere: untouched throughout
    mmu.map(space, USER_BASE, page(), 4096, 4096, RW_USER);
    mmu.map(space, USER_BASE + 4096, page(), 4096, 4096, RW_USER);
    // The new PT under their PD: allocating it unmaps both, freeing their PT and PD.
    onNextAlloc(() => mmu.unmap(space, USER_BASE, 2 * 4096));
    expect(mmu.map(space, USER_BASE + 2 * MiB, page(), 2 * 4096, 4096, RW_USER)).toBe(false);
    mmu.check();
    expect(mmu.query(space, USER_BASE)).toBeNull();
    expect(mmu.query(space, USER_BASE + 2 * MiB)).toBeNull();
    expect(mmu.query(space, USER_BASE + 2 ** 30)!.phys).toBe(c);
    // The same map again, with nothing in the way, succeeds.
    expect(mmu.map(space, USER_BASE + 2 * MiB, page(), 2 * 4096, 4096, RW_USER)).toBe(true);
    mmu.check();
  });
});

describe("unmap keeping tables, and freeTables (a kernel that frees tables as free_pgtables() does)", () => {
  it("keeps emptied tables until freeTables frees those whose whole span lies in its range", () => {
    const { mmu, space, frames, frame } = machine();
    const [a, b, c, d] = [frame(), frame(), frame(), frame()];
    mmu.map(space, USER_BASE, a, 4096, 4096, RW_USER);
    mmu.map(space, USER_BASE + 2 * MiB, b, 4096, 4096, RW_USER);
    const held = frames.freeFrameCount;
    // Both pages go; their two PTs, the PD and the PDPT stay, empty.
    expect(mmu.unmap(space, USER_BASE, 4 * MiB, true)).toBe(2);
    expect(frames.freeFrameCount).toBe(held);
    expect(mmu.query(space, USER_BASE)).toBeNull();
    mmu.check();
    // A range short of a PT's span frees nothing; the first PT's span frees that PT only.
    expect(mmu.freeTables(space, USER_BASE, USER_BASE + MiB)).toBe(0);
    expect(mmu.freeTables(space, USER_BASE, USER_BASE + 2 * MiB)).toBe(1);
    expect(frames.freeFrameCount).toBe(held + 1);
    mmu.check();
    // A mapped page keeps its PT (and the tables above it) through any range.
    mmu.map(space, USER_BASE + 2 * MiB + 4096, c, 4096, 4096, RW_USER);
    expect(mmu.freeTables(space, 0, 2 ** 47)).toBe(0);
    mmu.check();
    // Once it goes, the whole user half frees the PT, the PD and the PDPT; the root stays.
    mmu.unmap(space, USER_BASE + 2 * MiB + 4096, 4096, true);
    expect(mmu.freeTables(space, 0, 2 ** 47)).toBe(3);
    expect(frames.freeFrameCount).toBe(held + 4);
    mmu.check();
    // Tables made again work as before.
    expect(mmu.map(space, USER_BASE, d, 4096, 4096, RW_USER)).toBe(true);
    expect(mmu.query(space, USER_BASE)!.phys).toBe(d);
    mmu.check();
    expect(() => mmu.freeTables(space, USER_BASE + 1, USER_BASE + 4096)).toThrow(UsageError);
    expect(() => mmu.freeTables(space, USER_BASE, USER_BASE)).toThrow(UsageError);
    expect(() => mmu.freeTables(space, 2 ** 47 - 4096, 2 ** 47 + 4096)).toThrow(UsageError);
    expect(() => mmu.freeTables(space + 99, 0, 2 ** 47)).toThrow(/not a live address space/);
    expect(mmu.query(space, USER_BASE)!.phys).toBe(d);
    mmu.check();
  });

  it("makes tables ahead of any page with prepareTables, and frees them with freeTables", () => {
    const { mmu, space, frames, frame } = machine();
    const a = frame();
    const held = frames.freeFrameCount;
    // A PDPT, a PD and a PT, mapping nothing; again, nothing more.
    expect(mmu.prepareTables(space, USER_BASE + 4 * MiB)).toBe(true);
    expect(frames.freeFrameCount).toBe(held - 3);
    expect(mmu.prepareTables(space, USER_BASE + 4 * MiB + 4096)).toBe(true);
    expect(frames.freeFrameCount).toBe(held - 3);
    expect(mmu.query(space, USER_BASE + 4 * MiB)).toBeNull();
    mmu.check();
    // A page mapped there uses the table made ahead.
    expect(mmu.map(space, USER_BASE + 4 * MiB, a, 4096, 4096, RW_USER)).toBe(true);
    expect(frames.freeFrameCount).toBe(held - 3);
    mmu.unmap(space, USER_BASE + 4 * MiB, 4096, true);
    expect(mmu.freeTables(space, 0, 2 ** 47)).toBe(3);
    expect(frames.freeFrameCount).toBe(held);
    mmu.check();
    // Down to the table a 2 MiB page would go in: a PDPT and a PD, no PT.
    expect(mmu.prepareTables(space, USER_BASE + 2 * MiB, 2 * MiB)).toBe(true);
    expect(frames.freeFrameCount).toBe(held - 2);
    mmu.check();
    expect(() => mmu.prepareTables(space, USER_BASE + 1)).toThrow(UsageError);
    expect(() => mmu.prepareTables(space, USER_BASE + 4096, 2 * MiB)).toThrow(UsageError);
    expect(() => mmu.prepareTables(space, USER_BASE, 8192)).toThrow(UsageError);
    expect(() => mmu.prepareTables(space, 2 ** 47)).toThrow(UsageError);
    expect(() => mmu.prepareTables(space + 99, USER_BASE)).toThrow(/not a live address space/);
    expect(frames.freeFrameCount).toBe(held - 2);
    mmu.check();
  });

  it("lets a larger page replace tables that map nothing, and refuses one over mapped pages", () => {
    const { mmu, space, frames, frame } = machine();
    const small = frame();
    const big = P(64 * MiB);
    mmu.map(space, USER_BASE, small, 4096, 4096, RW_USER);
    mmu.unmap(space, USER_BASE, 4096, true);
    const held = frames.freeFrameCount;
    // The kept, empty PT goes under the 2 MiB page; a one-page map and a map of several pages alike.
    expect(mmu.map(space, USER_BASE, big, 2 * MiB, 2 * MiB, RW_USER)).toBe(true);
    expect(frames.freeFrameCount).toBe(held + 1);
    expect(mmu.query(space, USER_BASE + 4096)).toMatchObject({ phys: Number(big), pageSize: 2 * MiB });
    mmu.check();
    mmu.unmap(space, USER_BASE, 2 * MiB, true);
    mmu.map(space, USER_BASE + 2 * MiB, small, 4096, 4096, RW_USER);
    mmu.map(space, USER_BASE + 4 * MiB, small, 4096, 4096, RW_USER);
    mmu.unmap(space, USER_BASE + 2 * MiB, 4 * MiB, true);
    const before = frames.freeFrameCount;
    expect(mmu.map(space, USER_BASE, big, 6 * MiB, 2 * MiB, RW_USER)).toBe(true);
    expect(frames.freeFrameCount).toBe(before + 2);
    mmu.check();
    // A PT that still maps a page stands in the way.
    mmu.unmap(space, USER_BASE, 6 * MiB, true);
    mmu.map(space, USER_BASE + 4096, small, 4096, 4096, RW_USER);
    expect(() => mmu.map(space, USER_BASE, big, 2 * MiB, 2 * MiB, RW_USER)).toThrow(UsageError);
    expect(mmu.query(space, USER_BASE + 4096)!.phys).toBe(small);
    mmu.check();
  });
});

describe("map of one 4 KiB page after another under the same table", () => {
  it("never writes into a table an unmap, protect or destroy freed or replaced", () => {
    const { mmu, space, frames, frame } = machine();
    const a = frame();
    const b = frame();
    mmu.map(space, USER_BASE, a, 4096, 4096, RW_USER);
    mmu.map(space, USER_BASE + 4096, b, 4096, 4096, RW_USER); // under the remembered table
    expect(mmu.query(space, USER_BASE + 4096)!.phys).toBe(b);
    mmu.check();
    // Unmapping both frees the leaf table (and the tables above it).
    mmu.unmap(space, USER_BASE, 2 * 4096);
    const free = frames.freeFrameCount;
    mmu.map(space, USER_BASE + 2 * 4096, a, 4096, 4096, RW_USER);
    expect(frames.freeFrameCount).toBe(free - 3); // a new PDPT, PD and PT
    expect(mmu.query(space, USER_BASE + 2 * 4096)!.phys).toBe(a);
    expect(mmu.query(space, USER_BASE)).toBeNull();
    mmu.check();
    // Bad arguments under the remembered table get the usual answers and change nothing.
    expect(() => mmu.map(space, USER_BASE + 100, b, 4096, 4096, RW_USER)).toThrow(UsageError);
    expect(() => mmu.map(space, USER_BASE + 4096, physAddr(Number(b) + 1), 4096, 4096, RW_USER)).toThrow(
      UsageError,
    );
    expect(() => mmu.map(space, USER_BASE + 4096 - 2 ** 48, b, 4096, 4096, RW_USER)).toThrow(UsageError);
    expect(() => mmu.map(space, USER_BASE + 4096, physAddr(64 * 2 ** 30), 4096, 4096, RW_USER)).toThrow(
      UsageError,
    );
    expect(mmu.query(space, USER_BASE + 4096)).toBeNull();
    mmu.check();
    // A new space may get the same id after a destroy: its tables are its own.
    const other = mmu.createAddressSpace()!;
    mmu.switchAddressSpace(other);
    mmu.destroyAddressSpace(space);
    const next = mmu.createAddressSpace()!;
    mmu.map(next, USER_BASE + 3 * 4096, b, 4096, 4096, RW_USER);
    expect(mmu.query(next, USER_BASE + 3 * 4096)!.phys).toBe(b);
    expect(mmu.query(next, USER_BASE + 2 * 4096)).toBeNull();
    mmu.check();
  });
});

describe("range walks read along a table (unmap, protect, walkRange)", () => {
  // Pages 0..1199 from a 2 MiB boundary span three leaf tables; every third is left out.
  const mapped = (n: number) => Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 1);

  it("visit every leaf once, in order, across leaf tables and holes", () => {
    const { mmu, space, frame, frames } = machine();
    for (const i of mapped(1200)) mmu.map(space, USER_BASE + i * 4096, frame(), 4096, 4096, RW_USER);
    const huge = P(frames.allocFrames(9)! * 4096);
    mmu.map(space, USER_BASE + 1536 * 4096, huge, 2 * MiB, 2 * MiB, RW_USER);
    const seen: number[] = [];
    mmu.walkRange(space, USER_BASE + 4096, USER_BASE + 2048 * 4096, (m) =>
      seen.push((m.virt - USER_BASE) / 4096),
    );
    expect(seen).toEqual([...mapped(1200).filter((i) => i >= 1), 1536]);
    expect(mmu.protect(space, USER_BASE, 1200 * 4096, RO_USER)).toBe(mapped(1200).length);
    expect(mmu.query(space, USER_BASE + 1199 * 4096)).toMatchObject({ write: false });
    expect(mmu.unmap(space, USER_BASE + 3 * 4096, 1000 * 4096)).toBe(
      mapped(1003).filter((i) => i >= 3).length,
    );
    expect(mmu.query(space, USER_BASE + 1002 * 4096)).toBeNull();
    expect(mmu.query(space, USER_BASE + 1004 * 4096)).not.toBeNull();
    mmu.check();
  });

  it("descend again after a visit that unmapped a table's last page and reused its frame", () => {
    const { mmu, space, frame, frames, ram } = machine();
    for (const i of mapped(1200)) mmu.map(space, USER_BASE + i * 4096, frame(), 4096, 4096, RW_USER);
    const far = USER_BASE + 64 * GiB;
    const seen: number[] = [];
    mmu.walkRange(space, USER_BASE, USER_BASE + 1200 * 4096, (m) => {
      const page = (m.virt - USER_BASE) / 4096;
      seen.push(page);
      // The last page of the first leaf table goes, and the table with it;
      // its frame comes back as a data page full of ones, which would read
      // as present leaves if the walk went on along the freed table.
      if (page === 510) {
        mmu.unmap(space, USER_BASE, 512 * 4096);
        const reused = frames.allocFrames(0)!;
        for (let b = 0; b < 4096; b += 4) ram.writeU32(P(reused * 4096 + b), 0xffffffff);
        mmu.map(space, far, P(reused * 4096), 4096, 4096, RW_USER);
      }
    });
    expect(seen).toEqual(mapped(1200).filter((i) => i <= 510 || i >= 512));
    mmu.check();
  });
});

describe("map with the Dirty bit set", () => {
  it("writes D into the new entries (fork's copy of a dirty entry), not A, on both formats; a store still needs W", () => {
    for (const format of [undefined, createSv39Format()]) {
      const { mmu, space, frame } = machine(format === undefined ? {} : { format });
      const base = format === undefined ? USER_BASE : 0x3f_0000_0000;
      const f = frame();
      expect(mmu.map(space, base, f, 4096, 4096, RO_USER, true)).toBe(true);
      expect(mmu.map(space, base + 4096, frame(), 4096, 4096, RW_USER)).toBe(true);
      expect(mmu.query(space, base)).toMatchObject({ dirty: true, accessed: false, write: false });
      expect(mmu.query(space, base + 4096)).toMatchObject({ dirty: false, accessed: false });
      expect(mmu.loadU8(V(base))).toBe(0);
      expect(mmu.query(space, base)).toMatchObject({ dirty: true, accessed: true });
      expect(() => mmu.storeU8(V(base), 1)).toThrow(PageFault);
      mmu.check();
    }
  });
});

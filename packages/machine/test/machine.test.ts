import { readdirSync, readFileSync } from "node:fs";
import {
  ENOMEM,
  Fault,
  MADV_COLD,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_PAGEOUT,
  MADV_WILLNEED,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type Pfn,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  runVmScript,
  UsageError,
  virtAddr as V,
} from "@memstack/core";
import { ProcessKilled, vmScriptTarget } from "@memstack/kernel";
import { describeMapper, describeVirtualMemory, vmFixtureSetting } from "@memstack/testkit";
import { describe, expect, it } from "vitest";
import { createMachine } from "../src/index.js";

const PAGE = 4096;
const MiB = 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;

describeVirtualMemory("a process of createMachine()", () => {
  const m = createMachine({ ram: "64M" });
  const p = m.spawn();
  const start = p.mmap(0, 3 * PAGE, RW, MAP_PRIVATE);
  return { memory: p, start, length: 3 * PAGE, unmapped: [0x10000, 0x7fff00000000], check: () => m.check() };
});

describeMapper("a process of createMachine()", () => {
  const m = createMachine({ ram: "64M" });
  const p = m.spawn();
  return { mapper: p, programBreak: p, memory: p, check: () => m.check() };
});

// The same recorded scripts the kernel's own tests run, now through the
// x86-64 page tables in RAM, the TLB and the buddy allocator.
const vmDir = new URL("../../kernel/test/fixtures/vm/", import.meta.url);

// The page tables a machine should hold in RAM, as Linux would: each live
// process's PGD and the tables its VmPTE counts, and the kernel's own PGD.
function countedTables(m: ReturnType<typeof createMachine>): number {
  return m.kernel
    .processes()
    .filter((q) => q.alive)
    .reduce((n, q) => n + 1 + q.mm.tables.count, 1);
}

describe("VM scripts through the whole machine match the real kernel", () => {
  for (const file of readdirSync(vmDir).filter((f) => f.endsWith(".vm"))) {
    it(file, () => {
      // How record.sh recorded it, from its name (swap-*, .nopku., .nozero.).
      const how = vmFixtureSetting(file);
      const m = createMachine({
        ram: "64M",
        ...(how.swap ? { swap: "64M", pageCluster: 0 } : {}),
        executeOnly: how.executeOnly,
        zeroPage: how.zeroPage,
      });
      const p = m.spawn("script");
      const expected = readFileSync(new URL(file.replace(/\.vm$/, ".expected"), vmDir), "utf8")
        .trimEnd()
        .split("\n");
      const got = runVmScript(readFileSync(new URL(file, vmDir), "utf8"), vmScriptTarget(p));
      const upto = expected.indexOf("beyond");
      expect(got.slice(0, upto < 0 ? undefined : upto)).toEqual(
        upto < 0 ? expected : expected.slice(0, upto),
      );
      m.check();
      expect(m.pageTableFrames).toBe(countedTables(m));
    });
  }
});

describe("page tables in RAM follow the kernel's count", () => {
  it("keeps emptied tables, makes a fork's and a SIGBUS fault's ahead, and frees them with the VMAs", () => {
    const m = createMachine({ ram: "64M" });
    const p = m.spawn("tables");
    const a = 0x2000_0000_0000;
    expect(p.mmap(a, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED)).toBe(a);
    p.storeU8(V(a), 1);
    p.storeU8(V(a + (2 << 20)), 1);
    // Cleared entries keep their tables; a whole 2 MiB region's DONTNEED frees its table.
    expect(p.madvise(a, 4096, MADV_DONTNEED)).toBe(0);
    expect(p.madvise(a + (2 << 20), 2 << 20, MADV_DONTNEED)).toBe(0);
    expect(m.pageTableFrames).toBe(countedTables(m));
    // The child gets the parent's empty table.
    const child = p.fork()!;
    expect(child.mm.tables.count).toBe(p.mm.tables.count);
    expect(m.pageTableFrames).toBe(countedTables(m));
    // A read past a shared object's end makes a PUD and a PMD table.
    const s = 0x3000_0000_0000;
    expect(p.mmap(s, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED)).toBe(s);
    expect(p.mremap(s, 4096, 8192, 0)).toBe(s);
    expect(() => p.loadU8(V(s + 4096))).toThrow(expect.objectContaining({ reason: "past-object-end" }));
    expect(m.pageTableFrames).toBe(countedTables(m));
    m.check();
    expect(p.munmap(a, 4 << 20)).toBe(0);
    expect(p.munmap(s, 8192)).toBe(0);
    expect(child.munmap(a, 4 << 20)).toBe(0);
    expect(p.mm.tables.count + child.mm.tables.count).toBe(0);
    expect(m.pageTableFrames).toBe(countedTables(m));
    m.check();
  });
});

describe("an OOM kill in the middle of a call that moves page tables", () => {
  it("leaves nothing behind when mremap's table allocation makes the OOM killer take the caller", () => {
    const m = createMachine({ ram: "16M" });
    const p = m.spawn("mover");
    const a = 0x2000_0000_0000;
    expect(p.mmap(a, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED)).toBe(a);
    p.storeU8(V(a), 1);
    expect(p.madvise(a, 4096, MADV_DONTNEED)).toBe(0); // its page table stays, empty
    // Every free frame taken, behind the kernel's back; then the moved
    // range's new tables can come only from the OOM killer, whose one
    // candidate is the caller.
    const hooks = {
      wakeKswapd: () => m.kernel.wakeKswapd(),
      reclaim: () => m.kernel.reclaim(32),
      outOfMemory: () => m.kernel.oomKill(),
    };
    m.buddy.setHooks({ wakeKswapd: () => {}, reclaim: () => 0, outOfMemory: () => false });
    const held: Pfn[] = [];
    for (let f = m.buddy.allocFrames(0); f !== null; f = m.buddy.allocFrames(0)) held.push(f);
    m.buddy.setHooks(hooks);
    expect(p.mremap(a, 4 << 20, 4 << 20, MREMAP_MAYMOVE | MREMAP_FIXED, 0x3000_0000_0000)).toBe(-ENOMEM);
    expect(p.alive).toBe(false);
    expect(p.mm.tables.count).toBe(0);
    for (const f of held) m.buddy.freeFrames(f, 0);
    m.check(); // Committed_AS back to 0, no table left behind
    expect(m.pageTableFrames).toBe(1);
  });
});

describe("createMachine", () => {
  it("needs no options: 1 GiB, no swap, heuristic overcommit", () => {
    const m = createMachine();
    expect(m.ram.sizeBytes).toBe(1024 * MiB);
    expect(m.kernel.swap.slotCount).toBe(0);
    expect(m.kernel.commit.mode).toBe(0);
    expect(m.meminfo()).toMatch(/^MemTotal:\s+1048576 kB$/m);
    expect(m.buddyinfo()).toMatch(/^Node 0, zone {6}DMA /);
    m.check();
  });

  it("reads sizes as people write them and refuses what is not one", () => {
    const m = createMachine({ ram: "96M", swap: "32M", overcommit: { mode: 2, ratio: 80 } });
    expect(m.ram.sizeBytes).toBe(96 * MiB);
    expect(m.kernel.swap.slotCount).toBe(8192);
    // vm_commit_limit(): RAM pages × ratio / 100 + swap pages.
    const limitKb = (Math.floor((((96 * MiB) / PAGE) * 80) / 100) + (32 * MiB) / PAGE) * 4;
    expect(m.meminfo()).toMatch(new RegExp(`^CommitLimit:\\s+${limitKb} kB$`, "m"));
    expect(() => createMachine({ ram: "lots" })).toThrow(UsageError);
    expect(() => createMachine({ ram: 5000 })).toThrow(/ram/);
    expect(() => createMachine({ ram: "1M" })).toThrow(/at least 4M/);
    expect(() => createMachine({ swap: -4096 })).toThrow(/swap/);
    expect(() => createMachine({ maxMapCount: 0 })).toThrow(/maxMapCount/);
    expect(() => createMachine({ maxMapCount: 1.5 })).toThrow(UsageError);
    // Any whole number of pages, odd ones too (the buddy allocator's last
    // zone then ends at an odd frame): a machine sized as a real one's MemFree.
    for (const ram of ["26148K", "16372K"]) {
      const odd = createMachine({ ram });
      const p = odd.spawn();
      const a = p.mmap(0, 4 * MiB, RW, MAP_PRIVATE);
      for (let i = 0; i < 4 * MiB; i += PAGE) p.storeU8(V(a + i), 1);
      odd.check();
      expect(odd.meminfo()).toMatch(new RegExp(`^MemTotal:\\s+${Number.parseInt(ram, 10)} kB$`, "m"));
    }
  });

  it("makes PROT_EXEC alone execute-only, unless executeOnly is false", () => {
    for (const executeOnly of [undefined, true, false]) {
      const m = createMachine({ ram: "16M", ...(executeOnly === undefined ? {} : { executeOnly }) });
      const p = m.spawn();
      const a = p.mmap(0, PAGE, PROT_EXEC, MAP_PRIVATE);
      if (executeOnly === false) expect(p.loadU8(V(a))).toBe(0);
      else expect(() => p.loadU8(V(a))).toThrow(expect.objectContaining({ reason: "protection-key" }));
      m.check();
    }
    expect(() => createMachine({ executeOnly: "yes" as unknown as boolean })).toThrow(/executeOnly/);
  });

  it("passes vm.page-cluster to swap readahead", () => {
    // A fault on one of 16 swapped-out pages reads 8 around it by default, 4 with 2, 1 with 0.
    for (const [pageCluster, read] of [
      [undefined, 8],
      [2, 4],
      [0, 1],
    ] as const) {
      const m = createMachine({
        ram: "16M",
        swap: "4M",
        ...(pageCluster === undefined ? {} : { pageCluster }),
      });
      const p = m.spawn();
      const a = p.mmap(0, 16 * PAGE, RW, MAP_PRIVATE);
      for (let i = 0; i < 16; i++) p.storeU32(V(a + i * PAGE), i + 1);
      expect(p.madvise(a, 16 * PAGE, MADV_PAGEOUT)).toBe(0);
      // The written pages wait in the swap cache; reclaim's next pass takes them.
      expect(m.kernel.reclaim(16)).toBe(16);
      expect(p.loadU32(V(a + 8 * PAGE))).toBe(9);
      expect([m.kernel.pages.stats.swapIns, m.kernel.pages.stats.swapReadahead]).toEqual([read, read - 1]);
      m.check();
    }
    expect(() => createMachine({ pageCluster: 40 })).toThrow(
      expect.objectContaining({ name: "UsageError", argument: "pageCluster" }),
    );
  });

  it("passes vm.max_map_count to every process", () => {
    const m = createMachine({ ram: "16M", maxMapCount: 8 });
    expect(m.kernel.maxMapCount).toBe(8);
    const p = m.spawn(); // [stack] is one VMA
    const results: number[] = [];
    // Separate one-page VMAs (a page apart, so they cannot merge) until mmap refuses.
    for (let i = 0; i < 12; i++)
      results.push(p.mmap(0x10000000 + i * 2 * PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED));
    expect(results.filter((r) => r < 0)).toEqual(results.slice(results.findIndex((r) => r < 0)));
    expect(results.find((r) => r < 0)).toBe(-ENOMEM);
    expect(p.mm.mapCount).toBeLessThanOrEqual(9);
    m.check();
  });

  it("keeps every layer consistent through faults, COW, swap and an OOM kill", () => {
    const m = createMachine({ ram: "16M", swap: "8M" });
    const a = m.spawn("a");
    const base = a.mmap(0, 12 * MiB, RW, MAP_PRIVATE);
    for (let i = 0; i < (12 * MiB) / PAGE; i++) a.storeU32(V(base + i * PAGE), i);
    const b = a.fork("b")!;
    b.storeU32(V(base), 99);
    expect(a.loadU32(V(base))).toBe(0);
    m.check();
    const c = m.spawn("c");
    const big = c.mmap(0, 24 * MiB, RW, MAP_PRIVATE);
    let killed = false;
    try {
      for (let i = 0; i < (24 * MiB) / PAGE; i++) c.storeU32(V(big + i * PAGE), i);
    } catch (e) {
      if (!(e instanceof ProcessKilled)) throw e;
      killed = true;
    }
    expect(killed || m.kernel.dmesg.some((l) => l.startsWith("Out of memory"))).toBe(true);
    m.check();
    expect(m.kernel.pages.stats.swapOuts).toBeGreaterThan(0);
  });

  it("faults like hardware: no execute on a data page, a SIGSEGV that leaves the process usable", () => {
    const m = createMachine({ ram: "16M" });
    const p = m.spawn();
    const a = p.mmap(0, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE);
    expect(() => p.storeU8(V(a), 1)).toThrow(Fault);
    expect(p.loadU8(V(a))).toBe(0);
    m.check();
  });

  it("makes MADV_COLD's pages old in the page tables and drops their TLB entries", () => {
    const m = createMachine({ ram: "16M" });
    const p = m.spawn();
    const a = p.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    p.storeU8(V(a), 1);
    p.storeU8(V(a + PAGE), 2);
    const walks = m.mmu.stats().walks;
    expect(p.loadU8(V(a)) + p.loadU8(V(a + PAGE))).toBe(3);
    expect(m.mmu.stats().walks).toBe(walks);
    expect(p.madvise(a, PAGE, MADV_COLD)).toBe(0);
    expect(m.mmu.query(p.space, a)!.accessed).toBe(false);
    expect(m.mmu.query(p.space, a + PAGE)!.accessed).toBe(true);
    // The next access walks again, and sets the bit again.
    expect(p.loadU8(V(a)) + p.loadU8(V(a + PAGE))).toBe(3);
    expect(m.mmu.stats().walks).toBe(walks + 1);
    expect(m.mmu.query(p.space, a)!.accessed).toBe(true);
    m.check();
  });
});

describe("TLB flushes as the real kernel makes them (testkit's fixtures/linux/tlb-flush.expected)", () => {
  // Each step of tlb-flush.c, as its flushes: the tlb:tlb_flush
  // tracepoint's count for each (the range in strides, rounded down), "all"
  // for the whole address space, "-" for none; the kernel's onTlbFlush
  // reports the same.
  const expected = new Map(
    readFileSync(new URL("../../testkit/fixtures/linux/tlb-flush.expected", import.meta.url), "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => {
        const [name, events] = line.split(": ") as [string, string];
        return [name, events === "-" ? [] : events.split(" ")];
      }),
  );
  // After fork, the program's own stack writes copy none, one or two pages
  // (the child may write its copy of the stack first, leaving the parent's
  // its own), where the replay writes one: fork's own flush is compared.
  const compared = (name: string, events: string[]) => (name === "fork" ? events.slice(0, 1) : events);

  it("flushes page by page up to 33 pages and whole past that, once per call, only what changed", () => {
    // Swap for the MADV_PAGEOUT steps, as record.sh gives the program.
    const m = createMachine({ ram: "64M", swap: "64M" });
    const p = m.spawn();
    const events: string[] = [];
    m.kernel.pages.onTlbFlush = (pid, strides) => {
      expect(pid).toBe(p.pid);
      events.push(strides < 0 ? "all" : String(strides));
    };
    // Every flush the tracepoint reports is an invalidation in the MMU too.
    let invalidations = 0;
    let invlpgs = 0;
    const invlpgsOf = new Map<string, number>();
    const mmu = m.mmu;
    const invalidatePage = mmu.invalidatePage.bind(mmu);
    const invalidateAddressSpace = mmu.invalidateAddressSpace.bind(mmu);
    mmu.invalidatePage = (space, virt) => {
      invalidations++;
      invlpgs++;
      invalidatePage(space, virt);
    };
    mmu.invalidateAddressSpace = (space) => {
      invalidations++;
      invalidateAddressSpace(space);
    };
    const RW = PROT_READ | PROT_WRITE;
    const region = (pages: number) => {
      const at = p.mmap(0, pages * PAGE, RW, MAP_PRIVATE);
      for (let i = 0; i < pages; i++) p.storeU8(V(at + i * PAGE), 1);
      return at;
    };
    const got = new Map<string, string[]>();
    const step = (name: string, edit: () => void) => {
      events.length = 0;
      const before = invalidations;
      invlpgs = 0;
      edit();
      got.set(name, [...events]);
      invlpgsOf.set(name, invlpgs);
      if (events.length > 0) expect(invalidations, name).toBeGreaterThan(before);
    };
    // The program's stack: written before fork, so that fork write-protects it.
    const stack = region(1);
    const a = region(80);
    step("munmap-33", () => p.munmap(a, 33 * PAGE));
    step("mprotect-33-read", () => p.mprotect(a + 33 * PAGE, 33 * PAGE, PROT_READ));
    step("mprotect-34-rw-of-which-33-change", () => p.mprotect(a + 33 * PAGE, 34 * PAGE, RW));
    step("mprotect-34-none", () => p.mprotect(a + 33 * PAGE, 34 * PAGE, PROT_NONE));
    step("munmap-34-protnone", () => p.munmap(a + 33 * PAGE, 34 * PAGE));
    let b = 0;
    step("munmap-13", () => {
      p.munmap(a + 67 * PAGE, 13 * PAGE);
      b = region(40);
    });
    step("mprotect-20-read", () => p.mprotect(b, 20 * PAGE, PROT_READ));
    step("mprotect-40-two-vmas", () => p.mprotect(b, 40 * PAGE, PROT_READ | PROT_EXEC));
    step("mprotect-20-rw", () => p.mprotect(b + 20 * PAGE, 20 * PAGE, RW));
    let c = 0;
    step("munmap-40-two-vmas", () => {
      p.munmap(b, 40 * PAGE);
      c = region(40);
    });
    step("mprotect-20-read-c", () => p.mprotect(c, 20 * PAGE, PROT_READ));
    step("dontneed-40-two-vmas", () => p.madvise(c, 40 * PAGE, MADV_DONTNEED));
    let d = 0;
    step("dontneed-10", () => {
      p.madvise(c + 20 * PAGE, 10 * PAGE, MADV_DONTNEED);
      d = region(40);
    });
    step("mprotect-20-read-d", () => p.mprotect(d, 20 * PAGE, PROT_READ));
    step("free-40-two-vmas", () => {
      p.madvise(d, 40 * PAGE, MADV_FREE);
      for (let i = 30; i < 40; i++) p.storeU8(V(d + i * PAGE), 2);
    });
    step("free-10", () => p.madvise(d + 30 * PAGE, 10 * PAGE, MADV_FREE));
    let e = 0;
    step("munmap-100-two-present", () => {
      e = p.mmap(0, 100 * PAGE, RW, MAP_PRIVATE);
      p.storeU8(V(e), 1);
      p.storeU8(V(e + 99 * PAGE), 1);
    });
    const fixed = (at: number, pages: number) => {
      expect(p.mmap(at, pages * PAGE, RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE)).toBe(at);
      for (let i = 0; i < pages; i++) p.storeU8(V(at + i * PAGE), 1);
      return at;
    };
    let g = 0;
    step("munmap-100-first-and-last-present", () => {
      p.munmap(e, 100 * PAGE);
      g = fixed(0x2000_0000_0000, 40);
    });
    step("mremap-move-40", () =>
      p.mremap(g, 40 * PAGE, 40 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x2000_4000_0000),
    );
    step("mremap-shrink-40-to-5", () => p.mremap(0x2000_4000_0000, 40 * PAGE, 5 * PAGE, 0));
    let k = 0;
    step("mremap-move-5", () => {
      p.mremap(0x2000_4000_0000, 5 * PAGE, 5 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x2000_8000_0000);
      k = fixed(0x2000_c000_0000 + 500 * PAGE, 40);
    });
    step("mremap-move-40-across-2mib", () =>
      p.mremap(k, 40 * PAGE, 40 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x2001_0000_0000),
    );
    let h = 0;
    let t = 0;
    step("mprotect-none-0", () => {
      p.mprotect(0x2001_0000_0000, PAGE, PROT_NONE);
      t = fixed(0x2002_0000_0000 + 100 * PAGE, 10);
    });
    // The page tables it empties go, and the range reaches down to their 2 MiB boundary.
    let u = 0;
    step("munmap-10-alone-at-100", () => {
      p.munmap(t, 10 * PAGE);
      u = fixed(0x2003_0000_0000 + 5 * PAGE, 10);
    });
    step("munmap-10-alone-at-5", () => {
      p.munmap(u, 10 * PAGE);
      h = region(40);
    });
    step("cold-40", () => p.madvise(h, 40 * PAGE, MADV_COLD));
    step("cold-10", () => p.madvise(h, 10 * PAGE, MADV_COLD));
    step("mprotect-40-none-h", () => p.mprotect(h, 40 * PAGE, PROT_NONE));
    let i40 = 0;
    step("mprotect-40-rw-from-none", () => {
      p.mprotect(h, 40 * PAGE, RW);
      i40 = region(40);
    });
    let j = 0;
    step("map-fixed-over-40", () => {
      p.mmap(i40, 40 * PAGE, RW, MAP_PRIVATE | MAP_FIXED);
      j = region(40);
    });
    step("willneed-40", () => p.madvise(j, 40 * PAGE, MADV_WILLNEED));
    step("mprotect-40-exec", () => p.mprotect(j, 40 * PAGE, RW | PROT_EXEC));
    let o = 0;
    step("mprotect-10-read", () => {
      p.mprotect(j + 5 * PAGE, 10 * PAGE, PROT_READ);
      o = region(40);
    });
    step("pageout-10", () => p.madvise(o, 10 * PAGE, MADV_PAGEOUT));
    step("pageout-30", () => p.madvise(o + 10 * PAGE, 30 * PAGE, MADV_PAGEOUT));
    // The 2 MiB-aligned region inside a fresh private mapping of 4 MiB; a
    // transparent huge page: one marked MADV_HUGEPAGE, written once (or
    // read: the huge zero page).
    const HP = 2 * 1024 * 1024;
    const aligned = () => Math.ceil(p.mmap(0, 2 * HP, RW, MAP_PRIVATE) / HP) * HP;
    const huge = (read: boolean) => {
      const h = aligned();
      expect(p.madvise(h, HP, MADV_HUGEPAGE)).toBe(0);
      if (read) p.loadU8(V(h));
      else p.storeU8(V(h), 1);
      return h;
    };
    let hs: number[] = [];
    let hz = 0;
    step("pageout-again", () => {
      p.madvise(o, 40 * PAGE, MADV_PAGEOUT);
      const before = m.kernel.pages.stats.thpFaults;
      hs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => huge(false));
      hz = huge(true);
      expect(m.kernel.pages.stats.thpFaults - before).toBe(10);
      // Two pages of one dirty: the gather still counts one PMD.
      p.storeU8(V(hs[6]! + 7 * PAGE), 1);
    });
    step("mprotect-thp-10-read", () => p.mprotect(hs[0]! + 5 * PAGE, 10 * PAGE, PROT_READ));
    step("munmap-thp-10", () => p.munmap(hs[1]! + 5 * PAGE, 10 * PAGE));
    step("dontneed-thp-10", () => p.madvise(hs[2]! + 5 * PAGE, 10 * PAGE, MADV_DONTNEED));
    step("mprotect-thp-whole-read", () => p.mprotect(hs[3]!, HP, PROT_READ));
    step("mprotect-thp-whole-rw", () => {
      p.mprotect(hs[3]!, HP, RW);
      // Pages of the next two huge pages in the TLB, past their first: the
      // flush of a PMD's one entry must drop all of them here too.
      p.storeU8(V(hs[4]! + 7 * PAGE), 7);
      p.storeU8(V(hs[5]! + 7 * PAGE), 7);
    });
    step("munmap-thp-whole", () => p.munmap(hs[4]!, HP));
    step("dontneed-thp-whole", () => p.madvise(hs[5]!, HP, MADV_DONTNEED));
    let f = 0;
    step("write-huge-zero", () => {
      expect(() => p.loadU8(V(hs[4]! + 7 * PAGE))).toThrow(Fault);
      expect(p.loadU8(V(hs[5]! + 7 * PAGE))).toBe(0);
      p.storeU8(V(hz + 5 * PAGE), 1);
    });
    step("free-thp-whole", () => p.madvise(hs[6]!, HP, MADV_FREE));
    step("cold-thp-whole", () => p.madvise(hs[7]!, HP, MADV_COLD));
    step("mprotect-thp-whole-none", () => p.mprotect(hs[7]!, HP, PROT_NONE));
    step("mprotect-thp-whole-rw-from-none", () => p.mprotect(hs[7]!, HP, RW));
    step("free-thp-10", () => p.madvise(hs[8]! + 5 * PAGE, 10 * PAGE, MADV_FREE));
    let hk = 0;
    let t512 = 0;
    step("cold-thp-10", () => {
      p.madvise(hs[9]! + 5 * PAGE, 10 * PAGE, MADV_COLD);
      hk = huge(false);
      t512 = aligned();
      for (let i = 0; i < 512; i++) p.storeU8(V(t512 + i * PAGE), 1);
    });
    step("mremap-thp-whole-aligned", () =>
      expect(p.mremap(hk, HP, HP, MREMAP_MAYMOVE | MREMAP_FIXED, 0x2004_0000_0000)).toBe(0x2004_0000_0000),
    );
    step("mremap-512-whole-table", () => {
      expect(p.mremap(t512, HP, HP, MREMAP_MAYMOVE | MREMAP_FIXED, 0x2004_4000_0000)).toBe(0x2004_4000_0000);
      f = region(40);
    });
    step("fork", () => {
      p.fork();
      p.storeU8(V(stack), 2);
    });
    step("mprotect-40-read-over-write-protected", () => p.mprotect(f, 40 * PAGE, PROT_READ));
    // The INVLPGs behind the counts: one a page, from the 2 MiB boundary
    // below the pages for a munmap that empties its table; one a 2 MiB
    // stride, rounded up, for a flush that only freed tables (the
    // tracepoint rounds down: 12, 28 and 1 are 12 + 28 + 2 INVLPGs).
    expect(invlpgsOf.get("munmap-10-alone-at-5")).toBe(15);
    expect(invlpgsOf.get("mremap-move-40-across-2mib")).toBe(42);
    expect(invlpgsOf.get("mremap-move-5")).toBe(6);
    expect([...got.keys()]).toEqual([...expected.keys()]);
    for (const [name, events] of got) {
      const want = compared(name, expected.get(name)!);
      expect([name === "fork" ? events.slice(0, want.length) : events, name]).toEqual([want, name]);
    }
    m.check();
  });
});

import { readFileSync } from "node:fs";
import {
  ENOMEM,
  Fault,
  MADV_COLD,
  MADV_FREE,
  MADV_PAGEOUT,
  MADV_REMOVE,
  MADV_WILLNEED,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type SparseRam,
  UsageError,
  virtAddr as V,
} from "@memstack/core";
import { describe, expect, it } from "vitest";
import { ProcessKilled } from "../src/index.js";
import { testKernel } from "./helpers.js";

const RW = PROT_READ | PROT_WRITE;
const PAGE = 4096;
const MiB = 1024 * 1024;

function fillPattern(
  p: { storeU32(a: ReturnType<typeof V>, v: number): void },
  base: number,
  pages: number,
  seed: number,
) {
  for (let i = 0; i < pages; i++) p.storeU32(V(base + i * PAGE), (seed * 7919 + i) >>> 0);
}

function checkPattern(
  p: { loadU32(a: ReturnType<typeof V>): number },
  base: number,
  pages: number,
  seed: number,
): boolean {
  for (let i = 0; i < pages; i++) if (p.loadU32(V(base + i * PAGE)) !== (seed * 7919 + i) >>> 0) return false;
  return true;
}

// Reclaim's next pass after MADV_PAGEOUT: the pages it wrote, which wait in
// the swap cache unmapped (as Linux's do while and after their write to the
// disk), go with nothing written.
function evictWritten(k: ReturnType<typeof testKernel>): void {
  const waiting = [...k.pages.swapCache.values()].filter((f) => k.pages.refs[f] === 0).length;
  expect(k.reclaim(waiting)).toBe(waiting);
  expect([...k.pages.swapCache.values()].filter((f) => k.pages.refs[f] === 0)).toEqual([]);
}

describe("page faults", () => {
  it("maps the zero page on a read and a zeroed frame on the first write", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    const free0 = k.frames.freeFrameCount;
    expect(p.loadU32(V(a))).toBe(0);
    expect(k.frames.freeFrameCount).toBe(free0);
    expect(p.rssAnon).toBe(0);
    p.storeU8(V(a + 5), 9);
    expect(k.frames.freeFrameCount).toBe(free0 - 1);
    expect(p.rssAnon).toBe(1);
    expect(p.loadU8(V(a + 5))).toBe(9);
    // The write lands on the zero page mapped by the read: a copy-on-write of the zero page.
    expect(k.pages.stats.zeroPageMaps).toBe(1);
    expect(k.pages.stats.cowCopies).toBe(1);
    p.storeU8(V(a + PAGE), 1);
    expect(k.pages.stats.zeroFills).toBe(1);
    k.check();
  });

  it("delivers SIGSEGV as a Fault: not-mapped outside any VMA, not-permitted against the protection", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, PAGE, PROT_READ, MAP_PRIVATE);
    const n = p.mmap(0, PAGE, PROT_NONE, MAP_PRIVATE);
    const expectFault = (fn: () => unknown, reason: string, access: string) => {
      try {
        fn();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(Fault);
        expect((e as Fault).reason).toBe(reason);
        expect((e as Fault).access).toBe(access);
      }
    };
    expectFault(() => p.storeU8(V(a), 1), "not-permitted", "write");
    expectFault(() => p.loadU8(V(n)), "not-permitted", "read");
    expectFault(() => p.loadU8(V(a + 64 * PAGE)), "not-mapped", "read");
    expectFault(() => p.storeU32(V(0x1000), 1), "not-mapped", "write");
    k.check();
  });

  it("keeps a page's data across mprotect(PROT_NONE) and back", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    p.storeU32(V(a + PAGE), 0xfeedbeef);
    expect(p.mprotect(a, 2 * PAGE, PROT_NONE)).toBe(0);
    expect(() => p.loadU32(V(a + PAGE))).toThrow(Fault);
    expect(p.rssAnon).toBe(1);
    k.check();
    expect(p.mprotect(a, 2 * PAGE, PROT_READ)).toBe(0);
    expect(p.loadU32(V(a + PAGE))).toBe(0xfeedbeef);
    expect(() => p.storeU32(V(a + PAGE), 1)).toThrow(Fault);
    k.check();
  });

  it("makes PROT_EXEC alone execute-only (protection-key faults) unless executeOnly is false", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    p.storeU32(V(a + PAGE), 0xc0ffee);
    expect(p.mprotect(a, 2 * PAGE, PROT_EXEC)).toBe(0);
    for (const [fn, access] of [
      [() => p.loadU32(V(a + PAGE)), "read"],
      [() => p.loadU8(V(a)), "read"],
      [() => p.storeU8(V(a), 1), "write"],
    ] as const) {
      expect(fn).toThrow(expect.objectContaining({ reason: "protection-key", access }));
      k.check();
    }
    // The page written before stays, kept aside as for PROT_NONE.
    expect(p.rssAnon).toBe(1);
    expect(p.mmap(0, PAGE, PROT_EXEC, MAP_PRIVATE | MAP_POPULATE)).toBeGreaterThan(0);
    expect(p.rssAnon).toBe(1);
    // An instruction fetch would need protection keys in the MMU: a clear error, nothing changed.
    expect(() => k.pages.fault(p, a, "execute")).toThrow(UsageError);
    k.check();
    expect(p.mprotect(a, 2 * PAGE, PROT_READ | PROT_EXEC)).toBe(0);
    expect(p.loadU32(V(a + PAGE))).toBe(0xc0ffee);
    k.check();

    // A CPU without protection keys: PROT_EXEC implies read access.
    const old = testKernel(64 * MiB, { executeOnly: false });
    const q = old.spawn();
    const b = q.mmap(0, PAGE, PROT_EXEC, MAP_PRIVATE);
    expect(q.loadU8(V(b))).toBe(0);
    expect(() => q.storeU8(V(b), 1)).toThrow(expect.objectContaining({ reason: "not-permitted" }));
    old.check();
    expect(() => testKernel(64 * MiB, { executeOnly: 1 as unknown as boolean })).toThrow(/executeOnly/);
  });

  it("prefaults with MAP_POPULATE and moves pages with mremap", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, 8 * PAGE, RW, MAP_PRIVATE | MAP_POPULATE);
    expect(p.rssAnon).toBe(8);
    // Block growth in place: the page after a is taken.
    expect(p.mmap(a + 8 * PAGE, PAGE, PROT_READ, MAP_PRIVATE)).toBe(a + 8 * PAGE);
    fillPattern(p, a, 8, 3);
    const b = p.mremap(a, 8 * PAGE, 16 * PAGE, MREMAP_MAYMOVE);
    expect(b).not.toBe(a);
    expect(checkPattern(p, b, 8, 3)).toBe(true);
    expect(p.loadU32(V(b + 12 * PAGE))).toBe(0);
    expect(() => p.loadU8(V(a))).toThrow(Fault);
    expect(p.rssAnon).toBe(8);
    k.check();
  });

  it("faults past the end of a shared mapping's object, as Linux's SIGBUS, after mremap grows it", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED);
    p.storeU8(V(a + PAGE), 42);
    // Room to grow in place: the shmem file keeps its two pages.
    p.munmap(a + 2 * PAGE, 4 * PAGE);
    expect(p.mremap(a, 2 * PAGE, 4 * PAGE, 0)).toBe(a);
    expect(p.loadU8(V(a + PAGE))).toBe(42);
    expect(() => p.loadU8(V(a + 2 * PAGE))).toThrow(expect.objectContaining({ reason: "past-object-end" }));
    expect(() => p.storeU8(V(a + 3 * PAGE), 1)).toThrow(
      expect.objectContaining({ reason: "past-object-end" }),
    );
    // A second mapping of the same pages (old length 0) sees them, and faults past them too.
    const b = p.mremap(a, 0, 3 * PAGE, MREMAP_MAYMOVE);
    expect(p.loadU8(V(b + PAGE))).toBe(42);
    expect(() => p.loadU8(V(b + 2 * PAGE))).toThrow(expect.objectContaining({ reason: "past-object-end" }));
    // MADV_WILLNEED maps nothing, past the end or before it (Linux only reads ahead).
    const rss = p.rssShmem;
    expect(p.madvise(a, 4 * PAGE, MADV_WILLNEED)).toBe(0);
    expect(p.rssShmem).toBe(rss);
    k.check();
  });

  it("keeps MADV_FREE pages until memory runs short, then drops the clean ones instead of killing", () => {
    // 16 MiB, no swap: only lazily freed pages can be reclaimed.
    const k = testKernel(16 * MiB, { overcommit: { mode: 1 } });
    const p = k.spawn("freer");
    const n = 2048; // 8 MiB
    const a = p.mmap(0, n * PAGE, RW, MAP_PRIVATE);
    for (let i = 0; i < n; i++) p.storeU8(V(a + i * PAGE), (i % 250) + 1);
    expect(p.madvise(a, (n / 2) * PAGE, MADV_FREE)).toBe(0);
    k.check();
    // No pressure yet: the pages keep their contents, and stay in RSS.
    expect(p.loadU8(V(a + 5 * PAGE))).toBe(6);
    expect(p.rssAnon).toBe(n);
    // Written again since: no longer free to drop.
    for (let i = 0; i < 10; i++) p.storeU8(V(a + i * PAGE), 77);
    const q = p.fork("taker");
    expect(q).not.toBeNull();
    // The child maps the parent's pages shared: make it exit to let them go back to one owner.
    q!.exit();
    const r = k.spawn("taker");
    const b = r.mmap(0, 2560 * PAGE, RW, MAP_PRIVATE);
    for (let i = 0; i < 2560; i++) r.storeU8(V(b + i * PAGE), 1);
    expect(p.alive && r.alive).toBe(true);
    expect(k.pages.stats.lazyFrees).toBeGreaterThan(500);
    for (let i = 0; i < 10; i++) expect(p.loadU8(V(a + i * PAGE))).toBe(77);
    let zeros = 0;
    for (let i = 10; i < n / 2; i++) {
      const v = p.loadU8(V(a + i * PAGE));
      if (v === 0) zeros++;
      else expect(v).toBe((i % 250) + 1);
    }
    expect(zeros).toBe(k.pages.stats.lazyFrees);
    for (let i = n / 2; i < n; i++) expect(p.loadU8(V(a + i * PAGE))).toBe((i % 250) + 1);
    k.check();
    // Without the advice the same demand kills: nothing else can be reclaimed,
    // and the OOM killer takes the biggest process.
    const k2 = testKernel(16 * MiB, { overcommit: { mode: 1 } });
    const p2 = k2.spawn("keeper");
    const a2 = p2.mmap(0, n * PAGE, RW, MAP_PRIVATE);
    for (let i = 0; i < n; i++) p2.storeU8(V(a2 + i * PAGE), 1);
    const r2 = k2.spawn("taker");
    const b2 = r2.mmap(0, 2560 * PAGE, RW, MAP_PRIVATE);
    for (let i = 0; i < 2560; i++) r2.storeU8(V(b2 + i * PAGE), 1);
    expect(p2.alive).toBe(false);
    expect(k2.pages.stats.lazyFrees).toBe(0);
    k2.check();
  });

  it("drops MAP_DROPPABLE pages, written or not, when memory runs short, instead of killing", () => {
    // 16 MiB, no swap: the droppable pages are all reclaim can take.
    const k = testKernel(16 * MiB, { overcommit: { mode: 1 } });
    const p = k.spawn("cache");
    const n = 2048; // 8 MiB
    const committed = k.commit.committed;
    const a = p.mmap(0, n * PAGE, RW, MAP_DROPPABLE);
    // Never charged (VM_NORESERVE).
    expect(k.commit.committed).toBe(committed);
    for (let i = 0; i < n; i++) p.storeU8(V(a + i * PAGE), (i % 250) + 1);
    k.check();
    // MADV_PAGEOUT drops them at once, with no swap to write them to.
    expect(p.madvise(a, 4 * PAGE, MADV_PAGEOUT)).toBe(0);
    expect(k.pages.stats.drops).toBe(4);
    expect(p.loadU8(V(a))).toBe(0);
    expect(p.loadU8(V(a + 4 * PAGE))).toBe(5);
    k.check();
    const r = k.spawn("taker");
    const b = r.mmap(0, 2560 * PAGE, RW, MAP_PRIVATE);
    for (let i = 0; i < 2560; i++) r.storeU8(V(b + i * PAGE), 1);
    k.check();
    expect(p.alive && r.alive).toBe(true);
    expect(k.pages.stats.drops).toBeGreaterThan(500);
    let zeros = 0;
    for (let i = 4; i < n; i++) {
      const v = p.loadU8(V(a + i * PAGE));
      if (v === 0) zeros++;
      else expect(v).toBe((i % 250) + 1);
    }
    expect(zeros).toBe(k.pages.stats.drops - 4);
    k.check();
  });

  it("refuses misuse of the TypeScript API, naming the argument", () => {
    const k = testKernel();
    const p = k.spawn();
    expect(() => p.mmap(-1, PAGE, RW, MAP_PRIVATE)).toThrow(UsageError);
    expect(() => p.munmap(0, 1.5)).toThrow(/length/);
    expect(() => p.brk(Number.NaN)).toThrow(UsageError);
    expect(() => p.mprotect(0, 2 ** 64, PROT_READ)).toThrow(/length/);
    k.check();
  });
});

describe("fork", () => {
  it("shares private pages copy-on-write and copies only what is written", () => {
    const k = testKernel();
    const parent = k.spawn("parent");
    const a = parent.mmap(0, 16 * PAGE, RW, MAP_PRIVATE);
    fillPattern(parent, a, 16, 1);
    const free0 = k.frames.freeFrameCount;
    const child = parent.fork("child")!;
    expect(k.frames.freeFrameCount).toBe(free0);
    expect(k.pages.stats.cowCopies).toBe(0);
    expect(checkPattern(child, a, 16, 1)).toBe(true);
    child.storeU32(V(a), 42);
    expect(k.pages.stats.cowCopies).toBe(1);
    expect(parent.loadU32(V(a))).toBe(1 * 7919);
    expect(child.loadU32(V(a))).toBe(42);
    // The parent's write to a page the child still shares copies it too.
    parent.storeU32(V(a + PAGE), 7);
    expect(child.loadU32(V(a + PAGE))).toBe((7919 + 1) >>> 0);
    k.check();
    child.exit();
    // Back to one mapper: the parent reuses its remaining pages without copying.
    const copies = k.pages.stats.cowCopies;
    parent.storeU32(V(a + 2 * PAGE), 9);
    expect(k.pages.stats.cowCopies).toBe(copies);
    k.check();
  });

  it("gives back write access by mprotect only to the pages a process has to itself", () => {
    const k = testKernel();
    const parent = k.spawn("parent");
    const a = parent.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    fillPattern(parent, a, 4, 1);
    const child = parent.fork("child")!;
    // The child's first page is its own copy; the other three it still shares.
    child.storeU32(V(a), 42);
    expect(child.mprotect(a, 4 * PAGE, PROT_READ)).toBe(0);
    expect(child.mprotect(a, 4 * PAGE, RW)).toBe(0);
    k.check();
    const copies = k.pages.stats.cowCopies;
    child.storeU32(V(a), 43);
    expect(k.pages.stats.cowCopies).toBe(copies);
    child.storeU32(V(a + PAGE), 44);
    expect(k.pages.stats.cowCopies).toBe(copies + 1);
    expect(parent.loadU32(V(a + PAGE))).toBe((7919 + 1) >>> 0);
    k.check();
  });

  it("keeps shared mappings shared between parent and child", () => {
    const k = testKernel();
    const parent = k.spawn();
    const s = parent.mmap(0, 2 * PAGE, RW, MAP_SHARED);
    parent.storeU8(V(s), 1);
    const child = parent.fork()!;
    child.storeU8(V(s), 2);
    child.storeU8(V(s + PAGE), 3);
    expect(parent.loadU8(V(s))).toBe(2);
    expect(parent.loadU8(V(s + PAGE))).toBe(3);
    parent.exit();
    expect(child.loadU8(V(s))).toBe(2);
    k.check();
  });

  it("copies no data page when forking a process with 64 MiB touched", () => {
    const k = testKernel(256 * MiB);
    const parent = k.spawn();
    const size = 64 * MiB;
    const a = parent.mmap(0, size, RW, MAP_PRIVATE | MAP_POPULATE);
    const backed = (k.ram as SparseRam).backedFrameCount;
    const free0 = k.frames.freeFrameCount;
    const child = parent.fork()!;
    expect(k.pages.stats.cowCopies).toBe(0);
    expect(k.frames.freeFrameCount).toBe(free0);
    expect((k.ram as SparseRam).backedFrameCount).toBe(backed);
    expect(child.rssAnon).toBe(size / PAGE);
    void a;
    k.check();
  });
});

describe("memory hygiene", () => {
  it("never lets a process read another's freed secrets", () => {
    const k = testKernel(8 * MiB);
    const spy = k.spawn("spy-victim");
    const a = spy.mmap(0, 256 * PAGE, RW, MAP_PRIVATE);
    for (let i = 0; i < 256; i++) spy.fill(V(a + i * PAGE), PAGE, 0xa5);
    spy.exit();
    const reader = k.spawn("reader");
    const b = reader.mmap(0, 1000 * PAGE, RW, MAP_PRIVATE);
    const page = new Uint8Array(PAGE);
    for (let i = 0; i < 1000; i++) {
      reader.storeU8(V(b + i * PAGE), 0); // a write fault: a fresh frame
      reader.loadBytes(V(b + i * PAGE), page);
      expect(page.every((x) => x === 0)).toBe(true);
    }
    k.check();
  });

  it("refuses calls on a process that has exited", () => {
    const k = testKernel();
    const p = k.spawn();
    p.exit();
    expect(() => p.mmap(0, PAGE, RW, MAP_PRIVATE)).toThrow(ProcessKilled);
    expect(() => p.loadU8(V(0x10000))).toThrow(ProcessKilled);
    k.check();
  });
});

describe("swap", () => {
  it("swaps out cold pages under pressure and brings them back intact", () => {
    const k = testKernel(4 * MiB, { swapBytes: 16 * MiB });
    const p = k.spawn();
    const pages = 2000; // about twice the RAM
    const a = p.mmap(0, pages * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, pages, 11);
    expect(k.pages.stats.swapOuts).toBeGreaterThan(0);
    expect(p.swap.size).toBeGreaterThan(0);
    k.check();
    expect(checkPattern(p, a, pages, 11)).toBe(true);
    expect(k.pages.stats.swapIns).toBeGreaterThan(0);
    expect(p.status()).toMatch(/VmSwap:\t\s+\d+ kB/);
    k.check();
    p.exit();
    expect(k.swap.usedSlots).toBe(0);
    k.check();
  });

  it("pages out what PROT_NONE keeps aside, as Linux does its protnone entries", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const a = p.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, 4, 5);
    expect(p.mprotect(a, 4 * PAGE, PROT_NONE)).toBe(0);
    const rss = p.rssAnon;
    expect(p.madvise(a, 4 * PAGE, MADV_PAGEOUT)).toBe(0);
    expect(k.pages.stats.swapOuts).toBe(4);
    expect([p.rssAnon, p.swap.size, p.hidden.size]).toEqual([rss - 4, 4, 0]);
    // Written, they wait in the swap cache (swap-pageout.vm shows Linux's do).
    expect(k.meminfo()).toMatch(/^SwapCached:\s+16 kB$/m);
    k.check();
    evictWritten(k);
    // Readable again: each page comes back from swap at its first access,
    // and stays in the swap cache with its slot (read faults).
    expect(p.mprotect(a, 4 * PAGE, PROT_READ)).toBe(0);
    expect(checkPattern(p, a, 4, 5)).toBe(true);
    expect(k.pages.stats.swapIns).toBe(4);
    expect([k.swap.usedSlots, k.pages.swapCache.size, p.swap.size]).toEqual([4, 4, 0]);
    expect(k.meminfo()).toMatch(/^SwapCached:\s+16 kB$/m);
    k.check();
    // Unmapped, the pages leave the cache and their slots are free.
    expect(p.munmap(a, 4 * PAGE)).toBe(0);
    expect([k.swap.usedSlots, k.pages.swapCache.size]).toEqual([0, 0]);
    k.check();
  });
  it("swaps out what PROT_NONE keeps aside under memory pressure, instead of killing", () => {
    // Linux's reclaim reaches protnone entries as any (try_to_unmap_one()).
    const k = testKernel(16 * MiB, { swapBytes: 16 * MiB, overcommit: { mode: 1 } });
    const p = k.spawn("hider");
    const n = 2048; // 8 MiB
    const a = p.mmap(0, n * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, n, 9);
    expect(p.mprotect(a, n * PAGE, PROT_NONE)).toBe(0);
    expect(p.hidden.size).toBe(n);
    k.check();
    const r = k.spawn("taker");
    const b = r.mmap(0, 2560 * PAGE, RW, MAP_PRIVATE);
    fillPattern(r, b, 2560, 3);
    k.check();
    expect(p.alive && r.alive).toBe(true);
    expect(p.swap.size).toBeGreaterThan(0);
    expect(p.swap.size + p.hidden.size).toBe(n);
    expect(p.status()).toMatch(new RegExp(`VmSwap:\\s+${p.swap.size * 4} kB`));
    // Readable again: the pages come back from swap at their first access.
    expect(p.mprotect(a, n * PAGE, PROT_READ)).toBe(0);
    expect(checkPattern(p, a, n, 9)).toBe(true);
    expect(checkPattern(r, b, 2560, 3)).toBe(true);
    k.check();
  });

  it("swaps out pages shared after fork from every process at once, instead of killing", () => {
    const k = testKernel(16 * MiB, { swapBytes: 16 * MiB, overcommit: { mode: 1 } });
    const parent = k.spawn("parent");
    const n = 2048; // 8 MiB, shared copy-on-write with the child
    const a = parent.mmap(0, n * PAGE, RW, MAP_PRIVATE);
    fillPattern(parent, a, n, 4);
    const child = parent.fork("child")!;
    expect(child).not.toBeNull();
    // A quarter kept aside by PROT_NONE in the child.
    expect(child.mprotect(a, (n / 4) * PAGE, PROT_NONE)).toBe(0);
    k.check();
    const r = k.spawn("taker");
    const b = r.mmap(0, 2560 * PAGE, RW, MAP_PRIVATE);
    fillPattern(r, b, 2560, 6);
    k.check();
    expect(parent.alive && child.alive && r.alive).toBe(true);
    // Each page went out of both processes together, to one slot.
    const swapped = [...parent.swap.keys()];
    expect(swapped.length).toBeGreaterThan(0);
    expect([...child.swap.keys()]).toEqual(swapped);
    for (const vpn of swapped) {
      const slot = parent.swap.get(vpn)!;
      expect(child.swap.get(vpn)).toBe(slot);
      expect(k.swap.useCount(slot)).toBe(2);
    }
    expect(swapped.some((vpn) => vpn < (a + (n / 4) * PAGE) / PAGE)).toBe(true);
    expect(k.pages.stats.swapOuts).toBe(swapped.length + r.swap.size);
    // The taker goes; the child reads its pages back into the swap cache,
    // and the parent then finds each one there and maps the same frame
    // (read-only in both), as Linux's swap cache lets them.
    expect(checkPattern(r, b, 2560, 6)).toBe(true);
    r.exit();
    expect(child.mprotect(a, (n / 4) * PAGE, PROT_READ)).toBe(0);
    const ins = k.pages.stats.swapIns;
    expect(checkPattern(child, a, n, 4)).toBe(true);
    k.check();
    expect(k.pages.stats.swapIns - ins).toBe(swapped.length);
    expect(checkPattern(parent, a, n, 4)).toBe(true);
    expect(k.pages.stats.swapIns - ins).toBe(swapped.length);
    for (const vpn of swapped) {
      const here = k.mmu.query(parent.space, vpn * PAGE)!;
      expect(k.mmu.query(child.space, vpn * PAGE)!.phys).toBe(here.phys);
      expect(here.write).toBe(false);
    }
    k.check();
    // A write copies the page for the writer, as after fork.
    const cow = k.pages.stats.cowCopies;
    parent.storeU32(V(swapped[0]! * PAGE), 1);
    expect(k.pages.stats.cowCopies).toBe(cow + 1);
    expect(child.loadU32(V(swapped[0]! * PAGE))).not.toBe(1);
    k.check();
    for (const p of [parent, child]) p.exit();
    expect(k.swap.usedSlots).toBe(0);
    k.check();
  });

  it("swaps out shmem pages from every process that maps them under pressure, and reads them back", () => {
    // shmem_writeout(): the swap entry goes into the object, not the page tables.
    const k = testKernel(16 * MiB, { swapBytes: 16 * MiB, overcommit: { mode: 1 } });
    const parent = k.spawn("parent");
    const n = 2048; // 8 MiB of MAP_SHARED | MAP_ANONYMOUS, mapped by the child too
    const a = parent.mmap(0, n * PAGE, RW, MAP_SHARED);
    fillPattern(parent, a, n, 8);
    const child = parent.fork("child")!;
    expect(child).not.toBeNull();
    // The child touches every page; a quarter of them it keeps aside with PROT_NONE.
    expect(checkPattern(child, a, n, 8)).toBe(true);
    expect(child.mprotect(a, (n / 4) * PAGE, PROT_NONE)).toBe(0);
    k.check();
    const obj = parent.mm.tree.lookup(a)!.object!;
    const r = k.spawn("taker");
    const b = r.mmap(0, 2560 * PAGE, RW, MAP_PRIVATE);
    fillPattern(r, b, 2560, 6);
    k.check();
    expect(parent.alive && child.alive && r.alive).toBe(true);
    const swapped = obj.swapped.size;
    expect(swapped).toBeGreaterThan(0);
    expect(obj.frames.size + swapped).toBe(n);
    // Gone from both processes' RSS and from Shmem, counted in SwapFree, never in VmSwap.
    expect(parent.rssShmem).toBe(obj.frames.size);
    expect(child.rssShmem + child.hidden.size).toBeLessThanOrEqual(obj.frames.size * 2);
    expect([...obj.swapped.keys()].some((idx) => idx < n / 4)).toBe(true);
    const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(k.meminfo())![1]);
    expect(kB("Shmem")).toBe(obj.frames.size * 4);
    expect(kB("SwapTotal") - kB("SwapFree")).toBe((swapped + r.swap.size) * 4);
    expect(parent.swap.size + child.swap.size).toBe(0);
    expect(parent.status()).toMatch(/VmSwap:\s+0 kB/);
    // Each page comes back once, for whoever faults it first; its slot is freed then.
    expect(child.mprotect(a, (n / 4) * PAGE, PROT_READ)).toBe(0);
    const ins = k.pages.stats.swapIns;
    expect(checkPattern(child, a, n, 8)).toBe(true);
    k.check();
    expect(checkPattern(parent, a, n, 8)).toBe(true);
    expect(checkPattern(r, b, 2560, 6)).toBe(true);
    expect(k.pages.stats.swapIns - ins).toBeGreaterThanOrEqual(swapped);
    k.check();
    for (const p of [parent, child, r]) p.exit();
    expect(k.swap.usedSlots).toBe(0);
    k.check();
  });

  it("writes a dirty shmem page out with MADV_PAGEOUT, drops a clean one, and frees the slot when it comes back", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const a = p.mmap(0, 4 * PAGE, RW, MAP_SHARED);
    fillPattern(p, a, 3, 2);
    expect(p.loadU32(V(a + 3 * PAGE))).toBe(0); // read only: clean
    const obj = p.mm.tree.lookup(a)!.object!;
    expect(p.madvise(a, 4 * PAGE, MADV_PAGEOUT)).toBe(0);
    expect([obj.frames.size, obj.swapped.size, p.rssShmem, k.swap.usedSlots]).toEqual([0, 3, 0, 3]);
    expect(k.pages.stats.swapOuts).toBe(3);
    k.check();
    // The pages written wait in the swap cache (swap-shmem.vm); reclaim's next pass takes them.
    expect(k.meminfo()).toMatch(/^SwapCached:\s+12 kB$/m);
    evictWritten(k);
    expect(checkPattern(p, a, 3, 2)).toBe(true);
    expect(p.loadU32(V(a + 3 * PAGE))).toBe(0);
    expect([obj.frames.size, obj.swapped.size, p.rssShmem, k.swap.usedSlots]).toEqual([4, 0, 4, 0]);
    expect(k.pages.stats.swapIns).toBe(3);
    // A page read back from swap is dirty (its only copy is in memory): paged out again, it is written again.
    expect(p.madvise(a, 4 * PAGE, MADV_PAGEOUT)).toBe(0);
    expect([obj.frames.size, obj.swapped.size]).toEqual([0, 3]);
    k.check();
    // A hole punched in the object gives its slots back.
    expect(p.madvise(a, 2 * PAGE, MADV_REMOVE)).toBe(0);
    expect([obj.swapped.size, k.swap.usedSlots]).toEqual([1, 1]);
    expect(p.loadU32(V(a))).toBe(0);
    expect(p.loadU32(V(a + 2 * PAGE))).toBe((2 * 7919 + 2) >>> 0);
    k.check();
    // Without a free slot a dirty page stays in the object, unmapped.
    const full = testKernel(16 * MiB, { swapBytes: 0 });
    const q = full.spawn();
    const c = q.mmap(0, 2 * PAGE, RW, MAP_SHARED);
    fillPattern(q, c, 2, 3);
    expect(q.madvise(c, 2 * PAGE, MADV_PAGEOUT)).toBe(0);
    const o = q.mm.tree.lookup(c)!.object!;
    expect([o.frames.size, o.swapped.size, q.rssShmem]).toEqual([2, 0, 0]);
    expect(checkPattern(q, c, 2, 3)).toBe(true);
    full.check();
  });

  it("gives a shmem page the second chance of an Accessed bit in any entry mapping it", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn("p");
    const a = p.mmap(0, 4 * PAGE, RW, MAP_SHARED);
    fillPattern(p, a, 4, 1);
    // The child maps all four pages (its read faults the others around it).
    const q = p.fork("q")!;
    expect(q.loadU32(V(a))).toBe(7919);
    expect(q.rssShmem).toBe(4);
    // Every entry made old, then the child reads page 2 again.
    for (const proc of [p, q]) {
      for (let i = 0; i < 4; i++) {
        k.mmu.testAndClearAccessed(proc.space, a + i * PAGE);
        k.mmu.invalidatePage(proc.space, a + i * PAGE);
      }
    }
    expect(q.loadU32(V(a + 2 * PAGE))).toBe(7921);
    const obj = p.mm.tree.lookup(a)!.object!;
    expect(k.pages.reclaim(3)).toBe(3);
    expect([...obj.swapped.keys()].sort()).toEqual([0, 1, 3]);
    expect([p.rssShmem, q.rssShmem]).toEqual([1, 1]);
    k.check();
    // The pass cleared page 2's bit: the next one takes it.
    expect(k.pages.reclaim(1)).toBe(1);
    expect(obj.swapped.size).toBe(4);
    k.check();
    expect(checkPattern(q, a, 4, 1)).toBe(true);
    expect(checkPattern(p, a, 4, 1)).toBe(true);
    expect(k.swap.usedSlots).toBe(0);
    k.check();
  });

  it("keeps a page read back from swap in the swap cache, its slot kept until a write or an unmap", () => {
    // vm.page-cluster 0: each fault reads its own page only (readahead is tested below).
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB, pageCluster: 0 });
    const p = k.spawn();
    const a = p.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, 4, 3);
    expect(p.madvise(a, 4 * PAGE, MADV_PAGEOUT)).toBe(0);
    const slot0 = p.swap.get(a / PAGE)!;
    expect([k.swap.usedSlots, k.pages.stats.swapOuts]).toEqual([4, 4]);
    evictWritten(k);
    const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(k.meminfo())![1]);
    // A read fault: the page comes back writable (its entry was the slot's
    // only one) and stays in the swap cache; the slot stays taken.
    expect(p.loadU32(V(a))).toBe(3 * 7919);
    expect(k.mmu.query(p.space, a)!.write).toBe(true);
    expect([k.swap.usedSlots, kB("SwapCached"), kB("AnonPages"), p.swap.size]).toEqual([4, 4, 4, 3]);
    k.check();
    // A write fault frees the slot at once (should_try_to_free_swap()).
    p.storeU32(V(a + PAGE), 1);
    expect([k.swap.usedSlots, kB("SwapCached")]).toEqual([3, 4]);
    k.check();
    // Paged out again unwritten, page 0 goes back to its slot with nothing written.
    expect(p.madvise(a, PAGE, MADV_PAGEOUT)).toBe(0);
    expect([p.swap.get(a / PAGE), k.pages.stats.swapOuts, kB("SwapCached")]).toEqual([slot0, 4, 0]);
    k.check();
    // Read back, written through its writable entry (no fault), paged out: written again.
    expect(p.loadU32(V(a))).toBe(3 * 7919);
    p.storeU32(V(a), 77);
    expect(p.madvise(a, PAGE, MADV_PAGEOUT)).toBe(0);
    expect([p.swap.get(a / PAGE), k.pages.stats.swapOuts]).toEqual([slot0, 5]);
    expect(p.loadU32(V(a))).toBe(77);
    k.check();
    // A Dirty bit that goes with its entry (mprotect PROT_NONE keeps the frame
    // aside) is kept on the page: paged out, it is written.
    p.storeU32(V(a), 78);
    expect(p.mprotect(a, PAGE, PROT_NONE)).toBe(0);
    expect(p.madvise(a, PAGE, MADV_PAGEOUT)).toBe(0);
    expect(k.pages.stats.swapOuts).toBe(6);
    expect(p.mprotect(a, PAGE, PROT_READ)).toBe(0);
    expect(p.loadU32(V(a))).toBe(78);
    k.check();
    // Written after it was read back, then shared by fork: the parent's
    // entry holds the Dirty bit. When it goes, the page keeps it, and
    // paging the child's page out writes it.
    expect(p.mprotect(a, PAGE, RW)).toBe(0);
    expect(p.madvise(a, PAGE, MADV_PAGEOUT)).toBe(0);
    expect(p.loadU32(V(a))).toBe(78);
    p.storeU32(V(a), 79);
    const c = p.fork("child")!;
    expect(p.munmap(a, PAGE)).toBe(0);
    const outs = k.pages.stats.swapOuts;
    expect(c.madvise(a, PAGE, MADV_PAGEOUT)).toBe(0);
    expect(k.pages.stats.swapOuts).toBe(outs + 1);
    expect(c.loadU32(V(a))).toBe(79);
    k.check();
    c.exit();
    // Moved by mremap, the entry goes and a clean one comes: the page keeps the Dirty bit.
    const b = a + 2 * PAGE;
    p.storeU32(V(b), 80);
    expect(p.madvise(b, PAGE, MADV_PAGEOUT)).toBe(0);
    expect(p.loadU32(V(b))).toBe(80);
    p.storeU32(V(b), 81);
    const to = p.mmap(0, PAGE, RW, MAP_PRIVATE);
    expect(p.mremap(b, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to)).toBe(to);
    expect(p.madvise(to, PAGE, MADV_PAGEOUT)).toBe(0);
    expect(k.pages.stats.swapOuts).toBe(outs + 3);
    expect(p.loadU32(V(to))).toBe(81);
    k.check();
    expect(p.munmap(to, PAGE)).toBe(0);
    expect(p.munmap(a, 4 * PAGE)).toBe(0);
    expect([k.swap.usedSlots, kB("SwapCached")]).toEqual([0, 0]);
    k.check();
  });

  it("shares a slot's page between the processes that read it back, and frees it with the last entry", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const parent = k.spawn("parent");
    const a = parent.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    fillPattern(parent, a, 2, 9);
    expect(parent.madvise(a, 2 * PAGE, MADV_PAGEOUT)).toBe(0);
    evictWritten(k);
    const child = parent.fork("child")!;
    // Both entries refer to each slot.
    const [s0, s1] = [parent.swap.get(a / PAGE)!, parent.swap.get(a / PAGE + 1)!];
    expect([k.swap.useCount(s0), k.swap.useCount(s1)]).toEqual([2, 2]);
    // The child reads both pages back, read-only (another entry refers to each slot).
    expect(checkPattern(child, a, 2, 9)).toBe(true);
    expect(k.mmu.query(child.space, a)!.write).toBe(false);
    expect([k.pages.swapCache.size, k.pages.stats.swapIns]).toEqual([2, 2]);
    k.check();
    // Unmapped by the child, they stay in the cache for the parent's entries.
    expect(child.munmap(a, 2 * PAGE)).toBe(0);
    expect([k.pages.swapCache.size, k.swap.usedSlots]).toEqual([2, 2]);
    expect(k.meminfo()).toMatch(/^AnonPages:\s+0 kB$/m);
    k.check();
    // Reclaim frees the pages only the cache holds, writing nothing; the
    // parent's faults read them again.
    const outs = k.pages.stats.swapOuts;
    expect(k.pages.reclaim(2)).toBe(2);
    expect([k.pages.swapCache.size, k.swap.usedSlots, k.pages.stats.swapOuts]).toEqual([0, 2, outs]);
    k.check();
    expect(checkPattern(parent, a, 2, 9)).toBe(true);
    expect(k.pages.stats.swapIns).toBe(4);
    k.check();
    // The parent's own pages now: its entries were the slots' last ones.
    parent.storeU32(V(a), 5);
    expect(parent.munmap(a, 2 * PAGE)).toBe(0);
    expect([k.pages.swapCache.size, k.swap.usedSlots]).toEqual([0, 0]);
    k.check();
    // Unmapping the last entry of a slot whose page only the cache holds frees both.
    const q = k.spawn("q");
    const b = q.mmap(0, PAGE, RW, MAP_PRIVATE);
    q.storeU32(V(b), 1);
    expect(q.madvise(b, PAGE, MADV_PAGEOUT)).toBe(0);
    const r = q.fork("r")!;
    expect(r.loadU32(V(b))).toBe(1);
    expect(r.munmap(b, PAGE)).toBe(0);
    expect([k.pages.swapCache.size, k.swap.usedSlots]).toEqual([1, 1]);
    expect(q.munmap(b, PAGE)).toBe(0);
    expect([k.pages.swapCache.size, k.swap.usedSlots]).toEqual([0, 0]);
    k.check();
  });

  it("reads swapped-out pages into the swap cache on MADV_WILLNEED, mapping none", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const a = p.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, 4, 6);
    expect(p.madvise(a, 4 * PAGE, MADV_PAGEOUT)).toBe(0);
    evictWritten(k);
    expect(p.madvise(a, 4 * PAGE, MADV_WILLNEED)).toBe(0);
    expect([k.pages.stats.swapIns, k.pages.swapCache.size, p.rssAnon, p.swap.size]).toEqual([4, 4, 0, 4]);
    expect(k.meminfo()).toMatch(/^SwapCached:\s+16 kB$/m);
    k.check();
    // The faults find them there: nothing more is read.
    expect(checkPattern(p, a, 4, 6)).toBe(true);
    expect([k.pages.stats.swapIns, p.rssAnon, p.swap.size]).toEqual([4, 4, 0]);
    k.check();
  });

  it("frees the slot of a page read back while swap is more than half full", () => {
    // vm_swap_full(): should_try_to_free_swap() frees it even on a read.
    const k = testKernel(16 * MiB, { swapBytes: 4 * PAGE, pageCluster: 0 });
    const p = k.spawn();
    const a = p.mmap(0, 3 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, 3, 2);
    expect(p.madvise(a, 3 * PAGE, MADV_PAGEOUT)).toBe(0);
    evictWritten(k);
    expect(k.swap.usedSlots).toBe(3);
    expect(p.loadU32(V(a))).toBe(2 * 7919);
    expect([k.swap.usedSlots, k.pages.swapCache.size]).toEqual([2, 0]);
    // Half full no more (2 of 4): the next read keeps its slot.
    expect(p.loadU32(V(a + PAGE))).toBe(2 * 7919 + 1);
    expect([k.swap.usedSlots, k.pages.swapCache.size]).toEqual([2, 1]);
    k.check();
  });

  // Swap readahead (mm/swap_state.c, swap_vma_readahead): the expected
  // pages follow Linux's rules step by step. Each test first has reclaim
  // take the pages MADV_PAGEOUT left in the swap cache, as a fault on one
  // still there reads nothing (swap-pageout.vm); the host the fixtures come
  // from cannot show readahead itself (see the README of the fixtures).
  // Per page of [a, a + n pages): 1 if mapped or in the swap cache, as mincore(2) reports.
  const resident = (
    k: ReturnType<typeof testKernel>,
    p: ReturnType<ReturnType<typeof testKernel>["spawn"]>,
    a: number,
    n: number,
  ) =>
    Array.from({ length: n }, (_, i) => {
      const vpn = a / PAGE + i;
      if (k.mmu.query(p.space, a + i * PAGE) !== null) return "1";
      const slot = p.swap.get(vpn);
      return slot !== undefined && k.pages.swapCache.has(slot) ? "1" : "0";
    }).join("");
  const pagesIn = (spans: [number, number][], n: number) =>
    Array.from({ length: n }, (_, i) => (spans.some(([lo, hi]) => i >= lo && i < hi) ? "1" : "0")).join("");

  it("reads ahead around a swap fault in its VMA, the window following the faults as Linux's does", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const n = 64;
    const a = p.mmap(0, n * PAGE, RW, MAP_PRIVATE);
    expect((a % (2 * MiB)) + n * PAGE).toBeLessThanOrEqual(2 * MiB); // one PTE table
    fillPattern(p, a, n, 4);
    expect(p.madvise(a, n * PAGE, MADV_PAGEOUT)).toBe(0);
    evictWritten(k);
    const s = k.pages.stats;
    const read = (i: number, ins: number, ahead: number, hits: number) => {
      expect(p.loadU32(V(a + i * PAGE))).toBe((4 * 7919 + i) >>> 0);
      expect([s.swapIns, s.swapReadahead, s.swapReadaheadHits]).toEqual([ins, ahead, hits]);
      k.check();
    };
    // The VMA's first swap fault: 4 hits assumed, a window of 8 around page 10.
    read(10, 8, 7, 0);
    expect(resident(k, p, a, n)).toBe(pagesIn([[7, 15]], n));
    // Faults on pages read ahead find them in the cache: hits, nothing read.
    for (const i of [11, 12, 13, 14]) read(i, 8, 7, i - 10);
    // The next miss, just after the last fault: 4 hits give 8 pages, forward.
    read(15, 16, 14, 4);
    expect(resident(k, p, a, n)).toBe(pagesIn([[7, 23]], n));
    // Elsewhere, no hits: the window halves (4, around page 40; then 2, from 50), then 1.
    read(40, 20, 17, 4);
    read(50, 22, 18, 4);
    read(60, 23, 18, 4);
    // Next to the last fault with no hits: 2 pages, forward from 61; backward from 29 after 30.
    read(61, 25, 19, 4);
    read(30, 26, 19, 4);
    read(29, 28, 20, 4);
    expect(resident(k, p, a, n)).toBe(
      pagesIn(
        [
          [7, 23],
          [28, 31],
          [39, 43],
          [50, 52],
          [60, 63],
        ],
        n,
      ),
    );
    expect(checkPattern(p, a, n, 4)).toBe(true);
    k.check();
  });

  it("keeps the readahead window inside the VMA and the 2 MiB region, and to 2^page-cluster pages", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    // A VMA of 4 pages: the window of 8 around page 1 is cut to the VMA.
    const small = p.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, small, 4, 1);
    expect(p.madvise(small, 4 * PAGE, MADV_PAGEOUT)).toBe(0);
    evictWritten(k);
    expect(checkPattern(p, small, 1, 1)).toBe(true);
    expect([k.pages.stats.swapIns, resident(k, p, small, 4)]).toEqual([4, "1111"]);
    // 8 pages across a 2 MiB boundary: a fault below it reads below it only.
    const boundary = 0x7fff_f740_0000;
    const b = p.mmap(boundary - 4 * PAGE, 8 * PAGE, RW, MAP_PRIVATE | MAP_FIXED);
    fillPattern(p, b, 8, 2);
    expect(p.madvise(b, 8 * PAGE, MADV_PAGEOUT)).toBe(0);
    evictWritten(k);
    const before = k.pages.stats.swapIns;
    expect(p.loadU32(V(b + 3 * PAGE))).toBe((2 * 7919 + 3) >>> 0);
    expect([k.pages.stats.swapIns - before, resident(k, p, b, 8)]).toEqual([4, "11110000"]);
    k.check();
    // vm.page-cluster 2: at most 4 pages; 0: the faulting page only.
    for (const [cluster, window] of [
      [2, "0000000111100000"],
      [0, "0000000010000000"],
    ] as const) {
      const k2 = testKernel(16 * MiB, { swapBytes: 4 * MiB, pageCluster: cluster });
      const p2 = k2.spawn();
      const c = p2.mmap(0, 16 * PAGE, RW, MAP_PRIVATE);
      fillPattern(p2, c, 16, 3);
      expect(p2.madvise(c, 16 * PAGE, MADV_PAGEOUT)).toBe(0);
      evictWritten(k2);
      expect(p2.loadU32(V(c + 8 * PAGE))).toBe((3 * 7919 + 8) >>> 0);
      expect(resident(k2, p2, c, 16)).toBe(window);
      k2.check();
    }
    for (const bad of [-1, 32, 1.5]) {
      expect(() => testKernel(16 * MiB, { swapBytes: 4 * MiB, pageCluster: bad })).toThrow(
        expect.objectContaining({ name: "UsageError", argument: "pageCluster" }),
      );
    }
  });

  it("counts no readahead hit for a page MADV_WILLNEED read, and carries the record through a split", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const a = p.mmap(0, 32 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, 32, 5);
    expect(p.madvise(a, 32 * PAGE, MADV_PAGEOUT)).toBe(0);
    evictWritten(k);
    expect(p.madvise(a + 20 * PAGE, PAGE, MADV_WILLNEED)).toBe(0);
    expect([k.pages.stats.swapIns, k.pages.stats.swapReadahead]).toEqual([1, 0]);
    // Found in the cache, not read ahead: no hit counted. The record moves to
    // page 20 and keeps what it held: nothing yet, read as 4 hits.
    expect(p.loadU32(V(a + 20 * PAGE))).toBe((5 * 7919 + 20) >>> 0);
    expect([k.pages.stats.swapIns, k.pages.stats.swapReadaheadHits]).toEqual([1, 0]);
    // A split copies the record to both halves. In the upper one, a fault on
    // page 21, just after page 20, with those 4 hits: 8 pages forward.
    expect(p.mprotect(a + 16 * PAGE, 16 * PAGE, PROT_READ)).toBe(0);
    expect(p.loadU32(V(a + 21 * PAGE))).toBe((5 * 7919 + 21) >>> 0);
    expect(resident(k, p, a + 16 * PAGE, 16)).toBe("0000111111111000");
    k.check();
  });

  it("leaves a lazily freed page written since mapped at MADV_PAGEOUT, and pages it out the next time", () => {
    // try_to_unmap_one() puts a redirtied MADV_FREE page's entry back and
    // makes it swap-backed; recorded from Linux in swap-random-0.vm.
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, 2, 8);
    expect(p.madvise(a, 2 * PAGE, MADV_FREE)).toBe(0);
    p.storeU32(V(a + PAGE), 5);
    expect(p.madvise(a, 2 * PAGE, MADV_PAGEOUT)).toBe(0);
    // The clean one is discarded, the written one stays, an ordinary page again.
    expect([p.rssAnon, p.swap.size, k.pages.stats.lazyFrees, k.pages.lazyCount]).toEqual([1, 0, 1, 0]);
    expect(p.loadU32(V(a))).toBe(0);
    k.check();
    expect(p.madvise(a + PAGE, PAGE, MADV_PAGEOUT)).toBe(0);
    expect([p.swap.size, k.pages.stats.swapOuts]).toEqual([1, 1]);
    expect(p.loadU32(V(a + PAGE))).toBe(5);
    k.check();
  });

  it("takes the pages MADV_COLD made old at the clock's first pass", () => {
    // Two regions written alike; whichever is advised cold goes first.
    for (const cold of [0, 1]) {
      const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
      const p = k.spawn();
      const regions = [0, 1].map(() => p.mmap(0, 8 * PAGE, RW, MAP_PRIVATE));
      for (const [i, r] of regions.entries()) fillPattern(p, r, 8, i + 1);
      // A page kept aside by PROT_NONE is made old too.
      expect(p.mprotect(regions[cold]!, PAGE, PROT_NONE)).toBe(0);
      expect(p.madvise(regions[cold]!, 8 * PAGE, MADV_COLD)).toBe(0);
      k.check();
      expect(k.pages.reclaim(8)).toBe(8);
      const first = regions[cold]! / PAGE;
      expect([...p.swap.keys()].sort((x, y) => x - y)).toEqual(
        Array.from({ length: 8 }, (_, i) => first + i),
      );
      expect(p.mprotect(regions[cold]!, PAGE, PROT_READ)).toBe(0);
      for (const [i, r] of regions.entries()) expect(checkPattern(p, r, 8, i + 1)).toBe(true);
      k.check();
    }
  });

  it("gives a page PROT_NONE keeps aside the second chance of the Accessed bit its entry had", () => {
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const a = p.mmap(0, 8 * PAGE, RW, MAP_PRIVATE);
    fillPattern(p, a, 8, 1); // written: every entry Accessed
    expect(p.mprotect(a, 8 * PAGE, PROT_NONE)).toBe(0);
    const frames = [...p.hidden.values()];
    expect(frames.map((f) => k.pages.hiddenYoung[f])).toEqual(Array(8).fill(1));
    // The clock passes each hidden page once, clearing its bit, before it takes one.
    expect(k.pages.reclaim(1)).toBe(1);
    expect(p.swap.size).toBe(1);
    expect([...p.hidden.values()].map((f) => k.pages.hiddenYoung[f])).toEqual(Array(7).fill(0));
    k.check();
    expect(p.mprotect(a, 8 * PAGE, PROT_READ)).toBe(0);
    expect(checkPattern(p, a, 8, 1)).toBe(true);
    k.check();
  });
});

describe("reclaimAll", () => {
  it("takes all that can go, second chances and all, and nothing without swap", () => {
    // As memory.force_empty on a cgroup holding every process: recorded in swap-reclaim.vm.
    for (const swapBytes of [4 * MiB, 0]) {
      const k = testKernel(16 * MiB, { swapBytes });
      const p = k.spawn();
      const a = p.mmap(0, 8 * PAGE, RW, MAP_PRIVATE);
      fillPattern(p, a, 6, 3);
      expect(p.loadU32(V(a + 6 * PAGE))).toBe(0); // the zero page: never reclaimed
      const s = p.mmap(0, 2 * PAGE, RW, MAP_SHARED);
      fillPattern(p, s, 2, 4);
      const c = p.fork("c")!;
      c.storeU32(V(a), 1); // a copy of its own
      const freed = k.reclaimAll();
      expect(freed).toBe(swapBytes === 0 ? 0 : 6 + 1 + 2);
      expect(k.reclaimAll()).toBe(0);
      expect([p.rssAnon, c.rssAnon, p.rssShmem]).toEqual(swapBytes === 0 ? [6, 6, 2] : [0, 0, 0]);
      expect(checkPattern(p, a, 6, 3)).toBe(true);
      expect(checkPattern(p, s, 2, 4)).toBe(true);
      expect(c.loadU32(V(a))).toBe(1);
      k.check();
    }
  });
});

describe("MADV_FREE across fork", () => {
  it("keeps a page written since the free once only the child maps it, and counts it LazyFree nowhere", () => {
    // copy_present_pte() keeps a private entry's Dirty bit in the child
    // (recorded: lazyfree-fork.vm). Without it the child's entry was clean,
    // so once the parent was gone, reclaim discarded what it had written.
    const k = testKernel(16 * MiB);
    const p = k.spawn("parent");
    const a = p.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    p.storeU32(V(a), 1);
    p.storeU32(V(a + PAGE), 2);
    expect(p.madvise(a, 2 * PAGE, MADV_FREE)).toBe(0);
    expect(p.lazyFree()).toBe(8);
    p.storeU32(V(a), 3); // written since: no longer free to discard
    expect(p.lazyFree()).toBe(4);
    const c = p.fork("child")!;
    expect([p.lazyFree(), c.lazyFree()]).toEqual([4, 4]);
    p.exit();
    expect(p.lazyFree()).toBe(0);
    k.check();
    k.reclaimAll();
    expect(c.loadU32(V(a))).toBe(3);
    expect(c.loadU32(V(a + PAGE))).toBe(0); // clean: discarded, reads zeros
    expect(c.lazyFree()).toBe(0);
    k.check();
  });

  it("frees lazily a page a fork shares; reclaim takes the parent's mapping first, as Linux does", () => {
    // Recorded by fixtures/proc/lazyfree-rmap.c: each side reads the page
    // back after memory.force_empty, when one of them had freed it lazily.
    const recorded = readFileSync(new URL("./fixtures/proc/lazyfree-rmap.txt", import.meta.url), "utf8");
    for (const line of recorded.trim().split("\n")) {
      const [who, , parentReads, , childReads] = line.split(" ");
      const k = testKernel(16 * MiB);
      const p = k.spawn("parent");
      const a = p.mmap(0, PAGE, RW, MAP_PRIVATE);
      p.storeU8(V(a), 42);
      const c = p.fork("child")!;
      const freer = who === "parent_frees" ? p : c;
      expect(freer.madvise(a, PAGE, MADV_FREE)).toBe(0);
      expect([p.lazyFree(), c.lazyFree()]).toEqual(freer === p ? [4, 0] : [0, 4]);
      k.check();
      k.reclaimAll();
      k.check();
      expect([p.loadU8(V(a)), c.loadU8(V(a))], line).toEqual([Number(parentReads), Number(childReads)]);
    }
  });
});

describe("mincore", () => {
  it("answers with a byte per page and refuses a vector that cannot hold them", () => {
    // What each page reports is recorded from Linux: mincore.vm, swap-pageout.vm.
    const k = testKernel(16 * MiB, { swapBytes: 4 * MiB });
    const p = k.spawn();
    const a = p.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    p.storeU8(V(a + PAGE), 1);
    const vec = new Uint8Array(4).fill(9);
    expect(p.mincore(a, 4 * PAGE - 1, vec)).toBe(0);
    expect([...vec]).toEqual([0, 1, 0, 0]);
    expect(() => p.mincore(a, 4 * PAGE, new Uint8Array(3))).toThrow(
      expect.objectContaining({ name: "UsageError", argument: "vec" }),
    );
    expect(() => p.mincore(a, PAGE, [0] as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ name: "UsageError", argument: "vec" }),
    );
    expect(() => p.mincore(-4096, PAGE, vec)).toThrow(expect.objectContaining({ argument: "addr" }));
    // The errors come before the vector is looked at, as Linux's before it writes one.
    expect(p.mincore(a + 1, 4 * PAGE, new Uint8Array(0))).toBe(-22);
    expect(p.mincore(0x7fff_ffff_f000, 2 * PAGE, new Uint8Array(0))).toBe(-12);
    k.check();
  });
});

describe("overcommit and the OOM killer: 20 processes of 5 MiB on a 50 MiB machine", () => {
  const run = (mode: 0 | 1 | 2) => {
    const k = testKernel(50 * MiB, { overcommit: { mode } });
    const procs = Array.from({ length: 20 }, (_, i) => k.spawn(`worker${i}`));
    const results: ("mapped" | "enomem" | "touched" | "killed")[] = [];
    const bases: number[] = [];
    for (const p of procs) {
      const a = p.mmap(0, 5 * MiB, RW, MAP_PRIVATE);
      bases.push(a);
      results.push(a === -ENOMEM ? "enomem" : "mapped");
    }
    procs.forEach((p, i) => {
      if (results[i] !== "mapped" || !p.alive) return;
      try {
        fillPattern(p, bases[i]!, (5 * MiB) / PAGE, i);
        results[i] = "touched";
      } catch (e) {
        if (!(e instanceof ProcessKilled)) throw e;
        results[i] = "killed";
      }
    });
    k.check();
    return { k, procs, results, bases };
  };

  it("mode 0 (heuristic): every mmap succeeds; touching the memory wakes the OOM killer", () => {
    const { k, procs, results, bases } = run(0);
    expect(results.includes("enomem")).toBe(false);
    const killed = procs.filter((p) => p.state === "killed");
    expect(killed.length).toBeGreaterThan(0);
    expect(k.dmesg.filter((l) => l.startsWith("Out of memory: Killed process"))).toHaveLength(killed.length);
    // Every survivor's memory is intact.
    procs.forEach((p, i) => {
      if (p.alive && results[i] === "touched")
        expect(checkPattern(p, bases[i]!, (5 * MiB) / PAGE, i)).toBe(true);
    });
    // 50 MiB hold at most 9 fully touched 5 MiB processes.
    expect(procs.filter((p) => p.alive).length).toBeLessThanOrEqual(9);
  });

  it("mode 1 (always): the same, since nothing is refused up front", () => {
    const { procs, results } = run(1);
    expect(results.includes("enomem")).toBe(false);
    expect(procs.some((p) => p.state === "killed")).toBe(true);
  });

  it("mode 2 (never): mmaps past CommitLimit fail with ENOMEM and nobody is killed", () => {
    const { k, procs, results } = run(2);
    const mapped = results.filter((r) => r === "touched").length;
    expect(results.filter((r) => r === "enomem").length).toBe(20 - mapped);
    expect(procs.every((p) => p.state === "running")).toBe(true);
    expect(k.dmesg).toHaveLength(0);
    // Committed_AS stays below CommitLimit less the admin reserve.
    expect(k.commit.committed).toBeLessThan(k.commit.limit);
    // One more 5 MiB would have crossed it.
    expect(k.commit.committed + 1280).toBeGreaterThanOrEqual(
      k.commit.limit - k.commit.adminReservePages - 32,
    );
  });

  it("never kills a process with oom_score_adj -1000", () => {
    const k = testKernel(16 * MiB);
    const keep = k.spawn("keep");
    keep.oomScoreAdj = -1000;
    const a = keep.mmap(0, 12 * MiB, RW, MAP_PRIVATE | MAP_NORESERVE);
    fillPattern(keep, a, (12 * MiB) / PAGE, 5);
    const hog = k.spawn("hog");
    const b = hog.mmap(0, 12 * MiB, RW, MAP_PRIVATE);
    expect(() => fillPattern(hog, b, (12 * MiB) / PAGE, 6)).toThrow(ProcessKilled);
    expect(hog.state).toBe("killed");
    expect(checkPattern(keep, a, (12 * MiB) / PAGE, 5)).toBe(true);
    k.check();
  });
});

import {
  BitmapFrameAllocator,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_PAGEOUT,
  MAP_PRIVATE,
  PROT_NONE,
  PROT_READ,
  SimpleMmu,
  SparseRam,
  UsageError,
  virtAddr as V,
} from "@memstack/core";
import { describe, expect, it } from "vitest";
import { Kernel } from "../src/index.js";
import { testKernel } from "./helpers.js";

// The VM scripts thp-*.vm and random-thp-*.vm hold the answers recorded
// from Linux (RSS, page tables, which calls split a huge page); these check
// what a script cannot print: /proc/meminfo's AnonHugePages, the THP modes,
// the fallback to 4 KiB pages, zeroing, and bad options.
const MB2 = 2 * 1024 * 1024;
const PAGE = 4096;
const RW = 3;
const kb = (text: string, label: string) => Number(new RegExp(`^${label}:\\s+(\\d+)`, "m").exec(text)![1]);

describe("transparent huge pages", () => {
  it("counts each huge page mapped whole once in AnonHugePages, shared by fork or not", () => {
    const k = testKernel(32 * 1024 * 1024);
    const p = k.spawn();
    const a = p.mmap(0, 2 * MB2, RW, MAP_PRIVATE);
    expect(a % MB2).toBe(0);
    expect(p.madvise(a, 2 * MB2, MADV_HUGEPAGE)).toBe(0);
    p.storeU8(V(a), 1);
    p.loadU8(V(a + MB2)); // the huge zero page: not counted
    expect(kb(k.meminfo(), "AnonHugePages")).toBe(2048);
    expect(kb(k.status(p), "RssAnon")).toBe(2048);
    expect(k.pages.stats).toMatchObject({ thpFaults: 1, thpZeroMaps: 1, thpFallbacks: 0 });
    const c = p.fork()!;
    expect(kb(k.meminfo(), "AnonHugePages")).toBe(2048);
    expect(kb(k.status(c), "RssAnon")).toBe(2048);
    k.check();
    // The child's write splits its mapping and copies one page; the parent's stays whole.
    c.storeU8(V(a + 5 * PAGE), 2);
    expect(kb(k.meminfo(), "AnonHugePages")).toBe(2048);
    expect(c.loadU8(V(a))).toBe(1);
    expect(p.loadU8(V(a + 5 * PAGE))).toBe(0);
    c.exit();
    // A MADV_FREE over part of it splits the folio: its zero-filled pages go back to the zero page.
    expect(p.madvise(a + PAGE, PAGE, MADV_FREE)).toBe(0);
    expect(kb(k.meminfo(), "AnonHugePages")).toBe(0);
    expect(kb(k.status(p), "RssAnon")).toBe(4);
    expect(p.loadU8(V(a))).toBe(1);
    k.check();
  });

  it("splits the mapping of a huge page PROT_NONE keeps aside before reclaim or MADV_PAGEOUT takes a page of it", () => {
    // try_to_unmap() with TTU_SPLIT_HUGE_PMD: the PMD mapping goes first.
    for (const how of ["reclaim", "pageout"]) {
      const k = testKernel(32 * 1024 * 1024, { swapBytes: 8 * 1024 * 1024 });
      const p = k.spawn();
      const a = p.mmap(0, 2 * MB2, RW, MAP_PRIVATE);
      expect(p.madvise(a, MB2, MADV_HUGEPAGE)).toBe(0);
      for (let i = 0; i < 512; i++) p.storeU32(V(a + i * PAGE), i + 1);
      expect(k.pages.stats.thpFaults).toBe(1);
      // A protection change over the whole region keeps it one PMD, kept aside.
      expect(p.mprotect(a, MB2, PROT_NONE)).toBe(0);
      expect([p.huge.size, p.hidden.size]).toEqual([1, 512]);
      k.check();
      if (how === "reclaim") expect(k.pages.reclaim(4)).toBe(4);
      else expect(p.madvise(a, MB2, MADV_PAGEOUT)).toBe(0);
      expect(p.huge.size).toBe(0);
      expect(p.swap.size).toBe(how === "reclaim" ? 4 : 512);
      k.check();
      expect(p.mprotect(a, MB2, PROT_READ)).toBe(0);
      for (let i = 0; i < 512; i++) expect(p.loadU32(V(a + i * PAGE))).toBe(i + 1);
      k.check();
    }
  });

  it("zeroes a huge page before the process sees it, whatever its frames held", () => {
    const k = testKernel(8 * 1024 * 1024);
    const p = k.spawn();
    // Fill most of RAM with a secret, then give it back.
    const s = p.mmap(0, 1536 * PAGE, RW, MAP_PRIVATE);
    for (let i = 0; i < 1536; i++)
      for (let w = 4; w < PAGE; w += 512) p.storeU32(V(s + i * PAGE + w), 0x5ec2e7);
    p.munmap(s, 1536 * PAGE);
    const a = p.mmap(0, MB2, RW, MAP_PRIVATE);
    p.madvise(a, MB2, MADV_HUGEPAGE);
    p.storeU8(V(a), 1);
    expect(k.pages.stats.thpFaults).toBe(1);
    for (let i = 0; i < 512; i++)
      for (let w = 0; w < PAGE; w += 512) expect(p.loadU32(V(a + i * PAGE + w + 4))).toBe(0);
    k.check();
  });

  it("falls back to 4 KiB pages when no 2 MiB block is free", () => {
    // 3 MiB of RAM: after the zero page and the first tables no aligned 2 MiB block is left.
    const k = testKernel(3 * 1024 * 1024);
    const p = k.spawn();
    const a = p.mmap(0, MB2, RW, MAP_PRIVATE);
    p.madvise(a, MB2, MADV_HUGEPAGE);
    p.storeU8(V(a + 7 * PAGE), 1);
    expect(k.pages.stats).toMatchObject({ thpFaults: 0, thpFallbacks: 1 });
    expect(kb(k.status(p), "RssAnon")).toBe(4);
    expect(kb(k.meminfo(), "AnonHugePages")).toBe(0);
    k.check();
  });

  it("follows the THP mode: never, madvise (the default) and always", () => {
    const touched = (thp: "always" | "madvise" | "never", advice: number | null) => {
      const k = testKernel(16 * 1024 * 1024, { thp });
      const p = k.spawn();
      const a = p.mmap(0, MB2, RW, MAP_PRIVATE);
      if (advice !== null) p.madvise(a, MB2, advice);
      p.storeU8(V(a), 1);
      k.check();
      return kb(k.status(p), "RssAnon");
    };
    expect(touched("madvise", null)).toBe(4);
    expect(touched("madvise", MADV_HUGEPAGE)).toBe(2048);
    expect(touched("never", MADV_HUGEPAGE)).toBe(4);
    expect(touched("always", null)).toBe(2048);
    expect(touched("always", MADV_NOHUGEPAGE)).toBe(4);
  });

  it("maps no huge page without an allocator that can split one", () => {
    const ram = new SparseRam({ sizeBytes: 16 * 1024 * 1024 });
    const frames = new BitmapFrameAllocator({ frameCount: 4096, maxOrder: 10 });
    const k = new Kernel({ ram, frames, mmu: new SimpleMmu({ ram }) });
    const p = k.spawn();
    const a = p.mmap(0, MB2, RW, MAP_PRIVATE);
    p.madvise(a, MB2, MADV_HUGEPAGE);
    p.storeU8(V(a), 1);
    expect(kb(k.status(p), "RssAnon")).toBe(4);
    k.check();
  });

  it("refuses a bad mode and an allocator that cannot split, naming the option", () => {
    const ram = new SparseRam({ sizeBytes: 16 * 1024 * 1024 });
    const frames = new BitmapFrameAllocator({ frameCount: 4096, maxOrder: 10 });
    const mmu = new SimpleMmu({ ram });
    const make = (options: object) => () => new Kernel({ ram, frames, mmu, ...options });
    expect(make({ thp: "sometimes" })).toThrow(UsageError);
    expect(make({ thp: "sometimes" })).toThrow(/thp must be "always", "madvise" or "never"/);
    const plain = { frameCount: 4096, freeFrameCount: 4096, allocFrames: () => null, freeFrames: () => {} };
    expect(make({ thpFrames: plain })).toThrow(/thpFrames must be able to split/);
  });
  it("without the zero page (zeroPage false) gives a read a page of zeros, writable where the VMA is", () => {
    const k = testKernel(32 * 1024 * 1024, { zeroPage: false });
    const p = k.spawn();
    const a = p.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    expect(p.loadU8(V(a))).toBe(0);
    expect(p.loadU8(V(a + PAGE))).toBe(0);
    k.check();
    expect(p.rssAnon).toBe(2);
    expect(k.pages.stats).toMatchObject({ zeroFills: 2, zeroPageMaps: 0 });
    // Mapped writable: the write that follows takes no fault and copies nothing.
    const faults = k.pages.stats.faults;
    p.storeU8(V(a), 7);
    expect(k.pages.stats.faults).toBe(faults);
    expect(k.pages.stats.cowCopies).toBe(0);
    // MADV_FREE has both pages to free lazily, the one only read too.
    expect(p.madvise(a, 4 * PAGE, MADV_FREE)).toBe(0);
    expect(p.lazyFree()).toBe(8);
    k.check();
    // A read-only VMA gets the page too, mapped read-only.
    const r = p.mmap(0, PAGE, PROT_READ, MAP_PRIVATE);
    expect(p.loadU8(V(r))).toBe(0);
    expect(p.rssAnon).toBe(3);
    expect(() => p.storeU8(V(r), 1)).toThrow(expect.objectContaining({ reason: "not-permitted" }));
    k.check();
    // A region that may take a huge page takes one on a read.
    const h = p.mmap(0, 2 * MB2, RW, MAP_PRIVATE);
    const top = h + ((MB2 - (h % MB2)) % MB2);
    expect(p.madvise(h, 2 * MB2, MADV_HUGEPAGE)).toBe(0);
    expect(p.loadU8(V(top))).toBe(0);
    expect(k.pages.stats).toMatchObject({ thpFaults: 1, thpZeroMaps: 0 });
    expect(kb(k.meminfo(), "AnonHugePages")).toBe(2048);
    k.check();
    expect(() => testKernel(32 * 1024 * 1024, { zeroPage: "no" as unknown as boolean })).toThrow(
      expect.objectContaining({ argument: "zeroPage" }),
    );
  });
});

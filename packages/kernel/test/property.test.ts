import {
  Fault,
  MADV_COLD,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_NOHUGEPAGE,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  PROT_NONE,
  PROT_READ,
  pageAlignU64,
  virtAddr as V,
} from "@memstack/core";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Kernel, type Process, ProcessKilled } from "../src/index.js";
import { testKernel } from "./helpers.js";

// The advice the steps draw: the three that drop pages (REMOVE from every
// process that maps them), the two that make and clear guard markers, the
// two that fault pages in, the two that decide what fork copies, the two
// that decide where faults map huge pages and the two that split them.
const ADVICE: readonly (readonly [string, number])[] = [
  ["DONTNEED", MADV_DONTNEED],
  ["FREE", MADV_FREE],
  ["REMOVE", MADV_REMOVE],
  ["GUARD_INSTALL", MADV_GUARD_INSTALL],
  ["GUARD_REMOVE", MADV_GUARD_REMOVE],
  ["POPULATE_READ", MADV_POPULATE_READ],
  ["POPULATE_WRITE", MADV_POPULATE_WRITE],
  ["WIPEONFORK", MADV_WIPEONFORK],
  ["KEEPONFORK", MADV_KEEPONFORK],
  ["HUGEPAGE", MADV_HUGEPAGE],
  ["NOHUGEPAGE", MADV_NOHUGEPAGE],
  ["COLD", MADV_COLD],
  ["PAGEOUT", MADV_PAGEOUT],
];
const PAGE = 4096;
const HUGE = 2 * 1024 * 1024;

type S = { k: Kernel; procs: Process[]; maps: Map<number, number[]> };

// Every step may legitimately end in a SIGSEGV or in the OOM killer's choice;
// anything else is a bug, and check() runs after every step either way.
// Addresses and lengths near 2^64, each a u64 a number holds exactly.
const U64S = [2 ** 64 - PAGE, 2 ** 64 - 2048, 2 ** 64 - 2 * PAGE, 2 ** 63, 2 ** 53, 2 ** 53 + 2, 2 ** 48];

function tolerate(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof Fault) && !(e instanceof ProcessKilled)) throw e;
  }
}

function pick(s: S, k: number): Process | undefined {
  const alive = s.procs.filter((p) => p.alive);
  return alive.length === 0 ? undefined : alive[k % alive.length];
}

function addr(s: S, p: Process, k: number, off: number): number {
  const list = s.maps.get(p.pid) ?? [];
  return list.length === 0 ? 0x7ffff0000000 + off * PAGE : list[k % list.length]! + off * PAGE;
}

describe("kernel invariants under random system calls on several processes", () => {
  it("regression: a page being copied on write is not reclaimed while the copy's frame is found", () => {
    // Shrunk from seed -1172863027: the OOM killer took the child, leaving the
    // parent the page's only mapper, and reclaim then swapped that page out
    // from under the copy-on-write fault that was allocating its copy.
    const k = testKernel(1024 * 1024, { swapBytes: 512 * 1024, overcommit: { mode: 1 } });
    const p = k.spawn("p0");
    const hog = (pages: number) => {
      const a = p.mmap(0, pages * PAGE, 3, MAP_PRIVATE);
      for (let i = 0; i < pages; i++) p.storeU32(V(a + i * PAGE), i + 1);
      return a;
    };
    const a = hog(137);
    const b = hog(171);
    k.check();
    expect(p.fork()).not.toBeNull();
    k.check();
    // Reads clear nothing but set Accessed bits, which steer the clock.
    for (let i = 0; i < 2; i++) p.loadU32(V(a + i * PAGE));
    for (let i = 0; i < 33; i++) tolerate(() => void p.loadU32(V(a + (2 + i) * PAGE)));
    k.check();
    tolerate(() => {
      for (let i = 0; i < 41; i++) p.storeU64(V(b + i * PAGE + ((5 * 8) & 0xff8)), 5 * 0x01010101 + i);
    });
    k.check();
  });

  // A transparent huge page written, then shared by fork (the kernel of the
  // property with room for huge pages), with `k`, the parent and child, the
  // mapping and the frame of one of its pages.
  const sharedHugePage = () => {
    const k = testKernel(24 * 1024 * 1024, { swapBytes: 2 * 1024 * 1024, overcommit: { mode: 1 } });
    const parent = k.spawn("p0");
    const a = parent.mmap(0, HUGE, 3, MAP_PRIVATE);
    parent.madvise(a, HUGE, MADV_HUGEPAGE);
    parent.storeU32(V(a), 1);
    // Not zeros, so that no split maps the shared zero page in its place.
    parent.storeU32(V(a + PAGE), 2);
    const child = parent.fork()!;
    k.check();
    const frameAt = (p: Process, page: number) => k.mmu.query(p.space, a + page * PAGE)!.phys / PAGE;
    expect(k.pages.folio[frameAt(child, 1)]).not.toBe(0);
    return { k, parent, child, a, frameAt };
  };

  it("regression: reclaim splits a huge page before it swaps a page of it", () => {
    // Shrunk from seed -214236600 (THP property, 2 000 runs): reclaim swapped
    // the first page of a huge page out alone; the rest kept that page as
    // their head, and MADV_FREE then listed the freed frame as a lazily
    // freed huge page. Linux splits the folio first (shrink_folio_list()).
    const { k, parent, child, a, frameAt } = sharedHugePage();
    parent.munmap(a, 2 * PAGE);
    k.check();
    const second = frameAt(child, 1);
    expect(k.pages.reclaim(1)).toBe(1);
    k.check();
    // The first page went to swap, and no page of the huge page is one any more.
    expect(k.mmu.query(child.space, a)).toBeNull();
    expect(k.pages.folio[second]).toBe(0);
    expect(k.pages.folio[frameAt(child, 2)]).toBe(0);
    // So the page only the child maps is a small page of its own, which MADV_FREE frees lazily.
    child.madvise(a, 2 * PAGE, MADV_FREE);
    k.check();
    expect(k.pages.lazy[second]).toBe(1);
    expect([...k.pages.lazyFolios]).toEqual([]);
  });

  it("regression: MADV_FREE and MADV_PAGEOUT leave alone a huge page another process maps, even its pages mapped here only", () => {
    // The same failure by munmap instead of reclaim: with the huge page's
    // first frame freed and the rest still one huge page, MADV_FREE of a page
    // only the parent maps listed the freed frame. Linux skips the folio
    // (madvise_free_pte_range(): folio_maybe_mapped_shared()).
    const { k, parent, child, a, frameAt } = sharedHugePage();
    child.munmap(a, 2 * PAGE);
    parent.munmap(a, PAGE);
    k.check();
    const second = frameAt(parent, 1);
    parent.madvise(a + PAGE, PAGE, MADV_FREE);
    k.check();
    expect(k.pages.lazy[second]).toBe(0);
    expect([...k.pages.lazyFolios]).toEqual([]);
    // MADV_PAGEOUT skips it the same way (madvise_cold_or_pageout_pte_range()): the page stays.
    parent.madvise(a + PAGE, PAGE, MADV_PAGEOUT);
    k.check();
    expect(frameAt(parent, 1)).toBe(second);
    // Once the child is gone the parent maps the rest alone, and MADV_FREE
    // splits it and frees the page lazily.
    child.exit();
    parent.madvise(a + PAGE, PAGE, MADV_FREE);
    k.check();
    expect(k.pages.lazy[second]).toBe(1);
  });

  // Random sequences on a kernel of `ram` bytes with `swap` bytes of swap.
  const balanced =
    (ram: number, swap: number, numRuns: number, zeroPage = true) =>
    () =>
      checkSequences<S>({
        setup: () => {
          const k = testKernel(ram, { swapBytes: swap, overcommit: { mode: 1 }, zeroPage });
          return { k, procs: [k.spawn("p0")], maps: new Map() };
        },
        check: (s) => s.k.check(),
        numRuns,
        maxSteps: 60,
        steps: randomSteps(),
      });

  it(
    "keeps frames, references, swap and commit accounting balanced after every step",
    { timeout: 600_000 },
    balanced(1024 * 1024, 512 * 1024, 80),
  );

  // (1 MiB above has no room for a 2 MiB page: every THP fault falls back.)
  it(
    "keeps them balanced with room for transparent huge pages, which faults map and calls split",
    { timeout: 600_000 },
    balanced(24 * 1024 * 1024, 2 * 1024 * 1024, 60),
  );

  // zeroPage false: every read of memory never written takes a page (a huge one where it may).
  it(
    "keeps them balanced without the zero page",
    { timeout: 600_000 },
    balanced(24 * 1024 * 1024, 2 * 1024 * 1024, 30, false),
  );
});

// The steps of both properties, on whichever processes are alive.
function randomSteps() {
  const nat = fc.nat();
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          nat,
          fc.integer({ min: 1, max: 64 }),
          fc.constantFrom(0, 1, 3, 3, 3, 4, 5, 7),
          fc.constantFrom(
            MAP_PRIVATE,
            MAP_SHARED,
            MAP_PRIVATE | MAP_NORESERVE,
            MAP_PRIVATE | MAP_GROWSDOWN,
            // hugetlb: ENOMEM without MAP_NORESERVE (no pool), else a
            // 2 MiB-aligned VMA that splits only at 2 MiB and SIGBUSes.
            MAP_PRIVATE | MAP_HUGETLB,
            MAP_PRIVATE | MAP_HUGETLB | MAP_NORESERVE,
            MAP_SHARED | MAP_HUGETLB | MAP_NORESERVE,
          ),
        )
        .map(([k, pages, prot, flags]) =>
          step(`mmap(#${k}, ${pages}p, ${prot}, ${flags})`, (s: S) => {
            const p = pick(s, k);
            if (p === undefined) return;
            tolerate(() => {
              const a = p.mmap(0, pages * PAGE, prot, flags);
              if (a > 0) s.maps.set(p.pid, [...(s.maps.get(p.pid) ?? []), a]);
            });
          }),
        ),
    },
    fc
      .tuple(nat, nat, fc.integer({ min: -2, max: 8 }), fc.integer({ min: 1, max: 6 }))
      .map(([k, m, off, pages]) =>
        step(`munmap(#${k}, map ${m}${off >= 0 ? "+" : ""}${off}p, ${pages}p)`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined) return;
          tolerate(() => void p.munmap(addr(s, p, m, off), pages * PAGE));
        }),
      ),
    fc
      .tuple(
        nat,
        nat,
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 7 }),
      )
      .map(([k, m, off, pages, prot]) =>
        step(`mprotect(#${k}, map ${m}+${off}p, ${pages}p, ${prot})`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined) return;
          tolerate(() => void p.mprotect(addr(s, p, m, off), pages * PAGE, prot));
        }),
      ),
    fc
      .tuple(
        nat,
        nat,
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(...ADVICE),
      )
      .map(([k, m, off, pages, [name, advice]]) =>
        step(`madvise(#${k}, map ${m}+${off}p, ${pages}p, ${name})`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined) return;
          tolerate(() => void p.madvise(addr(s, p, m, off), pages * PAGE, advice));
        }),
      ),
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          nat,
          nat,
          // Below a mapping too, where a MAP_GROWSDOWN one grows.
          fc.integer({ min: -24, max: 20 }),
          fc.integer({ min: 1, max: 64 }),
          fc.boolean(),
          fc.integer({ min: 1, max: 255 }),
        )
        .map(([k, m, off, pages, write, byte]) =>
          step(`${write ? "write" : "read"}(#${k}, map ${m}+${off}p, ${pages}p)`, (s: S) => {
            const p = pick(s, k);
            if (p === undefined) return;
            tolerate(() => {
              const base = addr(s, p, m, off);
              for (let i = 0; i < pages; i++) {
                const a = V(base + i * PAGE + ((byte * 8) & 0xff8));
                if (write) p.storeU64(a, byte * 0x01010101 + i);
                else p.loadU32(a);
              }
            });
          }),
        ),
    },
    fc.tuple(nat, fc.integer({ min: 16, max: 200 })).map(([k, pages]) =>
      step(`hog(#${k}, ${pages}p)`, (s: S) => {
        const p = pick(s, k);
        if (p === undefined) return;
        tolerate(() => {
          const a = p.mmap(0, pages * PAGE, 3, MAP_PRIVATE);
          if (a <= 0) return;
          s.maps.set(p.pid, [...(s.maps.get(p.pid) ?? []), a]);
          for (let i = 0; i < pages; i++) p.storeU32(V(a + i * PAGE), i + 1);
        });
      }),
    ),
    fc.tuple(nat, fc.integer({ min: -8, max: 40 })).map(([k, delta]) =>
      step(`brk(#${k}, ${delta}p)`, (s: S) => {
        const p = pick(s, k);
        if (p === undefined) return;
        tolerate(() => {
          const b = p.brk(0);
          const nb = p.brk(Math.max(0, b + delta * PAGE));
          if (delta > 0 && nb > b) p.storeU8(V(nb - 1), 1);
        });
      }),
    ),
    fc
      .tuple(nat, nat, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 24 }))
      .map(([k, m, oldPages, newPages]) =>
        step(`mremap(#${k}, map ${m}, ${oldPages}p → ${newPages}p)`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined) return;
          tolerate(() => {
            const a = addr(s, p, m, 0);
            const r = p.mremap(a, oldPages * PAGE, newPages * PAGE, MREMAP_MAYMOVE);
            if (r > 0 && r !== a) s.maps.set(p.pid, [...(s.maps.get(p.pid) ?? []), r]);
          });
        }),
      ),
    // Reclaim, as memory pressure runs it, over whatever the steps made:
    // huge pages, pages kept aside, shared after fork, lazily freed.
    fc.integer({ min: 1, max: 64 }).map((n) => step(`reclaim(${n})`, (s: S) => void s.k.pages.reclaim(n))),
    // Transparent huge pages: a 2 or 4 MiB mapping (2 MiB-aligned, as
    // Linux places one) under MADV_HUGEPAGE, and a write or a read in it.
    fc
      .tuple(nat, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1023 }), fc.boolean())
      .map(([k, huge, page, write]) =>
        step(`thp(#${k}, ${huge}×2M, page ${page % (huge * 512)}, ${write ? "write" : "read"})`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined) return;
          tolerate(() => {
            const a = p.mmap(0, huge * HUGE, 3, MAP_PRIVATE);
            if (a <= 0) return;
            s.maps.set(p.pid, [...(s.maps.get(p.pid) ?? []), a]);
            p.madvise(a, huge * HUGE, MADV_HUGEPAGE);
            const at = V(a + (page % (huge * 512)) * PAGE);
            if (write) p.storeU32(at, page + 1);
            else p.loadU32(at);
          });
        }),
      ),
    // Calls in whole 2 MiB steps, which a hugetlb VMA may be split at.
    fc
      .tuple(nat, nat, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.nat(6))
      .map(([k, m, off, huge, call]) =>
        step(`huge-step(#${k}, map ${m}+${off}×2M, ${huge}×2M, call ${call})`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined) return;
          tolerate(() => {
            const a = addr(s, p, m, 0) + off * HUGE;
            const len = huge * HUGE;
            if (call === 0) p.munmap(a, len);
            else if (call === 1) p.mprotect(a, len, 1);
            else if (call === 2) p.madvise(a, len, MADV_DONTNEED);
            else if (call === 3) p.mremap(a, len, HUGE, 0);
            else if (call === 4) p.mmap(a, len, 3, MAP_SHARED | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED);
            // A huge page kept aside whole by PROT_NONE, then paged out.
            else if (call === 5) {
              p.mprotect(a, len, PROT_NONE);
              p.madvise(a, len, MADV_PAGEOUT);
            } else p.madvise(a, len, MADV_PAGEOUT);
          });
        }),
      ),
    // An address or a length near 2^64 (the unsigned longs of the calls):
    // every one of these fails, changing nothing — but an mprotect whose end
    // does not wrap, which changes the VMAs up to the first hole, as Linux's
    // does, and the duplicate below.
    fc
      .tuple(nat, nat, fc.integer({ min: 0, max: 4 }), fc.constantFrom(...U64S), fc.boolean())
      .map(([k, m, call, big, asLength]) =>
        step(`u64(#${k}, map ${m}, call ${call}, ${asLength ? "length" : "address"} ${big})`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined) return;
          const before = p.maps();
          const a = asLength ? addr(s, p, m, 0) : big;
          const len = asLength ? big : PAGE;
          let r = 0;
          tolerate(() => {
            if (call === 0) r = p.munmap(a, len);
            else if (call === 1) r = p.mprotect(a, len, PROT_READ);
            else if (call === 2) r = p.madvise(a, len, MADV_DONTNEED);
            else if (call === 3) r = p.mremap(a, len, PAGE, MREMAP_MAYMOVE);
            else r = p.mmap(a, len, PROT_READ, MAP_PRIVATE | MAP_FIXED);
          });
          // An old length that PAGE_ALIGN wraps to 0 asks mremap to duplicate
          // a shared mapping, which succeeds as on Linux (u64-remap-shared.vm).
          if (!p.alive || (call === 3 && asLength && pageAlignU64(big) === 0)) return;
          expect(r).toBeLessThan(0);
          if (call !== 1 || !asLength || a + big >= 2 ** 64) expect(p.maps()).toBe(before);
        }),
      ),
    fc.tuple(nat, nat, fc.integer({ min: 0, max: 6 })).map(([k, m, off]) =>
      step(`mmap-fixed(#${k}, map ${m}+${off}p)`, (s: S) => {
        const p = pick(s, k);
        if (p === undefined) return;
        tolerate(() => void p.mmap(addr(s, p, m, off), 2 * PAGE, 3, MAP_PRIVATE | MAP_FIXED));
      }),
    ),
    {
      weight: 2,
      arbitrary: nat.map((k) =>
        step(`fork(#${k})`, (s: S) => {
          const p = pick(s, k);
          if (p === undefined || s.procs.length > 6) return;
          tolerate(() => {
            const c = p.fork();
            if (c !== null) {
              s.procs.push(c);
              s.maps.set(c.pid, [...(s.maps.get(p.pid) ?? [])]);
            }
          });
        }),
      ),
    },
    nat.map((k) =>
      step(`exit(#${k})`, (s: S) => {
        const p = pick(s, k);
        if (p === undefined || s.procs.filter((q) => q.alive).length < 2) return;
        p.exit();
      }),
    ),
  );
}

// The C entry points beyond malloc/free: their results, errno values and
// edge cases as glibc 2.36 has them, and the heap left valid after every
// failing call.
import { CorruptionError, EINVAL, ENOMEM, UsageError, virtAddr } from "@memstack/core";
import { describe, expect, it } from "vitest";
import {
  BadAlloc,
  createCxxHeap,
  M_CHECK_ACTION,
  M_MMAP_MAX,
  M_MXFAST,
  M_PERTURB,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
} from "../src/index.js";
import { newHeap } from "./helpers.js";

const bytesAt = (h: ReturnType<typeof newHeap>, p: number, n: number): number[] => {
  const out = new Uint8Array(n);
  h.mem.loadBytes(virtAddr(p), out);
  return [...out];
};

describe("calloc", () => {
  it("zeroes a reused chunk, and does not take from the tcache (glibc 2.36 calloc goes to _int_malloc)", () => {
    const h = newHeap();
    const { m } = h;
    const t = m.malloc(100);
    h.fill(t, 100, 0xab);
    m.free(t);
    expect(m.calloc(1, 100)).not.toBe(t);
    const p = m.malloc(0x500);
    m.malloc(0x18);
    h.fill(p, 0x500, 0xab);
    m.free(p);
    const q = m.calloc(0x10, 0x50);
    expect(q).toBe(p);
    expect(bytesAt(h, q, 0x500).every((b) => b === 0)).toBe(true);
    m.check();
  });

  it("answers n·size above PTRDIFF_MAX with 0 and ENOMEM", () => {
    const { m } = newHeap();
    m.errno = 0;
    expect(m.calloc(2 ** 32, 2 ** 32)).toBe(0);
    expect(m.errno).toBe(ENOMEM);
    m.errno = 0;
    expect(m.calloc(2 ** 62, 2)).toBe(0);
    expect(m.errno).toBe(ENOMEM);
    m.check();
  });
});

describe("realloc", () => {
  it("grows into top in place, into a free neighbour in place, shrinks in place, and moves with a copy", () => {
    const h = newHeap();
    const { m } = h;
    const p = m.malloc(0x100);
    expect(m.realloc(p, 0x1000)).toBe(p);
    expect(m.malloc_usable_size(p)).toBe(0x1008);
    const a = m.malloc(0x500);
    const b = m.malloc(0x500);
    m.malloc(0x18);
    m.free(b);
    expect(m.realloc(a, 0x900)).toBe(a);
    // The 0x110 left over went to the tcache.
    expect(m.bins().tcache).toEqual([{ index: 15, size: 0x110, chunks: [a - 16 + 0x910] }]);
    expect(m.realloc(a, 0x100)).toBe(a);
    expect(m.malloc_usable_size(a)).toBe(0x108);
    const s = m.malloc(0x18);
    m.malloc(0x18);
    h.fill(s, 0x18, 0x5c);
    const moved = m.realloc(s, 0x2000);
    expect(moved).not.toBe(s);
    expect(bytesAt(h, moved, 0x18).every((x) => x === 0x5c)).toBe(true);
    expect(m.bins().tcache.find((t) => t.index === 0)?.chunks).toEqual([s - 16]);
    m.check();
  });

  it("frees on size 0, mallocs on NULL, and keeps the block on ENOMEM", () => {
    const h = newHeap();
    const { m } = h;
    const p = m.malloc(40);
    expect(m.realloc(p, 0)).toBe(0);
    expect(m.bins().tcache[0]?.chunks[0]).toBe(p - 16 + 0);
    const q = m.realloc(0, 40);
    expect(q).toBe(p);
    h.fill(q, 40, 7);
    m.errno = 0;
    expect(m.realloc(q, 2 ** 63)).toBe(0);
    expect(m.errno).toBe(ENOMEM);
    expect(m.realloc(q, 2 ** 50)).toBe(0);
    expect(bytesAt(h, q, 40).every((x) => x === 7)).toBe(true);
    expect(m.malloc_usable_size(q)).toBe(40);
    m.check();
  });

  it("moves an mmapped chunk with mremap and keeps its bytes", () => {
    const h = newHeap();
    const { m } = h;
    const p = m.malloc(0x30000);
    h.fill(p, 0x30000, 0x11);
    const q = m.realloc(p, 0x50000);
    expect(m.isMmapped(q)).toBe(true);
    expect(m.counters().mremapCalls).toBe(1);
    expect(bytesAt(h, q + 0x2fff0, 16).every((x) => x === 0x11)).toBe(true);
    expect(m.realloc(q, 0x48000)).toBe(q);
    m.check();
  });

  it("reallocarray fails with ENOMEM past 2^64 and otherwise is realloc", () => {
    const { m } = newHeap();
    m.errno = 0;
    expect(m.reallocarray(0, 2 ** 33, 2 ** 33)).toBe(0);
    expect(m.errno).toBe(ENOMEM);
    const p = m.reallocarray(0, 10, 10);
    expect(m.malloc_usable_size(p)).toBe(104);
    m.check();
  });
});

describe("aligned allocation", () => {
  it("memalign, aligned_alloc, valloc and pvalloc return aligned blocks and give the slack back", () => {
    const { m } = newHeap();
    for (const align of [32, 64, 256, 4096, 65536]) {
      const p = m.memalign(align, 100);
      expect(p % align).toBe(0);
      expect(m.malloc_usable_size(p)).toBeGreaterThanOrEqual(100);
      m.check();
    }
    expect(m.aligned_alloc(48, 10) % 64).toBe(0); // not a power of two: rounded up
    expect(m.memalign(8, 10) % 16).toBe(0); // at most MALLOC_ALIGNMENT: plain malloc
    expect(m.valloc(10) % 4096).toBe(0);
    const pv = m.pvalloc(1);
    expect(pv % 4096).toBe(0);
    expect(m.malloc_usable_size(pv)).toBeGreaterThanOrEqual(4096);
    const big = m.memalign(4096, 200000);
    expect(big % 4096).toBe(0);
    expect(m.isMmapped(big)).toBe(true);
    m.free(big);
    m.check();
  });

  it("answers bad alignments as glibc does: EINVAL above 2^63, posix_memalign's own EINVAL", () => {
    const h = newHeap();
    const { m } = h;
    m.errno = 0;
    expect(m.memalign(2 ** 63 + 2 ** 12, 16)).toBe(0);
    expect(m.errno).toBe(EINVAL);
    const memptr = m.malloc(8);
    h.setWord(memptr, 0, 0x1234);
    expect(m.posix_memalign(memptr, 12, 8)).toBe(EINVAL);
    expect(m.posix_memalign(memptr, 0, 8)).toBe(EINVAL);
    expect(m.posix_memalign(memptr, 24, 8)).toBe(EINVAL);
    expect(h.word(memptr, 0)).toBe(0x1234);
    expect(m.posix_memalign(memptr, 64, 100)).toBe(0);
    expect(h.word(memptr, 0) % 64).toBe(0);
    expect(m.posix_memalign(memptr, 64, 2 ** 62)).toBe(ENOMEM);
    m.check();
  });
});

describe("mallopt, malloc_trim, malloc_usable_size", () => {
  it("M_MXFAST 0 turns fastbins off; values above 160 are refused", () => {
    const { m } = newHeap();
    expect(m.mallopt(M_MXFAST, 161)).toBe(0);
    expect(m.mallopt(M_MXFAST, 0)).toBe(1);
    const x = m.malloc(0x18);
    m.malloc(0x18);
    const t = Array.from({ length: 7 }, () => m.malloc(0x18));
    for (const p of t) m.free(p);
    m.free(x);
    expect(m.bins().fastbins).toEqual([]);
    expect(m.bins().unsorted).toEqual([x - 16]);
    m.check();
  });

  it("M_PERTURB fills new memory with ~byte and freed memory with byte", () => {
    const h = newHeap();
    const { m } = h;
    expect(m.mallopt(M_PERTURB, 0x5a)).toBe(1);
    const p = m.malloc(0x500);
    expect(bytesAt(h, p, 16)).toEqual(Array(16).fill(0xa5));
    m.malloc(0x18);
    m.free(p);
    // fd, bk and (a large chunk's) fd_nextsize, bk_nextsize are written after the fill.
    expect(bytesAt(h, p + 32, 16)).toEqual(Array(16).fill(0x5a));
    m.check();
  });

  it("M_MMAP_MAX 0 keeps large chunks in the heap; other parameters answer 1", () => {
    const { m } = newHeap();
    expect(m.mallopt(M_MMAP_MAX, 0)).toBe(1);
    expect(m.isMmapped(m.malloc(1 << 20))).toBe(false);
    expect(m.mallopt(M_CHECK_ACTION, 3)).toBe(1);
    expect(m.mallopt(M_TOP_PAD, 0)).toBe(1);
    expect(m.mallopt(M_TRIM_THRESHOLD, 4096)).toBe(1);
    expect(m.mallopt(12345, 1)).toBe(1);
    m.check();
  });

  it("malloc_trim releases free pages inside the heap and at its top", () => {
    const { m } = newHeap();
    m.mallopt(M_TRIM_THRESHOLD, 1 << 30);
    const a = m.malloc(0x10000);
    m.malloc(0x18);
    const b = m.malloc(0x10000);
    m.free(a);
    m.free(b);
    const arena = m.mallinfo2().arena;
    expect(m.malloc_trim(0)).toBe(1);
    expect(m.counters().madviseCalls).toBeGreaterThan(0);
    expect(m.mallinfo2().arena).toBeLessThan(arena);
    m.check();
    const fresh = newHeap().m;
    fresh.malloc(10);
    expect(fresh.malloc_trim(1 << 30)).toBe(0);
    expect(fresh.malloc_trim(0)).toBe(1);
    fresh.check();
  });

  it("malloc_usable_size: chunk − 8 in the heap, − 16 when mmapped, 0 for a chunk not in use", () => {
    const { m } = newHeap();
    expect(m.malloc_usable_size(0)).toBe(0);
    expect(m.malloc_usable_size(m.malloc(0))).toBe(24);
    const big = m.malloc(0x500);
    m.malloc(0x18);
    m.free(big);
    expect(m.malloc_usable_size(big)).toBe(0);
  });
});

describe("bad input", () => {
  it("throws a UsageError for sizes that are not C sizes, and leaves the heap valid", () => {
    const { m } = newHeap();
    m.malloc(10);
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => m.malloc(bad)).toThrow(UsageError);
      expect(() => m.calloc(1, bad)).toThrow(RangeError);
    }
    expect(() => m.free(-16)).toThrow(/free: ptr/);
    expect(() => m.mallopt(M_MXFAST, 2 ** 40)).toThrow(/C int/);
    m.check();
  });

  it("answers sizes past PTRDIFF_MAX, or past memory, with 0 and ENOMEM", () => {
    const { m } = newHeap();
    for (const size of [2 ** 63, 2 ** 64 - 1, 2 ** 53, 2 ** 40]) {
      m.errno = 0;
      expect(m.malloc(size)).toBe(0);
      expect(m.errno).toBe(ENOMEM);
      m.check();
    }
    expect(m.malloc(16)).not.toBe(0);
  });

  it("check() reports a corrupted heap as a CorruptionError", () => {
    const h = newHeap();
    const a = h.m.malloc(0x500);
    h.m.malloc(0x18);
    h.m.free(a);
    h.setSize(a, 0x601);
    expect(() => h.m.check()).toThrow(CorruptionError);
  });
});

describe("C++ operator new and delete", () => {
  it("allocates size 0 as 1 byte and deletes with free", () => {
    const { m } = newHeap();
    const cxx = createCxxHeap(m);
    const p = cxx.operatorNew(0);
    expect(m.malloc_usable_size(p)).toBe(24);
    cxx.operatorDelete(p);
    cxx.operatorDelete(0);
    expect(cxx.operatorNewAligned(100, 256) % 256).toBe(0);
    m.check();
  });

  it("calls the new-handler until it gives up, then throws bad_alloc", () => {
    const { m } = newHeap();
    const cxx = createCxxHeap(m);
    let calls = 0;
    cxx.setNewHandler(() => {
      calls++;
      if (calls === 3) cxx.setNewHandler(null);
    });
    let caught: unknown;
    try {
      cxx.operatorNew(2 ** 40);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BadAlloc);
    expect((caught as BadAlloc).what()).toBe("std::bad_alloc");
    expect(calls).toBe(3);
    expect(cxx.operatorNewNothrow(2 ** 40)).toBe(0);
    m.check();
  });

  it("retries after a new-handler frees memory", () => {
    const { m } = newHeap({}, 16 << 20);
    const cxx = createCxxHeap(m);
    let reserve = m.malloc(10 << 20);
    expect(reserve).not.toBe(0);
    expect(m.malloc(10 << 20)).toBe(0);
    let calls = 0;
    const old = cxx.setNewHandler(() => {
      calls++;
      m.free(reserve);
      reserve = 0;
    });
    expect(old).toBe(null);
    const p = cxx.operatorNew(10 << 20);
    expect(p).not.toBe(0);
    expect(calls).toBe(1);
    m.check();
  });
});

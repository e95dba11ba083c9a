// Every heap scenario of fixtures/glibc/scenarios.c, replayed word for word
// on the simulated malloc: it must abort with glibc's exact message where
// glibc aborted (recorded in scenarios.expected), and go on where glibc did.
import {
  Fault,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  virtAddr,
} from "@memstack/core";
import { createMachine } from "@memstack/machine";
import { describe, expect, it } from "vitest";
import { createMalloc, type Malloc, MallocAbort } from "../src/index.js";
import { fixture, type Heap, type MemoryPath, newHeap } from "./helpers.js";

const keep: number[] = [];
function fillTcache(h: Heap, n: number): void {
  for (let i = 0; i < 7; i++) keep[i] = h.m.malloc(n);
  for (let i = 0; i < 7; i++) h.m.free(keep[i]!);
}
function drainTcache(h: Heap, n: number): void {
  for (let i = 0; i < 7; i++) keep[i] = h.m.malloc(n);
}

/** heap_for_ptr() of arena.c: a chunk's address rounded down to HEAP_MAX_SIZE (64 MiB). */
const heapInfoOf = (p: number): number => Math.floor(p / 2 ** 26) * 2 ** 26;

// non_main_unsorted() of scenarios.c (FlatMemory's address heapInfoOf(a) = 0 is mapped and zero).
function nonMainUnsorted(h: Heap): number {
  const a = h.m.malloc(0x500);
  keep[0] = h.m.malloc(0x18);
  h.m.free(a);
  h.setSize(a, h.size(a) | 4);
  return a;
}

// The scenarios, in the words of scenarios.c.
const scenarios: Record<string, (h: Heap) => void> = {
  "free-misaligned": (h) => {
    const a = h.m.malloc(0x18);
    h.m.free(a + 8);
  },
  "free-invalid-size": (h) => {
    const a = h.m.malloc(0x18);
    h.setSize(a, 0x11);
    h.m.free(a);
  },
  "tcache-double-free": (h) => {
    const a = h.m.malloc(0x18);
    h.m.free(a);
    h.m.free(a);
  },
  fasttop: (h) => {
    const a = h.m.malloc(0x18);
    fillTcache(h, 0x18);
    h.m.free(a);
    h.m.free(a);
  },
  "fast-aba-unnoticed": (h) => {
    const a = h.m.malloc(0x18);
    const b = h.m.malloc(0x18);
    fillTcache(h, 0x18);
    h.m.free(a);
    h.m.free(b);
    h.m.free(a);
  },
  "fast-aba-consolidate": (h) => {
    const a = h.m.malloc(0x18);
    const b = h.m.malloc(0x18);
    fillTcache(h, 0x18);
    h.m.free(a);
    h.m.free(b);
    h.m.free(a);
    h.m.malloc(0x1000);
  },
  "free-top": (h) => {
    const a = h.m.malloc(0x500);
    h.m.free(a + 0x510);
  },
  "free-out": (h) => {
    const a = h.m.malloc(0x500);
    h.setSize(a, 0x40001);
    h.m.free(a);
  },
  "free-not-prev": (h) => {
    const a = h.m.malloc(0x500);
    const b = h.m.malloc(0x500);
    h.setSize(b, h.size(b) - 1);
    h.m.free(a);
  },
  "invalid-next-normal": (h) => {
    const a = h.m.malloc(0x500);
    const b = h.m.malloc(0x500);
    h.setSize(b, 0x9);
    h.m.free(a);
  },
  "invalid-next-fast": (h) => {
    const a = h.m.malloc(0x18);
    const g = h.m.malloc(0x18);
    fillTcache(h, 0x18);
    h.setSize(g, 0x1);
    h.m.free(a);
  },
  "prev-size-consolidating": (h) => {
    const a = h.m.malloc(0x500);
    const b = h.m.malloc(0x500);
    h.m.malloc(0x18);
    h.m.free(a);
    h.setSize(a, 0x401);
    h.m.free(b);
  },
  "prev-size-unlink": (h) => {
    h.m.malloc(0x500);
    const b = h.m.malloc(0x500);
    const c = h.m.malloc(0x500);
    h.m.malloc(0x18);
    h.m.free(c);
    h.setSize(c, 0x4f1);
    h.m.free(b);
  },
  "double-linked": (h) => {
    const a = h.m.malloc(0x500);
    const b = h.m.malloc(0x500);
    h.m.malloc(0x18);
    h.m.free(a);
    h.setWord(a, 0, a - 16);
    h.m.free(b);
  },
  "corrupted-top": (h) => {
    const a = h.m.malloc(0x18);
    h.setWord(a, 3, 0x7ffffffffff1);
    h.m.malloc(0x2000);
  },
  "munmap-invalid": (h) => {
    const a = h.m.malloc(0x30000);
    h.setPrev(a, 0x10);
    h.m.free(a);
  },
  "munmap-prev-huge": (h) => {
    // Word by word: as a double, 0x4141414141414141 is 0x4141414141414000.
    const a = h.m.malloc(0x30000);
    h.mem.storeU32(virtAddr(a - 16), 0x41414141);
    h.mem.storeU32(virtAddr(a - 12), 0x41414141);
    h.m.free(a);
  },
  "unaligned-tcache-get": (h) => {
    const a = h.m.malloc(0x18);
    const b = h.m.malloc(0x18);
    h.m.free(b);
    h.m.free(a);
    h.setWord(a, 0, h.protect(a, a + 8));
    h.m.malloc(0x18);
    h.m.malloc(0x18);
  },
  "too-many-tcache": (h) => {
    const a = h.m.malloc(0x18);
    const b = h.m.malloc(0x18);
    h.m.free(a);
    h.setWord(a, 0, h.protect(a, a));
    h.copyWord(b, a, 1);
    h.m.free(b);
  },
  "unaligned-tcache-free": (h) => {
    const a = h.m.malloc(0x18);
    const b = h.m.malloc(0x18);
    h.m.free(a);
    h.setWord(a, 0, h.protect(a, a + 8));
    h.copyWord(b, a, 1);
    h.m.free(b);
  },
  "fast-memory-corruption": (h) => {
    const x = h.m.malloc(0x18);
    h.m.malloc(0x18);
    fillTcache(h, 0x18);
    h.m.free(x);
    drainTcache(h, 0x18);
    h.setSize(x, 0x41);
    h.m.malloc(0x18);
  },
  "smallbin-corrupted": (h) => {
    const a = h.m.malloc(0x100);
    h.m.malloc(0x18);
    fillTcache(h, 0x100);
    h.m.free(a);
    h.m.malloc(0x200);
    h.setWord(a, 1, a - 16);
    drainTcache(h, 0x100);
    h.m.malloc(0x100);
  },
  "unsorted-invalid-size": (h) => {
    const a = h.m.malloc(0x500);
    h.m.malloc(0x18);
    h.m.free(a);
    h.setSize(a, 0x11);
    h.m.malloc(0x600);
  },
  "unsorted-invalid-next-size": (h) => {
    const a = h.m.malloc(0x500);
    const g = h.m.malloc(0x18);
    h.m.free(a);
    h.setSize(g, 0x8);
    h.m.malloc(0x600);
  },
  "unsorted-prev-size": (h) => {
    const a = h.m.malloc(0x500);
    const g = h.m.malloc(0x18);
    h.m.free(a);
    h.setPrev(g, 0x400);
    h.m.malloc(0x600);
  },
  "unsorted-double-linked": (h) => {
    const a = h.m.malloc(0x500);
    h.m.malloc(0x18);
    h.m.free(a);
    h.setWord(a, 0, a - 16);
    h.m.malloc(0x600);
  },
  "unsorted-next-prev-inuse": (h) => {
    const a = h.m.malloc(0x500);
    const g = h.m.malloc(0x18);
    h.m.free(a);
    h.setSize(g, h.size(g) | 1);
    h.m.malloc(0x600);
  },
  "consolidate-invalid": (h) => {
    const x = h.m.malloc(0x18);
    h.m.malloc(0x18);
    fillTcache(h, 0x18);
    h.m.free(x);
    h.setSize(x, 0x31);
    h.m.malloc(0x500);
  },
  "realloc-invalid-pointer": (h) => {
    const a = h.m.malloc(0x18);
    h.m.realloc(a + 8, 0x40);
  },
  "realloc-invalid-old-size": (h) => {
    const a = h.m.malloc(0x18);
    h.setSize(a, 0x9);
    h.m.realloc(a, 0x100);
  },
  "realloc-invalid-next-size": (h) => {
    const a = h.m.malloc(0x18);
    const g = h.m.malloc(0x18);
    h.setSize(g, 0x1);
    h.m.realloc(a, 0x100);
  },
  "free-corrupted-unsorted": (h) => {
    const a = h.m.malloc(0x500);
    h.m.malloc(0x18);
    const c = h.m.malloc(0x500);
    h.m.malloc(0x18);
    h.m.free(a);
    h.setWord(a, 1, a - 16);
    h.m.free(c);
  },
  "overflow-caught": (h) => {
    const a = h.m.malloc(0x18);
    const b = h.m.malloc(0x18);
    h.fill(a, 0x18 + 8, 0x41);
    h.m.free(b);
  },
  "overflow-unnoticed": (h) => {
    const a = h.m.malloc(0x28);
    const b = h.m.malloc(0x18);
    h.fill(a, 0x28, 0x41);
    h.m.free(b);
    h.m.free(a);
  },
  "free-non-main-arena": (h) => {
    const a = h.m.malloc(0x18);
    h.setSize(a, h.size(a) | 4);
    h.m.free(a);
  },
  "free-non-main-arena-mapped": (h) => {
    const a = h.m.malloc(0x18);
    // (FlatMemory's address heapInfoOf(a) = 0 is mapped and zero already.)
    expect(heapInfoOf(a)).toBe(0);
    h.setSize(a, h.size(a) | 4);
    h.m.free(a);
    if (h.m.malloc(0x18) !== a) throw new Error("not reused");
  },
  "free-non-main-arena-full": (h) => {
    const a = h.m.malloc(0x18);
    fillTcache(h, 0x18);
    h.setSize(a, h.size(a) | 4);
    h.m.free(a);
  },
  // A freed chunk of 0x510 waits in the unsorted bin, NON_MAIN_ARENA set,
  // and comes back whole, the bit kept.
  "malloc-non-main-arena": (h) => {
    nonMainUnsorted(h);
    h.m.malloc(0x500);
  },
  "malloc-non-main-arena-mapped": (h) => {
    nonMainUnsorted(h);
    h.m.malloc(0x500);
  },
  "calloc-non-main-arena-mapped": (h) => {
    nonMainUnsorted(h);
    h.m.calloc(1, 0x500);
  },
  "memalign-non-main-arena-mapped": (h) => {
    nonMainUnsorted(h);
    // _int_malloc of 0x500 bytes: the 0x510 chunk, aligned already, its spare end freed.
    h.m.memalign(32, 0x4b8);
  },
  "realloc-non-main-arena-mapped": (h) => {
    const b = h.m.malloc(0x18);
    keep[1] = h.m.malloc(0x18);
    nonMainUnsorted(h);
    h.m.realloc(b, 0x508);
  },
  // Top's size field, right after a's chunk of 0x20.
  "sysmalloc-top-misaligned": (h) => {
    const a = h.m.malloc(0x18);
    h.setSize(a + 0x20, 0x21);
    h.m.malloc(0x1000);
  },
  "sysmalloc-top-shrunk": (h) => {
    const a = h.m.malloc(0x18);
    h.setSize(a + 0x20, (h.size(a + 0x20) & 0xfff) | 1);
    h.m.malloc(0x1000);
  },
  "binmap-chunk-too-small": (h) => {
    const a = h.m.malloc(0x500);
    keep[0] = h.m.malloc(0x18);
    h.m.free(a);
    h.m.malloc(0x600);
    h.setSize(a, 0x101);
    h.m.malloc(0x420);
  },
};

// FlatMemory maps its whole buffer from address 0, so the heap_info that
// these scenarios read below the heap is there, all zeros: a NULL arena, as
// in their -mapped twins, whose recorded outcome they get on FlatMemory. A
// process of createMachine() faults there as glibc does (the describe at
// the end).
const FLAT_MAPS_HEAP_INFO: Record<string, string> = {
  "free-non-main-arena": "free-non-main-arena-mapped",
  "malloc-non-main-arena": "malloc-non-main-arena-mapped",
};

interface Expected {
  name: string;
  outcome: string;
  message: string;
}

const expected: Expected[] = fixture("glibc/scenarios.expected")
  .split("\n")
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => {
    const [name = "", outcome = "", message = ""] = l.split("\t");
    return { name, outcome, message };
  });

describe("glibc's integrity checks, scenario by scenario (fixtures/glibc/scenarios.expected)", () => {
  it("has a simulated twin for every recorded scenario", () => {
    expect(expected.length).toBeGreaterThan(30);
    expect(expected.map((e) => e.name).sort()).toEqual(Object.keys(scenarios).sort());
  });

  // Both memory paths: FlatMemory's own buffer, and the generic port path,
  // whose 64-bit loads go through loadU64 and fall back to two u32 loads
  // for a corrupted word the port refuses (above 2^53).
  for (const path of ["flat", "ports"] as MemoryPath[]) {
    for (const recorded of expected) {
      const twin = FLAT_MAPS_HEAP_INFO[recorded.name];
      const e =
        twin === undefined ? recorded : { ...expected.find((x) => x.name === twin)!, name: recorded.name };
      const told = e.outcome === "ok" ? "glibc goes on" : e.message || e.outcome;
      it(`${e.name} (${path}): ${twin === undefined ? told : `as ${twin}: ${told}`}`, () => {
        const h = newHeap({}, 64 << 20, path);
        const run = scenarios[e.name]!;
        if (e.outcome === "ok") {
          run(h);
          if (e.name === "fast-aba-unnoticed") {
            // glibc goes on, but the fastbin now holds a cycle: check() sees it.
            expect(() => h.m.check()).toThrow(/fastbin/);
          } else {
            h.m.check();
          }
          return;
        }
        let caught: unknown;
        try {
          run(h);
        } catch (error) {
          caught = error;
        }
        if (e.outcome === "SIGSEGV") {
          // glibc's segmentation fault: a NULL arena dereferenced.
          expect(caught).toBeInstanceOf(Fault);
          expect((caught as Fault).reason).toBe("not-mapped");
          return;
        }
        expect(e.outcome).toBe("SIGABRT");
        expect(caught).toBeInstanceOf(MallocAbort);
        expect((caught as MallocAbort).detail).toBe(e.message);
        expect((caught as MallocAbort).message).toBe(`[@memstack/libc] ${e.message}`);
      });
    }
  }
});

// The NON_MAIN_ARENA scenarios where glibc runs: in a process, whose heap
// starts at 0x5555_5555_9000, so that the heap_info lies 64 MiB-aligned
// below it, where nothing is mapped unless the scenario maps it.
describe("NON_MAIN_ARENA in a process of createMachine(): glibc's heap_info read", () => {
  const outcome = (name: string) => expected.find((e) => e.name === name)!.outcome;
  const setup = () => {
    const machine = createMachine({ ram: "64M" });
    const p = machine.spawn("scenario");
    const m = createMalloc({ memory: p, programBreak: p, mapper: p });
    const setArenaBit = (a: number) => p.storeU32(virtAddr(a - 8), p.loadU32(virtAddr(a - 8)) | 4);
    const mapHeapInfo = (a: number) =>
      p.mmap(heapInfoOf(a), 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
    return { machine, p, m, setArenaBit, mapHeapInfo };
  };
  const faultOf = (run: () => void): Fault => {
    try {
      run();
    } catch (e) {
      if (e instanceof Fault) return e;
      throw e;
    }
    throw new Error("no fault");
  };

  it("free-non-main-arena: SIGSEGV reading the heap_info below the heap", () => {
    expect(outcome("free-non-main-arena")).toBe("SIGSEGV");
    const { machine, m, setArenaBit } = setup();
    const a = m.malloc(0x18);
    setArenaBit(a);
    const f = faultOf(() => m.free(a));
    expect(f.address).toBe(heapInfoOf(a - 16));
    expect(f.reason).toBe("not-mapped");
    machine.check();
  });

  it("free-non-main-arena-mapped: a zeroed heap_info names a NULL arena, and the tcache takes the chunk", () => {
    expect(outcome("free-non-main-arena-mapped")).toBe("ok");
    const { machine, m, setArenaBit, mapHeapInfo } = setup();
    const a = m.malloc(0x18);
    expect(mapHeapInfo(a)).toBe(heapInfoOf(a));
    setArenaBit(a);
    m.free(a);
    expect(m.malloc(0x18)).toBe(a);
    machine.check();
  });

  it("free-non-main-arena-full: the fastbin path reads the NULL arena's system_mem, SIGSEGV", () => {
    expect(outcome("free-non-main-arena-full")).toBe("SIGSEGV");
    const { machine, m, setArenaBit, mapHeapInfo } = setup();
    const a = m.malloc(0x18);
    for (const q of Array.from({ length: 7 }, () => m.malloc(0x18))) m.free(q);
    mapHeapInfo(a);
    setArenaBit(a);
    const f = faultOf(() => m.free(a));
    expect(f.address).toBe(0x8a8);
    machine.check();
  });

  it("malloc-non-main-arena: SIGSEGV reading the heap_info of the chunk the unsorted bin gives back", () => {
    expect(outcome("malloc-non-main-arena")).toBe("SIGSEGV");
    const { machine, m, setArenaBit } = setup();
    const a = m.malloc(0x500);
    m.malloc(0x18);
    m.free(a);
    setArenaBit(a);
    const f = faultOf(() => m.malloc(0x500));
    expect(f.address).toBe(heapInfoOf(a - 16));
    machine.check();
  });

  for (const [name, call] of [
    ["malloc-non-main-arena-mapped", (m: Malloc) => m.malloc(0x500)],
    ["calloc-non-main-arena-mapped", (m: Malloc) => m.calloc(1, 0x500)],
  ] as const) {
    it(`${name}: the NULL arena fails glibc's assertion`, () => {
      const e = expected.find((x) => x.name === name)!;
      expect(e.outcome).toBe("SIGABRT");
      const { machine, m, setArenaBit, mapHeapInfo } = setup();
      const a = m.malloc(0x500);
      m.malloc(0x18);
      mapHeapInfo(a);
      m.free(a);
      setArenaBit(a);
      expect(() => call(m)).toThrow(new MallocAbort("@memstack/libc", e.message));
      machine.check();
    });
  }

  it("realloc of a chunk whose heap_info names another arena is refused as not modelled", () => {
    const { m, p, setArenaBit, mapHeapInfo } = setup();
    const a = m.malloc(0x18);
    mapHeapInfo(a);
    // A fake arena pointer in the heap_info: glibc would go on in that arena.
    p.storeU32(virtAddr(heapInfoOf(a)), 0x1000);
    setArenaBit(a);
    expect(() => m.realloc(a, 0x100)).toThrow(/only main_arena is modelled/);
    m.check();
  });
});

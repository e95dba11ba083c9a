// Every heap scenario of fixtures/glibc/scenarios.c, replayed word for word
// on the simulated malloc: it must abort with glibc's exact message where
// glibc aborted (recorded in scenarios.expected), and go on where glibc did.
import { describe, expect, it } from "vitest";
import { MallocAbort } from "../src/index.js";
import { fixture, type Heap, type MemoryPath, newHeap } from "./helpers.js";

const keep: number[] = [];
function fillTcache(h: Heap, n: number): void {
  for (let i = 0; i < 7; i++) keep[i] = h.m.malloc(n);
  for (let i = 0; i < 7; i++) h.m.free(keep[i]!);
}
function drainTcache(h: Heap, n: number): void {
  for (let i = 0; i < 7; i++) keep[i] = h.m.malloc(n);
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
    for (const e of expected) {
      it(`${e.name} (${path}): ${e.outcome === "ok" ? "glibc goes on" : e.message}`, () => {
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
        expect(e.outcome).toBe("SIGABRT");
        let caught: unknown;
        try {
          run(h);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(MallocAbort);
        expect((caught as MallocAbort).detail).toBe(e.message);
        expect((caught as MallocAbort).message).toBe(`[@memstack/libc] ${e.message}`);
      });
    }
  }
});

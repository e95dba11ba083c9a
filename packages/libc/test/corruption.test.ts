// Random call lists with writes over the heap's own words, as an overflow
// makes them (fixtures/corrupt: generate.mjs wrote them, the real glibc ran
// them through fixtures/glibc/calls.c, record.sh kept what it printed and how
// it ended).
// The simulated malloc must print the same lines and end the same way: go
// on, abort with glibc's message, or fault where glibc took a SIGSEGV. It
// runs each list in a process of createMachine(), whose address space faults
// where Linux's does, and on FlatMemory, which maps its whole buffer and so
// cannot fault where glibc's process did.
import { Fault, FlatMemory, type VirtualMemory } from "@memstack/core";
import { createMachine } from "@memstack/machine";
import { describe, expect, it } from "vitest";
import { createMalloc, type Malloc, MallocAbort } from "../src/index.js";
import { runCalls } from "./calls.js";
import { bySeed, fixture, forker } from "./helpers.js";

// Each family: its fixtures' prefix, its size, the tunables glibc ran it
// with, and whether its lists fork (then only a process can run them).
const FAMILIES = [
  { prefix: "", size: 299, tunables: {}, forks: false },
  { prefix: "tcache-off.", size: 150, tunables: { tcacheCount: 0 }, forks: false },
  { prefix: "fork.", size: 98, tunables: {}, forks: true },
] as const;

type Fork = ReturnType<typeof forker>["fork"];

// Runs a list as calls.c does (runCalls): the printed lines, then the end
// line record.sh writes from how it ended. A block is printed as an offset
// from the initial break when `inHeap` says it lies there.
function run(
  list: string,
  m: Malloc,
  memory: VirtualMemory,
  inHeap: (p: number) => boolean,
  fork?: Fork,
): string {
  const out: string[] = [];
  let end = "end ok";
  try {
    runCalls(m, list, memory, 0, { inHeap, out, ...(fork ? { fork } : {}) });
  } catch (e) {
    if (e instanceof MallocAbort) end = `end SIGABRT ${e.detail}`;
    else if (e instanceof Fault) end = "end SIGSEGV";
    else throw e;
  }
  return [...out, end, ""].join("\n");
}

for (const { prefix, size, tunables, forks } of FAMILIES) {
  const lists = bySeed(fixture(`corrupt/${prefix}lists.txt.gz`));
  const expected = bySeed(fixture(`corrupt/${prefix}expected.txt.gz`));
  const name = prefix === "" ? "default tunables" : prefix.slice(0, -1);

  describe(`heap corruption, call list by call list, against glibc (fixtures/corrupt, ${name})`, () => {
    it("has the lists record.sh keeps, with every ending among them", () => {
      expect(lists.size).toBe(size);
      expect([...expected.keys()]).toEqual([...lists.keys()]);
      const ends = [...expected.values()].map((e) => e.trimEnd().split("\n").at(-1)!.split(" ")[1]);
      for (const end of ["ok", "SIGABRT", "SIGSEGV"]) expect(ends).toContain(end);
    });

    it("in a process of createMachine(): the same lines and the same end, every list", () => {
      for (const [seed, list] of lists) {
        const machine = createMachine({ ram: "64M" });
        const p = machine.spawn("corrupt");
        const m = createMalloc({ memory: p, programBreak: p, mapper: p, tunables });
        // F goes on in the child, with the malloc it inherited; P in the parent.
        const { fork } = forker(p, m);
        // The mmap area lies terabytes above the heap, as in glibc's process.
        const got = run(list, m, p, (q) => q >= m.heapBase && q - m.heapBase < 2 ** 32, fork);
        expect(got, `seed ${seed}`).toBe(expected.get(seed));
        machine.check();
      }
      if (forks) {
        const all = [...lists.values()].join("");
        expect(all).toMatch(/^F$/m);
        expect(all).toMatch(/^P$/m);
      }
    });

    // (A fork needs a process: the fork family runs in one only.)
    if (!forks)
      it("on FlatMemory: the same, except where glibc's process faulted", () => {
        let faulted = 0;
        for (const [seed, list] of lists) {
          const want = expected.get(seed)!;
          if (want.endsWith("end SIGSEGV\n")) {
            faulted++;
            continue;
          }
          const mem = new FlatMemory({ memory: new ArrayBuffer(64 << 20), assumeZeroed: true });
          const m = createMalloc({ memory: mem, programBreak: mem, mapper: mem, tunables });
          // FlatMemory's mappings share the buffer with the heap: the break bounds it.
          const got = run(list, m, mem, (q) => q >= m.heapBase && q < m.heapEnd);
          expect(got, `seed ${seed}`).toBe(want);
        }
        expect(faulted).toBeLessThan(size / 20);
      });
  });
}

// Written by hand from two lists a campaign found (fixtures/corrupt/hand,
// recorded by record.sh): a size overwritten so that the next chunk's size
// field is a stale heap pointer, a large bin's bk_nextsize that a split left
// behind. glibc compares it with system_mem: in its process the pointer
// (0x55…) is far larger and the check fires. FlatMemory's heap starts at
// 0x10000 by default, where such a pointer is a small number: the check
// passes, and a later one aborts with another message. With a break as high
// as 0x10000000 the pointer is large enough again.
describe("a corrupted size that lands on a stale heap pointer (fixtures/corrupt/hand)", () => {
  const CASES = [
    { name: "stale-pointer", tunables: {}, flat: "corrupted size vs. prev_size" },
    {
      name: "stale-pointer.tcache-off",
      tunables: { tcacheCount: 0 },
      flat: "malloc(): mismatching next->prev_size (unsorted)",
    },
  ] as const;
  for (const { name, tunables, flat } of CASES) {
    it(`${name}: glibc's system_mem check fires where heap addresses are as large as glibc's`, () => {
      const list = fixture(`corrupt/hand/${name}.calls`);
      const want = fixture(`corrupt/hand/${name}.expected`);
      expect(want).toMatch(/^end SIGABRT [^\n]*invalid next size/m);
      const p = createMachine({ ram: "64M" }).spawn("corrupt");
      const inProc = createMalloc({ memory: p, programBreak: p, mapper: p, tunables });
      expect(run(list, inProc, p, (q) => q >= inProc.heapBase && q - inProc.heapBase < 2 ** 32)).toBe(want);
      const high = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 29, brkBase: 0x1000_0000 });
      const m = createMalloc({ memory: high, programBreak: high, mapper: high, tunables });
      expect(run(list, m, high, (q) => q >= m.heapBase && q < m.heapEnd)).toBe(want);
      // The default FlatMemory: the same lines, then the later check's abort.
      const low = new FlatMemory({ memory: new ArrayBuffer(64 << 20), assumeZeroed: true });
      const l = createMalloc({ memory: low, programBreak: low, mapper: low, tunables });
      const got = run(list, l, low, (q) => q >= l.heapBase && q < l.heapEnd);
      expect(got).toBe(want.replace(/^end SIGABRT .*$/m, `end SIGABRT ${flat}`));
    });
  }
});

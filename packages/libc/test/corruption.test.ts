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
import { bySeed, fixture } from "./helpers.js";

// Each family: its fixtures' prefix, its size, and the tunables glibc ran it with.
const FAMILIES = [
  { prefix: "", size: 299, tunables: {} },
  { prefix: "tcache-off.", size: 150, tunables: { tcacheCount: 0 } },
] as const;

// Runs a list as calls.c does (runCalls): the printed lines, then the end
// line record.sh writes from how it ended. A block is printed as an offset
// from the initial break when `inHeap` says it lies there.
function run(list: string, m: Malloc, memory: VirtualMemory, inHeap: (p: number) => boolean): string {
  const out: string[] = [];
  let end = "end ok";
  try {
    runCalls(m, list, memory, 0, { inHeap, out });
  } catch (e) {
    if (e instanceof MallocAbort) end = `end SIGABRT ${e.detail}`;
    else if (e instanceof Fault) end = "end SIGSEGV";
    else throw e;
  }
  return [...out, end, ""].join("\n");
}

for (const { prefix, size, tunables } of FAMILIES) {
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
        const p = createMachine({ ram: "64M" }).spawn("corrupt");
        const m = createMalloc({ memory: p, programBreak: p, mapper: p, tunables });
        // The mmap area lies terabytes above the heap, as in glibc's process.
        const got = run(list, m, p, (q) => q >= m.heapBase && q - m.heapBase < 2 ** 32);
        expect(got, `seed ${seed}`).toBe(expected.get(seed));
      }
    });

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

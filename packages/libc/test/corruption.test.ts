// Random call lists with writes over the heap's own words, as an overflow
// makes them (fixtures/corrupt: generate.mjs wrote them, the real glibc ran
// them through fixtures/glibc/calls.c, record.sh kept what it printed and how
// it ended).
// The simulated malloc must print the same lines and end the same way: go
// on, abort with glibc's message, or fault where glibc took a SIGSEGV. It
// runs each list in a process of createMachine(), whose address space faults
// where Linux's does, and on FlatMemory, which maps its whole buffer and so
// cannot fault where glibc's process did.
import { Fault, FlatMemory, type VirtualMemory, virtAddr } from "@memstack/core";
import { createMachine } from "@memstack/machine";
import { describe, expect, it } from "vitest";
import { createMalloc, type Malloc, MallocAbort } from "../src/index.js";
import { fixture } from "./helpers.js";

// The text after each "# seed N" line of a fixture, by seed.
function bySeed(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const part of text.split("# seed ").slice(1)) {
    const nl = part.indexOf("\n");
    out.set(Number(part.slice(0, nl)), part.slice(nl + 1));
  }
  return out;
}

// Each family: its fixtures' prefix, its size, and the tunables glibc ran it with.
const FAMILIES = [
  { prefix: "", size: 299, tunables: {} },
  { prefix: "tcache-off.", size: 150, tunables: { tcacheCount: 0 } },
] as const;

// Runs a list as calls.c does; the printed lines and the end line. A
// block is printed as an offset from the initial break when `inHeap` says
// it lies there (calls.c: within 4 GiB of it), else as "mmap".
function run(list: string, m: Malloc, memory: VirtualMemory, inHeap: (p: number) => boolean): string {
  const live = new Map<number, number>();
  const out: string[] = [];
  const place = (p: number): void => {
    if (p === 0) out.push("null");
    else if (inHeap(p)) out.push(`0x${(p - m.heapBase).toString(16)}`);
    else out.push("mmap");
  };
  try {
    for (const line of list.split("\n")) {
      if (line === "") continue;
      const [op, a = "0", b = "0", c = "0"] = line.split(" ");
      const ptr = live.get(Number(a)) ?? 0;
      if (op === "m") {
        const p = m.malloc(Number(b));
        live.set(Number(a), p);
        place(p);
      } else if (op === "a") {
        const p = m.memalign(Number(b), Number(c));
        live.set(Number(a), p);
        place(p);
      } else if (op === "c") {
        const p = m.calloc(Number(b), Number(c));
        live.set(Number(a), p);
        place(p);
      } else if (op === "r") {
        const p = m.realloc(ptr, Number(c));
        if (p !== 0 || Number(c) === 0) live.set(Number(a), 0);
        live.set(Number(b), p);
        place(p);
      } else if (op === "f") {
        m.free(ptr);
        live.set(Number(a), 0);
      } else if (op === "x" || op === "X") {
        // A pointer near another block, raw or safe-linked at its place.
        const at = ptr + Number(b);
        let v = BigInt((live.get(Number(c)) ?? 0) + Number(line.split(" ")[4]));
        if (op === "X") v ^= BigInt(at) >> 12n;
        v &= 0xffffffffffffffffn;
        memory.storeU32(virtAddr(at), Number(v & 0xffffffffn));
        memory.storeU32(virtAddr(at + 4), Number(v >> 32n));
      } else if (op === "w") {
        const v = BigInt(c);
        const at = ptr + Number(b);
        memory.storeU32(virtAddr(at), Number(v & 0xffffffffn));
        memory.storeU32(virtAddr(at + 4), Number(v >> 32n));
      } else {
        throw new Error(`unknown call ${line}`);
      }
    }
  } catch (e) {
    if (e instanceof MallocAbort) return [...out, `end SIGABRT ${e.detail}`, ""].join("\n");
    if (e instanceof Fault) return [...out, "end SIGSEGV", ""].join("\n");
    throw e;
  }
  return [...out, "end ok", ""].join("\n");
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

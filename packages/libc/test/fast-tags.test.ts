// In a process of createMachine(), libc takes most of its loads and stores
// through the MMU's fast tags (core's FastAccess) instead of the process's
// port. That must change nothing a user can see: the same placements, the
// same bytes, and exactly the TLB hits, misses and evictions of the same
// run made through the port alone.
import { type Mapper, type ProgramBreak, type VirtualMemory, virtAddr } from "@memstack/core";
import { createMachine, type Machine } from "@memstack/machine";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createMalloc,
  formatPlacements,
  type Malloc,
  parseMallocTrace,
  replayMallocTrace,
} from "../src/index.js";
import { fixture } from "./helpers.js";

type Process = ReturnType<Machine["spawn"]>;

// Two sets of two ways in the L1 dTLB and a 16-entry STLB.
const TINY_TLB = {
  levels: [
    {
      name: "L1 dTLB",
      arrays: [
        { pageSizes: [4096], sets: 2, ways: 2 },
        { pageSizes: [2 ** 21], sets: 1, ways: 2 },
        { pageSizes: [2 ** 30], sets: 1, ways: 2 },
      ],
    },
    {
      name: "STLB",
      arrays: [
        { pageSizes: [4096, 2 ** 21], sets: 4, ways: 4 },
        { pageSizes: [2 ** 30], sets: 1, ways: 2 },
      ],
    },
  ],
};

interface Ports {
  memory: VirtualMemory;
  programBreak: ProgramBreak;
  mapper: Mapper;
  /** Loads and stores that reached the process's port. */
  calls: { n: number };
}

// A process's ports through plain objects that count the loads and stores
// reaching the port; with `tags`, they hand on the process's fast tags.
function ports(p: Process, tags: boolean): Ports {
  const calls = { n: 0 };
  const count = <T>(v: T): T => {
    calls.n++;
    return v;
  };
  const memory: VirtualMemory = {
    loadU8: (a) => count(p.loadU8(a)),
    loadU16: (a) => count(p.loadU16(a)),
    loadU32: (a) => count(p.loadU32(a)),
    loadU64: (a) => count(p.loadU64(a)),
    storeU8: (a, v) => count(p.storeU8(a, v)),
    storeU16: (a, v) => count(p.storeU16(a, v)),
    storeU32: (a, v) => count(p.storeU32(a, v)),
    storeU64: (a, v) => count(p.storeU64(a, v)),
    loadBytes: (a, d) => p.loadBytes(a, d),
    storeBytes: (a, s) => p.storeBytes(a, s),
    fill: (a, n, b) => p.fill(a, n, b),
    copy: (d, s, n) => p.copy(d, s, n),
    ...(tags ? { fastAccess: () => p.fastAccess() } : {}),
  };
  return { memory, programBreak: p, mapper: p, calls };
}

function tlbCounts(machine: Machine) {
  const { levels, walks, pageFaults, accessedDirtyWrites } = machine.mmu.stats();
  return { levels, walks, pageFaults, accessedDirtyWrites };
}

describe("libc through the MMU's fast tags", () => {
  for (const name of ["du", "cc1", "python"]) {
    it(`${name}: the placements, and every TLB count, of the same replay through the port alone`, () => {
      const trace = parseMallocTrace(fixture(`traces/${name}.trace.gz`));
      const expected = fixture(`traces/${name}.expected.gz`);
      const run = (tags: boolean) => {
        const machine = createMachine({ ram: "256M" });
        const p = ports(machine.spawn("replay"), tags);
        const m = createMalloc(p);
        const got = formatPlacements(replayMallocTrace(m, trace).placements);
        m.check();
        machine.check();
        return { got, counts: tlbCounts(machine), calls: p.calls.n };
      };
      const viaTags = run(true);
      const viaPort = run(false);
      expect(viaTags.got === expected, "placements differ from glibc's").toBe(true);
      expect(viaPort.got === expected, "placements differ from glibc's").toBe(true);
      expect(viaTags.counts).toEqual(viaPort.counts);
      // The tags served most accesses: under a third still reached the port.
      expect(viaTags.calls).toBeLessThan(viaPort.calls / 3);
    });
  }

  it("a TLB small enough that a call's pages drop out of the tags between its accesses: the same counts", () => {
    // On TINY_TLB a malloc or free served from the tcache often finds its chunk's page, or the
    // tcache's, missing from the tags, and hands over to the general
    // path's accessors (the port for the missing page) part-way through.
    const trace = parseMallocTrace(fixture("traces/python.trace.gz"));
    const expected = fixture("traces/python.expected.gz");
    const run = (tags: boolean) => {
      const machine = createMachine({ ram: "256M", tlb: TINY_TLB });
      const p = ports(machine.spawn("replay"), tags);
      const m = createMalloc(p);
      const got = formatPlacements(replayMallocTrace(m, trace).placements);
      m.check();
      machine.check();
      return { got, counts: tlbCounts(machine) };
    };
    const viaTags = run(true);
    const viaPort = run(false);
    expect(viaTags.got === expected, "placements differ from glibc's").toBe(true);
    expect(viaTags.counts).toEqual(viaPort.counts);
    // The small TLB did miss: the comparison covers the hand-overs.
    expect(viaTags.counts.levels[0]!.misses).toBeGreaterThan(trace.length / 10);
  });

  it("random calls on a tiny TLB, through the tags and through the port alone: the same pointers, bytes and counts after every step", () => {
    // A few of the tcache's sizes mostly, so that most calls take the tag
    // paths, with double frees among them (both runs must abort alike), and
    // writes into the blocks between calls, which move pages in and out of
    // an L1 dTLB of one set of two ways: the tcache's page and one other.
    interface Run {
      machine: Machine;
      p: Process;
      m: Malloc;
    }
    interface Both {
      runs: [Run, Run];
      live: number[];
    }
    const l1 = TINY_TLB.levels[0]!;
    const tlb = {
      levels: [
        { ...l1, arrays: [{ pageSizes: [4096], sets: 1, ways: 2 }, ...l1.arrays.slice(1)] },
        TINY_TLB.levels[1]!,
      ],
    };
    const make = (tags: boolean): Run => {
      const machine = createMachine({ ram: "64M", tlb });
      const p = machine.spawn("prop");
      return { machine, p, m: createMalloc(ports(p, tags)) };
    };
    // The same call on both runs: the same result, or the same abort.
    const both = <T>(s: Both, call: (r: Run) => T): T => {
      const out = s.runs.map((r) => {
        try {
          return { v: call(r) };
        } catch (e) {
          return { e: e instanceof Error ? e.message : String(e) };
        }
      });
      expect(out[1]).toEqual(out[0]);
      if ("e" in out[0]!) throw new Error(`both runs aborted: ${out[0].e}`);
      return out[0]!.v as T;
    };
    const size = fc.oneof(
      // A few tcache bins, so that a malloc often finds its bin filled.
      { weight: 6, arbitrary: fc.constantFrom(0, 40, 136, 520, 1032) },
      // Blocks of pages, which spread the heap over more pages than the L1 holds.
      { weight: 3, arbitrary: fc.integer({ min: 0x409, max: 0x3000 }) },
    );
    const mallocStep = size.map((n) =>
      step<Both>(`malloc(${n})`, (s) => {
        const q = both(s, (r) => r.m.malloc(n));
        if (q === 0) return;
        both(s, (r) => r.p.storeU32(virtAddr(q), (q % 2 ** 32) >>> 0));
        s.live.push(q);
      }),
    );
    const freeStep = fc.nat().map((i) =>
      step<Both>(`free(#${i})`, (s) => {
        if (s.live.length === 0) return;
        const [q] = s.live.splice(i % s.live.length, 1);
        expect(both(s, (r) => r.p.loadU32(virtAddr(q!)))).toBe((q! % 2 ** 32) >>> 0);
        both(s, (r) => r.m.free(q!));
      }),
    );
    const writeStep = fc.nat().map((i) =>
      step<Both>(`write into #${i}`, (s) => {
        if (s.live.length === 0) return;
        const q = s.live[i % s.live.length]!;
        both(s, (r) => r.p.storeU32(virtAddr(q + 8), i >>> 0));
      }),
    );
    // free, a write into a block on another page (which pushes the freed
    // chunk's page out of the one L1 set of two ways, where the tcache's
    // page, used later by the free, stays), then a malloc of
    // the same size: the tcache hands the chunk back, often through the
    // hand-over for a page missing from the tags.
    const recycleStep = fc.tuple(fc.nat(), fc.constantFrom(0, 40, 136, 520, 1032)).map(([i, n]) =>
      step<Both>(`malloc(${n}), free, a write, malloc(${n}) (#${i})`, (s) => {
        const q = both(s, (r) => r.m.malloc(n));
        if (q === 0) return;
        both(s, (r) => r.m.free(q));
        const pages = new Set([Math.floor(q / 4096)]);
        for (let k = 0; k < s.live.length && pages.size < 2; k++) {
          const o = s.live[(i + k) % s.live.length]!;
          if (pages.has(Math.floor((o + 8) / 4096))) continue;
          pages.add(Math.floor((o + 8) / 4096));
          both(s, (r) => r.p.storeU32(virtAddr(o + 8), k));
        }
        const again = both(s, (r) => r.m.malloc(n));
        if (again === 0) return;
        both(s, (r) => r.p.storeU32(virtAddr(again), (again % 2 ** 32) >>> 0));
        s.live.push(again);
      }),
    );
    const doubleFreeStep = fc.nat().map((i) =>
      step<Both>(`free a freed block (#${i})`, (s) => {
        if (s.live.length === 0) return;
        const q = s.live[i % s.live.length]!;
        both(s, (r) => r.m.free(q));
        s.live.splice(s.live.indexOf(q), 1);
        // A second free: glibc's tcache or fastbin check aborts, in both runs alike.
        try {
          both(s, (r) => r.m.free(q));
        } catch {
          s.runs = [make(true), make(false)];
          s.live = [];
        }
      }),
    );
    checkSequences<Both>({
      setup: () => ({ runs: [make(true), make(false)], live: [] }),
      steps: fc.oneof(
        { weight: 4, arbitrary: mallocStep },
        { weight: 3, arbitrary: freeStep },
        { weight: 3, arbitrary: writeStep },
        { weight: 3, arbitrary: recycleStep },
        { weight: 1, arbitrary: doubleFreeStep },
      ),
      check: (s) => {
        for (const r of s.runs) {
          r.m.check();
          r.machine.check();
        }
        expect(tlbCounts(s.runs[0].machine)).toEqual(tlbCounts(s.runs[1].machine));
      },
      maxSteps: 150,
      numRuns: 30,
    });
  });

  it("a block the tcache hands back holds what it does through the port: its next pointer, a cleared key", () => {
    // Skylake's TLB, so that most calls find both of their pages (the
    // chunk's and the tcache's) in the tags and count their hits at once;
    // after every malloc the block's first two words are read back.
    const run = (tags: boolean) => {
      const machine = createMachine({ ram: "64M" });
      const p = machine.spawn("words");
      const m = createMalloc(ports(p, tags));
      const live: number[] = [];
      const words: number[] = [];
      let pageStarts = 0;
      let seed = 7;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let i = 0; i < 6000; i++) {
        if (live.length > 0 && rand(3) === 0) {
          const [q] = live.splice(rand(live.length), 1);
          if (q! % 4096 === 0) pageStarts++;
          m.free(q!);
        } else {
          const q = m.malloc(8 + rand(1000));
          words.push(q, p.loadU64(virtAddr(q)), p.loadU64(virtAddr(q + 8)));
          // A user's write over the key: the next free must still find the chunk single.
          p.storeU32(virtAddr(q + 8), i);
          live.push(q);
        }
      }
      m.check();
      machine.check();
      return { words, pageStarts, counts: tlbCounts(machine) };
    };
    const viaTags = run(true);
    const viaPort = run(false);
    expect(viaTags.words).toEqual(viaPort.words);
    expect(viaTags.counts).toEqual(viaPort.counts);
    // Some freed blocks start a page: their size field lies in the page before.
    expect(viaTags.pageStarts).toBeGreaterThan(0);
  });

  it("two processes allocating in turn never read or count through each other's tags", () => {
    // The same calls in both runs: a seeded mix of malloc, free and writes
    // of each block's own pattern, alternating between two processes on
    // one machine (so every call switches address space).
    const run = (tags: boolean) => {
      const machine = createMachine({ ram: "256M" });
      const procs = [machine.spawn("a"), machine.spawn("b")];
      const heaps: Malloc[] = procs.map((p) => createMalloc(ports(p, tags)));
      const live: number[][] = [[], []];
      const log: number[] = [];
      let seed = 12345;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let i = 0; i < 4000; i++) {
        const k = i & 1;
        const m = heaps[k]!;
        const p = procs[k]!;
        if (live[k]!.length > 0 && rand(3) === 0) {
          const j = rand(live[k]!.length);
          const q = live[k]![j]!;
          // The block still holds what this process wrote into it.
          const v = p.loadU32(virtAddr(q));
          expect(v).toBe(((q % 2 ** 32) ^ (k + 1)) >>> 0);
          log.push(v);
          m.free(q);
          live[k]!.splice(j, 1);
        } else {
          const q = m.malloc(16 + rand(600));
          p.storeU32(virtAddr(q), ((q % 2 ** 32) ^ (k + 1)) >>> 0);
          live[k]!.push(q);
          log.push(q);
        }
      }
      for (const m of heaps) m.check();
      machine.check();
      return { log, counts: tlbCounts(machine) };
    };
    const viaTags = run(true);
    const viaPort = run(false);
    expect(viaTags.log).toEqual(viaPort.log);
    expect(viaTags.counts).toEqual(viaPort.counts);
  });
});

// Call lists with the queries a trace cannot hold (malloc_trim,
// malloc_usable_size, mallopt, mallinfo2) between the calls, run by the real
// glibc through fixtures/glibc/calls.c (fixtures/random/record.sh records
// them): the simulated malloc must print the same lines.
import { CorruptionError, FlatMemory, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "@memstack/core";
import { createMachine } from "@memstack/machine";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMalloc, parseCallList, runCallList, TraceSyntaxError } from "../src/index.js";
import { runCalls } from "./calls.js";
import { bySeed, fixture, forker, newHeap, RANDOM_MIXES, throughPorts } from "./helpers.js";

const quiet = { stderr: () => {} };
// posix_memalign's pointer goes to 0x1000, below FlatMemory's heap (0x10000).
const MEMPTR = 0x1000;
// A process and a page of it for posix_memalign's pointer.
const inProcess = (ram: string) => {
  const machine = createMachine({ ram });
  const p = machine.spawn("calls");
  const memptr = p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  return { machine, p, memptr, m: createMalloc({ memory: p, programBreak: p, mapper: p, ...quiet }) };
};

describe("malloc_trim, malloc_usable_size, mallopt and mallinfo2 between random calls, as glibc answers", () => {
  for (const mix of RANDOM_MIXES) {
    for (const seed of [0, 1]) {
      const name = `${mix}-${seed}`;
      it(`${name} on FlatMemory`, () => {
        const { m, mem } = newHeap(quiet, 1 << 28);
        const got = runCalls(m, fixture(`random/${name}.calls.gz`), mem, MEMPTR);
        expect(got === fixture(`random/${name}.calls.expected.gz`), "differs from glibc's answers").toBe(
          true,
        );
        m.check();
      });
    }
  }

  // Lists written by hand, each for a case glibc answers in a way that is easy to miss.
  const HAND_WRITTEN = [
    {
      name: "trim-grows",
      what: "malloc_trim with top at MINSIZE grows the heap, as glibc 2.36's signed/unsigned test makes it",
      mark: /trim 1\nmallinfo2 arena=2260992 /,
    },
    {
      name: "ptrdiff-max",
      what: "PTRDIFF_MAX passes the size checks (tcache set up, fastbins consolidated) and fails in sysmalloc; 2^63 fails at once",
      mark: /^null\nerrno 12\nmallinfo2 arena=0 [^\n]*\nnull\nerrno 12\nmallinfo2 arena=135168 /,
    },
    {
      name: "top-pad-wraps",
      what: "a negative M_TOP_PAD wraps sysmalloc's size_t sum: -1 grows the heap by the request, minus two pages by less",
      mark: /^mallopt 1\n0x2a0\nmallinfo2 arena=4096 /,
    },
    {
      name: "wrapped-prev-size",
      what: "a prev_size of -0x20 consolidates backwards into a fake chunk above, in free and in malloc_consolidate; malloc_usable_size of a size of -0x100 looks below",
      mark: /^0x2a0\n0x7a0\n[^\n]*\n0x2c0\n/,
      // The list leaves overlapping chunks, as glibc does: check() says so.
      overlaps: true,
    },
  ];
  for (const { name, what, mark, overlaps } of HAND_WRITTEN) {
    it(`${what}, on every backend (fixtures/glibc/${name}.calls)`, () => {
      const list = fixture(`glibc/${name}.calls`);
      const expected = fixture(`glibc/${name}.expected`);
      expect(expected).toMatch(mark);
      const checked = (m: { check(): void }) =>
        overlaps ? expect(() => m.check()).toThrow(CorruptionError) : m.check();
      const { m, mem } = newHeap(quiet, 1 << 28);
      expect(runCalls(m, list, mem, MEMPTR)).toBe(expected);
      checked(m);
      const ports = throughPorts(new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 28 }));
      const generic = createMalloc({ ...ports, ...quiet });
      expect(runCalls(generic, list, ports.memory, MEMPTR)).toBe(expected);
      checked(generic);
      const proc = inProcess("64M");
      expect(runCalls(proc.m, list, proc.p, proc.memptr)).toBe(expected);
      checked(proc.m);
      proc.machine.check();
    });
  }

  it("mixed-0 and large-0 in a process of createMachine()", () => {
    for (const name of ["mixed-0", "large-0"]) {
      const { machine, p, memptr, m } = inProcess("256M");
      const got = runCalls(m, fixture(`random/${name}.calls.gz`), p, memptr);
      expect(got === fixture(`random/${name}.calls.expected.gz`)).toBe(true);
      m.check();
      machine.check();
    }
  });
});

// Random lists of every entry point calls.c runs (fixtures/calls:
// generate.mjs wrote them, record.sh kept what the real glibc printed):
// mallopt with negative values, sizes past 2^62, calloc products past 2^63,
// posix_memalign, aligned_alloc, valloc and pvalloc with odd alignments.
describe("random lists of every entry point, as glibc answers them (fixtures/calls)", () => {
  const lists = bySeed(fixture("calls/lists.txt.gz"));
  const expected = bySeed(fixture("calls/expected.txt.gz"));

  it("has the lists record.sh keeps", () => {
    expect(lists.size).toBe(200);
    expect([...expected.keys()]).toEqual([...lists.keys()]);
  });

  it("on FlatMemory: the same lines, every list", () => {
    for (const [seed, list] of lists) {
      const mem = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 30 });
      const m = createMalloc({ memory: mem, programBreak: mem, mapper: mem, ...quiet });
      expect(runCalls(m, list, mem, MEMPTR), `seed ${seed}`).toBe(expected.get(seed));
      m.check();
    }
  });

  it("in a process of createMachine(): the same lines, every list", () => {
    for (const [seed, list] of lists) {
      const { p, memptr, m } = inProcess("1G");
      // The mmap area lies terabytes above the heap, as in glibc's process.
      const inHeap = (q: number) => q >= m.heapBase && q - m.heapBase < 2 ** 32;
      expect(runCalls(m, list, p, memptr, { inHeap }), `seed ${seed}`).toBe(expected.get(seed));
      m.check();
    }
  });
});

// The same lists with fork(2) between the calls (fixtures/fork: generate.mjs
// put the F and P lines in, record.sh kept what the real glibc printed): in
// the child, the rest of the list runs on the malloc it inherited
// (`forkChild`); after P, the parent goes on, its pages shared with the
// child until the child exits.
describe("random lists with fork between the calls, as glibc answers them (fixtures/fork)", () => {
  const lists = bySeed(fixture("fork/lists.txt.gz"));
  const expected = bySeed(fixture("fork/expected.txt.gz"));

  it("has the lists record.sh keeps, forking into the child and going on in the parent", () => {
    expect(lists.size).toBe(100);
    expect([...expected.keys()]).toEqual([...lists.keys()]);
    const all = [...lists.values()].join("");
    expect(all).toMatch(/^F$/m);
    expect(all).toMatch(/^P$/m);
  });

  it("in a process of createMachine(): the same lines, every list, check() in every process", () => {
    for (const [seed, list] of lists) {
      const { machine, p, memptr, m } = inProcess("1G");
      const { fork, heaps } = forker(p, m);
      const inHeap = (q: number) => q >= m.heapBase && q - m.heapBase < 2 ** 32;
      expect(runCalls(m, list, p, memptr, { inHeap, fork }), `seed ${seed}`).toBe(expected.get(seed));
      // Every process's heap is whole: the parents' as they were at their fork.
      for (const h of heaps) h.check();
      machine.check();
    }
  });
});

describe("parseCallList and runCallList", () => {
  it("refuses a malformed line before any call runs, naming its line", () => {
    const bad: [string, RegExp][] = [
      ["m 1 24\nq 2\n", /error 2: unknown call 'q'$/],
      ["m 1\n", /error 1: 'm' takes 2 field\(s\), got 1$/],
      ["# a comment\n\nf 1 2\n", /error 3: 'f' takes 1 field\(s\), got 2$/],
      ["m 1 2x\n", /error 1: bad number$/],
      ["m 1 0x10000000000000000\n", /error 1: bad number$/],
      ["m 65536 8\n", /error 1: ID must be below 65536$/],
      ["x 1 8 -2 0\n", /error 1: ID must be below 65536$/],
    ];
    for (const [list, message] of bad) {
      const { m } = newHeap(quiet);
      const before = m.counters();
      expect(() => runCallList(m, list, m as never, MEMPTR)).toThrow(TraceSyntaxError);
      expect(() => parseCallList(list)).toThrow(message);
      // Nothing ran: not even the valid lines before the bad one.
      expect(m.counters()).toEqual(before);
      expect(m.chunks()).toEqual([]);
      m.check();
    }
    expect(parseCallList("w 1 -8 -0x10\nX 2 0 1 -16\n").map((c) => c.args)).toEqual([
      [1, -8, -16],
      [2, 0, 1, -16],
    ]);
  });

  it("forks only where the memory can: F and P on a FlatMemory are a UsageError naming fork", () => {
    const { m, mem } = newHeap(quiet);
    const out: string[] = [];
    expect(() => runCallList(m, "m 1 24\nF\nm 2 24\n", mem, MEMPTR, { out })).toThrow(
      expect.objectContaining({ argument: "fork" }),
    );
    expect(out).toEqual(["0x2a0"]);
    m.check();
  });
});

describe("parseCallList on any text", () => {
  it("returns calls or throws a TraceSyntaxError naming a line of the text, nothing else", () => {
    const token = fc.oneof(
      fc.constantFrom(..."mcarftuoipAvVewxXFPqZ#".split("")),
      fc.constantFrom(
        "0",
        "1",
        "-8",
        "0x10",
        "65535",
        "65536",
        "0xffffffffffffffff",
        "18446744073709551616",
        "1e3",
        "-",
        "0x",
        "",
      ),
      fc.string({ maxLength: 4 }),
    );
    const line = fc
      .tuple(fc.array(token, { maxLength: 6 }), fc.constantFrom(" ", "  ", "\t"))
      .map(([t, sep]) => t.join(sep));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        const text = lines.join("\n");
        try {
          const calls = parseCallList(text);
          for (const c of calls) {
            expect(c.line).toBeGreaterThanOrEqual(1);
            expect(c.line).toBeLessThanOrEqual(lines.length);
            expect(c.args.every((a) => Number.isFinite(a))).toBe(true);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(TraceSyntaxError);
          const n = (e as TraceSyntaxError).line;
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(lines.length);
        }
      }),
      { numRuns: Number(process.env.MEMSTACK_RUNS ?? 300) },
    );
  });
});

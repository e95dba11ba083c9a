// Random call sequences with check() after every step (testkit's
// checkSequences): every block carries a tag in its first and last byte, so
// a block handed out twice, or overlapping another, or not copied by
// realloc, shows up as a wrong tag.
import { type VirtualMemory, virtAddr } from "@memstack/core";
import { createMachine } from "@memstack/machine";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, it } from "vitest";
import { createMalloc, M_MMAP_THRESHOLD, type Malloc } from "../src/index.js";
import { newHeap } from "./helpers.js";

interface Block {
  p: number;
  n: number;
  tag: number;
}
interface State {
  m: Malloc;
  mem: Pick<VirtualMemory, "loadU8" | "storeU8">;
  /** Everything below the malloc that has a check() of its own. */
  below: () => void;
  live: Block[];
  nextTag: number;
}

const onFlat = (): State => {
  const h = newHeap();
  return { m: h.m, mem: h.mem, below: () => h.mem.check(), live: [], nextTag: 0 };
};

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 0x90 }) },
  { weight: 4, arbitrary: fc.integer({ min: 0x91, max: 0x1200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x1201, max: 0x40000 }) },
);

function tagBlock(s: State, p: number, n: number): void {
  if (p === 0) return;
  const tag = (s.nextTag++ % 250) + 1;
  s.mem.storeU8(virtAddr(p), tag);
  s.mem.storeU8(virtAddr(p + Math.max(n, 1) - 1), tag);
  s.live.push({ p, n, tag });
}

function verify(s: State, b: Block): void {
  const first = s.mem.loadU8(virtAddr(b.p));
  const last = s.mem.loadU8(virtAddr(b.p + Math.max(b.n, 1) - 1));
  if (first !== b.tag || last !== b.tag) {
    throw new Error(`block 0x${b.p.toString(16)} (${b.n} bytes) lost its tag ${b.tag}: ${first}, ${last}`);
  }
}

function take(s: State, i: number): Block | undefined {
  if (s.live.length === 0) return undefined;
  const [b] = s.live.splice(i % s.live.length, 1);
  verify(s, b!);
  return b;
}

// The heap, what lies below it, and every live block's tags.
function checkAll(s: State): void {
  s.m.check();
  s.below();
  for (const b of s.live) verify(s, b);
}

const steps = fc.oneof(
  size.map((n) => step<State>(`malloc(${n})`, (s) => tagBlock(s, s.m.malloc(n), n))),
  fc.nat().map((i) =>
    step<State>(`free(#${i})`, (s) => {
      const b = take(s, i);
      if (b) s.m.free(b.p);
    }),
  ),
  fc.tuple(fc.nat(), size).map(([i, n]) =>
    step<State>(`realloc(#${i}, ${n})`, (s) => {
      const b = take(s, i);
      if (!b) return;
      const q = s.m.realloc(b.p, n);
      if (n === 0) return;
      if (q === 0) throw new Error("realloc failed");
      const kept = Math.min(b.n, n);
      if (kept > 0 && s.mem.loadU8(virtAddr(q)) !== b.tag) throw new Error("realloc lost the first byte");
      tagBlock(s, q, n);
    }),
  ),
  fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 64 })).map(([k, n]) =>
    step<State>(`calloc(${k}, ${n})`, (s) => {
      const p = s.m.calloc(k, n);
      for (let i = 0; i < k * n; i += 7) {
        if (s.mem.loadU8(virtAddr(p + i)) !== 0) throw new Error(`calloc byte ${i} is not zero`);
      }
      tagBlock(s, p, k * n);
    }),
  ),
  fc.tuple(fc.integer({ min: 4, max: 13 }), size).map(([shift, n]) =>
    step<State>(`memalign(${2 ** shift}, ${n})`, (s) => {
      const p = s.m.memalign(2 ** shift, n);
      if (p % 2 ** shift !== 0) throw new Error("misaligned");
      tagBlock(s, p, n);
    }),
  ),
  fc
    .integer({ min: 0, max: 0x20000 })
    .map((pad) => step<State>(`malloc_trim(${pad})`, (s) => s.m.malloc_trim(pad))),
  fc
    .constantFrom(0, 0x1000, 0x8000, 0x20000)
    .map((v) => step<State>(`mallopt(M_MMAP_THRESHOLD, ${v})`, (s) => s.m.mallopt(M_MMAP_THRESHOLD, v))),
);

describe("random call sequences keep every heap invariant", () => {
  it("malloc, free, realloc, calloc, memalign and malloc_trim, check() after each step", () => {
    checkSequences<State>({
      setup: onFlat,
      steps,
      check: checkAll,
      maxSteps: 80,
      numRuns: 150,
    });
  });

  it("the same in a process of createMachine(): page tables, TLB, demand paging and the kernel checked too", () => {
    checkSequences<State>({
      setup: () => {
        const machine = createMachine({ ram: "128M" });
        const p = machine.spawn("prop");
        const m = createMalloc({ memory: p, programBreak: p, mapper: p });
        return { m, mem: p, below: () => machine.check(), live: [], nextTag: 0 };
      },
      steps,
      check: checkAll,
      maxSteps: 50,
      numRuns: 20,
    });
  });

  it("the same through the tcache-heavy small sizes only", () => {
    const small = fc.integer({ min: 0, max: 0x100 });
    checkSequences<State>({
      setup: onFlat,
      steps: fc.oneof(
        small.map((n) => step<State>(`malloc(${n})`, (s) => tagBlock(s, s.m.malloc(n), n))),
        small.map((n) => step<State>(`malloc(${n})`, (s) => tagBlock(s, s.m.malloc(n), n))),
        fc.nat().map((i) =>
          step<State>(`free(#${i})`, (s) => {
            const b = take(s, i);
            if (b) s.m.free(b.p);
          }),
        ),
      ),
      check: (s) => s.m.check(),
      maxSteps: 120,
      numRuns: 100,
    });
  });
});

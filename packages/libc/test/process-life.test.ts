// libc's heap in a process of createMachine() while the rest of the machine
// goes on: forks that share its pages copy-on-write, reclaim and
// MADV_PAGEOUT that swap them out, other processes that take the MMU (and
// with it the fast tags) and press on RAM. libc serves most of its accesses
// through the MMU's fast tags, past the process and the page tables, so
// each of these must leave the tags holding only what the TLB would: a
// write to a page a fork shared must fault and copy, not land in the frame
// the child still maps; a page swapped out must be read back, not through a
// host view of a frame since given to someone else.
//
// Every block carries a tag in its first and last byte; every fork keeps
// the tags its parent's blocks had at that moment, and must go on reading
// them (or what it wrote itself) whatever the parent does after. A fork
// runs malloc too, on the heap it inherited (`forkChild`): the same
// addresses in two address spaces, each through its own tags.
import { Fault, MADV_PAGEOUT, MAP_PRIVATE, PROT_READ, PROT_WRITE, virtAddr } from "@memstack/core";
import { createMachine, type Machine, type MachineOptions } from "@memstack/machine";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMalloc, type Malloc } from "../src/index.js";

const PAGE = 4096;
type Process = ReturnType<Machine["spawn"]>;

interface Block {
  p: number;
  n: number;
  tag: number;
}
/** A process with a heap: its malloc and the blocks it holds. */
interface Heap {
  p: Process;
  m: Malloc;
  live: Block[];
}
interface Hog {
  proc: Process;
  at: number;
  pages: number;
  tag: number;
}
/** The heap's process (the Heap fields), its forks and the machine around them. */
interface State extends Heap {
  machine: Machine;
  startBrk: number;
  nextTag: number;
  /** Forks of the process, each with the malloc it inherited and blocks of its own. */
  children: Heap[];
  hogs: Hog[];
  /** The kernel's counters at the last check, for {@link seen}. */
  counted: Record<Counter, number>;
}

// What the runs made the kernel do to the heap's pages, over every run: the
// property must have swapped pages out and in and broken copy-on-write
// shares, or it tested nothing of what it is for.
const COUNTERS = ["swapOuts", "swapIns", "cowCopies", "cowReuses", "thpFaults", "heapHuge"] as const;
type Counter = (typeof COUNTERS)[number];
const zeros = (): Record<Counter, number> => ({
  swapOuts: 0,
  swapIns: 0,
  cowCopies: 0,
  cowReuses: 0,
  thpFaults: 0,
  // Checks that found a huge page mapped in the heap's process.
  heapHuge: 0,
});
let seen = zeros();

// Little RAM and more swap: the heap, its forks and the hogs do not all
// fit, so kswapd and direct reclaim swap pages out as the run goes on.
const SMALL: MachineOptions = { ram: "8M", swap: "64M" };
// Transparent huge pages for every anonymous region that can hold one, the
// heap's among them: the tags then serve 4 KiB pieces of 2 MiB pages, which
// fork shares, writes split and reclaim splits and swaps out.
const HUGE: MachineOptions = { ram: "48M", swap: "64M", thp: "always" };

function setup(options: MachineOptions = SMALL): State {
  const machine = createMachine(options);
  const p = machine.spawn("heap");
  const m = createMalloc({ memory: p, programBreak: p, mapper: p });
  return {
    machine,
    p,
    m,
    startBrk: p.brk(0),
    live: [],
    nextTag: 0,
    children: [],
    hogs: [],
    counted: zeros(),
  };
}

// The bytes of a block that carry its tag: the first and the last, and
// one every 512 KiB between (so that a large block's pages are touched
// inside, where a 2 MiB region lies whole in its mapping).
function ends(b: Block): number[] {
  const last = b.p + Math.max(b.n, 1) - 1;
  const out = [b.p];
  for (let a = b.p + 0x80000; a < last; a += 0x80000) out.push(a);
  out.push(last);
  return out;
}

// Writes a fresh tag over block `b` of heap `h` (into its list if new).
function retag(s: State, h: Heap, b: Block): void {
  b.tag = (s.nextTag++ % 250) + 1;
  for (const a of ends(b)) h.p.storeU8(virtAddr(a), b.tag);
}

function tagBlock(s: State, p: number, n: number, h: Heap = s): void {
  if (p === 0) throw new Error(`malloc(${n}) failed`);
  const b = { p, n, tag: 0 };
  retag(s, h, b);
  h.live.push(b);
}

function verify(h: Heap, b: Block): void {
  for (const a of ends(b)) {
    const got = h.p.loadU8(virtAddr(a));
    if (got !== b.tag) {
      throw new Error(
        `process ${h.p.pid}: block 0x${b.p.toString(16)} (${b.n} bytes) lost its tag ${b.tag} at 0x${a.toString(16)}: ${got}`,
      );
    }
  }
}

function take(h: Heap, i: number): Block | undefined {
  if (h.live.length === 0) return undefined;
  const [b] = h.live.splice(i % h.live.length, 1);
  verify(h, b!);
  return b;
}

function checkAll(s: State): void {
  const stats = s.machine.kernel.pages.stats;
  for (const k of COUNTERS) {
    if (k === "heapHuge") continue;
    seen[k] += stats[k] - s.counted[k];
    s.counted[k] = stats[k];
  }
  if (s.p.huge.size > 0) seen.heapHuge++;
  s.m.check();
  s.machine.check();
  for (const b of s.live) verify(s, b);
  for (const c of s.children) {
    c.m.check();
    for (const b of c.live) verify(c, b);
  }
  for (const h of s.hogs) {
    for (let i = 0; i < h.pages; i += 7) {
      if (h.proc.loadU8(virtAddr(h.at + i * PAGE)) !== h.tag)
        throw new Error(`hog ${h.proc.pid} lost page ${i}`);
    }
  }
}

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 0x90 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0x91, max: 0x1200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x1201, max: 0x30000 }) },
);

const steps = fc.oneof(
  {
    weight: 6,
    arbitrary: size.map((n) => step<State>(`malloc(${n})`, (s) => tagBlock(s, s.m.malloc(n), n))),
  },
  {
    weight: 5,
    arbitrary: fc.nat().map((i) =>
      step<State>(`free(#${i})`, (s) => {
        const b = take(s, i);
        if (b) s.m.free(b.p);
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0x200000, max: 0x400000 }).map((n) =>
      step<State>(`malloc(${n})`, (s) => {
        // 2 to 4 MiB: mmapped, and so aligned for a huge page, until a free
        // of one raises the mmap threshold; then from the break, grown at
        // once past a 2 MiB boundary (a heap grown bit by bit has its page
        // table before any 2 MiB of it is inside the VMA, and stays in
        // 4 KiB pages, as Linux's does).
        tagBlock(s, s.m.malloc(n), n);
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.nat(), size).map(([i, n]) =>
      step<State>(`realloc(#${i}, ${n})`, (s) => {
        const b = take(s, i);
        if (!b) return;
        const q = s.m.realloc(b.p, Math.max(n, 1));
        if (q === 0) throw new Error("realloc failed");
        if (s.p.loadU8(virtAddr(q)) !== b.tag) throw new Error("realloc lost the first byte");
        tagBlock(s, q, Math.max(n, 1));
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.nat().map((i) =>
      step<State>(`fork(#${i})`, (s) => {
        const p = s.p.fork("child");
        if (p === null) throw new Error("fork failed");
        const m = s.m.forkChild({ memory: p, programBreak: p, mapper: p });
        const child = { p, m, live: s.live.map((b) => ({ ...b })) };
        s.children.push(child);
        // The child writes over one of the blocks it shares with the parent
        // (its copy-on-write breaks); the parent's block keeps its tag.
        if (child.live.length > 0) retag(s, child, child.live[i % child.live.length]!);
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.nat().map((i) =>
      step<State>(`exit child #${i}`, (s) => {
        if (s.children.length === 0) return;
        const [c] = s.children.splice(i % s.children.length, 1);
        c!.p.exit();
      }),
    ),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.nat(), size).map(([i, n]) =>
      step<State>(`child #${i}: malloc(${n})`, (s) => {
        if (s.children.length === 0) return;
        const c = s.children[i % s.children.length]!;
        tagBlock(s, c.m.malloc(n), n, c);
      }),
    ),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([i, j]) =>
      step<State>(`child #${i}: free(#${j})`, (s) => {
        if (s.children.length === 0) return;
        const c = s.children[i % s.children.length]!;
        const b = take(c, j);
        if (b) c.m.free(b.p);
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constant(
      step<State>("reclaimAll", (s) => {
        s.machine.kernel.reclaimAll();
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constant(
      step<State>("madvise(heap, MADV_PAGEOUT)", (s) => {
        const end = s.p.brk(0);
        const len = Math.ceil((end - s.startBrk) / PAGE) * PAGE;
        if (len > 0) expect(s.p.madvise(s.startBrk, len, MADV_PAGEOUT)).toBe(0);
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 0x20000 }).map((pad) =>
      step<State>(`malloc_trim(${pad})`, (s) => {
        s.m.malloc_trim(pad);
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.nat().map((i) =>
      step<State>(`mprotect(page of #${i}, PROT_READ)`, (s) => {
        // The page turns read-only under the tags that served its writes:
        // a store must fault (the simulated SIGSEGV) and change nothing, a
        // load still read it; then it is writable again.
        if (s.live.length === 0) return;
        const b = s.live[i % s.live.length]!;
        const page = b.p - (b.p % PAGE);
        s.p.storeU8(virtAddr(b.p), b.tag);
        expect(s.p.mprotect(page, PAGE, PROT_READ)).toBe(0);
        expect(() => s.p.storeU8(virtAddr(b.p), 0)).toThrow(Fault);
        expect(s.p.loadU8(virtAddr(b.p))).toBe(b.tag);
        expect(s.p.mprotect(page, PAGE, PROT_READ | PROT_WRITE)).toBe(0);
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 768 }).map((pages) =>
      step<State>(`hog(${pages}p)`, (s) => {
        // Another process writes its own pages: it takes the MMU, and its
        // frames press the heap's out to swap.
        const proc = s.machine.spawn("hog");
        const at = proc.mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
        const tag = (s.nextTag++ % 250) + 1;
        for (let i = 0; i < pages; i++) proc.storeU8(virtAddr(at + i * PAGE), tag);
        s.hogs.push({ proc, at, pages, tag });
        if (s.hogs.length > 2) s.hogs.shift()!.proc.exit();
      }),
    ),
  },
);

describe("libc's heap in a process while the machine goes on", () => {
  it("keeps every block's bytes, and every fork its own, through forks, swap and other processes (check() after each step)", () => {
    seen = zeros();
    checkSequences<State>({ setup: () => setup(SMALL), steps, check: checkAll, maxSteps: 60, numRuns: 25 });
    for (const k of COUNTERS)
      if (k !== "thpFaults" && k !== "heapHuge") expect(seen[k], k).toBeGreaterThan(0);
  });

  it("the same with transparent huge pages under the heap", () => {
    // Random sequences, checked after every step; then sequences of a fixed
    // seed, which reach every path counted below. (Random ones alone missed
    // a huge page under the heap in about one run of 13: seeds 16, 44 and
    // 49 of the first 50.)
    checkSequences<State>({ setup: () => setup(HUGE), steps, check: checkAll, maxSteps: 60, numRuns: 20 });
    seen = zeros();
    checkSequences<State>({
      setup: () => setup(HUGE),
      steps,
      check: checkAll,
      maxSteps: 60,
      numRuns: 20,
      seed: 1,
    });
    for (const k of COUNTERS) expect(seen[k], k).toBeGreaterThan(0);
  });

  it("forkChild: the child goes on with the heap it inherited, and the two heaps go their own ways", () => {
    const s = setup();
    const x = s.m.malloc(24);
    const y = s.m.malloc(5000);
    const child = s.p.fork("child")!;
    const cm = s.m.forkChild({ memory: child, programBreak: child, mapper: child });
    expect(cm.heapBase).toBe(s.m.heapBase);
    expect(cm.arenaAddress).toBe(s.m.arenaAddress);
    // Both grow from the same top: the same address, in two address spaces.
    const a = s.m.malloc(70_000);
    expect(cm.malloc(70_000)).toBe(a);
    s.p.storeU8(virtAddr(a), 1);
    child.storeU8(virtAddr(a), 2);
    expect(s.p.loadU8(virtAddr(a))).toBe(1);
    expect(child.loadU8(virtAddr(a))).toBe(2);
    // The child frees what it inherited; its tcache hands x back, the parent's does not.
    cm.free(x);
    expect(cm.malloc(24)).toBe(x);
    expect(s.m.malloc(24)).not.toBe(x);
    cm.free(y);
    expect(cm.chunks().find((c) => c.address === y - 16)?.state).not.toBe("in-use");
    expect(s.m.chunks().find((c) => c.address === y - 16)?.state).toBe("in-use");
    s.m.check();
    cm.check();
    s.machine.check();
  });

  it("forkChild refuses a memory that is not the process's fork as fork left it, naming the argument", () => {
    const s = setup();
    s.m.malloc(24);
    // Another process with a malloc of its own: its arena lies at the same address, but holds another heap.
    const other = s.machine.spawn("other");
    const om = createMalloc({ memory: other, programBreak: other, mapper: other });
    om.malloc(100);
    const ports = (p: Process) => ({ memory: p, programBreak: p, mapper: p });
    expect(() => s.m.forkChild(ports(other))).toThrow(expect.objectContaining({ argument: "child" }));
    // A fork whose parent has called malloc since.
    const child = s.p.fork("child")!;
    s.m.malloc(3000);
    expect(() => s.m.forkChild(ports(child))).toThrow(/as fork left it/);
    // Ports missing.
    expect(() => s.m.forkChild({ memory: child } as never)).toThrow(
      expect.objectContaining({ argument: "child" }),
    );
    // A process with nothing mapped there.
    const empty = s.machine.spawn("empty");
    expect(() => s.m.forkChild(ports(empty))).toThrow(expect.objectContaining({ argument: "child" }));
    s.m.check();
    om.check();
    s.machine.check();
  });

  it("a write after fork copies the shared page: the child still reads the tag the parent overwrote", () => {
    const s = setup();
    const a = s.m.malloc(24);
    s.p.storeU8(virtAddr(a), 7);
    const child = s.p.fork("child")!;
    // Warm the parent's tags on that page, then free and reuse the chunk:
    // free writes the tcache's next pointer and key over the block's first
    // bytes, malloc clears the key: all through the tags, all after fork.
    expect(s.p.loadU8(virtAddr(a))).toBe(7);
    s.m.free(a);
    const b = s.m.malloc(24);
    expect(b).toBe(a);
    s.p.storeU8(virtAddr(b), 9);
    expect(child.loadU8(virtAddr(a))).toBe(7);
    expect(s.p.loadU8(virtAddr(a))).toBe(9);
    s.m.check();
    s.machine.check();
  });
});

/**
 * The figures packages/kernel/README.md quotes, each beside its baseline in
 * the same run, on core's reference MMU (SimpleMmu: no page tables in RAM,
 * no TLB), so the kernel's own costs show; @memstack/machine's benchmark
 * measures the same through the x86-64 MMU and the buddy allocator.
 *
 *   1. mmap/munmap and mprotect (split, then merge) with 100 000 VMAs against
 *      the same calls with 100 (target: within 2x);
 *   2. demand-zero faults: first writes to fresh pages through a Process,
 *      against filling as many fresh 4 KiB pages of a typed array; once with
 *      core's BitmapFrameAllocator (first fit: each allocation scans the
 *      frames from the lowest up, so it costs more the more is allocated)
 *      and once with a free-frame stack (O(1)), which leaves the kernel's
 *      own cost.
 *
 * Run: pnpm --filter @memstack/kernel bench
 */
import { cpus } from "node:os";
import {
  BitmapFrameAllocator,
  type FrameAllocator,
  MAP_FIXED,
  MAP_PRIVATE,
  type Pfn,
  PROT_READ,
  PROT_WRITE,
  SimpleMmu,
  SparseRam,
  UsageError,
  virtAddr,
} from "@memstack/core";
import { median, pairedRatio } from "@memstack/testkit/bench";
import { do_not_optimize, measure } from "mitata";
import { Kernel, type Process } from "../src/index.js";

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const ROUNDS = 5;
const fmt = (n: number, d = 2) => n.toFixed(d);
const p50 = async (fn: () => unknown) =>
  (await measure(() => do_not_optimize(fn()), { min_cpu_time: 200e6 })).p50;

// Single frames from a stack, lowest first: O(1) per call, where
// BitmapFrameAllocator's first fit scans every allocated frame below.
class FrameStack implements FrameAllocator {
  readonly frameCount: number;
  readonly #free: Int32Array;
  #top: number;
  constructor(frameCount: number) {
    this.frameCount = frameCount;
    this.#free = new Int32Array(frameCount);
    for (let i = 0; i < frameCount; i++) this.#free[i] = frameCount - 1 - i;
    this.#top = frameCount;
  }
  get freeFrameCount(): number {
    return this.#top;
  }
  allocFrames(order: number): Pfn | null {
    if (order !== 0) throw new UsageError("bench", "FrameStack: single frames only", "order");
    return this.#top === 0 ? null : (this.#free[--this.#top]! as Pfn);
  }
  freeFrames(frame: Pfn): void {
    this.#free[this.#top++] = frame;
  }
}

function kernel(ramBytes: number, stack = false): Kernel {
  const ram = new SparseRam({ sizeBytes: ramBytes });
  const frameCount = ramBytes / PAGE;
  return new Kernel({
    ram,
    frames: stack ? new FrameStack(frameCount) : new BitmapFrameAllocator({ frameCount }),
    mmu: new SimpleMmu({ ram }),
    maxMapCount: 1 << 20,
  });
}

// A process with `count` separate one-page VMAs, four pages apart, and a
// free hole in the middle of them for the measured calls.
function withVmas(count: number): { p: Process; hole: number } {
  const p = kernel(64 * 1024 * 1024).spawn();
  const base = 0x100000000;
  const middle = Math.floor(count / 2);
  for (let i = 0; i < count; i++) {
    if (i !== middle) p.mmap(base + i * 4 * PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED);
  }
  return { p, hole: base + middle * 4 * PAGE };
}
const small = withVmas(100);
const large = withVmas(100_000);
const mmapMunmap =
  ({ p, hole }: { p: Process; hole: number }) =>
  () => {
    const a = p.mmap(hole, PAGE, RW, MAP_PRIVATE | MAP_FIXED);
    return p.munmap(a, PAGE);
  };
const mprotectSplitMerge =
  ({ p, hole }: { p: Process; hole: number }) =>
  () => {
    p.mmap(hole, 2 * PAGE, RW, MAP_PRIVATE | MAP_FIXED);
    p.mprotect(hole, PAGE, PROT_READ);
    p.mprotect(hole, PAGE, RW);
    return p.munmap(hole, 2 * PAGE);
  };

// Demand-zero faults: a fresh process each time, 4096 first writes.
const FAULT_PAGES = 4096;
function faults(stack = false): number {
  const p = kernel(64 * 1024 * 1024, stack).spawn();
  const a = p.mmap(0, FAULT_PAGES * PAGE, RW, MAP_PRIVATE);
  const t = performance.now();
  for (let i = 0; i < FAULT_PAGES; i++) p.storeU8(virtAddr(a + i * PAGE), 1);
  return ((performance.now() - t) * 1e6) / FAULT_PAGES;
}
function pageFill(): number {
  const t = performance.now();
  const buf = new Uint8Array(FAULT_PAGES * PAGE);
  for (let i = 0; i < FAULT_PAGES; i++) buf.fill(1, i * PAGE, i * PAGE + PAGE);
  do_not_optimize(buf);
  return ((performance.now() - t) * 1e6) / FAULT_PAGES;
}

const s = { mm100: [] as number[], mm100k: [] as number[], mp100: [] as number[], mp100k: [] as number[] };
const fault: number[] = [];
const faultStack: number[] = [];
const fill: number[] = [];
faults();
faults(true);
for (let r = 0; r < ROUNDS; r++) {
  s.mm100.push(await p50(mmapMunmap(small)));
  s.mm100k.push(await p50(mmapMunmap(large)));
  s.mp100.push(await p50(mprotectSplitMerge(small)));
  s.mp100k.push(await p50(mprotectSplitMerge(large)));
  for (let k = 0; k < 5; k++) {
    fill.push(pageFill());
    fault.push(faults());
    faultStack.push(faults(true));
  }
}
const vmaRatio = {
  mm: pairedRatio(mmapMunmap(small), mmapMunmap(large)),
  mp: pairedRatio(mprotectSplitMerge(small), mprotectSplitMerge(large), 1000),
};
small.p.mm.tree.check();
large.p.mm.tree.check();

console.log(
  `machine: ${cpus()[0]?.model ?? "?"} (${cpus().length} cores), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log(`medians of ${ROUNDS} interleaved rounds of mitata p50s; SimpleMmu (core's reference MMU)\n`);
const mm = [median(s.mm100), median(s.mm100k)];
const mp = [median(s.mp100), median(s.mp100k)];
console.log("1. system calls against the number of VMAs (one-page VMAs, a hole in the middle)");
console.log(
  `   mmap+munmap           100 VMAs ${fmt(mm[0]! / 1000)} µs (baseline), 100 000 VMAs ${fmt(mm[1]! / 1000)} µs: ${fmt(vmaRatio.mm)}x in adjacent blocks (target <= 2)`,
);
console.log(
  `   mprotect split+merge  100 VMAs ${fmt(mp[0]! / 1000)} µs (baseline), 100 000 VMAs ${fmt(mp[1]! / 1000)} µs: ${fmt(vmaRatio.mp)}x in adjacent blocks (target <= 2)\n`,
);
const fl = median(fill);
const fa = median(fault);
const fs = median(faultStack);
console.log(`2. demand-zero faults, ${FAULT_PAGES} first writes through a Process (SimpleMmu)`);
console.log(`   filling a fresh 4 KiB page of a Uint8Array      ${fmt(fl / 1000)} µs/page (baseline)`);
console.log(
  `   frames from BitmapFrameAllocator (first fit)    ${fmt(fa / 1000)} µs/fault = ${fmt(1000 / fa, 3)} M faults/s: ${fmt(fa / fl)}x`,
);
console.log(
  `   frames from a free-frame stack (O(1))           ${fmt(fs / 1000)} µs/fault = ${fmt(1000 / fs, 3)} M faults/s: ${fmt(fs / fl)}x`,
);

/**
 * The figures packages/machine/README.md quotes, through the whole stack
 * (SparseRam, the buddy allocator, the x86-64 MMU and TLB, the kernel),
 * each beside its baseline in the same run:
 *
 *   1. demand-zero faults: first writes to fresh pages of a big mmap on a
 *      2 GiB machine (target: 1 million per second), beside the real
 *      kernel's own demand-zero fault on this machine (bench/native/
 *      demand-zero.c, built with cc when there is one), the host's own
 *      cost of touching as many fresh pages of ArrayBuffers (what backing
 *      the simulated RAM costs the host, here ~3 µs a page) and beside the
 *      same faults on recycled frames (munmap, then fault again), and where
 *      a recycled fault's time goes: each part of it run on its own over
 *      the same number of recycled frames (buddy allocation, zeroing,
 *      mmu.map, the kernel's whole handler, and the handler followed by
 *      the store it lets through, as the MMU's retry makes it); then the
 *      recycled faults again over 1 000 pages (4 MiB, which stay in the
 *      host's caches, so zeroing is not memory-bound), beside the real
 *      kernel doing the same;
 *   2. fork of a process with 1 GiB of written private memory: page tables
 *      copied, pages shared copy-on-write, no data copied;
 *   3. mmap/munmap and mprotect with 100 000 VMAs against 100 (target: within 2x);
 *   4. a process's loads: one page, two pages in turn, three pages in turn,
 *      beside the same loops over a FlatMemory.
 *
 * Run: pnpm --filter @memstack/machine bench
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import {
  FlatMemory,
  MAP_FIXED,
  MAP_PRIVATE,
  PF_USER,
  PF_WRITE,
  PROT_READ,
  PROT_WRITE,
  pfn,
  physAddr,
  virtAddr,
} from "@memstack/core";
import { median, pairedRatio } from "@memstack/testkit/bench";
import { do_not_optimize, measure } from "mitata";
import { createMachine } from "../src/index.js";

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const fmt = (n: number, d = 2) => n.toFixed(d);

// ---------------------------------------------------------------- 1. demand-zero faults
const FAULT_PAGES = 100_000;
const ROUNDS = 5;

// Baseline: the host's cost of backing fresh memory, one write per fresh
// 4 KiB page of new 2 MiB ArrayBuffers (what SparseRam does for a never-written frame).
function hostTouchNs(): number {
  const slabs: Uint8Array[] = [];
  const t = performance.now();
  for (let i = 0; i < FAULT_PAGES; i++) {
    if ((i & 511) === 0) slabs.push(new Uint8Array(2 * 1024 * 1024));
    slabs[slabs.length - 1]![(i & 511) * PAGE] = 1;
  }
  do_not_optimize(slabs);
  return ((performance.now() - t) * 1e6) / FAULT_PAGES;
}

function freshFaultNs(): number {
  const m = createMachine({ ram: "2G" });
  const p = m.spawn();
  const a = p.mmap(0, FAULT_PAGES * PAGE, RW, MAP_PRIVATE);
  const t = performance.now();
  for (let i = 0; i < FAULT_PAGES; i++) p.storeU8(virtAddr(a + i * PAGE), 1);
  const ns = ((performance.now() - t) * 1e6) / FAULT_PAGES;
  if (m.kernel.pages.stats.zeroFills !== FAULT_PAGES) throw new Error("not one demand-zero fault per page");
  return ns;
}

// The same faults on frames written before: no host page fault, but each
// frame zeroed. A machine of its own for each working-set size; each call
// is one round over `pages` pages, in ns per fault.
function recycledOver(pages: number): () => number {
  const m = createMachine({ ram: "2G" });
  const p = m.spawn();
  return (): number => {
    const a = p.mmap(0, pages * PAGE, RW, MAP_PRIVATE);
    const t = performance.now();
    for (let i = 0; i < pages; i++) p.storeU8(virtAddr(a + i * PAGE), 1);
    const ns = ((performance.now() - t) * 1e6) / pages;
    p.munmap(a, pages * PAGE);
    return ns;
  };
}
const recycled = recycledOver(FAULT_PAGES);

// Recycled faults over a working set that stays in the host's caches:
// SMALL_PAGES pages, SMALL_ROUNDS times, in ns per fault (the median round).
const SMALL_PAGES = 1000;
const SMALL_ROUNDS = 200;
const recycledSmall = (() => {
  const round = recycledOver(SMALL_PAGES);
  return (): number => median(Array.from({ length: SMALL_ROUNDS }, round));
})();

// The parts of a recycled fault, each alone over FAULT_PAGES recycled frames
// (written once, then freed), in ns per page.
const parts = (() => {
  const m = createMachine({ ram: "2G" });
  const p = m.spawn();
  const { kernel, mmu, ram } = m;
  const frames = kernel.frames;
  const rights = { write: true, user: true, execute: false };
  const held = new Float64Array(FAULT_PAGES);
  const a = p.mmap(0, FAULT_PAGES * PAGE, RW, MAP_PRIVATE);
  for (let i = 0; i < FAULT_PAGES; i++) p.storeU8(virtAddr(a + i * PAGE), 1);
  p.munmap(a, FAULT_PAGES * PAGE);
  const per = (t: number) => ((performance.now() - t) * 1e6) / FAULT_PAGES;
  return () => {
    // The buddy allocator, zeroing and the page-table edit, in a scratch address space.
    let t = performance.now();
    for (let i = 0; i < FAULT_PAGES; i++) held[i] = frames.allocFrames(0)!;
    const alloc = per(t);
    t = performance.now();
    for (let i = 0; i < FAULT_PAGES; i++) ram.zeroFrame(pfn(held[i]!));
    const zero = per(t);
    const space = mmu.createAddressSpace()!;
    t = performance.now();
    for (let i = 0; i < FAULT_PAGES; i++) {
      mmu.map(space, 0x10000000 + i * PAGE, physAddr(held[i]! * PAGE), PAGE, PAGE, rights);
    }
    const map = per(t);
    mmu.destroyAddressSpace(space);
    for (let i = 0; i < FAULT_PAGES; i++) frames.freeFrames(pfn(held[i]!), 0);
    // The kernel's whole fault handler, called as the MMU calls it for a not-present page.
    const b = p.mmap(0, FAULT_PAGES * PAGE, RW, MAP_PRIVATE);
    t = performance.now();
    for (let i = 0; i < FAULT_PAGES; i++) kernel.pages.fault(p, b + i * PAGE, "write", PF_WRITE | PF_USER);
    const handler = per(t);
    p.munmap(b, FAULT_PAGES * PAGE);
    // The handler, then the store it lets through (as the MMU's retry makes
    // it: the page just mapped, its table entry and bytes just written).
    const c = p.mmap(0, FAULT_PAGES * PAGE, RW, MAP_PRIVATE);
    t = performance.now();
    for (let i = 0; i < FAULT_PAGES; i++) {
      kernel.pages.fault(p, c + i * PAGE, "write", PF_WRITE | PF_USER);
      p.storeU8(virtAddr(c + i * PAGE), 1);
    }
    const retry = per(t) - handler;
    p.munmap(c, FAULT_PAGES * PAGE);
    return { alloc, zero, map, handler, retry };
  };
})();

// The real kernel's demand-zero fault: one round of bench/native/demand-zero.c
// per round of the bench, in ns per fault; null without a C compiler.
const nativeBin = (() => {
  const bin = `${mkdtempSync(`${tmpdir()}/memstack-bench-`)}/demand-zero`;
  const src = new URL("./native/demand-zero.c", import.meta.url).pathname;
  try {
    execFileSync("cc", ["-O2", "-o", bin, src], { stdio: "ignore" });
    return bin;
  } catch {
    return null;
  }
})();
const nativeFaultNs = (): number =>
  Number(execFileSync(nativeBin!, [String(FAULT_PAGES), "1"], { encoding: "utf8" }));
// The same over SMALL_PAGES pages, SMALL_ROUNDS times: the median round.
const nativeSmallNs = (): number =>
  median(
    execFileSync(nativeBin!, [String(SMALL_PAGES), String(SMALL_ROUNDS)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map(Number),
  );

const native: number[] = [];
const host: number[] = [];
const fresh: number[] = [];
const reused: number[] = [];
const split: ReturnType<typeof parts>[] = [];
const nativeSmall: number[] = [];
const reusedSmall: number[] = [];
recycled(); // warm-up
parts();
recycledSmall();
// Each row's rounds run where nothing else disturbs them. A row that takes
// fresh host memory (a fresh machine, new ArrayBuffers, the real kernel's
// process) leaves hundreds of MB to free behind it, which V8's GC and this
// VM (it reports freed memory to its host, which takes the pages back) go
// on freeing during whatever runs next: a recycled round right after a
// fresh machine and the host row took 1.3-2.1 µs a fault against 1.0-1.3 in
// a block of its own (2026-11-29). So the machine's own rows go first,
// interleaved with each other; then the real kernel's, in its own process;
// then the two that take fresh memory, interleaved with each other.
for (let r = 0; r < ROUNDS; r++) {
  reused.push(recycled());
  split.push(parts());
  reusedSmall.push(recycledSmall());
}
if (nativeBin !== null) {
  nativeFaultNs(); // warm-up
  for (let r = 0; r < ROUNDS; r++) native.push(nativeFaultNs());
  for (let r = 0; r < ROUNDS; r++) nativeSmall.push(nativeSmallNs());
}
freshFaultNs(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  host.push(hostTouchNs());
  fresh.push(freshFaultNs());
}

// ---------------------------------------------------------------- 2. fork of 1 GiB
const FORK_PAGES = 262_144;
const forks: { forkNs: number; faultNs: number; tableFrames: number; copied: number }[] = [];
for (let r = 0; r < 3; r++) {
  const m = createMachine({ ram: "2G" });
  const p = m.spawn();
  const a = p.mmap(0, FORK_PAGES * PAGE, RW, MAP_PRIVATE);
  let t = performance.now();
  for (let i = 0; i < FORK_PAGES; i++) p.storeU8(virtAddr(a + i * PAGE), 1);
  const faultNs = ((performance.now() - t) * 1e6) / FORK_PAGES;
  const backed = m.ram.backedFrameCount;
  const tables = m.pageTableFrames;
  t = performance.now();
  const child = p.fork();
  const forkNs = ((performance.now() - t) * 1e6) / FORK_PAGES;
  if (child === null) throw new Error("fork failed");
  // No data copied: the only frames written are the child's page tables.
  const copied = m.ram.backedFrameCount - backed - (m.pageTableFrames - tables);
  forks.push({ forkNs, faultNs, tableFrames: m.pageTableFrames - tables, copied });
  if (r === 0) m.check();
  child.exit();
}

// ---------------------------------------------------------------- 3. VMA scaling
function withVmas(count: number) {
  const m = createMachine({ ram: "256M", maxMapCount: 1 << 20 });
  const p = m.spawn();
  const base = 0x100000000;
  const middle = Math.floor(count / 2);
  for (let i = 0; i < count; i++) {
    if (i !== middle && p.mmap(base + i * 4 * PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED) < 0) {
      throw new Error("mmap failed");
    }
  }
  return { p, hole: base + middle * 4 * PAGE };
}
const small = withVmas(100);
const large = withVmas(100_000);
type Proc = (typeof small)["p"];
const mmapMunmap = (p: Proc, hole: number) => () => {
  const a = p.mmap(hole, PAGE, RW, MAP_PRIVATE | MAP_FIXED);
  return do_not_optimize(p.munmap(a, PAGE));
};
const mprotectSplit = (p: Proc, hole: number) => () => {
  p.mmap(hole, 2 * PAGE, RW, MAP_PRIVATE | MAP_FIXED);
  p.mprotect(hole, PAGE, PROT_READ);
  p.mprotect(hole, PAGE, RW);
  return do_not_optimize(p.munmap(hole, 2 * PAGE));
};
const p50 = async (fn: () => unknown, ops = 1) =>
  (await measure(() => do_not_optimize(fn()), { min_cpu_time: 200e6 })).p50 / ops;
const vma = { mm100: [] as number[], mm100k: [] as number[], mp100: [] as number[], mp100k: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  vma.mm100.push(await p50(mmapMunmap(small.p, small.hole)));
  vma.mm100k.push(await p50(mmapMunmap(large.p, large.hole)));
  vma.mp100.push(await p50(mprotectSplit(small.p, small.hole)));
  vma.mp100k.push(await p50(mprotectSplit(large.p, large.hole)));
}
const vmaRatio = {
  mm: pairedRatio(mmapMunmap(small.p, small.hole), mmapMunmap(large.p, large.hole)),
  mp: pairedRatio(mprotectSplit(small.p, small.hole), mprotectSplit(large.p, large.hole), 1000),
};

// ---------------------------------------------------------------- 4. a process's loads
const LOADS = 4096;
const lm = createMachine({ ram: "64M" });
const proc = lm.spawn();
const pa = proc.mmap(0, 64 * PAGE, RW, MAP_PRIVATE);
const flat = new FlatMemory({ memory: new ArrayBuffer(1 << 20), assumeZeroed: true });
const fa = flat.mmap(0, 64 * PAGE, RW, MAP_PRIVATE);
for (let i = 0; i < 64 * 1024; i++) {
  proc.storeU32(virtAddr(pa + i * 4), i);
  flat.storeU32(virtAddr(fa + i * 4), i);
}
// One page; two pages in turn; three pages in turn (17 pages apart: in
// different TLB sets, as most neighbours are). One function per memory and
// pattern, so every call site stays monomorphic.
const procOne = () => {
  let s = 0;
  for (let i = 0; i < LOADS; i++) s = (s + proc.loadU32(virtAddr(pa + (i & 1023) * 4))) | 0;
  return s;
};
const flatOne = () => {
  let s = 0;
  for (let i = 0; i < LOADS; i++) s = (s + flat.loadU32(virtAddr(fa + (i & 1023) * 4))) | 0;
  return s;
};
const procTwo = () => {
  let s = 0;
  for (let i = 0; i < LOADS; i++) s = (s + proc.loadU32(virtAddr(pa + (i & 1) * PAGE + (i & 1022) * 2))) | 0;
  return s;
};
const flatTwo = () => {
  let s = 0;
  for (let i = 0; i < LOADS; i++) s = (s + flat.loadU32(virtAddr(fa + (i & 1) * PAGE + (i & 1022) * 2))) | 0;
  return s;
};
const procThree = () => {
  let s = 0;
  for (let i = 0; i < LOADS; i++) s = (s + proc.loadU32(virtAddr(pa + (i % 3) * 17 * PAGE + (i & 1020)))) | 0;
  return s;
};
const flatThree = () => {
  let s = 0;
  for (let i = 0; i < LOADS; i++) s = (s + flat.loadU32(virtAddr(fa + (i % 3) * 17 * PAGE + (i & 1020)))) | 0;
  return s;
};
const patterns = [
  ["one page", procOne, flatOne],
  ["two pages in turn", procTwo, flatTwo],
  ["three pages in turn", procThree, flatThree],
] as const;
for (const [name, p, f] of patterns)
  if (p() !== f()) throw new Error(`${name}: the process reads other values`);
const loads = patterns.map(() => ({ proc: [] as number[], flat: [] as number[] }));
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < patterns.length; k++) {
    const [, p, f] = patterns[k]!;
    loads[k]!.proc.push(await p50(p, LOADS));
    loads[k]!.flat.push(await p50(f, LOADS));
  }
}
lm.check();

// ---------------------------------------------------------------- report
console.log(
  `machine: ${cpus()[0]?.model ?? "?"} (${cpus().length} cores), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log(`medians of ${ROUNDS} interleaved rounds (mitata p50 for the per-call figures)\n`);
const h = median(host);
const f = median(fresh);
const u = median(reused);
console.log(
  `1. demand-zero faults, ${FAULT_PAGES.toLocaleString("en")} first writes to a fresh mmap, 2 GiB machine`,
);
if (native.length > 0) {
  const k = median(native);
  console.log(
    `   the real kernel (bench/native/demand-zero.c)               ${fmt(k / 1000)} µs/fault = ${fmt(1000 / k, 3)} M faults/s (baseline)`,
  );
} else console.log("   the real kernel: no C compiler (cc) to build bench/native/demand-zero.c, row skipped");
console.log(
  `   host: first write to a fresh 4 KiB page of an ArrayBuffer  ${fmt(h / 1000)} µs/page (baseline)`,
);
console.log(
  `   fresh machine                                              ${fmt(f / 1000)} µs/fault = ${fmt(1000 / f, 3)} M faults/s (host share ${fmt((100 * h) / f, 0)}%)`,
);
console.log(
  `   recycled frames (munmap, fault again)                      ${fmt(u / 1000)} µs/fault = ${fmt(1000 / u, 3)} M faults/s (target >= 1)${native.length > 0 ? `; ${fmt(median(native) / u)}x the real kernel's rate` : ""}`,
);
const part = (k: keyof ReturnType<typeof parts>) => median(split.map((x) => x[k]));
const [pAlloc, pZero, pMap, pHandler, pRetry] = [
  part("alloc"),
  part("zero"),
  part("map"),
  part("handler"),
  part("retry"),
];
const row = (what: string, ns: number) =>
  console.log(`     ${what.padEnd(56)} ${fmt(ns / 1000)} µs  ${fmt((100 * ns) / u, 0).padStart(3)}%`);
console.log("   where a recycled fault's time goes (each part alone, same number of recycled frames):");
row("the kernel's fault handler (kernel.pages.fault)", pHandler);
row("  buddy order-0 allocation", pAlloc);
row("  zeroing the recycled 4 KiB frame (ram.zeroFrame)", pZero);
row("  mmu.map of the 4 KiB page", pMap);
row("  the kernel's own work (the rest of the handler)", pHandler - pAlloc - pZero - pMap);
row("the MMU around the handler (the rest of the fault)", u - pHandler);
row("  the retried store: walk, TLB fills, host lookup", pRetry);
row("  the first try: walk to the empty entry, the #PF (rest)", u - pHandler - pRetry);
const us = median(reusedSmall);
console.log(
  `   ${SMALL_PAGES.toLocaleString("en")} pages (4 MiB, in the host's caches), recycled, median of ${SMALL_ROUNDS} rounds:`,
);
if (nativeSmall.length > 0) {
  const k = median(nativeSmall);
  console.log(
    `     the real kernel (bench/native/demand-zero.c)             ${fmt(k / 1000)} µs/fault = ${fmt(1000 / k, 3)} M faults/s (baseline)`,
  );
}
console.log(
  `     recycled frames                                          ${fmt(us / 1000)} µs/fault = ${fmt(1000 / us, 3)} M faults/s${nativeSmall.length > 0 ? `; ${fmt(median(nativeSmall) / us)}x the real kernel's rate` : ""}`,
);
console.log("");
const fk = median(forks.map((x) => x.forkNs));
const ff = median(forks.map((x) => x.faultNs));
console.log(`2. fork of a process with 1 GiB (${FORK_PAGES.toLocaleString("en")} pages) written`);
console.log(
  `   writing the 1 GiB first (demand-zero)                      ${fmt(ff / 1000)} µs/page (baseline)`,
);
console.log(
  `   fork(): tables copied, pages shared copy-on-write          ${fmt(fk / 1000)} µs/page, ${fmt((fk * FORK_PAGES) / 1e6, 0)} ms; ${fmt(fk / ff)}x a fault`,
);
console.log(
  `   frames written by fork: ${forks[0]!.tableFrames} page-table frames, ${forks[0]!.copied} data frames\n`,
);
// The times are mitata's medians; the ratio is pairedRatio's, whose
// adjacent blocks cancel this VM's changes of speed.
const vmaRow = (name: string, base: number[], big: number[], ratio: number, end = "") => {
  console.log(
    `   ${name.padEnd(26)} 100 VMAs ${fmt(median(base) / 1000)} µs (baseline), 100 000 VMAs ${fmt(median(big) / 1000)} µs: ${fmt(ratio)}x in adjacent blocks (target <= 2)${end}`,
  );
};
console.log("3. system calls against the number of VMAs (one-page VMAs, a hole in the middle)");
vmaRow("mmap+munmap", vma.mm100, vma.mm100k, vmaRatio.mm);
vmaRow("mprotect split+merge", vma.mp100, vma.mp100k, vmaRatio.mp, "\n");
console.log("4. a process's u32 loads against the same loop over a FlatMemory");
patterns.forEach(([name], k) => {
  const pr = median(loads[k]!.proc);
  const fl = median(loads[k]!.flat);
  console.log(
    `   ${name.padEnd(22)} FlatMemory ${fmt(fl)} ns/load (baseline), Process ${fmt(pr)} ns/load: ${fmt(pr / fl)}x`,
  );
});

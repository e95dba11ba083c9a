/**
 * The figures the README quotes, each beside its baseline in the same run:
 *
 *   1. TLB-hit u32 loads through Mmu.loadU32 against the same loop over a
 *      plain Uint32Array (target: at least 1/3 of its speed);
 *   2. a full 4-level page walk, and a whole TLB miss (walk + fills), in
 *      units of hit-path loads (target: a walk costs at most 30);
 *   3. replay of a 10-million-access lackey trace (target: under 5 s).
 *
 * Run: pnpm --filter @memstack/mmu bench
 */

import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { gunzipSync } from "node:zlib";
import { BitmapFrameAllocator, physAddr, SparseRam, virtAddr } from "@memstack/core";
import { median } from "@memstack/testkit/bench";
import { do_not_optimize, measure } from "mitata";
import { Mmu, replayLackey } from "../src/index.js";

const ROUNDS = 5;

// ---- setup: one address space with 16 KiB for the hit loop and 4096 pages for the miss loop
const ram = new SparseRam({ sizeBytes: 2 ** 36 });
const frames = new BitmapFrameAllocator({ frameCount: 1 << 16 });
const mmu = new Mmu({ memory: ram, frames });
const space = mmu.createAddressSpace()!;
mmu.switchAddressSpace(space);
const HIT_BASE = 0x7f12_3440_0000;
const WORDS = 4096; // 16 KiB: 4 pages, always in the TLB
mmu.map(space, HIT_BASE, physAddr(2 ** 32), WORDS * 4, 4096, { write: true, user: true, execute: false });
const plain = new Uint32Array(WORDS);
for (let i = 0; i < WORDS; i++) {
  plain[i] = i;
  mmu.storeU32(virtAddr(HIT_BASE + i * 4), i);
}
const FAR_BASE = 0x7f12_3480_0000;
mmu.map(space, FAR_BASE, physAddr(2 ** 32 + 2 ** 21), 64 * 4096, 4096, {
  write: true,
  user: true,
  execute: false,
});
const MISS_BASE = 0x5500_0000_0000;
const MISS_PAGES = 4096; // more than the 1536-entry STLB and the 1024-entry host table: every access misses
mmu.map(space, MISS_BASE, physAddr(2 ** 33), MISS_PAGES * 4096, 4096, {
  write: true,
  user: true,
  execute: false,
});

// Context, not the target's baseline: the floor of any per-access hit path
// in this engine. One page register with nothing else: a page base that
// changes (so V8 cannot fold it into the code as a constant, as it does for
// fields written only once), one offset check, one counted hit, one
// typed-array load; anything else falls out of line. The MMU's hit path is
// this plus a second register on the miss side.
class HitFloor {
  base = Number.NaN;
  u32 = new Uint32Array(0);
  byte = 0;
  hits = 0;
  misses = 0;
  load(addr: number): number {
    const off = addr - this.base;
    const w = off & 0xffc;
    if (off === w) {
      this.hits++;
      return this.u32[(this.byte + w) >>> 2]!;
    }
    return this.miss(addr) >>> 0;
  }
  // Moves the register to the page of `addr` in `slab` (page p at byte p * 4096).
  private miss(addr: number): number {
    this.misses++;
    const page = Math.floor((addr - HIT_BASE) / 4096);
    this.base = HIT_BASE + page * 4096;
    this.u32 = floorSlab;
    this.byte = page * 4096;
    return this.u32[(this.byte + (addr - this.base)) >>> 2]!;
  }
}
const floorSlab = new Uint32Array(WORDS);
floorSlab.set(plain);
const floor = new HitFloor();

function plainLoop(): number {
  let s = 0;
  for (let i = 0; i < WORDS; i++) s = (s + plain[i]!) | 0;
  return s;
}
// Context, not the target's baseline: the plain array indexed through the
// same byte addresses as the MMU loop (the address arithmetic alone).
function plainAddrLoop(): number {
  let s = 0;
  for (let i = 0; i < WORDS; i++) s = (s + plain[(HIT_BASE + i * 4 - HIT_BASE) / 4]!) | 0;
  return s;
}
function mmuLoop(): number {
  let s = 0;
  for (let i = 0; i < WORDS; i++) s = (s + mmu.loadU32(virtAddr(HIT_BASE + i * 4))) | 0;
  return s;
}
function floorLoop(): number {
  let s = 0;
  for (let i = 0; i < WORDS; i++) s = (s + floor.load(virtAddr(HIT_BASE + i * 4))) | 0;
  return s;
}
// Two pages in turn (both in the registers), three pages in turn (two in
// the registers, one from an owned host-table entry); 17 pages apart, in
// different TLB sets.
function twoLoop(): number {
  let s = 0;
  for (let i = 0; i < WORDS; i++)
    s = (s + mmu.loadU32(virtAddr(HIT_BASE + (i & 1) * 4096 + (i & 1022) * 2))) | 0;
  return s;
}
function threeLoop(): number {
  let s = 0;
  for (let i = 0; i < WORDS; i++)
    s = (s + mmu.loadU32(virtAddr(FAR_BASE + (i % 3) * 17 * 4096 + (i & 1020)))) | 0;
  return s;
}
function missLoop(): number {
  let s = 0;
  for (let i = 0; i < MISS_PAGES; i++) s = (s + mmu.loadU32(virtAddr(MISS_BASE + i * 4096 + 64))) | 0;
  return s;
}
function walkLoop(): number {
  let s = 0;
  for (let i = 0; i < MISS_PAGES; i++) s += mmu.walk(space, MISS_BASE + i * 4096, "read", "user").memoryRefs;
  return s;
}

if (plainLoop() !== mmuLoop()) throw new Error("the MMU loop reads other values than the plain loop");
if (plainLoop() !== floorLoop()) throw new Error("the floor loop reads other values than the plain loop");

// Per operation: mitata's median sample, and its fastest one (on a shared
// machine the fastest is the least disturbed; both are printed).
const perOp = async (fn: () => number, ops: number): Promise<[number, number]> => {
  const stats = await measure(() => do_not_optimize(fn()), { min_cpu_time: 200e6 });
  return [stats.p50 / ops, stats.min / ops];
};

type Pair = [number, number];
const samples = {
  plain: [] as Pair[],
  plainAddr: [] as Pair[],
  hit: [] as Pair[],
  floor: [] as Pair[],
  two: [] as Pair[],
  three: [] as Pair[],
  miss: [] as Pair[],
  walk: [] as Pair[],
};
for (let r = 0; r < ROUNDS; r++) {
  samples.plain.push(await perOp(plainLoop, WORDS));
  samples.plainAddr.push(await perOp(plainAddrLoop, WORDS));
  samples.hit.push(await perOp(mmuLoop, WORDS));
  samples.floor.push(await perOp(floorLoop, WORDS));
  samples.two.push(await perOp(twoLoop, WORDS));
  samples.three.push(await perOp(threeLoop, WORDS));
  samples.miss.push(await perOp(missLoop, MISS_PAGES));
  samples.walk.push(await perOp(walkLoop, MISS_PAGES));
}
const p50 = (xs: Pair[]) => median(xs.map((x) => x[0]));
const best = (xs: Pair[]) => Math.min(...xs.map((x) => x[1]));
const plainNs = p50(samples.plain);
const hitNs = p50(samples.hit);
const missNs = p50(samples.miss);
const walkNs = p50(samples.walk);
mmu.check();

// ---- lackey replay: the recorded trace, repeated to pass 10 million accesses
const trace = gunzipSync(
  readFileSync(new URL("../test/fixtures/lackey/sort-r-1000.lackey.gz", import.meta.url)),
);
const REPEAT = 4;
const replays: number[] = [];
let report = replayLackey(trace, { instructions: true });
for (let r = 0; r < 3; r++) {
  const t = performance.now();
  report = replayLackey(trace, { instructions: true, repeat: REPEAT });
  replays.push((performance.now() - t) / 1000);
}
const accesses = report.counts.I + report.counts.L + report.counts.S + report.counts.M;
const huge = replayLackey(trace, { instructions: true, pageSize: 2 ** 21 });

const fmt = (n: number, d = 2) => n.toFixed(d);
console.log(
  `machine: ${cpus()[0]?.model ?? "?"} (${cpus().length} cores), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log(`medians of ${ROUNDS} interleaved rounds of mitata p50s, and the fastest sample of all rounds\n`);
console.log(`1. TLB-hit u32 loads, 16 KiB loop`);
console.log(`   plain Uint32Array        ${fmt(plainNs)} ns/load`);
console.log(`   Mmu.loadU32 (TLB hit)    ${fmt(hitNs)} ns/load`);
console.log(`   speed ratio              ${fmt(plainNs / hitNs)} of the plain loop (target >= 0.33)`);
console.log(
  `   fastest samples          plain ${fmt(best(samples.plain))}, Mmu ${fmt(best(samples.hit))} ns/load: ratio ${fmt(best(samples.plain) / best(samples.hit))}`,
);
console.log(
  `   plain, same addresses    ${fmt(p50(samples.plainAddr))} ns/load (plain[(addr - base) / 4]: the loop's address arithmetic; ratio ${fmt(p50(samples.plainAddr) / hitNs)})`,
);
console.log(
  `   floor of a hit path      ${fmt(p50(samples.floor))} ns/load (one mutable page register and a counted hit, nothing else: ratio ${fmt(plainNs / p50(samples.floor))} of the plain loop; fastest ${fmt(best(samples.plain) / best(samples.floor))})`,
);
console.log(
  `   two pages in turn        ${fmt(p50(samples.two))} ns/load (both in the registers; ${fmt(p50(samples.two) / hitNs)}x a hit)`,
);
console.log(
  `   three pages in turn      ${fmt(p50(samples.three))} ns/load (one from an owned host-table entry; ${fmt(p50(samples.three) / hitNs)}x a hit)\n`,
);
console.log(`2. page walks, 4 KiB pages, 4-level x86-64`);
console.log(
  `   full walk (Mmu.walk)     ${fmt(walkNs, 1)} ns = ${fmt(walkNs / hitNs, 1)} hit-path loads (target <= 30)`,
);
console.log(`   whole miss (loadU32 missing L1, STLB and host table: walk + fills)`);
console.log(`                            ${fmt(missNs, 1)} ns = ${fmt(missNs / hitNs, 1)} hit-path loads`);
console.log(
  `   fastest samples          walk ${fmt(best(samples.walk), 1)} ns = ${fmt(best(samples.walk) / best(samples.hit), 1)} loads, miss ${fmt(best(samples.miss), 1)} ns = ${fmt(best(samples.miss) / best(samples.hit), 1)} loads\n`,
);
console.log(`3. lackey replay: sort -r trace x${REPEAT}, instruction fetches included`);
console.log(
  `   ${accesses.toLocaleString("en")} accesses, ${report.lookups.toLocaleString("en")} TLB lookups in ${fmt(median(replays))} s (median of 3; target < 5 s)`,
);
console.log(
  `   one pass: 4 KiB pages L1 hit rate ${fmt(100 * report.hitRates[0]!, 3)}%, ${fmt(report.walkRefsPerLookup, 4)} walk refs/lookup; ` +
    `2 MiB pages ${fmt(100 * huge.hitRates[0]!, 3)}%, ${fmt(huge.walkRefsPerLookup, 4)} walk refs/lookup`,
);

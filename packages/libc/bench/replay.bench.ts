/**
 * Trace replay benchmark: real programs' malloc traces replayed by
 *
 *   - glibc itself (../shared/oracles/glibc/run-replay --time, the baseline),
 *   - @memstack/libc on a FlatMemory over a fixed ArrayBuffer (the fast path),
 *   - @memstack/libc on a default FlatMemory (a resizable ArrayBuffer),
 *   - @memstack/libc through the generic port path (plain objects),
 *   - @memstack/libc in a process of a simulated machine (@memstack/machine:
 *     x86-64 page tables in RAM, a TLB, demand paging; the process's
 *     VirtualMemory, ProgramBreak and Mapper ports, as the CLI's
 *     `malloc replay --backend process` runs it),
 *   - @thi.ng/malloc's MemPool (first fit over an address-ordered free list),
 *
 * all in the same run. Each JavaScript row replays the trace PASSES times on
 * one heap, freeing what a pass left live before the next (as run-replay's
 * --time does), after WARMUP passes for the JIT, and reports the median
 * pass in ns per call, and the best one (on a shared machine, the least
 * disturbed; glibc's best is the best of three run-replay runs). Run: pnpm --filter @memstack/libc bench
 * (append -- --passes=N --warmup=N --traces=awk,sqlite,perl to change them).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import { FlatMemory, type Mapper, type ProgramBreak, type VirtualMemory } from "@memstack/core";
import { createMachine } from "@memstack/machine";
import { MemPool } from "@thi.ng/malloc";
import {
  createMalloc,
  type Malloc,
  type MallocTrace,
  parseMallocTrace,
  replayMallocTrace,
  TRACE_CALLOC,
  TRACE_FREE,
  TRACE_MALLOC,
  TRACE_NONE,
  TRACE_REALLOC,
} from "../src/index.js";

// Arguments: --passes=N --warmup=N --traces=awk,sqlite,perl
const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const PASSES = Number(arg("passes", "7"));
const WARMUP = Number(arg("warmup", "3"));
const here = new URL(".", import.meta.url).pathname;
const shared = `${here}../../../../shared`;
const sources: Record<string, string> = {
  awk: `${shared}/traces/awk.trace.gz`,
  sqlite: `${here}../test/fixtures/traces/sqlite.trace.gz`,
  perl: `${here}../test/fixtures/traces/perl.trace.gz`,
};
const names = arg("traces", "awk,sqlite,perl").split(",");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function glibcNs(text: string): number | null {
  const runner = `${shared}/oracles/glibc/run-replay`;
  if (!existsSync(runner)) return null;
  const file = `${mkdtempSync(`${tmpdir()}/memstack-bench-`)}/trace`;
  writeFileSync(file, text);
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    // run-replay prints "NS ns/op (...)" on stderr.
    const r = execFileSync(
      "bash",
      ["-c", `"$0" --time "$1" "$2" 2>&1 >/dev/null`, runner, String(PASSES), file],
      {
        encoding: "utf8",
      },
    );
    runs.push(Number(/([\d.]+) ns\/op/.exec(r)?.[1]));
  }
  best = Math.min(...runs);
  return median(runs);
}
function timePasses(
  trace: MallocTrace,
  pass: (live: Float64Array) => void,
  release: (p: number) => void,
  warmup = WARMUP,
  passes = PASSES,
): number {
  const live = new Float64Array(trace.maxId + 1);
  const times: number[] = [];
  for (let i = 0; i < warmup + passes; i++) {
    const t0 = performance.now();
    pass(live);
    for (let k = 0; k < live.length; k++) {
      if (live[k] !== 0) {
        release(live[k]!);
        live[k] = 0;
      }
    }
    if (i >= warmup) times.push(((performance.now() - t0) * 1e6) / trace.length);
  }
  best = Math.min(...times);
  return median(times);
}

// The fastest timed pass of the last timePasses call: on a shared machine the
// least disturbed one.
let best = 0;

function memstack(trace: MallocTrace, m: Malloc): number {
  return timePasses(
    trace,
    (live) => replayMallocTrace(m, trace, { record: false, live }),
    (p) => m.free(p),
  );
}

function ports(flat: FlatMemory): { memory: VirtualMemory; programBreak: ProgramBreak; mapper: Mapper } {
  return {
    memory: {
      loadU8: (a) => flat.loadU8(a),
      loadU16: (a) => flat.loadU16(a),
      loadU32: (a) => flat.loadU32(a),
      loadU64: (a) => flat.loadU64(a),
      storeU8: (a, v) => flat.storeU8(a, v),
      storeU16: (a, v) => flat.storeU16(a, v),
      storeU32: (a, v) => flat.storeU32(a, v),
      storeU64: (a, v) => flat.storeU64(a, v),
      loadBytes: (a, d) => flat.loadBytes(a, d),
      storeBytes: (a, s) => flat.storeBytes(a, s),
      fill: (a, n, b) => flat.fill(a, n, b),
      copy: (d, s, n) => flat.copy(d, s, n),
    },
    programBreak: { brk: (a) => flat.brk(a) },
    mapper: {
      mmap: (a, n, p, f) => flat.mmap(a, n, p, f),
      munmap: (a, n) => flat.munmap(a, n),
      mprotect: (a, n, p) => flat.mprotect(a, n, p),
      madvise: (a, n, v) => flat.madvise(a, n, v),
      mremap: (a, o, n, f, na) => flat.mremap(a, o, n, f, na),
    },
  };
}

function thing(trace: MallocTrace): number | string {
  const pool = new MemPool({ size: 1 << 29, align: 16 });
  const { op, id, old, a, b } = trace;
  let failed = 0;
  const ns = timePasses(
    trace,
    (live) => {
      for (let i = 0; i < trace.length; i++) {
        const code = op[i]!;
        const target = id[i]!;
        if (code === TRACE_FREE) {
          if (target !== TRACE_NONE && live[target] !== 0) pool.free(live[target]!);
          if (target !== TRACE_NONE) live[target] = 0;
          continue;
        }
        let p: number;
        if (code === TRACE_MALLOC) p = pool.malloc(a[i]!);
        else if (code === TRACE_REALLOC) {
          const o = old[i]!;
          const q = o === TRACE_NONE ? 0 : live[o]!;
          p = q === 0 ? pool.malloc(a[i]!) : pool.realloc(q, a[i]!);
          if (o !== TRACE_NONE && p !== 0) live[o] = 0;
        } else if (code === TRACE_CALLOC) p = pool.calloc(a[i]! * b[i]!);
        else p = pool.malloc(b[i]!);
        if (p === 0 && a[i]! > 0) failed++;
        if (target !== TRACE_NONE) live[target] = p;
      }
    },
    (p) => pool.free(p),
    0,
    1,
  );
  return failed > 0 ? `${ns.toFixed(1)} (${failed} calls failed)` : ns;
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(
  `memstack malloc trace replay — ${cpus().length} cores, ${cpu}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log(`median of ${PASSES} passes after ${WARMUP} warm-up passes; ns per call; ratio to glibc\n`);
for (const name of names) {
  const path = sources[name];
  if (path === undefined || !existsSync(path)) {
    console.log(`${name}: trace not found, skipped`);
    continue;
  }
  const text = gunzipSync(readFileSync(path)).toString("utf8");
  const trace = parseMallocTrace(text);
  const base = glibcNs(text);
  const baseBest = best;
  const rows: [string, number | string | null, number][] = [
    ["glibc 2.36 (run-replay --time)", base, baseBest],
  ];
  const fixed = new FlatMemory({ memory: new ArrayBuffer(1 << 30), assumeZeroed: true });
  rows.push([
    "@memstack/libc, FlatMemory(fixed ArrayBuffer)",
    memstack(trace, createMalloc({ memory: fixed, programBreak: fixed, mapper: fixed })),
    best,
  ]);
  const rab = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 30 });
  rows.push([
    "@memstack/libc, FlatMemory(resizable, default)",
    memstack(trace, createMalloc({ memory: rab, programBreak: rab, mapper: rab })),
    best,
  ]);
  const generic = new FlatMemory({ memory: new ArrayBuffer(1 << 30), assumeZeroed: true });
  rows.push(["@memstack/libc, generic port path", memstack(trace, createMalloc(ports(generic))), best]);
  // Last of the libc rows: its ports make the shared call sites polymorphic.
  const proc = createMachine({ ram: "1G" }).spawn("replay");
  rows.push([
    "@memstack/libc, process of createMachine()",
    memstack(trace, createMalloc({ memory: proc, programBreak: proc, mapper: proc })),
    best,
  ]);
  // One pass: MemPool's first fit walks an address-ordered free list, so a
  // pass costs a thousand times more than glibc's.
  rows.push(["@thi.ng/malloc MemPool (align 16, one pass)", thing(trace), best]);
  console.log(`${name}: ${trace.length} calls`);
  console.log(`  ${"".padEnd(48)} ${"median".padStart(10)}     ratio   ${"best".padStart(10)}     ratio`);
  for (const [label, v, b] of rows) {
    const ns = typeof v === "number" ? v.toFixed(1) : (v ?? "n/a");
    const ratio = typeof v === "number" && base ? `${(v / base).toFixed(2)}x` : "";
    const bestRatio = typeof v === "number" && baseBest ? `${(b / baseBest).toFixed(2)}x` : "";
    console.log(
      `  ${label.padEnd(48)} ${String(ns).padStart(10)} ns ${ratio.padStart(7)}   ${b.toFixed(1).padStart(10)} ns ${bestRatio.padStart(7)}`,
    );
  }
  console.log("");
}

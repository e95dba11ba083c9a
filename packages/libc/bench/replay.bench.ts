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
 * --time does), after WARMUP passes for the JIT. Before each timed pass,
 * glibc replays the trace once more (run-replay --time 3), then an untimed
 * pass refills the caches glibc's process evicted, so every pass
 * has a baseline measured under the same load: a row's ratio is the median
 * of its per-pass ratios, its ns the median pass, and its best the fastest
 * pass beside the fastest of its glibc runs (on a shared machine, the least
 * disturbed). The glibc row gives the median and best of all its runs. Rows
 * run one after another, the fixed-buffer row first, so its call sites see
 * only that backend (as in a program that uses one). Run: pnpm --filter @memstack/libc bench
 * (append -- --passes=N --warmup=N --traces=awk,sqlite,perl
 * --rows=fixed,resizable,generic,process,thing to change them; a row left
 * out leaves its call sites to the others, so a row run alone sees only its
 * own backend).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import { FlatMemory } from "@memstack/core";
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
// The same plain-object ports the tests use for the generic path.
import { throughPorts } from "../test/helpers.js";

// Arguments: --passes=N --warmup=N --traces=awk,sqlite,perl
const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const PASSES = Number(arg("passes", "7"));
const WARMUP = Number(arg("warmup", "3"));
const here = new URL(".", import.meta.url).pathname;
const shared = `${here}../../../../shared`;
const RUNNER = `${shared}/oracles/glibc/run-replay`;
// Every glibc run of the current trace (ns per call), for its own row.
let glibcRuns: number[] = [];
const sources: Record<string, string> = {
  awk: `${shared}/traces/awk.trace.gz`,
  sqlite: `${here}../test/fixtures/traces/sqlite.trace.gz`,
  perl: `${here}../test/fixtures/traces/perl.trace.gz`,
};
const names = arg("traces", "awk,sqlite,perl").split(",");
const ROWS = new Set(arg("rows", "fixed,resizable,generic,process,thing").split(","));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// The trace as a file for run-replay, or null when the oracle is missing.
function glibcFile(text: string): string | null {
  if (!existsSync(RUNNER)) return null;
  const file = `${mkdtempSync(`${tmpdir()}/memstack-bench-`)}/trace`;
  writeFileSync(file, text);
  return file;
}

// One run of glibc's replay: ns per call over three passes.
function glibcOnce(file: string): number {
  // run-replay prints "NS ns/op (...)" on stderr.
  const r = execFileSync("bash", ["-c", `"$0" --time 3 "$1" 2>&1 >/dev/null`, RUNNER, file], {
    encoding: "utf8",
  });
  const ns = Number(/([\d.]+) ns\/op/.exec(r)?.[1]);
  glibcRuns.push(ns);
  return ns;
}

/** One row's figures: median pass and ratio, best pass and ratio (ratios null without glibc). */
interface Row {
  median: number;
  ratio: number | null;
  best: number;
  bestRatio: number | null;
}

function timePasses(
  trace: MallocTrace,
  pass: (live: Float64Array) => void,
  release: (p: number) => void,
  file: string | null,
  warmup = WARMUP,
  passes = PASSES,
): Row {
  const live = new Float64Array(trace.maxId + 1);
  const times: number[] = [];
  const ratios: number[] = [];
  const bases: number[] = [];
  const once = (): number => {
    const t0 = performance.now();
    pass(live);
    for (let k = 0; k < live.length; k++) {
      if (live[k] !== 0) {
        release(live[k]!);
        live[k] = 0;
      }
    }
    return ((performance.now() - t0) * 1e6) / trace.length;
  };
  for (let i = 0; i < warmup + passes; i++) {
    const timed = i >= warmup;
    const base = timed && file !== null ? glibcOnce(file) : 0;
    // glibc's run just evicted this heap and the trace from the caches; an
    // untimed pass brings them back, as glibc's own timed passes follow one
    // another in its process.
    if (timed && file !== null) once();
    const ns = once();
    if (!timed) continue;
    times.push(ns);
    if (file !== null) {
      bases.push(base);
      ratios.push(ns / base);
    }
  }
  const best = Math.min(...times);
  return {
    median: median(times),
    ratio: file !== null ? median(ratios) : null,
    best,
    bestRatio: file !== null ? best / Math.min(...bases) : null,
  };
}

function memstack(trace: MallocTrace, m: Malloc, file: string | null): Row {
  return timePasses(
    trace,
    (live) => replayMallocTrace(m, trace, { record: false, live }),
    (p) => m.free(p),
    file,
  );
}

function thing(trace: MallocTrace, file: string | null): Row & { failed: number } {
  const pool = new MemPool({ size: 1 << 29, align: 16 });
  const { op, id, old, a, b } = trace;
  let failed = 0;
  const row = timePasses(
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
    file,
    0,
    1,
  );
  return { ...row, failed };
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(
  `memstack malloc trace replay — ${cpus().length} cores, ${cpu}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log(
  `median of ${PASSES} passes after ${WARMUP} warm-up passes, each beside a glibc run; ns per call; ratio to glibc\n`,
);
for (const name of names) {
  const path = sources[name];
  if (path === undefined || !existsSync(path)) {
    console.log(`${name}: trace not found, skipped`);
    continue;
  }
  const text = gunzipSync(readFileSync(path)).toString("utf8");
  const trace = parseMallocTrace(text);
  const file = glibcFile(text);
  glibcRuns = [];
  const rows: [string, Row, string][] = [];
  const fixed = new FlatMemory({ memory: new ArrayBuffer(1 << 30), assumeZeroed: true });
  if (ROWS.has("fixed"))
    rows.push([
      "@memstack/libc, FlatMemory(fixed ArrayBuffer)",
      memstack(trace, createMalloc({ memory: fixed, programBreak: fixed, mapper: fixed }), file),
      "",
    ]);
  const rab = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 30 });
  if (ROWS.has("resizable"))
    rows.push([
      "@memstack/libc, FlatMemory(resizable, default)",
      memstack(trace, createMalloc({ memory: rab, programBreak: rab, mapper: rab }), file),
      "",
    ]);
  const generic = new FlatMemory({ memory: new ArrayBuffer(1 << 30), assumeZeroed: true });
  if (ROWS.has("generic"))
    rows.push([
      "@memstack/libc, generic port path",
      memstack(trace, createMalloc(throughPorts(generic)), file),
      "",
    ]);
  // Last of the libc rows: its ports make the shared call sites polymorphic.
  const proc = createMachine({ ram: "1G" }).spawn("replay");
  if (ROWS.has("process"))
    rows.push([
      "@memstack/libc, process of createMachine()",
      memstack(trace, createMalloc({ memory: proc, programBreak: proc, mapper: proc }), file),
      "",
    ]);
  // One pass: MemPool's first fit walks an address-ordered free list, so a
  // pass costs a thousand times more than glibc's.
  if (ROWS.has("thing")) {
    const pool = thing(trace, file);
    rows.push([
      "@thi.ng/malloc MemPool (align 16, one pass)",
      pool,
      pool.failed > 0 ? ` (${pool.failed} calls failed)` : "",
    ]);
  }
  if (glibcRuns.length > 0) {
    const g = Math.min(...glibcRuns);
    rows.unshift([
      `glibc 2.36 (run-replay, ${glibcRuns.length} runs)`,
      { median: median(glibcRuns), ratio: 1, best: g, bestRatio: 1 },
      "",
    ]);
  }
  console.log(`${name}: ${trace.length} calls`);
  console.log(`  ${"".padEnd(48)} ${"median".padStart(10)}     ratio   ${"best".padStart(10)}     ratio`);
  const x = (r: number | null): string => (r === null ? "n/a" : `${r.toFixed(2)}x`);
  for (const [label, r, note] of rows) {
    console.log(
      `  ${label.padEnd(48)} ${r.median.toFixed(1).padStart(10)} ns ${x(r.ratio).padStart(7)}   ${r.best.toFixed(1).padStart(10)} ns ${x(r.bestRatio).padStart(7)}${note}`,
    );
  }
  console.log("");
}

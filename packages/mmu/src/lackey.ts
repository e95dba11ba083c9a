/**
 * Replay of memory-access traces in valgrind lackey's format through an MMU,
 * to compare page sizes and TLB shapes on a real program's accesses.
 *
 * Models: `valgrind --tool=lackey --trace-mem=yes prog` prints one access a
 * line — `I  addr,size` (instruction fetch), ` L addr,size` (load),
 * ` S addr,size` (store), ` M addr,size` (modify: a load then a store) —
 * with the address in hex (lackey/lk_main.c, `trace_instr`, `trace_load`,
 * `trace_store`, `trace_modify`). Other lines (valgrind's `==pid==`
 * messages) are skipped.
 *
 * Simplifies: the replay is a tiny demand-paging kernel. Each page the trace
 * touches is mapped on its first fault, readable, writable and executable,
 * at the chosen page size, to the next free physical page; the data itself
 * is never moved (Mmu.touch translates without loading). Addresses above
 * 2^63 (the kernel half, e.g. the vsyscall page 0xffffffffff600000) are
 * read as negative, the MMU's signed convention.
 *
 * Algorithm: one pass over the bytes, no string per line: a hex address is
 * accumulated in two words (hi = digits above the low 8), so 16-digit
 * addresses stay exact.
 */
import { BitmapFrameAllocator, PF_PRESENT, physAddr, SparseRam, UsageError } from "@memstack/core";
import type { LackeyOptions, LackeyReport } from "./api.js";
import { Mmu } from "./mmu.js";
import { createX86_64Format } from "./x86-64-format.js";

const PKG = "@memstack/mmu";
const TWO_32 = 4294967296;
const NL = 10;
const COMMA = 44;
const SPACE = 32;
const CR = 13;

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Replays a lackey trace (its bytes, e.g. `readFileSync(path)` or
 * `gunzipSync(...)`) through a fresh MMU and reports the TLB's behaviour.
 *
 * @throws {UsageError} naming the line of a malformed access line, or for a page size the format lacks.
 */
export function replayLackey(trace: Uint8Array, options: LackeyOptions = {}): LackeyReport {
  const format = options.format ?? createX86_64Format();
  const pageSize = options.pageSize ?? 4096;
  const instructions = options.instructions ?? false;
  const repeat = options.repeat ?? 1;
  if (!format.pageSizes.includes(pageSize)) {
    throw new UsageError(PKG, `replayLackey: ${format.name} has no ${pageSize}-byte pages`, "pageSize");
  }
  if (!Number.isInteger(repeat) || repeat < 1) {
    throw new UsageError(PKG, `replayLackey: repeat must be a positive integer, got ${repeat}`, "repeat");
  }
  // 64 TiB of sparse RAM: tables come from the first 4 GiB, data pages from above.
  const ram = new SparseRam({ sizeBytes: 2 ** 46 });
  const frames = new BitmapFrameAllocator({ frameCount: 2 ** 20 });
  const mmu = new Mmu({ memory: ram, frames, format, ...(options.tlb ? { tlb: options.tlb } : {}) });
  const space = mmu.createAddressSpace();
  if (space === null) throw new UsageError(PKG, "replayLackey: no frame for the root table", "trace");
  mmu.switchAddressSpace(space);
  let nextPhys = TWO_32;
  let pages = 0;
  const rights = { write: true, user: true, execute: true };
  mmu.onPageFault((addr, _access, errorCode) => {
    if (errorCode & PF_PRESENT) return false;
    const base = addr - (((addr % pageSize) + pageSize) % pageSize);
    if (!mmu.map(space, base, physAddr(nextPhys), pageSize, pageSize, rights)) return false;
    nextPhys += pageSize;
    pages++;
    return true;
  });

  const counts = { I: 0, L: 0, S: 0, M: 0 };
  for (let round = 0; round < repeat; round++) replayOnce(trace, mmu, instructions, counts);
  const stats = mmu.stats();
  const first = stats.levels[0]!;
  const lookups = first.hits + first.misses;
  return {
    counts,
    lookups,
    pagesTouched: pages,
    stats,
    hitRates: stats.levels.map((l) => (l.hits + l.misses === 0 ? 0 : l.hits / (l.hits + l.misses))),
    walkRefsPerLookup: lookups === 0 ? 0 : stats.walkMemoryRefs / lookups,
  };
}

// One pass over the trace: each access line is parsed in place (the kind
// from its first three bytes, hex address, comma, decimal size, newline)
// and translated; any other line is skipped to its newline.
function replayOnce(
  trace: Uint8Array,
  mmu: Mmu,
  instructions: boolean,
  counts: { I: number; L: number; S: number; M: number },
): void {
  const n = trace.length;
  let line = 0;
  for (let i = 0; i < n; ) {
    line++;
    let kind = 0;
    const c0 = trace[i]!;
    if (c0 === 73 && trace[i + 1] === SPACE && trace[i + 2] === SPACE)
      kind = 73; // 'I'
    else if (c0 === SPACE && trace[i + 2] === SPACE) {
      const k = trace[i + 1]!;
      if (k === 76 || k === 83 || k === 77) kind = k; // 'L' 'S' 'M'
    }
    if (kind === 0) {
      while (i < n && trace[i] !== NL) i++;
      i++;
      continue;
    }
    let p = i + 3;
    let hi = 0;
    let lo = 0;
    let digits = 0;
    for (; p < n; p++) {
      const d = hexDigit(trace[p]!);
      if (d < 0) break;
      hi = hi * 16 + (lo >>> 28);
      lo = ((lo << 4) | d) >>> 0;
      digits++;
    }
    let size = 0;
    if (trace[p] === COMMA) {
      for (p++; p < n && trace[p]! >= 48 && trace[p]! <= 57; p++) size = size * 10 + trace[p]! - 48;
    }
    if (trace[p] === CR) p++;
    if (digits === 0 || digits > 16 || size === 0 || (p < n && trace[p] !== NL)) {
      throw new UsageError(PKG, `replayLackey: line ${line} is not a lackey access line`, "trace");
    }
    i = p + 1;
    const addr = hi >= 2 ** 31 ? (hi - TWO_32) * TWO_32 + lo : hi * TWO_32 + lo;
    if (kind === 73) {
      if (!instructions) continue;
      counts.I++;
      mmu.touch(addr, size, "execute");
    } else if (kind === 76) {
      counts.L++;
      mmu.touch(addr, size, "read");
    } else if (kind === 83) {
      counts.S++;
      mmu.touch(addr, size, "write");
    } else {
      counts.M++;
      mmu.touch(addr, size, "read");
      mmu.touch(addr, size, "write");
    }
  }
}

/**
 * Malloc traces: the `# memstack malloc trace v1` format (see the shared
 * formats README), parsed into typed arrays and replayed through a
 * {@link Malloc}, giving one placement per call that returns a pointer.
 *
 * Models ../shared/oracles/glibc/replay.c, the real-glibc twin: the same
 * grammar and error reasons, the same bookkeeping of IDs (a realloc that
 * fails keeps its old block; realloc(p, 0) frees it), and placements as the
 * offset from the initial program break, `mmap` for a block outside the brk
 * heap, or `null`.
 *
 * The parsed trace is structure-of-arrays (op codes, IDs, two numbers per
 * line), and the ID table a Float64Array, so a replay allocates nothing per
 * call and the time measured is the allocator's.
 */
import { UsageError } from "@memstack/core";
import type { Malloc } from "./api.js";

const PKG = "@memstack/libc";
const HEADER = "# memstack malloc trace v1";
/** The ID written `-`: NULL. */
export const TRACE_NONE = 0xffffffff;

/** Op code of an `m` line (malloc) in {@link MallocTrace.op}: the letter's char code. */
export const TRACE_MALLOC = 109;
/** Op code of a `c` line (calloc). */
export const TRACE_CALLOC = 99;
/** Op code of an `r` line (realloc). */
export const TRACE_REALLOC = 114;
/** Op code of an `a` line (memalign). */
export const TRACE_MEMALIGN = 97;
/** Op code of an `f` line (free). */
export const TRACE_FREE = 102;

/** A parsed trace: one entry per call, in order. */
export interface MallocTrace {
  /** Number of calls. */
  readonly length: number;
  /** The call's letter as a char code: m, c, r, a, f. */
  readonly op: Uint8Array;
  /** The ID the call binds (m, c, a, r) or frees (f); TRACE_NONE for `-`. */
  readonly id: Uint32Array;
  /** For r: the old ID (TRACE_NONE for `-`). */
  readonly old: Uint32Array;
  /** First number: size (m, r), nmemb (c), alignment (a). */
  readonly a: Float64Array;
  /** Second number: size (c, a). */
  readonly b: Float64Array;
  /** Largest ID used. */
  readonly maxId: number;
  /** Number of placement lines a replay prints (calls other than f). */
  readonly placements: number;
}

/** A malformed trace line: `line` is 1-based, `reason` as replay.c words it. */
export class TraceSyntaxError extends UsageError {
  /** 1-based line number. */
  readonly line: number;
  /** Why the line is refused ("bad number", "unknown call", ...). */
  readonly reason: string;

  constructor(line: number, reason: string) {
    super(PKG, `error ${line}: ${reason}`, "trace");
    this.line = line;
    this.reason = reason;
  }
}

const U64_MAX = 2n ** 64n - 1n;

/**
 * The largest double not above `v` (0 ≤ v < 2^64). Above 2^53 the nearest
 * double may round up past one of glibc's limits: PTRDIFF_MAX (2^63 − 1),
 * which malloc accepts before failing in sysmalloc, would become 2^63,
 * which it refuses at once. Rounded down it is 2^63 − 1024, which glibc
 * treats as it treats PTRDIFF_MAX.
 */
export function u64ToDouble(v: bigint): number {
  const n = Number(v);
  if (n <= 2 ** 53) return n;
  // Keep the 53 significant bits a double holds, dropping the rest.
  const drop = BigInt(v.toString(2).length - 53);
  return Number((v >> drop) << drop);
}

function parseNumber(field: string | undefined, line: number): number {
  // replay.c reads a missing number as a bad one.
  if (field === undefined) throw new TraceSyntaxError(line, "bad number");
  let text = field;
  let shift = 0n;
  const last = text[text.length - 1];
  if (last === "K" || last === "M" || last === "G") {
    shift = last === "K" ? 10n : last === "M" ? 20n : 30n;
    text = text.slice(0, -1);
  }
  const hex = /^0[xX][0-9a-fA-F]+$/.test(text);
  if (!hex && !/^[0-9]+$/.test(text)) throw new TraceSyntaxError(line, "bad number");
  if (text.length < 14 && shift === 0n) return hex ? Number.parseInt(text.slice(2), 16) : Number(text);
  const v = BigInt(text);
  if (v > U64_MAX >> shift) throw new TraceSyntaxError(line, "bad number");
  return u64ToDouble(v << shift);
}

function parseId(field: string | undefined, line: number): number {
  if (field === undefined) throw new TraceSyntaxError(line, "bad number");
  if (field === "-") return TRACE_NONE;
  const v = parseNumber(field, line);
  if (v >= TRACE_NONE) throw new TraceSyntaxError(line, "ID too large");
  return v;
}

/**
 * Parses a trace.
 *
 * @throws {TraceSyntaxError} for the first malformed line (its number and reason), before anything runs.
 */
export function parseMallocTrace(text: string): MallocTrace {
  const lines = text.split("\n");
  const n = lines.length;
  const op = new Uint8Array(n);
  const id = new Uint32Array(n);
  const old = new Uint32Array(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  let count = 0;
  let maxId = 0;
  let header = false;
  let placements = 0;
  const note = (v: number): number => {
    if (v !== TRACE_NONE && v > maxId) maxId = v;
    return v;
  };
  for (let i = 0; i < n; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === "") continue;
    if (!header) {
      if (line !== HEADER) throw new TraceSyntaxError(lineNo, "missing header");
      header = true;
      continue;
    }
    if (line[0] === "#") continue;
    const fields = line.split(/[ \t]+/);
    const call = fields[0]!;
    if (call.length !== 1) throw new TraceSyntaxError(lineNo, "unknown call");
    let want: number;
    switch (call) {
      case "m":
        id[count] = note(parseId(fields[1], lineNo));
        a[count] = parseNumber(fields[2], lineNo);
        want = 3;
        break;
      case "c":
      case "a":
        id[count] = note(parseId(fields[1], lineNo));
        a[count] = parseNumber(fields[2], lineNo);
        b[count] = parseNumber(fields[3], lineNo);
        want = 4;
        break;
      case "r":
        old[count] = note(parseId(fields[1], lineNo));
        id[count] = note(parseId(fields[2], lineNo));
        a[count] = parseNumber(fields[3], lineNo);
        want = 4;
        break;
      case "f":
        id[count] = note(parseId(fields[1], lineNo));
        want = 2;
        break;
      default:
        throw new TraceSyntaxError(lineNo, fields.length === 1 ? "missing fields" : "unknown call");
    }
    if (fields.length > want) throw new TraceSyntaxError(lineNo, "too many fields");
    op[count] = call.charCodeAt(0);
    if (call !== "f") placements++;
    count++;
  }
  // With no header at all, replay.c reports the number of lines it read.
  if (!header) throw new TraceSyntaxError(n - (text.endsWith("\n") || text === "" ? 1 : 0), "missing header");
  return {
    length: count,
    op: op.subarray(0, count),
    id: id.subarray(0, count),
    old: old.subarray(0, count),
    a: a.subarray(0, count),
    b: b.subarray(0, count),
    maxId,
    placements,
  };
}

/** Placement of a block outside the brk heap (its own mmap), in {@link ReplayResult.placements}; printed `mmap`. */
export const PLACEMENT_MMAP = -1;
/** Placement of a call that returned NULL; printed `null`. */
export const PLACEMENT_NULL = -2;

/** What a replay produced. */
export interface ReplayResult {
  /** One entry per m/c/r/a call: offset from the initial break, PLACEMENT_MMAP or PLACEMENT_NULL. */
  readonly placements: Float64Array;
  /** Pointers still live at the end, by ID (0 for none). */
  readonly live: Float64Array;
}

/** Options of {@link replayMallocTrace}. */
export interface ReplayOptions {
  /** Called after every `progressEvery` calls, and at the end, with the number done. */
  onProgress?: (done: number, total: number) => void;
  /** @defaultValue 16384 */
  progressEvery?: number;
  /** Record placements (false for timing passes). @defaultValue true */
  record?: boolean;
  /** An ID table from an earlier pass, to keep replaying on the same heap. @defaultValue a new one */
  live?: Float64Array;
}

/**
 * Replays a parsed trace through `malloc`, as replay.c does with glibc.
 *
 * @throws {MallocAbort} when the trace corrupts the heap the way glibc detects.
 */
export function replayMallocTrace(
  malloc: Malloc,
  trace: MallocTrace,
  options: ReplayOptions = {},
): ReplayResult {
  const live = options.live ?? new Float64Array(trace.maxId + 1);
  const placements = new Float64Array(options.record === false ? 0 : trace.placements);
  const every = options.progressEvery ?? 16384;
  const onProgress = options.onProgress;
  let out = 0;
  for (let from = 0; from < trace.length; from += every) {
    const to = Math.min(trace.length, from + every);
    out = replayRange(malloc, trace, from, to, live, placements, out);
    if (onProgress !== undefined) onProgress(to, trace.length);
  }
  return { placements, live };
}

// One stretch of calls; kept apart so the hot loop is compiled once and
// entered afresh for every stretch (no on-stack replacement per pass).
function replayRange(
  malloc: Malloc,
  trace: MallocTrace,
  from: number,
  to: number,
  live: Float64Array,
  placements: Float64Array,
  start: number,
): number {
  const { op, id, old, a, b } = trace;
  const record = placements.length > 0;
  const base = malloc.heapBase;
  // The codes as locals: a module's exported bindings are read from their
  // cells, with a type check, at every use in optimized code.
  const FREE = TRACE_FREE;
  const MALLOC = TRACE_MALLOC;
  const REALLOC = TRACE_REALLOC;
  const CALLOC = TRACE_CALLOC;
  const NONE = TRACE_NONE;
  let out = start;
  for (let i = from; i < to; i++) {
    const code = op[i]!;
    const target = id[i]!;
    let p: number;
    if (code === FREE) {
      // One call site, so the compiler inlines free's fast path once.
      malloc.free(target !== NONE ? live[target]! : 0);
      if (target !== NONE) live[target] = 0;
      continue;
    }
    if (code === MALLOC) {
      p = malloc.malloc(a[i]!);
    } else if (code === REALLOC) {
      const o = old[i]!;
      const size = a[i]!;
      p = malloc.realloc(o === NONE ? 0 : live[o]!, size);
      if (o !== NONE && (p !== 0 || size === 0)) live[o] = 0;
    } else if (code === CALLOC) {
      p = malloc.calloc(a[i]!, b[i]!);
    } else {
      p = malloc.memalign(a[i]!, b[i]!);
    }
    if (target !== NONE) live[target] = p;
    if (record) placements[out++] = placement(malloc, base, p);
  }
  return out;
}

function placement(malloc: Malloc, base: number, p: number): number {
  if (p === 0) return PLACEMENT_NULL;
  if (p < base || p >= malloc.heapEnd || malloc.isMmapped(p)) return PLACEMENT_MMAP;
  return p - base;
}

/** Formats placements as the trace format's output lines, each ending in a newline. */
export function formatPlacements(placements: Float64Array): string {
  const parts = new Array<string>(placements.length);
  for (let i = 0; i < placements.length; i++) {
    const v = placements[i]!;
    parts[i] = v === PLACEMENT_NULL ? "null" : v === PLACEMENT_MMAP ? "mmap" : `0x${v.toString(16)}`;
  }
  return parts.length === 0 ? "" : `${parts.join("\n")}\n`;
}

/**
 * Call lists: the malloc calls a trace holds, plus the queries and writes a
 * trace cannot hold, one per line, run on a simulated malloc with one line
 * printed per call — the lines the real glibc prints for the same list
 * through test/fixtures/glibc/calls.c, so that the two can be diffed.
 *
 * Lines (numbers decimal or 0x hex, up to 2^64 - 1; a leading '-' makes a
 * negative one; IDs below 65536; '#' starts a comment):
 *
 *     m ID SIZE            malloc            c ID NMEMB SIZE   calloc
 *     a ID ALIGN SIZE      memalign          r OLD NEW SIZE    realloc (OLD's block; NEW names the result)
 *     f ID                 free              p ID ALIGN SIZE   posix_memalign  → "posix_memalign RESULT", then the placement
 *     A ID ALIGN SIZE      aligned_alloc     v ID SIZE         valloc           V ID SIZE   pvalloc
 *     t PAD                malloc_trim       → "trim RESULT"   u ID        malloc_usable_size → "usable N"
 *     o PARAM VALUE        mallopt           → "mallopt RESULT"
 *     i                    mallinfo2         → "mallinfo2 arena=… keepcost=…"
 *     e                    errno, then 0     → "errno N"
 *     w ID OFF VALUE       the u64 at ID's block + OFF (−8: its size field, −16: prev_size) = VALUE
 *     x ID OFF TO DELTA    the u64 at ID's block + OFF = TO's block + DELTA
 *     X ID OFF TO DELTA    the same, safe-linked as a tcache or fastbin link there: (place >> 12) ^ value
 *     F                    fork(2); the rest runs in the child      → "fork"
 *     P                    fork(2); the child exits, the rest runs in the parent → "fork"
 *
 * A call that returns a block prints where it landed: its offset from the
 * initial program break in hex for a block within 4 GiB above it ("0x2a0"),
 * "mmap" for any other, "null" for NULL.
 */
import { UsageError, type VirtualMemory, virtAddr } from "@memstack/core";
import type { Malloc } from "./api.js";
import { TraceSyntaxError, u64ToDouble } from "./trace.js";

const PKG = "@memstack/libc";

/** Most IDs a list may use, as calls.c's table. */
const MAX_IDS = 65536;
const U64_MAX = 2n ** 64n - 1n;

/** The number of fields after the call letter, for each call. */
const ARITY: Readonly<Record<string, number>> = {
  m: 2,
  c: 3,
  a: 3,
  r: 3,
  f: 1,
  t: 1,
  u: 1,
  o: 2,
  i: 0,
  p: 3,
  A: 3,
  v: 2,
  V: 2,
  e: 0,
  w: 3,
  x: 4,
  X: 4,
  F: 0,
  P: 0,
};
// The fields that name a block (IDs), by call.
const IDS: Readonly<Record<string, readonly number[]>> = {
  m: [0],
  c: [0],
  a: [0],
  r: [0, 1],
  f: [0],
  u: [0],
  p: [0],
  A: [0],
  v: [0],
  V: [0],
  w: [0],
  x: [0, 2],
  X: [0, 2],
};

/** One call of a list: its letter, its fields as numbers (and as written, for the writes' u64 values), its line. */
export interface ListedCall {
  readonly op: string;
  readonly args: readonly number[];
  readonly raw: readonly string[];
  readonly line: number;
}

/** How {@link runCallList} runs a list. */
export interface CallListOptions {
  /**
   * Whether a block lies in the brk heap, printed as an offset from its
   * start (else as "mmap"), as calls.c asks whether it lies within 4 GiB
   * above the initial break. By default, inside the heap and not mmapped
   * (which gives calls.c's answers on a FlatMemory too, whose mappings lie
   * within 4 GiB of everything).
   */
  inHeap?: (p: number) => boolean;
  /** Where the lines go as they are made, so that a caller keeps them when a call throws. */
  out?: string[];
  /**
   * fork(2) of the process the malloc runs in, for F and P lines: with
   * `intoChild`, the malloc and memory of the child, where the rest of the
   * list runs (see {@link Malloc.forkChild}); else the parent's again, the
   * child gone. Without it, a list that forks throws a UsageError.
   */
  fork?: (intoChild: boolean) => { m: Malloc; memory: VirtualMemory };
}

// A field exactly: decimal or 0x hex, its magnitude at most 2^64 - 1, a
// leading '-' making it negative.
function exact(text: string, line: number): bigint {
  const neg = text.startsWith("-");
  const digits = neg ? text.slice(1) : text;
  if (!/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(digits)) throw new TraceSyntaxError(line, "bad number");
  const v = BigInt(digits);
  if (v > U64_MAX) throw new TraceSyntaxError(line, "bad number");
  return neg ? -v : v;
}

function parseField(text: string, line: number): number {
  const v = exact(text, line);
  // A negative number stays as it is (offsets, mallopt's int values); the
  // others as strtoul reads them, rounded down to a double.
  return v < 0n ? Number(v) : u64ToDouble(v);
}

/**
 * Parses a call list, every line checked before any runs.
 *
 * @throws {TraceSyntaxError} naming the first bad line: an unknown call, a
 *   wrong number of fields, a bad number or an ID of 65536 or more.
 */
export function parseCallList(text: string): ListedCall[] {
  const calls: ListedCall[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [op = "", ...raw] = trimmed.split(/\s+/);
    const line = i + 1;
    const arity = ARITY[op];
    if (arity === undefined) throw new TraceSyntaxError(line, `unknown call '${op}'`);
    if (raw.length !== arity)
      throw new TraceSyntaxError(line, `'${op}' takes ${arity} field(s), got ${raw.length}`);
    const args = raw.map((f) => parseField(f, line));
    for (const k of IDS[op] ?? []) {
      if (!(args[k]! >= 0 && args[k]! < MAX_IDS))
        throw new TraceSyntaxError(line, `ID must be below ${MAX_IDS}`);
    }
    calls.push({ op, args, raw, line });
  }
  return calls;
}

// The u64 `v` (taken modulo 2^64) at `at`, as two u32 stores.
function store64(memory: VirtualMemory, at: number, v: bigint): void {
  const w = v & 0xffffffffffffffffn;
  memory.storeU32(virtAddr(at), Number(w & 0xffffffffn));
  memory.storeU32(virtAddr(at + 4), Number(w >> 32n));
}

/**
 * Runs a call list (text, or what {@link parseCallList} made of it) on
 * `first` and returns the lines calls.c prints for it, in order.
 * posix_memalign stores its pointer at `memptr`, 8 bytes of `memory`
 * outside the heap; the writes over the heap's words go through `memory`.
 * A call that aborts (MallocAbort), faults or is killed throws, the lines
 * before it left in `options.out`.
 *
 * @throws {TraceSyntaxError} for a malformed list, before any call runs.
 */
export function runCallList(
  first: Malloc,
  list: string | readonly ListedCall[],
  firstMemory: VirtualMemory,
  memptr: number,
  options: CallListOptions = {},
): string {
  const calls = typeof list === "string" ? parseCallList(list) : list;
  // The malloc and memory the list runs in: the child's after an F line.
  let m = first;
  let memory = firstMemory;
  const inHeap = options.inHeap ?? ((p: number) => p >= m.heapBase && p < m.heapEnd && !m.isMmapped(p));
  const live = new Map<number, number>();
  const ptr = (id: number) => live.get(id) ?? 0;
  const out = options.out ?? [];
  // A call that returns a block: keep it under its ID, print where it is.
  const placed = (id: number, block: number): void => {
    live.set(id, block);
    if (block === 0) out.push("null");
    else out.push(inHeap(block) ? `0x${(block - m.heapBase).toString(16)}` : "mmap");
  };
  for (const { op, args, raw, line } of calls) {
    const [a = 0, b = 0, c = 0] = args;
    switch (op) {
      case "m":
        placed(a, m.malloc(b));
        break;
      case "c":
        placed(a, m.calloc(b, c));
        break;
      case "a":
        placed(a, m.memalign(b, c));
        break;
      case "r": {
        const p = m.realloc(ptr(a), c);
        if (p !== 0 || c === 0) live.delete(a);
        placed(b, p);
        break;
      }
      case "f":
        m.free(ptr(a));
        live.delete(a);
        break;
      case "t":
        out.push(`trim ${m.malloc_trim(a)}`);
        break;
      case "u":
        out.push(`usable ${m.malloc_usable_size(ptr(a))}`);
        break;
      case "o":
        out.push(`mallopt ${m.mallopt(a, b)}`);
        break;
      case "p": {
        const r = m.posix_memalign(memptr, b, c);
        // posix_memalign stores nothing when it fails: the C side starts from NULL.
        out.push(`posix_memalign ${r}`);
        placed(a, r === 0 ? memory.loadU64(virtAddr(memptr)) : 0);
        break;
      }
      case "A":
        placed(a, m.aligned_alloc(b, c));
        break;
      case "v":
        placed(a, m.valloc(b));
        break;
      case "V":
        placed(a, m.pvalloc(b));
        break;
      case "e":
        out.push(`errno ${m.errno}`);
        m.errno = 0;
        break;
      case "w":
        // The value exactly, as a u64 (a negative one wraps round 2^64).
        store64(memory, ptr(a) + b, exact(raw[2]!, line));
        break;
      case "x":
      case "X": {
        // A pointer near another block, raw or safe-linked at its place.
        const at = ptr(a) + b;
        const v = BigInt(ptr(c) + args[3]!);
        store64(memory, at, op === "X" ? v ^ (BigInt(at) >> 12n) : v);
        break;
      }
      case "i": {
        const i = m.mallinfo2();
        out.push(
          `mallinfo2 arena=${i.arena} ordblks=${i.ordblks} smblks=${i.smblks} hblks=${i.hblks} hblkhd=${i.hblkhd}` +
            ` usmblks=${i.usmblks} fsmblks=${i.fsmblks} uordblks=${i.uordblks} fordblks=${i.fordblks} keepcost=${i.keepcost}`,
        );
        break;
      }
      case "F":
      case "P": {
        if (options.fork === undefined) {
          throw new UsageError(
            PKG,
            `runCallList: '${op}' forks, and this memory has no fork (run it in a process)`,
            "fork",
          );
        }
        out.push("fork");
        ({ m, memory } = options.fork(op === "F"));
        break;
      }
    }
  }
  return `${out.join("\n")}${out.length > 0 ? "\n" : ""}`;
}

// Runs a list of calls for ../test/fixtures/glibc/calls.c on a simulated
// malloc and prints what calls.c prints, line for line.
import { type VirtualMemory, virtAddr } from "@memstack/core";
import type { Malloc } from "../src/index.js";
import { u64ToDouble } from "../src/trace.js";

/** How {@link runCalls} runs a list. */
export interface RunCallsOptions {
  /**
   * Whether a block lies in the brk heap, printed as an offset from its
   * start (else as "mmap"): calls.c asks whether it lies within 4 GiB above
   * the initial break. By default, inside the heap and not mmapped.
   */
  inHeap?: (p: number) => boolean;
  /** Where the lines go as they are made, so that a caller keeps them when a call throws. */
  out?: string[];
  /**
   * fork(2) of the process `m` runs in, for the lists' F and P lines: with
   * `intoChild`, the malloc and memory of the child, where the rest of the
   * list runs; else the parent's again, the child gone. Without it, a list
   * that forks throws.
   */
  fork?: (intoChild: boolean) => { m: Malloc; memory: VirtualMemory };
}

// A number field: negative ones (offsets, mallopt's int values) as they
// are, others as strtoul reads them, then rounded down to a double.
function number(text: string): number {
  return text.startsWith("-") ? Number(text) : u64ToDouble(BigInt(text));
}

// The u64 `v` (taken modulo 2^64) at `at`, as two u32 stores.
function store64(memory: VirtualMemory, at: number, v: bigint): void {
  const w = v & 0xffffffffffffffffn;
  memory.storeU32(virtAddr(at), Number(w & 0xffffffffn));
  memory.storeU32(virtAddr(at + 4), Number(w >> 32n));
}

/**
 * The lines calls.c prints for `text` (see its header), from `m`;
 * posix_memalign stores its pointer at `memptr`, 8 bytes of `memory` outside
 * the heap; the writes over the heap's words go through `memory`.
 */
export function runCalls(
  first: Malloc,
  text: string,
  firstMemory: VirtualMemory,
  memptr: number,
  options: RunCallsOptions = {},
): string {
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
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [op, ...rest] = line.split(" ");
    // As calls.c's strtoul reads them (a negative number wraps round 2^64),
    // each rounded down to a double, so that PTRDIFF_MAX stays below 2^63.
    const [a = 0, b = 0, c = 0] = rest.map(number);
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
        store64(memory, ptr(a) + b, BigInt(rest[2]!));
        break;
      case "x":
      case "X": {
        // A pointer near another block, raw or safe-linked at its place.
        const at = ptr(a) + b;
        const v = BigInt(ptr(c) + Number(rest[3]));
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
        if (options.fork === undefined) throw new Error(`${op}: this backend cannot fork`);
        out.push("fork");
        ({ m, memory } = options.fork(op === "F"));
        break;
      }
      default:
        throw new Error(`unknown call ${line}`);
    }
  }
  return `${out.join("\n")}\n`;
}

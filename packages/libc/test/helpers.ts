// Shared set-up of the libc tests: a FlatMemory process and word access to
// its heap the way a C program pokes at chunk headers.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { FlatMemory, type Mapper, type ProgramBreak, type VirtualMemory, virtAddr } from "@memstack/core";
import type { Machine } from "@memstack/machine";
import { type CallListOptions, createMalloc, type Malloc, type MallocOptions } from "../src/index.js";

export interface Heap {
  m: Malloc;
  mem: FlatMemory;
  /** The size field of the chunk of user pointer p. */
  size(p: number): number;
  setSize(p: number, v: number): void;
  /** The prev_size field of the chunk of user pointer p. */
  prev(p: number): number;
  setPrev(p: number, v: number): void;
  /** User word i of p (0 = fd or tcache next, 1 = bk or tcache key). */
  word(p: number, i: number): number;
  setWord(p: number, i: number, v: number): void;
  /** Copies user word i of `from` to user word i of `to`, all 64 bits. */
  copyWord(to: number, from: number, i: number): void;
  /** glibc's PROTECT_PTR(pos, ptr), for addresses below 4 GiB. */
  protect(pos: number, ptr: number): number;
  /** memset(p, byte, n) in the simulated memory. */
  fill(p: number, n: number, byte: number): void;
}

/**
 * The three ports of a FlatMemory seen through plain objects, so the
 * allocator cannot use its typed-array fast path: every word goes through
 * the VirtualMemory port, as it does on a kernel process.
 */
export function throughPorts(flat: FlatMemory): {
  memory: VirtualMemory;
  programBreak: ProgramBreak;
  mapper: Mapper;
} {
  const memory: VirtualMemory = {
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
  };
  return {
    memory,
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

/** Which of the allocator's two memory paths a test heap uses. */
export type MemoryPath = "flat" | "ports";

/** The mixes of fixtures/random/generate.mjs, each recorded with seeds 0 and 1. */
export const RANDOM_MIXES = ["mixed", "small", "large", "realloc", "align"] as const;

/**
 * A fresh process: 64 MiB of flat memory, heap at 0x10000, and glibc's
 * malloc over it, on FlatMemory's own buffer ("flat") or through the
 * generic port path ("ports").
 */
export function newHeap(
  options: Partial<MallocOptions> = {},
  sizeBytes = 64 << 20,
  path: MemoryPath = "flat",
): Heap {
  const mem = new FlatMemory({ memory: new ArrayBuffer(sizeBytes), assumeZeroed: true });
  const ports = path === "flat" ? { memory: mem, programBreak: mem, mapper: mem } : throughPorts(mem);
  const m = createMalloc({ ...ports, ...options });
  const u64 = (a: number): number => mem.loadU32(virtAddr(a + 4)) * 2 ** 32 + mem.loadU32(virtAddr(a));
  const set64 = (a: number, v: number): void => {
    mem.storeU32(virtAddr(a), v % 2 ** 32);
    mem.storeU32(virtAddr(a + 4), Math.floor(v / 2 ** 32));
  };
  return {
    m,
    mem,
    size: (p) => u64(p - 8),
    setSize: (p, v) => set64(p - 8, v),
    prev: (p) => u64(p - 16),
    setPrev: (p, v) => set64(p - 16, v),
    word: (p, i) => u64(p + i * 8),
    setWord: (p, i, v) => set64(p + i * 8, v),
    copyWord: (to, from, i) => {
      mem.storeU32(virtAddr(to + i * 8), mem.loadU32(virtAddr(from + i * 8)));
      mem.storeU32(virtAddr(to + i * 8 + 4), mem.loadU32(virtAddr(from + i * 8 + 4)));
    },
    protect: (pos, ptr) => (Math.floor(pos / 4096) ^ ptr) >>> 0,
    fill: (p, n, byte) => mem.fill(virtAddr(p), n, byte),
  };
}

/** A text fixture, gunzipped when it ends in .gz. */
export function fixture(path: string): string {
  const buf = readFileSync(new URL(`fixtures/${path}`, import.meta.url));
  return (path.endsWith(".gz") ? gunzipSync(buf) : buf).toString("utf8");
}

/** The text after each "# seed N" line of a recorded family of lists, by seed. */
export function bySeed(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const part of text.split("# seed ").slice(1)) {
    const nl = part.indexOf("\n");
    out.set(Number(part.slice(0, nl)), part.slice(nl + 1));
  }
  return out;
}

/**
 * fork(2) for the F and P lines of a call list (runCalls' `fork`) in
 * process `p`, which runs `m`: F goes on in the child, with the malloc it
 * inherited (`forkChild`), P in the parent once the child has exited.
 * `heaps` lists every malloc it made, `m` first.
 */
export function forker(
  p: ReturnType<Machine["spawn"]>,
  m: Malloc,
): { fork: NonNullable<CallListOptions["fork"]>; heaps: Malloc[] } {
  let proc = p;
  let heap = m;
  const heaps = [m];
  const fork = (intoChild: boolean) => {
    const child = proc.fork(proc.name);
    if (child === null) throw new Error("fork failed");
    if (!intoChild) {
      child.exit();
      return { m: heap, memory: proc };
    }
    heap = heap.forkChild({ memory: child, programBreak: child, mapper: child });
    heaps.push(heap);
    proc = child;
    return { m: heap, memory: child };
  };
  return { fork, heaps };
}

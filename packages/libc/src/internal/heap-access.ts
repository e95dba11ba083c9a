/**
 * HeapAccess: how malloc reads and writes its own words (chunk headers, bin
 * links, the arena, the tcache) in simulated memory, fast.
 *
 * Models nothing of glibc; it is the memory bus under it. Neighbours: the
 * allocator (ptmalloc.ts) extends it; below it is any {@link VirtualMemory}
 * (a kernel process with page tables, or core's FlatMemory).
 *
 * Two paths, one class, so every call site stays monomorphic:
 *
 *     r32(a) ──► a 4-aligned, inside the cached view? ──yes──► u32[a >>> 2]   (FlatMemory's own buffer)
 *                         │ no
 *                         ▼
 *                refresh the view (the buffer may have grown or been replaced)
 *                and retry, else memory.loadU32(a)  (the port: faults, page tables, TLB)
 *
 * The fast path exists only over a FlatMemory, whose address N is byte N of
 * its buffer, on a little-endian host, and for buffers below 4 GiB (so an
 * index is `a >>> 2`). A WebAssembly.Memory replaces its buffer when it
 * grows and a resizable ArrayBuffer lengthens: a cached view that has gone
 * stale only ever looks shorter (a detached buffer has length 0), so the
 * bounds check sends the access to the slow path, which refreshes.
 *
 * 64-bit words are two u32 words, low first; a value is `hi * 2^32 + lo`,
 * exact below 2^53 (every address and size an allocator sees); corrupted
 * words above it round, which only matters to a heap already broken.
 * Addresses at or above 2^47 are not canonical on x86-64: touching one is a
 * Fault, the simulated SIGSEGV, as it would be on the real machine.
 */
import { Fault, FlatMemory, type VirtAddr, type VirtualMemory } from "@memstack/core";
import { PKG, TWO_32 } from "./layout.js";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const CANONICAL_LIMIT = 2 ** 47;
const EMPTY32 = new Uint32Array(0);
const EMPTY16 = new Uint16Array(0);
const EMPTY8 = new Uint8Array(0);

/** Word access to simulated memory with a typed-array fast path over FlatMemory. */
export class HeapAccess {
  protected readonly memory: VirtualMemory;
  private readonly flat: FlatMemory | null;
  private buf: ArrayBufferLike | null = null;
  protected u32: Uint32Array = EMPTY32;
  protected u16: Uint16Array = EMPTY16;
  protected u8: Uint8Array = EMPTY8;
  /** Last address at which a 4-byte fast access fits (−1: no fast path). */
  protected end4 = -1;

  constructor(memory: VirtualMemory) {
    this.memory = memory;
    this.flat = LITTLE_ENDIAN && memory instanceof FlatMemory ? memory : null;
    this.refresh();
  }

  /** Re-reads the FlatMemory's buffer; true when the view changed. */
  protected refresh(): boolean {
    const flat = this.flat;
    if (flat === null) return false;
    const buf = flat.buffer;
    const len = buf.byteLength;
    if (buf === this.buf && this.u32.length * 4 === len - (len % 4)) return false;
    if (len >= TWO_32) {
      this.buf = null;
      this.u32 = EMPTY32;
      this.end4 = -1;
      return false;
    }
    this.buf = buf;
    const words = Math.floor(len / 4);
    this.u32 = new Uint32Array(buf, 0, words);
    this.u16 = new Uint16Array(buf, 0, words * 2);
    this.u8 = new Uint8Array(buf, 0, len);
    this.end4 = words * 4 - 4;
    return true;
  }

  private canonical(a: number, access: "read" | "write"): void {
    if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) {
      throw new Fault(PKG, a, access, "non-canonical");
    }
  }

  /** Loads a u32. @throws {Fault} where the address space forbids it. */
  r32(a: number): number {
    if (a >= 0 && a <= this.end4 && (a & 3) === 0) return this.u32[a >>> 2]!;
    return this.slowR32(a);
  }

  private slowR32(a: number): number {
    if (this.refresh() && a >= 0 && a <= this.end4 && (a & 3) === 0) return this.u32[a >>> 2]!;
    this.canonical(a, "read");
    return this.memory.loadU32(a as VirtAddr);
  }

  /** Stores a u32 (the low 32 bits of `v`). @throws {Fault} where the address space forbids it. */
  w32(a: number, v: number): void {
    if (a >= 0 && a <= this.end4 && (a & 3) === 0) {
      this.u32[a >>> 2] = v;
      return;
    }
    this.slowW32(a, v);
  }

  private slowW32(a: number, v: number): void {
    if (this.refresh() && a >= 0 && a <= this.end4 && (a & 3) === 0) {
      this.u32[a >>> 2] = v;
      return;
    }
    this.canonical(a, "write");
    this.memory.storeU32(a as VirtAddr, v >>> 0);
  }

  /** Loads a u16. */
  r16(a: number): number {
    if (a >= 0 && a <= this.end4 && (a & 1) === 0) return this.u16[a >>> 1]!;
    this.refresh();
    if (a >= 0 && a <= this.end4 && (a & 1) === 0) return this.u16[a >>> 1]!;
    this.canonical(a, "read");
    return this.memory.loadU16(a as VirtAddr);
  }

  /** Stores a u16 (the low 16 bits of `v`). */
  w16(a: number, v: number): void {
    if (a >= 0 && a <= this.end4 && (a & 1) === 0) {
      this.u16[a >>> 1] = v;
      return;
    }
    this.refresh();
    if (a >= 0 && a <= this.end4 && (a & 1) === 0) {
      this.u16[a >>> 1] = v;
      return;
    }
    this.canonical(a, "write");
    this.memory.storeU16(a as VirtAddr, v & 0xffff);
  }

  /** Loads a u64 as a number (exact below 2^53). */
  r64(a: number): number {
    if (a >= 0 && a < this.end4 && (a & 3) === 0) {
      const i = a >>> 2;
      const hi = this.u32[i + 1]!;
      return hi === 0 ? this.u32[i]! : hi * TWO_32 + this.u32[i]!;
    }
    const lo = this.slowR32(a);
    const hi = this.slowR32(a + 4);
    return hi * TWO_32 + lo;
  }

  /** Stores a u64 given as a non-negative integer below 2^64. */
  w64(a: number, v: number): void {
    if (a >= 0 && a < this.end4 && (a & 3) === 0 && v < TWO_32) {
      const i = a >>> 2;
      this.u32[i] = v;
      this.u32[i + 1] = 0;
      return;
    }
    const lo = v % TWO_32;
    this.w32(a, lo);
    this.w32(a + 4, Math.floor((v - lo) / TWO_32) % TWO_32);
  }

  /** memset. */
  fill(a: number, length: number, byte: number): void {
    if (length <= 0) return;
    if (a >= 0 && a + length <= this.end4 + 4) {
      this.u8.fill(byte, a, a + length);
      return;
    }
    this.refresh();
    if (a >= 0 && a + length <= this.end4 + 4) {
      this.u8.fill(byte, a, a + length);
      return;
    }
    this.canonical(a, "write");
    this.memory.fill(a as VirtAddr, length, byte & 0xff);
  }

  /** memmove. */
  move(dest: number, src: number, length: number): void {
    if (length <= 0) return;
    const lim = this.end4 + 4;
    if (dest >= 0 && src >= 0 && dest + length <= lim && src + length <= lim) {
      this.u8.copyWithin(dest, src, src + length);
      return;
    }
    this.refresh();
    this.canonical(dest, "write");
    this.canonical(src, "read");
    this.memory.copy(dest as VirtAddr, src as VirtAddr, length);
  }
}

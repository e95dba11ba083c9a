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
 *     r64(a) ──► a 4-aligned, inside the cached view? ──yes──► u32[a >>> 2], u32[(a >>> 2) + 1]   (FlatMemory's own buffer)
 *                         │ no
 *                         ▼
 *                refresh the view (the buffer may have grown or been replaced)
 *                and retry, else memory.loadU64(a)  (the port: faults, page tables, TLB)
 *
 * The fast path exists only over a FlatMemory, whose address N is byte N of
 * its buffer, on a little-endian host, and for buffers below 4 GiB (so an
 * index is `a >>> 2`). A WebAssembly.Memory replaces its buffer when it
 * grows and a resizable ArrayBuffer lengthens: a cached view that has gone
 * stale only ever looks shorter (a detached buffer has length 0), so the
 * bounds check sends the access to the slow path, which refreshes.
 *
 * On the port, every access costs a call through the address space (on a
 * kernel process: a TLB lookup, maybe a page walk), so a 64-bit word is one
 * `loadU64`/`storeU64`, not two u32 accesses. A port with fast tags (a
 * kernel process over `@memstack/mmu`: core's FastAccess) serves most of
 * them first: an aligned access to a page whose TLB entry the MMU holds
 * ready is read or written in the host bytes and its hit added to the
 * entry's count, as the MMU's own hit path does, with no call into the
 * process or the MMU:
 *
 *     slowR64(a) ──► owner === our space, off = a - read[e] in the page? ──yes──► u32[e][(byte[e] + off) >>> 2], hits[e] += 1, last[e] = ++clock
 *                                    │ no
 *                                    ▼
 *                  aligned, and the tags have a miss? ──yes──► e = miss(a, 0) (counted, translated, the page now in the tags), then u32[e] as above
 *                                    │ no
 *                                    ▼
 *                          memory.loadU64(a)
 *
 * The port refuses a u64 at or above 2^53 (a number cannot hold it
 * exactly): only a corrupted word is that large (a size or pointer
 * overwritten by user data, the tcache key), and then the word is read
 * again as two u32 halves, as the fast path does.
 *
 * A 64-bit value is `hi * 2^32 + lo`, exact below 2^53 (every address and
 * size an allocator sees); corrupted words above it round, which only
 * matters to a heap already broken — except for the three low flag bits of
 * a size field and the low word of a safe-linked pointer, which the helpers
 * below take from the exact low half. Addresses at or above 2^47 are not
 * canonical on x86-64: touching one is a Fault, the simulated SIGSEGV, as it
 * would be on the real machine.
 */
import {
  type FastTags,
  Fault,
  FlatMemory,
  UsageError,
  type VirtAddr,
  type VirtualMemory,
} from "@memstack/core";
import * as layout from "./layout.js";

// The constants this module reads on its hot paths, bound here (see
// "Constants on hot paths" in the root README).
const { PAGE, PKG, TWO_32 } = layout;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const CANONICAL_LIMIT = 2 ** 47;
/** The first u64 the port refuses to load as a number. */
const TWO_53 = 2 ** 53;
const EMPTY32 = new Uint32Array(0);
const EMPTY_I32 = new Int32Array(0);
const EMPTY16 = new Uint16Array(0);
const EMPTY8 = new Uint8Array(0);
/** Tags of a port without any: an owner no space has, one entry that never matches. */
const NO_TAGS: FastTags = {
  owner: -1,
  read: new Float64Array(1).fill(Number.NaN),
  write: new Float64Array(1).fill(Number.NaN),
  hits: new Float64Array(1),
  last: new Float64Array(1),
  clock: new Float64Array(1),
  byte: new Int32Array(1),
  u8: [EMPTY8],
  u16: [EMPTY16],
  u32: [EMPTY32],
};

/** Word access to simulated memory with a typed-array fast path over FlatMemory. */
export class HeapAccess {
  protected readonly memory: VirtualMemory;
  private readonly flat: FlatMemory | null;
  private buf: ArrayBufferLike | null = null;
  protected u32: Uint32Array = EMPTY32;
  /** The same words signed: a word read from it that is ≥ 0 is a small integer to the JIT. */
  protected i32: Int32Array = EMPTY_I32;
  protected u16: Uint16Array = EMPTY16;
  protected u8: Uint8Array = EMPTY8;
  /** Last address at which a 4-byte fast access fits (−1: no fast path). */
  protected end4 = -1;
  /** Last address at which an 8-byte fast access fits (−5: no fast path). */
  protected end8 = -5;
  // The port's fast tags (NO_TAGS when it has none) and the space they
  // must be owned by (-2, no space's, when none); their arrays, cached.
  private readonly tags: FastTags;
  private readonly tagSpace: number;
  private readonly tagMask: number;
  /** Whether the port has fast tags (a kernel process): the tag paths below may serve. */
  protected readonly tagged: boolean;
  protected readonly tRead: Float64Array;
  protected readonly tWrite: Float64Array;
  private readonly tHits: Float64Array;
  private readonly tLast: Float64Array;
  private readonly tClock: Float64Array;
  protected readonly tByte: Int32Array;
  protected readonly tU16: readonly Uint16Array<ArrayBufferLike>[];
  protected readonly tU32: readonly Uint32Array<ArrayBufferLike>[];
  // The tags' miss (core's FastTags.miss), or null: an aligned access the
  // tags did not serve is made through it instead of the port.
  private readonly tMiss: ((addr: number, write: 0 | 1) => number) | null;
  // Byte index of the last tag hit (or peek) in its entry's views (see tagEntry).
  protected tagAt = 0;

  constructor(memory: VirtualMemory) {
    this.memory = memory;
    this.flat = LITTLE_ENDIAN && memory instanceof FlatMemory ? memory : null;
    const fast = this.flat === null && LITTLE_ENDIAN ? (memory.fastAccess?.() ?? null) : null;
    const tags = fast?.tags ?? NO_TAGS;
    this.tags = tags;
    this.tagSpace = fast?.space ?? -2;
    this.tagged = fast !== null;
    this.tagMask = tags.read.length - 1;
    this.tRead = tags.read;
    this.tWrite = tags.write;
    this.tHits = tags.hits;
    this.tLast = tags.last;
    this.tClock = tags.clock;
    this.tByte = tags.byte;
    this.tU16 = tags.u16;
    this.tU32 = tags.u32;
    this.tMiss = tags.miss ?? null;
    this.refresh();
  }

  // Fast-tag hits (see FastTags in core). The entry is the page number mod
  // the table size: `a >>> 12` keeps the page bits of any integer address
  // below 2^53, and a fractional, negative or out-of-page address fails the
  // offset test. tagEntry finds and counts the hit; each accessor returns
  // -1 (loads; every value is ≥ 0) or false when the tags do not serve the
  // access, which then goes to the port.

  // The entry serving an access of `a` through `bases` (tRead or tWrite)
  // with the page-offset mask of its size and alignment, its hit counted
  // (one more pending hit, stamped from the clock) and the byte index in
  // its views left in `tagAt`; -1 when none.
  private tagEntry(a: number, bases: Float64Array, mask: number): number {
    if (!this.tagsLive()) return -1;
    const e = this.tagPeek(a, bases, mask);
    if (e >= 0) this.tagHit(e);
    return e;
  }

  /** Whether the tags' miss may make an access: they have one, and they are the current space's. */
  private missLive(): boolean {
    return this.tMiss !== null && this.tags.owner === this.tagSpace;
  }

  /** Whether the tags are the current address space's: false while another process runs. */
  protected tagsLive(): boolean {
    return this.tags.owner === this.tagSpace;
  }

  /**
   * tagEntry without the hit: the entry whose tag in `bases` serves an
   * access at `a` (page-offset mask `mask`), its byte index left in
   * `tagAt`; -1 when none. A path that must know every one of its accesses
   * hits before it makes any (see Ptmalloc's tag paths) peeks first, then
   * counts each with {@link HeapAccess.tagHit} in the order it makes them.
   * The caller has checked {@link HeapAccess.tagsLive}.
   */
  protected tagPeek(a: number, bases: Float64Array, mask: number): number {
    const e = (a >>> 12) & this.tagMask;
    const off = a - bases[e]!;
    if (off !== (off & mask)) return -1;
    this.tagAt = this.tByte[e]! + off;
    return e;
  }

  /**
   * The entry whose read and write tags both hold the page of `a` (a
   * non-negative integer address), or -1; nothing counted. A path whose
   * accesses to that page are all aligned and inside it knows from this
   * one test that each would hit. The caller has checked
   * {@link HeapAccess.tagsLive}.
   */
  protected tagPageRW(a: number): number {
    const e = (a >>> 12) & this.tagMask;
    const base = a - (a & 0xfff);
    return this.tRead[e] === base && this.tWrite[e] === base ? e : -1;
  }

  /** One access's hit on tag entry `e`, stamped from the clock, as tagEntry counts it. */
  protected tagHit(e: number): void {
    this.tHits[e]!++;
    const c = this.tClock[0]! + 1;
    this.tClock[0] = c;
    this.tLast[e] = c;
  }

  /**
   * `n` hits in a row, as `n` {@link HeapAccess.tagHit} calls would count
   * them, made on two entries: `na` on `a`, the last of them the `lastA`-th
   * of the row, and the rest on `b`, which takes the row's last hit (`a`
   * and `b` may be one entry). One clock update instead of `n`: a path that
   * makes many accesses to two pages counts them without a chain of loads
   * and stores through the clock.
   */
  protected tagHitsOnTwo(a: number, na: number, lastA: number, b: number, n: number): void {
    const hits = this.tHits;
    const last = this.tLast;
    const c0 = this.tClock[0]!;
    hits[a] = hits[a]! + na;
    hits[b] = hits[b]! + (n - na);
    last[a] = c0 + lastA;
    last[b] = c0 + n;
    this.tClock[0] = c0 + n;
  }

  private tagLoad16(a: number): number {
    const e = this.tagEntry(a, this.tRead, 0xffe);
    return e < 0 ? -1 : this.tU16[e]![this.tagAt >>> 1]!;
  }

  private tagStore16(a: number, v: number): boolean {
    const e = this.tagEntry(a, this.tWrite, 0xffe);
    if (e < 0) return false;
    this.tU16[e]![this.tagAt >>> 1] = v;
    return true;
  }

  private tagLoad32(a: number): number {
    const e = this.tagEntry(a, this.tRead, 0xffc);
    return e < 0 ? -1 : this.tU32[e]![this.tagAt >>> 2]!;
  }

  private tagStore32(a: number, v: number): boolean {
    const e = this.tagEntry(a, this.tWrite, 0xffc);
    if (e < 0) return false;
    this.tU32[e]![this.tagAt >>> 2] = v;
    return true;
  }

  // A u64 of any size, `hi * 2^32 + lo` (rounded from 2^53, as the view's path reads it).
  private tagLoad64(a: number): number {
    const e = this.tagEntry(a, this.tRead, 0xff8);
    if (e < 0) return -1;
    const u = this.tU32[e]!;
    const i = this.tagAt >>> 2;
    return u[i + 1]! * TWO_32 + u[i]!;
  }

  // `v` a non-negative integer below 2^64.
  private tagStore64(a: number, v: number): boolean {
    const e = this.tagEntry(a, this.tWrite, 0xff8);
    if (e < 0) return false;
    const u = this.tU32[e]!;
    const i = this.tagAt >>> 2;
    // ToUint32 is exact for any integer (no float modulo: V8 calls out for `%`).
    const lo = v >>> 0;
    u[i] = lo;
    u[i + 1] = (v - lo) / TWO_32;
    return true;
  }

  /** Re-reads the FlatMemory's buffer; true when the view changed. */
  protected refresh(): boolean {
    const flat = this.flat;
    if (flat === null) return false;
    const buf = flat.buffer;
    const len = buf.byteLength;
    if (buf === this.buf && this.u32.length * 4 === len - (len % 4)) return false;
    // FlatMemory stops at 4 GiB, whose views index every address below 2^32.
    if (len > TWO_32) {
      this.buf = null;
      this.u32 = EMPTY32;
      this.i32 = EMPTY_I32;
      this.end4 = -1;
      this.end8 = -5;
      return false;
    }
    this.buf = buf;
    const words = Math.floor(len / 4);
    this.u32 = new Uint32Array(buf, 0, words);
    this.i32 = new Int32Array(buf, 0, words);
    this.u16 = new Uint16Array(buf, 0, words * 2);
    this.u8 = new Uint8Array(buf, 0, len);
    this.end4 = words * 4 - 4;
    this.end8 = words * 4 - 8;
    return true;
  }

  private canonical(a: number, access: "read" | "write"): void {
    if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) {
      throw new Fault(PKG, a, access, "non-canonical");
    }
  }

  // The port path (no FlatMemory view): each slow accessor starts with
  // `this.flat === null` and goes straight to the port, with no refresh,
  // no view bounds and the canonical test inline.
  private nonCanonical(a: number, access: "read" | "write"): never {
    throw new Fault(PKG, a, access, "non-canonical");
  }

  /** Loads a u32. @throws {Fault} where the address space forbids it. */
  r32(a: number): number {
    // Indexing by a / 4: see r64.
    const v = this.u32[a < 4294967296 ? a / 4 : -1];
    return v !== undefined ? v : this.slowR32(a);
  }

  private slowR32(a: number): number {
    if (this.flat === null) {
      const t = this.tagLoad32(a);
      if (t >= 0) return t;
      if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) this.nonCanonical(a, "read");
      if ((a & 3) === 0 && this.missLive()) {
        const e = this.tagMissAt(a, 0);
        return this.tU32[e]![this.tagAt >>> 2]!;
      }
      return this.memory.loadU32(a as VirtAddr);
    }
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
    if (this.flat === null) {
      if (this.tagStore32(a, v)) return;
      if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) this.nonCanonical(a, "write");
      if ((a & 3) === 0 && this.missLive()) {
        const e = this.tagMissAt(a, 1);
        this.tU32[e]![this.tagAt >>> 2] = v;
        return;
      }
      this.memory.storeU32(a as VirtAddr, v >>> 0);
      return;
    }
    if (this.refresh() && a >= 0 && a <= this.end4 && (a & 3) === 0) {
      this.u32[a >>> 2] = v;
      return;
    }
    this.canonical(a, "write");
    this.memory.storeU32(a as VirtAddr, v >>> 0);
  }

  /** Loads a u16. */
  r16(a: number): number {
    const v = this.u16[a < 4294967296 ? a / 2 : -1];
    return v !== undefined ? v : this.slowR16(a);
  }

  private slowR16(a: number): number {
    if (this.flat === null) {
      const t = this.tagLoad16(a);
      if (t >= 0) return t;
      if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) this.nonCanonical(a, "read");
      if ((a & 1) === 0 && this.missLive()) {
        const e = this.tagMissAt(a, 0);
        return this.tU16[e]![this.tagAt >>> 1]!;
      }
      return this.memory.loadU16(a as VirtAddr);
    }
    if (this.refresh() && a >= 0 && a <= this.end4 && (a & 1) === 0) return this.u16[a >>> 1]!;
    this.canonical(a, "read");
    return this.memory.loadU16(a as VirtAddr);
  }

  /** Stores a u16 (the low 16 bits of `v`). */
  w16(a: number, v: number): void {
    if (a >= 0 && a <= this.end4 && (a & 1) === 0) {
      this.u16[a >>> 1] = v;
      return;
    }
    this.slowW16(a, v);
  }

  private slowW16(a: number, v: number): void {
    if (this.flat === null) {
      if (this.tagStore16(a, v)) return;
      if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) this.nonCanonical(a, "write");
      if ((a & 1) === 0 && this.missLive()) {
        const e = this.tagMissAt(a, 1);
        this.tU16[e]![this.tagAt >>> 1] = v;
        return;
      }
      this.memory.storeU16(a as VirtAddr, v & 0xffff);
      return;
    }
    if (this.refresh() && a >= 0 && a <= this.end4 && (a & 1) === 0) {
      this.u16[a >>> 1] = v;
      return;
    }
    this.canonical(a, "write");
    this.memory.storeU16(a as VirtAddr, v & 0xffff);
  }

  // The 64-bit reads answer on the fast path only for a word below 2^31
  // (every address and size of a heap under 2 GiB): the value then comes
  // from an Int32Array and stays a small integer, so the JIT keeps address
  // arithmetic in integer registers. Anything else, including the whole
  // generic path, goes to the slow half.

  /** Loads a u64 as a number (exact below 2^53). */
  r64(a: number): number {
    // a / 4 indexes the view only when a is a multiple of 4 inside it: a
    // fraction, a negative or a too-large index reads undefined, which
    // fails both tests. Addresses from 4 GiB up (a kernel process's heap
    // near 0x5555_5555_0000) index -1 instead: V8 converts a typed-array
    // index to int32 with no feedback to learn from, so an index at or
    // above 2^31 deoptimizes the caller at every call, forever.
    const i = a < 4294967296 ? a / 4 : -1;
    const lo = this.i32[i]!;
    return lo >= 0 && this.i32[i + 1] === 0 ? lo : this.slowR64(a);
  }

  private slowR64(a: number): number {
    if (this.flat === null) {
      const t = this.tagLoad64(a);
      if (t >= 0) return t;
      if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) this.nonCanonical(a, "read");
      const v = this.untaggedLoad64(a);
      return v < TWO_53 ? v : this.split64(a);
    }
    // A word of 2^31 or more in the view, a view gone stale, or the port.
    this.refresh();
    if (a >= 0 && a <= this.end8 && (a & 3) === 0) {
      const i = a >>> 2;
      return this.u32[i + 1]! * TWO_32 + this.u32[i]!;
    }
    this.canonical(a, "read");
    const v = this.portLoad64(a);
    if (v < TWO_53) return v;
    const lo = this.memory.loadU32(a as VirtAddr);
    return this.memory.loadU32((a + 4) as VirtAddr) * TWO_32 + lo;
  }

  // An aligned access at `a` the tags did not serve, made through their
  // miss (a load with `write` 0, a store with 1): counted and translated
  // as the port's would, its page now in the tags. Returns the entry, the
  // byte index of `a` in its views left in `tagAt` (as tagPeek leaves it).
  private tagMissAt(a: number, write: 0 | 1): number {
    const e = this.tMiss!(a, write);
    this.tagAt = this.tByte[e]! + (a & 0xfff);
    return e;
  }

  // An aligned u64 the tags did not serve, through their miss: counted and
  // translated as the port's load would, then read in the page's host
  // words; 2^53 (the port refuses such a word after counting it, and the
  // caller re-reads it as two u32 halves) for a word of 2^53 or more.
  private missLoad64(a: number): number {
    const e = this.tagMissAt(a, 0);
    const u = this.tU32[e]!;
    const i = this.tagAt >>> 2;
    const hi = u[i + 1]!;
    return hi < 0x200000 ? hi * TWO_32 + u[i]! : TWO_53;
  }

  // A u64 the port refused (2^53 or more), as two u32 halves.
  private split64(a: number): number {
    const lo = this.memory.loadU32(a as VirtAddr);
    return this.memory.loadU32((a + 4) as VirtAddr) * TWO_32 + lo;
  }

  // A u64 at canonical `a` the tags did not serve: through their miss when
  // it is aligned and the tags have one, else through the port; 2^53 for a
  // word of 2^53 or more (the caller re-reads it as two u32 halves).
  private untaggedLoad64(a: number): number {
    return (a & 7) === 0 && this.missLive() ? this.missLoad64(a) : this.portLoad64(a);
  }

  // One u64 through the port; 2^53 (never a real value) when the port
  // refuses the word for being too large, and the caller re-reads it as two
  // u32 halves.
  private portLoad64(a: number): number {
    try {
      return this.memory.loadU64(a as VirtAddr);
    } catch (e) {
      if (e instanceof UsageError) return TWO_53;
      throw e;
    }
  }

  /**
   * Loads a size field without its three flag bits (chunksize, and a
   * prev_size compared with one): `hi * 2^32 + (lo & ~7)`, the flags taken
   * from the exact low word even when the whole word rounds.
   */
  r64Masked(a: number): number {
    const i = a < 4294967296 ? a / 4 : -1;
    const lo = this.i32[i]!;
    return lo >= 0 && this.i32[i + 1] === 0 ? lo & ~7 : this.slowR64Masked(a);
  }

  private slowR64Masked(a: number): number {
    if (this.flat === null) {
      const e = this.tagEntry(a, this.tRead, 0xff8);
      if (e >= 0) {
        const u = this.tU32[e]!;
        const i = this.tagAt >>> 2;
        return u[i + 1]! * TWO_32 + ((u[i]! & ~7) >>> 0);
      }
      if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) this.nonCanonical(a, "read");
      const v = this.untaggedLoad64(a);
      if (v < TWO_53) return v - (v & 7);
      const lo = (this.memory.loadU32(a as VirtAddr) & ~7) >>> 0;
      return this.memory.loadU32((a + 4) as VirtAddr) * TWO_32 + lo;
    }
    this.refresh();
    if (a >= 0 && a <= this.end8 && (a & 3) === 0) {
      const i = a >>> 2;
      return this.u32[i + 1]! * TWO_32 + ((this.u32[i]! & ~7) >>> 0);
    }
    this.canonical(a, "read");
    const v = this.portLoad64(a);
    // Below 2^53, v & 7 is exact: ToInt32 keeps the low 32 bits of any safe integer.
    if (v < TWO_53) return v - (v & 7);
    const lo = (this.memory.loadU32(a as VirtAddr) & ~7) >>> 0;
    return this.memory.loadU32((a + 4) as VirtAddr) * TWO_32 + lo;
  }

  /** Stores a u64 given as a non-negative integer below 2^64. */
  w64(a: number, v: number): void {
    if (a >= 0 && a <= this.end8 && (a & 3) === 0 && v < 4294967296) {
      const i = a >>> 2;
      this.u32[i] = v;
      this.u32[i + 1] = 0;
      return;
    }
    this.slowW64(a, v);
  }

  private slowW64(a: number, v: number): void {
    if (this.flat === null && this.tagStore64(a, v)) return;
    if (this.flat === null && v < TWO_53) {
      if (!(a >= 0 && a < CANONICAL_LIMIT && Number.isSafeInteger(a))) this.nonCanonical(a, "write");
      if ((a & 7) === 0 && this.missLive()) {
        // Counted and translated as the port's store would, then written in the page's host words.
        const e = this.tagMissAt(a, 1);
        const u = this.tU32[e]!;
        const i = this.tagAt >>> 2;
        const lo = v >>> 0;
        u[i] = lo;
        u[i + 1] = (v - lo) / TWO_32;
        return;
      }
      this.memory.storeU64(a as VirtAddr, v);
      return;
    }
    if (this.refresh() && a >= 0 && a <= this.end8 && (a & 3) === 0) {
      const lo = v % TWO_32;
      this.u32[a >>> 2] = lo;
      this.u32[(a >>> 2) + 1] = Math.floor((v - lo) / TWO_32) % TWO_32;
      return;
    }
    if (this.end4 < 0 && v < TWO_53) {
      this.canonical(a, "write");
      this.memory.storeU64(a as VirtAddr, v);
      return;
    }
    const lo = v % TWO_32;
    this.w32(a, lo);
    this.w32(a + 4, Math.floor((v - lo) / TWO_32) % TWO_32);
  }

  /**
   * Four {@link w64} stores in order, in one call: a bin's four links.
   * Large allocator paths call it instead of four accessors, which V8's
   * inlining budget would leave as four real calls.
   */
  w64x4(a: number, v: number, b: number, w: number, c: number, x: number, d: number, y: number): void {
    const end8 = this.end8;
    if (
      a >= 0 &&
      a <= end8 &&
      (a & 3) === 0 &&
      b >= 0 &&
      b <= end8 &&
      (b & 3) === 0 &&
      c >= 0 &&
      c <= end8 &&
      (c & 3) === 0 &&
      d >= 0 &&
      d <= end8 &&
      (d & 3) === 0 &&
      v < 4294967296 &&
      w < 4294967296 &&
      x < 4294967296 &&
      y < 4294967296
    ) {
      const u32 = this.u32;
      let i = a >>> 2;
      u32[i] = v;
      u32[i + 1] = 0;
      i = b >>> 2;
      u32[i] = w;
      u32[i + 1] = 0;
      i = c >>> 2;
      u32[i] = x;
      u32[i + 1] = 0;
      i = d >>> 2;
      u32[i] = y;
      u32[i + 1] = 0;
      return;
    }
    this.w64(a, v);
    this.w64(b, w);
    this.w64(c, x);
    this.w64(d, y);
  }

  // PROTECT_PTR(pos, ptr): ptr ^ (pos >> 12), stored at pos. Below 4 GiB
  // (every FlatMemory address) it is one 32-bit xor.
  protectStore(pos: number, ptr: number): void {
    if (pos < 4294967296 && ptr < 4294967296) {
      this.w64(pos, (ptr ^ (pos >>> 12)) >>> 0);
      return;
    }
    // `^` takes both operands mod 2^32: the low words' xor, exactly.
    const shifted = Math.floor(pos / PAGE);
    const lo = (ptr ^ shifted) >>> 0;
    const hi = (Math.floor(ptr / TWO_32) ^ Math.floor(shifted / TWO_32)) >>> 0;
    if (hi < 0x200000) {
      this.w64(pos, hi * TWO_32 + lo);
      return;
    }
    this.w32(pos, lo);
    this.w32(pos + 4, hi);
  }

  // REVEAL_PTR: the pointer stored at pos, unmasked. The xor is taken word
  // by word, so a corrupted pointer of any size reveals exactly.
  revealLoad(pos: number): number {
    if (pos >= 0 && pos <= this.end8 && (pos & 3) === 0) {
      const i = pos >>> 2;
      // pos < 2^32 in the view: PROTECT_PTR's mask is pos >>> 12, below 2^20.
      const r = this.i32[i]! ^ (pos >>> 12);
      if (r >= 0 && this.i32[i + 1] === 0) return r;
    }
    return this.slowRevealLoad(pos);
  }

  private slowRevealLoad(pos: number): number {
    let lo: number;
    let hi: number;
    const v = this.end4 < 0 ? this.portLoadForReveal(pos) : TWO_53;
    if (v < TWO_53) {
      lo = v >>> 0;
      hi = (v - lo) / TWO_32;
    } else {
      lo = this.r32(pos);
      hi = this.r32(pos + 4);
    }
    if (pos < TWO_32) {
      const rLo = (lo ^ (pos >>> 12)) >>> 0;
      return hi === 0 ? rLo : hi * TWO_32 + rLo;
    }
    const shifted = Math.floor(pos / PAGE);
    const rLo = (lo ^ shifted) >>> 0;
    const rHi = (hi ^ Math.floor(shifted / TWO_32)) >>> 0;
    return rHi === 0 ? rLo : rHi * TWO_32 + rLo;
  }

  private portLoadForReveal(pos: number): number {
    const t = this.tagLoad64(pos);
    if (t >= 0) return t < TWO_53 ? t : TWO_53;
    this.canonical(pos, "read");
    return this.untaggedLoad64(pos);
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

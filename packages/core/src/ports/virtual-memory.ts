/**
 * The `VirtualMemory` port: loads and stores through an address space.
 *
 * Used by libc and win32 for every byte they touch; implemented by a kernel
 * process (through page tables, TLB and demand paging), by the MMU's
 * translated access, and by core's `FlatMemory` (one buffer, no MMU).
 * Values are little-endian. An access the address space forbids throws a
 * {@link Fault}: the simulated SIGSEGV.
 */
import type { VirtAddr } from "../address.js";

/**
 * Fast tags: the host-side copy of the TLB entries an MMU serves hits from
 * without a lookup, shared so that a caller can take such a hit inline,
 * with no call through the port, and still count it exactly.
 *
 * Entry `e` of a page at linear address `page` is `(page / 4096) mod N`
 * (N = `read.length`, a power of two). While `owner` is the caller's
 * address space:
 *
 *     off = addr - read[e]          (write[e] for a store)
 *     off === (off & (4096 - size)) → hit: bytes at byte[e] + off of u8/u16/u32[e];
 *                                     the caller adds 1 to hits[e], adds 1 to
 *                                     clock[0] and sets last[e] to it
 *     otherwise                     → the port's own load or store
 *
 * `read[e]` and `write[e]` are NaN (so the test fails) unless the entry's
 * TLB slot is valid, allows that user access (a store only with the Dirty
 * bit cached) and nothing can change its recency before its pending hits
 * are handed over. Hits added to `hits[e]` are exactly those the TLB would
 * have counted; `last[e]` orders entries of one TLB set whose pending hits
 * are handed over together, so that the TLB's recency comes out as if it
 * had seen each access. A caller reads the arrays afresh at every access: any call
 * into the port or the kernel may change them.
 */
export interface FastTags {
  /** The address space whose user-mode accesses the tags serve now; -1 for none. */
  readonly owner: number;
  /** Page base readable through entry `e`, else NaN. */
  readonly read: Float64Array;
  /** Page base writable through entry `e` (Dirty cached), else NaN. */
  readonly write: Float64Array;
  /** Pending hits of entry `e`: the caller adds one per access it serves. */
  readonly hits: Float64Array;
  /** Stamp of entry `e`'s last hit: the caller sets it to `++clock[0]` at each one. */
  readonly last: Float64Array;
  /** The stamp of the last hit, one element. */
  readonly clock: Float64Array;
  /** Byte offset of entry `e`'s page in its views. */
  readonly byte: Int32Array;
  /** Host views holding entry `e`'s page. */
  readonly u8: readonly Uint8Array<ArrayBufferLike>[];
  readonly u16: readonly Uint16Array<ArrayBufferLike>[];
  readonly u32: readonly Uint32Array<ArrayBufferLike>[];
  /**
   * The access a failed tag test leaves to the port, made without the
   * port's value: a load (`write` 0) or store (`write` 1) of an aligned
   * word at `addr` is counted, translated (faults and their handling
   * included) and its page made the tags' as the port's own load or store
   * would, and the entry holding it is returned; the caller then moves the
   * bytes at `byte[e] + (addr & 0xfff)` and counts nothing. The caller has
   * checked that the tags are its space's and that `addr` is canonical and
   * aligned to the word. Absent where the tags have no such path.
   *
   * @throws what the port's load or store would (a Fault, a killed process).
   */
  readonly miss?: (addr: number, write: 0 | 1) => number;
}

/** An address space's {@link FastTags}: valid while `tags.owner === space`. */
export interface FastAccess {
  readonly tags: FastTags;
  readonly space: number;
}

/** Byte-addressed, little-endian access through an address space. */
export interface VirtualMemory {
  /** Loads one byte. @throws {Fault} when the space forbids the read. */
  loadU8(addr: VirtAddr): number;
  /** Loads a little-endian u16. @throws {Fault} when the space forbids the read. */
  loadU16(addr: VirtAddr): number;
  /** Loads a little-endian u32 as an unsigned number. @throws {Fault} when the space forbids the read. */
  loadU32(addr: VirtAddr): number;
  /**
   * Loads a little-endian u64 as a number.
   *
   * @throws {Fault} when the space forbids the read.
   * @throws {UsageError} when the value exceeds 2^53 - 1 (load it as two u32 words).
   */
  loadU64(addr: VirtAddr): number;

  /** Stores one byte (the low 8 bits of `value`). @throws {Fault} when the space forbids the write. */
  storeU8(addr: VirtAddr, value: number): void;
  /** Stores a little-endian u16 (the low 16 bits of `value`). @throws {Fault} when the space forbids the write. */
  storeU16(addr: VirtAddr, value: number): void;
  /** Stores a little-endian u32 (the low 32 bits of `value`). @throws {Fault} when the space forbids the write. */
  storeU32(addr: VirtAddr, value: number): void;
  /**
   * Stores a little-endian u64.
   *
   * @throws {Fault} when the space forbids the write.
   * @throws {UsageError} when `value` is not a non-negative safe integer.
   */
  storeU64(addr: VirtAddr, value: number): void;

  /** Copies `dest.length` bytes from `addr` into `dest`. @throws {Fault} at the first forbidden byte. */
  loadBytes(addr: VirtAddr, dest: Uint8Array): void;
  /** Copies `src` to `addr`. @throws {Fault} at the first forbidden byte; earlier bytes may have been written. */
  storeBytes(addr: VirtAddr, src: Uint8Array): void;
  /**
   * Sets `length` bytes from `addr` to `byte` (memset). libc's calloc and
   * free-time perturbation need it, and an address space can do it a page at
   * a time far faster than byte stores.
   *
   * @throws {Fault} at the first forbidden byte.
   */
  fill(addr: VirtAddr, length: number, byte: number): void;
  /**
   * Copies `length` bytes from `src` to `dest` inside the space, correct for
   * overlapping ranges (memmove). libc's realloc needs it.
   *
   * @throws {Fault} at the first forbidden byte.
   */
  copy(dest: VirtAddr, src: VirtAddr, length: number): void;

  /**
   * The MMU's fast tags for this space, for callers that take TLB hits
   * inline (libc's heap accessors); absent or null where there are none
   * (FlatMemory has no TLB).
   */
  fastAccess?(): FastAccess | null;
}

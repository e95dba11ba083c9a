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
}

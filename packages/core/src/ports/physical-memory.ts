/**
 * The `PhysicalMemory` port: a machine's RAM as bytes addressed by physical
 * address, organised in 4 KiB frames.
 *
 * Used by the MMU (page tables live in it), the buddy allocator's clients and
 * the kernel; implemented by `SparseRam`. Values are little-endian, as on
 * x86-64 and RISC-V. Accesses need not be aligned and may cross frames.
 */
import type { Pfn, PhysAddr } from "../address.js";

/** A machine's RAM: byte-addressed, little-endian, in 4 KiB frames. */
export interface PhysicalMemory {
  /** Size of the RAM in bytes, a multiple of 4096. */
  readonly sizeBytes: number;
  /** Number of 4 KiB frames: sizeBytes / 4096. */
  readonly frameCount: number;

  /** Reads one byte. @throws {UsageError} for an address outside the RAM. */
  readU8(addr: PhysAddr): number;
  /** Reads a little-endian u16. @throws {UsageError} for an address outside the RAM. */
  readU16(addr: PhysAddr): number;
  /** Reads a little-endian u32 as an unsigned number. @throws {UsageError} for an address outside the RAM. */
  readU32(addr: PhysAddr): number;
  /**
   * Reads a little-endian u64 as a number.
   *
   * @throws {UsageError} for an address outside the RAM, or when the stored
   * value exceeds 2^53 - 1 (read such values as two u32 words).
   */
  readU64(addr: PhysAddr): number;

  /** Writes one byte (the low 8 bits of `value`). @throws {UsageError} for a bad address or value. */
  writeU8(addr: PhysAddr, value: number): void;
  /** Writes a little-endian u16. @throws {UsageError} for a bad address or a value outside [0, 2^16). */
  writeU16(addr: PhysAddr, value: number): void;
  /** Writes a little-endian u32. @throws {UsageError} for a bad address or a value outside [0, 2^32). */
  writeU32(addr: PhysAddr, value: number): void;
  /** Writes a little-endian u64. @throws {UsageError} for a bad address or a value that is not a safe non-negative integer. */
  writeU64(addr: PhysAddr, value: number): void;

  /** Copies `dest.length` bytes starting at `addr` into `dest`. @throws {UsageError} when the range leaves the RAM. */
  readBytes(addr: PhysAddr, dest: Uint8Array): void;
  /** Copies `src` into memory starting at `addr`. @throws {UsageError} when the range leaves the RAM. */
  writeBytes(addr: PhysAddr, src: Uint8Array): void;

  /** Fills one frame with zeros. @throws {UsageError} for a frame outside the RAM. */
  zeroFrame(frame: Pfn): void;
  /** Copies frame `src` over frame `dest`. @throws {UsageError} for a frame outside the RAM. */
  copyFrame(dest: Pfn, src: Pfn): void;

  /**
   * Optional fast path: the 4096 bytes behind one frame, as a view that
   * stays valid, and keeps aliasing the frame, for the life of the memory.
   * With `forWrite` the frame is backed first if it was not; without it an
   * untouched frame gives `null` (read it as zeros). Callers that lack it
   * use the typed reads and writes above.
   *
   * @throws {UsageError} for a frame outside the RAM.
   */
  frameView?(frame: Pfn, forWrite: boolean): Uint8Array | null;

  /**
   * Optional allocation-free form of {@link PhysicalMemory.frameView}: the
   * host byte view of the whole buffer (slab) that holds `frame`, the same
   * object every time for a given slab, with the frame's byte offset in it
   * left in {@link PhysicalMemory.frameSlabOffset}. Same backing rules as
   * `frameView` (`forWrite` backs the frame; an untouched frame read gives
   * `null`, offset unchanged). Why: a TLB fill or page walk that misses the
   * MMU's own frame cache would otherwise make one 4 KiB view object per
   * lookup, the hottest allocation of a demand-zero fault; this form makes
   * none. Read the offset right after the call, before any other call.
   *
   * @throws {UsageError} for a frame outside the RAM.
   */
  frameSlab?(frame: Pfn, forWrite: boolean): Uint8Array | null;
  /** Byte offset, in the view the last successful {@link PhysicalMemory.frameSlab} returned, of that frame's 4096 bytes (a multiple of 4096). */
  readonly frameSlabOffset?: number;
}

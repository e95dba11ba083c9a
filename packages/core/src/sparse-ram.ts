/**
 * SparseRam: a machine's physical RAM, of any size up to 64 TiB, that costs
 * host memory only for the frames that have been written.
 *
 * Models: the RAM behind a simulated machine, implementing the
 * {@link PhysicalMemory} port for the MMU (page tables live here), the buddy
 * allocator's clients and the kernel.
 *
 * Simplifies: there are no holes, no NUMA nodes and no memory-mapped I/O;
 * every address below `sizeBytes` is RAM. Backing is never given back:
 * `zeroFrame` fills a backed frame with zeros rather than releasing it, so a
 * view handed out by `frameView` keeps aliasing its frame for the life of the
 * RAM, as a stale TLB entry keeps pointing at its old frame on real hardware.
 *
 * Layout. A frame is backed on its first write by taking the next free 4 KiB
 * slot of a 2 MiB slab; slabs are allocated as needed. A two-level directory
 * maps frames to slots: one Int32Array of 65536 entries per 256 MiB of RAM,
 * created on the first write into that range, holding slot + 1 (0 = never
 * written, reads as zeros).
 *
 *     pfn ──► dirs[pfn >>> 16] ──► entry = slot + 1
 *                                     │
 *              slabs[slot >>> 9] ◄────┘  byte offset ((slot & 511) << 12)
 *
 * A 1 TiB machine starts with a directory of 4096 empty entries (32 KiB);
 * writing one byte costs one 256 KiB directory page and one 2 MiB slab.
 * Invariants (see `check()`): each slot is referenced by exactly one frame,
 * slots are taken densely from 0, and `backedFrameCount` is their number.
 */

import type { Pfn, PhysAddr } from "./address.js";
import * as address from "./address.js";
import type { SparseRamOptions } from "./api.js";
import { CorruptionError, UsageError } from "./errors.js";
import type { PhysicalMemory } from "./ports/physical-memory.js";

// The constants this module reads on its hot paths, bound here (see
// "Constants on hot paths" in the root README).
const { PAGE_SIZE } = address;

const PKG = "@memstack/core";
const DIR_SHIFT = 16;
const DIR_ENTRIES = 1 << DIR_SHIFT;
const DIR_MASK = DIR_ENTRIES - 1;
const SLAB_SHIFT = 9;
const SLAB_FRAMES = 1 << SLAB_SHIFT;
const SLAB_MASK = SLAB_FRAMES - 1;
const SLAB_BYTES = SLAB_FRAMES * PAGE_SIZE;
/** 64 TiB: Linux's limit of physical memory under 4-level paging on x86-64. */
const MAX_RAM_BYTES = 2 ** 46;

/**
 * Physical RAM of up to 64 TiB, backed on first write; untouched memory
 * reads as zeros without costing host memory.
 */
export class SparseRam implements PhysicalMemory {
  readonly sizeBytes: number;
  readonly frameCount: number;
  readonly #dirs: (Int32Array | undefined)[];
  readonly #slabs: DataView[] = [];
  readonly #slabBytes: Uint8Array[] = [];
  #backed = 0;

  /**
   * @throws {UsageError} when `sizeBytes` is not a positive multiple of 4096 up to 64 TiB.
   */
  constructor(options: SparseRamOptions) {
    const { sizeBytes } = options;
    if (
      !Number.isSafeInteger(sizeBytes) ||
      sizeBytes <= 0 ||
      sizeBytes % PAGE_SIZE !== 0 ||
      sizeBytes > MAX_RAM_BYTES
    ) {
      throw new UsageError(
        PKG,
        `SparseRam: sizeBytes must be a positive multiple of 4096 up to 64 TiB, got ${sizeBytes}`,
        "sizeBytes",
      );
    }
    this.sizeBytes = sizeBytes;
    this.frameCount = sizeBytes / PAGE_SIZE;
    this.#dirs = new Array(Math.ceil(this.frameCount / DIR_ENTRIES)).fill(undefined);
  }

  /** Number of frames that have host memory behind them (written at least once). */
  get backedFrameCount(): number {
    return this.#backed;
  }

  // Slot of a frame, or -1 when it was never written.
  #slotOf(frame: number): number {
    const dir = this.#dirs[Math.floor(frame / DIR_ENTRIES)];
    return dir === undefined ? -1 : dir[frame & DIR_MASK]! - 1;
  }

  // Slot of a frame, backing it first if needed.
  #backSlot(frame: number): number {
    const d = Math.floor(frame / DIR_ENTRIES);
    let dir = this.#dirs[d];
    if (dir === undefined) {
      dir = new Int32Array(DIR_ENTRIES);
      this.#dirs[d] = dir;
    }
    const entry = dir[frame & DIR_MASK]!;
    if (entry !== 0) return entry - 1;
    const slot = this.#backed++;
    if ((slot & SLAB_MASK) === 0) {
      const buf = new ArrayBuffer(SLAB_BYTES);
      this.#slabs.push(new DataView(buf));
      this.#slabBytes.push(new Uint8Array(buf));
    }
    dir[frame & DIR_MASK] = slot + 1;
    return slot;
  }

  #checkAddr(addr: number, size: number, fn: string): void {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr > this.sizeBytes - size) {
      throw new UsageError(
        PKG,
        `SparseRam.${fn}: addr ${typeof addr === "number" && Number.isSafeInteger(addr) ? `0x${addr.toString(16)}` : addr} is not a byte address with ${size} byte(s) inside ${this.sizeBytes} bytes of RAM`,
        "addr",
      );
    }
  }

  #checkFrame(frame: number, fn: string, name = "frame"): void {
    if (!Number.isSafeInteger(frame) || frame < 0 || frame >= this.frameCount) {
      throw new UsageError(
        PKG,
        `SparseRam.${fn}: ${name} ${frame} is outside the RAM's ${this.frameCount} frames`,
        name,
      );
    }
  }

  #checkValue(value: number, max: number, fn: string): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new UsageError(
        PKG,
        `SparseRam.${fn}: value must be an integer in [0, ${max}], got ${value}`,
        "value",
      );
    }
  }

  // Reads `size` bytes little-endian one at a time: the path for accesses
  // that straddle two frames, which may live in unrelated slots.
  #readSlow(addr: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.#readByte(addr + i);
    return v;
  }

  #readByte(addr: number): number {
    const frame = Math.floor(addr / PAGE_SIZE);
    const slot = this.#slotOf(frame);
    if (slot < 0) return 0;
    return this.#slabBytes[slot >>> SLAB_SHIFT]![((slot & SLAB_MASK) << 12) + (addr % PAGE_SIZE)]!;
  }

  #writeSlow(addr: number, size: number, value: number): void {
    let v = value;
    for (let i = 0; i < size; i++) {
      const byte = v % 256;
      v = (v - byte) / 256;
      const a = addr + i;
      const slot = this.#backSlot(Math.floor(a / PAGE_SIZE));
      this.#slabBytes[slot >>> SLAB_SHIFT]![((slot & SLAB_MASK) << 12) + (a % PAGE_SIZE)] = byte;
    }
  }

  readU8(addr: PhysAddr): number {
    this.#checkAddr(addr, 1, "readU8");
    return this.#readByte(addr);
  }

  readU16(addr: PhysAddr): number {
    this.#checkAddr(addr, 2, "readU16");
    const off = addr % PAGE_SIZE;
    if (off > PAGE_SIZE - 2) return this.#readSlow(addr, 2);
    const slot = this.#slotOf(Math.floor(addr / PAGE_SIZE));
    if (slot < 0) return 0;
    return this.#slabs[slot >>> SLAB_SHIFT]!.getUint16(((slot & SLAB_MASK) << 12) + off, true);
  }

  readU32(addr: PhysAddr): number {
    this.#checkAddr(addr, 4, "readU32");
    const off = addr % PAGE_SIZE;
    if (off > PAGE_SIZE - 4) return this.#readSlow(addr, 4);
    const slot = this.#slotOf(Math.floor(addr / PAGE_SIZE));
    if (slot < 0) return 0;
    return this.#slabs[slot >>> SLAB_SHIFT]!.getUint32(((slot & SLAB_MASK) << 12) + off, true);
  }

  readU64(addr: PhysAddr): number {
    this.#checkAddr(addr, 8, "readU64");
    const off = addr % PAGE_SIZE;
    let lo: number;
    let hi: number;
    if (off > PAGE_SIZE - 8) {
      lo = this.#readSlow(addr, 4);
      hi = this.#readSlow(addr + 4, 4);
    } else {
      const slot = this.#slotOf(Math.floor(addr / PAGE_SIZE));
      if (slot < 0) return 0;
      const dv = this.#slabs[slot >>> SLAB_SHIFT]!;
      const base = ((slot & SLAB_MASK) << 12) + off;
      lo = dv.getUint32(base, true);
      hi = dv.getUint32(base + 4, true);
    }
    if (hi >= 0x200000) {
      throw new UsageError(
        PKG,
        `SparseRam.readU64: the u64 at 0x${addr.toString(16)} (hi word 0x${hi.toString(16)}) exceeds 2^53 - 1; read it as two u32 words`,
        "addr",
      );
    }
    return hi * 4294967296 + lo;
  }

  writeU8(addr: PhysAddr, value: number): void {
    this.#checkAddr(addr, 1, "writeU8");
    this.#checkValue(value, 0xff, "writeU8");
    const slot = this.#backSlot(Math.floor(addr / PAGE_SIZE));
    this.#slabBytes[slot >>> SLAB_SHIFT]![((slot & SLAB_MASK) << 12) + (addr % PAGE_SIZE)] = value;
  }

  writeU16(addr: PhysAddr, value: number): void {
    this.#checkAddr(addr, 2, "writeU16");
    this.#checkValue(value, 0xffff, "writeU16");
    const off = addr % PAGE_SIZE;
    if (off > PAGE_SIZE - 2) {
      this.#writeSlow(addr, 2, value);
      return;
    }
    const slot = this.#backSlot(Math.floor(addr / PAGE_SIZE));
    this.#slabs[slot >>> SLAB_SHIFT]!.setUint16(((slot & SLAB_MASK) << 12) + off, value, true);
  }

  writeU32(addr: PhysAddr, value: number): void {
    this.#checkAddr(addr, 4, "writeU32");
    this.#checkValue(value, 0xffffffff, "writeU32");
    const off = addr % PAGE_SIZE;
    if (off > PAGE_SIZE - 4) {
      this.#writeSlow(addr, 4, value);
      return;
    }
    const slot = this.#backSlot(Math.floor(addr / PAGE_SIZE));
    this.#slabs[slot >>> SLAB_SHIFT]!.setUint32(((slot & SLAB_MASK) << 12) + off, value, true);
  }

  writeU64(addr: PhysAddr, value: number): void {
    this.#checkAddr(addr, 8, "writeU64");
    this.#checkValue(value, Number.MAX_SAFE_INTEGER, "writeU64");
    const lo = value >>> 0;
    const hi = (value - lo) / 4294967296;
    const off = addr % PAGE_SIZE;
    if (off > PAGE_SIZE - 8) {
      this.#writeSlow(addr, 4, lo);
      this.#writeSlow(addr + 4, 4, hi);
      return;
    }
    const slot = this.#backSlot(Math.floor(addr / PAGE_SIZE));
    const dv = this.#slabs[slot >>> SLAB_SHIFT]!;
    const base = ((slot & SLAB_MASK) << 12) + off;
    dv.setUint32(base, lo, true);
    dv.setUint32(base + 4, hi, true);
  }

  readBytes(addr: PhysAddr, dest: Uint8Array): void {
    this.#checkAddr(addr, dest.length, "readBytes");
    let done = 0;
    while (done < dest.length) {
      const a = addr + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, dest.length - done);
      const slot = this.#slotOf(Math.floor(a / PAGE_SIZE));
      if (slot < 0) {
        dest.fill(0, done, done + n);
      } else {
        const base = ((slot & SLAB_MASK) << 12) + off;
        dest.set(this.#slabBytes[slot >>> SLAB_SHIFT]!.subarray(base, base + n), done);
      }
      done += n;
    }
  }

  writeBytes(addr: PhysAddr, src: Uint8Array): void {
    this.#checkAddr(addr, src.length, "writeBytes");
    let done = 0;
    while (done < src.length) {
      const a = addr + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, src.length - done);
      const slot = this.#backSlot(Math.floor(a / PAGE_SIZE));
      this.#slabBytes[slot >>> SLAB_SHIFT]!.set(
        src.subarray(done, done + n),
        ((slot & SLAB_MASK) << 12) + off,
      );
      done += n;
    }
  }

  zeroFrame(frame: Pfn): void {
    this.#checkFrame(frame, "zeroFrame");
    const slot = this.#slotOf(frame);
    // A frame never written already reads as zeros: nothing to do, nothing to back.
    if (slot < 0) return;
    const base = (slot & SLAB_MASK) << 12;
    this.#slabBytes[slot >>> SLAB_SHIFT]!.fill(0, base, base + PAGE_SIZE);
  }

  copyFrame(dest: Pfn, src: Pfn): void {
    this.#checkFrame(dest, "copyFrame", "dest");
    this.#checkFrame(src, "copyFrame", "src");
    if (dest === src) return;
    const from = this.#slotOf(src);
    if (from < 0) {
      this.zeroFrame(dest);
      return;
    }
    const to = this.#backSlot(dest);
    const fromBase = (from & SLAB_MASK) << 12;
    this.#slabBytes[to >>> SLAB_SHIFT]!.set(
      this.#slabBytes[from >>> SLAB_SHIFT]!.subarray(fromBase, fromBase + PAGE_SIZE),
      (to & SLAB_MASK) << 12,
    );
  }

  frameView(frame: Pfn, forWrite: boolean): Uint8Array | null {
    this.#checkFrame(frame, "frameView");
    const slot = forWrite ? this.#backSlot(frame) : this.#slotOf(frame);
    if (slot < 0) return null;
    const bytes = this.#slabBytes[slot >>> SLAB_SHIFT]!;
    return new Uint8Array(bytes.buffer, (slot & SLAB_MASK) << 12, PAGE_SIZE);
  }

  /** Byte offset of the frame found by the last successful {@link SparseRam.frameSlab} in the view it returned. */
  frameSlabOffset = 0;

  frameSlab(frame: Pfn, forWrite: boolean): Uint8Array | null {
    this.#checkFrame(frame, "frameSlab");
    const slot = forWrite ? this.#backSlot(frame) : this.#slotOf(frame);
    if (slot < 0) return null;
    this.frameSlabOffset = (slot & SLAB_MASK) << 12;
    return this.#slabBytes[slot >>> SLAB_SHIFT]!;
  }

  /**
   * Verifies the directory: every backed frame has a distinct slot below
   * `backedFrameCount`, and there are exactly `backedFrameCount` of them.
   *
   * @throws {CorruptionError} describing the first inconsistency.
   */
  check(): void {
    const seen = new Uint8Array(this.#backed);
    let count = 0;
    for (let d = 0; d < this.#dirs.length; d++) {
      const dir = this.#dirs[d];
      if (dir === undefined) continue;
      for (let i = 0; i < DIR_ENTRIES; i++) {
        const entry = dir[i]!;
        if (entry === 0) continue;
        const frame = d * DIR_ENTRIES + i;
        if (frame >= this.frameCount)
          throw new CorruptionError(PKG, `SparseRam: frame ${frame} past the RAM is backed`);
        const slot = entry - 1;
        if (slot < 0 || slot >= this.#backed) {
          throw new CorruptionError(
            PKG,
            `SparseRam: frame ${frame} has slot ${slot} outside [0, ${this.#backed})`,
          );
        }
        if (seen[slot])
          throw new CorruptionError(PKG, `SparseRam: slot ${slot} backs two frames (one is ${frame})`);
        seen[slot] = 1;
        count++;
      }
    }
    if (count !== this.#backed) {
      throw new CorruptionError(
        PKG,
        `SparseRam: ${count} frames are backed but backedFrameCount is ${this.#backed}`,
      );
    }
    if (this.#slabs.length !== Math.ceil(this.#backed / SLAB_FRAMES)) {
      throw new CorruptionError(
        PKG,
        `SparseRam: ${this.#slabs.length} slabs for ${this.#backed} backed frames`,
      );
    }
  }
}

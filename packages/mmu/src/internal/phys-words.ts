/**
 * PhysWords: 32-bit reads and writes of physical memory for the page walker
 * and the table editor, through {@link HostFrames} when the memory offers
 * frame views (one typed-array access) and through the `PhysicalMemory`
 * port otherwise. Entries are 8-byte aligned, so both words of an entry are
 * whole aligned u32s inside one frame.
 */
import { type PhysicalMemory, physAddr } from "@memstack/core";
import { HostFrames } from "./host-frames.js";

const INV_PAGE = 1 / 4096;

/** Aligned u32 access to physical memory, fast where the memory allows. */
export class PhysWords {
  readonly memory: PhysicalMemory;
  readonly host: HostFrames;
  /** Whether the memory offers frame views (reads go through {@link PhysWords.host}). */
  readonly fast: boolean;

  constructor(memory: PhysicalMemory) {
    this.memory = memory;
    this.host = new HostFrames(memory);
    this.fast = this.host.available;
  }

  /** Reads the aligned u32 at physical address `addr` (inside the RAM). */
  read(addr: number): number {
    if (this.fast) {
      const h = this.host;
      const off = addr & 0xfff;
      if (h.lookup((addr - off) * INV_PAGE, false)) return h.u32[h.slab]![(h.byte + off) >>> 2]!;
    }
    return this.memory.readU32(physAddr(addr));
  }

  /**
   * The two words of the entry read by the last {@link PhysWords.readEntry}.
   * A typed array, not a field: a word of 2^31 or more (NX set) would be
   * boxed as a heap number on every store into a plain field.
   */
  readonly entry = new Uint32Array(2);

  /**
   * Reads the 8-byte entry at `addr` (8-aligned) with one frame lookup
   * into {@link PhysWords.entry}.
   */
  readEntry(addr: number): void {
    const out = this.entry;
    if (this.fast) {
      const h = this.host;
      const off = addr & 0xfff;
      if (h.lookup((addr - off) * INV_PAGE, false)) {
        const words = h.u32[h.slab]!;
        const i = (h.byte + off) >>> 2;
        out[0] = words[i]!;
        out[1] = words[i + 1]!;
        return;
      }
    }
    out[0] = this.memory.readU32(physAddr(addr));
    out[1] = this.memory.readU32(physAddr(addr + 4));
  }

  /** The index of the first word of the frame {@link PhysWords.frameWords} last found. */
  firstWord = 0;

  /**
   * The host words of the frame at page-aligned physical `frame` (backed
   * first when `back`), the index of its first word left in
   * {@link PhysWords.firstWord}; null over a memory without frame views, or
   * for a frame not backed. A frame's views alias it for the life of the
   * memory, so a caller may keep them.
   */
  frameWords(frame: number, back: boolean): Uint32Array | null {
    const h = this.host;
    if (!this.fast || !h.lookup(frame * INV_PAGE, back)) return null;
    this.firstWord = h.byte >>> 2;
    return h.u32[h.slab]!;
  }

  /**
   * {@link PhysWords.readEntry} of the entry at `addr`, taken from `w[i]`
   * and `w[i + 1]` when the caller holds its table's host words (`w` not
   * null: a frame's views alias it for the life of the memory).
   */
  readEntryIn(w: Uint32Array | null, i: number, addr: number): void {
    if (w === null) {
      this.readEntry(addr);
      return;
    }
    this.entry[0] = w[i]!;
    this.entry[1] = w[i + 1]!;
  }

  /** Writes the two words of the entry at `addr` (high word first), into `w[i]` and `w[i + 1]` when `w` is not null. */
  writeEntryIn(w: Uint32Array | null, i: number, addr: number, lo: number, hi: number): void {
    if (w === null) {
      this.write(addr + 4, hi);
      this.write(addr, lo);
      return;
    }
    w[i + 1] = hi;
    w[i] = lo;
  }

  /** Writes the aligned u32 `value` at physical address `addr` (inside the RAM). */
  write(addr: number, value: number): void {
    if (this.fast) {
      const h = this.host;
      const off = addr & 0xfff;
      if (h.lookup((addr - off) * INV_PAGE, true)) {
        h.u32[h.slab]![(h.byte + off) >>> 2] = value;
        return;
      }
    }
    this.memory.writeU32(physAddr(addr), value >>> 0);
  }
}

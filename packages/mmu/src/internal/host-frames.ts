/**
 * HostFrames: where the bytes of a physical frame live on the host, so the
 * MMU's hit path and page walks read RAM through a typed array instead of a
 * method call per access.
 *
 * Models nothing of the machine: it is the host side of the simulation, the
 * counterpart of v86's `mem8` base pointer, which v86 adds into each TLB
 * entry so a hit costs one addition (src/rust/cpu/cpu.rs: "bake in the
 * addition with memory::mem8 to save an instruction from the fast path").
 * Here RAM is not one buffer (`SparseRam` backs frames in 2 MiB slabs), so a
 * frame is found as a *slab* (a host buffer with u8, u16 and u32 views made
 * once) and the byte offset of the frame inside it; the hit path indexes the
 * slab's view with that offset plus the page offset.
 *
 * Algorithm: `PhysicalMemory.frameView` gives a Uint8Array aliasing the
 * frame for the life of the memory (core's contract). Its `buffer` becomes a
 * slab the first time it is seen (a one-entry cache, then a Map, finds it
 * again), and `byteOffset` is the frame's place in it. Frames are found
 * through a 4096-entry direct-mapped front table (typed arrays, no
 * allocation); a miss there asks `frameView` again (one small view object,
 * no other allocation). A frame never written has no view when asked for
 * reading; it is not cached, so a later write that backs it is seen.
 *
 *     pfn ──► front[pfn & 4095] ─hit─► slab, byte ─► u8[slab][byte + off] …
 *                  │ miss
 *                  ▼
 *             memory.frameView(pfn) ─► its buffer's slab (made once), byteOffset
 *
 * A memory that offers `frameSlab` (SparseRam does) is asked that instead
 * on a front-table miss: it returns the slab's own byte view (the same
 * object each time, so it is the slab's key) and the frame's offset in a
 * field, and the miss allocates nothing. With 100 000 distinct frames a
 * demand-zero fault misses the front table on every TLB fill, so this is
 * the difference between 93 bytes of garbage per fault and none.
 *
 * A buffer larger than 1 GiB, or a view not 8-byte aligned in its buffer, is
 * not used whole: the frame's own view becomes a one-frame slab (byte 0), so
 * offsets stay small integers. Cost: three views per slab (per 2 MiB of
 * SparseRam), where the previous design made three per frame.
 */
import { type PhysicalMemory, pfn as toPfn } from "@memstack/core";

const FRONT = 4096;
const FRONT_MASK = FRONT - 1;
const MAX_SLAB_BYTES = 2 ** 30;

/** Host views of physical frames, for typed-array access to simulated RAM. */
export class HostFrames {
  /** Byte view of each slab. */
  readonly u8: Uint8Array[] = [];
  /** u16 view of each slab (index = byte offset / 2). */
  readonly u16: Uint16Array[] = [];
  /** u32 view of each slab (index = byte offset / 4). */
  readonly u32: Uint32Array[] = [];
  /** Slab of the frame found by the last successful {@link HostFrames.lookup}. */
  slab = -1;
  /** Byte offset of that frame in its slab (a multiple of 8). */
  byte = 0;

  private readonly memory: PhysicalMemory;
  private readonly slabs = new Map<object, number>();
  private readonly frameSlabs = new Map<number, number>();
  private lastBuffer: object | null = null;
  private readonly bySlab: boolean;
  private lastSlab = -1;
  private readonly frontPfn = new Float64Array(FRONT).fill(-1);
  private readonly frontSlab = new Int32Array(FRONT);
  private readonly frontByte = new Int32Array(FRONT);

  constructor(memory: PhysicalMemory) {
    this.memory = memory;
    this.bySlab = memory.frameSlab !== undefined;
  }

  /** Whether the memory offers `frameView` at all. */
  get available(): boolean {
    return this.memory.frameView !== undefined;
  }

  /**
   * Finds the host bytes of frame `pfn`, backing the frame first when
   * `forWrite`. On success sets {@link HostFrames.slab} and {@link HostFrames.byte}.
   *
   * @returns false when the memory has no `frameView`, or the frame was
   * never written and `forWrite` is false (read it through the port: zeros).
   */
  lookup(pfn: number, forWrite: boolean): boolean {
    const f = pfn & FRONT_MASK;
    if (this.frontPfn[f] === pfn) {
      this.slab = this.frontSlab[f]!;
      this.byte = this.frontByte[f]!;
      return true;
    }
    if (this.bySlab) {
      const memory = this.memory;
      const bytes = memory.frameSlab!(toPfn(pfn), forWrite);
      if (bytes === null) return false;
      const byte = memory.frameSlabOffset!;
      if (bytes.length <= MAX_SLAB_BYTES && bytes.byteOffset % 8 === 0 && byte % 8 === 0) {
        let slab = this.lastSlab;
        if (bytes !== this.lastBuffer) {
          slab = this.slabs.get(bytes) ?? this.addSlab(bytes, bytes);
          this.lastBuffer = bytes;
          this.lastSlab = slab;
        }
        this.slab = slab;
        this.byte = byte;
        this.frontPfn[f] = pfn;
        this.frontSlab[f] = slab;
        this.frontByte[f] = byte;
        return true;
      }
    }
    const view = this.memory.frameView?.(toPfn(pfn), forWrite) ?? null;
    if (view === null) return false;
    const buffer = view.buffer;
    if (buffer.byteLength <= MAX_SLAB_BYTES && view.byteOffset % 8 === 0) {
      let slab = this.lastSlab;
      if (buffer !== this.lastBuffer) {
        slab = this.slabs.get(buffer) ?? this.addSlab(new Uint8Array(buffer), buffer);
        this.lastBuffer = buffer;
        this.lastSlab = slab;
      }
      this.slab = slab;
      this.byte = view.byteOffset;
    } else {
      // Not usable whole: the frame is a slab of its own, made once.
      if (view.byteOffset % 4 !== 0) return false;
      let slab = this.frameSlabs.get(pfn);
      if (slab === undefined) {
        slab = this.addSlab(view, null);
        this.frameSlabs.set(pfn, slab);
      }
      this.slab = slab;
      this.byte = 0;
    }
    this.frontPfn[f] = pfn;
    this.frontSlab[f] = this.slab;
    this.frontByte[f] = this.byte;
    return true;
  }

  private addSlab(bytes: Uint8Array, key: object | null): number {
    const slab = this.u8.length;
    this.u8.push(bytes);
    this.u16.push(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 1));
    this.u32.push(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2));
    if (key !== null) this.slabs.set(key, slab);
    return slab;
  }
}

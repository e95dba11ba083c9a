/**
 * HostFrames: where the bytes of a physical frame live on the host, so the
 * MMU's hit path and page walks read RAM through a typed array instead of a
 * method call per access.
 *
 * Models nothing of the machine: it is the host side of the simulation, the
 * counterpart of v86's `mem8` base pointer, which v86 adds into each TLB
 * entry so a hit costs one addition (src/rust/cpu/cpu.rs: "bake in the
 * addition with memory::mem8 to save an instruction from the fast path").
 * Here RAM is not one buffer (`SparseRam` backs frames in 2 MiB slabs), so
 * the base is folded one step further: each frame gets its own u8, u16 and
 * u32 views, and the hit path indexes them with the page offset alone.
 *
 * Algorithm: `PhysicalMemory.frameView` gives a Uint8Array aliasing the
 * frame for the life of the memory (core's contract); the u16/u32 views are
 * made over the same bytes once, and the frame gets a handle. Handles are
 * found through a 4096-entry direct-mapped front table (typed arrays, no
 * allocation), then a Map. A frame never written has no view when asked for
 * reading; it is not cached, so a later write that backs it is seen.
 *
 *     pfn ──► front[pfn & 4095] ─hit─► handle ─► u8[h], u16[h], u32[h]
 *                  │ miss
 *                  ▼
 *             frames Map ─miss─► memory.frameView(pfn) ─► new handle
 *
 * Cost: three view objects (a few hundred bytes) per frame ever touched
 * through the fast path.
 */
import { type PhysicalMemory, pfn as toPfn } from "@memstack/core";

const FRONT = 4096;
const FRONT_MASK = FRONT - 1;

/** Host views of physical frames, for typed-array access to simulated RAM. */
export class HostFrames {
  /** Byte view of each frame handle. */
  readonly u8: Uint8Array[] = [];
  /** u16 view of each frame handle. */
  readonly u16: Uint16Array[] = [];
  /** u32 view of each frame handle. */
  readonly u32: Uint32Array[] = [];
  /** Handle of the frame found by the last successful {@link HostFrames.lookup}. */
  frame = -1;

  private readonly memory: PhysicalMemory;
  private readonly frames = new Map<number, number>();
  private readonly frontPfn = new Float64Array(FRONT).fill(-1);
  private readonly frontHandle = new Int32Array(FRONT);

  constructor(memory: PhysicalMemory) {
    this.memory = memory;
  }

  /** Whether the memory offers `frameView` at all. */
  get available(): boolean {
    return this.memory.frameView !== undefined;
  }

  /**
   * Finds the host views of frame `pfn`, backing the frame first when
   * `forWrite`. On success sets {@link HostFrames.frame}.
   *
   * @returns false when the memory has no `frameView`, or the frame was
   * never written and `forWrite` is false (read it through the port: zeros).
   */
  lookup(pfn: number, forWrite: boolean): boolean {
    const f = pfn & FRONT_MASK;
    if (this.frontPfn[f] === pfn) {
      this.frame = this.frontHandle[f]!;
      return true;
    }
    let handle = this.frames.get(pfn);
    if (handle === undefined) {
      const view = this.memory.frameView?.(toPfn(pfn), forWrite) ?? null;
      if (view === null) return false;
      handle = this.u8.length;
      this.u8.push(view);
      this.u16.push(new Uint16Array(view.buffer, view.byteOffset, view.length >>> 1));
      this.u32.push(new Uint32Array(view.buffer, view.byteOffset, view.length >>> 2));
      this.frames.set(pfn, handle);
    }
    this.frontPfn[f] = pfn;
    this.frontHandle[f] = handle;
    this.frame = handle;
    return true;
  }
}

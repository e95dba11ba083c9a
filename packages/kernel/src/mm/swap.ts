/**
 * A swap device: a slot map over a sparse store of pages (mm/swapfile.c's
 * swap_info_struct with its swap_map of use counts).
 *
 * Each slot holds one page, a use count — the number of page-table entries
 * (in any process, after fork) and shmem objects that refer to it — and a
 * flag for a page of it kept in the swap cache (Linux's SWAP_HAS_CACHE). A
 * slot is free at count 0 without the flag. Slots are taken lowest first,
 * as Linux's scan_swap_map starts from the lowest free cluster on an empty
 * device. The contents live in a core SparseRam, so an unused device costs
 * nothing.
 *
 * A slot is always written whole before it is read, so a freed slot's old
 * contents never reach its next user.
 *
 * Invariants (see `check()`): the free count equals the number of slots at
 * count 0 without the cache flag, and the search hint never skips a free slot.
 */
import { CorruptionError, type Pfn, type PhysicalMemory, physAddr, SparseRam } from "@memstack/core";

const PKG = "@memstack/kernel";
const PAGE = 4096;

/** Whether every word of `words` is zero. */
export function allZero(words: Uint32Array): boolean {
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

/** A swap area of `slotCount` pages. */
export class SwapDevice {
  readonly slotCount: number;
  readonly #store: SparseRam | null;
  readonly #count: Uint16Array;
  readonly #cache: Uint8Array;
  // Per slot: 1 when the page written there was all zeros (the swap
  // device's zeromap, mm/swapfile.c): nothing was written, and a read fills zeros.
  readonly #zero: Uint8Array;
  readonly #bytes = new Uint8Array(PAGE);
  readonly #words = new Uint32Array(this.#bytes.buffer);
  #free: number;
  #hint = 0;

  constructor(sizeBytes: number) {
    this.slotCount = Math.floor(sizeBytes / PAGE);
    this.#store = this.slotCount > 0 ? new SparseRam({ sizeBytes: this.slotCount * PAGE }) : null;
    this.#count = new Uint16Array(this.slotCount);
    this.#cache = new Uint8Array(this.slotCount);
    this.#zero = new Uint8Array(this.slotCount);
    this.#free = this.slotCount;
  }

  /** vm_swap_full(): more than half the slots are in use. */
  get full(): boolean {
    return this.#free * 2 < this.slotCount;
  }

  /** Slots in use (SwapTotal - SwapFree, in pages). */
  get usedSlots(): number {
    return this.slotCount - this.#free;
  }

  /** Free slots. */
  get freeSlots(): number {
    return this.#free;
  }

  /** Takes a free slot with use count 1, or returns -1 when the device is full. */
  allocate(): number {
    if (this.#free === 0) return -1;
    for (let i = this.#hint; i < this.slotCount; i++) {
      if (this.#isFree(i)) {
        this.#count[i] = 1;
        this.#free--;
        this.#hint = i + 1;
        return i;
      }
    }
    throw new CorruptionError(PKG, "SwapDevice: free count says a slot is free, none is");
  }

  /** One more page-table entry refers to `slot` (fork). */
  duplicate(slot: number): void {
    this.#count[slot]!++;
  }

  /** One reference to `slot` is gone; the slot is free when none is left. */
  release(slot: number): void {
    const c = this.#count[slot]!;
    if (c === 0) throw new CorruptionError(PKG, `SwapDevice: slot ${slot} released while free`);
    this.#count[slot] = c - 1;
    if (this.#isFree(slot)) this.#freed(slot);
  }

  /** A page of `slot`, which is in use, enters the swap cache. */
  addCache(slot: number): void {
    if (this.#count[slot] === 0 || this.#cache[slot] !== 0)
      throw new CorruptionError(PKG, `SwapDevice: slot ${slot} cannot take a swap cache page`);
    this.#cache[slot] = 1;
  }

  /** The page of `slot` leaves the swap cache; the slot is free if no entry refers to it. */
  dropCache(slot: number): void {
    if (this.#cache[slot] === 0)
      throw new CorruptionError(PKG, `SwapDevice: slot ${slot} has no swap cache page`);
    this.#cache[slot] = 0;
    if (this.#isFree(slot)) this.#freed(slot);
  }

  /** Whether a page of `slot` is in the swap cache. */
  hasCache(slot: number): boolean {
    return this.#cache[slot] === 1;
  }

  #isFree(slot: number): boolean {
    return this.#count[slot] === 0 && this.#cache[slot] === 0;
  }

  #freed(slot: number): void {
    this.#zero[slot] = 0;
    this.#free++;
    if (slot < this.#hint) this.#hint = slot;
  }

  /** Use count of a slot. */
  useCount(slot: number): number {
    return this.#count[slot]!;
  }

  /**
   * Copies frame `frame` of `ram` into `slot` (swap-out's writepage), or,
   * for a page of zeros, only marks the slot as one (swap_writepage()'s
   * is_folio_zero_filled(), Linux 6.12 on: no I/O).
   *
   * @returns whether anything was written: false for a page of zeros.
   */
  writePage(slot: number, ram: PhysicalMemory, frame: Pfn): boolean {
    const bytes = this.#bytes;
    ram.readBytes(physAddr(frame * PAGE), bytes);
    const zero = allZero(this.#words);
    this.#zero[slot] = zero ? 1 : 0;
    if (!zero) this.#store!.writeBytes(physAddr(slot * PAGE), bytes);
    return !zero;
  }

  /**
   * Copies `slot` into frame `frame` of `ram` (swap-in's readpage); a slot
   * of zeros fills the frame with zeros, reading nothing.
   *
   * @returns whether anything was read: false for a slot of zeros.
   */
  readPage(slot: number, ram: PhysicalMemory, frame: Pfn): boolean {
    if (this.#zero[slot] === 1) {
      ram.zeroFrame(frame);
      return false;
    }
    const bytes = this.#bytes;
    this.#store!.readBytes(physAddr(slot * PAGE), bytes);
    ram.writeBytes(physAddr(frame * PAGE), bytes);
    return true;
  }

  /**
   * Verifies the free count and the search hint.
   *
   * @throws {CorruptionError} at the first inconsistency.
   */
  check(): void {
    let free = 0;
    for (let i = 0; i < this.slotCount; i++) {
      if (this.#isFree(i)) {
        free++;
        if (i < this.#hint)
          throw new CorruptionError(PKG, `SwapDevice: free slot ${i} lies below the hint ${this.#hint}`);
      }
    }
    if (free !== this.#free)
      throw new CorruptionError(PKG, `SwapDevice: ${free} slots free, count says ${this.#free}`);
  }
}

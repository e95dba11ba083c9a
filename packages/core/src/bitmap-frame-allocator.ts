/**
 * BitmapFrameAllocator: the trivial reference implementation of the
 * {@link FrameAllocator} port, so a layer that needs frames (the MMU's table
 * editing, the kernel) can be tested without the buddy allocator.
 *
 * Algorithm: one bit per frame (set = allocated) and, per frame, the order of
 * the block that starts there (-1 elsewhere). `allocFrames(order)` scans
 * naturally aligned candidate blocks from the lowest frame up and takes the
 * first whose frames are all clear: first fit. The scan starts at the block
 * holding the lowest clear frame (kept as a hint: every frame below it is
 * set), so filling memory from the bottom costs O(1) per frame, not a scan
 * past every frame already handed out; the worst case stays O(frames). Use
 * `@memstack/buddy` where speed or Linux's placement matters.
 *
 * Invariants (see `check()`): the bits set are exactly the frames of the
 * recorded blocks, blocks are naturally aligned and disjoint, the free
 * count is the number of clear bits, and no bit below the hint is clear.
 */

import type { Pfn } from "./address.js";
import type { BitmapFrameAllocatorOptions } from "./api.js";
import { CorruptionError, UsageError } from "./errors.js";
import type { FrameAllocator } from "./ports/frame-allocator.js";

const PKG = "@memstack/core";

/** A first-fit frame allocator over a bitmap: simple, slow, obviously right. */
export class BitmapFrameAllocator implements FrameAllocator {
  readonly frameCount: number;
  readonly firstPfn: number;
  readonly maxOrder: number;
  readonly #used: Uint8Array;
  readonly #blockOrder: Int8Array;
  #free: number;
  // Index (from firstPfn) of the lowest frame that may be clear: all below it are set.
  #lowest = 0;

  /** @throws {UsageError} naming the option that is out of range. */
  constructor(options: BitmapFrameAllocatorOptions) {
    const { frameCount, firstPfn = 0, maxOrder = 10 } = options;
    if (!Number.isSafeInteger(frameCount) || frameCount <= 0 || frameCount > 2 ** 30) {
      throw new UsageError(
        PKG,
        `BitmapFrameAllocator: frameCount must be in [1, 2^30], got ${frameCount}`,
        "frameCount",
      );
    }
    if (!Number.isSafeInteger(firstPfn) || firstPfn < 0) {
      throw new UsageError(
        PKG,
        `BitmapFrameAllocator: firstPfn must be a non-negative integer, got ${firstPfn}`,
        "firstPfn",
      );
    }
    if (!Number.isInteger(maxOrder) || maxOrder < 0 || maxOrder > 30) {
      throw new UsageError(
        PKG,
        `BitmapFrameAllocator: maxOrder must be in [0, 30], got ${maxOrder}`,
        "maxOrder",
      );
    }
    this.frameCount = frameCount;
    this.firstPfn = firstPfn;
    this.maxOrder = maxOrder;
    this.#used = new Uint8Array(frameCount);
    this.#blockOrder = new Int8Array(frameCount).fill(-1);
    this.#free = frameCount;
  }

  get freeFrameCount(): number {
    return this.#free;
  }

  #checkOrder(order: number, fn: string): void {
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder) {
      throw new UsageError(
        PKG,
        `BitmapFrameAllocator.${fn}: order must be an integer in [0, ${this.maxOrder}], got ${order}`,
        "order",
      );
    }
  }

  allocFrames(order: number): Pfn | null {
    this.#checkOrder(order, "allocFrames");
    const n = 2 ** order;
    // Candidate blocks are aligned in absolute frame numbers, not relative to firstPfn.
    // Blocks that end at or below the hint are wholly allocated: start at the one holding it.
    let pfn = Math.max(Math.ceil(this.firstPfn / n) * n, Math.floor((this.firstPfn + this.#lowest) / n) * n);
    for (; pfn + n <= this.firstPfn + this.frameCount; pfn += n) {
      const base = pfn - this.firstPfn;
      let clear = true;
      for (let i = 0; i < n; i++) {
        if (this.#used[base + i]) {
          clear = false;
          break;
        }
      }
      if (!clear) continue;
      this.#used.fill(1, base, base + n);
      this.#blockOrder[base] = order;
      this.#free -= n;
      if (base <= this.#lowest) {
        let low = this.#lowest;
        while (low < this.frameCount && this.#used[low]) low++;
        this.#lowest = low;
      }
      return pfn as Pfn;
    }
    return null;
  }

  freeFrames(frame: Pfn, order: number): void {
    this.#checkOrder(order, "freeFrames");
    const base = frame - this.firstPfn;
    if (!Number.isSafeInteger(frame) || base < 0 || base >= this.frameCount) {
      throw new UsageError(
        PKG,
        `BitmapFrameAllocator.freeFrames: pfn ${frame} is outside the managed frames`,
        "frame",
      );
    }
    const recorded = this.#blockOrder[base]!;
    if (recorded !== order) {
      const why =
        recorded < 0
          ? "is not the start of an allocated block (double free?)"
          : `was allocated at order ${recorded}`;
      throw new UsageError(
        PKG,
        `BitmapFrameAllocator.freeFrames: pfn 0x${frame.toString(16)} order ${order} ${why}`,
        "frame",
      );
    }
    const n = 2 ** order;
    this.#used.fill(0, base, base + n);
    this.#blockOrder[base] = -1;
    this.#free += n;
    if (base < this.#lowest) this.#lowest = base;
  }

  /**
   * Makes the allocated block at `frame` of `order` 2^order blocks of
   * order 0 (the FrameAllocator port's split_page).
   *
   * @throws {UsageError} when no block of that order starts at `frame`; nothing changes then.
   */
  splitFrames(frame: Pfn, order: number): void {
    this.#checkOrder(order, "splitFrames");
    const base = frame - this.firstPfn;
    if (
      !Number.isSafeInteger(frame) ||
      base < 0 ||
      base >= this.frameCount ||
      this.#blockOrder[base] !== order
    ) {
      throw new UsageError(
        PKG,
        `BitmapFrameAllocator.splitFrames: no block of order ${order} is allocated at pfn ${frame}`,
        "frame",
      );
    }
    this.#blockOrder.fill(0, base, base + 2 ** order);
  }

  /**
   * Verifies that the allocated bits are exactly the recorded blocks and
   * that the free count matches.
   *
   * @throws {CorruptionError} describing the first violation.
   */
  check(): void {
    let covered = 0;
    let i = 0;
    while (i < this.frameCount) {
      const order = this.#blockOrder[i]!;
      if (order < 0) {
        if (this.#used[i])
          throw new CorruptionError(
            PKG,
            `BitmapFrameAllocator: frame ${this.firstPfn + i} is used outside any block`,
          );
        i++;
        continue;
      }
      const n = 2 ** order;
      if ((this.firstPfn + i) % n !== 0) {
        throw new CorruptionError(
          PKG,
          `BitmapFrameAllocator: block at ${this.firstPfn + i} is not aligned to its order ${order}`,
        );
      }
      for (let k = 0; k < n; k++) {
        if (!this.#used[i + k] || (k > 0 && this.#blockOrder[i + k] !== -1)) {
          throw new CorruptionError(
            PKG,
            `BitmapFrameAllocator: block at ${this.firstPfn + i} overlaps or has clear frames`,
          );
        }
      }
      covered += n;
      i += n;
    }
    for (let k = 0; k < this.#lowest; k++) {
      if (!this.#used[k]) {
        throw new CorruptionError(
          PKG,
          `BitmapFrameAllocator: frame ${this.firstPfn + k} is clear below the scan hint ${this.firstPfn + this.#lowest}`,
        );
      }
    }
    if (this.frameCount - covered !== this.#free) {
      throw new CorruptionError(
        PKG,
        `BitmapFrameAllocator: ${this.frameCount - covered} frames free but the count says ${this.#free}`,
      );
    }
  }
}

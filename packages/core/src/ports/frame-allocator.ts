/**
 * The `FrameAllocator` port: hands out physical frames in naturally aligned
 * blocks of 2^order frames.
 *
 * Used by the kernel (page tables, process pages) and the MMU's table
 * editing; implemented by `@memstack/buddy` and, for tests, by core's
 * `BitmapFrameAllocator`. The caller remembers the order of each block, as
 * Linux's `__free_pages(page, order)` caller does.
 */
import type { Pfn } from "../address.js";

/** Allocates and frees naturally aligned blocks of 2^order physical frames. */
export interface FrameAllocator {
  /** Number of frames under management. */
  readonly frameCount: number;
  /** Number of frames currently free. */
  readonly freeFrameCount: number;

  /**
   * Allocates 2^order contiguous frames whose first frame number is a
   * multiple of 2^order.
   *
   * @returns the first frame, or `null` when no such block is free.
   * @throws {UsageError} for an order the allocator does not support.
   */
  allocFrames(order: number): Pfn | null;

  /**
   * Returns a block obtained from {@link FrameAllocator.allocFrames} with the same order.
   *
   * @throws {UsageError} naming the pfn and order when the block is not
   * allocated at that order (a double free, a wrong order, a foreign pfn);
   * the allocator is then unchanged.
   */
  freeFrames(frame: Pfn, order: number): void;

  /**
   * Turns a block obtained from {@link FrameAllocator.allocFrames} into
   * 2^order blocks of order 0, each then freed on its own (Linux's
   * `split_page`): what a kernel does with a huge page it maps as small
   * pages. Optional: a kernel without it maps no transparent huge pages.
   *
   * @throws {UsageError} naming the pfn and order when the block is not
   * allocated at that order; the allocator is then unchanged.
   */
  splitFrames?(frame: Pfn, order: number): void;
}

/**
 * External-fragmentation measures of a zone, computed from its free-block
 * counts per order exactly as Linux computes them.
 *
 * Models: mm/vmstat.c `fill_contig_page_info`, `__fragmentation_index`
 * (debugfs extfrag/extfrag_index, used by compaction against
 * vm.extfrag_threshold), `unusable_free_index` (debugfs
 * extfrag/unusable_index) and `extfrag_for_order` (proactive compaction's
 * fragmentation score). All values are integers in thousandths (or percent
 * for the score), as the kernel keeps them; the printing helpers give the
 * kernel's text.
 *
 * For a request of order o, with blocks[k] free blocks of order k:
 *
 *     free_pages      = Σ blocks[k] · 2^k
 *     blocks_total    = Σ blocks[k]
 *     blocks_suitable = Σ_{k≥o} blocks[k] · 2^(k−o)   (order-o chunks in big enough blocks)
 *
 *     fragmentation index = 0 if blocks_total = 0; −1000 if blocks_suitable > 0;
 *                           else 1000 − ⌊(1000 + ⌊free_pages·1000 / 2^o⌋) / blocks_total⌋
 *     unusable index      = 1000 if free_pages = 0;
 *                           else ⌊(free_pages − blocks_suitable·2^o)·1000 / free_pages⌋
 *
 * Worked example: 8 free order-0 blocks and nothing else, o = 3:
 * free_pages 8, total 8, suitable 0, index = 1000 − ⌊(1000 + 8000/8)/8⌋
 * = 1000 − 250 = 750: failure is mostly due to fragmentation.
 */

/** The three sums `fill_contig_page_info` collects for one order. */
export interface ContigPageInfo {
  /** Free pages in the zone. */
  readonly freePages: number;
  /** Free blocks of any order. */
  readonly freeBlocksTotal: number;
  /** Free order-`order` chunks inside blocks of at least that order. */
  readonly freeBlocksSuitable: number;
}

/** Sums the free-block counts for a request of `order` (mm/vmstat.c `fill_contig_page_info`). */
export function contigPageInfo(nrFree: ArrayLike<number>, order: number): ContigPageInfo {
  let freePages = 0;
  let freeBlocksTotal = 0;
  let freeBlocksSuitable = 0;
  for (let k = 0; k < nrFree.length; k++) {
    const blocks = nrFree[k]!;
    freeBlocksTotal += blocks;
    freePages += blocks * 2 ** k;
    if (k >= order) freeBlocksSuitable += blocks * 2 ** (k - order);
  }
  return { freePages, freeBlocksTotal, freeBlocksSuitable };
}

/**
 * Linux's fragmentation index of a zone for `order`, in thousandths
 * (mm/vmstat.c `__fragmentation_index`): −1000 when an order-`order` block
 * is free, otherwise toward 0 when the failure is lack of memory and toward
 * 1000 when it is fragmentation.
 *
 * @param nrFree free blocks per order, order 0 first (a zone's `nr_free`).
 */
export function fragmentationIndex(nrFree: ArrayLike<number>, order: number): number {
  const info = contigPageInfo(nrFree, order);
  if (info.freeBlocksTotal === 0) return 0;
  if (info.freeBlocksSuitable > 0) return -1000;
  const requested = 2 ** order;
  return 1000 - Math.floor((1000 + Math.floor((info.freePages * 1000) / requested)) / info.freeBlocksTotal);
}

/**
 * The share of free memory that cannot serve an order-`order` request, in
 * thousandths (mm/vmstat.c `unusable_free_index`); 1000 when nothing is free.
 */
export function unusableFreeIndex(nrFree: ArrayLike<number>, order: number): number {
  const info = contigPageInfo(nrFree, order);
  if (info.freePages === 0) return 1000;
  return Math.floor(((info.freePages - info.freeBlocksSuitable * 2 ** order) * 1000) / info.freePages);
}

/**
 * Percentage of free pages in blocks smaller than `order`
 * (mm/vmstat.c `extfrag_for_order`), proactive compaction's per-zone score
 * at the huge-page order; 0 when nothing is free.
 */
export function extfragForOrder(nrFree: ArrayLike<number>, order: number): number {
  const info = contigPageInfo(nrFree, order);
  if (info.freePages === 0) return 0;
  return Math.floor(((info.freePages - info.freeBlocksSuitable * 2 ** order) * 100) / info.freePages);
}

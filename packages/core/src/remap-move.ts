/**
 * mremap's steps that do not depend on how mappings are kept, shared by
 * FlatMemory and the kernel's address spaces: the argument checks
 * (check_mremap_params) and the walk of a multi-mapping move (remap_move).
 *
 * remap_move() of Linux 6.18's mm/mremap.c, over any list of mappings: the
 * walk that mremap(MREMAP_FIXED) at an unchanged length makes over every
 * mapping of [start, start + length), in address order. Each piece goes to
 * the end of the previous one plus the gap that separated them in the
 * source, so holes keep their size:
 *
 *     source   |  A  |  gap  | B |        target   |  A' |  gap  | B' |
 *              start                               newAddr
 *
 * Shared by FlatMemory and the kernel's address spaces, which differ only in
 * how they find a mapping and move one piece.
 */
import {
  addU64,
  EFAULT,
  EINVAL,
  isSyscallError,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
} from "./linux-abi.js";

const PAGE = 4096;

/**
 * check_mremap_params() of Linux 6.18: mremap's argument checks, in the
 * kernel's order, on lengths already page-aligned (do_mremap aligns them
 * first). `taskSize` is where the address space ends.
 *
 * @returns 0, or -EINVAL.
 */
export function mremapArgsError(
  oldAddr: number,
  oldLen: number,
  newLen: number,
  flags: number,
  newAddr: number,
  taskSize: number,
): number {
  if ((flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0) return -EINVAL;
  if (oldAddr % PAGE !== 0) return -EINVAL;
  if (newLen === 0 || newLen > taskSize) return -EINVAL;
  // The rest concerns calls that name a new address.
  if ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) === 0) return 0;
  if (newAddr > taskSize - newLen || newAddr % PAGE !== 0) return -EINVAL;
  if ((flags & MREMAP_MAYMOVE) === 0) return -EINVAL;
  if ((flags & MREMAP_DONTUNMAP) !== 0 && oldLen !== newLen) return -EINVAL;
  // vrm_overlaps(): the old range's end wraps at 2^64 as an unsigned long does.
  if (oldAddr < newAddr + newLen && newAddr < addU64(oldAddr, oldLen)) return -EINVAL;
  return 0;
}

/** A mapping as remapMove needs it: its bounds. */
export interface RemapMapping {
  readonly start: number;
  readonly end: number;
}

/**
 * Walks [start, start + length) and moves each piece of a mapping in it.
 *
 * @param next the first mapping whose end is above `addr` (Linux's
 *   find_vma), or null; asked again after each piece, since moving one
 *   changes the list (with MREMAP_DONTUNMAP the source stays).
 * @param movePiece checks and moves `length` bytes at `from`, inside
 *   `mapping`, to `to`: returns where they went, or a negated errno, which
 *   ends the walk (what moved before stays moved, as in Linux).
 * @returns where the first piece went; -EFAULT when the range starts in a
 *   hole or holds no mapping; or the first piece's error.
 */
export function remapMove<M extends RemapMapping>(
  start: number,
  length: number,
  newAddr: number,
  next: (addr: number) => M | null | undefined,
  movePiece: (mapping: M, from: number, length: number, to: number) => number,
): number {
  const end = start + length;
  let result = -EFAULT;
  let seen = false;
  let target = newAddr;
  let lastEnd = 0;
  let cursor = start;
  for (;;) {
    const m = next(cursor);
    const from = m === null || m === undefined ? end : Math.max(m.start, cursor);
    if (from >= end) break;
    if (!seen && start < from) return -EFAULT;
    const mapping = m!;
    const n = Math.min(end, mapping.end) - from;
    const offset = seen ? mapping.start - lastEnd : 0;
    lastEnd = mapping.end;
    const r = movePiece(mapping, from, n, target + offset);
    if (isSyscallError(r)) return r;
    if (!seen) result = r;
    seen = true;
    target = r + n;
    cursor = from + n;
  }
  return result;
}

/**
 * A virtual memory area: one contiguous range of an address space with one
 * set of flags, as Linux's `struct vm_area_struct` (include/linux/mm_types.h).
 *
 * Flags use Linux's VM_* bits (include/linux/mm.h) so a flag word reads as
 * the kernel's. Anonymous memory only: a private mapping's pages belong to
 * its anon_vma once the first one is faulted in; a shared anonymous mapping
 * is backed by a {@link ShmemObject} (Linux: a shmem file created by
 * `shmem_zero_setup`), and `pgoff` is its page offset into that object.
 *
 * Merging (`canMerge`) follows vma.c's is_mergeable_vma and
 * is_mergeable_anon_vma: equal flags (VM_SOFTDIRTY aside), the same backing
 * object at contiguous offsets, and compatible anon_vmas — either side
 * without one, or the same one.
 */
import type { TreeNode } from "./vma-tree.js";

export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_SEQ_READ = 0x8000;
export const VM_RAND_READ = 0x10000;
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
export const VM_HUGETLB = 0x400000;
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
export const VM_SOFTDIRTY = 0x8000000;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;
/** Bit 31: a flag word holding it is a negative int32 to JavaScript's bit operators. */
export const VM_MERGEABLE = 0x80000000;

/** The pages behind a shared anonymous mapping, shared by every process that maps it. */
export interface ShmemObject {
  /** A number for /proc and debugging. */
  readonly id: number;
  /** Size in pages. */
  pages: number;
  /** Frame of each page offset in memory; an offset in neither map was never touched (reads as zeros). */
  frames: Map<number, number>;
  /**
   * Swap slot of each page offset reclaim wrote out (Linux keeps the swap
   * entry in the shmem file's page cache, shmem_writeout()); a fault
   * reads it back and frees the slot (shmem_swapin_folio()).
   */
  swapped: Map<number, number>;
  /** Number of VMAs (in any process) that map it. */
  mappers: number;
  /** Pages charged to Committed_AS for it (0 for MAP_NORESERVE). */
  charged: number;
}

/**
 * The hugetlbfs file behind a MAP_HUGETLB mapping (Linux makes one,
 * unlinked, for each such mmap: hugetlb_file_setup, `/anon_hugepage`),
 * shared by the pieces, copies and moves of that mapping. The pool has no
 * huge pages here (vm.nr_hugepages is 0), so the file never holds one.
 */
export interface HugetlbFile {
  /** Its inode number, for /proc/PID/maps. */
  readonly id: number;
  /** Its huge page size in bytes (its hstate): 2 MiB or 1 GiB. */
  readonly pageBytes: number;
}

/** The identity of a private mapping's pages (Linux's anon_vma). */
export interface AnonVma {
  /** A number for debugging. */
  readonly id: number;
  /** VMAs attached to it (the degree that keeps it alive). */
  degree: number;
  /**
   * True for the anon_vma of a child's VMA after fork, which Linux chains to
   * the parent's (its anon_vma_chain is not singular): such a VMA does not
   * merge with a neighbour that has no anon_vma (vma_had_uncowed_parents).
   */
  readonly forked: boolean;
}

/** One VMA. */
export interface Vma extends TreeNode {
  start: number;
  end: number;
  /** VM_* bits. */
  flags: number;
  /** Page offset: into the shmem object for shared mappings; for private ones the linear page index, start >> 12 when mapped, kept when mremap moves the VMA. */
  pgoff: number;
  /** The shmem object of a shared mapping, null for private memory. */
  object: ShmemObject | null;
  /** Set when the first page of a private mapping is faulted in (anon_vma_prepare). */
  anonVma: AnonVma | null;
  /** True for the brk heap (printed as [heap] when it starts below brk and ends above start_brk). */
  heap: boolean;
  /** True for the initial stack, printed as [stack]. */
  stack: boolean;
  /**
   * Linux's VM_MAYBE_GUARD: a guard marker was installed in the VMA at some
   * point. It makes fork copy the VMA's page tables (vma_needs_copy), is
   * ignored when deciding a merge, and sticks: split halves keep it, and a
   * merge keeps it if either side had it.
   */
  maybeGuard: boolean;
  /**
   * Linux's VM_DROPPABLE (MAP_DROPPABLE, Linux 6.11; a flag bit above 31,
   * so a field here): its pages are dropped, written or not, when memory
   * runs short. VMAs that differ in it do not merge.
   */
  droppable: boolean;
  /**
   * The hugetlbfs file of a MAP_HUGETLB mapping (Linux: vm_file, with
   * VM_HUGETLB in the flags), null for any other. Its start, end and file
   * offset stay multiples of the file's huge page size: a split elsewhere
   * is EINVAL (hugetlb_vm_op_split). It never merges (VM_DONTEXPAND is one
   * of VM_SPECIAL's bits).
   */
  hugetlb: HugetlbFile | null;
  /**
   * Swap readahead's record of the VMA's last swap fault
   * (vma->swap_readahead_info, mm/swap_state.c): that fault's page address
   * + 64 × the window it read + the readahead hits since; 0 before any,
   * which reads as 4 hits. A split, fork or mremap copies it.
   */
  swapRa: number;
}

/**
 * Gives `to`, a new VMA for a piece of `from`'s mapping (a split), its copy
 * in a child (fork) or its new place (mremap), the flags Linux keeps above
 * bit 31, which are fields here: VM_MAYBE_GUARD and VM_DROPPABLE; the
 * hugetlbfs file of a hugetlb mapping; and the swap readahead record.
 */
export function copyHighFlags(to: Vma, from: Vma): void {
  to.maybeGuard = from.maybeGuard;
  to.droppable = from.droppable;
  to.hugetlb = from.hugetlb;
  to.swapRa = from.swapRa;
}

/** Bits of VM_* that must match for two VMAs to merge: all but VM_SOFTDIRTY. */
const MERGE_MASK = ~VM_SOFTDIRTY;

/** Makes a VMA record (not yet in a tree). */
export function makeVma(
  start: number,
  end: number,
  flags: number,
  pgoff: number,
  object: ShmemObject | null,
  anonVma: AnonVma | null = null,
): Vma {
  return {
    start,
    end,
    flags,
    pgoff,
    object,
    anonVma,
    heap: false,
    stack: false,
    maybeGuard: false,
    droppable: false,
    hugetlb: null,
    swapRa: 0,
    left: null,
    right: null,
    prio: 0,
    gap: 0,
    maxGap: 0,
    pred: null,
    succ: null,
  };
}

/**
 * Whether `a` (below) and `b` (above) may become one VMA: adjacent, equal
 * flags, the same object at contiguous page offsets, compatible anon_vmas.
 */
export function canMerge(a: Vma, b: Vma, grown = false): boolean {
  if (a.end !== b.start) return false;
  if (((a.flags ^ b.flags) & MERGE_MASK) !== 0 || a.droppable !== b.droppable) return false;
  if (a.object !== b.object || a.hugetlb !== null || b.hugetlb !== null) return false;
  // Page offsets must be contiguous: for private memory they are linear page
  // indices (start >> 12 at mmap time, kept when mremap moves the VMA).
  if (b.pgoff !== a.pgoff + (b.start - a.start) / 4096) return false;
  if (a.stack || b.stack) return false;
  // is_mergeable_anon_vma(): one side without an anon_vma takes the other's,
  // unless that one was inherited through fork; two must be the same. With
  // `grown`, `a` is a VMA mremap grew in place and `b` the next one:
  // vma_merge_extend() merges the new range with no middle VMA, so an
  // anon_vma `a` inherited through fork does not stop it.
  if (a.anonVma === null) return b.anonVma === null || !b.anonVma.forked;
  if (b.anonVma === null) return grown || !a.anonVma.forked;
  return a.anonVma === b.anonVma;
}

/**
 * Whether `b` may share `a`'s anon_vma when its first page is faulted in
 * (anon_vma_compatible in mm/rmap.c): adjacent, equal flags but for the
 * protection bits, contiguous offsets, no shmem object, and an anon_vma
 * not inherited through fork.
 */
export function anonVmaCompatible(a: Vma, b: Vma): boolean {
  const lo = a.start < b.start ? a : b;
  const hi = lo === a ? b : a;
  return (
    lo.end === hi.start &&
    lo.object === null &&
    hi.object === null &&
    ((lo.flags ^ hi.flags) & ~(VM_READ | VM_WRITE | VM_EXEC | VM_SOFTDIRTY)) === 0 &&
    lo.droppable === hi.droppable &&
    hi.pgoff === lo.pgoff + (hi.start - lo.start) / 4096 &&
    !lo.stack &&
    !hi.stack
  );
}

/** The permissions column of /proc/PID/maps: `rw-p`. */
export function vmaPerms(flags: number): string {
  return `${flags & VM_READ ? "r" : "-"}${flags & VM_WRITE ? "w" : "-"}${flags & VM_EXEC ? "x" : "-"}${flags & VM_MAYSHARE ? "s" : "p"}`;
}

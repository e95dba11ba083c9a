/**
 * One process's address space at the level of VMAs: Linux's mm_struct with
 * the system calls that change it (mm/mmap.c, mm/vma.c, mm/mprotect.c,
 * mm/madvise.c, mm/mremap.c), their argument checks in Linux's order and
 * their errno values, placement (top-down below mmap_base, hints, MAP_FIXED,
 * THP alignment of 2 MiB multiples, the bottom-up fallback), splitting and
 * merging of VMAs (VM_ACCOUNT, anon_vma and shmem rules included), commit
 * accounting, and the /proc/PID/maps text.
 *
 * Page-level effects (freeing frames, changing PTEs, prefaulting, moving
 * pages) go through a {@link PageLayer}; the kernel implements it with the
 * MMU port, tests may use a layer of their own. Commit charges go through
 * {@link CommitAccounting}, which holds the machine-wide Committed_AS and the
 * overcommit policy.
 *
 * Layout of a fresh address space (no ASLR):
 *
 *     0x7ffffffff000  TASK_SIZE, top of the [stack] VMA
 *     0x7ffffffde000  [stack] (132 KiB)
 *          ...         stack gap (128 MiB, Linux's minimum)
 *     0x7ffff7e00000  mmap_base (2 MiB-aligned); mmaps grow down from here
 *          ...
 *     start_brk       [heap], grows up with brk(2)
 *     0x10000         mmap_min_addr
 */
import {
  addU64,
  alignU64,
  EACCES,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOMEM,
  EOPNOTSUPP,
  EPERM,
  errValueU64,
  hugePageBytes,
  isMadvice,
  LEGACY_MAP_MASK,
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_32BIT,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  mremapArgsError,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  pageAlignU64,
  remapMove,
  STACK_GUARD_GAP,
  UsageError,
} from "@memstack/core";
import { formatMapsLine } from "../proc/format.js";
import { PageTableSet } from "./page-table-set.js";
import {
  type AnonVma,
  canMerge,
  copyHighFlags,
  type HugetlbFile,
  makeVma,
  type ShmemObject,
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MERGEABLE,
  VM_NOHUGEPAGE,
  VM_NORESERVE,
  VM_RAND_READ,
  VM_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_WIPEONFORK,
  VM_WRITE,
  type Vma,
  vmaPerms,
} from "./vma.js";
import { VmaTree } from "./vma-tree.js";

const PKG = "@memstack/kernel";
const PAGE = 4096;
const PMD_SIZE = 2 * 1024 * 1024;
/** x86-64 with 4-level paging: the top of user space, one page short of 2^47. */
export const TASK_SIZE = 0x7ffffffff000;
/** DEFAULT_MAP_WINDOW on x86-64 with 4-level paging. */
const DEFAULT_MAP_WINDOW = TASK_SIZE;
/** Linux's default vm.max_map_count. */
export const DEFAULT_MAX_MAP_COUNT = 65530;
/** Where MAP_32BIT mappings go on x86-64 (find_start_end() in arch/x86/kernel/sys_x86_64.c). */
const LOW_32BIT_BEGIN = 0x40000000;
const LOW_32BIT_END = 0x80000000;
/**
 * The minor device numbers of the hugetlbfs mounts Linux makes at boot, one
 * per huge page size, as /proc/PID/maps shows them for MAP_HUGETLB
 * mappings on this machine's Linux 6.18 (`mmap-hugetlb.vm`): 00:11 for
 * 2 MiB pages, 00:12 for 1 GiB ones.
 */
const HUGETLBFS_MINOR_2M = 0x11;
const HUGETLBFS_MINOR_1G = 0x12;
/** The default RLIMIT_STACK (8 MiB, `ulimit -s` 8192): a stack VMA grows no larger. */
const RLIMIT_STACK = 8 * 1024 * 1024;

/**
 * vm_start_gap(): where the free space a VMA needs below it begins — its
 * start, or for a VM_GROWSDOWN VMA the stack guard gap below it.
 */
function startGap(vma: Vma): number {
  return (vma.flags & VM_GROWSDOWN) !== 0 ? Math.max(vma.start - STACK_GUARD_GAP, 0) : vma.start;
}

/** What the address space asks of the page tables and frames. */
export interface PageLayer {
  /**
   * Drops the pages of [start, end), which lie inside `vma`: private frames
   * go back when no one else maps them, swap entries are freed; a shmem
   * object keeps its pages. Guard markers stay, unless `unmap` (the range
   * is being unmapped).
   */
  zap(space: AddressSpace, vma: Vma, start: number, end: number, unmap?: boolean): void;
  /** Makes the page tables of [start, end) follow `vma.flags` (copy-on-write pages stay read-only). */
  protect(space: AddressSpace, vma: Vma, start: number, end: number): void;
  /**
   * Runs `edit` as one mmu_gather (tlb_gather_mmu() … tlb_finish_mmu()):
   * the TLB entries its zaps and protects change are flushed once, at the
   * end, as one range. Optional: without it each zap or protect flushes
   * its own.
   */
  gather?<T>(space: AddressSpace, edit: () => T): T;
  /** Moves the pages of [from, from + length) to [to, to + length) (mremap). */
  move(space: AddressSpace, from: number, to: number, length: number): void;
  /**
   * Faults in [start, end) of `vma` as accesses would (`write` for a write
   * fault); stops quietly when memory runs out. Returns false when it
   * stopped at a page whose fault is SIGSEGV (a guard marker) or SIGBUS
   * (past a shmem object's end).
   */
  populate(space: AddressSpace, vma: Vma, start: number, end: number, write: boolean): boolean;
  /** MADV_FREE: marks the pages of [start, end) freed lazily; reclaim drops them while they stay clean. */
  lazyFree(space: AddressSpace, vma: Vma, start: number, end: number): void;
  /** MADV_PAGEOUT: reclaims the pages of [start, end) that only this mapping maps, now. */
  pageOut(space: AddressSpace, vma: Vma, start: number, end: number): void;
  /** MADV_GUARD_INSTALL: zaps [start, end) and makes every entry a guard marker; false when a table could not be made. */
  guardInstall(space: AddressSpace, vma: Vma, start: number, end: number): boolean;
  /** MADV_GUARD_REMOVE: clears the guard markers of [start, end). */
  guardRemove(space: AddressSpace, start: number, end: number): void;
  /** Whether [start, end) holds a guard marker. */
  guarded(space: AddressSpace, start: number, end: number): boolean;
  /** MADV_COLD on [start, end) of `vma`: deactivates the pages (only a huge page's split shows). Optional. */
  cold?(space: AddressSpace, vma: Vma, start: number, end: number): void;
  /** MADV_WILLNEED over a private range: reads its swapped-out pages into the swap cache, mapping none. */
  willNeed?(space: AddressSpace, vma: Vma, start: number, end: number): void;
  /**
   * A VMA boundary is made at `at` (a split): a huge page mapped whole
   * across it is split (vma_adjust_trans_huge). Optional.
   */
  splitAt?(space: AddressSpace, at: number): void;
  /**
   * How an MMU that keeps tables in RAM follows the space's PageTableSet:
   * page-level changes clear entries and keep their tables; `freed` says
   * the tables whose regions lie in [start, end) are gone, `made` that the
   * tables over `addr` down to the one a page of `pageSize` would go in
   * exist ahead of any page (false when memory ran out). Optional.
   */
  tables?: {
    freed(space: AddressSpace, start: number, end: number, moved?: boolean): void;
    made(space: AddressSpace, addr: number, pageSize: number): boolean;
  };
}

/** Machine-wide commit accounting (mm/util.c's __vm_enough_memory). */
export interface CommitAccounting {
  /** Charges `pages` to Committed_AS if the overcommit policy allows it. */
  charge(space: AddressSpace, pages: number): boolean;
  /** Gives back a charge. */
  uncharge(pages: number): void;
  /** Whether the policy is OVERCOMMIT_NEVER (mode 2), under which MAP_NORESERVE is ignored. */
  readonly never: boolean;
}

/** Options of {@link AddressSpace}. */
export interface AddressSpaceOptions {
  pages: PageLayer;
  accounting: CommitAccounting;
  /** Top of the mmap area; mappings are placed below it. @defaultValue 0x7ffff7e00000 */
  mmapBase?: number;
  /** The initial program break. @defaultValue 0x555555559000 */
  startBrk?: number;
  /** vm.mmap_min_addr. @defaultValue 65536 */
  mmapMinAddr?: number;
  /** vm.max_map_count. @defaultValue 65530 */
  maxMapCount?: number;
  /** Seed for the VMA tree's priorities. */
  seed?: number;
  /** Size of the initial [stack] VMA below TASK_SIZE; 0 for none. @defaultValue 0x21000 */
  stackBytes?: number;
}

// A merge keeps `into`, which takes from `from` the sticky VM_MAYBE_GUARD,
// and `from`'s anon_vma when it has none (vma_expand; the caller then drops
// `from`, and its hold on the anon_vma with it).
function absorb(into: Vma, from: Vma): void {
  if (from.maybeGuard) into.maybeGuard = true;
  if (into.anonVma !== null || from.anonVma === null) return;
  into.anonVma = from.anonVma;
  into.anonVma.degree++;
}

function pageUp(n: number): number {
  const r = n % PAGE;
  return r === 0 ? n : n + (PAGE - r);
}

// `n` rounded up to a multiple of `align` (a power of two of at least a page).
function alignUp(n: number, align: number): number {
  const r = n % align;
  return r === 0 ? n : n + (align - r);
}

/**
 * Whether `vma` may be split at `at` (__split_vma's may_split hook): a
 * hugetlb VMA only at a multiple of its huge page size (hugetlb_vm_op_split
 * in mm/hugetlb.c), any other anywhere. munmap, mprotect, madvise and a
 * MAP_FIXED mmap that would cut one elsewhere fail with EINVAL.
 */
function maySplit(vma: Vma, at: number): boolean {
  return vma.hugetlb === null || at % vma.hugetlb.pageBytes === 0;
}

function calcProtBits(prot: number): number {
  return (
    (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0)
  );
}

let nextObjectId = 1;
let nextAnonId = 1;
let nextHugetlbId = 1;

/** A shmem object for a new shared anonymous mapping of `pages` pages. */
export function newShmemObject(pages: number): ShmemObject {
  return { id: nextObjectId++, pages, frames: new Map(), swapped: new Map(), mappers: 0, charged: 0 };
}

/** A fresh anon_vma; `forked` for the one a child's VMA gets at fork. */
export function newAnonVma(forked = false): AnonVma {
  return { id: nextAnonId++, degree: 0, forked };
}

/** A process's address space: VMAs, the program break and the mmap family. */
export class AddressSpace {
  readonly tree: VmaTree<Vma>;
  readonly mmapBase: number;
  readonly startBrk: number;
  readonly mmapMinAddr: number;
  readonly maxMapCount: number;
  /** Pages mapped (VmSize). */
  totalVm = 0;
  /** Largest totalVm ever (VmPeak). */
  hiwaterVm = 0;
  /** Pages of the stack VMA (VmStk). */
  stackVm = 0;
  /** Pages of private writable, non-stack VMAs (VmData). */
  dataVm = 0;
  /** Pages of executable, non-writable VMAs (VmExe + VmLib). */
  execVm = 0;
  /** Pages charged to Committed_AS by this space. */
  committed = 0;
  /** The page-table pages this space holds, as Linux allocates and frees them (VmPTE). */
  readonly tables: PageTableSet;
  readonly #pages: PageLayer;
  readonly #acct: CommitAccounting;
  #brk: number;
  // Whether unmapAll ran: the OOM killer may take the process in the middle
  // of one of its own calls (an allocation runs it), which then stops.
  #torn = false;

  constructor(options: AddressSpaceOptions) {
    const pages = options.pages;
    this.#pages = pages;
    this.tables = new PageTableSet(
      pages.tables === undefined
        ? null
        : {
            freed: (start, end, moved) => pages.tables!.freed(this, start, end, moved),
            made: (addr, pageSize) => pages.tables!.made(this, addr, pageSize),
          },
    );
    this.#acct = options.accounting;
    this.tree = new VmaTree<Vma>(options.seed ?? 1);
    this.mmapBase = options.mmapBase ?? 0x7ffff7e00000;
    this.startBrk = options.startBrk ?? 0x555555559000;
    this.mmapMinAddr = options.mmapMinAddr ?? 65536;
    this.maxMapCount = options.maxMapCount ?? DEFAULT_MAX_MAP_COUNT;
    this.#brk = this.startBrk;
    const stackBytes = options.stackBytes ?? 0x21000;
    if (stackBytes > 0) {
      // The initial stack: read-write, grows down, charged like private memory.
      const flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN | VM_ACCOUNT;
      const vma = makeVma(TASK_SIZE - stackBytes, TASK_SIZE, flags, (TASK_SIZE - stackBytes) / PAGE, null);
      vma.stack = true;
      const pages = stackBytes / PAGE;
      if (!this.#acct.charge(this, pages))
        throw new UsageError(PKG, "no commit left for the initial stack", "options");
      this.committed += pages;
      this.tree.insert(vma);
      this.#account(vma.flags, pages, vma);
    }
  }

  /** The current program break. */
  get brkValue(): number {
    return this.#brk;
  }

  /** Number of VMAs (map_count). */
  get mapCount(): number {
    return this.tree.size;
  }

  // vm_stat_account(): the VmSize/VmData/VmStk/VmExe counters.
  #account(flags: number, pages: number, vma?: Vma): void {
    this.totalVm += pages;
    if (this.totalVm > this.hiwaterVm) this.hiwaterVm = this.totalVm;
    if (vma?.stack === true || (flags & VM_GROWSDOWN) !== 0) this.stackVm += pages;
    else if ((flags & (VM_WRITE | VM_SHARED)) === VM_WRITE) this.dataVm += pages;
    else if ((flags & (VM_EXEC | VM_WRITE)) === VM_EXEC) this.execVm += pages;
  }

  #charge(pages: number): boolean {
    if (pages <= 0) return true;
    if (!this.#acct.charge(this, pages)) return false;
    this.committed += pages;
    return true;
  }

  #uncharge(pages: number): void {
    if (pages <= 0) return;
    this.#acct.uncharge(pages);
    this.committed -= pages;
  }

  // ------------------------------------------------------------ placement

  /**
   * get_unmapped_area(): where a mapping of `length` bytes goes, or a
   * negated errno. `length` is page-aligned and non-zero. `hugeBytes` is
   * the huge page size of a hugetlb mapping (0 for any other), whose length
   * is a multiple of it: as hugetlb_get_unmapped_area() does, a fixed
   * address must be one too (EINVAL), a hint is rounded up to one, and the
   * search returns one (get_align_mask() in arch/x86/kernel/sys_x86_64.c).
   */
  getUnmappedArea(addr: number, length: number, flags: number, hugeBytes = 0): number {
    if (length > TASK_SIZE) return -ENOMEM;
    let result: number;
    if (hugeBytes !== 0) {
      if ((flags & MAP_FIXED) !== 0 && addr % hugeBytes !== 0) return -EINVAL;
      result =
        (flags & MAP_FIXED) !== 0
          ? addr
          : this.#archTopDown(alignUp(addr, hugeBytes), length, flags, hugeBytes);
    } else if ((flags & MAP_FIXED) !== 0) {
      result = addr;
      // IS_ERR_VALUE(): an address among the last 4095 below 2^64 reads as
      // an error code, which mmap returns as it is (2^64 - 2048: -2048).
      const err = errValueU64(result);
      if (err !== 0) return err;
    } else if ((flags & MAP_TYPE) !== MAP_SHARED && addr === 0 && length % PMD_SIZE === 0) {
      // thp_get_unmapped_area(): search for length + 2 MiB, then align the start.
      result = this.#thpArea(length, flags);
      if (result === 0) result = this.#archTopDown(addr, length, flags);
    } else {
      result = this.#archTopDown(addr, length, flags);
    }
    if (result < 0) return result;
    if (result > TASK_SIZE - length) return -ENOMEM;
    if (result % PAGE !== 0) return -EINVAL;
    // security_mmap_addr(): an unprivileged process may not map below mmap_min_addr.
    if (result < this.mmapMinAddr) return -EPERM;
    return result;
  }

  // __thp_get_unmapped_area() for an anonymous mapping (file offset 0): 0 when it gives up.
  #thpArea(length: number, flags: number): number {
    const padded = length + PMD_SIZE;
    const found = this.#archTopDown(0, padded, flags);
    if (found < 0) return 0;
    const sub = (PMD_SIZE - (found % PMD_SIZE)) % PMD_SIZE;
    // Top-down, an already aligned start moves up by a whole 2 MiB to use the top of the padding.
    return sub === 0 ? found + PMD_SIZE : found + sub;
  }

  // arch_get_unmapped_area_topdown() of arch/x86/kernel/sys_x86_64.c. A
  // search for a range aligned to `align` (a hugetlb mapping's) looks for
  // `length + align - PAGE` bytes and takes the highest aligned start in
  // them (vm_unmapped_area's align_mask); the hint is taken as it is.
  #archTopDown(hint: number, length: number, flags: number, align = PAGE): number {
    // MAP_32BIT takes the legacy bottom-up search, in [1 GiB, 2 GiB).
    if ((flags & MAP_32BIT) !== 0) return this.#archBottomUp32(hint, length, align);
    if (length > TASK_SIZE) return -ENOMEM;
    if (hint !== 0) {
      const addr = hint - (hint % PAGE);
      const valid =
        TASK_SIZE - length >= addr && addr > DEFAULT_MAP_WINDOW === addr + length > DEFAULT_MAP_WINDOW;
      if (valid) {
        const next = this.tree.findAfter(addr);
        if (next === null || addr + length <= startGap(next)) return addr;
      }
    }
    // unmapped_area_topdown(): the highest gap that fits; when the VMA above
    // it grows down and its guard gap reaches into it, search again below
    // that guard gap.
    const padded = length + align - PAGE;
    let high = this.mmapBase;
    for (;;) {
      const top = this.tree.highestGap(padded, PAGE, high);
      if (top < 0) break;
      const next = this.tree.findAfter(top);
      if (next === null || startGap(next) >= top) return top - length - ((top - length) % align);
      high = startGap(next);
    }
    // Bottom-up fallback from TASK_UNMAPPED_BASE (a third of the address space).
    const base = pageUp(Math.floor(TASK_SIZE / 3));
    const low = this.tree.lowestGap(padded, base, TASK_SIZE);
    return low >= 0 ? alignUp(low, align) : -ENOMEM;
  }

  // arch_get_unmapped_area() for MAP_32BIT (find_start_end(): begin 1 GiB,
  // end 2 GiB, without address randomisation): the hint if it ends below
  // 2 GiB and clear of the stack guard gap above it, else the lowest free
  // range (unmapped_area(), searching again above a VMA that grows down
  // when its guard gap reaches into the range).
  #archBottomUp32(hint: number, length: number, align: number): number {
    const end = LOW_32BIT_END;
    if (length > end) return -ENOMEM;
    if (hint !== 0) {
      const addr = pageUp(hint);
      const next = this.tree.findAfter(addr);
      if (end - length >= addr && (next === null || addr + length <= startGap(next))) return addr;
    }
    // unmapped_area(): the padded length for an aligned range, as above.
    const padded = length + align - PAGE;
    let low = Math.max(LOW_32BIT_BEGIN, this.mmapMinAddr);
    for (;;) {
      const found = this.tree.lowestGap(padded, low, end);
      if (found < 0) return -ENOMEM;
      const gap = alignUp(found, align);
      const next = this.tree.findAfter(found);
      if (next === null || startGap(next) >= gap + padded - 1) return gap;
      low = next.end;
    }
  }

  // ------------------------------------------------------------- mmap(2)

  /**
   * mmap(2) of anonymous memory; see the Mapper port. MAP_HUGETLB maps a
   * new hugetlbfs file instead (ksys_mmap_pgoff): the length rounds up to
   * its huge page size (MAP_HUGE_2MB, the default, or MAP_HUGE_1GB; EINVAL
   * for a size with no pool), the mapping is placed at a multiple of it and
   * checked as a file's (MAP_SHARED_VALIDATE is accepted, with
   * EOPNOTSUPP for bits outside LEGACY_MAP_MASK). The pool is empty (no huge
   * pages reserved, as on this machine), so the reservation fails with
   * ENOMEM unless MAP_NORESERVE asks for none; with it, each fault is SIGBUS.
   */
  mmap(addr: number, length: number, prot: number, flags: number): number {
    const huge = (flags & MAP_HUGETLB) !== 0 ? hugePageBytes(flags) : 0;
    if ((flags & MAP_HUGETLB) !== 0 && huge === 0) return -EINVAL;
    if (length === 0) return -EINVAL;
    // do_mmap() makes MAP_FIXED_NOREPLACE fixed before it rounds a hint, so
    // an unaligned address with it is EINVAL (from get_unmapped_area), not
    // rounded down to a page that may then clash (EEXIST).
    let f = flags;
    if ((f & MAP_FIXED_NOREPLACE) !== 0) f |= MAP_FIXED;
    let hint = addr;
    if ((f & MAP_FIXED) === 0) {
      // round_hint_to_min()
      hint -= hint % PAGE;
      if (hint !== 0 && hint < this.mmapMinAddr) hint = pageUp(this.mmapMinAddr);
    }
    // ALIGN() of an unsigned long: a length within a page of 2^64 wraps to
    // 0, which do_mmap() refuses with ENOMEM; ksys_mmap_pgoff() aligns a
    // hugetlb length before do_mmap(), whose first test (!len) is EINVAL.
    const len = huge === 0 ? pageAlignU64(length) : alignU64(length, huge);
    if (len === 0) return huge === 0 ? -ENOMEM : -EINVAL;
    if (this.mapCount > this.maxMapCount) return -ENOMEM;
    const start = this.getUnmappedArea(hint, len, f, huge);
    if (start < 0) return start;
    if ((f & MAP_FIXED_NOREPLACE) !== 0 && this.tree.overlapping(start, start + len).length > 0)
      return -EEXIST;
    // calc_vm_flag_bits(): MAP_GROWSDOWN makes a stack, which faults below it grow.
    let vmFlags =
      calcProtBits(prot) |
      VM_MAYREAD |
      VM_MAYWRITE |
      VM_MAYEXEC |
      ((f & MAP_GROWSDOWN) !== 0 ? VM_GROWSDOWN : 0);
    const type = f & MAP_TYPE;
    let pgoff: number;
    if (huge !== 0) {
      // do_mmap() of a file: shared (validated: no unknown bit) or private,
      // never a stack; hugetlbfs_file_mmap() marks the VMA VM_HUGETLB and
      // VM_DONTEXPAND. The file starts at offset 0 however it is shared.
      if (type === MAP_SHARED_VALIDATE && (f & ~LEGACY_MAP_MASK) !== 0) return -EOPNOTSUPP;
      if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) vmFlags |= VM_SHARED | VM_MAYSHARE;
      else if (type !== MAP_PRIVATE) return -EINVAL;
      if ((f & MAP_GROWSDOWN) !== 0) return -EINVAL;
      vmFlags |= VM_HUGETLB | VM_DONTEXPAND;
      // hugetlb's own overcommit rule: MAP_NORESERVE reserves no huge pages, whatever vm.overcommit_memory says.
      if ((f & MAP_NORESERVE) !== 0) vmFlags |= VM_NORESERVE;
      pgoff = 0;
    } else if (type === MAP_SHARED) {
      // do_mmap(): anonymous shared memory cannot grow down.
      if ((f & MAP_GROWSDOWN) !== 0) return -EINVAL;
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      pgoff = 0;
    } else if (type === MAP_PRIVATE) {
      pgoff = start / PAGE;
    } else if (type === MAP_DROPPABLE) {
      // do_mmap(): private memory the kernel may drop; neither a stack nor
      // locked, never charged, wiped in a child and left out of core dumps.
      if ((f & (MAP_GROWSDOWN | MAP_LOCKED)) !== 0) return -EINVAL;
      vmFlags |= VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
      pgoff = start / PAGE;
    } else {
      return -EINVAL;
    }
    if ((f & MAP_NORESERVE) !== 0 && !this.#acct.never) vmFlags |= VM_NORESERVE;
    const file = huge === 0 ? null : { id: nextHugetlbId++, pageBytes: huge };
    const r = this.#mmapRegion(start, len, vmFlags, pgoff, type === MAP_DROPPABLE, file);
    if (r < 0) return r;
    if ((f & MAP_POPULATE) !== 0) {
      // __mm_populate(): private writable memory is faulted for writing, the rest for reading.
      for (let a = start; a < start + len; ) {
        const vma = this.tree.lookup(a);
        if (vma === null) break;
        const to = Math.min(vma.end, start + len);
        const write = (vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE;
        // A hugetlb VMA's first fault is SIGBUS, after making the tables
        // above it; the error is ignored and the walk goes on with the next VMA.
        if (vma.hugetlb !== null) this.tables.touchUpper(a, vma.hugetlb.pageBytes);
        else this.#pages.populate(this, vma, a, to, write);
        a = to;
      }
    }
    return start;
  }

  // mmap_region(): charge, replace what was there, merge or insert. A
  // hugetlb mapping (`hugetlb`, its file) is never charged and never
  // merges; with no huge pages to reserve it fails, unless VM_NORESERVE,
  // only after what it replaces is gone (hugetlbfs_file_mmap runs after
  // vms_clean_up_area, and vms_abort_munmap_vmas then leaves the hole).
  #mmapRegion(
    start: number,
    len: number,
    vmFlags: number,
    pgoff: number,
    droppable = false,
    hugetlb: HugetlbFile | null = null,
  ): number {
    const end = start + len;
    const pages = len / PAGE;
    // The VMAs the mapping replaces, and the first one above it when there are none.
    const after = this.tree.findAfter(start);
    const old = this.tree.overlapping(start, end, after);
    // Splitting a VMA in two would add one more than the count allows.
    if (
      old.length > 0 &&
      old[0]!.start < start &&
      old[old.length - 1]!.end > end &&
      this.mapCount >= this.maxMapCount
    ) {
      return -ENOMEM;
    }
    if (this.#refusedSplit(old, start, end)) return -EINVAL;
    let oldAccounted = 0;
    for (const v of old) {
      if ((v.flags & VM_ACCOUNT) !== 0)
        oldAccounted += (Math.min(v.end, end) - Math.max(v.start, start)) / PAGE;
    }
    let flags = vmFlags;
    let charged = 0;
    let object: ShmemObject | null = null;
    if ((flags & (VM_NORESERVE | VM_SHARED | VM_WRITE | VM_HUGETLB)) === VM_WRITE) {
      // accountable_mapping(): private, writable, reserved, not hugetlb.
      charged = pages - oldAccounted;
      if (!this.#charge(charged)) return -ENOMEM;
      flags |= VM_ACCOUNT;
    } else if ((flags & (VM_SHARED | VM_HUGETLB)) === VM_SHARED) {
      // shmem_zero_setup(): the object is charged for its size unless VM_NORESERVE.
      object = newShmemObject(pages);
      if ((flags & VM_NORESERVE) === 0) {
        // The object, not the process, holds this charge: it may outlive
        // the mapping that made it (fork), and goes with its last mapper.
        if (!this.#acct.charge(this, pages)) return -ENOMEM;
        object.charged = pages;
      }
    }
    // An accountable mapping takes over the charge of the accounted pages it
    // replaces (__mmap_region zeroes vms.nr_accounted); others give it back.
    const next = old.length === 0 ? after : this.#unmapRange(start, end, (flags & VM_ACCOUNT) === 0, old);
    // hugetlb_reserve_pages(): an empty pool has no page to reserve.
    if (hugetlb !== null && (flags & VM_NORESERVE) === 0) return -ENOMEM;
    const vma = makeVma(start, end, flags, object === null ? pgoff : 0, object);
    vma.droppable = droppable;
    vma.hugetlb = hugetlb;
    if (object !== null) object.mappers = 1;
    this.#insertMerging(vma, next);
    this.#account(flags, pages);
    return 0;
  }

  // Inserts a new VMA (anon_vma null), merging it with its neighbours as
  // vma_merge_new_range() does. `after`: the first VMA above its range
  // (tree.findAfter(vma.start)), when the caller has it.
  #insertMerging(vma: Vma, after?: Vma | null): Vma {
    // The range is free: the VMA before the next one is the previous one.
    const next = after === undefined ? this.tree.findAfter(vma.start) : after;
    const prev = next !== null ? this.tree.prev(next) : this.tree.last();
    const withPrev = prev !== null && canMerge(prev, vma);
    const withNext = next !== null && next.start === vma.end && canMerge(vma, next);
    if (withPrev && withNext && canMerge({ ...prev, end: next.start }, next)) {
      this.#absorbNext(prev, next);
      if (vma.object !== null) vma.object.mappers--;
      return prev;
    }
    if (withPrev) {
      this.tree.adjust(prev, prev.start, vma.end);
      if (vma.object !== null) vma.object.mappers--;
      return prev;
    }
    if (withNext) {
      next.pgoff = vma.pgoff;
      this.tree.adjust(next, vma.start, next.end);
      if (vma.object !== null) vma.object.mappers--;
      return next;
    }
    this.tree.insert(vma, next);
    if (vma.anonVma !== null) vma.anonVma.degree++;
    return vma;
  }

  #dropVma(vma: Vma): void {
    if (vma.anonVma !== null) vma.anonVma.degree--;
    if (vma.object !== null) vma.object.mappers--;
  }

  // Merges `hi` into `lo`, the VMA just below it: `lo` takes its range, and
  // its anon_vma when `lo` has none (vma_expand()).
  #absorbNext(lo: Vma, hi: Vma): void {
    this.tree.remove(hi);
    absorb(lo, hi);
    this.#dropVma(hi);
    this.tree.adjust(lo, lo.start, hi.end);
  }

  // vms_gather_munmap_vmas()'s splits, for the VMAs `found` over [start,
  // end), as far as they can fail: the first VMA is split at `start` and
  // the last at `end` only where maySplit allows. The split at `start` is
  // made first and stays when the one at `end` is refused. Returns whether
  // one was refused (the call is then EINVAL and nothing is unmapped).
  #refusedSplit(found: Vma[], start: number, end: number): boolean {
    if (found.length === 0) return false;
    const first = found[0]!;
    const last = found[found.length - 1]!;
    if (first.start < start && !maySplit(first, start)) return true;
    if (last.end <= end || maySplit(last, end)) return false;
    if (first.start < start) this.#split(first, start);
    return true;
  }

  // Splits `vma` at `at` (page-aligned, strictly inside); returns the upper part.
  #split(vma: Vma, at: number): Vma {
    this.#pages.splitAt?.(this, at);
    const upper = makeVma(
      at,
      vma.end,
      vma.flags,
      vma.pgoff + (at - vma.start) / PAGE,
      vma.object,
      vma.anonVma,
    );
    upper.stack = vma.stack;
    copyHighFlags(upper, vma);
    const next = this.tree.next(vma);
    this.tree.adjust(vma, vma.start, at);
    this.tree.insert(upper, next);
    if (upper.anonVma !== null) upper.anonVma.degree++;
    if (upper.object !== null) upper.object.mappers++;
    return upper;
  }

  // Removes every VMA in [start, end), splitting at the edges; frees their
  // pages and, when `uncharge` is set, their commit charge.
  // `found` is the caller's tree.overlapping(start, end), when it has it.
  // Returns the VMA after the last one removed: when any was, the first VMA
  // above the range, as tree.findAfter(start) would now find it.
  #unmapRange(start: number, end: number, uncharge: boolean, found?: Vma[]): Vma | null {
    // vms_clear_ptes(): one mmu_gather over every VMA unmapped.
    return this.#gather(() => this.#unmapVmas(start, end, uncharge, found));
  }

  #unmapVmas(start: number, end: number, uncharge: boolean, found?: Vma[]): Vma | null {
    // The unmapped pieces, in address order, for free_pgtables() below,
    // and the VMAs left on either side of them.
    const gone: number[] = [];
    let below: Vma | null = null;
    let above: Vma | null = null;
    for (const v of found ?? this.tree.overlapping(start, end)) {
      let vma = v;
      if (vma.start < start) vma = this.#split(vma, start);
      if (vma.end > end) this.#split(vma, end);
      const pages = (vma.end - vma.start) / PAGE;
      this.#pages.zap(this, vma, vma.start, vma.end, true);
      if (uncharge && (vma.flags & VM_ACCOUNT) !== 0) this.#uncharge(pages);
      this.#account(vma.flags, -pages, vma);
      // The pieces go in address order, none left between them: the first
      // one's predecessor and the last one's successor stay.
      if (gone.length === 0) below = this.tree.prev(vma);
      above = this.tree.next(vma);
      this.tree.remove(vma);
      this.#dropVma(vma);
      gone.push(vma.start, vma.end);
      const obj = vma.object;
      if (obj !== null && obj.mappers === 0) this.releaseObject(obj);
    }
    if (gone.length > 0) this.#freePgtables(gone, below, above);
    return above;
  }

  // free_pgtables() (mm/memory.c) after unmapping the VMAs `gone` (start,
  // end pairs in address order), `prev` and `next` the VMAs left before and
  // after them: the floor is prev's end, the ceiling next's start; VMAs
  // less than 2 MiB apart are freed in one free_pgd_range() call, whose
  // ceiling is the next group's start.
  #freePgtables(gone: number[], prev: Vma | null, next: Vma | null): void {
    const floor = prev === null ? 0 : prev.end;
    const ceiling = next === null ? Number.POSITIVE_INFINITY : next.start;
    let i = 0;
    while (i < gone.length) {
      const addr = gone[i]!;
      let end = gone[i + 1]!;
      i += 2;
      while (i < gone.length && gone[i]! <= end + PMD_SIZE) {
        end = gone[i + 1]!;
        i += 2;
      }
      this.tables.freeRange(addr, end, floor, i < gone.length ? gone[i]! : ceiling);
    }
  }

  /** Gives back a shmem object no one maps any more: its frames and its charge. Overridden by the kernel. */
  releaseObject(obj: ShmemObject): void {
    if (obj.charged > 0) this.#acct.uncharge(obj.charged);
    obj.charged = 0;
    this.onObjectReleased?.(obj);
  }

  /**
   * dup_mmap()'s part for one VMA of a parent: adds `vma` (a copy) to this
   * fresh address space, charging it when it is accounted.
   *
   * @returns false when the charge is refused (fork fails with ENOMEM).
   */
  adopt(vma: Vma): boolean {
    const pages = (vma.end - vma.start) / PAGE;
    if ((vma.flags & VM_ACCOUNT) !== 0 && !this.#charge(pages)) {
      if (vma.object !== null) vma.object.mappers--;
      if (vma.anonVma !== null) vma.anonVma.degree--;
      return false;
    }
    this.tree.insert(vma);
    this.#account(vma.flags, pages, vma);
    return true;
  }

  /** Sets the break of a forked child to its parent's. */
  setBrk(brk: number): void {
    this.#brk = brk;
  }

  /** exit_mmap(): unmaps everything, giving back frames, swap and charges. */
  unmapAll(): void {
    this.#torn = true;
    const first = this.tree.first();
    const last = this.tree.last();
    // The whole charge goes at once: a call the OOM killer interrupted may
    // have left two VMAs flagged for one charge (mremap's old and new).
    if (first !== null && last !== null) this.#unmapRange(first.start, last.end, false);
    this.#uncharge(this.committed);
    this.tables.clear();
  }

  /** Called when a shmem object loses its last mapper, so its frames can go back. */
  onObjectReleased?: (obj: ShmemObject) => void;
  /**
   * MADV_REMOVE on pages [from, to) of `obj`: the kernel drops them from
   * every process that maps them and from the object. Without it, only this
   * space's mappings are dropped (the object's frames stay).
   */
  onPunchHole?: (obj: ShmemObject, from: number, to: number) => void;

  // ------------------------------------------------------------ munmap(2)

  /** munmap(2); see the Mapper port. */
  munmap(addr: number, length: number): number {
    if (addr % PAGE !== 0 || addr > TASK_SIZE || length > TASK_SIZE - addr) return -EINVAL;
    const end = addr + pageAlignU64(length);
    if (end === addr) return -EINVAL;
    const inside = this.tree.overlapping(addr, end);
    // Cutting a hole in one VMA adds one VMA: refused when the count is at its limit.
    if (
      inside.length > 0 &&
      inside[0]!.start < addr &&
      inside[inside.length - 1]!.end > end &&
      this.mapCount >= this.maxMapCount
    ) {
      return -ENOMEM;
    }
    if (this.#refusedSplit(inside, addr, end)) return -EINVAL;
    this.#unmapRange(addr, end, true, inside);
    return 0;
  }

  // ---------------------------------------------------------- mprotect(2)

  /** mprotect(2); see the Mapper port. */
  mprotect(addr: number, length: number, prot: number): number {
    const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
    if (addr % PAGE !== 0) return -EINVAL;
    if (length === 0) return 0;
    // end = start + PAGE_ALIGN(len) wraps at 2^64: an end at or below the start is ENOMEM.
    const end = addU64(addr, pageAlignU64(length));
    if (end <= addr) return -ENOMEM;
    const bits = prot & ~grows;
    if ((bits & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) !== 0) return -EINVAL;
    let vma = this.tree.findAfter(addr);
    if (vma === null || vma.start >= end) return -ENOMEM;
    let start = addr;
    if ((grows & PROT_GROWSDOWN) !== 0) {
      if (vma.start >= end) return -ENOMEM;
      start = vma.start;
      if ((vma.flags & VM_GROWSDOWN) === 0) return -EINVAL;
    } else if (vma.start > start) {
      return -ENOMEM;
    } else if ((grows & PROT_GROWSUP) !== 0) {
      // PROT_GROWSUP needs VM_GROWSUP, which is VM_NONE on x86 (include/linux/mm.h).
      return -EINVAL;
    }
    let cursor = start;
    const newProt = calcProtBits(bits);
    // do_mprotect_pkey(): one mmu_gather over every VMA changed (Linux 6.2+).
    return this.#gather(() => {
      // The first VMA is the one found above (findAfter(start) would find it again).
      for (let first = true; cursor < end; first = false) {
        if (!first) vma = this.tree.findAfter(cursor);
        if (vma === null || vma.start > cursor) return -ENOMEM;
        const newFlags = newProt | (vma.flags & ~(VM_READ | VM_WRITE | VM_EXEC));
        const to = Math.min(vma.end, end);
        const err = this.#mprotectFixup(vma, cursor, to, newFlags);
        if (err !== 0) return err;
        cursor = to;
      }
      return 0;
    });
  }

  #gather<T>(edit: () => T): T {
    return this.#pages.gather === undefined ? edit() : this.#pages.gather(this, edit);
  }

  // mprotect_fixup(): charge or drop VM_ACCOUNT, split or merge, change the PTEs.
  #mprotectFixup(vma: Vma, start: number, end: number, requested: number): number {
    let newFlags = requested;
    const oldFlags = vma.flags;
    if (newFlags === oldFlags) return 0;
    const pages = (end - start) / PAGE;
    let charged = 0;
    if ((newFlags & VM_WRITE) !== 0) {
      if ((oldFlags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE)) === 0) {
        charged = pages;
        if (!this.#charge(charged)) return -ENOMEM;
        newFlags |= VM_ACCOUNT;
      }
    } else if ((oldFlags & VM_ACCOUNT) !== 0 && vma.object === null && vma.anonVma === null) {
      // Never faulted in: the charge can be given back.
      newFlags &= ~VM_ACCOUNT;
    }
    const target = this.#modify(vma, start, end, newFlags);
    if (target === null) {
      this.#uncharge(charged);
      return -EINVAL;
    }
    if ((oldFlags & VM_ACCOUNT) !== 0 && (newFlags & VM_ACCOUNT) === 0) this.#uncharge(pages);
    this.#account(oldFlags, -pages);
    this.#account(newFlags, pages);
    this.#pages.protect(this, target, start, end);
    return 0;
  }

  // vma_modify(): gives [start, end) of `vma` the flags `newFlags`, splitting
  // it off and merging it with a neighbour where the rules allow. Null when
  // a split is refused (maySplit: EINVAL), the split at `start` then made.
  #modify(vma: Vma, start: number, end: number, newFlags: number): Vma | null {
    let mid = vma;
    if (mid.start < start) {
      if (!maySplit(mid, start)) return null;
      mid = this.#split(mid, start);
    }
    if (mid.end > end) {
      if (!maySplit(mid, end)) return null;
      this.#split(mid, end);
    }
    mid.flags = newFlags;
    return this.#mergeAround(mid);
  }

  // Merges an existing VMA with its neighbours where canMerge allows.
  #mergeAround(vma: Vma): Vma {
    // vma_merge_new_range() and vma_merge_existing_range() in mm/vma.c: the
    // previous VMA first; both sides only when prev and next could share an
    // anon_vma (is_mergeable_anon_vma(prev, next)), else prev alone, else next.
    const prev = this.tree.prev(vma);
    const next = this.tree.next(vma);
    const left = prev !== null && canMerge(prev, vma);
    let right = next !== null && canMerge(vma, next);
    if (left && right) {
      const a = prev!.anonVma;
      const b = next!.anonVma;
      right = a === null || b === null || a === b;
    }
    if (right) this.#absorbNext(vma, next!);
    if (!left) return vma;
    this.#absorbNext(prev!, vma);
    return prev!;
  }

  /**
   * expand_downwards() for a fault at `addr`, which no VMA holds: the VMA
   * above it grows down to its page when it is VM_GROWSDOWN (a stack), the
   * VMA below is not closer than the stack guard gap (unless it grows down
   * too, or cannot be accessed), the stack stays within RLIMIT_STACK, and
   * the commit charge for the new pages is granted. `prepare` gives the VMA
   * its anon_vma first, as Linux does before the size checks.
   *
   * @returns the grown VMA, or null (the fault is then SIGSEGV).
   */
  growStack(addr: number, prepare: (vma: Vma) => void): Vma | null {
    const vma = this.tree.findAfter(addr);
    if (vma === null || (vma.flags & VM_GROWSDOWN) === 0) return null;
    const address = addr - (addr % PAGE);
    if (address < this.mmapMinAddr) return null;
    const prev = this.tree.prev(vma);
    if (
      prev !== null &&
      (prev.flags & VM_GROWSDOWN) === 0 &&
      (prev.flags & (VM_READ | VM_WRITE | VM_EXEC)) !== 0 &&
      address - prev.end < STACK_GUARD_GAP
    )
      return null;
    prepare(vma);
    const grow = (vma.start - address) / PAGE;
    // acct_stack_growth(): the stack limit, then the commit charge. Linux
    // charges the growth of a VMA without VM_ACCOUNT too (and never gives
    // it back); here only an accounted VMA is charged, so that the charge
    // stays what its VMAs say.
    if (grow > vma.pgoff || vma.end - address > RLIMIT_STACK) return null;
    if ((vma.flags & VM_ACCOUNT) !== 0 && !this.#charge(grow)) return null;
    this.tree.adjust(vma, address, vma.end);
    vma.pgoff -= grow;
    this.#account(vma.flags, grow, vma);
    return vma;
  }

  // ----------------------------------------------------------- madvise(2)

  /** madvise(2); see the Mapper port. */
  madvise(addr: number, length: number, advice: number): number {
    if (!isMadvice(advice)) return -EINVAL;
    if (addr % PAGE !== 0) return -EINVAL;
    // is_valid_madvise(): a length that PAGE_ALIGN wraps to 0, or an end
    // that wraps below the start, is EINVAL.
    const len = pageAlignU64(length);
    if (length !== 0 && len === 0) return -EINVAL;
    const end = addU64(addr, len);
    if (end < addr) return -EINVAL;
    if (end === addr) return 0;
    if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE) {
      return this.#populateAdvice(addr, end, advice === MADV_POPULATE_WRITE);
    }
    const advise = (): number => {
      let unmapped = false;
      let cursor = addr;
      while (cursor < end) {
        const vma = this.tree.findAfter(cursor);
        if (vma === null || vma.start >= end) {
          unmapped = true;
          break;
        }
        if (vma.start > cursor) unmapped = true;
        const from = Math.max(vma.start, cursor);
        const to = Math.min(vma.end, end);
        const err = this.#adviseOne(vma, from, to, advice);
        if (err !== 0) return err;
        cursor = to;
      }
      return unmapped ? -ENOMEM : 0;
    };
    // MADV_DONTNEED[_LOCKED] and MADV_FREE flush the TLB once for every VMA
    // of the call (Linux 6.16+: madvise_behavior's mmu_gather;
    // fixtures/tlb-flush in @memstack/machine).
    return advice === MADV_DONTNEED || advice === MADV_DONTNEED_LOCKED || advice === MADV_FREE
      ? this.#gather(advise)
      : advise();
  }

  // madvise_populate(): faults the range in VMA by VMA, as get_user_pages()
  // would (a write breaks copy-on-write); a hole stops it with ENOMEM, a VMA
  // the access is not allowed in (PROT_NONE, execute-only for a read,
  // read-only for a write) with EINVAL, the pages before it populated.
  #populateAdvice(start: number, end: number, write: boolean): number {
    for (let cursor = start; cursor < end; ) {
      const vma = this.tree.lookup(cursor);
      if (vma === null) return -ENOMEM;
      if ((vma.flags & (write ? VM_WRITE : VM_READ)) === 0) return -EINVAL;
      // A hugetlb VMA's fault is SIGBUS (no huge page to give), after the
      // tables above its page are made: EFAULT.
      if (vma.hugetlb !== null) {
        this.tables.touchUpper(cursor, vma.hugetlb.pageBytes);
        return -EFAULT;
      }
      const to = Math.min(vma.end, end);
      // A guard marker's fault is SIGSEGV, and a page past a shmem object's
      // end SIGBUS: get_user_pages() answers both with EFAULT, before it
      // looks at any VMA further on.
      if (!this.#pages.populate(this, vma, cursor, to, write)) return -EFAULT;
      cursor = to;
    }
    return 0;
  }

  #adviseOne(vma: Vma, start: number, end: number, advice: number): number {
    if (vma.hugetlb !== null) {
      const err = this.#hugetlbAdvice(vma, start, advice);
      if (err <= 0) return err;
    }
    let flags = vma.flags;
    switch (advice) {
      case MADV_DONTNEED:
      // MADV_DONTNEED_LOCKED differs only on VM_LOCKED memory, which there is none of (no mlock).
      case MADV_DONTNEED_LOCKED:
        this.#pages.zap(this, vma, start, end);
        this.tables.reclaimEmpty(start, end, (s, e) => this.#pages.guarded(this, s, e));
        return 0;
      case MADV_FREE:
        // Only private anonymous memory can be freed lazily (madvise_free_single_vma).
        if (vma.object !== null) return -EINVAL;
        this.#pages.lazyFree(this, vma, start, end);
        return 0;
      case MADV_WILLNEED:
        // madvise_willneed() maps nothing: it reads a private range's
        // swapped-out pages into the swap cache (swapin_walk_ops), where
        // their faults find them. A shmem object's swapped-out pages are
        // read by their faults alone here.
        if (vma.object === null) this.#pages.willNeed?.(this, vma, start, end);
        return 0;
      case MADV_COLD:
        // Deactivates the pages: a hint to reclaim, with nothing to see at
        // once but the split of a huge page the range covers in part (and
        // Accessed bits cleared, their TLB entries flushed).
        this.#pages.cold?.(this, vma, start, end);
        return 0;
      case MADV_PAGEOUT:
        this.#pages.pageOut(this, vma, start, end);
        return 0;
      case MADV_NORMAL:
        flags &= ~(VM_RAND_READ | VM_SEQ_READ);
        break;
      case MADV_RANDOM:
        flags = (flags & ~VM_SEQ_READ) | VM_RAND_READ;
        break;
      case MADV_SEQUENTIAL:
        flags = (flags & ~VM_RAND_READ) | VM_SEQ_READ;
        break;
      case MADV_DONTFORK:
        flags |= VM_DONTCOPY;
        break;
      case MADV_DOFORK:
        flags &= ~VM_DONTCOPY;
        break;
      case MADV_HUGEPAGE:
        flags = (flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
        break;
      case MADV_NOHUGEPAGE:
        flags = (flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
        break;
      case MADV_DONTDUMP:
        flags |= VM_DONTDUMP;
        break;
      case MADV_DODUMP:
        // A droppable VMA stays out of core dumps (madvise_vma_behavior).
        if (vma.droppable) return -EINVAL;
        flags &= ~VM_DONTDUMP;
        break;
      case MADV_WIPEONFORK:
        // Only private anonymous memory (madvise_vma_behavior): a shared
        // mapping has its shmem file.
        if (vma.object !== null) return -EINVAL;
        flags |= VM_WIPEONFORK;
        break;
      case MADV_KEEPONFORK:
        // A droppable VMA is always wiped in a child.
        if (vma.droppable) return -EINVAL;
        flags &= ~VM_WIPEONFORK;
        break;
      case MADV_MERGEABLE:
        // ksm_madvise(): a VMA KSM cannot scan (vma_ksm_compatible: shared
        // or droppable memory here) takes the advice with nothing changed.
        // The flag is all there is to see: ksmd merges nothing until
        // /sys/kernel/mm/ksm/run is set, which memstack does not model.
        if ((flags & VM_SHARED) === 0 && !vma.droppable) flags |= VM_MERGEABLE;
        break;
      case MADV_UNMERGEABLE:
        // With no merged page to break (unmerge_ksm_pages), only the flag goes.
        flags &= ~VM_MERGEABLE;
        break;
      case MADV_REMOVE:
        return this.#removeAdvice(vma, start, end);
      // Guard markers (Linux 6.13; any VMA here, none being VM_SPECIAL,
      // hugetlb or mlocked): no flag changes, the entries do.
      case MADV_GUARD_INSTALL:
        return this.#pages.guardInstall(this, vma, start, end) ? 0 : -ENOMEM;
      case MADV_GUARD_REMOVE:
        this.#pages.guardRemove(this, start, end);
        return 0;
    }
    // madvise_update_vma(): a flag change splits the VMA as mprotect does.
    if (flags !== vma.flags && this.#modify(vma, start, end, flags) === null) return -EINVAL;
    return 0;
  }

  // The advice a hugetlb VMA answers on its own: 0 or a negated errno, or 1
  // when the advice goes on as for any VMA (a flag change, split only at a
  // huge page boundary). Its file never holds a page here, so there is
  // nothing to drop or populate.
  #hugetlbAdvice(vma: Vma, start: number, advice: number): number {
    const huge = vma.hugetlb!.pageBytes;
    switch (advice) {
      case MADV_DONTNEED:
      case MADV_DONTNEED_LOCKED:
        // madvise_dontneed_free_valid_vma(): the start must be a huge page
        // boundary; the end is rounded down to one (here the range may then
        // be empty), so that no page beyond the range is lost.
        return start % huge !== 0 ? -EINVAL : 0;
      // Lazy freeing and the LRU advice are not for hugetlb
      // (madvise_dontneed_free_valid_vma, can_madv_lru_vma), nor guard
      // markers (is_valid_guard_vma), nor wiping a file's mapping in a child.
      case MADV_FREE:
      case MADV_COLD:
      case MADV_PAGEOUT:
      case MADV_GUARD_INSTALL:
      case MADV_GUARD_REMOVE:
      case MADV_WIPEONFORK:
        return -EINVAL;
      case MADV_REMOVE:
        // madvise_remove(): a hole punched in the file, which a private
        // mapping may not write (EACCES); the shared file holds no page.
        return (vma.flags & VM_SHARED) === 0 ? -EACCES : 0;
      case MADV_MERGEABLE:
        // vma_ksm_compatible(): KSM leaves hugetlb alone, and the advice is taken as done.
        return 0;
      default:
        return 1;
    }
  }

  // madvise_remove(): punches a hole in the file behind a shared mapping
  // (shmem_fallocate with FALLOC_FL_PUNCH_HOLE): every mapping of those
  // pages, in any process, loses them (unmap_mapping_range), and the object
  // gives their frames back; the next touch faults in a zeroed page. A
  // private anonymous mapping has no file: EINVAL. (A shared anonymous
  // mapping always may be written, VM_MAYWRITE, so EACCES cannot arise.)
  #removeAdvice(vma: Vma, start: number, end: number): number {
    const obj = vma.object;
    if (obj === null) return -EINVAL;
    const from = vma.pgoff + (start - vma.start) / PAGE;
    const to = from + (end - start) / PAGE;
    if (this.onPunchHole !== undefined) this.onPunchHole(obj, from, to);
    else this.zapObject(obj, from, to);
    return 0;
  }

  /**
   * Drops this space's mappings of pages [from, to) of `obj` (every VMA
   * that maps any of them), as unmap_mapping_range() does for one mm; the
   * object keeps its frames.
   */
  zapObject(obj: ShmemObject, from: number, to: number): void {
    const hits: [Vma, number, number][] = [];
    this.tree.forEach((vma) => {
      if (vma.object !== obj) return;
      const first = Math.max(from, vma.pgoff);
      const last = Math.min(to, vma.pgoff + (vma.end - vma.start) / PAGE);
      if (first < last)
        hits.push([vma, vma.start + (first - vma.pgoff) * PAGE, vma.start + (last - vma.pgoff) * PAGE]);
    });
    for (const [vma, s, e] of hits) this.#pages.zap(this, vma, s, e);
  }

  // -------------------------------------------------------------- brk(2)

  /** The raw brk(2) system call; see the ProgramBreak port. */
  brk(addr: number): number {
    const old = this.#brk;
    if (addr < this.startBrk) return old;
    const newTop = pageUp(addr);
    const oldTop = pageUp(old);
    if (newTop === oldTop) {
      this.#brk = addr;
      return addr;
    }
    if (addr <= old) {
      // brk() in mm/mmap.c shrinks only when a mapping lies in
      // [newbrk, oldbrk): with none (the heap was unmapped there), it fails.
      const first = this.tree.findAfter(newTop);
      if (first === null || first.start >= oldTop) return old;
      const inside = this.tree.overlapping(newTop, oldTop);
      if (this.#refusedSplit(inside, newTop, oldTop)) return old;
      this.#brk = addr;
      this.#unmapRange(newTop, oldTop, true, inside);
      return addr;
    }
    // One free page must stay between the new break and the next mapping
    // (and a stack's guard gap below a VMA that grows down).
    const next = this.tree.findAfter(oldTop);
    if (next !== null && newTop + PAGE > startGap(next)) return old;
    if (newTop > TASK_SIZE) return old;
    const len = newTop - oldTop;
    if (this.mapCount > this.maxMapCount) return old;
    if (!this.#charge(len / PAGE)) return old;
    const flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;
    const prev = this.tree.findBefore(oldTop);
    const vma = makeVma(oldTop, newTop, flags, oldTop / PAGE, null);
    // do_brk_flags() extends the heap VMA when it can and otherwise adds a new
    // one, without looking for any other neighbour to merge with.
    if (
      prev !== null &&
      prev.end === oldTop &&
      old > this.startBrk &&
      prev.start >= this.startBrk &&
      canMerge(prev, vma)
    ) {
      this.tree.adjust(prev, prev.start, newTop);
    } else {
      this.tree.insert(vma);
    }
    this.#account(flags, len / PAGE);
    this.#brk = addr;
    return addr;
  }

  // ----------------------------------------------------------- mremap(2)

  /**
   * mremap(2); see the Mapper port. The steps of do_mremap() in Linux 6.18's
   * mm/mremap.c: the argument checks (check_mremap_params), then a pure
   * move to a fixed place (MREMAP_FIXED, same length), which may take
   * several VMAs at once (remap_move), or the checks against the VMA at
   * `oldAddr` (check_prep_vma) and a resize in place (mremap_at) or a move
   * (mremap_to). Recorded against the real kernel by
   * test/fixtures/vm/random-mremap-*.vm.
   */
  mremap(oldAddr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): number {
    const oldLen = pageAlignU64(oldLength);
    const newLen = pageAlignU64(newLength);
    const bad = mremapArgsError(oldAddr, oldLen, newLen, flags, newAddr, TASK_SIZE);
    if (bad !== 0) return bad;
    const impliesNew = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
    // The worst case splits two VMAs in three before anything can fail.
    if (this.mapCount + 2 >= this.maxMapCount - 3) return -ENOMEM;
    if ((flags & MREMAP_FIXED) !== 0 && oldLen === newLen)
      return this.#remapMove(oldAddr, oldLen, flags, newAddr);
    const vma = this.tree.lookup(oldAddr);
    const lens = this.#hugetlbRemapLens(vma, oldAddr, oldLen, newLen, impliesNew ? newAddr : 0);
    if (lens === null) return -EINVAL;
    const [o, n] = lens;
    const err = this.#checkRemap(vma, oldAddr, o, n, flags);
    if (err !== 0) return err;
    if (impliesNew) return this.#remapTo(oldAddr, o, n, flags, newAddr);
    return this.#remapAt(vma!, oldAddr, o, n, flags);
  }

  // align_hugetlb() in check_prep_vma(): for a hugetlb VMA both lengths
  // round up to its huge page size, the old address and the new one (when
  // the call names one) must be multiples of it, and the mapping may not
  // grow (its reservation could not follow). Null for EINVAL; the lengths
  // as they are for any other VMA.
  #hugetlbRemapLens(
    vma: Vma | null,
    addr: number,
    oldLen: number,
    newLen: number,
    newAddr: number,
  ): [number, number] | null {
    if (vma === null || vma.hugetlb === null) return [oldLen, newLen];
    const huge = vma.hugetlb.pageBytes;
    const o = alignUp(oldLen, huge);
    const n = alignUp(newLen, huge);
    if (addr % huge !== 0 || newAddr % huge !== 0 || n > o) return null;
    return [o, n];
  }

  // check_prep_vma(): the VMA must hold the part of the old range that
  // stays mapped, unless the call only shrinks or keeps the size in place.
  #checkRemap(vma: Vma | null, addr: number, oldLen: number, newLen: number, flags: number): number {
    if (vma === null) return -EFAULT;
    const impliesNew = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
    if (newLen <= oldLen && !impliesNew) return 0;
    // Duplicating a mapping (old length 0) only makes sense for shared ones.
    if (oldLen === 0 && (vma.flags & (VM_SHARED | VM_MAYSHARE)) === 0) return -EINVAL;
    // A VMA that may not expand (a hugetlb one) may not leave its old range behind either.
    if ((flags & MREMAP_DONTUNMAP) !== 0 && (vma.flags & VM_DONTEXPAND) !== 0) return -EINVAL;
    // A shrink may unmap past the VMA; only what moves must lie in it.
    const kept = Math.min(oldLen, newLen);
    if (kept > vma.end - addr) return -EFAULT;
    if (newLen === kept) return 0;
    if (vma.stack) return -EFAULT;
    return 0;
  }

  // mremap_at(): no move asked for. Shrink by unmapping the tail; grow in
  // place when the range ends the VMA and nothing follows it, else move
  // (MREMAP_MAYMOVE) to where get_unmapped_area() puts a new mapping.
  #remapAt(vma: Vma, addr: number, oldLen: number, newLen: number, flags: number): number {
    if (newLen === oldLen) return addr;
    if (newLen < oldLen) {
      const r = this.munmap(addr + newLen, oldLen - newLen);
      return r < 0 ? r : addr;
    }
    const delta = (newLen - oldLen) / PAGE;
    if (addr + oldLen === vma.end) {
      const next = this.tree.next(vma);
      const growEnd = addr + newLen;
      if (growEnd <= TASK_SIZE && (next === null || next.start >= growEnd)) {
        if ((vma.flags & VM_ACCOUNT) !== 0 && !this.#charge(delta)) return -ENOMEM;
        this.tree.adjust(vma, vma.start, growEnd);
        this.#account(vma.flags, delta, vma);
        // vma_merge_extend(): the grown range merges with the next VMA as a
        // new range after `vma` would (never with the VMA before `vma`).
        const after = this.tree.next(vma);
        if (after !== null && canMerge(vma, after, true)) this.#absorbNext(vma, after);
        return addr;
      }
    }
    if ((flags & MREMAP_MAYMOVE) === 0) return -ENOMEM;
    const to = this.getUnmappedArea(0, newLen, vma.object !== null ? MAP_SHARED : MAP_PRIVATE);
    if (to < 0) return to;
    return this.#moveVma(vma, addr, oldLen, to, newLen, flags);
  }

  // mremap_to(): a move to `newAddr` (MREMAP_FIXED: exactly there, after
  // unmapping it; MREMAP_DONTUNMAP alone: as a hint). A shrink unmaps the
  // tail first, and the rest moves at its new length.
  #remapTo(addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
    if ((flags & MREMAP_FIXED) !== 0) {
      const r = this.munmap(newAddr, newLen);
      if (r < 0) return r;
    }
    let len = oldLen;
    if (newLen < oldLen) {
      const r = this.munmap(addr + newLen, oldLen - newLen);
      if (r < 0) return r;
      len = newLen;
    }
    const vma = this.tree.lookup(addr);
    if (vma === null) return -EFAULT;
    // vrm_set_new_addr(): get_unmapped_area() places the move, MAP_FIXED for
    // MREMAP_FIXED, whose security_mmap_addr() refuses an address below
    // mmap_min_addr with EPERM — after the target was unmapped above.
    const fixed = (flags & MREMAP_FIXED) !== 0 ? MAP_FIXED : 0;
    const to = this.getUnmappedArea(
      newAddr,
      newLen,
      fixed | (vma.object !== null ? MAP_SHARED : MAP_PRIVATE),
    );
    if (to < 0) return to;
    return this.#moveVma(vma, addr, len, to, newLen, flags);
  }

  // remap_move(): MREMAP_FIXED at the same length moves every VMA of the
  // range (core's remapMove walks it), each piece checked and moved as
  // mremap_to() does one.
  #remapMove(start: number, len: number, flags: number, newAddr: number): number {
    return remapMove(
      start,
      len,
      newAddr,
      (addr) => this.tree.findAfter(addr),
      (vma, from, n, to) => {
        const lens = this.#hugetlbRemapLens(vma, from, n, n, to);
        if (lens === null) return -EINVAL;
        const len = lens[0];
        return this.#checkRemap(vma, from, len, len, flags) || this.#remapTo(from, len, len, flags, to);
      },
    );
  }

  // move_vma(): a new VMA at `to` takes the pages of the old range. As
  // copy_vma() does, a private anonymous VMA that was never faulted takes
  // the page offset of its new place (so it merges there as a fresh
  // mapping would), and the new VMA merges with its new neighbours at once.
  #moveVma(vma: Vma, oldAddr: number, oldLen: number, to: number, newLen: number, flags: number): number {
    if (this.mapCount >= this.maxMapCount - 3) return -ENOMEM;
    const dontUnmap = (flags & MREMAP_DONTUNMAP) !== 0;
    const accounted = (vma.flags & VM_ACCOUNT) !== 0;
    // DONTUNMAP leaves the old range mapped, so the new one is charged in full.
    const charge = dontUnmap ? newLen / PAGE : (newLen - oldLen) / PAGE;
    if (accounted && !this.#charge(charge)) return -ENOMEM;
    // (A hugetlb VMA keeps its file offset, as a shared one does.)
    const pgoff =
      vma.object === null && vma.anonVma === null && vma.hugetlb === null
        ? to / PAGE
        : vma.pgoff + (oldAddr - vma.start) / PAGE;
    const moved = makeVma(to, to + newLen, vma.flags, pgoff, vma.object, vma.anonVma);
    copyHighFlags(moved, vma);
    if (moved.object !== null) moved.object.mappers++;
    if (moved.anonVma !== null) moved.anonVma.degree++;
    this.tree.insert(moved);
    this.#account(moved.flags, newLen / PAGE, moved);
    this.#mergeAround(moved);
    if (oldLen === 0) return to; // a second mapping of the same shared pages
    this.#pages.move(this, oldAddr, to, Math.min(oldLen, newLen));
    if (this.#torn) return -ENOMEM;
    // can_align_down() for both ends: nothing mapped below either in its 2 MiB region.
    const below = (a: number) => {
      const v = this.tree.findBefore(a);
      return v !== null && v.end > a - (a % PMD_SIZE);
    };
    this.tables.move(oldAddr, to, Math.min(oldLen, newLen), !below(oldAddr) && !below(to));
    if (this.#torn) return -ENOMEM;
    if (dontUnmap) {
      // dontunmap_complete(): the old range stays, empty, and keeps its
      // VM_ACCOUNT and charge (a 2025 rework of move_vma() cleared the flag
      // for a while; Linux 6.18 keeps it: mremap-dontunmap-account.vm);
      // when all of it moved, it drops its anon_vma.
      const old = this.tree.lookup(oldAddr)!;
      this.#pages.zap(this, old, oldAddr, oldAddr + oldLen);
      if (old.start === oldAddr && old.end === oldAddr + oldLen && old.anonVma !== null) {
        old.anonVma.degree--;
        old.anonVma = null;
      }
    } else {
      // unmap_source_vma() clears VM_ACCOUNT first: the charge moves with the pages.
      this.#unmapRange(oldAddr, oldAddr + oldLen, !accounted);
    }
    return to;
  }

  // ---------------------------------------------------------- /proc views

  /**
   * Whether `vma` is printed as [heap]: Linux 6.18's vma_is_initial_heap()
   * (include/linux/mm.h), strictly inside the bounds — it starts below brk and
   * ends above start_brk — so a mapping that only touches the heap's ends is
   * not named (`heap-name.vm`).
   */
  isHeap(vma: Vma): boolean {
    return vma.start < this.#brk && vma.end > this.startBrk && vma.object === null && !vma.stack;
  }

  /** /proc/PID/maps in the kernel's exact format (fs/proc/task_mmu.c). */
  maps(): string {
    let out = "";
    this.tree.forEach((vma) => {
      const huge = vma.hugetlb;
      if (huge !== null) {
        // The hugetlbfs file, unlinked, on its hstate's internal mount.
        out += formatMapsLine({
          start: vma.start,
          end: vma.end,
          perms: vmaPerms(vma.flags),
          offset: vma.pgoff * PAGE,
          major: 0,
          minor: huge.pageBytes === PMD_SIZE ? HUGETLBFS_MINOR_2M : HUGETLBFS_MINOR_1G,
          inode: huge.id,
          name: "/anon_hugepage (deleted)",
        });
        return;
      }
      const shm = vma.object !== null;
      out += formatMapsLine({
        start: vma.start,
        end: vma.end,
        perms: vmaPerms(vma.flags),
        // Only a file-backed mapping (shmem is one) shows its offset.
        offset: shm ? vma.pgoff * PAGE : 0,
        major: 0,
        minor: shm ? 1 : 0,
        inode: shm ? vma.object!.id : 0,
        name: vma.stack ? "[stack]" : this.isHeap(vma) ? "[heap]" : shm ? "/dev/zero (deleted)" : "",
      });
    });
    return out;
  }
}

/**
 * The Linux x86-64 constants that the {@link Mapper} and {@link ProgramBreak}
 * ports speak: protection bits, mmap flags, madvise advice, mremap flags and
 * errno values, with their real numbers so a value can be compared with the
 * kernel's.
 *
 * Sources: include/uapi/asm-generic/mman-common.h, mman.h,
 * include/uapi/linux/mman.h, include/uapi/asm-generic/errno-base.h and
 * errno.h in the Linux tree.
 */

/** Page may not be accessed. */
export const PROT_NONE = 0x0;
/** Page may be read. */
export const PROT_READ = 0x1;
/** Page may be written. */
export const PROT_WRITE = 0x2;
/** Page may be executed. */
export const PROT_EXEC = 0x4;
/** Semaphore operations allowed (accepted by mprotect on every architecture, arch_validate_prot). */
export const PROT_SEM = 0x8;
/** mprotect: extend the change to the start of a grows-down mapping. */
export const PROT_GROWSDOWN = 0x01000000;
/** mprotect: extend the change to the end of a grows-up mapping. */
export const PROT_GROWSUP = 0x02000000;

/** Share changes with every other mapping of the same object. */
export const MAP_SHARED = 0x01;
/** Changes are private (copy-on-write). */
export const MAP_PRIVATE = 0x02;
/** MAP_SHARED that also rejects unknown flags (EOPNOTSUPP). */
export const MAP_SHARED_VALIDATE = 0x03;
/** Mapping type: private memory the kernel may drop, zeroed, under memory pressure (Linux 6.11). */
export const MAP_DROPPABLE = 0x08;
/** The mask of the mapping-type field. */
export const MAP_TYPE = 0x0f;
/** Place the mapping exactly at addr, replacing what was there. */
export const MAP_FIXED = 0x10;
/** Not backed by a file; zero-filled. */
export const MAP_ANONYMOUS = 0x20;
/** Place the mapping in the first 2 GiB (x86-64: between 1 and 2 GiB, bottom-up). */
export const MAP_32BIT = 0x40;
/** A stack that grows down (VM_GROWSDOWN); for anonymous shared memory, EINVAL. */
export const MAP_GROWSDOWN = 0x0100;
/** stack_guard_gap (mm/mmap.c): 256 pages kept free below a VM_GROWSDOWN (MAP_GROWSDOWN) mapping. */
export const STACK_GUARD_GAP = 256 * 4096;
/** Lock the pages in memory (mlock); memstack has no mlock and ignores it, but for MAP_DROPPABLE. */
export const MAP_LOCKED = 0x2000;
/** Do not reserve swap / commit charge. */
export const MAP_NORESERVE = 0x4000;
/** Populate (prefault) the page tables. */
export const MAP_POPULATE = 0x8000;
/** Like MAP_FIXED, but fail with EEXIST instead of replacing (Linux 4.17). */
export const MAP_FIXED_NOREPLACE = 0x100000;
/**
 * Map huge pages from the hugetlb pool (an anonymous hugetlbfs file): the
 * length rounds up to the huge page size and the address is aligned to it.
 * With no huge pages reserved, ENOMEM unless MAP_NORESERVE.
 */
export const MAP_HUGETLB = 0x40000;
/** Where MAP_HUGETLB's page size goes in the flags: its log2 in bits 26..31 (0: the default size). */
export const MAP_HUGE_SHIFT = 26;
/** The mask of that field, after shifting it down. */
export const MAP_HUGE_MASK = 0x3f;
/** MAP_HUGETLB with 2 MiB pages (21 << MAP_HUGE_SHIFT), the x86-64 default. */
export const MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT;
/** MAP_HUGETLB with 1 GiB pages (30 << MAP_HUGE_SHIFT), where the CPU has them (pdpe1gb). */
export const MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT;

/** The default huge page size of x86-64 (Hugepagesize in /proc/meminfo). */
const HUGE_PAGE_DEFAULT = 2 * 1024 * 1024;

/**
 * The huge page size, in bytes, that mmap `flags` with MAP_HUGETLB ask for
 * (hstate_sizelog() in Linux): the default 2 MiB when the MAP_HUGE_* field
 * is 0, else 2^field if x86-64 has that size (2 MiB or 1 GiB).
 *
 * @returns the size, or 0 for a size there is no pool of (mmap's EINVAL).
 */
export function hugePageBytes(flags: number): number {
  const log = (flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
  if (log === 0) return HUGE_PAGE_DEFAULT;
  return log === 21 || log === 30 ? 2 ** log : 0;
}

/**
 * The flags MAP_SHARED_VALIDATE lets through for a file without a
 * validating mmap (LEGACY_MAP_MASK in include/linux/mman.h, with x86-64's
 * MAP_32BIT and MAP_ABOVE4G (0x80), MAP_DENYWRITE (0x800), MAP_EXECUTABLE
 * (0x1000), MAP_NONBLOCK (0x10000), MAP_STACK (0x20000) and the two huge
 * page sizes): a MAP_HUGETLB mapping, which is a file's, answers EOPNOTSUPP
 * for any other bit, as Linux 6.18 does here, bit by bit.
 */
export const LEGACY_MAP_MASK =
  MAP_SHARED |
  MAP_PRIVATE |
  MAP_FIXED |
  MAP_ANONYMOUS |
  MAP_32BIT |
  0x80 |
  MAP_GROWSDOWN |
  0x800 |
  0x1000 |
  MAP_LOCKED |
  MAP_NORESERVE |
  MAP_POPULATE |
  0x10000 |
  0x20000 |
  MAP_HUGETLB |
  MAP_HUGE_2MB |
  MAP_HUGE_1GB;

/** No special treatment (the default). */
export const MADV_NORMAL = 0;
/** Expect random page references. */
export const MADV_RANDOM = 1;
/** Expect sequential page references. */
export const MADV_SEQUENTIAL = 2;
/** Will need these pages soon. */
export const MADV_WILLNEED = 3;
/** Drop the pages now; private anonymous memory reads back as zeros. */
export const MADV_DONTNEED = 4;
/** Pages may be freed lazily under memory pressure (Linux 4.5). */
export const MADV_FREE = 8;
/** Free the pages and their backing store: a hole punched in shared memory (Linux 2.6.16). */
export const MADV_REMOVE = 9;
/** Do not inherit the range across fork. */
export const MADV_DONTFORK = 10;
/** Inherit the range across fork again. */
export const MADV_DOFORK = 11;
/** Let KSM merge identical pages of the range (Linux 2.6.32). */
export const MADV_MERGEABLE = 12;
/** Undo MADV_MERGEABLE. */
export const MADV_UNMERGEABLE = 13;
/** Worth backing with transparent huge pages. */
export const MADV_HUGEPAGE = 14;
/** Not worth backing with transparent huge pages. */
export const MADV_NOHUGEPAGE = 15;
/** Leave the range out of core dumps. */
export const MADV_DONTDUMP = 16;
/** Put the range back into core dumps. */
export const MADV_DODUMP = 17;
/** A child of fork sees the range as fresh zero-filled memory (Linux 4.14; private anonymous only). */
export const MADV_WIPEONFORK = 18;
/** Undo MADV_WIPEONFORK. */
export const MADV_KEEPONFORK = 19;
/** Deactivate the pages (Linux 5.4). */
export const MADV_COLD = 20;
/** Reclaim the pages now (Linux 5.4). */
export const MADV_PAGEOUT = 21;
/** Fault the range in for reading, as a read of each page would (Linux 5.14). */
export const MADV_POPULATE_READ = 22;
/** Fault the range in for writing, breaking copy-on-write (Linux 5.14). */
export const MADV_POPULATE_WRITE = 23;
/** MADV_DONTNEED that also drops locked pages (Linux 5.18); with no mlock here, the same. */
export const MADV_DONTNEED_LOCKED = 24;
/** Make every page of the range a guard page, whose access is SIGSEGV, dropping its contents (Linux 6.13). */
export const MADV_GUARD_INSTALL = 102;
/** Remove the guard pages of the range; they read back as zeros (Linux 6.13). */
export const MADV_GUARD_REMOVE = 103;

const MADVICE: ReadonlySet<number> = new Set([
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_REMOVE,
  MADV_DONTFORK,
  MADV_DOFORK,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_DONTDUMP,
  MADV_DODUMP,
  MADV_WIPEONFORK,
  MADV_KEEPONFORK,
  MADV_COLD,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_DONTNEED_LOCKED,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
]);

/**
 * Whether memstack's mappers accept `advice` (the MADV_* values above, from
 * include/uapi/asm-generic/mman-common.h); madvise answers EINVAL for any
 * other value.
 */
export function isMadvice(advice: number): boolean {
  return MADVICE.has(advice);
}

/** mremap: the mapping may move to a new address. */
export const MREMAP_MAYMOVE = 1;
/** mremap: move to exactly new_address (needs MREMAP_MAYMOVE). */
export const MREMAP_FIXED = 2;
/** mremap: move, but leave the old range mapped and empty (Linux 5.7). */
export const MREMAP_DONTUNMAP = 4;

/** Operation not permitted. */
export const EPERM = 1;
/** No such file or directory. */
export const ENOENT = 2;
/** Bad file descriptor. */
export const EBADF = 9;
/** Try again. */
export const EAGAIN = 11;
/** Out of memory. */
export const ENOMEM = 12;
/** Permission denied. */
export const EACCES = 13;
/** Bad address. */
export const EFAULT = 14;
/** Device or resource busy. */
export const EBUSY = 16;
/** File exists. */
export const EEXIST = 17;
/** No such device. */
export const ENODEV = 19;
/** Invalid argument. */
export const EINVAL = 22;
/** Function not implemented. */
export const ENOSYS = 38;
/** Operation not supported. */
export const EOPNOTSUPP = 95;

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [EBADF]: "EBADF",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EACCES]: "EACCES",
  [EFAULT]: "EFAULT",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [ENODEV]: "ENODEV",
  [EINVAL]: "EINVAL",
  [ENOSYS]: "ENOSYS",
  [EOPNOTSUPP]: "EOPNOTSUPP",
};

/**
 * The name of an errno value, as the script formats print it: `errnoName(22)`
 * is `"EINVAL"`; a value without a name here prints as `"E<n>"`. A negative
 * value (a raw syscall return) names its magnitude.
 */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return ERRNO_NAMES[n] ?? `E${n}`;
}

/**
 * Whether a raw syscall return value is an error: Linux returns -4095..-1
 * for errors, so anything else (including large addresses) is a result.
 */
export function isSyscallError(ret: number): boolean {
  return ret < 0 && ret >= -4095;
}

// ---------------------------------------------------------------- unsigned long arguments
//
// The mmap family takes its addresses and lengths as unsigned longs, and
// the kernel's arithmetic on them wraps at 2^64: PAGE_ALIGN(len) of a length
// within a page of 2^64 is 0, and start + len may come out below start
// (mm/mmap.c, mm/mprotect.c, mm/madvise.c). A number holds every u64
// below 2^53 and, above it, every multiple of 4096 (among others), so the
// sums the kernel forms of page-aligned values are exact in it.

const TWO_64 = 2 ** 64;
const PAGE_BYTES = 4096;

/** Whether `n` is an unsigned long a number can carry: an integer in [0, 2^64). */
export function isU64(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < TWO_64;
}

/**
 * ALIGN(n, align) of a u64: `n` rounded up to a multiple of `align` (a
 * power of two from 4096 to 2^63), modulo 2^64 — 0 when it would pass 2^64 - 1.
 */
export function alignU64(n: number, align: number): number {
  const r = n % align;
  if (r === 0) return n;
  const up = n + (align - r);
  return up >= TWO_64 ? up - TWO_64 : up;
}

/** PAGE_ALIGN of a u64: {@link alignU64} to 4096 (0 for n above 2^64 - 4096). */
export function pageAlignU64(n: number): number {
  return alignU64(n, PAGE_BYTES);
}

/**
 * IS_ERR_VALUE() of a u64 (include/linux/err.h): one of the last 4095 below
 * 2^64 reads as a negated errno, which a call that returns an address
 * returns as it is. Returns that negated errno (-2048 for 2^64 - 2048), or
 * 0 for any other value.
 */
export function errValueU64(n: number): number {
  return n > TWO_64 - PAGE_BYTES ? n - TWO_64 : 0;
}

/** `a + b` modulo 2^64, for u64s whose sum a number holds exactly (page-aligned ones always). */
export function addU64(a: number, b: number): number {
  const s = a + b;
  return s >= TWO_64 ? s - TWO_64 : s;
}

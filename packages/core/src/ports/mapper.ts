/**
 * The `Mapper` port: anonymous memory mappings, the mmap family of Linux
 * system calls.
 *
 * Used by libc (large chunks, non-main heaps, trimming) and win32 (which,
 * like Wine, builds VirtualAlloc on it); implemented by a kernel process and
 * by core's `FlatMemory`. Every call is the raw system call: it returns a
 * result or a negated errno (`-EINVAL`), never throws for bad arguments, and
 * checks its arguments in the order Linux does so the first error reported
 * is Linux's. Mappings are anonymous only: `MAP_ANONYMOUS` is implied and
 * there is no file descriptor or offset.
 *
 * Addresses and lengths are the system calls' unsigned longs: any integer
 * in [0, 2^64) (above 2^53 a number holds only some of them, every multiple
 * of 4096 among them), with the kernel's arithmetic on them, which wraps at
 * 2^64 (`mprotect(a, 2 ** 64 - 4096, …)` ends below its start: ENOMEM).
 * Anything else is misuse of the API: a `UsageError`.
 */

/** Anonymous memory mappings with Linux's mmap/munmap/mprotect/madvise semantics. */
export interface Mapper {
  /**
   * mmap(2) of anonymous memory: maps `length` bytes (rounded up to pages),
   * zero-filled.
   *
   * @param addr - a hint, or the exact address with `MAP_FIXED` / `MAP_FIXED_NOREPLACE`; 0 for none.
   * @param prot - `PROT_*` bits.
   * @param flags - `MAP_*` bits; exactly one of `MAP_PRIVATE`, `MAP_SHARED`, `MAP_SHARED_VALIDATE`.
   * @returns the start of the mapping, or a negated errno (-EINVAL, -ENOMEM, -EEXIST, -EPERM).
   */
  mmap(addr: number, length: number, prot: number, flags: number): number;

  /**
   * munmap(2): removes every mapping in [addr, addr + length) rounded out to
   * pages; unmapped parts of the range are not an error.
   *
   * @returns 0, or a negated errno (-EINVAL).
   */
  munmap(addr: number, length: number): number;

  /**
   * mprotect(2): sets the protection of [addr, addr + length).
   *
   * @returns 0, or a negated errno (-EINVAL for bad arguments, -ENOMEM when
   * part of the range is not mapped; as on Linux, mappings before the hole
   * have already changed).
   */
  mprotect(addr: number, length: number, prot: number): number;

  /**
   * madvise(2) with `MADV_*` advice; `MADV_DONTNEED` makes private anonymous
   * pages read back as zeros.
   *
   * @returns 0, or a negated errno (-EINVAL, -ENOMEM for unmapped parts,
   * after the advice was applied to the mapped ones).
   */
  madvise(addr: number, length: number, advice: number): number;

  /**
   * Optional: mremap(2), resizing or moving a mapping (`MREMAP_*` flags,
   * `newAddr` with `MREMAP_FIXED`). A caller without it does what glibc
   * does where mremap is missing: allocate, copy, free.
   *
   * @returns the mapping's new start, or a negated errno (-EINVAL, -EFAULT, -ENOMEM).
   */
  mremap?(oldAddr: number, oldLength: number, newLength: number, flags: number, newAddr?: number): number;
}

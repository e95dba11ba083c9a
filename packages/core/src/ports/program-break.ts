/**
 * The `ProgramBreak` port: the brk(2) system call, the end of a process's
 * data segment, which malloc moves to grow and trim its main heap.
 *
 * Used by libc; implemented by a kernel process and by core's `FlatMemory`.
 * `sbrk` is written once, on top of it, in core.
 */

/** The program break of an address space. */
export interface ProgramBreak {
  /**
   * The raw brk(2) system call: asks to move the break to `addr`.
   *
   * @returns the break after the call: `addr` on success, the unchanged
   * current break on failure (so `brk(0)` queries it). Never throws for a
   * refused request; this is the kernel's convention, not glibc's wrapper.
   */
  brk(addr: number): number;
}

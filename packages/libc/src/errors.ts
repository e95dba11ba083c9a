/**
 * The two ways a simulated program's heap use can end badly, besides a
 * {@link Fault} (SIGSEGV) from touching memory that is not there:
 *
 * - {@link MallocAbort}: glibc found its heap corrupted and called
 *   `malloc_printerr`, which prints the message on stderr and aborts the
 *   process (SIGABRT). The error carries glibc's exact text.
 * - {@link BadAlloc}: C++'s `operator new` gave up (no new-handler, or the
 *   handler threw), the `std::bad_alloc` a C++ program would see.
 */
import { CorruptionError } from "@memstack/core";

/**
 * glibc's malloc aborted: `detail` is the exact line glibc writes to stderr
 * before raising SIGABRT (`free(): double free detected in tcache 2`).
 * The heap is left as glibc leaves it at that moment.
 */
export class MallocAbort extends CorruptionError {
  /** The signal the real process dies of. */
  readonly signal = "SIGABRT";

  constructor(pkg: string, message: string) {
    super(pkg, message);
    Object.defineProperty(this, "name", { value: "MallocAbort" });
  }
}

/** C++'s std::bad_alloc: `operator new` could not allocate and no new-handler helped. */
export class BadAlloc extends Error {
  override readonly name = "BadAlloc";
  /** The requested size in bytes. */
  readonly size: number;

  constructor(size: number) {
    super("std::bad_alloc");
    this.size = size;
  }

  /** What libstdc++'s `std::bad_alloc::what()` returns. */
  what(): string {
    return "std::bad_alloc";
  }
}

/**
 * Every stateful structure in memstack has a `check()`: a full scan of its
 * invariants, like dlmalloc's `do_check_malloc_state`, that tests and fuzzers
 * call after every step.
 */

/** A structure that can verify its own invariants. */
export interface Checkable {
  /**
   * Scans every invariant of the structure.
   *
   * @throws {CorruptionError} describing the first violation found.
   */
  check(): void;
}

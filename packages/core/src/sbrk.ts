/**
 * sbrk(3), written once over the {@link ProgramBreak} port, the way glibc's
 * misc/sbrk.c builds it on the brk system call.
 */
import { UsageError } from "./errors.js";
import type { ProgramBreak } from "./ports/program-break.js";

/**
 * Moves the program break by `increment` bytes (negative shrinks).
 *
 * @returns the break before the call (so `sbrk(pb, 0)` queries it), or -1
 * when the kernel refused or the new break would wrap below 0; the caller
 * sets errno to ENOMEM, as glibc does.
 * @throws {UsageError} when `increment` is not a safe integer.
 */
export function sbrk(programBreak: ProgramBreak, increment: number): number {
  if (!Number.isSafeInteger(increment)) {
    throw new UsageError(
      "@memstack/core",
      `sbrk: increment must be a safe integer, got ${increment}`,
      "increment",
    );
  }
  const old = programBreak.brk(0);
  if (increment === 0) return old;
  const wanted = old + increment;
  if (wanted < 0 || !Number.isSafeInteger(wanted)) return -1;
  // glibc's __brk treats a break that ends below the request as failure.
  return programBreak.brk(wanted) < wanted ? -1 : old;
}

/**
 * createMalloc: wires glibc's malloc to a process's memory through the
 * three ports, the one place where the allocator meets what is below it.
 */
import type { Malloc, MallocOptions } from "./api.js";
import { Ptmalloc } from "./internal/ptmalloc.js";

/**
 * Creates glibc 2.36's malloc over one address space: `memory` for loads and
 * stores, `programBreak` for brk, `mapper` for mmap. A core `FlatMemory`
 * implements all three (pass it three times); a kernel process will too.
 * The arena's page is mapped at once; the heap starts at the current
 * program break on the first allocation.
 *
 * @throws {UsageError} when the arena's page cannot be mapped, or for a bad seed or tunable.
 */
export function createMalloc(options: MallocOptions): Malloc {
  return new Ptmalloc(options);
}

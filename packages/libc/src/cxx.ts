/**
 * C++'s global `operator new` and `operator delete`, as libstdc++ builds
 * them on malloc (libsupc++/new_op.cc, new_opa.cc, del_op.cc):
 *
 *     operator new(size):  size 0 → 1; loop { p = malloc(size); if p return p;
 *                          handler = get_new_handler(); if none throw bad_alloc; handler() }
 *     operator new(size, align): the same loop around aligned_alloc, size
 *                          rounded up to a multiple of the alignment
 *     operator delete(p):  free(p)
 *
 * The new-handler may free memory (and return, so the loop retries), throw
 * (the exception propagates), or set another handler.
 */
import { UsageError } from "@memstack/core";
import type { Malloc } from "./api.js";
import { BadAlloc } from "./errors.js";

/** A C++ new-handler: called when operator new cannot allocate; returns to retry. */
export type NewHandler = () => void;

/** C++ allocation on top of a {@link Malloc}: operator new/delete with a new-handler. */
export interface CxxHeap {
  /** std::set_new_handler: installs `handler` (or none) and returns the previous one. */
  setNewHandler(handler: NewHandler | null): NewHandler | null;
  /** std::get_new_handler. */
  getNewHandler(): NewHandler | null;
  /** operator new(size) and new[]: a pointer, never 0. @throws {BadAlloc} when no handler helps. */
  operatorNew(size: number): number;
  /** operator new(size, std::align_val_t): aligned. @throws {BadAlloc} when no handler helps. */
  operatorNewAligned(size: number, alignment: number): number;
  /** operator new(size, std::nothrow): 0 instead of throwing. */
  operatorNewNothrow(size: number): number;
  /** operator delete(p) and delete[]: free(p); delete of 0 does nothing. */
  operatorDelete(ptr: number): void;
}

/**
 * Creates C++'s operator new/delete over `malloc`.
 */
export function createCxxHeap(malloc: Malloc): CxxHeap {
  let handler: NewHandler | null = null;
  const loop = (size: number, alloc: () => number): number => {
    for (;;) {
      const p = alloc();
      if (p !== 0) return p;
      const h = handler;
      if (h === null) throw new BadAlloc(size);
      h();
    }
  };
  return {
    setNewHandler(next) {
      const old = handler;
      handler = next;
      return old;
    },
    getNewHandler: () => handler,
    operatorNew(size) {
      const n = size === 0 ? 1 : size;
      return loop(size, () => malloc.malloc(n));
    },
    operatorNewAligned(size, alignment) {
      if (!(Number.isInteger(alignment) && alignment > 0 && (alignment & (alignment - 1)) === 0)) {
        throw new UsageError(
          "@memstack/libc",
          `operatorNewAligned: alignment must be a power of two, got ${alignment}`,
          "alignment",
        );
      }
      // new_opa.cc: at least sizeof(void*), and a size that is a multiple of it.
      const align = Math.max(alignment, 8);
      const n = size === 0 ? align : Math.ceil(size / align) * align;
      return loop(size, () => malloc.aligned_alloc(align, n));
    },
    operatorNewNothrow(size) {
      try {
        return this.operatorNew(size);
      } catch (e) {
        if (e instanceof BadAlloc) return 0;
        throw e;
      }
    },
    operatorDelete(ptr) {
      malloc.free(ptr);
    },
  };
}

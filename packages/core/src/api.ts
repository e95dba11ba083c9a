/**
 * Options and shared types of @memstack/core.
 */

export type { Access, FaultReason } from "./errors.js";

/** Options of {@link SparseRam}. */
export interface SparseRamOptions {
  /** Size of the RAM in bytes: a multiple of 4096, at most 64 TiB. */
  sizeBytes: number;
}

/** Options of {@link BitmapFrameAllocator}. */
export interface BitmapFrameAllocatorOptions {
  /** Number of frames to manage, numbered from `firstPfn`. */
  frameCount: number;
  /** Number of the first frame managed. @defaultValue 0 */
  firstPfn?: number;
  /** Largest order accepted by `allocFrames`. @defaultValue 10 */
  maxOrder?: number;
}

/** The part of `WebAssembly.Memory` FlatMemory uses, so no DOM typings are needed. */
export interface WasmMemoryLike {
  /** The memory's current buffer; replaced (non-shared) or grown (shared) by `grow`. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows by `deltaPages` 64 KiB pages; returns the old size in pages; throws when it cannot. */
  grow(deltaPages: number): number;
}

/** What a {@link FlatMemory} can run over. */
export type FlatBacking = ArrayBuffer | SharedArrayBuffer | WasmMemoryLike;

/** Options of {@link FlatMemory}. */
export interface FlatMemoryOptions {
  /**
   * The memory to run over. A resizable ArrayBuffer, a growable
   * SharedArrayBuffer or a WebAssembly.Memory grows on demand up to `limit`.
   * @defaultValue a new resizable ArrayBuffer of `sizeBytes`, growable to `maxBytes`
   */
  memory?: FlatBacking;
  /** Initial size of the ArrayBuffer created when `memory` is absent. @defaultValue 1 MiB */
  sizeBytes?: number;
  /**
   * The top of the address space (Linux's TASK_SIZE), where mmap starts
   * placing: at most what the buffer can grow to, and at most 4 GiB
   * (addresses are 32-bit, as in wasm32); rounded down to a page.
   * @defaultValue the buffer's maximum size (for a WebAssembly.Memory, its current size), or 1 GiB for a created buffer
   */
  maxBytes?: number;
  /** The initial program break, a multiple of 4096; bytes below it are left alone. @defaultValue 65536 */
  brkBase?: number;
  /** Lowest address mmap may use (vm.mmap_min_addr); MAP_FIXED below it fails with EPERM. @defaultValue brkBase */
  mmapMinAddr?: number;
  /** Whether the given memory is all zeros above `brkBase`, so handing it out needs no clearing. @defaultValue false (true for a created buffer) */
  assumeZeroed?: boolean;
}

/** One mapping of a {@link FlatMemory}, as `regions()` lists it. */
export interface FlatRegion {
  /** First byte, page-aligned. */
  readonly start: number;
  /** One past the last byte, page-aligned. */
  readonly end: number;
  /** PROT_* bits as last set by mmap or mprotect. */
  readonly prot: number;
  /** Whether it was mapped MAP_SHARED. */
  readonly shared: boolean;
  /** Whether it is the brk heap. */
  readonly heap: boolean;
}

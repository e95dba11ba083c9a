/**
 * Options and types of @memstack/libc.
 */
import type { Checkable, Mapper, ProgramBreak, VirtualMemory } from "@memstack/core";

/** mallopt parameter: the largest fastbin request (0 to 160 bytes). */
export const M_MXFAST = 1;
/** mallopt parameter: top size above which free() gives memory back with brk. */
export const M_TRIM_THRESHOLD = -1;
/** mallopt parameter: extra bytes asked of brk on every growth, and kept on trimming. */
export const M_TOP_PAD = -2;
/** mallopt parameter: chunk size from which a request gets its own mmap. */
export const M_MMAP_THRESHOLD = -3;
/** mallopt parameter: most mmapped chunks at once (0 disables mmap for chunks). */
export const M_MMAP_MAX = -4;
/** mallopt parameter: accepted and ignored since glibc 2.34. */
export const M_CHECK_ACTION = -5;
/** mallopt parameter: fill byte for freed memory (and its complement for new memory); 0 disables. */
export const M_PERTURB = -6;
/** mallopt parameter: arena test count (no effect with one arena). */
export const M_ARENA_TEST = -7;
/** mallopt parameter: most arenas (no effect with one arena). */
export const M_ARENA_MAX = -8;

/**
 * Settings applied before the first call, as glibc applies GLIBC_TUNABLES
 * and MALLOC_*_ environment variables at start-up. Setting top pad, trim
 * threshold, mmap threshold or mmap max turns the dynamic mmap threshold
 * off, as in glibc.
 */
export interface MallocTunables {
  /** glibc.malloc.top_pad / MALLOC_TOP_PAD_, bytes. @defaultValue 131072 */
  topPad?: number;
  /** glibc.malloc.trim_threshold / MALLOC_TRIM_THRESHOLD_, bytes. @defaultValue 131072 */
  trimThreshold?: number;
  /** glibc.malloc.mmap_threshold / MALLOC_MMAP_THRESHOLD_, bytes. @defaultValue 131072 */
  mmapThreshold?: number;
  /** glibc.malloc.mmap_max / MALLOC_MMAP_MAX_. @defaultValue 65536 */
  mmapMax?: number;
  /** glibc.malloc.mxfast, bytes (0 to 160). @defaultValue 128 */
  mxfast?: number;
  /** glibc.malloc.perturb / MALLOC_PERTURB_, a byte. @defaultValue 0 */
  perturb?: number;
  /** glibc.malloc.tcache_count: chunks per tcache bin (0 to 65535). @defaultValue 7 */
  tcacheCount?: number;
  /** glibc.malloc.tcache_max: largest request the tcache holds (0 to 1032). @defaultValue 1032 */
  tcacheMax?: number;
  /** glibc.malloc.tcache_unsorted_limit. @defaultValue 0 (no limit) */
  tcacheUnsortedLimit?: number;
}

/** A process's memory as malloc uses it: three ports (a kernel process or a FlatMemory implements all three). */
export interface MallocPorts {
  /** Loads and stores: every header, link and byte of the heap goes through it. */
  memory: VirtualMemory;
  /** brk(2), for growing and trimming the main heap. */
  programBreak: ProgramBreak;
  /** mmap(2) and friends, for large chunks and for the arena's own page. */
  mapper: Mapper;
}

/** Options of {@link createMalloc}: the process's memory, as three ports, and start-up settings. */
export interface MallocOptions extends MallocPorts {
  /** Seed of the random tcache_key (glibc reads it from getrandom). @defaultValue 1 */
  seed?: number;
  /** Start-up settings. @defaultValue glibc's defaults */
  tunables?: MallocTunables;
  /** Where malloc_stats writes, as glibc writes to stderr. @defaultValue process.stderr when there is one */
  stderr?: (text: string) => void;
}

/** struct mallinfo2, as glibc's mallinfo2() fills it (all in bytes or counts). */
export interface Mallinfo2 {
  /** Bytes obtained from the system for the arena (brk heap). */
  arena: number;
  /** Free chunks in normal bins, plus one for top. */
  ordblks: number;
  /** Free chunks in fastbins. */
  smblks: number;
  /** mmapped chunks. */
  hblks: number;
  /** Bytes in mmapped chunks. */
  hblkhd: number;
  /** Always 0. */
  usmblks: number;
  /** Bytes in fastbin chunks. */
  fsmblks: number;
  /** Bytes in use (arena − fordblks), tcache chunks included. */
  uordblks: number;
  /** Free bytes: top, bins and fastbins. */
  fordblks: number;
  /** Size of top: what malloc_trim could release at most. */
  keepcost: number;
}

/** Counters of the system calls malloc made, for summaries and benchmarks. */
export interface MallocCounters {
  /** brk calls that moved the break (growth and trimming). */
  brkCalls: number;
  /** mmap calls for chunks and for heap space when brk fails (the arena's own page not counted). */
  mmapCalls: number;
  /** munmap calls. */
  munmapCalls: number;
  /** mremap calls. */
  mremapCalls: number;
  /** madvise calls (malloc_trim). */
  madviseCalls: number;
  /** Highest program break reached, minus the initial one, in bytes. */
  peakHeapBytes: number;
  /** Most bytes in mmapped chunks at once. */
  peakMmappedBytes: number;
}

/** Where a chunk is, as pwndbg's `heap` and `bins` would say. */
export type ChunkState =
  | "in-use"
  | "tcache"
  | "fastbin"
  | "unsorted"
  | "small"
  | "large"
  | "top"
  | "fencepost";

/** One chunk of the heap. */
export interface ChunkInfo {
  /** Address of the chunk header (user pointer − 16). */
  readonly address: number;
  /** Chunk size in bytes, flags masked off. */
  readonly size: number;
  /** PREV_INUSE bit. */
  readonly prevInuse: boolean;
  /** IS_MMAPPED bit. */
  readonly mmapped: boolean;
  /** Where it is. */
  readonly state: ChunkState;
  /** Bin index for binned chunks (tcache or fastbin index, or bins[] index 1..126), else −1. */
  readonly bin: number;
}

/** One non-empty bin and its chunks, head first. */
export interface BinInfo {
  /** tcache or fastbin index, or 1 (unsorted), 2..63 (small), 64..126 (large). */
  readonly index: number;
  /** Chunk size for tcache, fastbins and small bins; the smallest size for large bins. */
  readonly size: number;
  /** Chunk addresses (headers), from the head the allocator takes first. */
  readonly chunks: readonly number[];
}

/** All bins, as pwndbg's `bins` shows them. */
export interface BinsSnapshot {
  /** tcache bins with at least one chunk. */
  readonly tcache: readonly BinInfo[];
  /** Non-empty fastbins. */
  readonly fastbins: readonly BinInfo[];
  /** The unsorted bin (index 1), fd order. */
  readonly unsorted: readonly number[];
  /** Non-empty small bins. */
  readonly small: readonly BinInfo[];
  /** Non-empty large bins. */
  readonly large: readonly BinInfo[];
  /** The top chunk, 0 before the first allocation. */
  readonly top: number;
  /** The last remainder, or 0. */
  readonly lastRemainder: number;
}

/**
 * glibc 2.36's malloc over one simulated process: the C API with its real
 * names, return values and errno, plus inspection. Pointers are plain
 * numbers; 0 is NULL. Bad pointers and corrupted heaps abort with
 * {@link MallocAbort} where glibc aborts; misuse of the TypeScript API (a
 * negative or fractional size) throws a UsageError.
 */
export interface Malloc extends Checkable {
  /** errno as the last failing call left it (ENOMEM, EINVAL); calls that succeed leave it alone, as in C. */
  errno: number;
  /** The initial program break, where the heap starts. */
  readonly heapBase: number;
  /** The highest program break the heap has reached (placements below it are heap offsets). */
  readonly heapEnd: number;
  /** Address of main_arena (struct malloc_state) in the simulated memory. */
  readonly arenaAddress: number;

  /** malloc(3): a block of at least `size` bytes, or 0 with errno ENOMEM. @throws {MallocAbort} on a corrupted heap. */
  malloc(size: number): number;
  /** free(3); free(0) does nothing. @throws {MallocAbort} with glibc's message for a bad or double free. */
  free(ptr: number): void;
  /** calloc(3): zeroed; 0 with ENOMEM when nmemb·size exceeds PTRDIFF_MAX or memory runs out. */
  calloc(nmemb: number, size: number): number;
  /** realloc(3): realloc(0, n) = malloc(n); realloc(p, 0) frees p and returns 0; on failure 0 and p untouched. */
  realloc(ptr: number, size: number): number;
  /** reallocarray(3): realloc with an overflow check on nmemb·size (ENOMEM past 2^64). */
  reallocarray(ptr: number, nmemb: number, size: number): number;
  /** memalign(3): alignment rounded up to a power of two; 0 with EINVAL above 2^63, ENOMEM when out of memory. */
  memalign(alignment: number, size: number): number;
  /** aligned_alloc(3): in glibc 2.36 the same as memalign. */
  aligned_alloc(alignment: number, size: number): number;
  /**
   * posix_memalign(3): stores the block's address at `memptr` (a u64 in the
   * simulated memory) and returns 0, or returns EINVAL (alignment not a power
   * of two multiple of 8) or ENOMEM, leaving `memptr` alone.
   */
  posix_memalign(memptr: number, alignment: number, size: number): number;
  /** valloc(3): page-aligned. */
  valloc(size: number): number;
  /** pvalloc(3): page-aligned, size rounded as glibc 2.36 rounds it. */
  pvalloc(size: number): number;
  /** malloc_usable_size(3): bytes usable in the block; 0 for 0 or a block not in use. */
  malloc_usable_size(ptr: number): number;
  /** mallopt(3): 1 on success, 0 for a value out of range. Consolidates fastbins first, as glibc does. */
  mallopt(param: number, value: number): number;
  /** malloc_trim(3): gives free pages back (madvise and brk); 1 if any memory was released. */
  malloc_trim(pad: number): number;
  /** mallinfo2(3). */
  mallinfo2(): Mallinfo2;
  /** malloc_stats(3): writes glibc's report to the `stderr` option. */
  malloc_stats(): void;
  /** The text malloc_stats writes. */
  mallocStatsText(): string;

  /**
   * The malloc of a child that fork(2) made of this malloc's process, over
   * the child's memory: the same heap, arena, tcache (and its key),
   * parameters and counters, as the child inherits glibc's data and heap.
   * The two go their own ways after: each call of one changes only its
   * own process's memory. Call it right after the fork, before either
   * malloc is used again.
   *
   * @throws {UsageError} when `child` is not a child of this malloc's
   *   process as fork left it: its memory does not hold this malloc's arena.
   */
  forkChild(child: MallocPorts): Malloc;

  /** The chunks of the heap from the first to top, then mmapped chunks, lowest first. */
  chunks(): ChunkInfo[];
  /** Every non-empty bin and the tcache. */
  bins(): BinsSnapshot;
  /** System-call counters. */
  counters(): MallocCounters;
  /** Whether a user pointer was served by its own mmap. */
  isMmapped(ptr: number): boolean;
  /**
   * Verifies every invariant of the heap, the bins, the tcache and the
   * mmapped chunks (glibc's do_check_malloc_state and more).
   *
   * @throws {CorruptionError} naming the first violation.
   */
  check(): void;
}

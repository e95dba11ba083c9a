/**
 * The numbers of glibc 2.36's malloc on x86-64, and the size and bin
 * arithmetic built on them (malloc/malloc.c, sysdeps/generic/malloc-*.h).
 *
 * A chunk, as glibc lays it out (SIZE_SZ = 8):
 *
 *     chunk ──► +-----------------------------+
 *               | prev_size (if previous free)|  8 bytes
 *               +-----------------------------+
 *               | size            | A | M | P |  8 bytes: size, NON_MAIN_ARENA, IS_MMAPPED, PREV_INUSE
 *     mem ────► +-----------------------------+
 *               | fd   (free) / user data     |  +16
 *               | bk   (free)                 |  +24
 *               | fd_nextsize (large, free)   |  +32
 *               | bk_nextsize (large, free)   |  +40
 *               | ...                         |
 *     next ───► | prev_size = size (if free)  |  borrowed by the user while in use
 *
 * The arena (`struct malloc_state`, 0x8b8 bytes) is kept in simulated
 * memory at the same offsets as in glibc, so a chunk in the unsorted bin
 * points at `main_arena + 0x60`, as it does on the real system:
 *
 *     +0x000 mutex, +0x004 flags, +0x008 have_fastchunks
 *     +0x010 fastbinsY[10]
 *     +0x060 top            (bin 1, the unsorted bin, starts here: bin_at(i) = +0x60 + (i-1)*16)
 *     +0x068 last_remainder
 *     +0x070 bins[254]      (fd, bk of bins 1..127)
 *     +0x880 binmap[4]      (u32 words)
 *     +0x890 next, +0x898 next_free, +0x8a0 attached_threads
 *     +0x8a8 system_mem, +0x8b0 max_system_mem
 */

/** The package name errors carry. */
export const PKG = "@memstack/libc";

/** sizeof(size_t) on x86-64. */
export const SIZE_SZ = 8;
/** MALLOC_ALIGNMENT: 2 * SIZE_SZ (sysdeps/generic/malloc-alignment.h). */
export const MALLOC_ALIGNMENT = 16;
export const MALLOC_ALIGN_MASK = 15;
/** The smallest chunk: prev_size, size, fd, bk. */
export const MINSIZE = 32;
export const CHUNK_HDR_SZ = 16;
export const PREV_INUSE = 0x1;
export const IS_MMAPPED = 0x2;
export const NON_MAIN_ARENA = 0x4;
export const SIZE_BITS = 0x7;

export const NBINS = 128;
export const NSMALLBINS = 64;
/** Chunks below this size are in the small-bin range: 64 * 16. */
export const MIN_LARGE_SIZE = 1024;
export const NFASTBINS = 10;
/** mallopt(M_MXFAST) ceiling: 80 * SIZE_SZ / 4. */
export const MAX_FAST_SIZE = 160;
/** DEFAULT_MXFAST: 64 * SIZE_SZ / 4. */
export const DEFAULT_MXFAST = 128;
export const FASTBIN_CONSOLIDATION_THRESHOLD = 65536;
export const BINMAPSIZE = 4;

export const TCACHE_MAX_BINS = 64;
export const TCACHE_FILL_COUNT = 7;
/** tidx2usize(63) = 63 * 16 + 32 - 8. */
export const MAX_TCACHE_SIZE = 1032;
export const MAX_TCACHE_COUNT = 65535;
/** sizeof(tcache_perthread_struct): uint16_t counts[64] + tcache_entry *entries[64]. */
export const TCACHE_STRUCT_SIZE = 64 * 2 + 64 * 8;
/** Offset of `entries` in tcache_perthread_struct. */
export const TCACHE_ENTRIES = 128;

/** DEFAULT_TOP_PAD from sysdeps/generic/malloc-machine.h (malloc.c says 0; this one wins). */
export const DEFAULT_TOP_PAD = 131072;
export const DEFAULT_TRIM_THRESHOLD = 128 * 1024;
export const DEFAULT_MMAP_THRESHOLD = 128 * 1024;
/** DEFAULT_MMAP_THRESHOLD_MAX on 64-bit: 4 MiB * sizeof(long). */
export const DEFAULT_MMAP_THRESHOLD_MAX = 4 * 1024 * 1024 * 8;
/**
 * HEAP_MAX_SIZE (arena.c): a non-main arena's heaps are aligned to it, so
 * heap_for_ptr() finds a chunk's heap_info by rounding its address down.
 */
export const HEAP_MAX_SIZE = 2 * DEFAULT_MMAP_THRESHOLD_MAX;
export const DEFAULT_MMAP_MAX = 65536;
/** The least mmap made when brk fails and mmap stands in for it. */
export const MMAP_AS_MORECORE_SIZE = 1024 * 1024;
export const PAGE = 4096;

/** 2^63, the first size past PTRDIFF_MAX. */
export const PTRDIFF_LIMIT = 2 ** 63;
/** 2^63 − 1024, the largest double below 2^63: PTRDIFF_MAX as a JavaScript number holds it. */
export const PTRDIFF_MAX_DOUBLE = 2 ** 63 - 1024;
export const TWO_64 = 2 ** 64;
export const TWO_32 = 4294967296;

// Offsets in struct malloc_state.
export const AV_FLAGS = 0x4;
export const AV_HAVE_FASTCHUNKS = 0x8;
export const AV_FASTBINS = 0x10;
export const AV_TOP = 0x60;
export const AV_LAST_REMAINDER = 0x68;
export const AV_BINS = 0x70;
export const AV_BINMAP = 0x880;
export const AV_NEXT = 0x890;
export const AV_ATTACHED_THREADS = 0x8a0;
export const AV_SYSTEM_MEM = 0x8a8;
export const AV_MAX_SYSTEM_MEM = 0x8b0;
export const ARENA_SIZE = 0x8b8;
export const NONCONTIGUOUS_BIT = 2;

// Offsets in a chunk.
export const FD = 16;
export const BK = 24;
export const FD_NEXTSIZE = 32;
export const BK_NEXTSIZE = 40;
/** sizeof(struct malloc_chunk). */
export const MALLOC_CHUNK_SIZE = 48;

/**
 * request2size for a request already known to be at most PTRDIFF_MAX:
 * add the size field, round up to 16, at least MINSIZE.
 * malloc(0..24) → 0x20, malloc(25..40) → 0x30, malloc(1032) → 0x410.
 */
export function request2size(req: number): number {
  if (req < 9) return MINSIZE;
  if (req < 0x7fffffd0) return (req + SIZE_SZ + MALLOC_ALIGN_MASK) & ~MALLOC_ALIGN_MASK;
  // PTRDIFF_MAX itself has no double: the largest one below 2^63 stands for
  // it (the trace parser rounds sizes down). Its chunk size, 2^63 + 16, is
  // past PTRDIFF_MAX, so realloc's and memalign's own requests to
  // _int_malloc (nb - 15, nb + alignment + MINSIZE) fail at once, as glibc's do.
  if (req === PTRDIFF_MAX_DOUBLE) return PTRDIFF_LIMIT;
  return Math.floor((req + SIZE_SZ + MALLOC_ALIGN_MASK) / MALLOC_ALIGNMENT) * MALLOC_ALIGNMENT;
}

/** checked_request2size: 0 for a request above PTRDIFF_MAX, else request2size. */
export function checkedRequest2size(req: number): number {
  return req >= PTRDIFF_LIMIT ? 0 : request2size(req);
}

/** csize2tidx: the tcache bin of a chunk size; huge for sizes below MINSIZE, as size_t would wrap. */
export function csize2tidx(size: number): number {
  if (size < MINSIZE) return Number.MAX_SAFE_INTEGER;
  return size < 0x7fffffff ? (size - 17) >>> 4 : Math.floor((size - MINSIZE + MALLOC_ALIGN_MASK) / 16);
}

/** fastbin_index: (unsigned int)size >> 4, minus 2, as an unsigned int. */
export function fastbinIndex(size: number): number {
  // ToUint32 keeps the low 32 bits of any safe integer, as the C cast does.
  return ((size >>> 4) - 2) >>> 0;
}

/** largebin_index_64: 64-byte spacing to 0xc40, then 512 B, 4 KiB, 32 KiB, 256 KiB, then one last bin. */
export function largebinIndex(size: number): number {
  if (size < 0x7fffffff) {
    if (size >>> 6 <= 48) return 48 + (size >>> 6);
    if (size >>> 9 <= 20) return 91 + (size >>> 9);
    if (size >>> 12 <= 10) return 110 + (size >>> 12);
    if (size >>> 15 <= 4) return 119 + (size >>> 15);
    if (size >>> 18 <= 2) return 124 + (size >>> 18);
    return 126;
  }
  const s6 = Math.floor(size / 64);
  if (s6 <= 48) return 48 + s6;
  const s9 = Math.floor(size / 512);
  if (s9 <= 20) return 91 + s9;
  const s12 = Math.floor(size / 4096);
  if (s12 <= 10) return 110 + s12;
  const s15 = Math.floor(size / 32768);
  if (s15 <= 4) return 119 + s15;
  const s18 = Math.floor(size / 262144);
  if (s18 <= 2) return 124 + s18;
  return 126;
}

/** bin_index: small bins hold one size each (size >> 4), large bins a range. */
export function binIndex(size: number): number {
  return size < MIN_LARGE_SIZE ? size >>> 4 : largebinIndex(size);
}

/** set_max_fast: the largest fastbin chunk size for a mallopt(M_MXFAST) value. */
export function maxFastFor(value: number): number {
  return value <= MALLOC_ALIGN_MASK - SIZE_SZ ? MINSIZE / 2 : (value + SIZE_SZ) & ~MALLOC_ALIGN_MASK;
}

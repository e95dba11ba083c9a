/**
 * Ptmalloc: glibc 2.36's malloc (ptmalloc2) for one single-threaded
 * process: the main arena, the per-thread cache, and nothing else.
 *
 * Models malloc/malloc.c of glibc 2.36 (Debian 2.36-9) on x86-64, the
 * algorithm rewritten, every decision the same, so that a sequence of calls
 * lands every block at the same offset from the initial program break and
 * calls brk and mmap at the same moments as the real library:
 *
 *   malloc ──► tcache bin (LIFO, ≤ 7 chunks of one size, ≤ 0x410)
 *      │ empty
 *      ▼
 *   _int_malloc ──► fastbin (≤ 0x80, LIFO; refills the tcache)
 *      │        ──► small bin (exact size; refills the tcache)
 *      │        ──► large request: malloc_consolidate if fastbins hold chunks
 *      │        ──► unsorted bin: last remainder split for small requests,
 *      │            exact fits into the tcache, the rest sorted into bins
 *      │        ──► large bin best fit, then the next non-empty bin (binmap)
 *      │        ──► top chunk; else consolidate and retry; else
 *      ▼
 *   sysmalloc ──► own mmap when nb ≥ mmap_threshold; else brk by
 *                 nb + top_pad + MINSIZE − top, page-rounded; mmap fallback
 *
 * free ──► mmapped: munmap (and raise the dynamic mmap threshold)
 *      ──► tcache (if its bin has room) ──► fastbin (≤ max_fast)
 *      ──► coalesce with free neighbours, into the unsorted bin or top;
 *          a result ≥ 64 KiB consolidates fastbins and trims top above
 *          trim_threshold with brk
 *
 * Every check that leads glibc to malloc_printerr is made at the same point
 * with the same message (a {@link MallocAbort}); every other corruption goes
 * unnoticed, as it does in glibc.
 *
 * Simplifies: one thread, so one arena and no locks; no memory tagging, no
 * huge pages (glibc.malloc.hugetlb), no malloc_info. The arena is not in
 * libc's data segment but in one page mmapped at start-up; its layout is
 * glibc's (see layout.ts), so chunk links into it look as they do in gdb.
 * tcache_key comes from a seeded generator instead of getrandom.
 *
 * Neighbours: below are the VirtualMemory, ProgramBreak and Mapper ports
 * (a kernel process or FlatMemory); inspect.ts walks what this builds.
 *
 * Invariants (checked by check()): chunks tile the heap from the first
 * chunk to top; a chunk is free exactly when the next chunk's PREV_INUSE is
 * clear, and then it is in exactly one normal bin with its footer set; no
 * two free normal chunks touch; small bins hold one size, large bins their
 * range sorted largest first; tcache and fastbin chunks look in use; the
 * binmap has a bit for every non-empty bin.
 */

import * as core from "@memstack/core";
import { Fault, type Mapper, type ProgramBreak, UsageError, type VirtAddr } from "@memstack/core";
import type {
  BinsSnapshot,
  ChunkInfo,
  Mallinfo2,
  Malloc,
  MallocCounters,
  MallocOptions,
  MallocPorts,
  MallocTunables,
} from "../api.js";
import * as api from "../api.js";
import { MallocAbort } from "../errors.js";
import { HeapAccess } from "./heap-access.js";
import { checkHeap, listChunks, snapshotBins } from "./inspect.js";
import * as layout from "./layout.js";

// The constants and functions this module reads on its hot paths, bound
// here (see "Constants on hot paths" in the root README).
const {
  createRng,
  EINVAL,
  ENOMEM,
  isSyscallError,
  MADV_DONTNEED,
  MAP_PRIVATE,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
  sbrk,
} = core;
const {
  M_ARENA_MAX,
  M_ARENA_TEST,
  M_CHECK_ACTION,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  M_MXFAST,
  M_PERTURB,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
} = api;
const {
  ARENA_SIZE,
  AV_ATTACHED_THREADS,
  AV_BINMAP,
  AV_FASTBINS,
  AV_FLAGS,
  AV_HAVE_FASTCHUNKS,
  AV_LAST_REMAINDER,
  AV_MAX_SYSTEM_MEM,
  AV_NEXT,
  AV_SYSTEM_MEM,
  AV_TOP,
  binIndex,
  BINMAPSIZE,
  BK,
  BK_NEXTSIZE,
  checkedRequest2size,
  CHUNK_HDR_SZ,
  csize2tidx,
  DEFAULT_MMAP_MAX,
  DEFAULT_MMAP_THRESHOLD,
  DEFAULT_MMAP_THRESHOLD_MAX,
  DEFAULT_MXFAST,
  DEFAULT_TOP_PAD,
  DEFAULT_TRIM_THRESHOLD,
  FASTBIN_CONSOLIDATION_THRESHOLD,
  fastbinIndex,
  FD,
  FD_NEXTSIZE,
  HEAP_MAX_SIZE,
  IS_MMAPPED,
  largebinIndex,
  MALLOC_ALIGN_MASK,
  MALLOC_ALIGNMENT,
  MALLOC_CHUNK_SIZE,
  MAX_FAST_SIZE,
  MAX_TCACHE_COUNT,
  MAX_TCACHE_SIZE,
  maxFastFor,
  MIN_LARGE_SIZE,
  MINSIZE,
  MMAP_AS_MORECORE_SIZE,
  NBINS,
  NFASTBINS,
  NON_MAIN_ARENA,
  NONCONTIGUOUS_BIT,
  PAGE,
  PKG,
  PREV_INUSE,
  PTRDIFF_LIMIT,
  request2size,
  SIZE_SZ,
  TCACHE_ENTRIES,
  TCACHE_FILL_COUNT,
  TCACHE_MAX_BINS,
  TCACHE_STRUCT_SIZE,
  TWO_32,
  TWO_64,
} = layout;

const RW = PROT_READ | PROT_WRITE;
// The messages of glibc 2.36's __malloc_assert for the arena assertions
// after _int_malloc and _int_realloc (malloc.c), as recorded from glibc.
const MALLOC_ASSERTION =
  "Fatal glibc error: malloc assertion failure in __libc_malloc: !victim || chunk_is_mmapped (mem2chunk (victim)) || &main_arena == arena_for_chunk (mem2chunk (victim))";
const CALLOC_ASSERTION =
  "Fatal glibc error: malloc assertion failure in __libc_calloc: !mem || chunk_is_mmapped (mem2chunk (mem)) || av == arena_for_chunk (mem2chunk (mem))";
const SYSMALLOC_ASSERTION =
  "Fatal glibc error: malloc assertion failure in sysmalloc: (old_top == initial_top (av) && old_size == 0) || ((unsigned long) (old_size) >= MINSIZE && prev_inuse (old_top) && ((unsigned long) old_end & (pagesize - 1)) == 0)";
const INT_MALLOC_SIZE_ASSERTION =
  "Fatal glibc error: malloc assertion failure in _int_malloc: (unsigned long) (size) >= (unsigned long) (nb)";
const MEMALIGN_ASSERTION =
  "Fatal glibc error: malloc assertion failure in _mid_memalign: !p || chunk_is_mmapped (mem2chunk (p)) || &main_arena == arena_for_chunk (mem2chunk (p))";
const REALLOC_ASSERTION =
  "Fatal glibc error: malloc assertion failure in __libc_realloc: !newp || chunk_is_mmapped (mem2chunk (newp)) || ar_ptr == arena_for_chunk (mem2chunk (newp))";
/** The first u64 a number cannot hold exactly: only a corrupted size field reaches it. */
const TWO_53 = 2 ** 53;
/** sortUnsorted's answer when the request is to be served from the tcache. */
const RETURN_CACHED = -1;

function alignUp(n: number, a: number): number {
  const r = n % a;
  return r === 0 ? n : n + (a - r);
}

function checkSize(n: number, name: string, fn: string): void {
  if (!(n >= 0 && Number.isInteger(n))) {
    throw new UsageError(PKG, `${fn}: ${name} must be a non-negative integer, got ${n}`, name);
  }
}

function checkPtr(p: number, fn: string): void {
  if (!(p >= 0 && Number.isSafeInteger(p))) {
    throw new UsageError(PKG, `${fn}: ptr must be a non-negative safe integer, got ${p}`, "ptr");
  }
}

/** The allocator. Public methods are the C API; the rest is glibc's internals. */
export class Ptmalloc extends HeapAccess {
  errno = 0;
  readonly heapBase: number;
  readonly arenaAddress: number;
  /** The arena (main_arena), as `av` in glibc. */
  readonly av: number;
  readonly programBreak: ProgramBreak;
  readonly mapper: Mapper;
  private readonly stderr: (text: string) => void;

  // struct malloc_par (mp_) and the globals beside it.
  trimThreshold = DEFAULT_TRIM_THRESHOLD;
  topPad = DEFAULT_TOP_PAD;
  // mp_.top_pad exactly when it is 2^53 or more (a negative M_TOP_PAD,
  // which wraps round 2^64, or a huge tunable): sysmalloc's sum then
  // wraps as glibc's does. null below 2^53, where topPad is exact.
  private topPadExact: bigint | null = null;
  mmapThreshold = DEFAULT_MMAP_THRESHOLD;
  nMmaps = 0;
  nMmapsMax = DEFAULT_MMAP_MAX;
  maxNMmaps = 0;
  noDynThreshold = false;
  mmappedMem = 0;
  maxMmappedMem = 0;
  sbrkBase = 0;
  tcacheBins = TCACHE_MAX_BINS;
  tcacheMaxBytes = MAX_TCACHE_SIZE;
  tcacheCount = TCACHE_FILL_COUNT;
  tcacheUnsortedLimit = 0;
  /** tcache_unsorted_count of the _int_malloc in progress. */
  private tcacheUnsortedCount = 0;
  // What unsortedPeek read (no object per call).
  private peekBck = 0;
  private peekSize = 0;
  private peekVictimFd = 0;
  private peekNextPrev = 0;
  private peekNextRaw = 0;
  private peekBckFd = 0;
  private peekSystemMem = 0;
  arenaTest = 8;
  arenaMax = 0;
  globalMaxFast = 0;
  perturbByte = 0;

  // Per-thread state: the tcache (0 until tcache_init) and its key.
  tcache = 0;
  readonly keyLo: number;
  readonly keyHi: number;

  /** Heap segments [start, end) owned by the arena: the brk heap, then mmap fallbacks. */
  readonly segments: number[] = [];
  /** Live mmapped chunks: chunk address → mapping size (for check() and inspection). */
  readonly mmapped = new Map<number, number>();
  readonly stats: MallocCounters = {
    brkCalls: 0,
    mmapCalls: 0,
    munmapCalls: 0,
    mremapCalls: 0,
    madviseCalls: 0,
    peakHeapBytes: 0,
    peakMmappedBytes: 0,
  };
  /** Highest address the brk heap reached, for placement reports. */
  heapEnd: number;

  /**
   * A new malloc over `options`' memory; with `parent`, the malloc of a
   * child that fork(2) made of the parent's process (see forkChild), which
   * takes over everything the parent holds outside the simulated memory.
   */
  constructor(options: MallocOptions, parent?: Ptmalloc) {
    super(options.memory);
    this.programBreak = options.programBreak;
    this.mapper = options.mapper;
    if (parent !== undefined) {
      // What glibc keeps in libc's data segment (mp_, the tcache pointer
      // and key) and memstack's own books: copied, as fork copies them.
      this.stderr = parent.stderr;
      this.keyLo = parent.keyLo;
      this.keyHi = parent.keyHi;
      this.heapBase = parent.heapBase;
      this.heapEnd = parent.heapEnd;
      this.arenaAddress = parent.arenaAddress;
      this.av = parent.av;
      this.inherit(parent);
      return;
    }
    this.stderr =
      options.stderr ??
      ((text: string) => {
        const proc = (globalThis as { process?: { stderr?: { write(t: string): unknown } } }).process;
        if (proc?.stderr) proc.stderr.write(text);
        else console.error(text.replace(/\n$/, ""));
      });
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed))
      throw new UsageError(PKG, `createMalloc: seed must be an integer, got ${seed}`, "seed");
    const rng = createRng(seed);
    this.keyLo = rng.nextU32();
    this.keyHi = rng.nextU32();
    this.heapBase = this.programBreak.brk(0);
    this.heapEnd = this.heapBase;
    // The arena's page: glibc's main_arena lives in libc's .data; here it is
    // one private page of its own.
    const page = this.mapper.mmap(0, PAGE, RW, MAP_PRIVATE);
    if (isSyscallError(page)) {
      throw new UsageError(PKG, `createMalloc: cannot map a page for the arena (errno ${-page})`, "mapper");
    }
    this.refresh();
    this.arenaAddress = page;
    this.av = page;
    this.mallocInitState();
    if (options.tunables) this.applyTunables(options.tunables);
  }

  // ------------------------------------------------------------ fields

  private abort(message: string): never {
    throw new MallocAbort(PKG, message);
  }

  // The accessors below are kept under V8's "small function" size (27
  // bytes of bytecode), so the compiler inlines them wherever they are
  // called without spending the caller's inlining budget on them; what they
  // call (r64, w64, r64Masked: a bounds check and a typed-array access) is
  // then inlined by frequency.

  /** chunksize: the size field without its three flag bits. */
  chunksize(p: number): number {
    return this.r64Masked(p + 8);
  }

  /** chunksize_nomask: the raw size field. */
  sizeRaw(p: number): number {
    return this.r64(p + 8);
  }

  /** The three flag bits of the size field. */
  flags(p: number): number {
    return this.r32(p + 8) & 7;
  }

  setHead(p: number, v: number): void {
    this.w64(p + 8, v);
  }

  /** set_head_size: new size, flags kept. */
  setHeadSize(p: number, s: number): void {
    this.w64(p + 8, s + (this.r32(p + 8) & 7));
  }

  prevSize(p: number): number {
    return this.r64(p);
  }

  // The u64 `v`, read at `a` (its flag bits cleared by `mask`), as glibc's
  // pointer arithmetic adds it, modulo 2^64: below 2^53 `v` itself; one of
  // 2^64 - 2^53 or more (a size an overflow made "negative") the exact
  // negative number it adds like, -(2^64 - v), from its words; any other
  // as read (inexact, past 2^53: an address it leads to is not canonical,
  // and the access faults where glibc's does).
  private wrapped(v: number, a: number, mask: number): number {
    if (v < TWO_53) return v;
    const hi = this.r32(a + 4);
    if (hi < 0xffe00000) return v;
    const lo = (this.r32(a) & ~mask) >>> 0;
    return -((0xffffffff - hi) * TWO_32 + (TWO_32 - lo));
  }

  /** set_foot: the next chunk's prev_size. */
  setFoot(p: number, s: number): void {
    this.w64(p + s, s);
  }

  /** inuse_bit_at_offset(p, s): PREV_INUSE of the chunk at p + s. */
  inuseAt(p: number, s: number): boolean {
    return (this.r32(p + s + 8) & PREV_INUSE) !== 0;
  }

  setInuseAt(p: number, s: number): void {
    const a = p + s + 8;
    this.w32(a, this.r32(a) | PREV_INUSE);
  }

  clearInuseAt(p: number, s: number): void {
    const a = p + s + 8;
    this.w32(a, this.r32(a) & ~PREV_INUSE);
  }

  /** chunksize of a size field already read as `raw` at p + 8: exact, re-read when it rounds. */
  sizeOf(raw: number, p: number): number {
    // Below 2^53, raw & 7 is exact: ToInt32 keeps the low 32 bits of any safe integer.
    return raw < TWO_53 ? raw - (raw & 7) : this.chunksize(p);
  }

  /** The flag bits of a size field already read as `raw` at p + 8. */
  flagsOf(raw: number, p: number): number {
    return raw < TWO_53 ? raw & 7 : this.r32(p + 8) & 7;
  }

  fd(p: number): number {
    return this.r64(p + FD);
  }
  bk(p: number): number {
    return this.r64(p + BK);
  }
  setFd(p: number, v: number): void {
    this.w64(p + FD, v);
  }
  setBk(p: number, v: number): void {
    this.w64(p + BK, v);
  }
  fdNext(p: number): number {
    return this.r64(p + FD_NEXTSIZE);
  }
  bkNext(p: number): number {
    return this.r64(p + BK_NEXTSIZE);
  }
  setFdNext(p: number, v: number): void {
    this.w64(p + FD_NEXTSIZE, v);
  }
  setBkNext(p: number, v: number): void {
    this.w64(p + BK_NEXTSIZE, v);
  }

  /** bin_at(i): the pseudo-chunk whose fd/bk are bins[2i-2], bins[2i-1]. */
  binAt(i: number): number {
    return this.av + AV_TOP + (i - 1) * 16;
  }

  get top(): number {
    return this.r64(this.av + AV_TOP);
  }
  set top(p: number) {
    this.w64(this.av + AV_TOP, p);
  }
  get lastRemainder(): number {
    return this.r64(this.av + AV_LAST_REMAINDER);
  }
  set lastRemainder(p: number) {
    this.w64(this.av + AV_LAST_REMAINDER, p);
  }
  get systemMem(): number {
    return this.r64(this.av + AV_SYSTEM_MEM);
  }
  set systemMem(v: number) {
    this.w64(this.av + AV_SYSTEM_MEM, v);
  }
  get maxSystemMem(): number {
    return this.r64(this.av + AV_MAX_SYSTEM_MEM);
  }
  set maxSystemMem(v: number) {
    this.w64(this.av + AV_MAX_SYSTEM_MEM, v);
  }
  get haveFastchunks(): boolean {
    return this.r32(this.av + AV_HAVE_FASTCHUNKS) !== 0;
  }
  set haveFastchunks(v: boolean) {
    this.w32(this.av + AV_HAVE_FASTCHUNKS, v ? 1 : 0);
  }
  get contiguous(): boolean {
    return (this.r32(this.av + AV_FLAGS) & NONCONTIGUOUS_BIT) === 0;
  }
  setNoncontiguous(): void {
    this.w32(this.av + AV_FLAGS, this.r32(this.av + AV_FLAGS) | NONCONTIGUOUS_BIT);
  }

  fastbinAddr(idx: number): number {
    return this.av + AV_FASTBINS + idx * 8;
  }

  markBin(i: number): void {
    const a = this.av + AV_BINMAP + (i >>> 5) * 4;
    this.w32(a, this.r32(a) | (1 << (i & 31)));
  }

  // ------------------------------------------------------------ set-up

  // The state a fork carries over beside the memory (see the constructor).
  private inherit(parent: Ptmalloc): void {
    this.errno = parent.errno;
    this.trimThreshold = parent.trimThreshold;
    this.topPad = parent.topPad;
    this.topPadExact = parent.topPadExact;
    this.mmapThreshold = parent.mmapThreshold;
    this.nMmaps = parent.nMmaps;
    this.nMmapsMax = parent.nMmapsMax;
    this.maxNMmaps = parent.maxNMmaps;
    this.noDynThreshold = parent.noDynThreshold;
    this.mmappedMem = parent.mmappedMem;
    this.maxMmappedMem = parent.maxMmappedMem;
    this.sbrkBase = parent.sbrkBase;
    this.tcacheBins = parent.tcacheBins;
    this.tcacheMaxBytes = parent.tcacheMaxBytes;
    this.tcacheCount = parent.tcacheCount;
    this.tcacheUnsortedLimit = parent.tcacheUnsortedLimit;
    this.arenaTest = parent.arenaTest;
    this.arenaMax = parent.arenaMax;
    this.globalMaxFast = parent.globalMaxFast;
    this.perturbByte = parent.perturbByte;
    this.tcache = parent.tcache;
    this.segments.push(...parent.segments);
    for (const [chunk, size] of parent.mmapped) this.mmapped.set(chunk, size);
    Object.assign(this.stats, parent.stats);
  }

  forkChild(child: MallocPorts): Malloc {
    if (
      child === null ||
      typeof child !== "object" ||
      child.memory == null ||
      child.programBreak == null ||
      child.mapper == null
    ) {
      throw new UsageError(PKG, "forkChild: child must give memory, programBreak and mapper", "child");
    }
    // Right after fork the child's main_arena is a copy of the parent's,
    // byte for byte (one read of it in each memory, as a debugger's would):
    // a memory that does not hold it there is not a fork of this process.
    const mine = new Uint8Array(ARENA_SIZE);
    const theirs = new Uint8Array(ARENA_SIZE);
    let same = true;
    try {
      this.memory.loadBytes(this.av as VirtAddr, mine);
      child.memory.loadBytes(this.av as VirtAddr, theirs);
      for (let i = 0; i < ARENA_SIZE && same; i++) same = mine[i] === theirs[i];
    } catch (e) {
      if (!(e instanceof Fault)) throw e;
      same = false;
    }
    if (!same) {
      throw new UsageError(
        PKG,
        `forkChild: the child's memory does not hold this malloc's arena at 0x${this.av.toString(16)} as fork left it: not a fork of its process, or one of the two has called malloc since`,
        "child",
      );
    }
    return new Ptmalloc({ ...child }, this);
  }

  private mallocInitState(): void {
    for (let i = 1; i < NBINS; i++) {
      const bin = this.binAt(i);
      this.setFd(bin, bin);
      this.setBk(bin, bin);
    }
    // main_arena.next points to itself; one thread is attached.
    this.w64(this.av + AV_NEXT, this.av);
    this.w64(this.av + AV_ATTACHED_THREADS, 1);
    this.globalMaxFast = maxFastFor(DEFAULT_MXFAST);
    this.haveFastchunks = false;
    this.top = this.binAt(1);
  }

  private applyTunables(t: MallocTunables): void {
    const take = (v: number | undefined, name: string, max: number): number | undefined => {
      if (v === undefined) return undefined;
      if (!(Number.isSafeInteger(v) && v >= 0 && v <= max)) {
        throw new UsageError(
          PKG,
          `createMalloc: tunables.${name} must be an integer in [0, ${max}], got ${v}`,
          name,
        );
      }
      return v;
    };
    const big = Number.MAX_SAFE_INTEGER;
    const topPad = take(t.topPad, "topPad", big);
    const trim = take(t.trimThreshold, "trimThreshold", big);
    const mmapThreshold = take(t.mmapThreshold, "mmapThreshold", big);
    const mmapMax = take(t.mmapMax, "mmapMax", 2 ** 31 - 1);
    const mxfast = take(t.mxfast, "mxfast", MAX_FAST_SIZE);
    const perturb = take(t.perturb, "perturb", 255);
    const tcacheCount = take(t.tcacheCount, "tcacheCount", MAX_TCACHE_COUNT);
    const tcacheMax = take(t.tcacheMax, "tcacheMax", MAX_TCACHE_SIZE);
    const unsorted = take(t.tcacheUnsortedLimit, "tcacheUnsortedLimit", big);
    if (topPad !== undefined) this.setParam(M_TOP_PAD, topPad);
    if (trim !== undefined) this.setParam(M_TRIM_THRESHOLD, trim);
    if (mmapThreshold !== undefined) this.setParam(M_MMAP_THRESHOLD, mmapThreshold);
    if (mmapMax !== undefined) this.setParam(M_MMAP_MAX, mmapMax);
    if (mxfast !== undefined) this.globalMaxFast = maxFastFor(mxfast);
    if (perturb !== undefined) this.perturbByte = perturb;
    if (tcacheCount !== undefined) this.tcacheCount = tcacheCount;
    if (tcacheMax !== undefined) {
      this.tcacheMaxBytes = tcacheMax;
      this.tcacheBins = csize2tidx(request2size(tcacheMax)) + 1;
    }
    if (unsorted !== undefined) this.tcacheUnsortedLimit = unsorted;
  }

  // ------------------------------------------------------------ perturb

  private allocPerturb(p: number, n: number): void {
    if (this.perturbByte !== 0) this.fill(p, n, (this.perturbByte ^ 0xff) & 0xff);
  }

  private freePerturb(p: number, n: number): void {
    if (this.perturbByte !== 0) this.fill(p, n, this.perturbByte & 0xff);
  }

  // ------------------------------------------------------------ tcache

  tcacheCountAt(idx: number): number {
    return this.r16(this.tcache + idx * 2);
  }

  // tcache_put: the chunk on top of its bin, its key set. It reads the bin's
  // count afresh: a smallbin refill writes chunk headers between the check
  // of the count and the put, and a corrupted bk can aim one at the count.
  private tcachePut(chunk: number, idx: number): void {
    this.tcachePutCounted(chunk, idx, this.r16(this.tcache + idx * 2));
  }

  // tcache_put given the bin's count, read with nothing stored since.
  private tcachePutCounted(chunk: number, idx: number, count: number): void {
    const e = chunk + CHUNK_HDR_SZ;
    const tc = this.tcache;
    this.w32(e + 8, this.keyLo);
    this.w32(e + 12, this.keyHi);
    const slot = tc + TCACHE_ENTRIES + idx * 8;
    this.protectStore(e, this.r64(slot));
    this.w64(slot, e);
    this.w16(tc + idx * 2, count + 1);
  }

  // tcache_get, the bin's count read by the caller: nothing between that
  // read and the decrement stores anywhere but entries[idx], which is not
  // the count.
  private tcacheGet(idx: number, count: number): number {
    const e = this.r64(this.tcache + TCACHE_ENTRIES + idx * 8);
    if ((e & MALLOC_ALIGN_MASK) !== 0) this.abort("malloc(): unaligned tcache chunk detected");
    return this.tcacheTake(idx, count, e);
  }

  // The rest of tcache_get once the bin's entry `e` is read and aligned:
  // the entry moves on to e's next, the count drops, e's key is cleared.
  private tcacheTake(idx: number, count: number, e: number): number {
    const tc = this.tcache;
    this.w64(tc + TCACHE_ENTRIES + idx * 8, this.revealLoad(e));
    this.w16(tc + idx * 2, count - 1);
    this.w64(e + 8, 0);
    return e;
  }

  // The tcache hit of malloc on the typed-array view, in one piece: what
  // tcacheGet does, with the words read once. 0 when it does not apply (no
  // view, not a tcache size, an empty bin, a word above 2^31, a misaligned
  // entry); the general path then does the same work, checks and aborts
  // included. The two fast paths spell layout.ts's constants as literals
  // (TCACHE_STRUCT_SIZE 640, TCACHE_ENTRIES 128, MAX_TCACHE_SIZE 1032):
  // optimized code folds a literal but reads an imported binding from its
  // module cell at every use.
  private tcacheGetFast(bytes: number): number {
    const tc = this.tcache;
    const end4 = this.end4;
    // (bytes >>> 0) !== bytes: negative, fractional, NaN or huge.
    if (bytes >>> 0 !== bytes || bytes > 1032 || tc === 0 || tc + 640 > end4) return 0;
    // csize2tidx(request2size(bytes)): 0..24 → 0, 25..40 → 1, ...
    const idx = bytes < 9 ? 0 : ((bytes + 23) >>> 4) - 2;
    if (idx >= this.tcacheBins) return 0;
    const u16 = this.u16;
    const half = (tc >>> 1) + idx;
    const count = u16[half]!;
    if (count === 0) return 0;
    const i32 = this.i32;
    const slot = ((tc + 128) >>> 2) + idx * 2;
    const e = i32[slot]!;
    // e below 2^31, 16-aligned, inside the view; its next pointer below 2^31.
    if (i32[slot + 1] !== 0 || (e & 0x8000000f) !== 0 || e + 16 > end4) return 0;
    const w = e >>> 2;
    const next = i32[w]! ^ (e >>> 12);
    if (next < 0 || i32[w + 1] !== 0) return 0;
    i32[slot] = next;
    u16[half] = count - 1;
    i32[w + 2] = 0;
    i32[w + 3] = 0;
    return e;
  }

  // The tcache put of free on the typed-array view, for a chunk whose header
  // passes every check of _int_free and whose bin has room; false otherwise
  // (the general path then decides, aborts included).
  private tcachePutFast(mem: number): boolean {
    const tc = this.tcache;
    const end4 = this.end4;
    // An integer, 16-aligned, its chunk and its tcache entry inside the view.
    if (mem >>> 0 !== mem || (mem & 15) !== 0 || mem < 16 || mem + 12 > end4) return false;
    if (tc === 0 || tc + 640 > end4) return false;
    const i32 = this.i32;
    const w = mem >>> 2;
    const raw = i32[w - 2]!;
    // A size field below 2^31, not IS_MMAPPED (2).
    if (i32[w - 1] !== 0 || (raw & 0x80000002) !== 0) return false;
    const size = raw & ~7;
    if (size < 32 || (size & 15) !== 0) return false;
    const idx = (size - 17) >>> 4;
    if (idx >= this.tcacheBins) return false;
    const keyLo = this.keyLo;
    const keyHi = this.keyHi;
    if (i32[w + 2] === (keyLo | 0) && i32[w + 3] === (keyHi | 0)) return false;
    const u16 = this.u16;
    const half = (tc >>> 1) + idx;
    const count = u16[half]!;
    if (count >= this.tcacheCount) return false;
    const slot = ((tc + 128) >>> 2) + idx * 2;
    if (i32[slot + 1] !== 0) return false;
    i32[w + 2] = keyLo;
    i32[w + 3] = keyHi;
    i32[w] = i32[slot]! ^ (mem >>> 12);
    i32[w + 1] = 0;
    i32[slot] = mem;
    u16[half] = count + 1;
    return true;
  }

  // The tcache hit of malloc in a process, through the MMU's fast tags
  // (core's FastTags). The general path makes six accesses: the bin's
  // count and entry, the entry's next pointer, then the entry, the count
  // and the chunk's key stored. When the count and entry hit the tags and
  // the bin has a well-formed first chunk, they are counted on their pages'
  // entries; when the other four hit too, they are counted and made here in
  // that order, else tcacheTake's accessors make them (a page the tags
  // lack goes to the port then, as it would on the general path), so the
  // TLB sees what the general path would make it see. 0, having counted
  // nothing, when the count or the entry would not hit, the bin is empty or
  // its entry misaligned or of 2^53 or more: the general path then runs.
  private tcacheGetTags(bytes: number): number {
    const tc = this.tcache;
    if (bytes >>> 0 !== bytes || bytes > 1032 || tc === 0 || !this.tagsLive()) return 0;
    const idx = bytes < 9 ? 0 : ((bytes + 23) >>> 4) - 2;
    if (idx >= this.tcacheBins) return 0;
    // The usual case first: the tcache in one page and the chunk's page
    // both readable and writable through the tags, so that two tests stand
    // for the six (a chunk's next pointer and key share its page).
    const tcOff = tc & 0xfff;
    const t = tcOff <= 4096 - 640 ? this.tagPageRW(tc) : -1;
    if (t >= 0) {
      const tb = this.tByte[t]! + tcOff;
      const u16t = this.tU16[t]!;
      const u32t = this.tU32[t]!;
      const ci = (tb >>> 1) + idx;
      const count = u16t[ci]!;
      if (count === 0) return 0;
      const si = ((tb + 128) >>> 2) + idx * 2;
      const eLo = u32t[si]!;
      const eHi = u32t[si + 1]!;
      if ((eLo & 15) !== 0 || eHi >= 0x200000) return 0;
      const e = eHi * TWO_32 + eLo;
      const x = this.tagPageRW(e);
      if (x >= 0) {
        const u32x = this.tU32[x]!;
        const xw = (this.tByte[x]! + (e & 0xfff)) >>> 2;
        const nHi = u32x[xw + 1]!;
        const nextLo = (u32x[xw]! ^ ((eLo >>> 12) | (eHi << 20))) >>> 0;
        const nextHi = (nHi ^ (eHi >>> 12)) >>> 0;
        if (nHi < 0x200000 && nextHi < 0x200000) {
          // The six hits: four on the tcache's entry, the fifth of the row its last; two on the chunk's.
          this.tagHitsOnTwo(t, 4, 5, x, 6);
          u32t[si] = nextLo;
          u32t[si + 1] = nextHi;
          u16t[ci] = count - 1;
          u32x[xw + 2] = 0;
          u32x[xw + 3] = 0;
          return e;
        }
      }
    }
    const read = this.tRead;
    const write = this.tWrite;
    const u16 = this.tU16;
    const u32 = this.tU32;
    const countAt = tc + idx * 2;
    const slotAt = tc + 128 + idx * 8;
    const c = this.tagPeek(countAt, read, 0xffe);
    if (c < 0) return 0;
    const count = u16[c]![this.tagAt >>> 1]!;
    if (count === 0) return 0;
    const s = this.tagPeek(slotAt, read, 0xff8);
    if (s < 0) return 0;
    const si = this.tagAt >>> 2;
    const eLo = u32[s]![si]!;
    const eHi = u32[s]![si + 1]!;
    if ((eLo & 15) !== 0 || eHi >= 0x200000) return 0;
    const e = eHi * TWO_32 + eLo;
    const x = this.tagPeek(e, read, 0xff8);
    const xi = this.tagAt >>> 2;
    const nHi = x < 0 ? 0x200000 : u32[x]![xi + 1]!;
    // REVEAL_PTR(next) = next ^ (e >> 12), word by word.
    const nextLo = x < 0 ? 0 : (u32[x]![xi]! ^ ((eLo >>> 12) | (eHi << 20))) >>> 0;
    const nextHi = (nHi ^ (eHi >>> 12)) >>> 0;
    const ws = this.tagPeek(slotAt, write, 0xff8);
    const wsi = this.tagAt >>> 2;
    const wc = this.tagPeek(countAt, write, 0xffe);
    const wci = this.tagAt >>> 1;
    const wk = this.tagPeek(e + 8, write, 0xff8);
    const wki = this.tagAt >>> 2;
    this.tagHit(c);
    this.tagHit(s);
    if (nHi >= 0x200000 || nextHi >= 0x200000 || ws < 0 || wc < 0 || wk < 0)
      return this.tcacheTake(idx, count, e);
    this.tagHit(x);
    this.tagHit(ws);
    u32[ws]![wsi] = nextLo;
    u32[ws]![wsi + 1] = nextHi;
    this.tagHit(wc);
    u16[wc]![wci] = count - 1;
    this.tagHit(wk);
    u32[wk]![wki] = 0;
    u32[wk]![wki + 1] = 0;
    return e;
  }

  // free's tcache put in a process, through the fast tags, as
  // tcacheGetTags. The general path reads the size field, the key's low
  // word and the bin's count, then stores the key, reads the bin's entry
  // and stores the protected link, the entry and the count. `known` is the
  // size field when the caller read it already (through the port: its page
  // was not in the tags), else -1. Returns false, having counted nothing,
  // when the size field is not in the tags or is not that of a chunk the
  // tcache may take (the caller then goes on as the general path does);
  // otherwise the free is done: here when every access hits, else by the
  // general path's own code from the first access that would not.
  private tcachePutTags(mem: number, known: number): boolean {
    const tc = this.tcache;
    if (!(mem >= 16 && Number.isSafeInteger(mem)) || (mem & 15) !== 0 || tc === 0 || !this.tagsLive())
      return false;
    if (this.tcachePutOnTwoPages(mem, known)) return true;
    const read = this.tRead;
    const write = this.tWrite;
    const u16 = this.tU16;
    const u32 = this.tU32;
    let sz = -1;
    let raw = known;
    if (known < 0) {
      sz = this.tagPeek(mem - 8, read, 0xff8);
      if (sz < 0) return false;
      const szi = this.tagAt >>> 2;
      if (u32[sz]![szi + 1] !== 0) return false;
      raw = u32[sz]![szi]!;
    }
    // A size field below 2^31, not IS_MMAPPED (2) or NON_MAIN_ARENA (4: free
    // reads its heap_info), a whole chunk of at least MINSIZE.
    if (raw > 0x7fffffff || (raw & 6) !== 0) return false;
    const size = raw & ~7;
    if (size < 32 || (size & 15) !== 0) return false;
    const idx = (size - 17) >>> 4;
    if (idx >= this.tcacheBins) return false;
    // From here the general path is _int_free's, which a chunk that needs
    // more than the put below (its key matches: the double-free scan; its
    // bin is full) or an access the tags lack hands over to.
    const p = mem - CHUNK_HDR_SZ;
    const k = this.tagPeek(mem + 8, read, 0xffc);
    const countAt = tc + idx * 2;
    const c = k < 0 || u32[k]![this.tagAt >>> 2] === this.keyLo ? -1 : this.tagPeek(countAt, read, 0xffe);
    const count = c < 0 ? this.tcacheCount : u16[c]![this.tagAt >>> 1]!;
    if (count >= this.tcacheCount) {
      if (sz >= 0) this.tagHit(sz);
      this.intFreeRaw(p, raw, false);
      return true;
    }
    const slotAt = tc + 128 + idx * 8;
    const s = this.tagPeek(slotAt, read, 0xff8);
    const si = this.tagAt >>> 2;
    // PROTECT_PTR(mem, old) = old ^ (mem >> 12), word by word.
    const memLo = mem >>> 0;
    const memHi = (mem - memLo) / TWO_32;
    const linkLo = s < 0 ? 0 : (u32[s]![si]! ^ ((memLo >>> 12) | (memHi << 20))) >>> 0;
    const linkHi = s < 0 ? 0x200000 : (u32[s]![si + 1]! ^ (memHi >>> 12)) >>> 0;
    const wk = this.tagPeek(mem + 8, write, 0xff8);
    const wki = this.tagAt >>> 2;
    const wl = this.tagPeek(mem, write, 0xff8);
    const wli = this.tagAt >>> 2;
    const ws = this.tagPeek(slotAt, write, 0xff8);
    const wsi = this.tagAt >>> 2;
    const wc = this.tagPeek(countAt, write, 0xffe);
    const wci = this.tagAt >>> 1;
    if (sz >= 0) this.tagHit(sz);
    this.tagHit(k);
    this.tagHit(c);
    if (linkHi >= 0x200000 || wk < 0 || wl < 0 || ws < 0 || wc < 0) {
      this.tcachePutCounted(p, idx, count);
      return true;
    }
    this.tagHit(wk);
    u32[wk]![wki] = this.keyLo;
    this.tagHit(wk);
    u32[wk]![wki + 1] = this.keyHi;
    this.tagHit(s);
    this.tagHit(wl);
    u32[wl]![wli] = linkLo;
    u32[wl]![wli + 1] = linkHi;
    this.tagHit(ws);
    u32[ws]![wsi] = memLo;
    u32[ws]![wsi + 1] = memHi;
    this.tagHit(wc);
    u16[wc]![wci] = count + 1;
    return true;
  }

  // tcachePutTags's usual case, whole: the chunk's words (size field, key,
  // link) in one page and the tcache in one page, both pages readable and
  // writable through the tags, a chunk the tcache takes with room in its
  // bin. Two tag tests stand for the eight, and the hits are counted at
  // once. False, having counted nothing, otherwise (tcachePutTags then
  // goes on, its own tests finding the same).
  private tcachePutOnTwoPages(mem: number, known: number): boolean {
    const tc = this.tcache;
    const memOff = mem & 0xfff;
    const tcOff = tc & 0xfff;
    // At a page's start the size field lies in the page before.
    if (memOff === 0 || tcOff > 4096 - 640) return false;
    const m = this.tagPageRW(mem);
    const t = m < 0 ? -1 : this.tagPageRW(tc);
    if (t < 0) return false;
    const u32m = this.tU32[m]!;
    const w = (this.tByte[m]! + memOff) >>> 2;
    if (known < 0 && u32m[w - 1] !== 0) return false;
    const raw = known < 0 ? u32m[w - 2]! : known;
    if (raw > 0x7fffffff || (raw & 6) !== 0) return false;
    const size = raw & ~7;
    const idx = (size - 17) >>> 4;
    // Not a tcache chunk, or its key's low word matches (the double-free scan).
    if (size < 32 || (size & 15) !== 0 || idx >= this.tcacheBins || u32m[w + 2] === this.keyLo) return false;
    const tb = this.tByte[t]! + tcOff;
    const u16t = this.tU16[t]!;
    const u32t = this.tU32[t]!;
    const ci = (tb >>> 1) + idx;
    const count = u16t[ci]!;
    if (count >= this.tcacheCount) return false;
    const si = ((tb + 128) >>> 2) + idx * 2;
    // PROTECT_PTR(mem, old) = old ^ (mem >> 12), word by word.
    const memLo = mem >>> 0;
    const memHi = (mem - memLo) / TWO_32;
    const linkHi = (u32t[si + 1]! ^ (memHi >>> 12)) >>> 0;
    if (linkHi >= 0x200000) return false;
    const linkLo = (u32t[si]! ^ ((memLo >>> 12) | (memHi << 20))) >>> 0;
    // The hits, in order [size], key, count, key, key, entry, link, entry,
    // count: the chunk's last is the seventh of nine (the sixth of eight).
    const n = known < 0 ? 1 : 0;
    this.tagHitsOnTwo(m, 4 + n, 6 + n, t, 8 + n);
    u32m[w + 2] = this.keyLo;
    u32m[w + 3] = this.keyHi;
    u32m[w] = linkLo;
    u32m[w + 1] = linkHi;
    u32t[si] = memLo;
    u32t[si + 1] = memHi;
    u16t[ci] = count + 1;
    return true;
  }

  private tcacheInit(): void {
    const victim = this.intMalloc(TCACHE_STRUCT_SIZE);
    if (victim !== 0) {
      this.tcache = victim;
      this.fill(victim, TCACHE_STRUCT_SIZE, 0);
    }
  }

  // ------------------------------------------------------------ public API

  // malloc and free are small on purpose: the tcache fast path, then a call
  // to the rest, so that a caller's loop inlines the common case whole.
  malloc(bytes: number): number {
    const e = this.tcacheGetFast(bytes);
    return e !== 0 ? e : this.intMalloc(bytes, true);
  }

  free(mem: number): void {
    if (!this.tcachePutFast(mem)) this.freeSlow(mem);
  }

  private freeSlow(mem: number): void {
    if (this.tagged && this.tcachePutTags(mem, -1)) return;
    checkPtr(mem, "free");
    if (mem === 0) return;
    const p = mem - CHUNK_HDR_SZ;
    // The size field, read once for the IS_MMAPPED test and _int_free.
    const raw = this.sizeRaw(p);
    // Its page was not in the tags; now it is, and the rest may be too.
    if (this.tagged && this.tcachePutTags(mem, raw)) return;
    if ((this.flagsOf(raw, p) & IS_MMAPPED) !== 0) {
      if (!this.noDynThreshold && raw > this.mmapThreshold && raw <= DEFAULT_MMAP_THRESHOLD_MAX) {
        this.mmapThreshold = this.chunksize(p);
        this.trimThreshold = 2 * this.mmapThreshold;
      }
      this.munmapChunk(p);
      return;
    }
    let head = raw;
    if (this.tcache === 0) {
      // tcache_init allocates, which may store anywhere a corrupted heap
      // leads it: read the header again afterwards.
      this.tcacheInit();
      head = this.sizeRaw(p);
    }
    this.intFreeRaw(p, head, false, this.arenaOf(p, head));
  }

  // arena_for_chunk(): main_arena, unless the size field `head` (at p + 8)
  // has NON_MAIN_ARENA; then the ar_ptr at the start of the chunk's heap's
  // heap_info (heap_for_ptr in arena.c rounds p down to HEAP_MAX_SIZE),
  // which free and realloc read before they check anything else: where
  // nothing is mapped there (below a main heap it never is) the read is
  // glibc's SIGSEGV, a Fault from the memory. (FlatMemory maps its address 0.)
  private arenaOf(p: number, head: number): number {
    if ((this.flagsOf(head, p) & NON_MAIN_ARENA) === 0) return this.av;
    return this.r64(Math.floor(p / HEAP_MAX_SIZE) * HEAP_MAX_SIZE);
  }

  // The assertion __libc_malloc, __libc_calloc, __libc_realloc and
  // _mid_memalign make on the chunk of `mem` that _int_malloc, _int_realloc
  // or _int_memalign gave them: mmapped, or of main_arena (arena_for_chunk,
  // so a NON_MAIN_ARENA chunk's heap_info is read, a Fault where nothing is
  // mapped). A chunk freed with the bit
  // set and returned whole keeps it. Returns `mem`.
  private assertArena(mem: number, assertion: string): number {
    if (mem === 0) return 0;
    const p = mem - CHUNK_HDR_SZ;
    const head = this.r32(p + 8);
    if ((head & (IS_MMAPPED | NON_MAIN_ARENA)) === NON_MAIN_ARENA && this.arenaOf(p, head) !== this.av)
      this.abort(assertion);
    return mem;
  }

  // Where _int_free or _int_realloc go on with an arena other than
  // main_arena (a chunk marked NON_MAIN_ARENA): a NULL one, what a zeroed
  // heap_info names, is dereferenced at `offset` (the first field glibc
  // touches there), glibc's SIGSEGV, since nothing is ever mapped at 0
  // (vm.mmap_min_addr); any other arena is not modelled.
  private foreignArena(arena: number, offset: number, access: "read" | "write"): never {
    if (arena === 0) throw new Fault(PKG, offset, access, "not-mapped");
    throw new UsageError(
      PKG,
      `the chunk's heap_info names the arena at 0x${arena.toString(16)}: only main_arena is modelled`,
      "ptr",
    );
  }

  calloc(n: number, elemSize: number): number {
    checkSize(n, "nmemb", "calloc");
    checkSize(elemSize, "size", "calloc");
    const bytes = n * elemSize;
    if (bytes >= 2 ** 53 && BigInt(n) * BigInt(elemSize) >= 2n ** 63n) {
      this.errno = ENOMEM;
      return 0;
    }
    if (this.tcache === 0) this.tcacheInit();
    const oldtop = this.top;
    let oldtopsize = this.chunksize(oldtop);
    // Only memory above the highest break ever reached is known to be zero.
    const fresh = this.sbrkBase + this.maxSystemMem - oldtop;
    const freshU = fresh < 0 ? Number.POSITIVE_INFINITY : fresh;
    if (oldtopsize < freshU) oldtopsize = freshU;
    const mem = this.assertArena(this.intMalloc(bytes), CALLOC_ASSERTION);
    if (mem === 0) return 0;
    const p = mem - CHUNK_HDR_SZ;
    if ((this.r32(p + 8) & IS_MMAPPED) !== 0) {
      if (this.perturbByte !== 0) this.fill(mem, bytes, 0);
      return mem;
    }
    let csz = this.chunksize(p);
    if (this.perturbByte === 0 && p === oldtop && csz > oldtopsize) csz = oldtopsize;
    this.fill(mem, csz - SIZE_SZ, 0);
    return mem;
  }

  realloc(oldmem: number, bytes: number): number {
    checkPtr(oldmem, "realloc");
    checkSize(bytes, "size", "realloc");
    if (bytes === 0 && oldmem !== 0) {
      this.free(oldmem);
      return 0;
    }
    if (oldmem === 0) return this.malloc(bytes);
    const oldp = oldmem - CHUNK_HDR_SZ;
    const oldsize = this.chunksize(oldp);
    const head = this.r32(oldp + 8);
    const mmapped = (head & IS_MMAPPED) !== 0;
    if (!mmapped && this.tcache === 0) this.tcacheInit();
    const arena = mmapped ? this.av : this.arenaOf(oldp, head);
    if (oldsize === 0 || oldp + oldsize > TWO_64 || (oldp & MALLOC_ALIGN_MASK) !== 0) {
      this.abort("realloc(): invalid pointer");
    }
    const nb = checkedRequest2size(bytes);
    if (nb === 0) {
      this.errno = ENOMEM;
      return 0;
    }
    if (mmapped) {
      if (this.mapper.mremap !== undefined) {
        const newp = this.mremapChunk(oldp, nb);
        if (newp !== 0) return newp + CHUNK_HDR_SZ;
      }
      if (oldsize - SIZE_SZ >= nb) return oldmem;
      const newmem = this.malloc(bytes);
      if (newmem === 0) return 0;
      this.move(newmem, oldmem, oldsize - CHUNK_HDR_SZ);
      this.munmapChunk(oldp);
      return newmem;
    }
    if (arena !== this.av) {
      // _int_realloc with another arena: the old size is checked against its system_mem.
      if (this.sizeRaw(oldp) <= CHUNK_HDR_SZ) this.abort("realloc(): invalid old size");
      this.foreignArena(arena, AV_SYSTEM_MEM, "read");
    }
    return this.assertArena(this.intRealloc(oldp, oldsize, nb), REALLOC_ASSERTION);
  }

  reallocarray(ptr: number, nmemb: number, size: number): number {
    checkSize(nmemb, "nmemb", "reallocarray");
    checkSize(size, "size", "reallocarray");
    const bytes = nmemb * size;
    if (bytes >= 2 ** 53 && BigInt(nmemb) * BigInt(size) >= 2n ** 64n) {
      this.errno = ENOMEM;
      return 0;
    }
    return this.realloc(ptr, bytes);
  }

  memalign(alignment: number, bytes: number): number {
    checkSize(alignment, "alignment", "memalign");
    checkSize(bytes, "size", "memalign");
    return this.midMemalign(alignment, bytes);
  }

  aligned_alloc(alignment: number, bytes: number): number {
    checkSize(alignment, "alignment", "aligned_alloc");
    checkSize(bytes, "size", "aligned_alloc");
    return this.midMemalign(alignment, bytes);
  }

  posix_memalign(memptr: number, alignment: number, size: number): number {
    checkPtr(memptr, "posix_memalign");
    checkSize(alignment, "alignment", "posix_memalign");
    checkSize(size, "size", "posix_memalign");
    const words = alignment / SIZE_SZ;
    if (alignment % SIZE_SZ !== 0 || !isPowerOf2(words) || alignment === 0) return EINVAL;
    const mem = this.midMemalign(alignment, size);
    if (mem === 0) return ENOMEM;
    this.w64(memptr, mem);
    return 0;
  }

  valloc(bytes: number): number {
    checkSize(bytes, "size", "valloc");
    return this.midMemalign(PAGE, bytes);
  }

  pvalloc(bytes: number): number {
    checkSize(bytes, "size", "pvalloc");
    const rounded = bytes + PAGE - 1;
    if (rounded >= TWO_64) {
      this.errno = ENOMEM;
      return 0;
    }
    // glibc 2.36 masks with -(pagesize - 1), which keeps bit 0: pvalloc(2)
    // asks for 4097 bytes. Faithful, if odd.
    const masked = rounded < TWO_32 ? (rounded & ~0xffe) >>> 0 : rounded - (rounded % 4096) + (rounded % 2);
    return this.midMemalign(PAGE, masked);
  }

  malloc_usable_size(mem: number): number {
    checkPtr(mem, "malloc_usable_size");
    if (mem === 0) return 0;
    const p = mem - CHUNK_HDR_SZ;
    if ((this.r32(p + 8) & IS_MMAPPED) !== 0) return this.chunksize(p) - CHUNK_HDR_SZ;
    // (A "negative" size reads the in-use bit below p, as glibc's inuse() does.)
    const size = this.wrapped(this.chunksize(p), p + 8, 7);
    if (this.inuseAt(p, size)) return size < 0 ? TWO_64 + size - SIZE_SZ : size - SIZE_SZ;
    return 0;
  }

  mallopt(param: number, value: number): number {
    if (!Number.isInteger(param))
      throw new UsageError(PKG, `mallopt: param must be an integer, got ${param}`, "param");
    if (!(Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31)) {
      throw new UsageError(PKG, `mallopt: value must be a C int, got ${value}`, "value");
    }
    this.mallocConsolidate();
    return this.setParam(param, value);
  }

  // The switch of __libc_mallopt; int values wrap to size_t as in C.
  private setParam(param: number, value: number): number {
    const asSize = value < 0 ? TWO_64 + value : value;
    switch (param) {
      case M_MXFAST:
        if (asSize <= MAX_FAST_SIZE) {
          this.globalMaxFast = maxFastFor(asSize);
          return 1;
        }
        return 0;
      case M_TRIM_THRESHOLD:
        this.trimThreshold = asSize;
        this.noDynThreshold = true;
        return 1;
      case M_TOP_PAD:
        this.topPad = asSize;
        this.topPadExact = asSize < 2 ** 53 ? null : BigInt.asUintN(64, BigInt(value));
        this.noDynThreshold = true;
        return 1;
      case M_MMAP_THRESHOLD:
        this.mmapThreshold = asSize;
        this.noDynThreshold = true;
        return 1;
      case M_MMAP_MAX:
        this.nMmapsMax = value;
        this.noDynThreshold = true;
        return 1;
      case M_CHECK_ACTION:
        return 1;
      case M_PERTURB:
        this.perturbByte = value;
        return 1;
      case M_ARENA_TEST:
        if (value > 0) this.arenaTest = value;
        return 1;
      case M_ARENA_MAX:
        if (value > 0) this.arenaMax = value;
        return 1;
      default:
        return 1;
    }
  }

  malloc_trim(pad: number): number {
    checkSize(pad, "pad", "malloc_trim");
    return this.mtrim(pad);
  }

  mallinfo2(): Mallinfo2 {
    let avail = this.chunksize(this.top);
    let nblocks = 1;
    let nfast = 0;
    let fastavail = 0;
    for (let i = 0; i < NFASTBINS; i++) {
      for (let p = this.r64(this.fastbinAddr(i)); p !== 0; p = this.revealLoad(p + FD)) {
        if ((p & MALLOC_ALIGN_MASK) !== 0) this.abort("int_mallinfo(): unaligned fastbin chunk detected");
        nfast++;
        fastavail += this.chunksize(p);
      }
    }
    avail += fastavail;
    for (let i = 1; i < NBINS; i++) {
      const b = this.binAt(i);
      for (let p = this.bk(b); p !== b; p = this.bk(p)) {
        nblocks++;
        avail += this.chunksize(p);
      }
    }
    const system = this.systemMem;
    return {
      arena: system,
      ordblks: nblocks,
      smblks: nfast,
      hblks: this.nMmaps,
      hblkhd: this.mmappedMem,
      usmblks: 0,
      fsmblks: fastavail,
      uordblks: system - avail,
      fordblks: avail,
      keepcost: this.chunksize(this.top),
    };
  }

  mallocStatsText(): string {
    const mi = this.mallinfo2();
    const u32 = (n: number): number => ((n % TWO_32) + TWO_32) % TWO_32;
    const f = (n: number): string => String(u32(n)).padStart(10);
    const systemB = u32(this.mmappedMem + mi.arena);
    const inUseB = u32(this.mmappedMem + mi.uordblks);
    return (
      "Arena 0:\n" +
      `system bytes     = ${f(mi.arena)}\n` +
      `in use bytes     = ${f(mi.uordblks)}\n` +
      "Total (incl. mmap):\n" +
      `system bytes     = ${f(systemB)}\n` +
      `in use bytes     = ${f(inUseB)}\n` +
      `max mmap regions = ${f(this.maxNMmaps)}\n` +
      `max mmap bytes   = ${String(this.maxMmappedMem).padStart(10)}\n`
    );
  }

  malloc_stats(): void {
    this.stderr(this.mallocStatsText());
  }

  counters(): MallocCounters {
    return { ...this.stats };
  }

  chunks(): ChunkInfo[] {
    return listChunks(this);
  }

  bins(): BinsSnapshot {
    return snapshotBins(this);
  }

  check(): void {
    checkHeap(this);
  }

  isMmapped(mem: number): boolean {
    return mem !== 0 && (this.r32(mem - CHUNK_HDR_SZ + 8) & IS_MMAPPED) !== 0;
  }

  // ------------------------------------------------------------ memalign

  private midMemalign(alignment: number, bytes: number): number {
    if (alignment <= MALLOC_ALIGNMENT) return this.malloc(bytes);
    if (alignment < MINSIZE) alignment = MINSIZE;
    if (alignment > TWO_64 / 2) {
      this.errno = EINVAL;
      return 0;
    }
    if (!isPowerOf2(alignment)) {
      let a = MALLOC_ALIGNMENT * 2;
      while (a < alignment) a *= 2;
      alignment = a;
    }
    return this.assertArena(this.intMemalign(alignment, bytes), MEMALIGN_ASSERTION);
  }

  private intMemalign(alignment: number, bytes: number): number {
    const nb = checkedRequest2size(bytes);
    if (nb === 0 || alignment >= PTRDIFF_LIMIT) {
      this.errno = ENOMEM;
      return 0;
    }
    const m = this.intMalloc(nb + alignment + MINSIZE);
    if (m === 0) return 0;
    let p = m - CHUNK_HDR_SZ;
    if (m % alignment !== 0) {
      // The first aligned spot leaving a leader of at least MINSIZE.
      let brk = Math.ceil(m / alignment) * alignment - CHUNK_HDR_SZ;
      if (brk - p < MINSIZE) brk += alignment;
      const newp = brk;
      const leadsize = brk - p;
      const newsize = this.chunksize(p) - leadsize;
      if ((this.r32(p + 8) & IS_MMAPPED) !== 0) {
        this.w64(newp, this.prevSize(p) + leadsize);
        this.setHead(newp, newsize + IS_MMAPPED);
        const mapLen = this.mmapped.get(p);
        if (mapLen !== undefined) {
          this.mmapped.delete(p);
          this.mmapped.set(newp, mapLen);
        }
        return newp + CHUNK_HDR_SZ;
      }
      this.setHead(newp, newsize + PREV_INUSE);
      this.setInuseAt(newp, newsize);
      this.setHeadSize(p, leadsize);
      this.intFree(p, true);
      p = newp;
    }
    if ((this.r32(p + 8) & IS_MMAPPED) === 0) {
      const size = this.chunksize(p);
      if (size > nb + MINSIZE) {
        const remainder = p + nb;
        this.setHead(remainder, size - nb + PREV_INUSE);
        this.setHeadSize(p, nb);
        this.intFree(remainder, true);
      }
    }
    return p + CHUNK_HDR_SZ;
  }

  // ------------------------------------------------------------ _int_malloc

  // _int_malloc is cut into its stages, one method each (small bin,
  // unsorted sorting, large-bin best fit, binmap scan, top; the fastbin stage
  // stays in intMalloc, see there): V8 gives every optimized function its
  // own inlining budget, and one function of glibc's size spends it before
  // reaching the accessors of its hot stages.

  /**
   * _int_malloc: serves `bytes` from the arena's bins, top or the system; 0
   * with ENOMEM on failure. With `fromMalloc`, first the rest of
   * __libc_malloc after a miss of the fast path (tcacheGetFast): the size
   * check, tcache_init, and a tcache hit the fast path could not take.
   */
  intMalloc(bytes: number, fromMalloc = false): number {
    // __libc_malloc's slow half and the fastbin stage are written here, not
    // called: this makes the function too large for V8 to inline into
    // malloc, whose optimized code then stays small enough to be inlined,
    // whole, into a caller's loop (the replay), beside free's fast path.
    if (fromMalloc) {
      if (this.tagged) {
        const e = this.tcacheGetTags(bytes);
        if (e !== 0) return e;
      }
      checkSize(bytes, "size", "malloc");
      const tbytes = checkedRequest2size(bytes);
      if (tbytes === 0) {
        this.errno = ENOMEM;
        return 0;
      }
      // csize2tidx; sizes past the tcache give an index past every bin.
      const tcIdx = tbytes < 0x7fffffff ? (tbytes - 17) >>> 4 : TCACHE_MAX_BINS;
      if (this.tcache === 0) this.tcacheInit();
      const tc = this.tcache;
      if (tcIdx < this.tcacheBins && tc !== 0) {
        const count = this.r16(tc + tcIdx * 2);
        if (count > 0) return this.tcacheGet(tcIdx, count);
      }
      return this.assertArena(this.intMalloc(bytes), MALLOC_ASSERTION);
    }
    const nb = checkedRequest2size(bytes);
    if (nb === 0) {
      this.errno = ENOMEM;
      return 0;
    }
    if (nb <= this.globalMaxFast) {
      // The fastbin of nb: its first chunk, and the rest of the bin into the
      // tcache while there is room.
      const idx = (nb >>> 4) - 2;
      const fb = this.av + AV_FASTBINS + idx * 8;
      const victim = this.r64(fb);
      if (victim !== 0) {
        if ((victim & MALLOC_ALIGN_MASK) !== 0) this.abort("malloc(): unaligned fastbin chunk detected 2");
        this.w64(fb, this.revealLoad(victim + FD));
        if (fastbinIndex(this.chunksize(victim)) !== idx) this.abort("malloc(): memory corruption (fast)");
        const tc = this.tcache;
        const tcIdx = csize2tidx(nb);
        if (tc !== 0 && tcIdx < this.tcacheBins) {
          for (;;) {
            const count = this.r16(tc + tcIdx * 2);
            if (count >= this.tcacheCount) break;
            const tcVictim = this.r64(fb);
            if (tcVictim === 0) break;
            if ((tcVictim & MALLOC_ALIGN_MASK) !== 0)
              this.abort("malloc(): unaligned fastbin chunk detected 3");
            this.w64(fb, this.revealLoad(tcVictim + FD));
            // Only the arena's fastbin head was stored since the count was read.
            this.tcachePutCounted(tcVictim, tcIdx, count);
          }
        }
        const mem = victim + CHUNK_HDR_SZ;
        this.allocPerturb(mem, bytes);
        return mem;
      }
    }
    let idx: number;
    if (nb < MIN_LARGE_SIZE) {
      const mem = this.mallocFromSmallbin(nb, bytes);
      if (mem !== 0) return mem;
      idx = nb >>> 4;
    } else {
      idx = largebinIndex(nb);
      if (this.haveFastchunks) this.mallocConsolidate();
    }
    return this.mallocFromBins(nb, bytes, idx);
  }

  // The fastbin of nb: its first chunk, the rest of the bin stashed in the
  // tcache; 0 when the bin is empty.
  // The small bin of nb: its last chunk, the rest of the bin stashed in the
  // tcache; 0 when the bin is empty.
  private mallocFromSmallbin(nb: number, bytes: number): number {
    const bin = this.binAt(nb >>> 4);
    const victim = this.bk(bin);
    if (victim === bin) return 0;
    const bck = this.bk(victim);
    if (this.fd(bck) !== victim) this.abort("malloc(): smallbin double linked list corrupted");
    this.setInuseAt(victim, nb);
    this.setBk(bin, bck);
    this.setFd(bck, bin);
    const tc = this.tcache;
    const tcIdx = csize2tidx(nb);
    if (tc !== 0 && tcIdx < this.tcacheBins) {
      while (this.r16(tc + tcIdx * 2) < this.tcacheCount) {
        const tcVictim = this.bk(bin);
        if (tcVictim === bin) break;
        const b2 = this.bk(tcVictim);
        this.setInuseAt(tcVictim, nb);
        this.setBk(bin, b2);
        this.setFd(b2, bin);
        this.tcachePut(tcVictim, tcIdx);
      }
    }
    const mem = victim + CHUNK_HDR_SZ;
    this.allocPerturb(mem, bytes);
    return mem;
  }

  // The outer loop of _int_malloc once the exact bins have failed: sort the
  // unsorted bin, then best fit from the bins, then top, then the system.
  private mallocFromBins(nb: number, bytes: number, binIdx: number): number {
    let idx = binIdx;
    const tcIdx = csize2tidx(nb);
    const tcacheNb = this.tcache !== 0 && tcIdx < this.tcacheBins ? nb : 0;
    this.tcacheUnsortedCount = 0;
    for (;;) {
      const sorted = this.sortUnsorted(nb, bytes, tcIdx, tcacheNb);
      if (sorted === RETURN_CACHED) return this.tcacheGet(tcIdx, this.r16(this.tcache + tcIdx * 2));
      if (sorted !== 0) return sorted;

      if (nb >= MIN_LARGE_SIZE) {
        const mem = this.mallocFromLargebin(nb, bytes, idx);
        if (mem !== 0) return mem;
      }

      // Best fit from the next non-empty bin up, guided by the binmap.
      const found = this.scanBins(idx + 1, nb, bytes);
      if (found !== 0) return found;

      // use_top
      const top = this.top;
      const size = this.chunksize(top);
      if (size > this.systemMem) this.abort("malloc(): corrupted top size");
      if (size >= nb + MINSIZE) {
        const remainder = top + nb;
        this.top = remainder;
        this.setHead(top, nb + PREV_INUSE);
        this.setHead(remainder, size - nb + PREV_INUSE);
        const mem = top + CHUNK_HDR_SZ;
        this.allocPerturb(mem, bytes);
        return mem;
      }
      if (this.haveFastchunks) {
        this.mallocConsolidate();
        idx = nb < MIN_LARGE_SIZE ? nb >>> 4 : largebinIndex(nb);
        continue;
      }
      const mem = this.sysmalloc(nb);
      if (mem !== 0) this.allocPerturb(mem, bytes);
      return mem;
    }
  }

  // The unsorted-bin loop of _int_malloc: each chunk is checked, then either
  // split (the last remainder, for a small request), taken (an exact fit;
  // into the tcache while it has room), or sorted into its bin. Returns the
  // memory to hand out, 0 when the bin is empty (or 10 000 chunks were
  // sorted), RETURN_CACHED when the request is to come from the tcache.
  private sortUnsorted(nb: number, bytes: number, tcIdx: number, tcacheNb: number): number {
    const unsorted = this.binAt(1);
    let returnCached = false;
    let iters = 0;
    for (;;) {
      let victim = this.unsortedPeek(unsorted);
      let bck: number;
      let size: number;
      let nextRaw: number;
      let bckFd: number;
      if (victim >= 0) {
        // Every word read on the view: the same checks, in the same order.
        if (victim === unsorted) break;
        bck = this.peekBck;
        size = this.peekSize;
        nextRaw = this.peekNextRaw;
        bckFd = this.peekBckFd;
        const systemMem = this.peekSystemMem;
        if (size <= CHUNK_HDR_SZ || size > systemMem) this.abort("malloc(): invalid size (unsorted)");
        if (nextRaw < CHUNK_HDR_SZ || nextRaw > systemMem)
          this.abort("malloc(): invalid next size (unsorted)");
        if (this.peekNextPrev !== size) this.abort("malloc(): mismatching next->prev_size (unsorted)");
        if (bckFd !== victim || this.peekVictimFd !== unsorted) {
          this.abort("malloc(): unsorted double linked list corrupted");
        }
      } else {
        victim = this.bk(unsorted);
        if (victim === unsorted) break;
        bck = this.bk(victim);
        size = this.chunksize(victim);
        const next = victim + size;
        const systemMem = this.systemMem;
        if (size <= CHUNK_HDR_SZ || size > systemMem) this.abort("malloc(): invalid size (unsorted)");
        // next's size field, read once for the size and the PREV_INUSE tests.
        nextRaw = this.sizeRaw(next);
        if (nextRaw < CHUNK_HDR_SZ || nextRaw > systemMem)
          this.abort("malloc(): invalid next size (unsorted)");
        if (this.r64Masked(next) !== size) this.abort("malloc(): mismatching next->prev_size (unsorted)");
        bckFd = this.fd(bck);
        if (bckFd !== victim || this.fd(victim) !== unsorted) {
          this.abort("malloc(): unsorted double linked list corrupted");
        }
      }
      // nextRaw ≤ system_mem < 2^53 here: its low bits are exact.
      if ((nextRaw & PREV_INUSE) !== 0) this.abort("malloc(): invalid next->prev_inuse (unsorted)");

      if (nb < MIN_LARGE_SIZE && bck === unsorted && victim === this.lastRemainder && size > nb + MINSIZE) {
        const remainderSize = size - nb;
        const remainder = victim + nb;
        this.setBk(unsorted, remainder);
        this.setFd(unsorted, remainder);
        this.lastRemainder = remainder;
        this.setBk(remainder, unsorted);
        this.setFd(remainder, unsorted);
        if (remainderSize >= MIN_LARGE_SIZE) {
          this.setFdNext(remainder, 0);
          this.setBkNext(remainder, 0);
        }
        this.setHead(victim, nb + PREV_INUSE);
        this.setHead(remainder, remainderSize + PREV_INUSE);
        this.setFoot(remainder, remainderSize);
        const mem = victim + CHUNK_HDR_SZ;
        this.allocPerturb(mem, bytes);
        return mem;
      }

      // glibc reads bck->fd again here; nothing was stored since bckFd was read.
      if (bckFd !== victim) this.abort("malloc(): corrupted unsorted chunks 3");
      this.setBk(unsorted, bck);
      this.setFd(bck, unsorted);

      if (size === nb) {
        this.setInuseAt(victim, size);
        if (tcacheNb !== 0) {
          const count = this.r16(this.tcache + tcIdx * 2);
          if (count < this.tcacheCount) {
            this.tcachePutCounted(victim, tcIdx, count);
            returnCached = true;
            continue;
          }
        }
        const mem = victim + CHUNK_HDR_SZ;
        this.allocPerturb(mem, bytes);
        return mem;
      }

      if (size < MIN_LARGE_SIZE) {
        const victimIndex = size >>> 4;
        const b = this.binAt(victimIndex);
        const f = this.fd(b);
        this.markBin(victimIndex);
        // bk(victim) = b, fd(victim) = f, bk(f) = victim, fd(b) = victim.
        this.w64x4(victim + BK, b, victim + FD, f, f + BK, victim, b + FD, victim);
      } else {
        this.sortIntoLargebin(victim, size);
      }

      this.tcacheUnsortedCount++;
      if (
        returnCached &&
        this.tcacheUnsortedLimit > 0 &&
        this.tcacheUnsortedCount > this.tcacheUnsortedLimit
      ) {
        return RETURN_CACHED;
      }
      if (++iters >= 10000) break;
    }
    return returnCached ? RETURN_CACHED : 0;
  }

  // The reads at the top of the unsorted loop on the typed-array view:
  // bk(unsorted), and unless that is the bin itself, the victim's bk, size
  // and fd, the next chunk's prev_size (masked) and size, bck's fd and
  // system_mem, each a small integer read once, into the peek fields. The
  // victim (the bin itself when empty), or −1 when a word is not a small
  // integer in the view: the caller then reads through the accessors.
  private unsortedPeek(unsorted: number): number {
    const end8 = this.end8;
    const av = this.av;
    if (av > end8 - AV_SYSTEM_MEM) return -1;
    const i32 = this.i32;
    // unsorted is bin 1, av + AV_TOP: its bk is the word at av + 0x78.
    const u = unsorted >>> 2;
    const victim = i32[u + 6]!;
    if (i32[u + 7] !== 0 || victim < 0) return -1;
    if (victim === unsorted) return victim;
    if ((victim & 3) !== 0 || victim > end8 - 24) return -1;
    const w = victim >>> 2;
    const raw = i32[w + 2]!;
    const fd = i32[w + 4]!;
    const bck = i32[w + 6]!;
    if (i32[w + 3] !== 0 || i32[w + 5] !== 0 || i32[w + 7] !== 0 || raw < 0 || fd < 0 || bck < 0) return -1;
    const next = victim + (raw & ~7);
    if ((bck & 3) !== 0 || bck > end8 - 16 || next > end8 - 8) return -1;
    const n = next >>> 2;
    const nextPrev = i32[n]!;
    const nextRaw = i32[n + 2]!;
    const b = bck >>> 2;
    const bckFd = i32[b + 4]!;
    // AV_SYSTEM_MEM 0x8a8 as a word index.
    const systemMem = i32[(av >>> 2) + 554]!;
    if (i32[n + 1] !== 0 || i32[n + 3] !== 0 || i32[b + 5] !== 0 || i32[(av >>> 2) + 555] !== 0) return -1;
    if (nextPrev < 0 || nextRaw < 0 || bckFd < 0 || systemMem < 0) return -1;
    this.peekBck = bck;
    this.peekSize = raw & ~7;
    this.peekVictimFd = fd;
    this.peekNextPrev = nextPrev & ~7;
    this.peekNextRaw = nextRaw;
    this.peekBckFd = bckFd;
    this.peekSystemMem = systemMem;
    return victim;
  }

  // A chunk from the unsorted bin into its large bin, kept sorted largest
  // first, with the fd_nextsize/bk_nextsize skip list over distinct sizes.
  private sortIntoLargebin(victim: number, size: number): void {
    const victimIndex = largebinIndex(size);
    let bck = this.binAt(victimIndex);
    let fwd = this.fd(bck);
    if (fwd !== bck) {
      // Compare with PREV_INUSE or-ed in, as glibc does, to skip masking.
      const sizeP = size + 1;
      if (sizeP < this.sizeRaw(this.bk(bck))) {
        fwd = bck;
        bck = this.bk(bck);
        const first = this.fd(fwd);
        this.setFdNext(victim, first);
        this.setBkNext(victim, this.bkNext(first));
        this.setBkNext(first, victim);
        this.setFdNext(this.bkNext(victim), victim);
      } else {
        while (sizeP < this.sizeRaw(fwd)) fwd = this.fdNext(fwd);
        if (sizeP === this.sizeRaw(fwd)) {
          fwd = this.fd(fwd);
        } else {
          this.setFdNext(victim, fwd);
          this.setBkNext(victim, this.bkNext(fwd));
          if (this.fdNext(this.bkNext(fwd)) !== fwd) {
            this.abort("malloc(): largebin double linked list corrupted (nextsize)");
          }
          this.setBkNext(fwd, victim);
          this.setFdNext(this.bkNext(victim), victim);
        }
        bck = this.bk(fwd);
        if (this.fd(bck) !== fwd) this.abort("malloc(): largebin double linked list corrupted (bk)");
      }
    } else {
      this.setFdNext(victim, victim);
      this.setBkNext(victim, victim);
    }
    this.markBin(victimIndex);
    // bk(victim) = bck, fd(victim) = fwd, bk(fwd) = victim, fd(bck) = victim.
    this.w64x4(victim + BK, bck, victim + FD, fwd, fwd + BK, victim, bck + FD, victim);
  }

  // Best fit in the large bin of a large request: the smallest chunk that
  // fits, split with the remainder to the unsorted bin; 0 when none fits.
  private mallocFromLargebin(nb: number, bytes: number, idx: number): number {
    const bin = this.binAt(idx);
    let v = this.fd(bin);
    if (v === bin || this.sizeRaw(v) < nb) return 0;
    v = this.bkNext(v);
    let size = this.chunksize(v);
    while (size < nb) {
      v = this.bkNext(v);
      size = this.chunksize(v);
    }
    // Not the first chunk of its size, so the skip list keeps its links.
    if (v !== this.bk(bin) && this.sizeRaw(v) === this.sizeRaw(this.fd(v))) v = this.fd(v);
    const remainderSize = size - nb;
    this.unlinkChunk(v);
    if (remainderSize < MINSIZE) {
      this.setInuseAt(v, size);
    } else {
      const remainder = v + nb;
      const b = this.binAt(1);
      const f = this.fd(b);
      if (this.bk(f) !== b) this.abort("malloc(): corrupted unsorted chunks");
      this.setBk(remainder, b);
      this.setFd(remainder, f);
      this.setFd(b, remainder);
      this.setBk(f, remainder);
      if (remainderSize >= MIN_LARGE_SIZE) {
        this.setFdNext(remainder, 0);
        this.setBkNext(remainder, 0);
      }
      this.setHead(v, nb + PREV_INUSE);
      this.setHead(remainder, remainderSize + PREV_INUSE);
      this.setFoot(remainder, remainderSize);
    }
    const mem = v + CHUNK_HDR_SZ;
    this.allocPerturb(mem, bytes);
    return mem;
  }

  // The binmap walk of _int_malloc from bin `start`; 0 when no bin fits (use top).
  private scanBins(start: number, nb: number, bytes: number): number {
    const av = this.av;
    let idx = start;
    let block = idx >>> 5;
    let map = this.r32(av + AV_BINMAP + block * 4);
    let bit = idx < NBINS ? (1 << (idx & 31)) >>> 0 : 0;
    let bin = this.binAt(idx);
    for (;;) {
      if (bit > map || bit === 0) {
        do {
          if (++block >= BINMAPSIZE) return 0;
          map = this.r32(av + AV_BINMAP + block * 4);
        } while (map === 0);
        idx = block << 5;
        bin = this.binAt(idx);
        bit = 1;
      }
      while ((bit & map) >>> 0 === 0) {
        bin += 16;
        idx++;
        bit = (bit << 1) >>> 0;
      }
      const victim = this.bk(bin);
      if (victim === bin) {
        map = (map & ~bit) >>> 0;
        this.w32(av + AV_BINMAP + block * 4, map);
        bin += 16;
        idx++;
        bit = (bit << 1) >>> 0;
        continue;
      }
      const size = this.chunksize(victim);
      // The binmap's first chunk is taken to be big enough: glibc asserts it.
      if (size < nb) this.abort(INT_MALLOC_SIZE_ASSERTION);
      const remainderSize = size - nb;
      // Nothing stored since size was read: unlink_chunk's own read of it is this one.
      this.unlinkChunkSized(victim, size);
      if (remainderSize < MINSIZE) {
        this.setInuseAt(victim, size);
      } else {
        const remainder = victim + nb;
        const b = this.binAt(1);
        const f = this.fd(b);
        if (this.bk(f) !== b) this.abort("malloc(): corrupted unsorted chunks 2");
        // bk(remainder) = b, fd(remainder) = f, fd(b) = remainder, bk(f) = remainder.
        this.w64x4(remainder + BK, b, remainder + FD, f, b + FD, remainder, f + BK, remainder);
        if (nb < MIN_LARGE_SIZE) this.lastRemainder = remainder;
        if (remainderSize >= MIN_LARGE_SIZE) {
          this.setFdNext(remainder, 0);
          this.setBkNext(remainder, 0);
        }
        this.setHead(victim, nb + PREV_INUSE);
        this.setHead(remainder, remainderSize + PREV_INUSE);
        this.setFoot(remainder, remainderSize);
      }
      const mem = victim + CHUNK_HDR_SZ;
      this.allocPerturb(mem, bytes);
      return mem;
    }
  }

  /** unlink_chunk: takes a free chunk off its doubly linked bin, with glibc's checks. */
  unlinkChunk(p: number): void {
    this.unlinkChunkSized(p, this.wrapped(this.chunksize(p), p + 8, 7));
  }

  // unlink_chunk given chunksize(p), read with nothing stored since.
  private unlinkChunkSized(p: number, size: number): void {
    let fd = this.unlinkFast(p, size);
    if (fd < 0) {
      if (size !== this.wrapped(this.prevSize(p + size), p + size, 0))
        this.abort("corrupted size vs. prev_size");
      fd = this.fd(p);
      const bk = this.bk(p);
      if (this.bk(fd) !== p || this.fd(bk) !== p) this.abort("corrupted double-linked list");
      this.setBk(fd, bk);
      this.setFd(bk, fd);
    }
    // p's size field is read again: a corrupted fd or bk can aim the two
    // stores above at it (the unlink attack).
    if (this.sizeRaw(p) >= MIN_LARGE_SIZE && this.fdNext(p) !== 0) {
      const fdn = this.fdNext(p);
      const bkn = this.bkNext(p);
      if (this.bkNext(fdn) !== p || this.fdNext(bkn) !== p)
        this.abort("corrupted double-linked list (not small)");
      if (this.fdNext(fd) === 0) {
        if (fdn === p) {
          this.setFdNext(fd, fd);
          this.setBkNext(fd, fd);
        } else {
          this.setFdNext(fd, fdn);
          this.setBkNext(fd, bkn);
          this.setBkNext(fdn, fd);
          this.setFdNext(bkn, fd);
        }
      } else {
        this.setBkNext(fdn, bkn);
        this.setFdNext(bkn, fdn);
      }
    }
  }

  // The checks and the two stores of unlink_chunk on the typed-array view,
  // every word read once: p's fd when done; −1, having stored nothing,
  // when anything (no view, a word above 2^31, a failed check) needs the
  // general path, which then decides, aborts included. Kept apart so that
  // its callers, large already, spend none of their inlining budget on the
  // ten accessor calls it replaces.
  private unlinkFast(p: number, size: number): number {
    const end8 = this.end8;
    if (!(p > 0 && (p & 15) === 0 && p + size <= end8)) return -1;
    const i32 = this.i32;
    const w = p >>> 2;
    const n = (p + size) >>> 2;
    // prev_size of the next chunk, then fd and bk: all below 2^31.
    if (i32[n] !== size || i32[n + 1] !== 0) return -1;
    const fd = i32[w + 4]!;
    const bk = i32[w + 6]!;
    if (i32[w + 5] !== 0 || i32[w + 7] !== 0 || fd < 0 || bk < 0) return -1;
    if ((fd & 3) !== 0 || (bk & 3) !== 0 || fd > end8 - 24 || bk > end8 - 16) return -1;
    const f = fd >>> 2;
    const b = bk >>> 2;
    // fd->bk and bk->fd are p.
    if (i32[f + 6] !== p || i32[f + 7] !== 0 || i32[b + 4] !== p || i32[b + 5] !== 0) return -1;
    i32[f + 6] = bk;
    i32[b + 4] = fd;
    return fd;
  }

  // ------------------------------------------------------------ _int_free

  /** _int_free: returns a heap chunk to the tcache, a fastbin, or the unsorted bin / top. */
  intFree(p: number, haveLock: boolean): void {
    this.intFreeRaw(p, this.sizeRaw(p), haveLock);
  }

  // _int_free given p's raw size field, read with nothing stored since; it
  // stays p's size field until the coalescing below stores to other chunks.
  private intFreeRaw(p: number, raw: number, haveLock: boolean, arena = this.av): void {
    let size = this.sizeOf(raw, p);
    if (size === 0 ? p > 0 : p + size > TWO_64) this.abort("free(): invalid pointer");
    if ((p & MALLOC_ALIGN_MASK) !== 0) this.abort("free(): invalid pointer");
    if (size < MINSIZE || (size & MALLOC_ALIGN_MASK) !== 0) this.abort("free(): invalid size");

    const tc = this.tcache;
    const tcIdx = size < 0x7fffffff ? (size - 17) >>> 4 : TCACHE_MAX_BINS;
    if (tc !== 0 && tcIdx < this.tcacheBins) {
      const e = p + CHUNK_HDR_SZ;
      if (this.r32(e + 8) === this.keyLo && this.r32(e + 12) === this.keyHi) {
        let cnt = 0;
        for (
          let tmp = this.r64(tc + TCACHE_ENTRIES + tcIdx * 8);
          tmp !== 0;
          tmp = this.revealLoad(tmp), cnt++
        ) {
          if (cnt >= this.tcacheCount) this.abort("free(): too many chunks detected in tcache");
          if ((tmp & MALLOC_ALIGN_MASK) !== 0) this.abort("free(): unaligned chunk detected in tcache 2");
          if (tmp === e) this.abort("free(): double free detected in tcache 2");
        }
      }
      const count = this.r16(tc + tcIdx * 2);
      if (count < this.tcacheCount) {
        this.tcachePutCounted(p, tcIdx, count);
        return;
      }
    }

    const av = this.av;
    if (size <= this.globalMaxFast) {
      const next = p + size;
      const nextRaw = this.sizeRaw(next);
      // Another arena: its system_mem is read next, or, for a next size
      // that already fails, its mutex taken (free() holds no lock).
      if (arena !== av) {
        if (nextRaw <= CHUNK_HDR_SZ) this.foreignArena(arena, 0, "write");
        this.foreignArena(arena, AV_SYSTEM_MEM, "read");
      }
      if (nextRaw <= CHUNK_HDR_SZ || this.sizeOf(nextRaw, next) >= this.systemMem) {
        this.abort("free(): invalid next size (fast)");
      }
      this.freePerturb(p + CHUNK_HDR_SZ, size - CHUNK_HDR_SZ);
      this.haveFastchunks = true;
      const idx = fastbinIndex(size);
      const fb = av + AV_FASTBINS + idx * 8;
      const old = this.r64(fb);
      if (old === p) this.abort("double free or corruption (fasttop)");
      this.protectStore(p + FD, old);
      this.w64(fb, p);
      if (haveLock && old !== 0 && fastbinIndex(this.chunksize(old)) !== idx) {
        this.abort("invalid fastbin entry (free)");
      }
      return;
    }

    if ((this.flagsOf(raw, p) & IS_MMAPPED) !== 0) {
      this.munmapChunk(p);
      return;
    }

    // Another arena: one thread, no lock; its top is read first.
    if (arena !== av) this.foreignArena(arena, AV_TOP, "read");
    if (this.freeCoalesceFast(p, size, raw)) return;
    const nextchunk = p + size;
    const top = this.top;
    if (p === top) this.abort("double free or corruption (top)");
    if (this.contiguous && nextchunk >= top + this.chunksize(top))
      this.abort("double free or corruption (out)");
    // nextchunk's size field, read once for its PREV_INUSE and its size.
    const nextRaw = this.sizeRaw(nextchunk);
    if ((this.flagsOf(nextRaw, nextchunk) & PREV_INUSE) === 0)
      this.abort("double free or corruption (!prev)");
    const nextsize = this.sizeOf(nextRaw, nextchunk);
    if (nextRaw <= CHUNK_HDR_SZ || nextsize >= this.systemMem) {
      this.abort("free(): invalid next size (normal)");
    }
    this.freePerturb(p + CHUNK_HDR_SZ, size - CHUNK_HDR_SZ);

    // freePerturb stores from p + 16 on: p's size field is still raw.
    if ((this.flagsOf(raw, p) & PREV_INUSE) === 0) {
      // (A "negative" prev_size puts the previous chunk above p, as in glibc.)
      const prevsize = this.wrapped(this.prevSize(p), p, 0);
      size += prevsize;
      p -= prevsize;
      const prevChunkSize = this.wrapped(this.chunksize(p), p + 8, 7);
      if (prevChunkSize !== prevsize) this.abort("corrupted size vs. prev_size while consolidating");
      this.unlinkChunkSized(p, prevChunkSize);
    }

    if (nextchunk !== top) {
      const nextinuse = this.inuseAt(nextchunk, nextsize);
      if (!nextinuse) {
        this.unlinkChunk(nextchunk);
        size += nextsize;
      } else {
        this.clearInuseAt(nextchunk, 0);
      }
      this.freedToUnsorted(p, size);
    } else {
      size += nextsize;
      this.setHead(p, size + PREV_INUSE);
      this.top = p;
    }
    this.afterCoalesce(size);
  }

  // The end of _int_free for a coalesced chunk `p` of `size` that does not
  // border top: it goes to the front of the unsorted bin, free and footed.
  private freedToUnsorted(p: number, size: number): void {
    const bck = this.binAt(1);
    const fwd = this.fd(bck);
    if (this.bk(fwd) !== bck) this.abort("free(): corrupted unsorted chunks");
    if (size < MIN_LARGE_SIZE) {
      // fd(p) = fwd, bk(p) = bck, fd(bck) = p, bk(fwd) = p.
      this.w64x4(p + FD, fwd, p + BK, bck, bck + FD, p, fwd + BK, p);
    } else {
      this.setFd(p, fwd);
      this.setBk(p, bck);
      this.setFdNext(p, 0);
      this.setBkNext(p, 0);
      this.setFd(bck, p);
      this.setBk(fwd, p);
    }
    this.setHead(p, size + PREV_INUSE);
    this.setFoot(p, size);
  }

  // After a free coalesced to `size` bytes: a large enough chunk consolidates
  // the fastbins and may trim the top (FASTBIN_CONSOLIDATION_THRESHOLD).
  private afterCoalesce(size: number): void {
    if (size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
      if (this.haveFastchunks) this.mallocConsolidate();
      if (this.chunksize(this.top) >= this.trimThreshold) this.systrim(this.topPad);
    }
  }

  // The coalescing half of _int_free (a chunk that is neither cached, nor
  // fast, nor mmapped) with its first reads on the typed-array view: the
  // arena's top, flags and system_mem, top's size, the next chunk's size,
  // the previous chunk's prev_size and size, each read once. False, having
  // stored nothing, when a word it needs is not a small integer in the view
  // (or perturb is on); the general code below then does it all. Every
  // check, abort and store is the general code's, in its order; what comes
  // after the first store goes through the general helpers, or through the
  // view at addresses checked before it.
  private freeCoalesceFast(p: number, size: number, raw: number): boolean {
    const end8 = this.end8;
    const av = this.av;
    // p and size are 16-aligned here (checked by the caller).
    if (this.perturbByte !== 0 || raw >= 0x80000000 || av > end8 - AV_SYSTEM_MEM) return false;
    const nextchunk = p + size;
    if (!(p > 0 && nextchunk <= end8 - 8)) return false;
    const i32 = this.i32;
    const a = av >>> 2;
    // AV_FLAGS 0x4, AV_TOP 0x60, AV_SYSTEM_MEM 0x8a8, as word indexes.
    const flags = i32[a + 1]!;
    const top = i32[a + 24]!;
    const systemMem = i32[a + 554]!;
    if (i32[a + 25] !== 0 || i32[a + 555] !== 0 || top < 0 || systemMem < 0) return false;
    if ((top & 3) !== 0 || top > end8 - 8) return false;
    const topRaw = i32[(top >>> 2) + 2]!;
    const n = nextchunk >>> 2;
    const nextRaw = i32[n + 2]!;
    if (i32[(top >>> 2) + 3] !== 0 || topRaw < 0 || i32[n + 3] !== 0 || nextRaw < 0) return false;
    const nextsize = nextRaw & ~7;
    // The header after next, read (for its PREV_INUSE) after the stores below.
    if (nextchunk !== top && nextchunk + nextsize > end8 - 8) return false;
    let prevsize = 0;
    let prevChunkSize = 0;
    if ((raw & PREV_INUSE) === 0) {
      const w = p >>> 2;
      prevsize = i32[w]!;
      if (i32[w + 1] !== 0 || prevsize < 0 || (prevsize & 3) !== 0 || prevsize > p) return false;
      const q = (p - prevsize) >>> 2;
      const prevRaw = i32[q + 2]!;
      if (i32[q + 3] !== 0 || prevRaw < 0) return false;
      prevChunkSize = prevRaw & ~7;
    }

    if (p === top) this.abort("double free or corruption (top)");
    if ((flags & NONCONTIGUOUS_BIT) === 0 && nextchunk >= top + (topRaw & ~7))
      this.abort("double free or corruption (out)");
    if ((nextRaw & PREV_INUSE) === 0) this.abort("double free or corruption (!prev)");
    if (nextRaw <= CHUNK_HDR_SZ || nextsize >= systemMem) this.abort("free(): invalid next size (normal)");

    let q = p;
    let sz = size;
    if ((raw & PREV_INUSE) === 0) {
      sz += prevsize;
      q -= prevsize;
      if (prevChunkSize !== prevsize) this.abort("corrupted size vs. prev_size while consolidating");
      this.unlinkChunkSized(q, prevChunkSize);
    }

    if (nextchunk !== top) {
      if ((i32[((nextchunk + nextsize) >>> 2) + 2]! & PREV_INUSE) === 0) {
        this.unlinkChunk(nextchunk);
        sz += nextsize;
      } else {
        i32[n + 2] = i32[n + 2]! & ~PREV_INUSE;
      }
      this.freedToUnsorted(q, sz);
    } else {
      sz += nextsize;
      this.setHead(q, sz + PREV_INUSE);
      this.top = q;
    }
    this.afterCoalesce(sz);
    return true;
  }

  // ------------------------------------------------------------ consolidate

  /** malloc_consolidate: empties every fastbin, coalescing each chunk into the unsorted bin or top. */
  mallocConsolidate(): void {
    const av = this.av;
    this.haveFastchunks = false;
    const unsortedBin = this.binAt(1);
    for (let i = 0; i < NFASTBINS; i++) {
      const fb = av + AV_FASTBINS + i * 8;
      let p = this.r64(fb);
      this.w64(fb, 0);
      while (p !== 0) {
        if ((p & MALLOC_ALIGN_MASK) !== 0)
          this.abort("malloc_consolidate(): unaligned fastbin chunk detected");
        if (fastbinIndex(this.chunksize(p)) !== i) this.abort("malloc_consolidate(): invalid chunk size");
        const nextp = this.revealLoad(p + FD);
        let size = this.chunksize(p);
        const nextchunk = p + size;
        const nextsize = this.chunksize(nextchunk);
        if ((this.r32(p + 8) & PREV_INUSE) === 0) {
          const prevsize = this.wrapped(this.prevSize(p), p, 0);
          size += prevsize;
          p -= prevsize;
          if (this.wrapped(this.chunksize(p), p + 8, 7) !== prevsize)
            this.abort("corrupted size vs. prev_size in fastbins");
          this.unlinkChunk(p);
        }
        if (nextchunk !== this.top) {
          const nextinuse = this.inuseAt(nextchunk, nextsize);
          if (!nextinuse) {
            size += nextsize;
            this.unlinkChunk(nextchunk);
          } else {
            this.clearInuseAt(nextchunk, 0);
          }
          const firstUnsorted = this.fd(unsortedBin);
          this.setFd(unsortedBin, p);
          this.setBk(firstUnsorted, p);
          if (size >= MIN_LARGE_SIZE) {
            this.setFdNext(p, 0);
            this.setBkNext(p, 0);
          }
          this.setHead(p, size + PREV_INUSE);
          this.setBk(p, unsortedBin);
          this.setFd(p, firstUnsorted);
          this.setFoot(p, size);
        } else {
          size += nextsize;
          this.setHead(p, size + PREV_INUSE);
          this.top = p;
        }
        p = nextp;
      }
    }
  }

  // ------------------------------------------------------------ realloc

  private intRealloc(oldp: number, oldsize: number, nb: number): number {
    const systemMem = this.systemMem;
    if (this.sizeRaw(oldp) <= CHUNK_HDR_SZ || oldsize >= systemMem) this.abort("realloc(): invalid old size");
    const next = oldp + oldsize;
    const nextsize = this.chunksize(next);
    if (this.sizeRaw(next) <= CHUNK_HDR_SZ || nextsize >= systemMem)
      this.abort("realloc(): invalid next size");
    let newp: number;
    let newsize: number;
    if (oldsize >= nb) {
      newp = oldp;
      newsize = oldsize;
    } else {
      const top = this.top;
      if (next === top && oldsize + nextsize >= nb + MINSIZE) {
        newsize = oldsize + nextsize;
        this.setHeadSize(oldp, nb);
        this.top = oldp + nb;
        this.setHead(oldp + nb, newsize - nb + PREV_INUSE);
        return oldp + CHUNK_HDR_SZ;
      }
      if (next !== top && !this.inuseAt(next, nextsize) && oldsize + nextsize >= nb) {
        newsize = oldsize + nextsize;
        newp = oldp;
        this.unlinkChunk(next);
      } else {
        const newmem = this.intMalloc(nb - MALLOC_ALIGN_MASK);
        if (newmem === 0) return 0;
        newp = newmem - CHUNK_HDR_SZ;
        newsize = this.chunksize(newp);
        if (newp === next) {
          newsize += oldsize;
          newp = oldp;
        } else {
          this.move(newmem, oldp + CHUNK_HDR_SZ, oldsize - SIZE_SZ);
          this.intFree(oldp, true);
          return newmem;
        }
      }
    }
    const remainderSize = newsize - nb;
    if (remainderSize < MINSIZE) {
      this.setHeadSize(newp, newsize);
      this.setInuseAt(newp, newsize);
    } else {
      const remainder = newp + nb;
      this.setHeadSize(newp, nb);
      this.setHead(remainder, remainderSize + PREV_INUSE);
      this.setInuseAt(remainder, remainderSize);
      this.intFree(remainder, true);
    }
    return newp + CHUNK_HDR_SZ;
  }

  // ------------------------------------------------------------ system

  private sbrk(increment: number): number {
    const r = sbrk(this.programBreak, increment);
    if (increment !== 0 && r !== -1) {
      this.stats.brkCalls++;
      const end = r + increment;
      if (end > this.heapEnd) this.heapEnd = end;
      if (end - this.heapBase > this.stats.peakHeapBytes) this.stats.peakHeapBytes = end - this.heapBase;
      this.refresh();
    } else if (increment !== 0) {
      this.stats.brkCalls++;
    }
    return r;
  }

  private mmapRaw(length: number): number {
    if (!Number.isSafeInteger(length) || length <= 0) return -1;
    this.stats.mmapCalls++;
    const r = this.mapper.mmap(0, length, RW, MAP_PRIVATE);
    if (isSyscallError(r)) return -1;
    this.refresh();
    return r;
  }

  private sysmallocMmap(nb: number): number {
    const size = alignUp(nb + SIZE_SZ, PAGE);
    if (size <= nb) return 0;
    const mm = this.mmapRaw(size);
    if (mm === -1) return 0;
    this.w64(mm, 0);
    this.setHead(mm, size + IS_MMAPPED);
    this.nMmaps++;
    if (this.nMmaps > this.maxNMmaps) this.maxNMmaps = this.nMmaps;
    this.mmappedMem += size;
    if (this.mmappedMem > this.maxMmappedMem) this.maxMmappedMem = this.mmappedMem;
    if (this.mmappedMem > this.stats.peakMmappedBytes) this.stats.peakMmappedBytes = this.mmappedMem;
    this.mmapped.set(mm, size);
    return mm + CHUNK_HDR_SZ;
  }

  private sysmalloc(nb: number): number {
    if (nb >= this.mmapThreshold && this.nMmaps < this.nMmapsMax) {
      const mm = this.sysmallocMmap(nb);
      if (mm !== 0) return mm;
    }
    const oldTop = this.top;
    let oldSize = this.chunksize(oldTop);
    const oldEnd = oldTop + oldSize;
    // Top is the initial one, of size 0, or one of MINSIZE or more, its
    // PREV_INUSE set, ending on a page boundary (the end's low bits from
    // the size field's exact low word).
    const topLo = this.r32(oldTop + 8);
    if (
      !(oldTop === this.binAt(1) && oldSize === 0) &&
      !(
        oldSize >= MINSIZE &&
        (topLo & PREV_INUSE) !== 0 &&
        (((oldTop >>> 0) + (topLo & ~7)) & (PAGE - 1)) === 0
      )
    ) {
      this.abort(SYSMALLOC_ASSERTION);
    }
    let brk = -1;
    let sndBrk = -1;

    let size: number;
    if (this.topPadExact !== null) size = this.moreCoreLong(nb, oldSize);
    else {
      size = nb + this.topPad + MINSIZE;
      if (this.contiguous) size -= oldSize;
      size = alignUp(size, PAGE);
    }
    // (A size that is negative as glibc's long never reaches MORECORE.)
    if (size > 0 && Number.isSafeInteger(size)) brk = this.sbrk(size);
    if (brk === -1) {
      // mmap stands in for brk (sysmalloc_mmap_fallback); the heap is no
      // longer contiguous. glibc 2.35 and 2.36 pass that function
      // MMAP_AS_MORECORE_SIZE as its page size and the page size as its
      // minimum: with the old top added back the size is rounded up to a
      // whole MiB, and only a size below one page is raised, to one page.
      let msize = size;
      // ALIGN_UP in glibc's long: a small negative sum rounds up to 0.
      const unit = MMAP_AS_MORECORE_SIZE;
      if (this.contiguous) msize = Math.floor((msize + oldSize + unit - 1) / unit) * unit;
      // Compared unsigned: a negative size is past the minimum (and mmap refuses it).
      if (msize >= 0 && msize < PAGE) msize = PAGE;
      if (msize > nb) {
        const mbrk = this.mmapRaw(msize);
        if (mbrk !== -1) {
          this.setNoncontiguous();
          size = msize;
          brk = mbrk;
          sndBrk = brk + size;
          this.segments.push(brk, brk + size);
        }
      }
    }

    if (brk !== -1) {
      if (this.sbrkBase === 0) this.sbrkBase = brk;
      this.systemMem = this.systemMem + size;
      if (brk === oldEnd && sndBrk === -1) {
        this.setHead(oldTop, size + oldSize + PREV_INUSE);
        this.extendSegment(oldEnd, brk + size);
      } else if (this.contiguous && oldSize !== 0 && brk < oldEnd) {
        this.abort("break adjusted to free malloc space");
      } else {
        let frontMisalign = 0;
        let correction = 0;
        let alignedBrk = brk;
        if (this.contiguous) {
          if (oldSize !== 0) this.systemMem = this.systemMem + (brk - oldEnd);
          frontMisalign = (brk + CHUNK_HDR_SZ) % MALLOC_ALIGNMENT;
          if (frontMisalign > 0) {
            correction = MALLOC_ALIGNMENT - frontMisalign;
            alignedBrk += correction;
          }
          correction += oldSize;
          const endMisalign = brk + size + correction;
          correction += alignUp(endMisalign, PAGE) - endMisalign;
          sndBrk = this.sbrk(correction);
          if (sndBrk === -1) {
            correction = 0;
            sndBrk = this.sbrk(0);
          }
          this.segments.push(alignedBrk, sndBrk + correction);
        } else if (sndBrk === -1) {
          sndBrk = this.sbrk(0);
          if (sndBrk !== -1) this.segments.push(alignedBrk, sndBrk);
        }
        if (sndBrk !== -1) {
          this.top = alignedBrk;
          this.setHead(alignedBrk, sndBrk - alignedBrk + correction + PREV_INUSE);
          this.systemMem = this.systemMem + correction;
          if (oldSize !== 0) {
            // Two fenceposts close the old top off from space that is not ours.
            oldSize = (oldSize - 2 * CHUNK_HDR_SZ) & ~MALLOC_ALIGN_MASK;
            this.setHead(oldTop, oldSize + PREV_INUSE);
            this.setHead(oldTop + oldSize, CHUNK_HDR_SZ + PREV_INUSE);
            this.setHead(oldTop + oldSize + CHUNK_HDR_SZ, CHUNK_HDR_SZ + PREV_INUSE);
            // The old top's segment ends after them: below its break when an
            // overflow shrank top (the House of Orange), at it otherwise.
            this.endSegment(oldTop, oldTop + oldSize + 2 * CHUNK_HDR_SZ);
            if (oldSize >= MINSIZE) this.intFree(oldTop, true);
          }
        }
      }
    }
    if (this.systemMem > this.maxSystemMem) this.maxSystemMem = this.systemMem;

    const p = this.top;
    const topSize = this.chunksize(p);
    if (topSize >= nb + MINSIZE) {
      const remainder = p + nb;
      this.top = remainder;
      this.setHead(p, nb + PREV_INUSE);
      this.setHead(remainder, topSize - nb + PREV_INUSE);
      return p + CHUNK_HDR_SZ;
    }
    this.errno = ENOMEM;
    return 0;
  }

  // sysmalloc's first MORECORE argument as glibc computes it when top_pad
  // is 2^53 or more: nb + top_pad + MINSIZE in size_t (wrapping round 2^64),
  // held in a long, less the old top when contiguous, rounded up to a page
  // (malloc.c declares `long size`). With M_TOP_PAD -1 it comes out as if
  // top_pad were -1; past 2^63 it is negative, and MORECORE is not called.
  private moreCoreLong(nb: number, oldSize: number): number {
    let size = BigInt.asIntN(64, BigInt(nb) + this.topPadExact! + BigInt(MINSIZE));
    if (this.contiguous) size = BigInt.asIntN(64, size - BigInt(oldSize));
    size = BigInt.asIntN(64, size + BigInt(PAGE - 1)) & -BigInt(PAGE);
    return Number(size);
  }

  // Ends the segment that holds chunk `p` at `end`.
  private endSegment(p: number, end: number): void {
    const s = this.segments;
    for (let i = 0; i < s.length; i += 2) {
      if (s[i]! <= p && p < s[i + 1]!) {
        s[i + 1] = end;
        return;
      }
    }
  }

  // Grows the segment that ends at `oldEnd` to `newEnd`.
  private extendSegment(oldEnd: number, newEnd: number): void {
    const s = this.segments;
    for (let i = s.length - 1; i > 0; i -= 2) {
      if (s[i] === oldEnd) {
        s[i] = newEnd;
        return;
      }
    }
    s.push(oldEnd, newEnd);
  }

  /**
   * systrim: gives the top's whole free pages above `pad` back with a
   * negative sbrk; 1 if the break moved.
   *
   * glibc 2.36 compares its signed top_area with the unsigned pad: when top
   * is exactly MINSIZE, top_area is -1, the test lets it through as a huge
   * unsigned value, `extra` comes out negative, and the "negative" sbrk grows
   * the heap by pad + 1 rounded up to a page (malloc_trim on a full heap
   * does this; recorded in test/fixtures/glibc/trim-grows.expected).
   * Faithful, if odd.
   */
  systrim(pad: number): number {
    const top = this.top;
    const topSize = this.chunksize(top);
    const topArea = topSize - MINSIZE - 1;
    if (topArea >= 0 && topArea <= pad) return 0;
    // ALIGN_DOWN in two's complement: toward minus infinity.
    const extra = Math.floor((topArea - pad) / PAGE) * PAGE;
    if (extra === 0) return 0;
    const currentBrk = this.sbrk(0);
    if (currentBrk === top + topSize) {
      this.sbrk(-extra);
      const newBrk = this.sbrk(0);
      if (newBrk !== -1) {
        const released = currentBrk - newBrk;
        if (released !== 0) {
          this.systemMem = this.systemMem - released;
          this.setHead(top, topSize - released + PREV_INUSE);
          this.extendSegment(currentBrk, newBrk);
          return 1;
        }
      }
    }
    return 0;
  }

  /** munmap_chunk: unmaps an mmapped chunk after glibc's page-alignment checks. */
  munmapChunk(p: number): void {
    const size = this.chunksize(p);
    const mem = p + CHUNK_HDR_SZ;
    const prev = this.prevSize(p);
    const block = p - prev;
    const total = prev + size;
    if (this.misalignedMapping(p, prev, size) || !isPowerOf2Or0(mem & (PAGE - 1))) {
      this.abort("munmap_chunk(): invalid pointer");
    }
    this.nMmaps--;
    this.mmappedMem -= total;
    this.mmapped.delete(p);
    this.stats.munmapCalls++;
    if (Number.isSafeInteger(block) && block >= 0 && Number.isSafeInteger(total))
      this.mapper.munmap(block, total);
  }

  // munmap_chunk's and mremap_chunk's test on an mmapped chunk: its mapping
  // (p - prev_size, prev_size + size bytes) starts or ends off a page. The
  // low 12 bits decide it, so a prev_size of 2^53 or more (only an overflow
  // writes one; a double has lost its low bits) is tested on its low word.
  private misalignedMapping(p: number, prev: number, size: number): boolean {
    const lo = prev < TWO_53 ? prev : this.r32(p);
    return (((p - lo) | (lo + size)) & (PAGE - 1)) !== 0;
  }

  private mremapChunk(p: number, nb: number): number {
    const offset = this.prevSize(p);
    const size = this.chunksize(p);
    const block = p - offset;
    const mem = p + CHUNK_HDR_SZ;
    const total = offset + size;
    if (this.misalignedMapping(p, offset, size) || !isPowerOf2Or0(mem & (PAGE - 1))) {
      this.abort("mremap_chunk(): invalid pointer");
    }
    const newSize = alignUp(nb + offset + SIZE_SZ, PAGE);
    if (total === newSize) return p;
    if (!Number.isSafeInteger(newSize)) return 0;
    this.stats.mremapCalls++;
    const cp = this.mapper.mremap!(block, total, newSize, MREMAP_MAYMOVE);
    if (isSyscallError(cp)) return 0;
    this.refresh();
    const np = cp + offset;
    this.setHead(np, newSize - offset + IS_MMAPPED);
    this.mmappedMem += newSize - total;
    if (this.mmappedMem > this.maxMmappedMem) this.maxMmappedMem = this.mmappedMem;
    if (this.mmappedMem > this.stats.peakMmappedBytes) this.stats.peakMmappedBytes = this.mmappedMem;
    this.mmapped.delete(p);
    this.mmapped.set(np, newSize);
    return np;
  }

  private mtrim(pad: number): number {
    this.mallocConsolidate();
    const psindex = binIndex(PAGE);
    let result = 0;
    for (let i = 1; i < NBINS; i++) {
      if (i !== 1 && i < psindex) continue;
      const bin = this.binAt(i);
      for (let p = this.bk(bin); p !== bin; p = this.bk(p)) {
        let size = this.chunksize(p);
        if (size > PAGE - 1 + MALLOC_CHUNK_SIZE) {
          const paligned = alignUp(p + MALLOC_CHUNK_SIZE, PAGE);
          size -= paligned - p;
          if (size > PAGE - 1) {
            this.stats.madviseCalls++;
            this.mapper.madvise(paligned, size - (size % PAGE), MADV_DONTNEED);
            this.refresh();
            result = 1;
          }
        }
      }
    }
    return result | this.systrim(pad);
  }
}

function isPowerOf2(n: number): boolean {
  return n > 0 && (n < TWO_32 ? (n & (n - 1)) === 0 : Number.isInteger(Math.log2(n)));
}

// glibc's powerof2(x): ((x) & ((x) - 1)) == 0, true for 0 as well.
function isPowerOf2Or0(n: number): boolean {
  return (n & (n - 1)) === 0;
}

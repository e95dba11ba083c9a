/**
 * Inspection and invariant checking of a {@link Ptmalloc} heap: what
 * pwndbg's `heap` and `bins` show, and glibc's do_check_malloc_state made
 * exhaustive.
 *
 * Neighbours: ptmalloc.ts builds the heap; this file only reads it, through
 * the same word accessors, so it sees exactly the bytes a debugger would.
 *
 * Walk: chunks tile each heap segment (the brk heap, then any region mmap
 * lent when brk failed) from its first chunk; the last segment ends with
 * top, earlier ones with two 0x10 fenceposts. Every list walk is bounded, so
 * a corrupted (cyclic) list is reported instead of looping forever.
 */
import { CorruptionError } from "@memstack/core";
import type { BinInfo, BinsSnapshot, ChunkInfo, ChunkState } from "../api.js";
import {
  AV_BINMAP,
  CHUNK_HDR_SZ,
  csize2tidx,
  FD,
  fastbinIndex,
  IS_MMAPPED,
  largebinIndex,
  MALLOC_ALIGN_MASK,
  MIN_LARGE_SIZE,
  MINSIZE,
  NBINS,
  NFASTBINS,
  PKG,
  PREV_INUSE,
  request2size,
  TCACHE_ENTRIES,
  TCACHE_STRUCT_SIZE,
} from "./layout.js";
import type { Ptmalloc } from "./ptmalloc.js";

const WALK_LIMIT = 1 << 22;

interface Where {
  state: ChunkState;
  bin: number;
}

function fail(what: string): never {
  throw new CorruptionError(PKG, `malloc check: ${what}`);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The tcache bins, head first, as chunk addresses. */
function tcacheLists(m: Ptmalloc): BinInfo[] {
  const out: BinInfo[] = [];
  const tc = m.tcache;
  if (tc === 0) return out;
  for (let i = 0; i < m.tcacheBins; i++) {
    const chunks: number[] = [];
    for (let e = m.r64(tc + TCACHE_ENTRIES + i * 8); e !== 0 && chunks.length < 65536; e = m.revealLoad(e)) {
      chunks.push(e - CHUNK_HDR_SZ);
      if ((e & MALLOC_ALIGN_MASK) !== 0) break;
    }
    if (chunks.length > 0 || m.tcacheCountAt(i) > 0) out.push({ index: i, size: i * 16 + MINSIZE, chunks });
  }
  return out;
}

function fastbinLists(m: Ptmalloc): BinInfo[] {
  const out: BinInfo[] = [];
  for (let i = 0; i < NFASTBINS; i++) {
    const chunks: number[] = [];
    for (let p = m.r64(m.fastbinAddr(i)); p !== 0 && chunks.length < WALK_LIMIT; p = m.revealLoad(p + FD)) {
      chunks.push(p);
      if ((p & MALLOC_ALIGN_MASK) !== 0) break;
    }
    if (chunks.length > 0) out.push({ index: i, size: (i + 2) * 16, chunks });
  }
  return out;
}

function binList(m: Ptmalloc, i: number): number[] {
  const bin = m.binAt(i);
  const chunks: number[] = [];
  for (let p = m.fd(bin); p !== bin && chunks.length < WALK_LIMIT; p = m.fd(p)) chunks.push(p);
  return chunks;
}

function smallestOfBin(i: number): number {
  if (i < 64) return i * 16;
  let s = MIN_LARGE_SIZE;
  while (largebinIndex(s) < i) s += 16;
  return s;
}

/** Every non-empty bin and the tcache. */
export function snapshotBins(m: Ptmalloc): BinsSnapshot {
  const small: BinInfo[] = [];
  const large: BinInfo[] = [];
  for (let i = 2; i < NBINS; i++) {
    const chunks = binList(m, i);
    if (chunks.length === 0) continue;
    (i < 64 ? small : large).push({ index: i, size: smallestOfBin(i), chunks });
  }
  return {
    tcache: tcacheLists(m),
    fastbins: fastbinLists(m),
    unsorted: binList(m, 1),
    small,
    large,
    top: m.sbrkBase === 0 ? 0 : m.top,
    lastRemainder: m.lastRemainder,
  };
}

function locate(m: Ptmalloc): Map<number, Where> {
  const where = new Map<number, Where>();
  const put = (p: number, state: ChunkState, bin: number): void => {
    if (!where.has(p)) where.set(p, { state, bin });
  };
  const b = snapshotBins(m);
  for (const t of b.tcache) for (const p of t.chunks) put(p, "tcache", t.index);
  for (const f of b.fastbins) for (const p of f.chunks) put(p, "fastbin", f.index);
  for (const p of b.unsorted) put(p, "unsorted", 1);
  for (const s of b.small) for (const p of s.chunks) put(p, "small", s.index);
  for (const l of b.large) for (const p of l.chunks) put(p, "large", l.index);
  return where;
}

/** The heap's chunks, segment by segment, then the mmapped chunks. */
export function listChunks(m: Ptmalloc): ChunkInfo[] {
  const out: ChunkInfo[] = [];
  const where = locate(m);
  const top = m.top;
  const seg = m.segments;
  for (let s = 0; s < seg.length; s += 2) {
    const end = seg[s + 1]!;
    for (let p = seg[s]!; p < end && out.length < WALK_LIMIT; ) {
      const size = m.chunksize(p);
      const flags = m.flags(p);
      let state: ChunkState = "in-use";
      let bin = -1;
      if (p === top) state = "top";
      else if (size === CHUNK_HDR_SZ) state = "fencepost";
      else {
        const w = where.get(p);
        if (w !== undefined) {
          state = w.state;
          bin = w.bin;
        }
      }
      out.push({
        address: p,
        size,
        prevInuse: (flags & PREV_INUSE) !== 0,
        mmapped: (flags & IS_MMAPPED) !== 0,
        state,
        bin,
      });
      if (p === top || size < CHUNK_HDR_SZ) break;
      p += size;
    }
  }
  for (const p of [...m.mmapped.keys()].sort((x, y) => x - y)) {
    out.push({ address: p, size: m.chunksize(p), prevInuse: false, mmapped: true, state: "in-use", bin: -1 });
  }
  return out;
}

/**
 * Full invariant scan; throws CorruptionError naming the first violation.
 */
export function checkHeap(m: Ptmalloc): void {
  const top = m.top;
  const seg = m.segments;
  const systemMem = m.systemMem;
  if (m.sbrkBase === 0) {
    if (seg.length !== 0 || systemMem !== 0) fail("uninitialised arena owns memory");
  } else if (seg.length === 0) fail("initialised arena has no heap segment");

  // Bins: links, indices, order, binmap.
  const normal = new Map<number, number>();
  for (let i = 1; i < NBINS; i++) {
    const bin = m.binAt(i);
    let prev = bin;
    let n = 0;
    let lastSize = Number.POSITIVE_INFINITY;
    const heads: number[] = [];
    for (let p = m.fd(bin); p !== bin; p = m.fd(p)) {
      if (++n > WALK_LIMIT) fail(`bin ${i} does not end`);
      if (m.bk(p) !== prev) fail(`bin ${i}: chunk ${hex(p)} has bk ${hex(m.bk(p))}, expected ${hex(prev)}`);
      if (normal.has(p)) fail(`chunk ${hex(p)} is in bins ${normal.get(p)} and ${i}`);
      normal.set(p, i);
      const size = m.chunksize(p);
      if ((p & MALLOC_ALIGN_MASK) !== 0) fail(`bin ${i}: chunk ${hex(p)} is misaligned`);
      if (i >= 2 && i < 64 && size !== i * 16) fail(`small bin ${i} holds a chunk of size ${hex(size)}`);
      if (i >= 64) {
        if (largebinIndex(size) !== i) fail(`large bin ${i} holds a chunk of size ${hex(size)}`);
        if (size > lastSize) fail(`large bin ${i} is not sorted at ${hex(p)}`);
        if (size < lastSize) heads.push(p);
        else if (m.fdNext(p) !== 0) fail(`large bin ${i}: ${hex(p)} repeats a size but has fd_nextsize set`);
        lastSize = size;
      }
      prev = p;
    }
    if (m.bk(bin) !== prev) fail(`bin ${i}: head's bk is ${hex(m.bk(bin))}, expected ${hex(prev)}`);
    if (n > 0 && i >= 2) {
      const word = m.r32(m.av + AV_BINMAP + (i >>> 5) * 4);
      if ((word & (1 << (i & 31))) === 0) fail(`bin ${i} is not empty but its binmap bit is clear`);
    }
    for (let k = 0; k < heads.length; k++) {
      const h = heads[k]!;
      const next = heads[(k + 1) % heads.length]!;
      const before = heads[(k + heads.length - 1) % heads.length]!;
      if (m.fdNext(h) !== next || m.bkNext(h) !== before)
        fail(`large bin ${i}: nextsize links of ${hex(h)} are wrong`);
    }
  }

  // Fastbins.
  const cached = new Map<number, string>();
  let anyFast = false;
  for (let i = 0; i < NFASTBINS; i++) {
    let n = 0;
    for (let p = m.r64(m.fastbinAddr(i)); p !== 0; p = m.revealLoad(p + FD)) {
      if (++n > WALK_LIMIT) fail(`fastbin ${i} does not end`);
      anyFast = true;
      if ((p & MALLOC_ALIGN_MASK) !== 0) fail(`fastbin ${i}: chunk ${hex(p)} is misaligned`);
      if (fastbinIndex(m.chunksize(p)) !== i)
        fail(`fastbin ${i} holds a chunk of size ${hex(m.chunksize(p))}`);
      if (m.chunksize(p) > m.globalMaxFast) fail(`fastbin ${i} holds ${hex(p)} above max_fast`);
      if (cached.has(p) || normal.has(p)) fail(`chunk ${hex(p)} is in a fastbin and another bin`);
      cached.set(p, `fastbin ${i}`);
    }
  }
  if (anyFast && !m.haveFastchunks) fail("fastbins hold chunks but have_fastchunks is clear");

  // tcache.
  const tc = m.tcache;
  if (tc !== 0) {
    // tcache_init takes whatever _int_malloc gives for the struct: a chunk
    // of its size, or up to MINSIZE - 16 more when a free chunk is used
    // whole (a memalign before the first malloc can leave such a hole), or
    // a page of its own when mallopt(M_MMAP_THRESHOLD) lets sysmalloc mmap.
    const want = request2size(TCACHE_STRUCT_SIZE);
    const got = m.chunksize(tc - CHUNK_HDR_SZ);
    const fits =
      (m.flags(tc - CHUNK_HDR_SZ) & IS_MMAPPED) !== 0 ? got >= want : got >= want && got < want + MINSIZE;
    if (!fits) fail(`tcache_perthread_struct chunk has a wrong size: ${hex(got)}`);
    for (let i = 0; i < 64; i++) {
      const count = m.tcacheCountAt(i);
      if (i >= m.tcacheBins && count !== 0) fail(`tcache bin ${i} beyond tcache_bins holds chunks`);
      if (count > m.tcacheCount) fail(`tcache bin ${i} holds ${count} chunks, more than ${m.tcacheCount}`);
      let n = 0;
      for (let e = m.r64(tc + TCACHE_ENTRIES + i * 8); e !== 0; e = m.revealLoad(e)) {
        if (++n > count) fail(`tcache bin ${i} is longer than its count ${count}`);
        if ((e & MALLOC_ALIGN_MASK) !== 0) fail(`tcache bin ${i}: entry ${hex(e)} is misaligned`);
        const p = e - CHUNK_HDR_SZ;
        if (csize2tidx(m.chunksize(p)) !== i)
          fail(`tcache bin ${i} holds a chunk of size ${hex(m.chunksize(p))}`);
        if (m.r32(e + 8) !== m.keyLo || m.r32(e + 12) !== m.keyHi)
          fail(`tcache entry ${hex(e)} lacks tcache_key`);
        if (cached.has(p) || normal.has(p)) fail(`chunk ${hex(p)} is in tcache bin ${i} and another bin`);
        cached.set(p, `tcache bin ${i}`);
      }
      if (n !== count) fail(`tcache bin ${i} has ${n} chunks but count ${count}`);
    }
  }

  // Walk the heap.
  const seen = new Set<number>();
  let topSeen = false;
  for (let s = 0; s < seg.length; s += 2) {
    const start = seg[s]!;
    const end = seg[s + 1]!;
    const last = s === seg.length - 2;
    let prevFree = false;
    let first = true;
    let p = start;
    while (p < end) {
      const size = m.chunksize(p);
      const flags = m.flags(p);
      if ((flags & IS_MMAPPED) !== 0) fail(`heap chunk ${hex(p)} has IS_MMAPPED set`);
      if (first && (flags & PREV_INUSE) === 0) fail(`first chunk ${hex(p)} of a segment lacks PREV_INUSE`);
      first = false;
      if (p === top) {
        if (!last) fail("top is not in the last heap segment");
        if (p + size !== end) fail(`top ${hex(p)} of size ${hex(size)} does not end the heap at ${hex(end)}`);
        if (size < MINSIZE) fail(`top ${hex(p)} is smaller than MINSIZE`);
        if ((flags & PREV_INUSE) === 0) fail("top lacks PREV_INUSE");
        if (size > systemMem) fail("top is larger than system_mem");
        topSeen = true;
        break;
      }
      if (size === CHUNK_HDR_SZ) {
        // A fencepost: only at the end of an earlier segment.
        if (last || p + size > end) fail(`fencepost ${hex(p)} inside the live heap`);
        p += size;
        continue;
      }
      if (size < MINSIZE || (size & MALLOC_ALIGN_MASK) !== 0)
        fail(`chunk ${hex(p)} has a bad size ${hex(size)}`);
      if (p + size > end) fail(`chunk ${hex(p)} of size ${hex(size)} runs past its segment end ${hex(end)}`);
      const next = p + size;
      const free = (m.flags(next) & PREV_INUSE) === 0;
      if (((flags & PREV_INUSE) === 0) !== prevFree) {
        fail(
          `chunk ${hex(p)}: PREV_INUSE says the previous chunk is ${prevFree ? "in use" : "free"}, it is not`,
        );
      }
      if (free) {
        if (prevFree) fail(`free chunks ${hex(p)} and its predecessor were not coalesced`);
        if (!normal.has(p)) fail(`free chunk ${hex(p)} is in no bin`);
        if (m.prevSize(next) !== size) fail(`free chunk ${hex(p)} has no matching footer`);
        if (cached.has(p)) fail(`free chunk ${hex(p)} is in the ${cached.get(p)}`);
      } else if (normal.has(p)) {
        fail(`chunk ${hex(p)} is in bin ${normal.get(p)} but marked in use`);
      }
      seen.add(p);
      prevFree = free;
      p = next;
    }
  }
  if (m.sbrkBase !== 0 && !topSeen) fail(`top ${hex(top)} was not reached walking the heap`);
  for (const p of normal.keys()) if (!seen.has(p)) fail(`binned chunk ${hex(p)} is not a heap chunk`);
  for (const [p, where] of cached)
    if (!seen.has(p)) fail(`chunk ${hex(p)} in the ${where} is not a heap chunk`);
  // last_remainder is only ever compared with the unsorted bin's victim
  // (_int_malloc in malloc/malloc.c) and never reset: it may point at a
  // chunk merged away since, or past the end of a heap trimmed since
  // (systrim). It was a chunk once, so it is aligned like one.
  const lr = m.lastRemainder;
  if ((lr & MALLOC_ALIGN_MASK) !== 0) fail(`last_remainder ${hex(lr)} is not a chunk address`);
  // No test of max_system_mem against system_mem: glibc's systrim can grow
  // the heap (malloc_trim with top at MINSIZE) without raising the maximum.

  // mmapped chunks.
  let total = 0;
  for (const [p, len] of m.mmapped) {
    if ((m.flags(p) & IS_MMAPPED) === 0) fail(`mmapped chunk ${hex(p)} lost IS_MMAPPED`);
    if (m.prevSize(p) + m.chunksize(p) !== len) fail(`mmapped chunk ${hex(p)} does not span its mapping`);
    if (((p + CHUNK_HDR_SZ) & MALLOC_ALIGN_MASK) !== 0) fail(`mmapped chunk ${hex(p)} is misaligned`);
    total += len;
  }
  if (m.mmapped.size !== m.nMmaps) fail(`n_mmaps is ${m.nMmaps} but ${m.mmapped.size} chunks are mapped`);
  if (total !== m.mmappedMem) fail(`mmapped_mem is ${m.mmappedMem} but mapped chunks hold ${total}`);
}

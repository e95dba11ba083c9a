/**
 * FlatMemory: an address space that is one buffer, for allocators that run
 * without an MMU — over an ArrayBuffer, a SharedArrayBuffer or a
 * WebAssembly.Memory, where address N is byte N of the buffer, so a pointer
 * handed out here is usable as is by JavaScript typed arrays or by Wasm code.
 *
 * Implements {@link VirtualMemory}, {@link ProgramBreak} and {@link Mapper}.
 * Neighbours: libc and win32 run on these ports; a kernel process implements
 * the same ports with page tables, a TLB and demand paging.
 *
 * Layout:
 *
 *     0        brkBase            brk                         lowest mmap    limit
 *     |reserved|[heap] ──grows──► |       free (never mapped)   ◄── mmaps ──|
 *     (caller's data, e.g. Wasm static data; below mmapMinAddr)
 *
 * The program break starts at `brkBase` and moves with brk(2) semantics:
 * Linux's rules for shrinking below the start, for keeping one free page
 * between the new break and the next mapping, and for returning the
 * unchanged break on failure. mmap places mappings top-down from `limit`
 * (the highest free gap that fits, as Linux's default layout does), honours
 * hints, MAP_FIXED and MAP_FIXED_NOREPLACE, and checks its arguments in
 * Linux's order, returning the same negated errno.
 *
 * MAP_HUGETLB is refused as Linux refuses it with no huge pages reserved
 * (ENOMEM, after the same argument checks), even with MAP_NORESERVE, where
 * Linux maps it but faults on every touch: FlatMemory has no faults.
 *
 * Simplifies: there is no MMU. Protection is recorded (mprotect checks its
 * range and splits regions as Linux does) but not enforced, and every byte
 * of the buffer is accessible; only accesses outside the buffer fault. The
 * buffer grows (where it can) to cover the highest mapped byte, so the
 * first mmap grows a growable buffer to `limit`: a resizable ArrayBuffer or
 * WebAssembly.Memory commits host pages only when they are written.
 *
 * Zero fill: memory handed out by mmap, mremap or brk reads as zeros, as on
 * Linux. FlatMemory tracks which ranges are known to be zero (a buffer it
 * created itself, or one the caller declares with `assumeZeroed`) and
 * clears only the rest when it hands them out.
 */

import { PAGE_SIZE, type VirtAddr } from "./address.js";
import type { FlatBacking, FlatMemoryOptions, FlatRegion, WasmMemoryLike } from "./api.js";
import { CorruptionError, Fault, UsageError } from "./errors.js";
import {
  addU64,
  alignU64,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOMEM,
  EOPNOTSUPP,
  EPERM,
  errValueU64,
  hugePageBytes,
  isMadvice,
  isU64,
  LEGACY_MAP_MASK,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WIPEONFORK,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  pageAlignU64,
  STACK_GUARD_GAP,
} from "./linux-abi.js";
import type { Mapper } from "./ports/mapper.js";
import type { ProgramBreak } from "./ports/program-break.js";
import type { VirtualMemory } from "./ports/virtual-memory.js";
import { mremapArgsError, remapMove } from "./remap-move.js";

const PKG = "@memstack/core";
const WASM_PAGE = 65536;
/** Addresses are 32-bit, as in wasm32: the typed-array fast paths index with `>>>`. */
const MAX_FLAT_BYTES = 2 ** 32;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// A mapping. `account` and `noreserve` mirror Linux's VM_ACCOUNT and
// VM_NORESERVE, which take part in merging as in vma_merge(): a private
// writable mapping is charged, a MAP_NORESERVE one is not, and the two do not
// merge. Linux keeps the charge of a mapping made read-only once one of its
// pages was written (it has an anon_vma); FlatMemory sees no writes, so it
// behaves as Linux does for mappings never written.
interface Region {
  start: number;
  end: number;
  prot: number;
  shared: boolean;
  heap: boolean;
  account: boolean;
  noreserve: boolean;
  // The object behind a shared mapping (Linux: its own shmem file); 0 for
  // private memory. Pieces of one shared mapping merge again; two shared
  // mappings never do.
  object: number;
  // Page offset of `start` in that object (0 for private memory): pieces of
  // a shared mapping merge only where their offsets continue, as in Linux.
  pgoff: number;
  // The VMA flags madvise sets (ADV_* below): mappings that differ in them
  // do not merge, and advice on part of a mapping splits it.
  advice: number;
  // MAP_GROWSDOWN (VM_GROWSDOWN): no fault grows it here (there are none),
  // but it merges only with its like, and keeps the stack guard gap below
  // it free of new mappings that the kernel places.
  grows: boolean;
  // MAP_DROPPABLE (VM_DROPPABLE): memory never runs short here, so nothing
  // is dropped, but it merges only with its like and keeps its advice.
  droppable: boolean;
}

// vm_start_gap(): where the free space a region needs below it begins.
function startGap(r: Region): number {
  return r.grows ? Math.max(r.start - STACK_GUARD_GAP, 0) : r.start;
}

// madvise's VMA flags (Linux's VM_RAND_READ, VM_SEQ_READ, VM_DONTCOPY,
// VM_HUGEPAGE, VM_NOHUGEPAGE, VM_DONTDUMP, VM_WIPEONFORK, VM_MERGEABLE), as
// bits of Region.advice.
const ADV_RANDOM = 1;
const ADV_SEQUENTIAL = 2;
const ADV_DONTFORK = 4;
const ADV_HUGEPAGE = 8;
const ADV_NOHUGEPAGE = 16;
const ADV_DONTDUMP = 32;
const ADV_WIPEONFORK = 64;
const ADV_MERGEABLE = 128;

// A region's advice bits after `advice` (madvise_vma_behavior()); the
// caller has refused what a shared region may not take. `noKsm`: shared or
// droppable memory, which KSM does not scan (vma_ksm_compatible).
function advised(bits: number, advice: number, noKsm: boolean): number {
  switch (advice) {
    case MADV_NORMAL:
      return bits & ~(ADV_RANDOM | ADV_SEQUENTIAL);
    case MADV_RANDOM:
      return (bits & ~ADV_SEQUENTIAL) | ADV_RANDOM;
    case MADV_SEQUENTIAL:
      return (bits & ~ADV_RANDOM) | ADV_SEQUENTIAL;
    case MADV_DONTFORK:
      return bits | ADV_DONTFORK;
    case MADV_DOFORK:
      return bits & ~ADV_DONTFORK;
    case MADV_HUGEPAGE:
      return (bits & ~ADV_NOHUGEPAGE) | ADV_HUGEPAGE;
    case MADV_NOHUGEPAGE:
      return (bits & ~ADV_HUGEPAGE) | ADV_NOHUGEPAGE;
    case MADV_DONTDUMP:
      return bits | ADV_DONTDUMP;
    case MADV_DODUMP:
      return bits & ~ADV_DONTDUMP;
    case MADV_WIPEONFORK:
      return bits | ADV_WIPEONFORK;
    case MADV_KEEPONFORK:
      return bits & ~ADV_WIPEONFORK;
    // ksm_madvise(): memory KSM does not scan takes the advice as done.
    case MADV_MERGEABLE:
      return noKsm ? bits : bits | ADV_MERGEABLE;
    case MADV_UNMERGEABLE:
      return bits & ~ADV_MERGEABLE;
    default:
      return bits;
  }
}

// The part of region `r` from `start` on, with its page offset.
function tail(r: Region, start: number): Region {
  return { ...r, start, pgoff: r.shared ? r.pgoff + (start - r.start) / PAGE_SIZE : 0 };
}

function pageUp(n: number): number {
  const r = n % PAGE_SIZE;
  return r === 0 ? n : n + (PAGE_SIZE - r);
}

function isWasmMemory(m: FlatBacking): m is WasmMemoryLike {
  return typeof (m as WasmMemoryLike).grow === "function" && "buffer" in m;
}

/**
 * An address space over one ArrayBuffer, SharedArrayBuffer or
 * WebAssembly.Memory, without an MMU: loads and stores, brk and anonymous
 * mmap with Linux's semantics and error codes.
 */
export class FlatMemory implements VirtualMemory, ProgramBreak, Mapper {
  /** The top of the address space; mmap places mappings below it. */
  readonly limit: number;
  /** The initial program break. */
  readonly brkBase: number;
  /** The lowest address mmap may use. */
  readonly mmapMinAddr: number;

  readonly #backing: FlatBacking;
  #buffer!: ArrayBuffer | SharedArrayBuffer;
  #u8!: Uint8Array;
  #u16!: Uint16Array;
  #u32!: Uint32Array;
  #dv!: DataView;
  #size = 0;
  // Highest address where an access of 2, 4 or 8 bytes fits (negative when none does).
  #last2 = -1;
  #last4 = -1;
  #last8 = -1;
  #brk: number;
  #regions: Region[] = [];
  #objects = 0;
  // Disjoint, sorted [start, end) ranges known to hold only zeros.
  #zero: number[] = [];

  /**
   * @throws {UsageError} naming the option that is out of range.
   */
  constructor(options: FlatMemoryOptions = {}) {
    if (!LITTLE_ENDIAN_HOST) {
      throw new UsageError(
        PKG,
        "FlatMemory: this host is big-endian; FlatMemory needs a little-endian one",
        "options",
      );
    }
    let created = false;
    let backing = options.memory;
    if (backing === undefined) {
      const sizeBytes = options.sizeBytes ?? 1024 * 1024;
      const maxBytes = options.maxBytes ?? Math.max(sizeBytes, 1024 * 1024 * 1024);
      checkSize(sizeBytes, "sizeBytes");
      checkSize(maxBytes, "maxBytes");
      if (maxBytes < sizeBytes) {
        throw new UsageError(
          PKG,
          `FlatMemory: maxBytes ${maxBytes} is below sizeBytes ${sizeBytes}`,
          "maxBytes",
        );
      }
      backing = new ArrayBuffer(sizeBytes, { maxByteLength: maxBytes });
      created = true;
    }
    this.#backing = backing;
    this.#refresh();
    const capacity = isWasmMemory(backing)
      ? Number.POSITIVE_INFINITY
      : backing instanceof ArrayBuffer
        ? backing.maxByteLength
        : backing.maxByteLength;
    if (options.maxBytes !== undefined) checkSize(options.maxBytes, "maxBytes");
    if (options.maxBytes !== undefined && options.maxBytes > MAX_FLAT_BYTES) {
      throw new UsageError(
        PKG,
        `FlatMemory: addresses are 32-bit; maxBytes must be at most 4 GiB, got ${options.maxBytes}`,
        "maxBytes",
      );
    }
    const wanted =
      options.maxBytes ?? Math.min(isWasmMemory(backing) ? this.#size : capacity, MAX_FLAT_BYTES);
    if (wanted > capacity) {
      throw new UsageError(
        PKG,
        `FlatMemory: maxBytes ${wanted} exceeds what the memory can hold (${capacity})`,
        "maxBytes",
      );
    }
    this.limit = wanted - (wanted % PAGE_SIZE);
    const brkBase = options.brkBase ?? 65536;
    if (!Number.isSafeInteger(brkBase) || brkBase < 0 || brkBase % PAGE_SIZE !== 0 || brkBase >= this.limit) {
      throw new UsageError(
        PKG,
        `FlatMemory: brkBase must be a multiple of 4096 below the limit 0x${this.limit.toString(16)}, got ${brkBase}`,
        "brkBase",
      );
    }
    this.brkBase = brkBase;
    this.#brk = brkBase;
    const mmapMinAddr = options.mmapMinAddr ?? brkBase;
    if (!Number.isSafeInteger(mmapMinAddr) || mmapMinAddr < 0 || mmapMinAddr > this.limit) {
      throw new UsageError(
        PKG,
        `FlatMemory: mmapMinAddr must be in [0, limit], got ${mmapMinAddr}`,
        "mmapMinAddr",
      );
    }
    this.mmapMinAddr = pageUp(mmapMinAddr);
    if (created || options.assumeZeroed === true) this.#zero = [brkBase, this.limit];
  }

  /** The buffer behind the memory now (a WebAssembly.Memory replaces it when it grows). */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.#buffer;
  }

  /** Current size of the buffer in bytes. */
  get sizeBytes(): number {
    return this.#size;
  }

  /** The mappings, lowest first, the brk heap among them. */
  regions(): readonly FlatRegion[] {
    return this.#regions.map(({ start, end, prot, shared, heap }) => ({ start, end, prot, shared, heap }));
  }

  #refresh(): void {
    const b = this.#backing;
    this.#buffer = isWasmMemory(b) ? b.buffer : b;
    // Fixed-length views, made again after every growth: length-tracking ones are slower.
    const size = this.#buffer.byteLength;
    this.#u8 = new Uint8Array(this.#buffer, 0, size);
    // (Divided, not shifted: a 4 GiB buffer's length is 2^32, which >>> reads as 0.)
    this.#u16 = new Uint16Array(this.#buffer, 0, Math.floor(size / 2));
    this.#u32 = new Uint32Array(this.#buffer, 0, Math.floor(size / 4));
    this.#dv = new DataView(this.#buffer, 0, size);
    this.#size = size;
    this.#last2 = size - 2;
    this.#last4 = size - 4;
    this.#last8 = size - 8;
  }

  // Grows the buffer to cover [0, end). Returns false when it cannot.
  #ensure(end: number): boolean {
    if (end <= this.#size) return true;
    if (end > this.limit) return false;
    const b = this.#backing;
    try {
      if (isWasmMemory(b)) {
        b.grow(Math.ceil((end - this.#size) / WASM_PAGE));
      } else if (b instanceof ArrayBuffer) {
        if (!b.resizable) return false;
        b.resize(end);
      } else {
        if (!b.growable) return false;
        b.grow(end);
      }
    } catch {
      return false;
    }
    this.#refresh();
    return this.#size >= end;
  }

  // ---------------------------------------------------------------- access

  // The fast paths below use typed arrays indexed by address / width: one
  // test `(addr >>> k) * 2^k === addr` proves the address aligned, integral,
  // non-negative and below 4 GiB at once. (A DataView call through a method
  // costs several times a typed-array load in V8, and a length-tracking one
  // over a resizable buffer more still, so DataView serves only unaligned
  // accesses.) Typed arrays use the host's byte order: the constructor
  // refuses a big-endian host.

  // Turns a failed bounds check into the right error: a RangeError for an
  // address that is no address at all, a Fault for one outside the buffer.
  #refuse(addr: number, size: number, access: "read" | "write"): never {
    if (!Number.isSafeInteger(addr) || addr < 0) {
      throw new UsageError(PKG, `FlatMemory: addr must be a non-negative safe integer, got ${addr}`, "addr");
    }
    throw new Fault(
      PKG,
      addr + size > this.#size && addr < this.#size ? this.#size : addr,
      access,
      "not-mapped",
    );
  }

  // An unaligned access inside the buffer goes through the DataView; anything else is refused.
  #unaligned(addr: number, size: number, access: "read" | "write"): DataView {
    if (addr >>> 0 !== addr || addr > this.#size - size) this.#refuse(addr, size, access);
    return this.#dv;
  }

  loadU8(addr: VirtAddr): number {
    if (addr >>> 0 === addr && addr < this.#size) return this.#u8[addr]!;
    this.#refuse(addr, 1, "read");
  }

  loadU16(addr: VirtAddr): number {
    const i = addr >>> 1;
    if (i * 2 === addr && addr <= this.#last2) return this.#u16[i]!;
    return this.#unaligned(addr, 2, "read").getUint16(addr, true);
  }

  loadU32(addr: VirtAddr): number {
    const i = addr >>> 2;
    if (i * 4 === addr && addr <= this.#last4) return this.#u32[i]!;
    return this.#unaligned(addr, 4, "read").getUint32(addr, true);
  }

  loadU64(addr: VirtAddr): number {
    const i = addr >>> 2;
    let lo: number;
    let hi: number;
    if (i * 4 === addr && addr <= this.#last8) {
      lo = this.#u32[i]!;
      hi = this.#u32[i + 1]!;
    } else {
      const dv = this.#unaligned(addr, 8, "read");
      lo = dv.getUint32(addr, true);
      hi = dv.getUint32(addr + 4, true);
    }
    if (hi >= 0x200000) {
      throw new UsageError(
        PKG,
        `FlatMemory.loadU64: the u64 at 0x${addr.toString(16)} exceeds 2^53 - 1; load it as two u32 words`,
        "addr",
      );
    }
    return hi * 4294967296 + lo;
  }

  storeU8(addr: VirtAddr, value: number): void {
    if (addr >>> 0 === addr && addr < this.#size) {
      this.#u8[addr] = value;
      return;
    }
    this.#refuse(addr, 1, "write");
  }

  storeU16(addr: VirtAddr, value: number): void {
    const i = addr >>> 1;
    if (i * 2 === addr && addr <= this.#last2) this.#u16[i] = value;
    else this.#unaligned(addr, 2, "write").setUint16(addr, value, true);
  }

  storeU32(addr: VirtAddr, value: number): void {
    const i = addr >>> 2;
    if (i * 4 === addr && addr <= this.#last4) this.#u32[i] = value;
    else this.#unaligned(addr, 4, "write").setUint32(addr, value, true);
  }

  storeU64(addr: VirtAddr, value: number): void {
    const i = addr >>> 2;
    const aligned = i * 4 === addr && addr <= this.#last8;
    const dv = aligned ? null : this.#unaligned(addr, 8, "write");
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && value % 1 === 0)) {
      throw new UsageError(
        PKG,
        `FlatMemory.storeU64: value must be a non-negative safe integer, got ${value}`,
        "value",
      );
    }
    const lo = value >>> 0;
    const hi = (value - lo) / 4294967296;
    if (dv === null) {
      this.#u32[i] = lo;
      this.#u32[i + 1] = hi;
    } else {
      dv.setUint32(addr, lo, true);
      dv.setUint32(addr + 4, hi, true);
    }
  }

  #checkRange(addr: number, length: number, access: "read" | "write"): void {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new UsageError(
        PKG,
        `FlatMemory: length must be a non-negative safe integer, got ${length}`,
        "length",
      );
    }
    if (!(addr >= 0 && addr + length <= this.#size && addr % 1 === 0)) this.#refuse(addr, length, access);
  }

  loadBytes(addr: VirtAddr, dest: Uint8Array): void {
    this.#checkRange(addr, dest.length, "read");
    dest.set(this.#u8.subarray(addr, addr + dest.length));
  }

  storeBytes(addr: VirtAddr, src: Uint8Array): void {
    this.#checkRange(addr, src.length, "write");
    this.#u8.set(src, addr);
  }

  fill(addr: VirtAddr, length: number, byte: number): void {
    this.#checkRange(addr, length, "write");
    this.#u8.fill(byte, addr, addr + length);
  }

  copy(dest: VirtAddr, src: VirtAddr, length: number): void {
    this.#checkRange(src, length, "read");
    this.#checkRange(dest, length, "write");
    this.#u8.copyWithin(dest, src, src + length);
  }

  // --------------------------------------------------------------- regions

  // Index of the first region whose end is above addr.
  #find(addr: number): number {
    let lo = 0;
    let hi = this.#regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#regions[mid]!.end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #overlaps(start: number, end: number): boolean {
    const r = this.#regions[this.#find(start)];
    return r !== undefined && r.start < end;
  }

  // Removes [start, end) from the region list, splitting regions at its edges.
  #remove(start: number, end: number): void {
    const i = this.#find(start);
    const keep: Region[] = [];
    let j = i;
    for (; j < this.#regions.length; j++) {
      const r = this.#regions[j]!;
      if (r.start >= end) break;
      if (r.start < start) keep.push({ ...r, end: start });
      if (r.end > end) keep.push(tail(r, end));
    }
    this.#regions.splice(i, j - i, ...keep);
  }

  // Inserts a region into a free range and merges it with equal neighbours.
  #insert(region: Region): void {
    const i = this.#find(region.start);
    this.#regions.splice(i, 0, region);
    this.#mergeAround(i);
  }

  #mergeable(a: Region, b: Region): boolean {
    return (
      a.end === b.start &&
      a.prot === b.prot &&
      a.shared === b.shared &&
      a.heap === b.heap &&
      a.account === b.account &&
      a.noreserve === b.noreserve &&
      a.object === b.object &&
      a.advice === b.advice &&
      a.grows === b.grows &&
      a.droppable === b.droppable &&
      (!a.shared || a.pgoff + (a.end - a.start) / PAGE_SIZE === b.pgoff)
    );
  }

  // Merges region i with its right neighbour, then its left one.
  #mergeAround(i: number): void {
    const rs = this.#regions;
    if (i + 1 < rs.length && this.#mergeable(rs[i]!, rs[i + 1]!)) {
      rs[i]!.end = rs[i + 1]!.end;
      rs.splice(i + 1, 1);
    }
    if (i > 0 && this.#mergeable(rs[i - 1]!, rs[i]!)) {
      rs[i - 1]!.end = rs[i]!.end;
      rs.splice(i, 1);
    }
  }

  // Makes [start, end) read as zeros, clearing only what is not known zero,
  // and marks it as in use (no longer known zero).
  #handOut(start: number, end: number): void {
    const z = this.#zero;
    const next: number[] = [];
    let cursor = start;
    for (let k = 0; k < z.length; k += 2) {
      const zs = z[k]!;
      const ze = z[k + 1]!;
      if (ze <= start || zs >= end) {
        next.push(zs, ze);
        continue;
      }
      if (zs > cursor) this.#u8.fill(0, cursor, zs);
      cursor = Math.max(cursor, ze);
      if (zs < start) next.push(zs, start);
      if (ze > end) next.push(end, ze);
    }
    if (cursor < end) this.#u8.fill(0, cursor, end);
    this.#zero = next;
  }

  // The highest free gap in [low, limit) that holds `length` bytes; -1 if
  // none. A gap under a region that grows down ends at its stack guard gap
  // (unmapped_area_topdown() searches again below vm_start_gap()).
  #topDown(length: number): number {
    let ceiling = this.limit;
    for (let i = this.#regions.length - 1; i >= -1; i--) {
      const floor = i >= 0 ? this.#regions[i]!.end : this.mmapMinAddr;
      const lowest = Math.max(floor, this.mmapMinAddr);
      if (ceiling - lowest >= length) return ceiling - length;
      if (i >= 0) ceiling = Math.min(ceiling, startGap(this.#regions[i]!));
      if (ceiling <= this.mmapMinAddr) break;
    }
    return -1;
  }

  // ---------------------------------------------------------------- brk(2)

  brk(addr: number): number {
    checkU64(addr, "addr", "brk");
    const old = this.#brk;
    // mm/mmap.c: a break below the start of the heap is refused.
    if (addr < this.brkBase) return old;
    const newTop = pageUp(addr);
    const oldTop = pageUp(old);
    if (newTop === oldTop) {
      this.#brk = addr;
      return addr;
    }
    if (addr <= old) {
      this.#remove(newTop, oldTop);
      this.#brk = addr;
      return addr;
    }
    // Growing: the new top plus one guard page must stay below the next
    // mapping (below its stack guard gap when it grows down).
    const next = this.#regions[this.#find(oldTop)];
    if (next !== undefined && startGap(next) < newTop + PAGE_SIZE) return old;
    if (newTop > this.limit || !this.#ensure(newTop)) return old;
    this.#handOut(oldTop, newTop);
    this.#insert({
      start: oldTop,
      end: newTop,
      prot: PROT_READ | PROT_WRITE,
      shared: false,
      heap: true,
      account: true,
      noreserve: false,
      object: 0,
      pgoff: 0,
      advice: 0,
      grows: false,
      droppable: false,
    });
    this.#brk = addr;
    return addr;
  }

  /**
   * sbrk(3): moves the break by `increment` bytes.
   *
   * @returns the previous break, or -1 when the move was refused.
   */
  sbrk(increment: number): number {
    if (!Number.isSafeInteger(increment)) {
      throw new UsageError(PKG, `sbrk: increment must be a safe integer, got ${increment}`, "increment");
    }
    const old = this.#brk;
    if (increment === 0) return old;
    const wanted = old + increment;
    if (wanted < 0) return -1;
    return this.brk(wanted) < wanted ? -1 : old;
  }

  // --------------------------------------------------------------- mmap(2)

  mmap(addr: number, length: number, prot: number, flags: number): number {
    checkU64(addr, "addr", "mmap");
    checkU64(length, "length", "mmap");
    checkArg(prot, "prot", "mmap");
    checkArg(flags, "flags", "mmap");
    // The order of checks follows ksys_mmap_pgoff(), do_mmap() and __get_unmapped_area().
    // MAP_HUGETLB asks for a page size from the hugetlb pool: EINVAL for a size there is none of.
    const hugetlb = (flags & MAP_HUGETLB) !== 0;
    const huge = hugetlb ? hugePageBytes(flags) : 0;
    if (hugetlb && huge === 0) return -EINVAL;
    if (length === 0) return -EINVAL;
    let fixed = (flags & MAP_FIXED) !== 0;
    let hint = addr;
    if (!fixed) {
      hint -= hint % PAGE_SIZE;
      if (hint !== 0 && hint < this.mmapMinAddr) hint = this.mmapMinAddr;
    }
    // ALIGN() of an unsigned long: a length within a page of 2^64 wraps to
    // 0, which do_mmap() refuses with ENOMEM; ksys_mmap_pgoff() aligns a
    // hugetlb length before do_mmap(), whose first test (!len) is EINVAL.
    const len = hugetlb ? alignU64(length, huge) : pageAlignU64(length);
    if (len === 0) return hugetlb ? -EINVAL : -ENOMEM;
    if (len > this.limit) return -ENOMEM;
    if ((flags & MAP_FIXED_NOREPLACE) !== 0) fixed = true;
    // hugetlb_get_unmapped_area(): a fixed address must be a huge page boundary.
    if (hugetlb && fixed && addr % huge !== 0) return -EINVAL;
    const start = fixed ? addr : this.#place(hint, len);
    if (start < 0) return -ENOMEM;
    // IS_ERR_VALUE() in __get_unmapped_area(): a fixed address among the last
    // 4095 below 2^64 reads as an error code, which mmap returns as it is.
    const err = errValueU64(start);
    if (err !== 0) return err;
    if (start > this.limit - len) return -ENOMEM;
    if (start % PAGE_SIZE !== 0) return -EINVAL;
    if (start < this.mmapMinAddr) return -EPERM;
    if ((flags & MAP_FIXED_NOREPLACE) !== 0 && this.#overlaps(start, start + len)) return -EEXIST;
    const type = flags & MAP_TYPE;
    if (hugetlb) {
      // A hugetlbfs file's mapping (do_mmap): shared, validated (EOPNOTSUPP
      // for a bit outside LEGACY_MAP_MASK) or private, never a stack. Then
      // the reservation: FlatMemory has no huge pages, and no fault to give
      // the SIGBUS that every touch of a MAP_NORESERVE mapping earns on
      // Linux, so it refuses that mapping too: ENOMEM, Linux's answer with an
      // empty pool, after a fixed range is unmapped as Linux leaves it.
      if (type === MAP_SHARED_VALIDATE && (flags & ~LEGACY_MAP_MASK) !== 0) return -EOPNOTSUPP;
      if (type !== MAP_SHARED && type !== MAP_SHARED_VALIDATE && type !== MAP_PRIVATE) return -EINVAL;
      if ((flags & MAP_GROWSDOWN) !== 0) return -EINVAL;
      if (fixed) this.#remove(start, start + len);
      return -ENOMEM;
    }
    // An anonymous mapping takes MAP_SHARED or MAP_PRIVATE; anything else,
    // MAP_SHARED_VALIDATE included, is EINVAL (do_mmap's anonymous branch).
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_DROPPABLE) return -EINVAL;
    // Droppable memory is neither a stack nor locked (do_mmap).
    const droppable = type === MAP_DROPPABLE;
    if (droppable && (flags & (MAP_GROWSDOWN | MAP_LOCKED)) !== 0) return -EINVAL;
    // Anonymous shared memory cannot grow down (do_mmap).
    if (type === MAP_SHARED && (flags & MAP_GROWSDOWN) !== 0) return -EINVAL;
    if (!this.#ensure(start + len)) return -ENOMEM;
    this.#remove(start, start + len);
    this.#handOut(start, start + len);
    const shared = type === MAP_SHARED;
    // do_mmap(): MAP_NORESERVE sets VM_NORESERVE (overcommit is never "never"
    // here); a private writable mapping without it is charged: VM_ACCOUNT.
    // Droppable memory is never charged, is wiped in a child and left out of core dumps.
    const noreserve = (flags & MAP_NORESERVE) !== 0 || droppable;
    const account = !shared && !noreserve && (prot & PROT_WRITE) !== 0;
    const object = shared ? ++this.#objects : 0;
    this.#insert({
      start,
      end: start + len,
      prot: prot & 7,
      shared,
      heap: false,
      account,
      noreserve,
      object,
      pgoff: 0,
      advice: droppable ? ADV_WIPEONFORK | ADV_DONTDUMP : 0,
      grows: (flags & MAP_GROWSDOWN) !== 0,
      droppable,
    });
    return start;
  }

  munmap(addr: number, length: number): number {
    checkU64(addr, "addr", "munmap");
    checkU64(length, "length", "munmap");
    // do_vmi_munmap(): unaligned start, empty or out-of-range length are EINVAL.
    if (addr % PAGE_SIZE !== 0 || addr > this.limit || length > this.limit - addr) return -EINVAL;
    const len = pageAlignU64(length);
    if (len === 0) return -EINVAL;
    this.#remove(addr, addr + len);
    return 0;
  }

  mprotect(addr: number, length: number, prot: number): number {
    checkU64(addr, "addr", "mprotect");
    checkU64(length, "length", "mprotect");
    checkArg(prot, "prot", "mprotect");
    // Order of do_mprotect_pkey() in mm/mprotect.c.
    const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    if (length === 0) return 0;
    // end = start + PAGE_ALIGN(len) wraps at 2^64: an end at or below the start is ENOMEM.
    const end = addU64(addr, pageAlignU64(length));
    if (end <= addr) return -ENOMEM;
    const bits = prot & ~grows;
    if ((bits & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) !== 0) return -EINVAL;
    let i = this.#find(addr);
    const first = this.#regions[i];
    // PROT_GROWSDOWN extends the range down to the start of the first VMA
    // below `end`, which must grow down (MAP_GROWSDOWN). PROT_GROWSUP needs
    // VM_GROWSUP, which x86 lacks.
    let cursor = addr;
    if ((grows & PROT_GROWSDOWN) !== 0) {
      if (first === undefined || first.start >= end) return -ENOMEM;
      if (!first.grows) return -EINVAL;
      cursor = first.start;
    }
    if (first === undefined || first.start > cursor) return -ENOMEM;
    if ((grows & PROT_GROWSUP) !== 0) return -EINVAL;
    // Change region by region; a hole stops the walk with ENOMEM, leaving the
    // regions before it changed, as Linux does.
    while (cursor < end) {
      const r = this.#regions[i];
      if (r === undefined || r.start > cursor) return -ENOMEM;
      const stop = Math.min(r.end, end);
      if (r.prot !== (bits & 7)) {
        const pieces: Region[] = [];
        if (r.start < cursor) pieces.push({ ...r, end: cursor });
        // mprotect_fixup(): making a private, uncharged mapping writable charges
        // it (VM_ACCOUNT); making it unwritable again drops the charge only
        // while no page has been faulted in (no anon_vma). FlatMemory has no
        // page faults, so it is always in that case.
        const account = (bits & PROT_WRITE) !== 0 && !r.shared && !r.noreserve;
        pieces.push({ ...tail(r, cursor), end: stop, prot: bits & 7, account });
        if (r.end > stop) pieces.push(tail(r, stop));
        this.#regions.splice(i, 1, ...pieces);
        const changed = r.start < cursor ? i + 1 : i;
        this.#mergeAround(changed);
      }
      cursor = stop;
      i = this.#find(cursor);
    }
    return 0;
  }

  madvise(addr: number, length: number, advice: number): number {
    checkU64(addr, "addr", "madvise");
    checkU64(length, "length", "madvise");
    checkArg(advice, "advice", "madvise");
    if (!isMadvice(advice)) return -EINVAL;
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    // is_valid_madvise(): a length that PAGE_ALIGN wraps to 0, or an end
    // that wraps below the start, is EINVAL.
    const len = pageAlignU64(length);
    if (length !== 0 && len === 0) return -EINVAL;
    const end = addU64(addr, len);
    if (end < addr) return -EINVAL;
    if (len === 0) return 0;
    if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE) {
      // madvise_populate(): every page is already there; what remains is its
      // refusals, mapping by mapping: a hole is ENOMEM, a mapping the access
      // is not allowed in EINVAL.
      const need = advice === MADV_POPULATE_WRITE ? PROT_WRITE : PROT_READ;
      for (let cursor = addr; cursor < end; ) {
        const r = this.#regions[this.#find(cursor)];
        if (r === undefined || r.start > cursor) return -ENOMEM;
        if ((r.prot & need) === 0) return -EINVAL;
        cursor = Math.min(r.end, end);
      }
      return 0;
    }
    let unmapped = false;
    let cursor = addr;
    // madvise_walk_vmas(): mapping by mapping; a hole is remembered (ENOMEM
    // at the end), an error stops the walk with what went before done.
    while (cursor < end) {
      let i = this.#find(cursor);
      const r = this.#regions[i];
      if (r === undefined || r.start >= end) {
        unmapped = true;
        break;
      }
      if (r.start > cursor) unmapped = true;
      const from = Math.max(r.start, cursor);
      const to = Math.min(r.end, end);
      // Only private anonymous memory can be freed lazily; its pages then keep
      // their contents until memory runs short, which FlatMemory never does.
      if (advice === MADV_FREE && r.shared) return -EINVAL;
      // Only private anonymous memory can be wiped in a child (madvise_vma_behavior).
      if (advice === MADV_WIPEONFORK && r.shared) return -EINVAL;
      // Droppable memory is always wiped in a child and left out of core dumps.
      if ((advice === MADV_KEEPONFORK || advice === MADV_DODUMP) && r.droppable) return -EINVAL;
      // MADV_REMOVE punches a hole in the file behind a shared mapping
      // (madvise_remove): a private anonymous one has no file.
      if (advice === MADV_REMOVE && !r.shared) return -EINVAL;
      // Private anonymous pages are dropped and read back as zeros; shared
      // ones keep their contents, unless a hole is punched under them.
      // (MADV_DONTNEED_LOCKED differs only on locked memory: FlatMemory has none.)
      // Installing guard pages drops the contents as MADV_DONTNEED does; the
      // guard itself (SIGSEGV on access) is protection, which FlatMemory
      // records nowhere, so the pages then read as zeros.
      if (
        ((advice === MADV_DONTNEED || advice === MADV_DONTNEED_LOCKED || advice === MADV_GUARD_INSTALL) &&
          !r.shared) ||
        advice === MADV_REMOVE
      )
        this.#u8.fill(0, from, to);
      const bits = advised(r.advice, advice, r.shared || r.droppable);
      if (bits !== r.advice) {
        // madvise_update_vma(): a flag change splits the mapping as mprotect does.
        const pieces: Region[] = [];
        if (r.start < from) pieces.push({ ...r, end: from });
        pieces.push({ ...tail(r, from), end: to, advice: bits });
        if (r.end > to) pieces.push(tail(r, to));
        this.#regions.splice(i, 1, ...pieces);
        if (r.start < from) i++;
        this.#mergeAround(i);
      }
      cursor = to;
    }
    return unmapped ? -ENOMEM : 0;
  }

  mremap(oldAddr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): number {
    checkU64(oldAddr, "oldAddr", "mremap");
    checkU64(oldLength, "oldLength", "mremap");
    checkU64(newLength, "newLength", "mremap");
    checkArg(flags, "flags", "mremap");
    checkU64(newAddr, "newAddr", "mremap");
    // do_mremap() in Linux 6.18's mm/mremap.c: the lengths page-aligned,
    // the argument checks (check_mremap_params), then a pure move to a fixed
    // place, which may take several mappings at once (remap_move), or the
    // checks against the mapping at oldAddr (check_prep_vma) and a resize
    // in place (mremap_at) or a move (mremap_to).
    const oldLen = pageAlignU64(oldLength);
    const newLen = pageAlignU64(newLength);
    // The buffer's end plays the part of TASK_SIZE.
    const bad = mremapArgsError(oldAddr, oldLen, newLen, flags, newAddr, this.limit);
    if (bad !== 0) return bad;
    const impliesNew = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
    if ((flags & MREMAP_FIXED) !== 0 && oldLen === newLen)
      return this.#remapMove(oldAddr, oldLen, flags, newAddr);
    const r = this.#regions[this.#find(oldAddr)];
    const err = this.#checkRemap(r, oldAddr, oldLen, newLen, flags);
    if (err !== 0) return err;
    if (impliesNew) return this.#remapTo(oldAddr, oldLen, newLen, flags, newAddr);
    return this.#remapAt(r!, oldAddr, oldLen, newLen, flags);
  }

  // check_prep_vma(): the mapping must hold the part of the old range that
  // stays mapped, unless the call only shrinks or keeps the size in place.
  // A zero old length would duplicate a shared mapping, which one flat
  // buffer cannot alias, so it is refused like a private one.
  #checkRemap(r: Region | undefined, addr: number, oldLen: number, newLen: number, flags: number): number {
    if (r === undefined || r.start > addr) return -EFAULT;
    if (newLen <= oldLen && (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) === 0) return 0;
    if (oldLen === 0) return -EINVAL;
    if (Math.min(oldLen, newLen) > r.end - addr) return -EFAULT;
    return 0;
  }

  // mremap_at(): shrink by unmapping the tail (even past the mapping's end);
  // grow in place when the old range ends the mapping and the space after
  // it is free; else move (MREMAP_MAYMOVE) top-down.
  #remapAt(r: Region, oldAddr: number, oldLen: number, newLen: number, flags: number): number {
    if (newLen <= oldLen) {
      // The tail goes through munmap's own checks: one past the address
      // space's end (an old length near 2^64) is EINVAL.
      const u = newLen < oldLen ? this.munmap(oldAddr + newLen, oldLen - newLen) : 0;
      return u < 0 ? u : oldAddr;
    }
    const growEnd = oldAddr + newLen;
    if (
      oldAddr + oldLen === r.end &&
      growEnd <= this.limit &&
      !this.#overlaps(r.end, growEnd) &&
      this.#ensure(growEnd)
    ) {
      this.#handOut(r.end, growEnd);
      this.#insert({ ...tail(r, r.end), end: growEnd, heap: false });
      return oldAddr;
    }
    if ((flags & MREMAP_MAYMOVE) === 0) return -ENOMEM;
    const to = this.#topDown(newLen);
    if (to < 0 || !this.#ensure(to + newLen)) return -ENOMEM;
    return this.#move(r, oldAddr, oldLen, to, newLen, flags);
  }

  // mremap_to(): a move to newAddr (MREMAP_FIXED: exactly there, after
  // unmapping it; MREMAP_DONTUNMAP alone: as a hint). A shrink unmaps the
  // tail first and the rest moves at its new length.
  #remapTo(oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
    // mremap_to(): the target is unmapped first, then the tail of a shrink,
    // each by munmap with its checks (the first error ends the call).
    if ((flags & MREMAP_FIXED) !== 0) {
      const u = this.munmap(newAddr, newLen);
      if (u < 0) return u;
    }
    let len = oldLen;
    if (newLen < oldLen) {
      const u = this.munmap(oldAddr + newLen, oldLen - newLen);
      if (u < 0) return u;
      len = newLen;
    }
    const r = this.#regions[this.#find(oldAddr)];
    if (r === undefined || r.start > oldAddr) return -EFAULT;
    let to: number;
    if ((flags & MREMAP_FIXED) !== 0) {
      if (newAddr < this.mmapMinAddr) return -EPERM;
      to = newAddr;
    } else {
      to = this.#place(newAddr, newLen);
      if (to < 0) return -ENOMEM;
    }
    if (!this.#ensure(to + newLen)) return -ENOMEM;
    return this.#move(r, oldAddr, len, to, newLen, flags);
  }

  // remap_move(): MREMAP_FIXED at the same length moves every mapping of
  // the range, each piece checked and moved as mremap_to() does one.
  #remapMove(start: number, len: number, flags: number, newAddr: number): number {
    return remapMove(
      start,
      len,
      newAddr,
      (addr) => this.#regions[this.#find(addr)],
      (r, from, n, to) => this.#checkRemap(r, from, n, n, flags) || this.#remapTo(from, n, n, flags, to),
    );
  }

  // A free range for `length` bytes: the hint if it ends at or below the
  // start gap of the region above it, else top-down; -1 if none.
  #place(hint: number, length: number): number {
    if (hint !== 0 && hint >= this.mmapMinAddr && hint + length <= this.limit) {
      const next = this.#regions[this.#find(hint)];
      if (next === undefined || hint + length <= startGap(next)) return hint;
    }
    return this.#topDown(length);
  }

  // Moves the contents of [oldAddr, oldAddr + oldLen) to the free range at `to`.
  #move(r: Region, oldAddr: number, oldLen: number, to: number, newLen: number, flags: number): number {
    this.#handOut(to, to + newLen);
    this.#u8.copyWithin(to, oldAddr, oldAddr + Math.min(oldLen, newLen));
    const moved: Region = { ...tail(r, oldAddr), start: to, end: to + newLen, heap: false };
    if ((flags & MREMAP_DONTUNMAP) !== 0) {
      // The old range stays mapped but empty: its private pages read as zeros.
      this.#u8.fill(0, oldAddr, oldAddr + oldLen);
    } else {
      this.#remove(oldAddr, oldAddr + oldLen);
    }
    this.#insert(moved);
    return to;
  }

  /**
   * Verifies the region list: sorted, disjoint, page-aligned, inside
   * [mmapMinAddr or brkBase, limit), equal neighbours merged, the heap
   * covering exactly [brkBase, page-rounded break), and the known-zero
   * ranges disjoint from every mapping.
   *
   * @throws {CorruptionError} describing the first violation.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new CorruptionError(PKG, `FlatMemory: ${what}`);
    };
    let prev: Region | undefined;
    let heapBytes = 0;
    for (const r of this.#regions) {
      if (r.start % PAGE_SIZE !== 0 || r.end % PAGE_SIZE !== 0 || r.start >= r.end) {
        fail(`region [0x${r.start.toString(16)}, 0x${r.end.toString(16)}) is empty or unaligned`);
      }
      if (r.end > this.limit || r.end > this.#size)
        fail(`region ending at 0x${r.end.toString(16)} passes the memory`);
      if (r.start < Math.min(this.mmapMinAddr, this.brkBase))
        fail(`region at 0x${r.start.toString(16)} is below the minimum`);
      if (prev !== undefined) {
        if (prev.end > r.start) fail(`regions overlap at 0x${r.start.toString(16)}`);
        if (this.#mergeable(prev, r)) fail(`equal regions meet unmerged at 0x${r.start.toString(16)}`);
      }
      if (r.heap) {
        if (r.start < this.brkBase || r.end > pageUp(this.#brk)) fail(`heap region outside [brkBase, brk)`);
        heapBytes += r.end - r.start;
      }
      prev = r;
    }
    if (this.#brk < this.brkBase) fail(`break 0x${this.#brk.toString(16)} is below brkBase`);
    // The heap may have lost pages to MAP_FIXED mappings, never gained extra ones.
    if (heapBytes > pageUp(this.#brk) - this.brkBase) fail("heap regions exceed the break");
    const z = this.#zero;
    for (let k = 0; k < z.length; k += 2) {
      if (z[k]! >= z[k + 1]! || (k > 0 && z[k - 1]! > z[k]!))
        fail("known-zero ranges are not sorted and disjoint");
      if (this.#overlaps(z[k]!, z[k + 1]!)) fail(`known-zero range at 0x${z[k]!.toString(16)} is mapped`);
    }
  }
}

function checkSize(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(PKG, `FlatMemory: ${name} must be a positive safe integer, got ${n}`, name);
  }
}

// An address or length of the mmap family: an unsigned long (see the Mapper port).
function checkU64(n: number, name: string, fn: string): void {
  if (!isU64(n)) {
    throw new UsageError(PKG, `FlatMemory.${fn}: ${name} must be an integer in [0, 2^64), got ${n}`, name);
  }
}

function checkArg(n: number, name: string, fn: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(
      PKG,
      `FlatMemory.${fn}: ${name} must be a non-negative safe integer, got ${n}`,
      name,
    );
  }
}

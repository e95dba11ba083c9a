/**
 * Mmu: the memory-management unit of one CPU — page tables in simulated RAM
 * (x86-64 4-level or RISC-V Sv39), a multi-level PCID-tagged TLB, and loads
 * and stores through the current address space that fault the way hardware
 * does, with page faults handed to a registered handler first.
 *
 * Models: CR3/satp (the current address space and its PCID/ASID), CPL (user
 * or supervisor), the TLB lookup on every access, the page walk on a miss,
 * Accessed/Dirty updates (a write through an entry cached clean walks again
 * to set D, as Intel does), page faults with the real error code, and the
 * rule that a page fault drops the faulting address's TLB entries (Intel SDM
 * vol. 3A §4.10.4.1). Implements core's {@link MemoryManagementUnit}, and so
 * {@link VirtualMemory}.
 *
 * Simplifies: one CPU (no shootdowns); CR0.WP = 1, SMEP/SMAP off; no
 * paging-structure caches; instruction fetches use the same TLB as data.
 * Neighbours: page-tables.ts edits the tables, page-walk.ts walks them,
 * tlb.ts caches translations; the kernel drives all of it through the port.
 *
 * Fast path. A hit must cost a few typed-array operations, so the MMU keeps
 * three tiers in front of the modelled TLB, each a strict cache of it:
 *
 *     registers (two pages)    off = addr - base; hit iff off === (off & 0xffc)
 *        │ miss                 → u32[(byte + off) >>> 2] of the frame's slab
 *        ▼                      (the current page, then the one used before it)
 *     owned host entries       the same test against hRead[e] / hWrite[e],
 *        │ miss                 e = page number mod 1024; the hit is counted on e
 *        ▼
 *     host table (1024 pages)  direct-mapped by 4 KiB page: L1 slot + its generation,
 *        │ miss                 rights per privilege, host slab and byte offset;
 *        ▼                      a valid entry becomes owned (claim)
 *     Tlb.probe (L1, then L2…) → page walk → fill every level
 *
 * The register check `off === (off & mask)` accepts exactly the integers in
 * [0, 4096 - size] with the alignment of `mask`: a fractional, negative,
 * NaN or out-of-page offset changes under the mask. Example: base 0x7000,
 * addr 0x7ffc gives off 0xffc, kept by & 0xffc: a hit; addr 0x7ffe gives
 * 0xffe → 0xffc: not equal, so the slow path handles the unaligned access.
 * The masked offset is also the index, so it is converted from double once.
 * v86 folds the host base into its TLB entry the same way
 * (src/rust/cpu/cpu.rs, "bake in the addition with memory::mem8").
 * Two host-table hits in a row with no hit on a register between load the
 * page into that register.
 *
 * Exactness. The registers and the host table only ever hold L1 entries
 * that are valid in the modelled TLB (a slot's generation changes whenever
 * it is invalidated or refilled), so a stale translation stays exactly as
 * long as the modelled TLB keeps it. Hits served in front of the TLB are
 * pending — per register, and per owned host entry — and are handed to the
 * TLB (counted, the slot made most recently used) before any other TLB
 * operation on their set. An entry becomes owned at an access that found
 * its slot valid, so no TLB change falls between its check and its hits
 * and the fast tags need no generation check; the registers only hold
 * owned entries. The owned entries of one TLB set may span several slots:
 * each host-table hit then also stamps its entry with a clock (the one
 * the TLB takes its LRU stamps from), and the set's pending hits go to the
 * TLB slot by slot, each slot as recent as its last access (LRU) or in
 * the order of their last accesses (tree PLRU) — all that either keeps of
 * the order of hits.
 * A register only holds a page of a set of one owned slot, so its hits
 * need no stamp, nor do the host table's hits in such a set (owning a
 * second slot of its set empties the register and hands the set's pending
 * hits over first; a page used alone takes its set back once the others
 * have been idle for IDLE_TICKS ticks of that clock, their pending hits
 * handed over). A
 * lookup (L1 probe, STLB hit, walk, fills) changes only the L1 set that
 * holds its address and lower levels, which own nothing: it hands that
 * set's pending hits over first and keeps its entries owned, except those
 * whose slot a fill took; a fault's invalidation of one address releases
 * the sets that can hold it, one per page size. Invalidations, CR3
 * writes and privilege changes release every set (`spill`). Recency is
 * only compared within a set, so the order in which sets are handed over
 * changes nothing: hit counts and LRU or PLRU state are exactly those of
 * a TLB that saw every access.
 * test/fast-path.test.ts compares all of it with per-access lookups.
 *
 * The owned entries' tags, host views and pending hits are also shared as
 * `fastTags` (core's FastTags), so that code above the port (libc's heap
 * accessors) can take an owned entry's hit itself, with no call: it tests
 * the same tag, moves the bytes, adds to the same pending count and
 * stamps the entry from the same clock. Their
 * owner is the current space in user mode (-1 in supervisor mode): every
 * switch of either releases all sets first, so no tag of another space or
 * privilege survives it.
 *
 *     lookup of la ──► settle the L1 set it hits or fills ──► probe / walk / fill ──► prune that set
 *                      (pending hits handed over,             (touches only that     (entries whose slot
 *                       oldest last access first)              set and the STLB)      the fill took disowned)
 *     owners of every other set: untouched, hits still pending
 */

import * as core from "@memstack/core";
import {
  type Access,
  CorruptionError,
  type FastTags,
  type FrameAllocator,
  type MemoryManagementUnit,
  type PageFaultHandler,
  type PageMapping,
  type PageRights,
  type PhysAddr,
  type PhysicalMemory,
  type Privilege,
  UsageError,
  type VirtAddr,
} from "@memstack/core";
import type { AccessCode, MmuOptions, MmuStats, PageTableFormat, Translation, WalkResult } from "./api.js";
import * as api from "./api.js";
import type { HostFrames } from "./internal/host-frames.js";
import { PhysWords } from "./internal/phys-words.js";
import { PageFault } from "./page-fault.js";
import { PageTables, rightsToFlags } from "./page-tables.js";
import { accessErrorBits, PageWalker } from "./page-walk.js";
import * as tlbModule from "./tlb.js";
import { Tlb } from "./tlb.js";
import { createX86_64Format } from "./x86-64-format.js";

// The constants and functions this module reads on its hot paths, bound
// here (see "Constants on hot paths" in the root README).
const { PF_PRESENT, PF_RESERVED, physAddr } = core;
const { ENTRY_DIRTY, ENTRY_GLOBAL, ENTRY_RIGHTS } = api;
const { BELOW_ABSENT } = tlbModule;

const PKG = "@memstack/mmu";
const PAGE = 4096;
const INV_PAGE = 1 / 4096;
const HOST = 1024;
const HOST_MASK = HOST - 1;
const TWO_32 = 4294967296;
const NON_CANONICAL = -1;
/** pendSlot of a TLB set whose owned entries span more than one slot. */
const MULTI = -2;
/**
 * Host-table hits (clock ticks) since its last hit after which an owned
 * entry counts as idle: a register may then take a page of its set.
 */
const IDLE_TICKS = 64;
/** How often one access may be retried after the handler says it fixed the fault. */
const MAX_RETRIES = 16;
const ACCESS_NAMES: readonly Access[] = ["read", "write", "execute"];
// Host-table rights: bit a (0 read, 1 write-with-D-cached, 2 execute) for user, bit a + 3 for supervisor.
const SUPERVISOR_SHIFT = 3;

function hex(n: number): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

function accessCode(access: Access, fn: string): AccessCode {
  if (access === "read") return 0;
  if (access === "write") return 1;
  if (access === "execute") return 2;
  const code = ACCESS_NAMES.indexOf(access);
  if (code < 0)
    throw new UsageError(PKG, `${fn}: access must be read, write or execute, got ${access}`, "access");
  return code as AccessCode;
}

/** An MMU with page tables in RAM, a TLB, and translated access to the current address space. */
export class Mmu implements MemoryManagementUnit {
  // State is TypeScript-private rather than #private: in a loop of loads,
  // V8 (Node 20) read #fields about twice as slowly as plain properties
  // (measured while building the hit path: 4.6-4.9 against 1.1-2.4 ns).
  /** Page sizes of the format, ascending. */
  readonly pageSizes: readonly number[];
  /** The page-table format. */
  readonly format: PageTableFormat;
  /** The modelled TLB (read its arrays to visualise it; change it only through the MMU). */
  readonly tlb: Tlb;
  /**
   * The owned host entries' fast tags, shared with callers that take hits
   * inline (core's {@link FastTags}): the same arrays the hot paths test.
   */
  readonly fastTags: FastTags;
  // fastTags, with its owner writable.
  private readonly tagState: { owner: number } & Omit<FastTags, "owner" | "miss"> & {
      miss?: FastTags["miss"];
    };

  private readonly memory: PhysicalMemory;
  private readonly host: HostFrames;
  private readonly walker: PageWalker;
  private readonly tables: PageTables;
  private readonly half: number;
  private readonly nSizes: number;
  private readonly full: number;
  private readonly pcidEnabled: boolean;
  private readonly globalPages: boolean;
  private readonly spaces = new Map<number, number>();
  private readonly pcidOwner: Int32Array;
  private nextPcid = 1;
  private nextSpace = 1;
  private current = -1;
  private currentRoot = 0;
  private currentPcid = 0;
  private user = true;
  private handler: PageFaultHandler | null = null;

  private readonly hTag = new Float64Array(HOST).fill(Number.NaN);
  private readonly hSlot = new Int32Array(HOST);
  private readonly hGen = new Int32Array(HOST);
  private readonly hRights = new Uint8Array(HOST);
  private readonly hPhys = new Float64Array(HOST);
  // Host bytes of each entry's page: slab and byte offset (see HostFrames), -1 until needed.
  private readonly hSlab = new Int32Array(HOST).fill(-1);
  private readonly hByte = new Int32Array(HOST);
  // Host-table rights for each value of an entry's 7 ENTRY_* bits, from the
  // format's permission rules, computed once: bit a (0 read, 1 write with D
  // cached, 2 execute) for user mode, bit a + 3 for supervisor mode.
  private readonly hostRights = new Uint8Array(128);

  // The register: one page, readable at regReadBase and writable at
  // regWriteBase (NaN when not).
  private regReadBase = Number.NaN;
  private regWriteBase = Number.NaN;
  private regU8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  private regU16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  private regU32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  // Byte offset of the register's frame in its slab's views.
  private regByte = 0;
  private regSlot = -1;
  private regHits = 0;
  // Host-table entry the register was loaded from (-1: empty, or touch()'s).
  private regEntry = -1;
  // Owned host entries: those whose page may be accessed through the host
  // table's fast tags, each counting its hits (hHits) until the next spill.
  // An entry is owned from an access that found its slot valid until its
  // TLB set is released: by a lookup of a page of that set (releaseSets)
  // or by spill(true) before any other TLB operation. Nothing changes the
  // set in between, so its slot stays valid and no generation check is
  // needed. pendSlot[set] is the one slot the set's owned entries share
  // (-1: none), or MULTI when they span several: each host-table hit then
  // also stamps its entry with the `clock` (hLast; the hot paths skip the
  // stamp in a set of one slot, whose hits all precede those of any slot
  // owned later, as own() stamps a new entry with the clock), and the set's slots
  // are handed to the TLB in the order of their last accesses, which is
  // all LRU and tree PLRU keep of the order of hits. Recency is only
  // compared within a set, so sets are handed over in any order. A
  // register only holds a page of a set of one slot, so its hits need no
  // stamp: owning a second slot of its set first empties it (its hits
  // move to its entry, stamped then). `owned` lists the owned entries, in
  // no particular order (ownedPos: each one's index there); ownHead[set]
  // and ownNext chain those of each set.
  private readonly hHits = new Float64Array(HOST);
  private readonly hLast = new Float64Array(HOST);
  // 1 for an owned entry of a MULTI set (the hot paths' test, one load).
  private readonly hMulti = new Uint8Array(HOST);
  // The stamp of the last host-table hit (shared with fast-tag callers).
  private readonly clock = new Float64Array(1);
  // Scratch of an ordered hand-over: the set's slots, their hits and last stamps.
  private readonly hoSlot = new Int32Array(HOST);
  private readonly hoHits = new Float64Array(HOST);
  private readonly hoLast = new Float64Array(HOST);
  private readonly hOwned = new Uint8Array(HOST);
  private readonly owned = new Int32Array(HOST);
  private readonly ownedPos = new Int32Array(HOST);
  private ownedCount = 0;
  private readonly pendSlot: Int32Array;
  private readonly ownHead: Int32Array;
  private readonly ownNext = new Int32Array(HOST);
  // Fast tags of owned entries: the page base when its host bytes are
  // located and the current privilege may read (hRead) or write with D
  // cached (hWrite), else NaN; NaN for every entry not owned.
  private readonly hRead = new Float64Array(HOST).fill(Number.NaN);
  private readonly hWrite = new Float64Array(HOST).fill(Number.NaN);
  // Views of each located entry's page.
  private readonly hU8: Uint8Array<ArrayBufferLike>[] = new Array(HOST).fill(new Uint8Array(0));
  private readonly hU16: Uint16Array<ArrayBufferLike>[] = new Array(HOST).fill(new Uint16Array(0));
  private readonly hU32: Uint32Array<ArrayBufferLike>[] = new Array(HOST).fill(new Uint32Array(0));
  // The second register: the page the register held before, checked by the
  // hot paths after it, with its own pending hits, so that a program
  // alternating between two pages stays in the registers. Its entry is
  // owned too, so it never holds another slot of the register's TLB set.
  private prevReadBase = Number.NaN;
  private prevWriteBase = Number.NaN;
  private prevU8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  private prevU16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  private prevU32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private prevByte = 0;
  private prevHits = 0;
  private prevEntry = -1;
  // regHits at the last host-table hit (-1: none since the register
  // changed): a second host-table hit with no register hit between loads
  // the register.
  private lastMark = -1;
  // prevHits at the last host-table hit (-1: none since the second register
  // changed): a second host-table hit with no hit on the second register
  // between (but one on the register) loads the second register.
  private prevMark = -1;
  // Arguments of the out-of-line paths, in a typed array: an address above
  // 2^31 passed as an argument would be boxed as a heap number per call.
  private readonly arg = new Float64Array(2);
  // The linear address of the lookup in progress, read by missLevels and
  // walkAndFill: in a typed array, it needs no heap number per call.
  private readonly lin = new Float64Array(1);
  // 0 in user mode, SUPERVISOR_SHIFT in supervisor mode: the shift of this
  // privilege's bits in hRights (a number, so hot paths test no boolean).
  private rightsShift = 0;
  // The same register as seen by touch(), which needs no host bytes: page
  // bases for read, write (D cached) and execute, NaN when not allowed.
  private touchReadBase = Number.NaN;
  private touchWriteBase = Number.NaN;
  private touchExecBase = Number.NaN;

  private walks = 0;
  private walkRefs = 0;
  private adWrites = 0;
  private faults = 0;
  private invalidated = 0;
  private readonly tmp = new Uint8Array(65536);

  /** @throws {UsageError} for a TLB shape that does not fit the format. */
  constructor(options: MmuOptions) {
    const { memory, frames, format = createX86_64Format(), pcid = true, globalPages = true } = options;
    this.memory = memory;
    this.format = format;
    this.pageSizes = format.pageSizes;
    this.nSizes = format.pageSizes.length;
    const words = new PhysWords(memory);
    this.host = words.host;
    this.walker = new PageWalker(words, format);
    this.tables = new PageTables(words, frames as FrameAllocator, format, this.walker);
    // One clock for the TLB's LRU stamps and the owned entries' hits (see handOver).
    this.tlb = new Tlb(format.pageSizes, options.tlb, this.clock);
    this.pendSlot = new Int32Array(this.tlb.setOf[this.tlb.slotCount - 1]! + 1).fill(-1);
    this.ownHead = new Int32Array(this.pendSlot.length).fill(-1);
    this.half = 2 ** (format.virtualBits - 1);
    this.full = 2 ** format.virtualBits;
    this.pcidEnabled = pcid;
    this.globalPages = globalPages;
    this.pcidOwner = new Int32Array(format.maxTag + 1).fill(-1);
    this.tagState = {
      owner: -1,
      read: this.hRead,
      write: this.hWrite,
      hits: this.hHits,
      last: this.hLast,
      clock: this.clock,
      byte: this.hByte,
      u8: this.hU8,
      u16: this.hU16,
      u32: this.hU32,
    };
    // Every frame's bytes are reachable through frameSlab (it backs the
    // frame for a write): a miss always leaves its page in the tags.
    if (memory.frameSlab !== undefined) {
      this.tagState.miss = (addr: number, write: 0 | 1): number => this.tagMiss(addr, write);
    }
    this.fastTags = this.tagState;
    for (let flags = 0; flags < 128; flags++) {
      let rights = 0;
      for (let a = 0 as AccessCode; a <= 2; a++) {
        const ok = a !== 1 || (flags & ENTRY_DIRTY) !== 0;
        if (ok && format.permits(flags, a, true)) rights |= 1 << a;
        if (ok && format.permits(flags, a, false)) rights |= 1 << (a + SUPERVISOR_SHIFT);
      }
      this.hostRights[flags] = rights;
    }
  }

  // ---------------------------------------------------------------- VirtualMemory: hot paths
  //
  // Each hit path computes `w`, the offset masked to the page and the
  // access's alignment, once: it is both the test (`off === w`) and, as an
  // int32, the index, so the index needs no second conversion from double.
  // A miss returns `slowLoad(…) >>> 0`, so both arms of a u8–u32 load are
  // uint32 and an inlined caller keeps the value untagged.

  loadU8(addr: VirtAddr): number {
    const off = addr - this.regReadBase;
    const w = off & 0xfff;
    if (off === w) {
      this.regHits++;
      return this.regU8[this.regByte + w]!;
    }
    const off2 = addr - this.prevReadBase;
    const w2 = off2 & 0xfff;
    if (off2 === w2) {
      this.prevHits++;
      return this.prevU8[this.prevByte + w2]!;
    }
    this.arg[0] = addr;
    return this.hostLoad(1) >>> 0;
  }

  loadU16(addr: VirtAddr): number {
    const off = addr - this.regReadBase;
    const w = off & 0xffe;
    if (off === w) {
      this.regHits++;
      return this.regU16[(this.regByte + w) >>> 1]!;
    }
    const off2 = addr - this.prevReadBase;
    const w2 = off2 & 0xffe;
    if (off2 === w2) {
      this.prevHits++;
      return this.prevU16[(this.prevByte + w2) >>> 1]!;
    }
    this.arg[0] = addr;
    return this.hostLoad(2) >>> 0;
  }

  loadU32(addr: VirtAddr): number {
    const off = addr - this.regReadBase;
    const w = off & 0xffc;
    if (off === w) {
      this.regHits++;
      return this.regU32[(this.regByte + w) >>> 2]!;
    }
    const off2 = addr - this.prevReadBase;
    const w2 = off2 & 0xffc;
    if (off2 === w2) {
      this.prevHits++;
      return this.prevU32[(this.prevByte + w2) >>> 2]!;
    }
    this.arg[0] = addr;
    return this.hostLoad(4) >>> 0;
  }

  loadU64(addr: VirtAddr): number {
    const off = addr - this.regReadBase;
    const w = off & 0xff8;
    if (off === w) {
      const i = (this.regByte + w) >>> 2;
      const hi = this.regU32[i + 1]!;
      if (hi < 0x200000) {
        this.regHits++;
        return hi * TWO_32 + this.regU32[i]!;
      }
    }
    const off2 = addr - this.prevReadBase;
    const w2 = off2 & 0xff8;
    if (off2 === w2) {
      const i = (this.prevByte + w2) >>> 2;
      const hi = this.prevU32[i + 1]!;
      if (hi < 0x200000) {
        this.prevHits++;
        return hi * TWO_32 + this.prevU32[i]!;
      }
    }
    this.arg[0] = addr;
    return this.hostLoad(8);
  }

  storeU8(addr: VirtAddr, value: number): void {
    const off = addr - this.regWriteBase;
    const w = off & 0xfff;
    if (off === w) {
      this.regHits++;
      this.regU8[this.regByte + w] = value;
      return;
    }
    const off2 = addr - this.prevWriteBase;
    const w2 = off2 & 0xfff;
    if (off2 === w2) {
      this.prevHits++;
      this.prevU8[this.prevByte + w2] = value;
      return;
    }
    this.arg[0] = addr;
    this.arg[1] = value;
    this.hostStore(1);
  }

  storeU16(addr: VirtAddr, value: number): void {
    const off = addr - this.regWriteBase;
    const w = off & 0xffe;
    if (off === w) {
      this.regHits++;
      this.regU16[(this.regByte + w) >>> 1] = value;
      return;
    }
    const off2 = addr - this.prevWriteBase;
    const w2 = off2 & 0xffe;
    if (off2 === w2) {
      this.prevHits++;
      this.prevU16[(this.prevByte + w2) >>> 1] = value;
      return;
    }
    this.arg[0] = addr;
    this.arg[1] = value;
    this.hostStore(2);
  }

  storeU32(addr: VirtAddr, value: number): void {
    const off = addr - this.regWriteBase;
    const w = off & 0xffc;
    if (off === w) {
      this.regHits++;
      this.regU32[(this.regByte + w) >>> 2] = value;
      return;
    }
    const off2 = addr - this.prevWriteBase;
    const w2 = off2 & 0xffc;
    if (off2 === w2) {
      this.prevHits++;
      this.prevU32[(this.prevByte + w2) >>> 2] = value;
      return;
    }
    this.arg[0] = addr;
    this.arg[1] = value;
    this.hostStore(4);
  }

  storeU64(addr: VirtAddr, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new UsageError(
        PKG,
        `Mmu.storeU64: value must be a non-negative safe integer, got ${value}`,
        "value",
      );
    }
    const off = addr - this.regWriteBase;
    const w = off & 0xff8;
    if (off === w) {
      this.regHits++;
      const i = (this.regByte + w) >>> 2;
      const lo = value >>> 0;
      this.regU32[i] = lo;
      this.regU32[i + 1] = (value - lo) / TWO_32;
      return;
    }
    const off2 = addr - this.prevWriteBase;
    const w2 = off2 & 0xff8;
    if (off2 === w2) {
      this.prevHits++;
      const i = (this.prevByte + w2) >>> 2;
      const lo = value >>> 0;
      this.prevU32[i] = lo;
      this.prevU32[i + 1] = (value - lo) / TWO_32;
      return;
    }
    this.arg[0] = addr;
    this.arg[1] = value;
    this.hostStore(8);
  }

  // ---------------------------------------------------------------- VirtualMemory: the host-table tier
  //
  // A load or store the register did not serve, its address (and value) in
  // `arg`. An aligned access inside a page whose owned host entry allows it
  // costs a fast-tag check like the register's and a hit counted on the
  // entry; any other goes through claimLoad/claimStore, which own the
  // entry first (or run the full lookup). A second host-table hit on the
  // same entry with no register hit between loads the register.

  private hostLoad(size: number): number {
    const addr = this.arg[0]!;
    const e = (addr >>> 12) & HOST_MASK;
    const off = addr - this.hRead[e]!;
    const w = off & (PAGE - size);
    if (off === w && (size !== 8 || this.hU32[e]![((this.hByte[e]! + w) >>> 2) + 1]! < 0x200000)) {
      this.hHits[e]!++;
      if (this.hMulti[e] === 1) this.stamp(e);
      if (this.regHits === this.lastMark || this.prevHits === this.prevMark) this.promote(e);
      else {
        this.lastMark = this.regHits;
        this.prevMark = this.prevHits;
      }
      const i = this.hByte[e]! + w;
      if (size === 4) return this.hU32[e]![i >>> 2]!;
      if (size === 1) return this.hU8[e]![i]!;
      if (size === 2) return this.hU16[e]![i >>> 1]!;
      return this.hU32[e]![(i >>> 2) + 1]! * TWO_32 + this.hU32[e]![i >>> 2]!;
    }
    return this.claimLoad(addr, size);
  }

  private hostStore(size: number): void {
    const addr = this.arg[0]!;
    const e = (addr >>> 12) & HOST_MASK;
    const off = addr - this.hWrite[e]!;
    const w = off & (PAGE - size);
    if (off === w) {
      const value = this.arg[1]!;
      this.hHits[e]!++;
      if (this.hMulti[e] === 1) this.stamp(e);
      if (this.regHits === this.lastMark || this.prevHits === this.prevMark) this.promote(e);
      else {
        this.lastMark = this.regHits;
        this.prevMark = this.prevHits;
      }
      const i = this.hByte[e]! + w;
      if (size === 4) this.hU32[e]![i >>> 2] = value;
      else if (size === 1) this.hU8[e]![i] = value;
      else if (size === 2) this.hU16[e]![i >>> 1] = value;
      else {
        const lo = value >>> 0;
        this.hU32[e]![i >>> 2] = lo;
        this.hU32[e]![(i >>> 2) + 1] = (value - lo) / TWO_32;
      }
      return;
    }
    this.claimStore(addr, size, this.arg[1]!);
  }

  // A load the fast tags did not serve: through the host entry when it
  // holds the page with a valid L1 slot that allows the access (owning the
  // entry), else the full lookup.
  private claimLoad(addr: number, size: number): number {
    const e = this.claim(addr, size, 0);
    if (e < 0) return this.lookupLoad(addr, size);
    const off = addr & 0xfff;
    const i = this.hByte[e]! + off;
    let value: number;
    if ((off & (size - 1)) === 0) {
      if (size === 4) value = this.hU32[e]![i >>> 2]!;
      else if (size === 1) value = this.hU8[e]![i]!;
      else if (size === 2) value = this.hU16[e]![i >>> 1]!;
      else {
        const hi = this.hU32[e]![(i >>> 2) + 1]!;
        value = hi < 0x200000 ? hi * TWO_32 + this.hU32[e]![i >>> 2]! : -1;
      }
    } else {
      value = this.unalignedLoad(this.hU8[e]!, i, size);
    }
    // Above 2^53 - 1: the full lookup counts the access and throws.
    if (value < 0) return this.lookupLoad(addr, size);
    this.claimedHit(e);
    return value;
  }

  private claimStore(addr: number, size: number, value: number): void {
    let lo =
      size === 8 ? value >>> 0 : (value >>> 0) & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);
    lo >>>= 0;
    const hi = size === 8 ? (value - lo) / TWO_32 : 0;
    const e = this.claim(addr, size, 1);
    if (e < 0) {
      this.lookupStore(addr, size, lo, hi);
      return;
    }
    this.claimedHit(e);
    const off = addr & 0xfff;
    const i = this.hByte[e]! + off;
    if ((off & (size - 1)) === 0) {
      if (size === 4) this.hU32[e]![i >>> 2] = lo;
      else if (size === 1) this.hU8[e]![i] = lo;
      else if (size === 2) this.hU16[e]![i >>> 1] = lo;
      else {
        this.hU32[e]![i >>> 2] = lo;
        this.hU32[e]![(i >>> 2) + 1] = hi;
      }
    } else {
      this.unalignedStore(this.hU8[e]!, i, size, lo, hi);
    }
  }

  // The hit of an access a claim served through entry `e`: counted,
  // stamped, and the register policy applied.
  private claimedHit(e: number): void {
    this.hHits[e]!++;
    this.stamp(e);
    this.hostHit(e);
  }

  // The host entry of an access of `size` bytes inside one page at `addr`,
  // owned, when the host table holds the page with a valid L1 slot whose
  // rights allow `access` and host bytes; else -1, having changed nothing
  // the TLB could see (the full lookup then runs).
  private claim(addr: number, size: number, access: AccessCode): number {
    const off = addr & 0xfff;
    // (The VirtualMemory port takes non-negative addresses only: the full lookup throws.)
    if (!(addr >= 0) || off > PAGE - size) return -1;
    const e = (addr >>> 12) & HOST_MASK;
    const slot = this.hSlot[e]!;
    if (
      this.hTag[e] !== addr - off ||
      this.tlb.gen[slot] !== this.hGen[e] ||
      (this.hRights[e]! & (1 << (access + this.rightsShift))) === 0
    ) {
      return -1;
    }
    if (this.hSlab[e]! < 0) {
      if (!this.locateHost(e)) return -1;
      // Owned by touch(), which needs no host bytes: its fast tags now apply.
      if (this.hOwned[e] === 1) this.setFastTags(e);
    }
    this.own(e);
    return e;
  }

  // The fast tags' miss (core's FastTags.miss): an aligned word access at
  // canonical `addr` in user mode in the current space, counted and
  // translated as loadU64 or storeU64 would (a claimed host entry, else
  // the full lookup); returns its entry, left owned, in the tags.
  // (Offered only over a memory with frameSlab, which always has them.)
  private tagMiss(addr: number, access: AccessCode): number {
    // An aligned word never crosses its page: claim tests one byte.
    let e = this.claim(addr, 1, access);
    if (e >= 0) {
      this.claimedHit(e);
      return e;
    }
    e = this.resolve(addr, access);
    if (this.loadRegister(e)) return e;
    throw new UsageError(
      PKG,
      `the memory's frameSlab gave no host bytes for frame ${this.hPhys[e]! * INV_PAGE}`,
      "memory",
    );
  }

  // Stamps owned entry `e` with the next tick of the clock: its last hit.
  private stamp(e: number): void {
    const c = this.clock[0]! + 1;
    this.clock[0] = c;
    this.hLast[e] = c;
  }

  // Makes host entry `e` (its slot valid now) owned. When its set already
  // has owned entries of another slot, the set becomes MULTI: a register
  // holding a page of it is emptied first (its hits, all earlier than this
  // access, move to its entry, stamped now), and the set's pending hits go
  // to the TLB.
  private own(e: number): void {
    if (this.hOwned[e] === 1) return;
    const slot = this.hSlot[e]!;
    const set = this.tlb.setOf[slot]!;
    const other = this.pendSlot[set]!;
    if (other === -1) this.pendSlot[set] = slot;
    else if (other >= 0 && other !== slot) {
      this.emptyRegistersOf(set, true);
      // The set's pending hits, all of its one slot, were counted without
      // stamps (hostLoad and hostStore stamp only in a set of several
      // slots): they go to the TLB now, before any hit of the new slot, so
      // that the slot keeps the recency of its last hit.
      this.handOver(set);
      this.pendSlot[set] = MULTI;
      for (let x = this.ownHead[set]!; x >= 0; x = this.ownNext[x]!) this.hMulti[x] = 1;
    }
    this.hMulti[e] = this.pendSlot[set] === MULTI ? 1 : 0;
    this.hOwned[e] = 1;
    // Owned at an access: as recent as the last hit.
    this.hLast[e] = this.clock[0]!;
    this.ownedPos[e] = this.ownedCount;
    this.owned[this.ownedCount++] = e;
    this.ownNext[e] = this.ownHead[set]!;
    this.ownHead[set] = e;
    if (this.hSlab[e]! >= 0) this.setFastTags(e);
  }

  // The fast tags of owned, located entry `e` at this privilege. (A
  // kernel-half page, owned by touch(), gets none: loads and stores take
  // non-negative addresses only.)
  private setFastTags(e: number): void {
    if (this.hTag[e]! < 0) return;
    const rights = this.hRights[e]! >> this.rightsShift;
    const base = this.hTag[e]!;
    this.hRead[e] = rights & 1 ? base : Number.NaN;
    this.hWrite[e] = rights & 2 ? base : Number.NaN;
  }

  // Hands the pending hits of set `set`'s owned entries to the TLB (the
  // registers' hits already moved to their entries): one slot's at once;
  // a MULTI set's slot by slot, each stamped with its last hit (LRU), or
  // oldest last access first (PLRU, whose bits follow the order of touches).
  private handOver(set: number): void {
    const one = this.pendSlot[set]!;
    if (one === -1) return;
    const hHits = this.hHits;
    if (one >= 0) {
      let n = 0;
      for (let e = this.ownHead[set]!; e >= 0; e = this.ownNext[e]!) {
        n += hHits[e]!;
        hHits[e] = 0;
      }
      if (n > 0) this.tlb.hits(one, n);
      return;
    }
    if (this.tlb.stampsRecency) {
      // LRU: each slot takes the stamp of its last hit (the latest of its
      // entries', for a 2 MiB page's 4 KiB pieces), from the clock the
      // TLB's own stamps come from. Every stamp in the set is older (the
      // set's last TLB operation settled it first), so the slots keep the
      // order of their last hits without a sort.
      for (let e = this.ownHead[set]!; e >= 0; e = this.ownNext[e]!) {
        const n = hHits[e]!;
        if (n === 0) continue;
        hHits[e] = 0;
        this.tlb.hitsAt(this.hSlot[e]!, n, this.hLast[e]!);
      }
      return;
    }
    const { hoSlot, hoHits, hoLast } = this;
    let count = 0;
    for (let e = this.ownHead[set]!; e >= 0; e = this.ownNext[e]!) {
      const n = hHits[e]!;
      if (n === 0) continue;
      hHits[e] = 0;
      const slot = this.hSlot[e]!;
      let k = 0;
      while (k < count && hoSlot[k] !== slot) k++;
      if (k === count) {
        hoSlot[k] = slot;
        hoHits[k] = 0;
        hoLast[k] = 0;
        count++;
      }
      hoHits[k] = hoHits[k]! + n;
      if (this.hLast[e]! > hoLast[k]!) hoLast[k] = this.hLast[e]!;
    }
    // Insertion sort by last access: a set has a handful of ways.
    for (let i = 1; i < count; i++) {
      const slot = hoSlot[i]!;
      const n = hoHits[i]!;
      const last = hoLast[i]!;
      let j = i - 1;
      for (; j >= 0 && hoLast[j]! > last; j--) {
        hoSlot[j + 1] = hoSlot[j]!;
        hoHits[j + 1] = hoHits[j]!;
        hoLast[j + 1] = hoLast[j]!;
      }
      hoSlot[j + 1] = slot;
      hoHits[j + 1] = n;
      hoLast[j + 1] = last;
    }
    for (let k = 0; k < count; k++) this.tlb.hits(hoSlot[k]!, hoHits[k]!);
  }

  // After a claimed access to `e` (counted): the register policy of the fast path.
  private hostHit(e: number): void {
    if (this.regEntry < 0 || this.regHits === this.lastMark || this.prevHits === this.prevMark)
      this.promote(e);
    else {
      this.lastMark = this.regHits;
      this.prevMark = this.prevHits;
    }
  }

  // A host-table hit on owned, located entry `e` that follows another one
  // with no hit on the register (or none on the second register) between:
  // `e` goes into that register.
  private promote(e: number): void {
    // A register holds no page of a set of several owned slots (its hits
    // carry no stamp): see promoteInMulti.
    if (this.hMulti[e] === 1) {
      this.promoteInMulti(e);
      return;
    }
    if (this.regEntry < 0 || this.regHits === this.lastMark || e === this.regEntry) {
      this.switchRegister(e);
      return;
    }
    this.lastMark = -1;
    this.prevMark = -1;
    if (e === this.prevEntry) return;
    this.prevHitsToEntry();
    this.prevReadBase = this.hRead[e]!;
    this.prevWriteBase = this.hWrite[e]!;
    this.prevU8 = this.hU8[e]!;
    this.prevU16 = this.hU16[e]!;
    this.prevU32 = this.hU32[e]!;
    this.prevByte = this.hByte[e]!;
    this.prevEntry = e;
  }

  // Loads the register with owned, located host entry `e`; the old one
  // becomes the second register, whose pending hits move to its entry.
  private switchRegister(e: number): void {
    this.lastMark = -1;
    this.prevMark = -1;
    if (Number.isNaN(this.regReadBase) && Number.isNaN(this.regWriteBase)) {
      // Empty, or touch()'s register (no host bytes): its hits move to its entry.
      this.regHitsToEntry();
      this.touchReadBase = Number.NaN;
      this.touchWriteBase = Number.NaN;
      this.touchExecBase = Number.NaN;
      // (Emptied by a lookup or a disowned slot while the second register
      // kept its page: `e` may be that page, which moves over.)
      this.releasePrev(e);
      this.setRegister(e);
      return;
    }
    if (e === this.regEntry) return;
    this.prevHitsToEntry();
    // The register becomes the second one, keeping its pending hits.
    this.prevReadBase = this.regReadBase;
    this.prevWriteBase = this.regWriteBase;
    this.prevU8 = this.regU8;
    this.prevU16 = this.regU16;
    this.prevU32 = this.regU32;
    this.prevByte = this.regByte;
    this.prevHits = this.regHits;
    this.prevEntry = this.regEntry;
    this.regHits = 0;
    this.setRegister(e);
  }

  private unalignedLoad(b: Uint8Array<ArrayBufferLike>, i: number, size: number): number {
    if (size === 2) return b[i]! | (b[i + 1]! << 8);
    const lo = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
    if (size === 4) return lo;
    const hi = (b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24)) >>> 0;
    return hi < 0x200000 ? hi * TWO_32 + lo : -1;
  }

  private unalignedStore(
    b: Uint8Array<ArrayBufferLike>,
    i: number,
    size: number,
    lo: number,
    hi: number,
  ): void {
    for (let k = 0; k < size && k < 4; k++) b[i + k] = lo >>> (8 * k);
    for (let k = 4; k < size; k++) b[i + k] = hi >>> (8 * (k - 4));
  }

  // ---------------------------------------------------------------- VirtualMemory: slow paths

  private checkAddr(addr: number, fn: string): void {
    if (!Number.isSafeInteger(addr) || addr < 0) {
      throw new UsageError(PKG, `Mmu.${fn}: addr ${addr} is not a non-negative safe integer`, "addr");
    }
  }

  // A load the register and the host table could not serve: the full lookup.
  private lookupLoad(addr: number, size: number): number {
    const off = addr & 0xfff;
    if (!Number.isSafeInteger(addr) || addr < 0) this.checkAddr(addr, `loadU${size * 8}`);
    if (off + size > PAGE) {
      // Crossing into the next page: one lookup per page, lowest first, so a
      // fault in the second page reports its first byte.
      const split = PAGE - off;
      let e = this.resolve(addr, 0);
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < size; i++) {
        if (i === split) e = this.resolve(addr + i, 0);
        const b = this.byteAt(e, (addr + i) & 0xfff);
        if (i < 4) lo += b * 2 ** (8 * i);
        else hi += b * 2 ** (8 * (i - 4));
      }
      return size === 8 ? this.join64(hi, lo, addr) : lo;
    }
    const faults = this.faults;
    const e = this.resolve(addr, 0);
    if (this.readyAfter(e, faults)) return this.readEntry(e, off, size, addr);
    const p = physAddr(this.hPhys[e]! + off);
    const m = this.memory;
    if (size === 1) return m.readU8(p);
    if (size === 2) return m.readU16(p);
    if (size === 4) return m.readU32(p);
    return this.join64(m.readU32(physAddr(p + 4)), m.readU32(p), addr);
  }

  // Reads `size` bytes at page offset `off` (inside the page) of located entry `e`.
  private readEntry(e: number, off: number, size: number, addr: number): number {
    const i = this.hByte[e]! + off;
    const u32 = this.hU32[e]!;
    if ((off & (size - 1)) === 0) {
      if (size === 4) return u32[i >>> 2]!;
      if (size === 1) return this.hU8[e]![i]!;
      if (size === 2) return this.hU16[e]![i >>> 1]!;
      return this.join64(u32[(i >>> 2) + 1]!, u32[i >>> 2]!, addr);
    }
    const b = this.hU8[e]!;
    if (size === 2) return b[i]! | (b[i + 1]! << 8);
    const lo = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
    if (size === 4) return lo;
    const hi = (b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24)) >>> 0;
    return this.join64(hi, lo, addr);
  }

  // Writes the low `size` bytes of lo (and hi for 8) at page offset `off` of located entry `e`.
  private writeEntry(e: number, off: number, size: number, lo: number, hi: number): void {
    const i = this.hByte[e]! + off;
    if ((off & (size - 1)) === 0) {
      const u32 = this.hU32[e]!;
      if (size === 4) u32[i >>> 2] = lo;
      else if (size === 1) this.hU8[e]![i] = lo;
      else if (size === 2) this.hU16[e]![i >>> 1] = lo;
      else {
        u32[i >>> 2] = lo;
        u32[(i >>> 2) + 1] = hi;
      }
      return;
    }
    const b = this.hU8[e]!;
    for (let k = 0; k < size && k < 4; k++) b[i + k] = lo >>> (8 * k);
    for (let k = 4; k < size; k++) b[i + k] = hi >>> (8 * (k - 4));
  }

  // One byte of the page of host entry `e`, without a TLB lookup or the register.
  private byteAt(e: number, off: number): number {
    const h = this.host;
    const phys = this.hPhys[e]!;
    if (h.lookup(phys * INV_PAGE, false)) return h.u8[h.slab]![h.byte + off]!;
    return this.memory.readU8(physAddr(phys + off));
  }

  private setByteAt(e: number, off: number, value: number): void {
    const h = this.host;
    const phys = this.hPhys[e]!;
    if (h.lookup(phys * INV_PAGE, true)) h.u8[h.slab]![h.byte + off] = value;
    else this.memory.writeU8(physAddr(phys + off), value);
  }

  private join64(hi: number, lo: number, addr: number): number {
    if (hi >= 0x200000) {
      throw new UsageError(
        PKG,
        `Mmu.loadU64: the u64 at ${hex(addr)} exceeds 2^53 - 1; load it as two u32 words`,
        "addr",
      );
    }
    return hi * TWO_32 + lo;
  }

  // A store the register and the host table could not serve: the full lookup.
  private lookupStore(addr: number, size: number, lo: number, hi: number): void {
    const off = addr & 0xfff;
    if (!Number.isSafeInteger(addr) || addr < 0) this.checkAddr(addr, `storeU${size * 8}`);
    if (off + size > PAGE) {
      // Both pages must allow the write before any byte is written, as one
      // instruction's store is all-or-nothing.
      const split = PAGE - off;
      const first = this.resolve(addr, 1);
      const second = this.resolve(addr + split, 1);
      for (let i = 0; i < size; i++) {
        const b = i < 4 ? Math.floor(lo / 2 ** (8 * i)) & 0xff : Math.floor(hi / 2 ** (8 * (i - 4))) & 0xff;
        this.setByteAt(i < split ? first : second, (addr + i) & 0xfff, b);
      }
      return;
    }
    const faults = this.faults;
    const e = this.resolve(addr, 1);
    if (this.readyAfter(e, faults)) {
      this.writeEntry(e, off, size, lo, hi);
      return;
    }
    const p = physAddr(this.hPhys[e]! + off);
    const m = this.memory;
    if (size === 1) m.writeU8(p, lo);
    else if (size === 2) m.writeU16(p, lo);
    else if (size === 4) m.writeU32(p, lo);
    else {
      m.writeU32(p, lo);
      m.writeU32(physAddr(p + 4), hi);
    }
  }

  loadBytes(addr: VirtAddr, dest: Uint8Array): void {
    this.checkAddr(addr, "loadBytes");
    const n = dest.length;
    for (let done = 0; done < n; ) {
      const a = addr + done;
      const off = a & 0xfff;
      const chunk = Math.min(PAGE - off, n - done);
      const e = this.resolve(a, 0);
      if (this.loadRegister(e)) {
        const i = this.hByte[e]! + off;
        dest.set(this.hU8[e]!.subarray(i, i + chunk), done);
      } else {
        this.memory.readBytes(physAddr(this.hPhys[e]! + off), dest.subarray(done, done + chunk));
      }
      done += chunk;
    }
  }

  storeBytes(addr: VirtAddr, src: Uint8Array): void {
    this.checkAddr(addr, "storeBytes");
    const n = src.length;
    for (let done = 0; done < n; ) {
      const a = addr + done;
      const off = a & 0xfff;
      const chunk = Math.min(PAGE - off, n - done);
      const e = this.resolve(a, 1);
      if (this.loadRegister(e)) {
        this.hU8[e]!.set(src.subarray(done, done + chunk), this.hByte[e]! + off);
      } else {
        this.memory.writeBytes(physAddr(this.hPhys[e]! + off), src.subarray(done, done + chunk));
      }
      done += chunk;
    }
  }

  fill(addr: VirtAddr, length: number, byte: number): void {
    this.checkAddr(addr, "fill");
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new UsageError(
        PKG,
        `Mmu.fill: length must be a non-negative safe integer, got ${length}`,
        "length",
      );
    }
    for (let done = 0; done < length; ) {
      const a = addr + done;
      const off = a & 0xfff;
      const chunk = Math.min(PAGE - off, length - done);
      const e = this.resolve(a, 1);
      if (this.loadRegister(e)) {
        this.hU8[e]!.fill(byte, this.hByte[e]! + off, this.hByte[e]! + off + chunk);
      } else {
        const tmp = this.tmp.subarray(0, chunk);
        tmp.fill(byte);
        this.memory.writeBytes(physAddr(this.hPhys[e]! + off), tmp);
      }
      done += chunk;
    }
  }

  copy(dest: VirtAddr, src: VirtAddr, length: number): void {
    this.checkAddr(dest, "copy");
    this.checkAddr(src, "copy");
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new UsageError(
        PKG,
        `Mmu.copy: length must be a non-negative safe integer, got ${length}`,
        "length",
      );
    }
    if (length === 0 || dest === src) return;
    // Chunks through a buffer; when dest is above src they go from the end
    // down, so no chunk reads bytes an earlier chunk already overwrote.
    const step = this.tmp.length;
    const chunks = Math.ceil(length / step);
    for (let i = 0; i < chunks; i++) {
      const k = dest > src ? chunks - 1 - i : i;
      const at = k * step;
      const n = Math.min(step, length - at);
      const buf = this.tmp.subarray(0, n);
      this.loadBytes((src + at) as VirtAddr, buf);
      this.storeBytes((dest + at) as VirtAddr, buf);
    }
  }

  // ---------------------------------------------------------------- translation

  // Hands pending hits (the register's and the owned entries') to the TLB:
  // counted, each slot made most recently used of its set. The slots of
  // owned entries are of different sets (or the same slot), so their order
  // changes no recency order. With `clear`, also disowns every entry and
  // empties the register, before another TLB operation.
  private spill(clear: boolean): void {
    const hHits = this.hHits;
    this.regHitsToEntry();
    this.prevHitsToEntry();
    const owned = this.owned;
    for (let k = 0; k < this.ownedCount; k++) {
      const e = owned[k]!;
      if (hHits[e]! > 0) this.handOver(this.tlb.setOf[this.hSlot[e]!]!);
    }
    if (clear) {
      for (let k = 0; k < this.ownedCount; k++) {
        const e = owned[k]!;
        this.hOwned[e] = 0;
        this.hMulti[e] = 0;
        this.hRead[e] = Number.NaN;
        this.hWrite[e] = Number.NaN;
        const set = this.tlb.setOf[this.hSlot[e]!]!;
        this.pendSlot[set] = -1;
        this.ownHead[set] = -1;
      }
      this.ownedCount = 0;
      this.emptyRegister();
      this.emptyPrev();
      this.lastMark = -1;
      this.prevMark = -1;
    }
  }

  // Before a lookup changes L1 set `set` (a hit or a fill there): hands
  // the pending hits of its owned entries to the TLB and disowns them
  // (emptying a register that holds one). A hit or fill touches no other
  // L1 set (a fill at a lower level never evicts from another level), so
  // the owners of other sets stay valid and their hits stay later than
  // every TLB operation in their sets.
  private releaseSet(set: number): void {
    if (this.pendSlot[set] === -1) return;
    this.emptyRegistersOf(set, false);
    this.handOver(set);
    for (let e = this.ownHead[set]!; e >= 0; e = this.ownNext[e]!) this.disown(e);
    this.ownHead[set] = -1;
    this.pendSlot[set] = -1;
  }

  // Before a lookup's hit or fill in L1 set `set`: hands the set's pending
  // hits (the registers' too) to the TLB, and keeps its entries owned:
  // their slots stay valid through a hit, and their later hits come after
  // the lookup's. After a fill, pruneSet disowns those whose slot it took.
  private settleSet(set: number): void {
    if (this.pendSlot[set] === -1) return;
    if (this.regEntry >= 0 && this.tlb.setOf[this.regSlot] === set) this.regHitsToEntry();
    if (this.prevEntry >= 0 && this.tlb.setOf[this.hSlot[this.prevEntry]!] === set) this.prevHitsToEntry();
    this.handOver(set);
  }

  // After a fill in L1 set `set` (settled just before): disowns the entries
  // whose slot the fill took (emptying a register that holds one) and
  // recounts the slots the rest share.
  private pruneSet(set: number): void {
    if (this.pendSlot[set] !== -1) this.dropFromSet(set, -1);
  }

  // Disowns the owned entries of `set` that are not kept — with `keep` -1,
  // those whose slot was refilled; else those of any slot but `keep` —
  // emptying a register that holds one, and recounts the slots the rest
  // share (pendSlot, hMulti).
  private dropFromSet(set: number, keep: number): void {
    let before = -1;
    let one = -1;
    for (let e = this.ownHead[set]!; e >= 0; ) {
      const next = this.ownNext[e]!;
      const slot = this.hSlot[e]!;
      if (keep < 0 ? this.tlb.gen[slot] !== this.hGen[e] : slot !== keep) {
        if (before < 0) this.ownHead[set] = next;
        else this.ownNext[before] = next;
        if (e === this.regEntry) this.emptyRegister();
        if (e === this.prevEntry) this.emptyPrev();
        this.disown(e);
      } else {
        before = e;
        one = one === -1 || one === slot ? slot : MULTI;
      }
      e = next;
    }
    this.pendSlot[set] = one;
    if (one !== MULTI) for (let x = this.ownHead[set]!; x >= 0; x = this.ownNext[x]!) this.hMulti[x] = 0;
  }

  // promote() of an entry of a MULTI set: only when the set's other slots
  // are idle (keepOnly), else the marks move on and nothing else changes.
  // Out of line, so that promote() stays small enough to inline.
  private promoteInMulti(e: number): void {
    if (this.keepOnly(e)) {
      this.promote(e);
      return;
    }
    this.lastMark = this.regHits;
    this.prevMark = this.prevHits;
  }

  // In `e`'s MULTI set, when every entry of another slot is idle (no hit
  // in the last IDLE_TICKS ticks: pages a lookup left owned, or used a
  // while ago): hands the set's pending hits over, disowns those entries,
  // so that `e`'s slot is the set's only one, and returns true. Otherwise
  // changes nothing and returns false, so that pages of one set used in
  // turn stay owned together instead of taking the register in turn.
  private keepOnly(e: number): boolean {
    const slot = this.hSlot[e]!;
    const set = this.tlb.setOf[slot]!;
    const recent = this.clock[0]! - IDLE_TICKS;
    for (let x = this.ownHead[set]!; x >= 0; x = this.ownNext[x]!) {
      if (this.hSlot[x] !== slot && this.hLast[x]! > recent) return false;
    }
    this.handOver(set);
    this.dropFromSet(set, slot);
    return true;
  }

  // Takes owned entry `e` out of the owned list and clears its fast tags
  // (its set's chain is the caller's to fix).
  private disown(e: number): void {
    this.hOwned[e] = 0;
    this.hMulti[e] = 0;
    this.hRead[e] = Number.NaN;
    this.hWrite[e] = Number.NaN;
    const k = this.ownedPos[e]!;
    const last = this.owned[--this.ownedCount]!;
    this.owned[k] = last;
    this.ownedPos[last] = k;
  }

  // Before invalidating linear address `la` in every level: releases the
  // L1 sets that can hold it, one per page size.
  private releaseSets(la: number): void {
    for (let k = 0; k < this.nSizes; k++) this.releaseSet(this.tlb.setFor(0, k, la));
  }

  private emptyPrev(): void {
    this.prevReadBase = Number.NaN;
    this.prevWriteBase = Number.NaN;
    this.prevEntry = -1;
  }

  // Empties each register holding a page of TLB set `set`, its pending
  // hits moving to its entry; with `forget`, an emptied register's promote
  // mark goes too.
  private emptyRegistersOf(set: number, forget: boolean): void {
    if (this.regEntry >= 0 && this.tlb.setOf[this.regSlot] === set) {
      this.regHitsToEntry();
      this.emptyRegister();
      if (forget) this.lastMark = -1;
    }
    if (this.prevEntry >= 0 && this.tlb.setOf[this.hSlot[this.prevEntry]!] === set) {
      this.prevHitsToEntry();
      this.emptyPrev();
      if (forget) this.prevMark = -1;
    }
  }

  // The register's pending hits move to its entry (which stays owned),
  // stamped now: no other slot of its set was used since they were made.
  private regHitsToEntry(): void {
    if (this.regHits > 0) {
      this.hHits[this.regEntry] = this.hHits[this.regEntry]! + this.regHits;
      this.stamp(this.regEntry);
    }
    this.regHits = 0;
  }

  // The second register's pending hits move to its entry, stamped now.
  private prevHitsToEntry(): void {
    if (this.prevHits > 0) {
      this.hHits[this.prevEntry] = this.hHits[this.prevEntry]! + this.prevHits;
      this.stamp(this.prevEntry);
    }
    this.prevHits = 0;
  }

  // Empties the second register if it holds `e`, its pending hits moving to `e`.
  private releasePrev(e: number): void {
    if (e !== this.prevEntry) return;
    this.prevHitsToEntry();
    this.emptyPrev();
  }

  private emptyRegister(): void {
    this.regReadBase = Number.NaN;
    this.regWriteBase = Number.NaN;
    this.touchReadBase = Number.NaN;
    this.touchWriteBase = Number.NaN;
    this.touchExecBase = Number.NaN;
    this.regSlot = -1;
    this.regEntry = -1;
  }

  // Finds the host bytes of host entry `e`'s page. The frame is backed even
  // for a read, so that the register can alias it: a never-written frame
  // costs host memory once it is read through the MMU.
  private locateHost(e: number): boolean {
    const h = this.host;
    if (!h.lookup(this.hPhys[e]! * INV_PAGE, true)) return false;
    const slab = h.slab;
    this.hSlab[e] = slab;
    this.hByte[e] = h.byte;
    this.hU8[e] = h.u8[slab]!;
    this.hU16[e] = h.u16[slab]!;
    this.hU32[e] = h.u32[slab]!;
    return true;
  }

  // Points the register at owned, located host entry `e` (its rights, bytes and TLB slot).
  private setRegister(e: number): void {
    this.regU8 = this.hU8[e]!;
    this.regU16 = this.hU16[e]!;
    this.regU32 = this.hU32[e]!;
    this.regByte = this.hByte[e]!;
    this.regReadBase = this.hRead[e]!;
    this.regWriteBase = this.hWrite[e]!;
    this.regSlot = this.hSlot[e]!;
    this.regEntry = e;
  }

  // Loads the register with host entry `e` (just looked up, its hit counted)
  // when the memory has frame views. The lookup released e's TLB sets, so
  // `e` is not in either register; the register (holding an entry of
  // another set, still owned, or touch()'s) becomes the second one.
  private loadRegister(e: number): boolean {
    if (this.hSlab[e]! < 0 && !this.locateHost(e)) return false;
    this.own(e);
    if (this.hMulti[e] !== 1) this.switchRegister(e);
    return true;
  }

  // Host entry `e`, just resolved for a load or store with `faults` the
  // fault count before it, made ready for that access: loaded into the
  // register (loadRegister) — unless the resolve took a page fault, when
  // it is only located. A page that just faulted in is as often touched
  // once (a loop of first touches) as many times, and owning it costs as
  // much as the claim of its next access, which owns it then, counting
  // that access's hit as the register would. False without host bytes.
  private readyAfter(e: number, faults: number): boolean {
    if (this.faults === faults) return this.loadRegister(e);
    return this.hSlab[e]! >= 0 || this.locateHost(e);
  }

  // Translates `addr` for `access`, giving faults to the handler; returns
  // the host-table entry of its page. Throws PageFault.
  private resolve(addr: number, access: AccessCode): number {
    // The usual miss first, in one piece (missBelow); when it finds that no
    // level holds the page, the lookup walks at once. After a fault the TLB
    // holds nothing for `addr` in this address space either (the walk
    // missed every level, or the fault dropped the entry): while nothing
    // has been filled since, the retry's probes would miss, so it walks at
    // once too, counting the same misses.
    const below = this.missBelow(addr, access);
    if (below >= 0) return below;
    let absent = below === BELOW_ABSENT;
    for (let tries = 0; ; tries++) {
      const r = this.lookup(addr, access, absent);
      if (r >= 0) return r;
      this.faults++;
      const name = ACCESS_NAMES[access]!;
      if (r === NON_CANONICAL) throw new PageFault(PKG, addr, name, "non-canonical", -1);
      const code = -r - 2;
      if (this.handler !== null) {
        if (tries >= MAX_RETRIES) {
          throw new UsageError(
            PKG,
            `the page-fault handler said it fixed the fault at ${hex(addr)} (error code ${code}) ${MAX_RETRIES} times, but it is still there`,
            "handler",
          );
        }
        const fills = this.tlb.fills;
        const space = this.current;
        const user = this.user;
        if (this.handler(addr, name, code)) {
          absent = this.tlb.fills === fills && this.current === space && this.user === user;
          continue;
        }
      }
      const reason = code & PF_RESERVED ? "reserved-bit" : code & PF_PRESENT ? "not-permitted" : "not-mapped";
      throw new PageFault(PKG, addr, name, reason, code);
    }
  }

  // lookup() for the usual miss, in one piece: a page of the current space
  // at `addr` (canonical, non-negative) that the host table and the first
  // level lack, that the second level holds (a TLB of two levels, LRU,
  // entries of the smallest size only) and whose cached rights allow the
  // access with nothing more to do (a write finds D set). Makes what lookup
  // and missLevels make of it — the second level's hit, the first level's
  // miss, its set settled, the copy up, the set pruned — and returns the
  // host entry. BELOW_ABSENT, having changed nothing, when neither level
  // holds the page (the caller walks at once); -1 in every other case.
  private missBelow(addr: number, access: AccessCode): number {
    if (this.current < 0 || !(addr >= 0 && addr < this.half)) return -1;
    const e = (addr >>> 12) & HOST_MASK;
    if (this.hOwned[e] === 1) return -1;
    const tlb = this.tlb;
    const pageBase = addr - (addr & 0xfff);
    tlb.at[0] = pageBase;
    const found = tlb.probeBelow(this.currentPcid);
    if (found < 0) return found;
    const rights = this.hostRights[tlb.flags[found]!]!;
    if ((rights & (1 << (access + this.rightsShift))) === 0) return -1;
    this.lastMark = -1;
    this.prevMark = -1;
    tlb.hitBelow(found);
    // The page's set in the first level: the page is at[0], and probeBelow
    // serves only a TLB whose entries are all of the smallest size.
    const set = tlb.setForAt(0, 0);
    this.settleSet(set);
    const slot = tlb.copyUp(found);
    this.pruneSet(set);
    this.setHostEntry(e, pageBase, slot, rights, tlb.phys[slot]!);
    return e;
  }

  // One translation attempt through the tiers. Returns the host-table entry
  // (≥ 0), NON_CANONICAL, or -(error code) - 2. With `absent`, the caller
  // knows that no level holds the page: a miss in each, straight to the walk.
  private lookup(addr: number, access: AccessCode, absent = false): number {
    if (this.current < 0) {
      throw new UsageError(PKG, "no address space is current: call switchAddressSpace first", "space");
    }
    if (!(addr >= -this.half && addr < this.half)) return NON_CANONICAL;
    const user = this.user;
    const tlb = this.tlb;
    const la = addr < 0 ? addr + this.full : addr;
    const pageBase = addr - (addr & 0xfff);
    const e = (addr >>> 12) & HOST_MASK;
    // Everything below changes one L1 set of `la` — the one of the page
    // size hit or filled — and lower levels, which hold nothing owned; a
    // fault's invalidation drops `la` from its L1 set for every size. Each
    // such set is released just before its change (its owner's hits handed
    // over, its entries disowned); owned entries of other sets keep their
    // slots and pending hits. Entry `e` is rewritten below: if it is
    // owned, it holds another page (a 2 MiB page's piece, of another set).
    if (this.hOwned[e] === 1) this.releaseSet(this.tlb.setOf[this.hSlot[e]!]!);
    this.lastMark = -1;
    this.prevMark = -1;
    let slot: number;
    if (this.hTag[e] === pageBase && tlb.gen[this.hSlot[e]!] === this.hGen[e]) {
      slot = this.hSlot[e]!;
      this.settleSet(tlb.setOf[slot]!);
      tlb.hit(slot);
      if ((this.hRights[e]! & ((1 << access) << (user ? 0 : SUPERVISOR_SHIFT))) !== 0) return e;
    } else if (absent) {
      this.lin[0] = la;
      slot = this.walkAndFill(access, user, tlb.levelCount);
      if (slot < 0) return slot;
    } else {
      tlb.at[0] = la;
      slot = tlb.probeAt(0, this.currentPcid);
      if (slot >= 0) {
        this.settleSet(tlb.setOf[slot]!);
        tlb.hit(slot);
      } else {
        this.lin[0] = la;
        slot = this.missLevels(access, user);
        if (slot < 0) return slot;
      }
    }
    let flags = tlb.flags[slot]!;
    if (!this.format.permits(flags, access, user)) {
      // The cached entry forbids the access: a page fault, which drops the
      // address's TLB entries (Intel SDM vol. 3A §4.10.4.1), so a retry walks.
      this.releaseSets(la);
      this.invalidated += tlb.invalidatePage(la, this.currentPcid, true);
      return -(PF_PRESENT | accessErrorBits(access, user)) - 2;
    }
    if (access === 1 && (flags & ENTRY_DIRTY) === 0) {
      // Cached clean: the write walks again to set D in RAM, then refills.
      // If the tables no longer allow it, the fault drops the stale entry too.
      this.lin[0] = la;
      slot = this.walkAndFill(1, user, 0);
      if (slot < 0) {
        this.releaseSets(la);
        this.invalidated += tlb.invalidatePage(la, this.currentPcid, true);
        return slot;
      }
      flags = tlb.flags[slot]!;
    }
    this.setHostEntry(
      e,
      pageBase,
      slot,
      this.hostRights[flags]!,
      tlb.phys[slot]! + (la - (la & 0xfff) - tlb.tag[slot]!),
    );
    return e;
  }

  // Points host entry `e` at L1 slot `slot`, which holds the 4 KiB page at
  // `pageBase` (of frame `phys`) with host-table rights `rights`.
  private setHostEntry(e: number, pageBase: number, slot: number, rights: number, phys: number): void {
    this.hTag[e] = pageBase;
    this.hSlot[e] = slot;
    this.hGen[e] = this.tlb.gen[slot]!;
    this.hRights[e] = rights;
    // The host bytes of a frame never move (core's frameView contract):
    // those of the same frame, located before, stay.
    if (this.hPhys[e] !== phys) {
      this.hPhys[e] = phys;
      this.hSlab[e] = -1;
    }
  }

  // An L1 miss: try the lower levels, then walk. Returns the L1 slot or -(error code) - 2.
  private missLevels(access: AccessCode, user: boolean): number {
    const tlb = this.tlb;
    const levels = tlb.levelCount;
    // Probes leave `at` as they found it; only copy() below rewrites it.
    tlb.at[0] = this.lin[0]!;
    for (let level = 1; level < levels; level++) {
      const found = tlb.probeAt(level, this.currentPcid);
      if (found < 0) continue;
      tlb.hit(found);
      const k = tlb.size[found]!;
      for (let l = 0; l < level; l++) tlb.miss(l, k);
      let slot = found;
      for (let l = level - 1; l >= 0; l--) {
        if (l > 0) {
          slot = tlb.copy(l, found);
          continue;
        }
        const set = tlb.setForCopy(0, found);
        this.settleSet(set);
        slot = tlb.copy(0, found);
        this.pruneSet(set);
      }
      return slot;
    }
    return this.walkAndFill(access, user, levels);
  }

  // Walks the current tables and fills every level; counts a miss in the
  // first `missed` levels. Returns the L1 slot or -(error code) - 2.
  private walkAndFill(access: AccessCode, user: boolean, missed: number): number {
    const tlb = this.tlb;
    const la = this.lin[0]!;
    this.walks++;
    this.walker.input[0] = this.currentRoot;
    this.walker.input[1] = la;
    const ok = this.walker.walk(access, user, true);
    const r = this.walker.result;
    this.walkRefs += r.memoryRefs;
    this.adWrites += r.adWrites;
    if (!ok) {
      for (let l = 0; l < missed; l++) tlb.miss(l, -1);
      return -r.errorCode - 2;
    }
    // Most walks end at the smallest size: no search for it.
    const k = tlb.pageSizes[0] === r.pageSize ? 0 : tlb.pageSizes.indexOf(r.pageSize);
    for (let l = 0; l < missed; l++) tlb.miss(l, k);
    const flags = this.globalPages ? r.flags : r.flags & ~ENTRY_GLOBAL;
    const pageLa = la - (la & (r.pageSize - 1));
    let slot = -1;
    // Neither fillAt nor a released set's hand-over rewrites `at`.
    tlb.at[0] = pageLa;
    tlb.at[1] = r.pagePhys;
    for (let l = tlb.levelCount - 1; l > 0; l--) tlb.fillAt(l, this.currentPcid, k, flags, this.current);
    const set = tlb.setForAt(0, k);
    this.settleSet(set);
    slot = tlb.fillAt(0, this.currentPcid, k, flags, this.current);
    this.pruneSet(set);
    return slot;
  }

  /**
   * Translates `addr` for `access` at the current privilege through the TLB
   * (filling it, setting A/D bits), without calling the fault handler.
   *
   * @returns the physical address, or the fault as a value.
   * @throws {UsageError} for an address that is not a safe integer or when no address space is current.
   */
  translate(addr: number, access: Access = "read"): Translation {
    const code = accessCode(access, "translate");
    if (!Number.isSafeInteger(addr)) {
      throw new UsageError(PKG, `translate: addr ${addr} is not a safe integer`, "addr");
    }
    const walks = this.walks;
    const r = this.lookup(addr, code);
    if (r === NON_CANONICAL) return { phys: -1, pageSize: 0, errorCode: -1, source: "non-canonical" };
    const source = this.walks === walks ? "tlb" : "walk";
    if (r < 0) return { phys: -1, pageSize: 0, errorCode: -r - 2, source };
    const la = addr < 0 ? addr + this.full : addr;
    return {
      phys: this.hPhys[r]! + (la & 0xfff),
      pageSize: this.tlb.pageSizes[this.tlb.size[this.hSlot[r]!]!]!,
      errorCode: -1,
      source,
    };
  }

  /**
   * Looks up every page of [addr, addr + size) through the TLB for `access`,
   * as a translated access would (handler, faults), moving no data: the
   * engine of trace replay.
   *
   * @throws {PageFault} as a load or store would; {@link UsageError} for a bad address or size.
   */
  touch(addr: number, size: number, access: Access): void {
    const code: AccessCode =
      access === "read" ? 0 : access === "write" ? 1 : access === "execute" ? 2 : accessCode(access, "touch");
    const off =
      addr - (code === 0 ? this.touchReadBase : code === 1 ? this.touchWriteBase : this.touchExecBase);
    // A hit on the register: an integer offset with the whole access inside the page.
    if ((off | 0) === off && off >= 0 && off <= PAGE - size && size >= 1) {
      this.regHits++;
      return;
    }
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(size) || size < 1) {
      throw new UsageError(PKG, `touch: [${addr}, +${size}) is not an address and a positive size`, "addr");
    }
    const inPage = (addr & 0xfff) + size;
    let e = (addr >>> 12) & HOST_MASK;
    if (
      inPage <= PAGE &&
      this.hTag[e] === addr - (addr & 0xfff) &&
      this.tlb.gen[this.hSlot[e]!] === this.hGen[e] &&
      (this.hRights[e]! & (1 << (code + this.rightsShift))) !== 0
    ) {
      // The host table holds the page with a valid L1 slot that allows the
      // access: an L1 hit, pending on the entry (owned) as claim() does.
      // The register takes the page below, so the set keeps one slot: the
      // pending hits of any other are handed over first (they came before).
      const set = this.tlb.setOf[this.hSlot[e]!]!;
      const one = this.pendSlot[set]!;
      if (one !== -1 && one !== this.hSlot[e]) this.releaseSet(set);
      this.own(e);
      this.hHits[e]!++;
      this.stamp(e);
    } else {
      e = this.resolve(addr, code);
      const last = addr + size - 1;
      for (let page = addr - (addr & 0xfff) + PAGE; page <= last; page += PAGE) e = this.resolve(page, code);
    }
    // Owned entries of other sets outlive lookups, so the register may hold
    // one (its hits go to its entry, which stays owned), and the second
    // register may hold `e` itself (it moves over).
    this.regHitsToEntry();
    this.regReadBase = Number.NaN;
    this.regWriteBase = Number.NaN;
    this.releasePrev(e);
    this.own(e);
    // A set of several owned slots (pages a lookup left owned) gets no register.
    if (this.hMulti[e] === 1) {
      this.emptyRegister();
      this.regHits = 0;
      return;
    }
    // Load the register for the last page, without host bytes.
    const rights = this.hRights[e]! >> this.rightsShift;
    const base = this.hTag[e]!;
    this.touchReadBase = rights & 1 ? base : Number.NaN;
    this.touchWriteBase = rights & 2 ? base : Number.NaN;
    this.touchExecBase = rights & 4 ? base : Number.NaN;
    this.regSlot = this.hSlot[e]!;
    this.regEntry = e;
    this.regHits = 0;
  }

  /**
   * Walks the tables of `space` for `virt` without the TLB (a debugger's
   * walk, not counted in stats).
   *
   * @returns the walker's result object, reused by the next walk.
   * @throws {UsageError} for an unknown space or a non-canonical address.
   */
  walk(space: number, virt: number, access: Access, privilege: Privilege, sideEffects = false): WalkResult {
    const code = accessCode(access, "walk");
    const root = space === this.current ? this.currentRoot : this.rootFor(space, "walk");
    if (!this.isCanonical(virt)) throw new UsageError(PKG, `walk: virt ${virt} is not canonical`, "virt");
    this.walker.input[0] = root;
    this.walker.input[1] = virt < 0 ? virt + this.full : virt;
    this.walker.walk(code, privilege === "user", sideEffects);
    return this.walker.result;
  }

  // ---------------------------------------------------------------- address spaces and privilege

  get currentAddressSpace(): number {
    return this.current;
  }

  get privilege(): Privilege {
    return this.user ? "user" : "supervisor";
  }

  set privilege(value: Privilege) {
    if (value !== "user" && value !== "supervisor") {
      throw new UsageError(
        PKG,
        `privilege must be "user" or "supervisor", got ${String(value)}`,
        "privilege",
      );
    }
    const user = value === "user";
    // Same privilege (the kernel sets it on every entry): nothing changes,
    // so the register stays loaded.
    if (user === this.user) return;
    this.spill(true);
    this.user = user;
    this.rightsShift = user ? 0 : SUPERVISOR_SHIFT;
    this.tagState.owner = user ? this.current : -1;
  }

  isCanonical(addr: number): boolean {
    return Number.isSafeInteger(addr) && addr >= -this.half && addr < this.half;
  }

  private rootFor(space: number, fn: string): number {
    const root = this.tables.root(space);
    if (root === undefined) throw new UsageError(PKG, `${fn}: ${space} is not a live address space`, "space");
    return root;
  }

  createAddressSpace(): number | null {
    const id = this.nextSpace;
    if (!this.tables.createRoot(id)) return null;
    this.nextSpace++;
    let pcid = 0;
    if (this.pcidEnabled) {
      // Round robin over 1..max; a PCID shared with a live space is flushed
      // when its new owner is switched to (as Linux's ASID generations do).
      pcid = this.nextPcid;
      this.nextPcid = (this.nextPcid % this.format.maxTag) + 1;
    }
    this.spaces.set(id, pcid);
    return id;
  }

  destroyAddressSpace(space: number): void {
    this.rootFor(space, "destroyAddressSpace");
    if (space === this.current) {
      throw new UsageError(PKG, `destroyAddressSpace: ${space} is current; switch away first`, "space");
    }
    this.spill(true);
    this.invalidated += this.tlb.invalidate("space", space);
    const pcid = this.spaces.get(space)!;
    if (this.pcidOwner[pcid] === space) this.pcidOwner[pcid] = -1;
    this.tables.destroy(space);
    this.spaces.delete(space);
  }

  switchAddressSpace(space: number): void {
    const root = this.rootFor(space, "switchAddressSpace");
    this.spill(true);
    this.hTag.fill(Number.NaN);
    const pcid = this.spaces.get(space)!;
    if (!this.pcidEnabled) {
      // CR4.PCIDE = 0: a CR3 write flushes every non-global entry.
      if (space !== this.current) this.invalidated += this.tlb.invalidate("non-global");
    } else if (this.pcidOwner[pcid] !== space) {
      this.invalidated += this.tlb.invalidate("pcid", pcid);
    }
    this.pcidOwner[pcid] = space;
    this.current = space;
    this.currentRoot = root;
    this.currentPcid = pcid;
    this.tagState.owner = this.user ? space : -1;
  }

  /** PCID/ASID given to `space`. @throws {UsageError} for an unknown space. */
  pcidOf(space: number): number {
    this.rootFor(space, "pcidOf");
    return this.spaces.get(space)!;
  }

  /** Physical address of the root table of `space` (what CR3 / satp holds). @throws {UsageError} for an unknown space. */
  rootOf(space: number): PhysAddr {
    return physAddr(this.rootFor(space, "rootOf"));
  }

  // ---------------------------------------------------------------- editing

  private markStale(space: number, virt: number, length: number): void {
    const start = virt < 0 ? virt + this.full : virt;
    this.tlb.markStale(space, start, start + length);
  }

  private rightsFlags(rights: PageRights, fn: string): number {
    if (rights === null || typeof rights !== "object") {
      throw new UsageError(PKG, `${fn}: rights must be an object { write, user, execute }`, "rights");
    }
    return rightsToFlags(rights);
  }

  map(
    space: number,
    virt: number,
    phys: PhysAddr,
    length: number,
    pageSize: number,
    rights: PageRights,
    dirty = false,
  ): boolean {
    const flags = this.rightsFlags(rights, "map") | (dirty === true ? ENTRY_DIRTY : 0);
    const ok = this.tables.map(space, virt, phys, length, pageSize, flags);
    // Filling empty entries needs no stale marks: see PageTables.lastMapReplaced.
    if (ok && this.tables.lastMapReplaced) this.markStale(space, virt, length);
    return ok;
  }

  unmap(space: number, virt: number, length: number, keepTables = false): number {
    const n = this.tables.unmap(space, virt, length, keepTables);
    this.markStale(space, virt, length);
    return n;
  }

  /**
   * Makes the page tables down to the one a page of `pageSize` at `virt`
   * would be mapped in, mapping nothing: for a kernel that allocates tables
   * ahead (Linux's fork and mremap, and the upper tables of a fault). No
   * TLB entry changes.
   *
   * @returns false when a table frame could not be allocated (nothing is changed then).
   * @throws {UsageError} for an unknown space, a size that is not the span
   *   of an entry below the root (4 KiB, 2 MiB, 1 GiB on x86-64, whether or
   *   not the format maps pages that size), an address not aligned to it or
   *   not canonical, or one inside a larger page.
   */
  prepareTables(space: number, virt: number, pageSize = 4096): boolean {
    return this.tables.prepareTables(space, virt, pageSize);
  }

  /** Number of page-table frames `space` holds, its root included (0 for a space that is gone). */
  tablesOf(space: number): number {
    return this.tables.tablesOf(space);
  }

  /**
   * Frees the empty page tables whose whole span lies in [start, end): the
   * ones `unmap(…, true)` kept. No TLB entry maps through an empty table,
   * so none goes stale.
   *
   * @returns the number of tables freed.
   * @throws {UsageError} for an unknown space, or an empty, unaligned or non-canonical range.
   */
  freeTables(space: number, start: number, end: number): number {
    return this.tables.freeTables(space, start, end - start);
  }

  protect(space: number, virt: number, length: number, rights: PageRights): number {
    const n = this.tables.protect(space, virt, length, this.rightsFlags(rights, "protect"));
    this.markStale(space, virt, length);
    return n;
  }

  query(space: number, virt: number): PageMapping | null {
    return this.tables.query(space, virt);
  }

  walkRange(space: number, start: number, end: number, visit: (mapping: PageMapping) => void): void {
    this.tables.walkRange(space, start, end, visit);
  }

  testAndClearAccessed(space: number, virt: number): boolean {
    // Like x86 Linux, no flush: a cached translation keeps serving hits
    // without setting the bit again until it is evicted or invalidated.
    return this.tables.testAndClearAccessed(space, virt);
  }

  /**
   * Clears the Accessed and Dirty bits of the mapping covering `virt` in
   * RAM and drops its cached translation (and those of the fast path), so
   * the next write walks to set Dirty again. With `invalidate` false the
   * translation stays cached, marked stale, for the caller's flush.
   *
   * @returns false when `virt` is not mapped.
   * @throws {UsageError} for an unknown space or a non-canonical address.
   */
  clean(space: number, virt: number, invalidate = true): boolean {
    const found = this.tables.clean(space, virt);
    if (invalidate) this.invalidatePage(space, virt);
    else this.markStale(space, virt - (virt & 0xfff), 4096);
    return found;
  }

  // ---------------------------------------------------------------- invalidation and faults

  invalidatePage(space: number, virt: number): void {
    this.rootFor(space, "invalidatePage");
    if (!this.isCanonical(virt))
      throw new UsageError(PKG, `invalidatePage: virt ${virt} is not canonical`, "virt");
    this.spill(true);
    const pcid = this.spaces.get(space)!;
    const la = virt < 0 ? virt + this.full : virt;
    // INVLPG (current space) also drops global entries; INVPCID type 0 does not.
    if (space === this.current) this.invalidated += this.tlb.invalidatePage(la, pcid, true);
    else if (this.pcidOwner[pcid] === space) this.invalidated += this.tlb.invalidatePage(la, pcid, false);
  }

  invalidateAddressSpace(space: number): void {
    this.rootFor(space, "invalidateAddressSpace");
    this.spill(true);
    const pcid = this.spaces.get(space)!;
    if (this.pcidOwner[pcid] === space) this.invalidated += this.tlb.invalidate("pcid", pcid);
  }

  invalidateAll(): void {
    this.spill(true);
    this.invalidated += this.tlb.invalidate("all");
  }

  onPageFault(handler: PageFaultHandler | null): void {
    if (handler !== null && typeof handler !== "function") {
      throw new UsageError(PKG, "onPageFault: handler must be a function or null", "handler");
    }
    this.handler = handler;
  }

  // ---------------------------------------------------------------- statistics and checking

  /** Counters of the TLB levels and the page walks. */
  stats(): MmuStats {
    this.spill(false);
    return {
      levels: this.tlb.stats(),
      walks: this.walks,
      walkMemoryRefs: this.walkRefs,
      accessedDirtyWrites: this.adWrites,
      pageFaults: this.faults,
      invalidatedEntries: this.invalidated,
    };
  }

  /** Zeroes every counter (the TLB's contents stay). */
  resetStats(): void {
    this.spill(false);
    this.tlb.resetStats();
    this.walks = 0;
    this.walkRefs = 0;
    this.adWrites = 0;
    this.faults = 0;
    this.invalidated = 0;
  }

  /**
   * Verifies the page tables of every address space, the TLB's own
   * invariants, every TLB entry against the tables (an entry may disagree
   * only where the tables were edited and the entry not yet invalidated:
   * the stale state software must clean up), and the fast-path caches
   * against the TLB.
   *
   * @throws {CorruptionError} at the first violation.
   */
  check(): void {
    this.spill(false);
    this.tables.check();
    const tlb = this.tlb;
    tlb.check();
    const r = this.walker.result;
    const compared = ENTRY_RIGHTS | (this.globalPages ? ENTRY_GLOBAL : 0);
    for (let s = 0; s < tlb.slotCount; s++) {
      if (tlb.pcid[s] === -1 || tlb.stale[s]) continue;
      const root = this.tables.root(tlb.space[s]!);
      if (root === undefined) {
        throw new CorruptionError(
          PKG,
          `Mmu: TLB slot ${s} belongs to destroyed address space ${tlb.space[s]}`,
        );
      }
      this.walker.input[0] = root;
      this.walker.input[1] = tlb.tag[s]!;
      this.walker.walk(0, false, false);
      const size = tlb.pageSizes[tlb.size[s]!]!;
      const where = `TLB slot ${s} (la ${hex(tlb.tag[s]!)}, space ${tlb.space[s]})`;
      if (r.pagePhys !== tlb.phys[s] || r.pageSize !== size) {
        throw new CorruptionError(
          PKG,
          `Mmu: ${where} maps ${hex(tlb.phys[s]!)}/${size} but the tables say ${hex(r.pagePhys)}/${r.pageSize}, with no edit since`,
        );
      }
      if ((r.flags & compared) !== (tlb.flags[s]! & compared)) {
        throw new CorruptionError(
          PKG,
          `Mmu: ${where} has rights ${tlb.flags[s]} but the tables say ${r.flags}`,
        );
      }
      // The Accessed bit may be clear: software clears it without flushing
      // (testAndClearAccessed, Linux's ptep_test_and_clear_young on x86), and
      // a TLB hit never sets it again. Nothing clears Dirty under a cached
      // dirty entry, so that must still hold.
      if ((tlb.flags[s]! & ENTRY_DIRTY) !== 0 && (r.flags & ENTRY_DIRTY) === 0) {
        throw new CorruptionError(PKG, `Mmu: ${where} is cached dirty but its D bit in RAM is not set`);
      }
    }
    for (let e = 0; e < HOST; e++) {
      const slot = this.hSlot[e]!;
      if (Number.isNaN(this.hTag[e]!) || tlb.gen[slot] !== this.hGen[e]) continue;
      const la = this.hTag[e]! < 0 ? this.hTag[e]! + this.full : this.hTag[e]!;
      const size = tlb.pageSizes[tlb.size[slot]!]!;
      if (
        tlb.pcid[slot] === -1 ||
        tlb.levelOf(slot) !== 0 ||
        la < tlb.tag[slot]! ||
        la >= tlb.tag[slot]! + size ||
        this.hPhys[e] !== tlb.phys[slot]! + (la - tlb.tag[slot]!)
      ) {
        throw new CorruptionError(PKG, `Mmu: host-table entry ${e} disagrees with TLB slot ${slot}`);
      }
      const h = this.host;
      if (
        this.hSlab[e]! >= 0 &&
        (!h.lookup(this.hPhys[e]! / PAGE, false) || h.slab !== this.hSlab[e] || h.byte !== this.hByte[e])
      ) {
        throw new CorruptionError(PKG, `Mmu: host-table entry ${e} points at the wrong host bytes`);
      }
    }
    const bases = [
      this.regReadBase,
      this.regWriteBase,
      this.touchReadBase,
      this.touchWriteBase,
      this.touchExecBase,
    ];
    const base = bases.find((b) => !Number.isNaN(b));
    if (base !== undefined) {
      const slot = this.regSlot;
      const la = base < 0 ? base + this.full : base;
      if (
        slot < 0 ||
        tlb.pcid[slot] === -1 ||
        la < tlb.tag[slot]! ||
        la >= tlb.tag[slot]! + tlb.pageSizes[tlb.size[slot]!]!
      ) {
        throw new CorruptionError(PKG, "Mmu: the register holds a page its TLB slot does not");
      }
      // The data register must alias the frame its slot translates to.
      if (!Number.isNaN(this.regReadBase) || !Number.isNaN(this.regWriteBase)) {
        const h = this.host;
        const frame = (tlb.phys[slot]! + (la - tlb.tag[slot]!)) / PAGE;
        if (!h.lookup(frame, false) || h.u8[h.slab] !== this.regU8 || h.byte !== this.regByte) {
          throw new CorruptionError(PKG, "Mmu: the register's bytes are not those of its frame");
        }
      }
    }
    // Owned entries (spill(false) above handed every pending hit over):
    // listed once, valid, their slot their TLB set's owner (or the set
    // MULTI), fast tags as their rights at this privilege allow, stamps
    // not after the clock; no other entry has fast tags, and no set an
    // owner without an owned entry.
    const h = this.host;
    const sets = new Set<number>();
    for (let k = 0; k < this.ownedCount; k++) {
      const e = this.owned[k]!;
      const slot = this.hSlot[e]!;
      const rights = this.hRights[e]! >> this.rightsShift;
      const located = this.hSlab[e]! >= 0 && this.hTag[e]! >= 0;
      const read = located && rights & 1 ? this.hTag[e]! : Number.NaN;
      const write = located && rights & 2 ? this.hTag[e]! : Number.NaN;
      if (
        this.hOwned[e] !== 1 ||
        this.owned.subarray(0, k).includes(e) ||
        tlb.gen[slot] !== this.hGen[e] ||
        (this.pendSlot[tlb.setOf[slot]!] !== slot && this.pendSlot[tlb.setOf[slot]!] !== MULTI) ||
        this.hLast[e]! > this.clock[0]! ||
        this.hMulti[e] !== (this.pendSlot[tlb.setOf[slot]!] === MULTI ? 1 : 0) ||
        !Object.is(this.hRead[e], read) ||
        !Object.is(this.hWrite[e], write) ||
        (located && (this.hU8[e] !== h.u8[this.hSlab[e]!] || this.hU32[e] !== h.u32[this.hSlab[e]!]))
      ) {
        throw new CorruptionError(PKG, `Mmu: owned host-table entry ${e} disagrees with its slot or rights`);
      }
      sets.add(tlb.setOf[slot]!);
    }
    for (let e = 0; e < HOST; e++) {
      const owned = this.owned.subarray(0, this.ownedCount).includes(e);
      if (
        (this.hOwned[e] === 1) !== owned ||
        this.hHits[e] !== 0 ||
        (!owned && !(Number.isNaN(this.hRead[e]!) && Number.isNaN(this.hWrite[e]!)))
      ) {
        throw new CorruptionError(PKG, `Mmu: host-table entry ${e} has fast tags or hits but is not owned`);
      }
    }
    for (let set = 0; set < this.pendSlot.length; set++) {
      if (this.pendSlot[set] !== -1 && !sets.has(set)) {
        throw new CorruptionError(PKG, `Mmu: TLB set ${set} has an owner slot but no owned entry`);
      }
      // A MULTI set's owned entries span two slots or more.
      if (this.pendSlot[set] === MULTI) {
        const slots = new Set<number>();
        for (let e = this.ownHead[set]!, n = 0; e >= 0 && n < HOST; e = this.ownNext[e]!, n++) {
          slots.add(this.hSlot[e]!);
        }
        if (slots.size < 2) {
          throw new CorruptionError(
            PKG,
            `Mmu: TLB set ${set} is marked as owned by several slots but has one`,
          );
        }
      }
    }
    // A register holds a page of a set of one owned slot: its hits carry no stamp.
    for (const e of [this.regEntry, this.prevEntry]) {
      if (e >= 0 && this.pendSlot[tlb.setOf[this.hSlot[e]!]!] !== this.hSlot[e]) {
        throw new CorruptionError(
          PKG,
          `Mmu: a register holds entry ${e} of a set its slot does not own alone`,
        );
      }
    }
    // Each set's chain holds exactly its owned entries; ownedPos indexes `owned`.
    let chained = 0;
    for (let set = 0; set < this.ownHead.length; set++) {
      for (let e = this.ownHead[set]!, n = 0; e >= 0; e = this.ownNext[e]!, n++) {
        if (this.hOwned[e] !== 1 || tlb.setOf[this.hSlot[e]!] !== set || n >= HOST) {
          throw new CorruptionError(PKG, `Mmu: the owned chain of TLB set ${set} holds entry ${e} wrongly`);
        }
        chained++;
      }
    }
    for (let k = 0; k < this.ownedCount; k++) {
      if (this.ownedPos[this.owned[k]!] !== k) {
        throw new CorruptionError(PKG, `Mmu: owned entry ${this.owned[k]} is not at its recorded index`);
      }
    }
    if (chained !== this.ownedCount) {
      throw new CorruptionError(
        PKG,
        `Mmu: ${chained} owned entries chained by set, ${this.ownedCount} listed`,
      );
    }
    if (this.regHits !== 0 || (this.regEntry >= 0 && this.hOwned[this.regEntry] !== 1)) {
      throw new CorruptionError(PKG, "Mmu: the register's entry is not owned, or it has hits after a spill");
    }
    if (
      this.prevHits !== 0 ||
      (this.prevEntry >= 0
        ? this.hOwned[this.prevEntry] !== 1 ||
          this.prevEntry === this.regEntry ||
          this.prevU8 !== this.hU8[this.prevEntry] ||
          this.prevByte !== this.hByte[this.prevEntry] ||
          !(Number.isNaN(this.prevReadBase) || this.prevReadBase === this.hRead[this.prevEntry]) ||
          !(Number.isNaN(this.prevWriteBase) || this.prevWriteBase === this.hWrite[this.prevEntry])
        : !Number.isNaN(this.prevReadBase) || !Number.isNaN(this.prevWriteBase))
    ) {
      throw new CorruptionError(PKG, "Mmu: the second register disagrees with its owned entry");
    }
    if (this.current >= 0 && this.pcidOwner[this.currentPcid] !== this.current) {
      throw new CorruptionError(PKG, "Mmu: the current address space does not own its PCID");
    }
    if (this.tagState.owner !== (this.user ? this.current : -1)) {
      throw new CorruptionError(PKG, "Mmu: the fast tags' owner is not the current space in user mode");
    }
  }
}

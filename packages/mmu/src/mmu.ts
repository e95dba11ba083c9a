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
 *     host table (1024 pages)  direct-mapped by 4 KiB page: L1 slot + its generation,
 *        │ miss                 rights per privilege, host slab and byte offset;
 *        ▼                      a hit here becomes the current register
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
 *
 * Exactness. The registers and the host table only ever hold L1 entries
 * that are valid in the modelled TLB (a slot's generation changes whenever
 * it is invalidated or refilled), so a stale translation stays exactly as
 * long as the modelled TLB keeps it. Register hits are counted per register
 * and handed to the TLB — counted, and the slot made most recently used —
 * before any other TLB operation (`spill`). The two registers never hold
 * different slots of one TLB set, and recency is only compared within a
 * set, so the order of their spills changes nothing: hit counts and LRU or
 * PLRU state are exactly those of a TLB that saw every access. A switch
 * through the host table counts its access at the next spill too, which is
 * the same as counting it at once (nothing else touches the TLB between).
 * test/fast-path.test.ts compares all of it with per-access lookups.
 */
import {
  type Access,
  CorruptionError,
  type FrameAllocator,
  type MemoryManagementUnit,
  type PageFaultHandler,
  type PageMapping,
  type PageRights,
  PF_PRESENT,
  PF_RESERVED,
  type PhysAddr,
  type PhysicalMemory,
  type Privilege,
  physAddr,
  UsageError,
  type VirtAddr,
} from "@memstack/core";
import {
  type AccessCode,
  ENTRY_DIRTY,
  ENTRY_GLOBAL,
  ENTRY_RIGHTS,
  type MmuOptions,
  type MmuStats,
  type PageTableFormat,
  type Translation,
  type WalkResult,
} from "./api.js";
import type { HostFrames } from "./internal/host-frames.js";
import { PhysWords } from "./internal/phys-words.js";
import { PageFault } from "./page-fault.js";
import { PageTables, rightsToFlags } from "./page-tables.js";
import { accessErrorBits, PageWalker } from "./page-walk.js";
import { Tlb } from "./tlb.js";
import { createX86_64Format } from "./x86-64-format.js";

const PKG = "@memstack/mmu";
const PAGE = 4096;
const INV_PAGE = 1 / 4096;
const HOST = 1024;
const HOST_MASK = HOST - 1;
const TWO_32 = 4294967296;
const NON_CANONICAL = -1;
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

  private readonly memory: PhysicalMemory;
  private readonly host: HostFrames;
  private readonly walker: PageWalker;
  private readonly tables: PageTables;
  private readonly half: number;
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
  // The second register: the page used before the current one, checked by
  // the hot paths after the current one, with its own pending hits, so a
  // program alternating between two pages never leaves the hot paths. It
  // never holds another slot of the current register's TLB set (see
  // switchRegister), so the two can be spilled in either order.
  private prevReadBase = Number.NaN;
  private prevWriteBase = Number.NaN;
  private prevU8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  private prevU16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  private prevU32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private prevByte = 0;
  private prevSlot = -1;
  private prevHits = 0;
  private prevEntry = -1;
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
    const words = new PhysWords(memory);
    this.host = words.host;
    this.walker = new PageWalker(words, format);
    this.tables = new PageTables(words, frames as FrameAllocator, format, this.walker);
    this.tlb = new Tlb(format.pageSizes, options.tlb);
    this.half = 2 ** (format.virtualBits - 1);
    this.full = 2 ** format.virtualBits;
    this.pcidEnabled = pcid;
    this.globalPages = globalPages;
    this.pcidOwner = new Int32Array(format.maxTag + 1).fill(-1);
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
    return this.slowLoad(addr, 1) >>> 0;
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
    return this.slowLoad(addr, 2) >>> 0;
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
    return this.slowLoad(addr, 4) >>> 0;
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
    return this.slowLoad(addr, 8);
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
    this.slowStore(addr, 1, value);
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
    this.slowStore(addr, 2, value);
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
    this.slowStore(addr, 4, value);
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
    this.slowStore(addr, 8, value);
  }

  // ---------------------------------------------------------------- VirtualMemory: slow paths

  private checkAddr(addr: number, fn: string): void {
    if (!Number.isSafeInteger(addr) || addr < 0) {
      throw new UsageError(PKG, `Mmu.${fn}: addr ${addr} is not a non-negative safe integer`, "addr");
    }
  }

  private slowLoad(addr: number, size: number): number {
    const off = addr & 0xfff;
    // Another page the host table holds: it becomes the register (the common
    // case when a program alternates between a few pages).
    if (off <= PAGE - size && this.switchRegister(addr, 0)) return this.readRegister(off, size, addr);
    return this.lookupLoad(addr, size);
  }

  // A load the registers and the host table could not serve: the full lookup.
  // (Apart from slowLoad so that V8 can inline the switch path into it.)
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
    const e = this.resolve(addr, 0);
    if (this.loadRegister(e)) return this.readRegister(off, size, addr);
    const p = physAddr(this.hPhys[e]! + off);
    const m = this.memory;
    if (size === 1) return m.readU8(p);
    if (size === 2) return m.readU16(p);
    if (size === 4) return m.readU32(p);
    return this.join64(m.readU32(physAddr(p + 4)), m.readU32(p), addr);
  }

  // Reads `size` bytes at page offset `off` (inside the page) of the register.
  private readRegister(off: number, size: number, addr: number): number {
    const i = this.regByte + off;
    if ((off & (size - 1)) === 0) {
      if (size === 4) return this.regU32[i >>> 2]!;
      if (size === 1) return this.regU8[i]!;
      if (size === 2) return this.regU16[i >>> 1]!;
      return this.join64(this.regU32[(i >>> 2) + 1]!, this.regU32[i >>> 2]!, addr);
    }
    const b = this.regU8;
    if (size === 2) return b[i]! | (b[i + 1]! << 8);
    const lo = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
    if (size === 4) return lo;
    const hi = (b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24)) >>> 0;
    return this.join64(hi, lo, addr);
  }

  // Writes the low `size` bytes of lo (and hi for 8) at page offset `off` of the register.
  private writeRegister(off: number, size: number, lo: number, hi: number): void {
    const i = this.regByte + off;
    if ((off & (size - 1)) === 0) {
      if (size === 4) this.regU32[i >>> 2] = lo;
      else if (size === 1) this.regU8[i] = lo;
      else if (size === 2) this.regU16[i >>> 1] = lo;
      else {
        this.regU32[i >>> 2] = lo;
        this.regU32[(i >>> 2) + 1] = hi;
      }
      return;
    }
    const b = this.regU8;
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

  private slowStore(addr: number, size: number, value: number): void {
    const off = addr & 0xfff;
    let lo =
      size === 8 ? value >>> 0 : (value >>> 0) & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);
    lo >>>= 0;
    const hi = size === 8 ? (value - lo) / TWO_32 : 0;
    if (off <= PAGE - size && this.switchRegister(addr, 1)) {
      this.writeRegister(off, size, lo, hi);
      return;
    }
    this.lookupStore(addr, size, lo, hi);
  }

  // A store the registers and the host table could not serve: the full lookup.
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
    const e = this.resolve(addr, 1);
    if (this.loadRegister(e)) {
      this.writeRegister(off, size, lo, hi);
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
        const i = this.regByte + off;
        dest.set(this.regU8.subarray(i, i + chunk), done);
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
        this.regU8.set(src.subarray(done, done + chunk), this.regByte + off);
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
        this.regU8.fill(byte, this.regByte + off, this.regByte + off + chunk);
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

  // Hands register hits to the TLB (counted, slot made MRU) and, with
  // `clear`, empties the register before another TLB operation.
  private spill(clear: boolean): void {
    // The registers hold slots of different TLB sets (or the same slot):
    // the order of these two spills changes no recency order.
    if (this.prevHits > 0) {
      this.tlb.hits(this.prevSlot, this.prevHits);
      this.prevHits = 0;
    }
    if (this.regHits > 0) {
      this.tlb.hits(this.regSlot, this.regHits);
      this.regHits = 0;
    }
    if (clear) {
      this.regReadBase = Number.NaN;
      this.regWriteBase = Number.NaN;
      this.touchReadBase = Number.NaN;
      this.touchWriteBase = Number.NaN;
      this.touchExecBase = Number.NaN;
      this.regSlot = -1;
      this.regEntry = -1;
      this.prevReadBase = Number.NaN;
      this.prevWriteBase = Number.NaN;
      this.prevSlot = -1;
      this.prevEntry = -1;
    }
  }

  // Finds the host bytes of host entry `e`'s page. The frame is backed even
  // for a read, so that the register can alias it: a never-written frame
  // costs host memory once it is read through the MMU.
  private locateHost(e: number): boolean {
    const h = this.host;
    if (!h.lookup(this.hPhys[e]! * INV_PAGE, true)) return false;
    this.hSlab[e] = h.slab;
    this.hByte[e] = h.byte;
    return true;
  }

  // Points the register at host entry `e` (its rights, bytes and TLB slot).
  private setRegister(e: number): void {
    const h = this.host;
    const slab = this.hSlab[e]!;
    this.regU8 = h.u8[slab]!;
    this.regU16 = h.u16[slab]!;
    this.regU32 = h.u32[slab]!;
    this.regByte = this.hByte[e]!;
    const rights = this.hRights[e]! >> this.rightsShift;
    const base = this.hTag[e]!;
    this.regReadBase = rights & 1 ? base : Number.NaN;
    this.regWriteBase = rights & 2 ? base : Number.NaN;
    this.regSlot = this.hSlot[e]!;
    this.regEntry = e;
  }

  // Moves the current register to the second one (whose hits the caller spilled).
  private retireRegister(): void {
    this.prevReadBase = this.regReadBase;
    this.prevWriteBase = this.regWriteBase;
    this.prevU8 = this.regU8;
    this.prevU16 = this.regU16;
    this.prevU32 = this.regU32;
    this.prevByte = this.regByte;
    this.prevSlot = this.regSlot;
    this.prevHits = this.regHits;
    this.prevEntry = this.regEntry;
  }

  // Exchanges the two registers; both keep their pending hits.
  private swapRegisters(): void {
    const readBase = this.prevReadBase;
    const writeBase = this.prevWriteBase;
    const u8 = this.prevU8;
    const u16 = this.prevU16;
    const u32 = this.prevU32;
    const byte = this.prevByte;
    const slot = this.prevSlot;
    const hits = this.prevHits;
    const entry = this.prevEntry;
    this.prevReadBase = this.regReadBase;
    this.prevWriteBase = this.regWriteBase;
    this.prevU8 = this.regU8;
    this.prevU16 = this.regU16;
    this.prevU32 = this.regU32;
    this.prevByte = this.regByte;
    this.prevSlot = this.regSlot;
    this.prevHits = this.regHits;
    this.prevEntry = this.regEntry;
    this.regReadBase = readBase;
    this.regWriteBase = writeBase;
    this.regU8 = u8;
    this.regU16 = u16;
    this.regU32 = u32;
    this.regByte = byte;
    this.regSlot = slot;
    this.regHits = hits;
    this.regEntry = entry;
  }

  // Loads the register with host entry `e` (just looked up, its hit counted)
  // when the memory has frame views. The lookup spilled and emptied every
  // register, touch()'s included.
  private loadRegister(e: number): boolean {
    if (this.hSlab[e]! < 0 && !this.locateHost(e)) return false;
    this.setRegister(e);
    this.regHits = 0;
    return true;
  }

  // The register switch, for an access of `size` bytes inside one page that
  // neither register served: when the host table holds the page with a
  // valid L1 slot whose rights allow `access`, it becomes the current
  // register without a full lookup, and this access is its first hit
  // (counted, with its others, at the next spill: before any other TLB
  // operation, as lookup()'s immediate tlb.hit would be). The current
  // register becomes the second one, whose hits are spilled first — unless
  // it shares a TLB set with the new page: then it is spilled itself, so the
  // two registers never hold different slots of one set, and their hits can
  // be spilled in either order (recency is only compared within a set).
  // Returns false, having changed nothing, when the host table cannot serve
  // (the full lookup then runs).
  private switchRegister(addr: number, access: AccessCode): boolean {
    if (!(addr >= 0)) return false;
    const e = (addr >>> 12) & HOST_MASK;
    const slot = this.hSlot[e]!;
    const tlb = this.tlb;
    if (
      this.hTag[e] !== addr - (addr & 0xfff) ||
      tlb.gen[slot] !== this.hGen[e] ||
      (this.hRights[e]! & (1 << (access + this.rightsShift))) === 0
    ) {
      return false;
    }
    if (this.hSlab[e]! < 0 && !this.locateHost(e)) return false;
    if (e === this.regEntry || e === this.prevEntry) {
      // A register's own page (an unaligned access): make it current.
      if (e === this.prevEntry) this.swapRegisters();
      this.regHits++;
      return true;
    }
    if (this.regEntry >= 0) {
      const current = this.regSlot;
      if (current !== slot && tlb.setOf[current] === tlb.setOf[slot]) {
        if (this.regHits > 0) tlb.hits(current, this.regHits);
      } else {
        if (this.prevHits > 0) tlb.hits(this.prevSlot, this.prevHits);
        this.retireRegister();
      }
    } else {
      // Empty, or touch()'s register (whose bases a data register replaces).
      if (this.regHits > 0) tlb.hits(this.regSlot, this.regHits);
      this.touchReadBase = Number.NaN;
      this.touchWriteBase = Number.NaN;
      this.touchExecBase = Number.NaN;
    }
    this.setRegister(e);
    this.regHits = 1;
    return true;
  }

  // Translates `addr` for `access`, giving faults to the handler; returns
  // the host-table entry of its page. Throws PageFault.
  private resolve(addr: number, access: AccessCode): number {
    for (let tries = 0; ; tries++) {
      const r = this.lookup(addr, access);
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
        if (this.handler(addr, name, code)) continue;
      }
      const reason = code & PF_RESERVED ? "reserved-bit" : code & PF_PRESENT ? "not-permitted" : "not-mapped";
      throw new PageFault(PKG, addr, name, reason, code);
    }
  }

  // One translation attempt through the tiers. Returns the host-table entry
  // (≥ 0), NON_CANONICAL, or -(error code) - 2.
  private lookup(addr: number, access: AccessCode): number {
    this.spill(true);
    if (this.current < 0) {
      throw new UsageError(PKG, "no address space is current: call switchAddressSpace first", "space");
    }
    if (!(addr >= -this.half && addr < this.half)) return NON_CANONICAL;
    const user = this.user;
    const tlb = this.tlb;
    const la = addr < 0 ? addr + this.full : addr;
    const pageBase = addr - (addr & 0xfff);
    const e = (addr >>> 12) & HOST_MASK;
    let slot: number;
    if (this.hTag[e] === pageBase && tlb.gen[this.hSlot[e]!] === this.hGen[e]) {
      slot = this.hSlot[e]!;
      tlb.hit(slot);
      if ((this.hRights[e]! & ((1 << access) << (user ? 0 : SUPERVISOR_SHIFT))) !== 0) return e;
    } else {
      slot = tlb.probe(0, la, this.currentPcid);
      if (slot >= 0) tlb.hit(slot);
      else {
        slot = this.missLevels(la, access, user);
        if (slot < 0) return slot;
      }
    }
    let flags = tlb.flags[slot]!;
    if (!this.format.permits(flags, access, user)) {
      // The cached entry forbids the access: a page fault, which drops the
      // address's TLB entries (Intel SDM vol. 3A §4.10.4.1), so a retry walks.
      this.invalidated += tlb.invalidatePage(la, this.currentPcid, true);
      return -(PF_PRESENT | accessErrorBits(access, user)) - 2;
    }
    if (access === 1 && (flags & ENTRY_DIRTY) === 0) {
      // Cached clean: the write walks again to set D in RAM, then refills.
      // If the tables no longer allow it, the fault drops the stale entry too.
      slot = this.walkAndFill(la, 1, user, 0);
      if (slot < 0) {
        this.invalidated += tlb.invalidatePage(la, this.currentPcid, true);
        return slot;
      }
      flags = tlb.flags[slot]!;
    }
    const rights = this.hostRights[flags]!;
    this.hTag[e] = pageBase;
    this.hSlot[e] = slot;
    this.hGen[e] = tlb.gen[slot]!;
    this.hRights[e] = rights;
    this.hPhys[e] = tlb.phys[slot]! + (la - (la & 0xfff) - tlb.tag[slot]!);
    this.hSlab[e] = -1;
    return e;
  }

  // An L1 miss: try the lower levels, then walk. Returns the L1 slot or -(error code) - 2.
  private missLevels(la: number, access: AccessCode, user: boolean): number {
    const tlb = this.tlb;
    const levels = tlb.levelCount;
    for (let level = 1; level < levels; level++) {
      const found = tlb.probe(level, la, this.currentPcid);
      if (found < 0) continue;
      tlb.hit(found);
      const k = tlb.size[found]!;
      for (let l = 0; l < level; l++) tlb.miss(l, k);
      let slot = found;
      for (let l = level - 1; l >= 0; l--) {
        slot = tlb.fill(
          l,
          tlb.tag[found]!,
          tlb.pcid[found]!,
          k,
          tlb.phys[found]!,
          tlb.flags[found]!,
          tlb.space[found]!,
        );
        // A copy of an entry cached before an edit is as stale as the original.
        tlb.stale[slot] = tlb.stale[found]!;
      }
      return slot;
    }
    return this.walkAndFill(la, access, user, levels);
  }

  // Walks the current tables and fills every level; counts a miss in the
  // first `missed` levels. Returns the L1 slot or -(error code) - 2.
  private walkAndFill(la: number, access: AccessCode, user: boolean, missed: number): number {
    const tlb = this.tlb;
    this.walks++;
    const ok = this.walker.walk(this.currentRoot, la, access, user, true);
    const r = this.walker.result;
    this.walkRefs += r.memoryRefs;
    this.adWrites += r.adWrites;
    if (!ok) {
      for (let l = 0; l < missed; l++) tlb.miss(l, -1);
      return -r.errorCode - 2;
    }
    const k = tlb.pageSizes.indexOf(r.pageSize);
    for (let l = 0; l < missed; l++) tlb.miss(l, k);
    const flags = this.globalPages ? r.flags : r.flags & ~ENTRY_GLOBAL;
    const pageLa = la - (la & (r.pageSize - 1));
    let slot = -1;
    for (let l = tlb.levelCount - 1; l >= 0; l--) {
      slot = tlb.fill(l, pageLa, this.currentPcid, k, r.pagePhys, flags, this.current);
    }
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
    let e = this.resolve(addr, code);
    const last = addr + size - 1;
    for (let page = addr - (addr & 0xfff) + PAGE; page <= last; page += PAGE) e = this.resolve(page, code);
    // Load the register for the last page, without host bytes.
    const rights = this.hRights[e]! >> this.rightsShift;
    const base = this.hTag[e]!;
    this.touchReadBase = rights & 1 ? base : Number.NaN;
    this.touchWriteBase = rights & 2 ? base : Number.NaN;
    this.touchExecBase = rights & 4 ? base : Number.NaN;
    this.regSlot = this.hSlot[e]!;
    this.regEntry = -1;
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
    this.walker.walk(root, virt < 0 ? virt + this.full : virt, code, privilege === "user", sideEffects);
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
  ): boolean {
    const ok = this.tables.map(space, virt, phys, length, pageSize, this.rightsFlags(rights, "map"));
    // Filling empty entries needs no stale marks: see PageTables.lastMapReplaced.
    if (ok && this.tables.lastMapReplaced) this.markStale(space, virt, length);
    return ok;
  }

  unmap(space: number, virt: number, length: number): number {
    const n = this.tables.unmap(space, virt, length);
    this.markStale(space, virt, length);
    return n;
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
      this.walker.walk(root, tlb.tag[s]!, 0, false, false);
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
    // The second register: a valid host entry's page, aliasing its frame,
    // never another slot of the current register's TLB set.
    if (this.prevEntry >= 0) {
      const e = this.prevEntry;
      const slot = this.prevSlot;
      if (
        this.regEntry < 0 ||
        e === this.regEntry ||
        slot !== this.hSlot[e] ||
        tlb.gen[slot] !== this.hGen[e] ||
        tlb.pcid[slot] === -1 ||
        this.prevU8 !== this.host.u8[this.hSlab[e]!] ||
        this.prevByte !== this.hByte[e] ||
        (slot !== this.regSlot && tlb.setOf[slot] === tlb.setOf[this.regSlot])
      ) {
        throw new CorruptionError(
          PKG,
          "Mmu: the second register disagrees with its host-table entry or shares a set",
        );
      }
    } else if (!Number.isNaN(this.prevReadBase) || !Number.isNaN(this.prevWriteBase) || this.prevHits !== 0) {
      throw new CorruptionError(PKG, "Mmu: an empty second register has a base or hits");
    }
    if (this.current >= 0 && this.pcidOwner[this.currentPcid] !== this.current) {
      throw new CorruptionError(PKG, "Mmu: the current address space does not own its PCID");
    }
  }
}

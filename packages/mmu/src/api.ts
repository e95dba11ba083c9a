/**
 * Options and shared types of @memstack/mmu.
 */
import type { FrameAllocator, PhysicalMemory } from "@memstack/core";

export type { Access, PageFaultHandler, PageMapping, PageRights, Privilege } from "@memstack/core";

/** Normalized entry bit: the page may be read. */
export const ENTRY_READ = 1 << 0;
/** Normalized entry bit: the page may be written. */
export const ENTRY_WRITE = 1 << 1;
/** Normalized entry bit: the page may be executed. */
export const ENTRY_EXECUTE = 1 << 2;
/** Normalized entry bit: the page is reachable from user mode. */
export const ENTRY_USER = 1 << 3;
/** Normalized entry bit: the translation is global (not tagged with a PCID/ASID). */
export const ENTRY_GLOBAL = 1 << 4;
/** Normalized entry bit: the Accessed bit. */
export const ENTRY_ACCESSED = 1 << 5;
/** Normalized entry bit: the Dirty bit. */
export const ENTRY_DIRTY = 1 << 6;
/** The normalized bits that grant access (read, write, execute, user). */
export const ENTRY_RIGHTS = ENTRY_READ | ENTRY_WRITE | ENTRY_EXECUTE | ENTRY_USER;

/** Access kinds as small integers, for hot paths: 0 read, 1 write, 2 execute. */
export type AccessCode = 0 | 1 | 2;

/**
 * A page-table format: how entries are laid out in RAM and what they mean.
 * Entries are 8 bytes, read as two little-endian u32 words `lo` (bits 0–31)
 * and `hi` (bits 32–63), so bit 63 (x86 NX) is `hi & 0x80000000`. Levels are
 * numbered from the root (0). The walker, the editor and the TLB only see
 * these methods, so a new format needs no change anywhere else.
 */
export interface PageTableFormat {
  /** Human name, e.g. `"x86-64 4-level"`. */
  readonly name: string;
  /** Number of levels of tables: 4 for x86-64, 3 for Sv39. */
  readonly levels: number;
  /** Bits of virtual address translated: 48 (x86-64), 39 (Sv39). Canonical addresses are [-2^(bits-1), 2^(bits-1)). */
  readonly virtualBits: number;
  /** Largest physical address width an entry can hold, in bits. */
  readonly physicalBits: number;
  /** Largest PCID (x86, 4095) or ASID (RISC-V, 65535). */
  readonly maxTag: number;
  /** Page sizes in bytes, ascending. */
  readonly pageSizes: readonly number[];
  /** log2 of the bytes one entry covers at each level, root first: `[39, 30, 21, 12]` for x86-64. */
  readonly levelShifts: readonly number[];
  /** Whether the entry is present (x86 P, Sv39 V). */
  isPresent(lo: number, hi: number): boolean;
  /** Whether a present entry at `level` maps a page rather than pointing to a table. */
  isLeaf(lo: number, hi: number, level: number): boolean;
  /** Whether a present entry at `level` has a reserved bit set or a reserved encoding (a #PF with RSVD). */
  isReserved(lo: number, hi: number, level: number): boolean;
  /** The physical address a present entry points to: the next table, or the first byte of the page. */
  address(lo: number, hi: number, level: number): number;
  /** Normalized `ENTRY_*` bits of a present entry (for a table entry, only the rights it limits). */
  flags(lo: number, hi: number, level: number): number;
  /** Whether normalized rights `flags` allow `access` at the given privilege. */
  permits(flags: number, access: AccessCode, user: boolean): boolean;
  /** The bits the walker ORs into `lo` when it uses the entry (Accessed; Dirty too for a leaf on write). */
  accessedBits(level: number, leaf: boolean, write: boolean): number;
  /**
   * Optional fast path for the page walker and the table editor: classifies
   * one entry at `level` in a single call, with the meaning of the methods
   * above. For a table or a leaf it writes the address to `out[0]` and the
   * flags to `out[1]`. A format without it is decoded through those methods
   * (the fallback is in page-walk.ts, written once).
   *
   * @returns {@link DECODE_ABSENT}, {@link DECODE_RESERVED} (present, with a
   * reserved bit or encoding), {@link DECODE_TABLE} or {@link DECODE_LEAF}.
   */
  decode?(lo: number, hi: number, level: number, out: Float64Array): number;
  /** Writes a table entry pointing to `tablePhys` into `out[0]` (lo) and `out[1]` (hi). */
  encodeTable(tablePhys: number, out: Uint32Array): void;
  /** Writes a leaf entry at `level` mapping `phys` with normalized `flags` into `out`. */
  encodeLeaf(phys: number, flags: number, level: number, out: Uint32Array): void;
}

/** {@link PageTableFormat.decode}: the entry is not present. */
export const DECODE_ABSENT = 0;
/** {@link PageTableFormat.decode}: the entry is present with a reserved bit or encoding (a #PF with RSVD). */
export const DECODE_RESERVED = 1;
/** {@link PageTableFormat.decode}: the entry points to the next table. */
export const DECODE_TABLE = 2;
/** {@link PageTableFormat.decode}: the entry maps a page. */
export const DECODE_LEAF = 3;

/** Options of {@link createX86_64Format}. */
export interface X86_64FormatOptions {
  /** MAXPHYADDR: physical address bits; entry bits from here to 51 are reserved. @defaultValue 46 */
  physicalBits?: number;
  /** EFER.NXE: bit 63 is NX; without it bit 63 is reserved and every page is executable. @defaultValue true */
  nx?: boolean;
  /** CPUID Page1GB: PS in a PDPTE maps a 1 GiB page; without it the bit is reserved. @defaultValue true */
  pages1G?: boolean;
}

/** Options of {@link createSv39Format}. */
export interface Sv39FormatOptions {
  /** sstatus.SUM: supervisor loads and stores may touch U pages (never execute them). @defaultValue true */
  sum?: boolean;
}

/** One array of a TLB level: a set-associative store for some page sizes. */
export interface TlbArrayConfig {
  /** Page sizes (bytes) this array holds, e.g. `[4096]` or `[4096, 2097152]` for a shared STLB. */
  readonly pageSizes: readonly number[];
  /** Number of sets: a power of two. */
  readonly sets: number;
  /** Entries per set (associativity), 1 to 32. */
  readonly ways: number;
}

/** One level of the TLB (an L1 dTLB, a second-level STLB). */
export interface TlbLevelConfig {
  /** Name in statistics, e.g. `"L1 dTLB"`. */
  readonly name: string;
  /** Its arrays; every page size of the format must be held by exactly one array. */
  readonly arrays: readonly TlbArrayConfig[];
}

/** Shape and policy of a {@link Tlb}. */
export interface TlbOptions {
  /** Levels, first-level first. @defaultValue {@link SKYLAKE_TLB} */
  levels?: readonly TlbLevelConfig[];
  /**
   * Replacement within a set: `"lru"` (exact least-recently-used) or
   * `"plru"` (tree pseudo-LRU as in Intel's caches; needs power-of-two ways).
   * @defaultValue "lru"
   */
  replacement?: "lru" | "plru";
}

/** Counters of one page size in one TLB level. */
export interface TlbSizeStats {
  /** Lookups that found a translation of this size. */
  hits: number;
  /** Lookups that missed and were then resolved to a page of this size. */
  misses: number;
  /** Valid entries of this size pushed out to make room. */
  evictions: number;
}

/** Counters of one TLB level. */
export interface TlbLevelStats {
  /** The level's name. */
  name: string;
  /** Lookups that hit. */
  hits: number;
  /** Lookups that missed (including those that ended in a fault). */
  misses: number;
  /** Valid entries pushed out to make room. */
  evictions: number;
  /** The same counters by page size (keys `"4K"`, `"2M"`, `"1G"`). */
  bySize: Record<string, TlbSizeStats>;
}

/** Counters of an {@link Mmu}: its TLB levels and its page walks. */
export interface MmuStats {
  /** One entry per TLB level, first level first. */
  levels: TlbLevelStats[];
  /** Page walks: misses in every level, plus walks that set a Dirty bit for a cached clean entry. */
  walks: number;
  /** Paging-structure entries read by those walks (x86 counts up to 4 per walk). */
  walkMemoryRefs: number;
  /** Entries whose Accessed or Dirty bit a walk set in RAM. */
  accessedDirtyWrites: number;
  /** Page faults raised (each call of the handler, and each thrown fault). */
  pageFaults: number;
  /** TLB entries removed by invalidation (INVLPG, INVPCID, CR3 writes without PCID). */
  invalidatedEntries: number;
}

/** Options of {@link Mmu}. */
export interface MmuOptions {
  /** The RAM that holds page tables and pages. */
  memory: PhysicalMemory;
  /** Where page-table frames come from (order-0 blocks). */
  frames: FrameAllocator;
  /** Page-table format. @defaultValue createX86_64Format() */
  format?: PageTableFormat;
  /** TLB shape and replacement policy. @defaultValue {@link SKYLAKE_TLB} with LRU */
  tlb?: TlbOptions;
  /** CR4.PCIDE / RISC-V ASIDs: tag TLB entries so a switch need not flush. @defaultValue true */
  pcid?: boolean;
  /** CR4.PGE: honour the Global bit. @defaultValue true */
  globalPages?: boolean;
}

/** What {@link Mmu.translate} reports: a physical address or a page fault. */
export interface Translation {
  /** Physical address of the byte, or -1 when the access faults. */
  readonly phys: number;
  /** Size of the page that mapped it, or 0 on a fault. */
  readonly pageSize: number;
  /** x86 #PF error code on a fault (PF_* bits); -1 when it translated. */
  readonly errorCode: number;
  /** Where the translation came from: the TLB, a page walk, or nowhere (non-canonical). */
  readonly source: "tlb" | "walk" | "non-canonical";
}

/** Result of {@link walkPageTables}: what one page walk found. Reused between walks; copy what you keep. */
export interface WalkResult {
  /** Whether the walk produced a translation that permits the access. */
  ok: boolean;
  /** x86 #PF error code when not ok (P, W/R, U/S, RSVD, I/D bits), else -1. */
  errorCode: number;
  /** Physical address of the first byte of the page, when a leaf was found (even if it forbids the access). */
  pagePhys: number;
  /** Page size in bytes of that leaf, or 0. */
  pageSize: number;
  /** Normalized ENTRY_* bits, combined over every level, of that leaf. */
  flags: number;
  /** Level of the last entry read (the leaf, or where the walk stopped). */
  level: number;
  /** Physical address of the last entry read. */
  entryAddress: number;
  /** Paging-structure entries read by this walk. */
  memoryRefs: number;
  /** Entries whose Accessed/Dirty bits this walk set in RAM. */
  adWrites: number;
}

/** What {@link replayLackey} reports. */
export interface LackeyReport {
  /** Accesses replayed by kind: `I` instruction fetches (when included), `L` loads, `S` stores, `M` modifies (a load and a store). */
  counts: { I: number; L: number; S: number; M: number };
  /** TLB lookups made (an M makes two; an access that crosses a page makes one per page). */
  lookups: number;
  /** Distinct pages the trace touched, at the replay's page size. */
  pagesTouched: number;
  /** The MMU's counters after the replay. */
  stats: MmuStats;
  /** Hit rate of each TLB level: hits / (hits + misses). */
  hitRates: number[];
  /** Page-walk memory references per lookup. */
  walkRefsPerLookup: number;
}

/** Options of {@link replayLackey}. */
export interface LackeyOptions {
  /** Page size used to map every page the trace touches. @defaultValue 4096 */
  pageSize?: number;
  /** Page-table format. @defaultValue createX86_64Format() */
  format?: PageTableFormat;
  /** TLB shape. @defaultValue {@link SKYLAKE_TLB} */
  tlb?: TlbOptions;
  /** Replay `I` (instruction fetch) lines through the same TLB too. @defaultValue false */
  instructions?: boolean;
  /** Replay the trace this many times in a row (to reach a target length). @defaultValue 1 */
  repeat?: number;
}

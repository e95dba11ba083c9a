/**
 * The zoned buddy allocator's engine: free lists, split and merge, the
 * watermark checks, the zone walk and the allocation slow path.
 *
 * Models mm/page_alloc.c, function by function (names in comments):
 *
 * - Free lists: one doubly linked list per (zone, order, migrate type),
 *   `free_area[order].free_list[mt]`, plus `nr_free` per order. Allocation
 *   takes the *head* (`get_page_from_free_area` = list_first_entry). Freed
 *   blocks go to the *head* (`list_add`) unless `buddy_merge_likely` says
 *   the block's order+1 buddy is free, or the caller passes FPI_TO_TAIL
 *   (boot-time freeing, compaction's put-back), then to the tail.
 * - Split (`__rmqueue_smallest` + `expand`): take the smallest order ≥ the
 *   request that has a block; keep the *lower* half, put the upper halves
 *   on the lists of orders high−1 … low, each at the head.
 *
 *       order-3 block at 0x40, request order 0:
 *       [0x40 ........ 0x47]  -> keep 0x40, free 0x44 (o2), 0x42 (o1), 0x41 (o0)
 *
 * - Merge (`__free_one_page`): buddy = pfn ^ (1 << order); while the buddy
 *   is a free block of the same order in the same zone, unlink it and go
 *   up with pfn & buddy. Free 0x41 with 0x40 free: 0x41 ^ 1 = 0x40 → order 1
 *   at 0x40; 0x40 ^ 2 = 0x42 free at order 1 → order 2 at 0x40; …
 * - Migrate types (`__rmqueue` → `__rmqueue_claim` → `__rmqueue_steal`,
 *   `fallbacks[]`, `try_to_claim_block`), watermark boosting.
 * - Zones and watermarks (`get_page_from_freelist`, `__zone_watermark_ok`,
 *   lowmem_reserve, ALLOC_NOFRAGMENT), the slow path (`alloc_flags_slowpath`,
 *   kswapd wake-up, direct reclaim, direct compaction, OOM).
 *
 * - Per-CPU lists for order-0 pages (`rmqueue_pcplist`, `rmqueue_bulk`,
 *   `free_frozen_page_commit`, `free_pcppages_bulk`, `drain_all_pages`).
 *
 * Simplifies: one CPU, so one set of per-CPU lists per zone, holding order-0
 * pages only (Linux also keeps orders 1–3 and the THP order there), with
 * fixed batch and high (no auto-tuning); no HIGHATOMIC/CMA/ISOLATE free
 * lists, no page shuffling, a single NUMA node.
 *
 * Frame metadata lives in ./frame-table.ts (3.5 bytes per frame); the list
 * nodes are frame pairs. Invariants are listed and verified in `check()`.
 */
import { CorruptionError, type Pfn, type PhysicalMemory } from "@memstack/core";
import type { BuddyHooks, ReclaimRequest } from "../api.js";
import type { FailPageAlloc } from "../fault-injection.js";
import { fragmentationIndex } from "../fragmentation.js";
import type { ZoneName } from "../gfp.js";
import * as gfp from "../gfp.js";
import { zonePcpSizes } from "../watermarks.js";
import * as frameTable from "./frame-table.js";
import { FrameTable } from "./frame-table.js";

// The constants and functions this module reads on its hot paths, bound
// here (see "Constants on hot paths" in the root README).
const {
  formatGfpFlags,
  __GFP_DIRECT_RECLAIM,
  __GFP_HIGH,
  __GFP_IO,
  __GFP_KSWAPD_RECLAIM,
  __GFP_MEMALLOC,
  __GFP_NOFAIL,
  __GFP_NOMEMALLOC,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RETRY_MAYFAIL,
  __GFP_THISNODE,
  __GFP_ZERO,
  MIGRATE_MOVABLE,
  MIGRATE_PCPTYPES,
  MIGRATE_RECLAIMABLE,
  MIGRATE_UNMOVABLE,
  ZONE_DMA32,
  ZONE_NAMES,
  ZONE_NORMAL,
} = gfp;
const {
  INFO_RESERVED,
  K_ALLOC,
  K_FREE,
  K_FREE_HI,
  K_FREE_LO,
  K_PAIR,
  K_TAIL,
  packPayload,
  payloadUsesOverflow,
  TYPE_RESERVED,
} = frameTable;

const PKG = "@memstack/buddy";

// mm/internal.h allocation flags.
export const ALLOC_WMARK_MIN = 0;
export const ALLOC_WMARK_LOW = 1;
export const ALLOC_WMARK_HIGH = 2;
export const ALLOC_NO_WATERMARKS = 4;
const ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1;
export const ALLOC_OOM = 0x08;
const ALLOC_NON_BLOCK = 0x10;
const ALLOC_MIN_RESERVE = 0x20;
const ALLOC_NOFRAGMENT = 0x100;
const ALLOC_KSWAPD = 0x800;
const ALLOC_RESERVES = ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_OOM;

/** Orders above this are "costly" (PAGE_ALLOC_COSTLY_ORDER). */
export const PAGE_ALLOC_COSTLY_ORDER = 3;
/** Reclaim rounds without progress before giving up (MAX_RECLAIM_RETRIES). */
const MAX_RECLAIM_RETRIES = 16;
/** Migrate types with free lists here. */
const NT = MIGRATE_PCPTYPES;

// mm/page_alloc.c fallbacks[]: where each type steals from, in order.
const FALLBACKS: readonly (readonly number[])[] = [
  [MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE],
  [MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE],
  [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE],
];

/** Counter slots per zone. */
export const C_PGALLOC = 0;
export const C_PGFREE = 1;
const NZC = 2;
/** Global counter slots. */
export const G_ALLOCS = 0;
export const G_FAILS = 1;
export const G_INJECTED = 2;
export const G_FREES = 3;
export const G_SPLITS = 4;
export const G_MERGES = 5;
export const G_FALLBACKS = 6;
export const G_SLOWPATH = 7;
export const G_KSWAPD = 8;
export const G_ALLOCSTALL = 9;
export const G_OOM = 10;
export const G_COMPACT_STALL = 11;
export const G_COMPACT_SUCCESS = 12;
export const G_COMPACT_FAIL = 13;
export const G_COMPACT_MIGRATE_SCANNED = 14;
export const G_COMPACT_FREE_SCANNED = 15;
export const G_COMPACT_ISOLATED = 16;
export const G_PGMIGRATE_SUCCESS = 17;
export const G_PGMIGRATE_FAIL = 18;
const NGC = 19;

/** A zone as the engine keeps it. */
export interface EngineZone {
  readonly name: ZoneName;
  /** enum zone_type. */
  readonly type: number;
  readonly start: number;
  readonly end: number;
  readonly present: number;
  readonly managed: number;
  readonly populated: boolean;
}

/** Everything the engine is built from, already validated. */
export interface EngineConfig {
  readonly frameCount: number;
  readonly maxOrder: number;
  readonly pageblockOrder: number;
  readonly zones: readonly EngineZone[];
  /** Managed ranges per zone, ascending. */
  readonly managedRanges: readonly (readonly [number, number])[][];
  readonly watermarks: readonly {
    min: number;
    low: number;
    high: number;
    promo: number;
    lowmemReserve: readonly number[];
  }[];
  readonly watermarkBoostFactor: number;
  readonly groupByMobility: boolean;
  readonly extfragThreshold: number;
  readonly memory: PhysicalMemory | undefined;
  readonly fail: FailPageAlloc;
  /** Keep per-CPU page lists for order-0 pages (one CPU). */
  readonly pcp: boolean;
  /** Use the 32-bit slots of machines above 2^25 frames regardless of size (tests). */
  readonly wideSlots?: boolean;
  hooks: BuddyHooks;
}

/** A compaction callback seam: the engine calls it for direct compaction. */
export type DirectCompactor = (zone: number, order: number, gfp: number) => boolean;

/** The allocator's state and algorithms; wrapped by the exported BuddyAllocator. */
export class Engine {
  readonly frameCount: number;
  readonly maxOrder: number;
  readonly nOrders: number;
  readonly pbOrder: number;
  readonly pbPages: number;
  readonly zones: readonly EngineZone[];
  readonly nz: number;
  readonly table: FrameTable;
  readonly st: Uint8Array;
  readonly aLo: Uint16Array;
  readonly aHi: Uint8Array | Uint16Array;
  readonly bLo: Uint16Array;
  readonly bHi: Uint8Array | Uint16Array;
  /** Migrate type per pageblock. */
  readonly pbType: Uint8Array;
  /** List heads and tails (pair index + 1), by (zone · nOrders + order) · NT + mt. */
  readonly head: Int32Array;
  readonly tail: Int32Array;
  /** Free blocks by zone · nOrders + order. */
  readonly nrFree: Int32Array;
  /** Free blocks by (zone · nOrders + order) · NT + mt. */
  readonly nrFreeType: Int32Array;
  readonly zoneFree: Float64Array;
  /** The free pages of every zone, pcp lists included (Σ zoneFree + Σ pcpTotal), kept as either changes. */
  freeTotal = 0;
  readonly zoneFreeBlocks: Float64Array;
  readonly zoneStart: Float64Array;
  readonly zoneEnd: Float64Array;
  /** _watermark[] by zone · 4 + (min, low, high, promo). */
  readonly wmark: Float64Array;
  readonly boost: Float64Array;
  readonly boosted: Uint8Array;
  /** lowmem_reserve by zone · 6 + zone type. */
  readonly reserve: Float64Array;
  readonly zoneCounters: Float64Array;
  readonly counters: Float64Array;
  readonly watermarkBoostFactor: number;
  readonly groupByMobility: boolean;
  readonly extfragThreshold: number;
  readonly memory: PhysicalMemory | undefined;
  readonly fail: FailPageAlloc;
  hooks: BuddyHooks;
  /** Set by the compaction module. */
  compactor: DirectCompactor | undefined;
  readonly hasDma: boolean;
  readonly hasDma32: boolean;
  readonly hasHighmem: boolean;
  /** Zone type and populated flag by zone index, for the zone walk. */
  readonly zType: Int32Array;
  readonly zPopulated: Uint8Array;
  /** ALLOC_NOFRAGMENT for a request whose highest zone type is the index (alloc_flags_nofragment). */
  readonly nofragment: Int32Array;
  /** Per-CPU page lists: on or off. */
  readonly pcpOn: boolean;
  /** pcp->batch and pcp->high by zone. */
  readonly pcpBatch: Int32Array;
  readonly pcpHigh: Int32Array;
  /** Ring buffers of the pcp lists, by zone · NT + mt; head index, count and mask alike. */
  readonly pcpBuf: Int32Array[];
  readonly pcpHead: Int32Array;
  readonly pcpCount: Int32Array;
  readonly pcpMask: Int32Array;
  /** Pages on each zone's pcp lists, all types: the sum of its pcpCount entries, kept with them. */
  readonly pcpTotal: Int32Array;

  constructor(config: EngineConfig) {
    this.frameCount = config.frameCount;
    this.maxOrder = config.maxOrder;
    this.nOrders = config.maxOrder + 1;
    this.pbOrder = config.pageblockOrder;
    this.pbPages = 2 ** config.pageblockOrder;
    this.zones = config.zones;
    this.nz = config.zones.length;
    this.table = new FrameTable(config.frameCount, config.wideSlots);
    this.st = this.table.st;
    this.aLo = this.table.aLo;
    this.aHi = this.table.aHi;
    this.bLo = this.table.bLo;
    this.bHi = this.table.bHi;
    this.pbType = new Uint8Array(Math.ceil(config.frameCount / this.pbPages)).fill(MIGRATE_MOVABLE);
    const lists = this.nz * this.nOrders * NT;
    this.head = new Int32Array(lists);
    this.tail = new Int32Array(lists);
    this.nrFree = new Int32Array(this.nz * this.nOrders);
    this.nrFreeType = new Int32Array(lists);
    this.zoneFree = new Float64Array(this.nz);
    this.zoneFreeBlocks = new Float64Array(this.nz);
    this.zoneStart = new Float64Array(this.nz);
    this.zoneEnd = new Float64Array(this.nz);
    this.wmark = new Float64Array(this.nz * 4);
    this.boost = new Float64Array(this.nz);
    this.boosted = new Uint8Array(this.nz);
    this.reserve = new Float64Array(this.nz * ZONE_NAMES.length);
    this.zoneCounters = new Float64Array(this.nz * NZC);
    this.counters = new Float64Array(NGC);
    this.watermarkBoostFactor = config.watermarkBoostFactor;
    this.groupByMobility = config.groupByMobility;
    this.extfragThreshold = config.extfragThreshold;
    this.memory = config.memory;
    this.fail = config.fail;
    this.hooks = config.hooks;
    let hasDma = false;
    let hasDma32 = false;
    let hasHighmem = false;
    config.zones.forEach((z, i) => {
      this.zoneStart[i] = z.start;
      this.zoneEnd[i] = z.end;
      const w = config.watermarks[i]!;
      this.wmark[i * 4] = w.min;
      this.wmark[i * 4 + 1] = w.low;
      this.wmark[i * 4 + 2] = w.high;
      this.wmark[i * 4 + 3] = w.promo;
      // lowmem_reserve[highest]: the reserve against the highest configured zone at or below `highest`.
      for (let u = 0; u < ZONE_NAMES.length; u++) {
        let top = -1;
        config.zones.forEach((zz, j) => {
          if (zz.type <= u) top = j;
        });
        this.reserve[i * ZONE_NAMES.length + u] = top >= 0 ? (w.lowmemReserve[top] ?? 0) : 0;
      }
      if (z.type === 0) hasDma = true;
      if (z.type === ZONE_DMA32) hasDma32 = true;
      if (z.type === 3) hasHighmem = true;
    });
    this.hasDma = hasDma;
    this.hasDma32 = hasDma32;
    this.hasHighmem = hasHighmem;
    this.zType = Int32Array.from(config.zones, (z) => z.type);
    this.zPopulated = Uint8Array.from(config.zones, (z) => (z.populated ? 1 : 0));
    this.nofragment = new Int32Array(ZONE_NAMES.length);
    for (let t = 0; t < ZONE_NAMES.length; t++) {
      const preferred = this._preferredZone(t);
      if (preferred >= 0 && this.zones[preferred]!.type === ZONE_NORMAL && hasDma32)
        this.nofragment[t] = ALLOC_NOFRAGMENT;
    }
    // zone_batchsize and zone_highsize for one CPU, high_min = the low watermark.
    this.pcpOn = config.pcp;
    this.pcpBatch = new Int32Array(this.nz);
    this.pcpHigh = new Int32Array(this.nz);
    this.pcpHead = new Int32Array(this.nz * NT);
    this.pcpCount = new Int32Array(this.nz * NT);
    this.pcpTotal = new Int32Array(this.nz);
    this.pcpMask = new Int32Array(this.nz * NT);
    this.pcpBuf = [];
    for (let z = 0; z < this.nz; z++) {
      const { batch, highMin } = zonePcpSizes(config.zones[z]!.managed, this.wmark[z * 4 + 1]!, 1);
      this.pcpBatch[z] = batch;
      this.pcpHigh[z] = highMin;
      const cap = this.pcpOn ? 2 ** Math.ceil(Math.log2(this.pcpHigh[z]! + batch + 2)) : 1;
      for (let mt = 0; mt < NT; mt++) {
        this.pcpBuf.push(new Int32Array(cap));
        this.pcpMask[z * NT + mt] = cap - 1;
      }
    }
    this._boot(config.managedRanges);
  }

  // ---------------------------------------------------------------- slots

  getA(j: number): number {
    return this.aLo[j]! + this.aHi[j]! * 65536;
  }
  setA(j: number, v: number): void {
    this.aLo[j] = v & 0xffff;
    this.aHi[j] = v >>> 16;
  }
  getB(j: number): number {
    return this.bLo[j]! + this.bHi[j]! * 65536;
  }
  setB(j: number, v: number): void {
    this.bLo[j] = v & 0xffff;
    this.bHi[j] = v >>> 16;
  }

  // ------------------------------------------------------------ boot time

  _boot(managed: readonly (readonly [number, number])[][]): void {
    // Every pair touching an unmanaged frame becomes an order-0 pair: the
    // unmanaged frame reserved, a managed partner "allocated" until the
    // boot frees below release it.
    const isManaged = (p: number): boolean => {
      const z = this.zoneOf(p);
      if (z < 0) return false;
      for (const [s, e] of managed[z]!) if (p >= s && p < e) return true;
      return false;
    };
    // Walk the gaps between managed ranges.
    let cursor = 0;
    const all: [number, number][] = managed.flat().map(([s, e]) => [s, e] as [number, number]);
    all.sort((x, y) => x[0] - y[0]);
    const markGap = (s: number, e: number): void => {
      // Pairs inside the gap hold two unmanaged frames; a pair at either
      // edge may hold a managed partner, "allocated" until boot frees it.
      const last = Math.ceil(e / 2);
      for (let j = s >>> 1; j < last; j++) {
        const lo = 2 * j;
        const hi = lo + 1;
        this.st[j] = K_PAIR << 5;
        this.setA(j, lo >= s || !isManaged(lo) ? INFO_RESERVED : 8);
        this.setB(j, hi < e || hi >= this.frameCount || !isManaged(hi) ? INFO_RESERVED : 8);
      }
    };
    for (const [s, e] of all) {
      if (s > cursor) markGap(cursor, s);
      cursor = Math.max(cursor, e);
    }
    if (cursor < this.frameCount) markGap(cursor, this.frameCount);
    if (this.frameCount % 2 === 1 && cursor >= this.frameCount) {
      // The last pair's high frame does not exist.
      const j = this.frameCount >>> 1;
      this.st[j] = K_PAIR << 5;
      this.setA(j, 8);
      this.setB(j, INFO_RESERVED);
    }
    // memblock_free_all → __free_pages_memory: largest aligned chunks, in
    // ascending pfn order, freed to the tail (FPI_TO_TAIL).
    managed.forEach((ranges, z) => {
      for (const [s, e] of ranges) {
        let start = s;
        while (start < e) {
          let order = start === 0 ? this.maxOrder : Math.min(this.maxOrder, ctz(start));
          while (start + (1 << order) > e) order--;
          this.freeBlock(start, order, z, true);
          start += 1 << order;
        }
      }
    });
    this.counters.fill(0);
    this.zoneCounters.fill(0);
  }

  // -------------------------------------------------------------- lookups

  /** Index of the zone spanning `pfn`, or -1. */
  zoneOf(pfn: number): number {
    for (let z = 0; z < this.nz; z++) {
      if (pfn < this.zoneEnd[z]! && pfn >= this.zoneStart[z]!) return z;
    }
    return -1;
  }

  /** Whether a free block of `order` starts at `pfn` (PageBuddy && buddy_order == order). */
  isFreeHead(pfn: number, order: number): boolean {
    const s = this.st[pfn >>> 1]!;
    if (order === 0) return s >>> 5 === ((pfn & 1) === 1 ? K_FREE_HI : K_FREE_LO);
    return s === ((K_FREE << 5) | order) && (pfn & 1) === 0;
  }

  /** pfn of list node `node` (pair index) on an order-`order` list. */
  nodePfn(node: number, order: number): number {
    if (order === 0 && this.st[node]! >>> 5 === K_FREE_HI) return node * 2 + 1;
    return node * 2;
  }

  /** Info word of order-0 frame `pfn` in a PAIR/FREE_LO/FREE_HI pair; -1 if it is the free one. */
  info0(pfn: number): number {
    const j = pfn >>> 1;
    const s = this.st[j]!;
    const k = s >>> 5;
    if (k === K_PAIR) return (pfn & 1) === 1 ? this.getB(j) : this.getA(j);
    if (k === K_FREE_LO || k === K_FREE_HI) {
      if ((pfn & 1) === (k === K_FREE_HI ? 1 : 0)) return -1;
      const payload = s & 31;
      const type = payload >>> 3;
      if (type === TYPE_RESERVED) return (payload & 7) === 0 ? INFO_RESERVED : (payload & 7) - 1;
      const code = payload & 7;
      const rc = code === 0 ? this.table.overflow.get(pfn)! : code;
      return rc * 8 + type;
    }
    return -2;
  }

  /** Stores the info of the non-free order-0 frame `pfn` (pair PAIR, FREE_LO or FREE_HI). */
  setInfo0(pfn: number, info: number): void {
    const j = pfn >>> 1;
    const k = this.st[j]! >>> 5;
    if (k === K_PAIR) {
      if ((pfn & 1) === 1) this.setB(j, info);
      else this.setA(j, info);
      return;
    }
    const payload = packPayload(info);
    this.st[j] = (k << 5) | payload;
    if (payloadUsesOverflow(payload)) this.table.overflow.set(pfn, Math.floor(info / 8));
    else if (this.table.overflow.size !== 0) this.table.overflow.delete(pfn);
  }

  // ----------------------------------------------------------- free lists

  _listAdd(li: number, j: number, tail: boolean): void {
    const v = j + 1;
    if (tail) {
      const t = this.tail[li]!;
      this.setA(j, 0);
      this.setB(j, t);
      if (t !== 0) this.setA(t - 1, v);
      else this.head[li] = v;
      this.tail[li] = v;
    } else {
      const h = this.head[li]!;
      this.setA(j, h);
      this.setB(j, 0);
      if (h !== 0) this.setB(h - 1, v);
      else this.tail[li] = v;
      this.head[li] = v;
    }
  }

  _listDel(li: number, j: number): void {
    const n = this.getA(j);
    const p = this.getB(j);
    if (p !== 0) this.setA(p - 1, n);
    else this.head[li] = n;
    if (n !== 0) this.setB(n - 1, p);
    else this.tail[li] = p;
  }

  listIndex(z: number, order: number, mt: number): number {
    return (z * this.nOrders + order) * NT + mt;
  }

  /** __add_to_free_list: links a block whose head state is already set; counts it. */
  _addToFreeList(z: number, pfn: number, order: number, mt: number, tail: boolean): void {
    const li = (z * this.nOrders + order) * NT + mt;
    this._listAdd(li, pfn >>> 1, tail);
    this.nrFree[z * this.nOrders + order]!++;
    this.nrFreeType[li]!++;
    if (order >= this.pbOrder) this.zoneFreeBlocks[z]! += 1 << order;
  }

  /** __del_page_from_free_list: unlinks and uncounts a free block (head state left as is). */
  _delFromFreeList(z: number, pfn: number, order: number, mt: number): void {
    const li = (z * this.nOrders + order) * NT + mt;
    this._listDel(li, pfn >>> 1);
    this.nrFree[z * this.nOrders + order]!--;
    this.nrFreeType[li]!--;
    if (order >= this.pbOrder) this.zoneFreeBlocks[z]! -= 1 << order;
  }

  /** Marks `pfn` as the head of a free block of `order` (set_buddy_order). */
  _setFreeHead(pfn: number, order: number): void {
    const j = pfn >>> 1;
    if (order > 0) {
      this.st[j] = (K_FREE << 5) | order;
      return;
    }
    // Order 0: the other frame of the pair is not free; move its info to the payload.
    const k = this.st[j]! >>> 5;
    const other = pfn ^ 1;
    const otherInfo = k === K_PAIR ? ((other & 1) === 1 ? this.getB(j) : this.getA(j)) : this.info0(other);
    this.st[j] = ((pfn & 1) === 1 ? K_FREE_HI : K_FREE_LO) << 5;
    this.setInfo0(other, otherInfo);
  }

  // --------------------------------------------------------------- freeing

  /**
   * __free_one_page: merges the block at `pfn` with free buddies and puts
   * the result on its free list. The block's own head state must already
   * be cleared (TAIL for order ≥ 1; for order 0 the pair is PAIR or FREE_x).
   */
  freeOnePage(pfn: number, order: number, z: number, mt: number, toTail: boolean): void {
    this.zoneFree[z]! += 1 << order;
    this.freeTotal += 1 << order;
    const zs = this.zoneStart[z]!;
    const ze = this.zoneEnd[z]!;
    let buddy = 0;
    while (order < this.maxOrder) {
      buddy = pfn ^ (1 << order);
      if (buddy < zs || buddy >= ze || !this.isFreeHead(buddy, order)) break;
      let buddyMt = mt;
      if (order >= this.pbOrder) buddyMt = this.pbType[buddy >>> this.pbOrder]!;
      this._delFromFreeList(z, buddy, order, buddyMt);
      if (buddyMt !== mt) this._changePageblockRange(buddy, order, mt);
      this.counters[G_MERGES]!++;
      // Both heads fall inside the merged block.
      this.st[buddy >>> 1] = K_TAIL;
      this.st[pfn >>> 1] = K_TAIL;
      pfn &= buddy;
      order++;
    }
    this._setFreeHead(pfn, order);
    const tail = toTail || this._buddyMergeLikely(pfn, buddy, order, zs, ze);
    this._addToFreeList(z, pfn, order, mt, tail);
  }

  /** buddy_merge_likely: is the order+1 buddy of the would-be merged block free? */
  _buddyMergeLikely(pfn: number, buddy: number, order: number, zs: number, ze: number): boolean {
    if (order >= this.maxOrder - 1) return false;
    const higher = buddy & pfn;
    const higherBuddy = higher ^ (1 << (order + 1));
    return higherBuddy >= zs && higherBuddy < ze && this.isFreeHead(higherBuddy, order + 1);
  }

  /**
   * free_one_page/split_large_buddy: frees an allocated block whose head
   * state has been released, pageblock by pageblock above pageblock order.
   */
  freeBlock(pfn: number, order: number, z: number, toTail: boolean): void {
    if (order > 0) this.st[pfn >>> 1] = K_TAIL;
    else if (this.table.overflow.size !== 0 && this.st[pfn >>> 1]! >>> 5 !== K_PAIR)
      this.table.overflow.delete(pfn);
    this.zoneCounters[z * NZC + C_PGFREE]! += 1 << order;
    if (order <= this.pbOrder) {
      this.freeOnePage(pfn, order, z, this.pbType[pfn >>> this.pbOrder]!, toTail);
      return;
    }
    const end = pfn + (1 << order);
    for (let p = pfn; p < end; p += this.pbPages) {
      this.freeOnePage(p, this.pbOrder, z, this.pbType[p >>> this.pbOrder]!, toTail);
    }
  }

  /**
   * Frees the allocated block `pfn` of `order` (validated by the caller):
   * drops one reference; at zero the block goes back. A non-compound block
   * whose head is still referenced frees its other parts, as Linux's
   * `___free_pages` does.
   */
  freePages(pfn: number, order: number): void {
    const z = this.zoneOf(pfn);
    const info = order > 0 ? this.getA(pfn >>> 1) : this.info0(pfn);
    const rc = Math.floor(info / 8);
    this.counters[G_FREES]!++;
    if (rc <= 1) {
      if (order === 0 && this.pcpOn) this._freePcp(pfn, z);
      else this.freeBlock(pfn, order, z, false);
      return;
    }
    const rest = info - 8;
    if (order > 0 && (info & 4) !== 0) {
      this.setA(pfn >>> 1, rest);
      return;
    }
    if (order === 0) {
      this.setInfo0(pfn, rest);
      return;
    }
    // ___free_pages: the head keeps its references as an order-0 page; the
    // upper halves (order-1 … 0) are freed.
    const j = pfn >>> 1;
    this.st[j] = K_PAIR << 5;
    this.setA(j, rest & ~4);
    this.setB(j, 8 + (info & 3));
    for (let o = order - 1; o >= 1; o--) this.freeBlock(pfn + (1 << o), o, z, false);
    if (this.pcpOn) this._freePcp(pfn + 1, z);
    else this.freeBlock(pfn + 1, 0, z, false);
  }

  // ------------------------------------------------------------ allocation

  /** page_del_and_expand: takes the block off its list and splits it down to `low`. */
  _delAndExpand(z: number, pfn: number, low: number, high: number, mt: number): void {
    this._delFromFreeList(z, pfn, high, mt);
    if (high === 0) {
      this._take0(pfn);
    } else {
      this.st[pfn >>> 1] = K_TAIL;
      this._expand(z, pfn, low, high, mt);
    }
    this.zoneFree[z]! -= 1 << low;
    this.freeTotal -= 1 << low;
  }

  /** expand: puts the upper halves of an order-`high` block on the lists of orders high−1 … low. */
  _expand(z: number, pfn: number, low: number, high: number, mt: number): number {
    let size = 1 << high;
    let added = 0;
    while (high > low) {
      high--;
      size /= 2;
      const half = pfn + size;
      if (high === 0) {
        // The pair (pfn, pfn+1) splits: pfn stays allocated, pfn+1 goes free.
        this.st[pfn >>> 1] = K_FREE_HI << 5;
      } else {
        this.st[half >>> 1] = (K_FREE << 5) | high;
      }
      this._addToFreeList(z, half, high, mt, false);
      this.counters[G_SPLITS]!++;
      added += size;
    }
    return added;
  }

  /** An order-0 free block leaves its list: its pair becomes PAIR, the partner's info moves to its slot. */
  _take0(pfn: number): void {
    const j = pfn >>> 1;
    const other = pfn ^ 1;
    const otherInfo = this.info0(other);
    if (this.table.overflow.size !== 0) this.table.overflow.delete(other);
    this.st[j] = K_PAIR << 5;
    if ((other & 1) === 1) this.setB(j, otherInfo);
    else this.setA(j, otherInfo);
  }

  /** Records the new allocation's head: order, refcount 1, compound flag, requested type. */
  markAllocated(pfn: number, order: number, info: number): void {
    if (order > 0) {
      this.st[pfn >>> 1] = (K_ALLOC << 5) | order;
      this.setA(pfn >>> 1, info);
    } else {
      this.setInfo0(pfn, info);
    }
  }

  /** __rmqueue_smallest. */
  rmqueueSmallest(z: number, order: number, mt: number): number {
    for (let co = order; co < this.nOrders; co++) {
      const h = this.head[(z * this.nOrders + co) * NT + mt]!;
      if (h === 0) continue;
      const pfn = this.nodePfn(h - 1, co);
      this._delAndExpand(z, pfn, order, co, mt);
      return pfn;
    }
    return -1;
  }

  /** find_suitable_fallback: the first fallback type with a block of `order`, or -1 (-2 = do not claim). */
  _findFallback(z: number, order: number, startMt: number, claimable: boolean): number {
    if (claimable && !this._shouldTryClaim(order, startMt)) return -2;
    if (this.nrFree[z * this.nOrders + order] === 0) return -1;
    const fb = FALLBACKS[startMt]!;
    for (let i = 0; i < fb.length; i++) {
      if (this.head[(z * this.nOrders + order) * NT + fb[i]!] !== 0) return fb[i]!;
    }
    return -1;
  }

  /** should_try_claim_block. */
  _shouldTryClaim(order: number, startMt: number): boolean {
    if (order >= this.pbOrder) return true;
    if (order >= this.pbOrder >>> 1) return true;
    if (startMt === MIGRATE_RECLAIMABLE || startMt === MIGRATE_UNMOVABLE) return true;
    return !this.groupByMobility;
  }

  /** __rmqueue_claim: steal the largest fallback block, claiming its pageblock when it pays. */
  _rmqueueClaim(z: number, order: number, startMt: number, flags: number): number {
    const minOrder = order < this.pbOrder && flags & ALLOC_NOFRAGMENT ? this.pbOrder : order;
    for (let co = this.maxOrder; co >= minOrder; co--) {
      const fb = this._findFallback(z, co, startMt, true);
      if (fb === -1) continue;
      if (fb === -2) break;
      const h = this.head[(z * this.nOrders + co) * NT + fb]!;
      const page = this._tryToClaimBlock(z, this.nodePfn(h - 1, co), co, order, startMt, fb, flags);
      if (page >= 0) {
        this.counters[G_FALLBACKS]!++;
        return page;
      }
    }
    return -1;
  }

  /** try_to_claim_block. */
  _tryToClaimBlock(
    z: number,
    pfn: number,
    co: number,
    order: number,
    startMt: number,
    blockMt: number,
    flags: number,
  ): number {
    if (co >= this.pbOrder) {
      this._delFromFreeList(z, pfn, co, blockMt);
      this.st[pfn >>> 1] = K_TAIL;
      this._changePageblockRange(pfn, co, startMt);
      this._expand(z, pfn, order, co, startMt);
      this.zoneFree[z]! -= 1 << order;
      this.freeTotal -= 1 << order;
      return pfn;
    }
    if (this._boostWatermark(z) && flags & ALLOC_KSWAPD) this.boosted[z] = 1;
    const start = pfn - (pfn % this.pbPages);
    const end = start + this.pbPages;
    if (start < this.zoneStart[z]! || end > this.zoneEnd[z]!) return -1;
    let freePages = 0;
    let movablePages = 0;
    for (let p = start; p < end; ) {
      const o = this.freeOrderAt(p);
      if (o >= 0) {
        freePages += 1 << o;
        p += 1 << o;
        continue;
      }
      if (this.allocTypeAt(p) === MIGRATE_MOVABLE) movablePages++;
      p++;
    }
    let alike: number;
    if (startMt === MIGRATE_MOVABLE) alike = movablePages;
    else alike = blockMt === MIGRATE_MOVABLE ? this.pbPages - (freePages + movablePages) : 0;
    if (freePages + alike >= this.pbPages / 2 || !this.groupByMobility) {
      this._moveFreepagesBlock(z, start, blockMt, startMt);
      this.pbType[start / this.pbPages] = startMt;
      return this.rmqueueSmallest(z, order, startMt);
    }
    return -1;
  }

  /** Order of the free block starting at `pfn`, or -1. */
  freeOrderAt(pfn: number): number {
    const s = this.st[pfn >>> 1]!;
    const k = s >>> 5;
    if (k === K_FREE) return (pfn & 1) === 0 ? s & 31 : -1;
    if (k === K_FREE_LO) return (pfn & 1) === 0 ? 0 : -1;
    if (k === K_FREE_HI) return (pfn & 1) === 1 ? 0 : -1;
    return -1;
  }

  /** Allocation migrate type of the allocated block that `pfn` belongs to or heads (-1 if free/reserved/unknown). */
  allocTypeAt(pfn: number): number {
    const head = this.allocHeadOf(pfn);
    if (head < 0) return -1;
    const info = this.allocOrderAt(head) > 0 ? this.getA(head >>> 1) : this.info0(head);
    const t = info & 3;
    return t === TYPE_RESERVED ? -1 : t;
  }

  /** Order of the allocated block headed at `pfn`, or -1 (reserved frames are not allocated). */
  allocOrderAt(pfn: number): number {
    const s = this.st[pfn >>> 1]!;
    const k = s >>> 5;
    if (k === K_ALLOC) return (pfn & 1) === 0 ? s & 31 : -1;
    if (k === K_PAIR || k === K_FREE_LO || k === K_FREE_HI) {
      const info = this.info0(pfn);
      return info >= 8 ? 0 : -1;
    }
    return -1;
  }

  /** Head pfn of the allocated block containing `pfn`, or -1. */
  allocHeadOf(pfn: number): number {
    for (let o = 0; o <= this.maxOrder; o++) {
      const h = pfn - (pfn % (1 << o));
      const ao = this.allocOrderAt(h);
      if (ao >= 0) return ao >= o ? h : -1;
      if (this.freeOrderAt(h) >= 0) return -1;
    }
    return -1;
  }

  /** __move_freepages_block: moves every free block of a pageblock to the `newMt` list's tail. */
  _moveFreepagesBlock(z: number, start: number, oldMt: number, newMt: number): void {
    const end = start + this.pbPages;
    for (let p = start; p < end; ) {
      const o = this.freeOrderAt(p);
      if (o < 0) {
        p++;
        continue;
      }
      this._delFromFreeList(z, p, o, oldMt);
      this._addToFreeList(z, p, o, newMt, true);
      p += 1 << o;
    }
  }

  /** change_pageblock_range. */
  _changePageblockRange(pfn: number, order: number, mt: number): void {
    if (order < this.pbOrder) return;
    const n = 2 ** (order - this.pbOrder);
    const first = pfn / this.pbPages;
    for (let i = 0; i < n; i++) this.pbType[first + i] = mt;
  }

  /** boost_watermark. */
  _boostWatermark(z: number): boolean {
    if (this.watermarkBoostFactor === 0) return false;
    if (this.pbPages * 4 > this.zones[z]!.managed) return false;
    const maxBoostRaw = Math.floor((this.wmark[z * 4 + 2]! * this.watermarkBoostFactor) / 10000);
    if (maxBoostRaw === 0) return false;
    const maxBoost = Math.max(this.pbPages, maxBoostRaw);
    this.boost[z] = Math.min(this.boost[z]! + this.pbPages, maxBoost);
    return true;
  }

  /** __rmqueue_steal: take one block of a fallback type without claiming its pageblock. */
  _rmqueueSteal(z: number, order: number, startMt: number): number {
    for (let co = order; co < this.nOrders; co++) {
      const fb = this._findFallback(z, co, startMt, false);
      if (fb < 0) continue;
      const h = this.head[(z * this.nOrders + co) * NT + fb]!;
      const pfn = this.nodePfn(h - 1, co);
      this._delAndExpand(z, pfn, order, co, fb);
      this.counters[G_FALLBACKS]!++;
      return pfn;
    }
    return -1;
  }

  /** rmqueue → __rmqueue: normal, then claim, then steal. */
  _rmqueue(z: number, order: number, mt: number, flags: number, gfp: number, highest: number): number {
    let page = -1;
    if (order === 0 && this.pcpOn) page = this._rmqueuePcplist(z, mt, flags);
    if (page < 0) page = this._rmqueueBuddy(z, order, mt, flags);
    if (flags & ALLOC_KSWAPD && this.boosted[z] === 1) {
      this.boosted[z] = 0;
      this._wakeKswapd(gfp, 0, highest);
    }
    return page;
  }

  /** __rmqueue: the requested type's lists, then claiming, then stealing. */
  _rmqueueBuddy(z: number, order: number, mt: number, flags: number): number {
    let page = this.rmqueueSmallest(z, order, mt);
    if (page < 0) page = this._rmqueueClaim(z, order, mt, flags);
    if (page < 0 && (flags & ALLOC_NOFRAGMENT) === 0) page = this._rmqueueSteal(z, order, mt);
    return page;
  }

  // ------------------------------------------------------- per-CPU lists

  /**
   * rmqueue_pcplist: the head of the zone's pcp list for `mt`, refilled
   * with `batch` pages from the buddy lists (rmqueue_bulk) when empty.
   */
  _rmqueuePcplist(z: number, mt: number, flags: number): number {
    const li = z * NT + mt;
    if (this.pcpCount[li] === 0) {
      const n = this.pcpBatch[z]!;
      for (let i = 0; i < n; i++) {
        const p = this._rmqueueBuddy(z, 0, mt, flags);
        if (p < 0) break;
        this.setInfo0(p, mt);
        // rmqueue_bulk: list_add_tail, so the pages keep their split order.
        this.pcpBuf[li]![(this.pcpHead[li]! + this.pcpCount[li]!) & this.pcpMask[li]!] = p;
        this.pcpCount[li]!++;
        this.pcpTotal[z]!++;
        this.freeTotal++;
      }
      if (this.pcpCount[li] === 0) return -1;
    }
    const h = this.pcpHead[li]!;
    const p = this.pcpBuf[li]![h]!;
    this.pcpHead[li] = (h + 1) & this.pcpMask[li]!;
    this.pcpCount[li]!--;
    this.pcpTotal[z]!--;
    this.freeTotal--;
    return p;
  }

  /**
   * free_frozen_page_commit: an order-0 page goes to the head of its pcp
   * list; at pcp->high, `batch` pages go back to the buddy lists from the
   * tails (free_pcppages_bulk).
   */
  _freePcp(pfn: number, z: number): void {
    const mt = this.pbType[pfn >>> this.pbOrder]!;
    const li = z * NT + mt;
    this.setInfo0(pfn, mt);
    this.zoneCounters[z * NZC + C_PGFREE]! += 1;
    const h = (this.pcpHead[li]! - 1) & this.pcpMask[li]!;
    this.pcpBuf[li]![h] = pfn;
    this.pcpHead[li] = h;
    this.pcpCount[li]!++;
    this.pcpTotal[z]!++;
    this.freeTotal++;
    if (this.pcpCount[li]! >= this.pcpHigh[z]!) this.freePcppagesBulk(z, this.pcpBatch[z]!, mt);
  }

  /** free_pcppages_bulk: frees `count` pages from the list tails, the `first` type's list first. */
  freePcppagesBulk(z: number, count: number, first: number): void {
    let mt = first;
    while (count > 0) {
      let tries = 0;
      while (this.pcpCount[z * NT + mt] === 0 && tries < NT) {
        mt = (mt + 1) % NT;
        tries++;
      }
      const li = z * NT + mt;
      if (this.pcpCount[li] === 0) return;
      this.pcpCount[li]!--;
      this.pcpTotal[z]!--;
      this.freeTotal--;
      const p = this.pcpBuf[li]![(this.pcpHead[li]! + this.pcpCount[li]!) & this.pcpMask[li]!]!;
      // The pageblock's type now, as free_pcppages_bulk reads it again.
      this.freeOnePage(p, 0, z, this.pbType[p >>> this.pbOrder]!, false);
      count--;
    }
  }

  /** drain_all_pages: every pcp page of zone `z` (or of all zones, -1) back to the buddy lists. */
  drainPages(z: number): void {
    for (let zz = 0; zz < this.nz; zz++) {
      if (z >= 0 && zz !== z) continue;
      let n = 0;
      for (let mt = 0; mt < NT; mt++) n += this.pcpCount[zz * NT + mt]!;
      if (n > 0) this.freePcppagesBulk(zz, n, 0);
    }
  }

  /** Pages held on zone `z`'s pcp lists. */
  pcpPages(z: number): number {
    return this.pcpTotal[z]!;
  }

  // ------------------------------------------------------------ watermarks

  /** __zone_watermark_ok with the zone's current free count. */
  zoneWatermarkOk(
    z: number,
    order: number,
    mark: number,
    highest: number,
    flags: number,
    free?: number,
  ): boolean {
    const freePages = (free ?? this.zoneFree[z]!) - ((1 << order) - 1);
    let min = mark;
    if (flags & ALLOC_RESERVES) {
      if (flags & ALLOC_MIN_RESERVE) {
        min -= Math.floor(min / 2);
        if (flags & ALLOC_NON_BLOCK) min -= Math.floor(min / 4);
      }
      if (flags & ALLOC_OOM) min -= Math.floor(min / 2);
    }
    if (freePages <= min + this.reserve[z * ZONE_NAMES.length + highest]!) return false;
    if (order === 0) return true;
    for (let o = order; o < this.nOrders; o++) {
      if (this.nrFree[z * this.nOrders + o] === 0) continue;
      for (let mt = 0; mt < NT; mt++) {
        if (this.head[(z * this.nOrders + o) * NT + mt] !== 0) return true;
      }
    }
    return false;
  }

  /** wmark_pages: the watermark plus the boost. */
  wmarkPages(z: number, which: number): number {
    return this.wmark[z * 4 + which]! + this.boost[z]!;
  }

  /** zone_watermark_fast. */
  _watermarkFast(z: number, order: number, mark: number, highest: number, flags: number): boolean {
    if (this.zoneWatermarkOk(z, order, mark, highest, flags)) return true;
    if (order === 0 && flags & ALLOC_MIN_RESERVE && this.boost[z]! > 0 && (flags & ALLOC_WMARK_MASK) === 0) {
      return this.zoneWatermarkOk(z, order, this.wmark[z * 4]!, highest, flags);
    }
    return false;
  }

  /** get_page_from_freelist: walks the zonelist from the highest allowed zone down. */
  getPageFromFreelist(gfp: number, order: number, flags: number, highest: number, mt: number): number {
    for (;;) {
      for (let z = this.nz - 1; z >= 0; z--) {
        if (this.zType[z]! > highest || this.zPopulated[z] === 0) continue;
        if ((flags & ALLOC_NO_WATERMARKS) === 0) {
          const mark = this.wmarkPages(z, flags & ALLOC_WMARK_MASK);
          if (!this._watermarkFast(z, order, mark, highest, flags)) continue;
        }
        const page = this._rmqueue(z, order, mt, flags, gfp, highest);
        if (page >= 0) {
          this.zoneCounters[z * NZC + C_PGALLOC]! += 1 << order;
          return page;
        }
      }
      if ((flags & ALLOC_NOFRAGMENT) === 0) return -1;
      flags &= ~ALLOC_NOFRAGMENT;
    }
  }

  /** alloc_flags_nofragment: avoid fragmenting fallbacks in Normal while DMA32 exists. */
  _allocFlagsNofragment(gfp: number, highest: number): number {
    return (gfp & __GFP_KSWAPD_RECLAIM ? ALLOC_KSWAPD : 0) | this.nofragment[highest]!;
  }

  _preferredZone(highest: number): number {
    for (let z = this.nz - 1; z >= 0; z--) {
      const zone = this.zones[z]!;
      if (zone.type <= highest && zone.populated) return z;
    }
    return -1;
  }

  /** alloc_flags_slowpath. */
  _allocFlagsSlowpath(gfp: number): number {
    let flags = ALLOC_WMARK_MIN;
    if (gfp & __GFP_HIGH) flags |= ALLOC_MIN_RESERVE;
    if (gfp & __GFP_KSWAPD_RECLAIM) flags |= ALLOC_KSWAPD;
    if ((gfp & __GFP_DIRECT_RECLAIM) === 0 && (gfp & __GFP_NOMEMALLOC) === 0) flags |= ALLOC_NON_BLOCK;
    return flags;
  }

  _request(gfp: number, order: number, highest: number): ReclaimRequest {
    return { gfp, order, highestZone: ZONE_NAMES[highest]! };
  }

  _wakeKswapd(gfp: number, order: number, highest: number): void {
    this.counters[G_KSWAPD]!++;
    this.hooks.wakeKswapd?.(this._request(gfp, order, highest));
  }

  /**
   * __alloc_pages: the fast path at the low watermark, then the slow path.
   * Returns the first frame, or -1.
   */
  allocPages(gfp: number, order: number, highest: number, mt: number, info: number): number {
    if (this.fail.shouldFail(gfp, order)) {
      this.counters[G_INJECTED]!++;
      this.counters[G_FAILS]!++;
      return -1;
    }
    let page = this.getPageFromFreelist(
      gfp,
      order,
      ALLOC_WMARK_LOW | this._allocFlagsNofragment(gfp, highest),
      highest,
      mt,
    );
    if (page < 0) page = this._slowpath(gfp, order, highest, mt);
    if (page < 0) {
      this.counters[G_FAILS]!++;
      return -1;
    }
    this.markAllocated(page, order, info);
    this.counters[G_ALLOCS]!++;
    if (gfp & __GFP_ZERO) {
      const n = 1 << order;
      for (let i = 0; i < n; i++) this.memory!.zeroFrame((page + i) as Pfn);
    }
    return page;
  }

  /**
   * The order-0 fast path, folded into one function: the first allowed zone
   * above its low watermark (plus lowmem_reserve) with a page on its pcp
   * list gives that page. Anything else — an empty list, a boosted zone,
   * fault injection armed, no zone above low — takes the general path,
   * which computes the same answer the long way.
   */
  alloc0(gfp: number, highest: number, mt: number, info: number): number {
    if (this.pcpOn && !this.fail.armed) {
      for (let z = this.nz - 1; z >= 0; z--) {
        if (this.zType[z]! > highest || this.zPopulated[z] === 0) continue;
        const free = this.zoneFree[z]!;
        if (free <= this.wmark[z * 4 + 1]! + this.boost[z]! + this.reserve[z * 6 + highest]!) break;
        const li = z * NT + mt;
        if (this.pcpCount[li] === 0 || this.boosted[z] === 1) break;
        const h = this.pcpHead[li]!;
        const p = this.pcpBuf[li]![h]!;
        this.pcpHead[li] = (h + 1) & this.pcpMask[li]!;
        this.pcpCount[li]!--;
        this.pcpTotal[z]!--;
        this.freeTotal--;
        this.zoneCounters[z * NZC + C_PGALLOC]!++;
        this.setInfo0(p, info);
        this.counters[G_ALLOCS]!++;
        if (gfp & __GFP_ZERO) this.memory!.zeroFrame(p as Pfn);
        return p;
      }
    }
    return this.allocPages(gfp, 0, highest, mt, info);
  }

  /**
   * The order-0 free fast path: drops the last reference of an order-0
   * page onto its pcp list. Returns false, changing nothing, when `pfn` is
   * not an allocated order-0 page (the caller reports the misuse) or holds
   * more references (the caller takes the general path).
   */
  free0(pfn: number): boolean {
    const j = pfn >>> 1;
    const s = this.st[j]!;
    const k = s >>> 5;
    let info: number;
    if (k === K_PAIR) info = (pfn & 1) === 1 ? this.getB(j) : this.getA(j);
    else if (k === K_FREE_LO || k === K_FREE_HI) info = this.info0(pfn);
    else return false;
    if (info < 8 || info >= 16 || !this.pcpOn) return false;
    const z = this.zoneOf(pfn);
    if (z < 0) return false;
    this.counters[G_FREES]!++;
    this._freePcp(pfn, z);
    return true;
  }

  /** __alloc_pages_slowpath, with the loops bounded (see the README). */
  _slowpath(gfp: number, order: number, highest: number, mt: number): number {
    this.counters[G_SLOWPATH]!++;
    const costly = order > PAGE_ALLOC_COSTLY_ORDER;
    const canDirectReclaim = (gfp & __GFP_DIRECT_RECLAIM) !== 0 && !(costly && gfp & __GFP_NORETRY);
    // Without a migration hook nothing can move: as a kernel without CONFIG_COMPACTION.
    const canCompact =
      canDirectReclaim &&
      (gfp & __GFP_IO) !== 0 &&
      this.compactor !== undefined &&
      this.hooks.migratePage !== undefined;
    let compactFirst = canCompact && (costly || (order > 0 && mt !== MIGRATE_MOVABLE));
    let flags = this._allocFlagsSlowpath(gfp);
    let noProgressLoops = 0;
    let reserveRetried = false;
    for (let round = 0; round < 4 * MAX_RECLAIM_RETRIES; round++) {
      if (flags & ALLOC_KSWAPD) this._wakeKswapd(gfp, order, highest);
      let page = this.getPageFromFreelist(gfp, order, flags, highest, mt);
      if (page >= 0) return page;
      if (gfp & __GFP_MEMALLOC && (gfp & __GFP_NOMEMALLOC) === 0 && !reserveRetried) {
        flags = ALLOC_NO_WATERMARKS | (flags & ALLOC_KSWAPD);
        reserveRetried = true;
        continue;
      }
      if (!canDirectReclaim) break;
      let progress = 0;
      if (!compactFirst) {
        this.counters[G_ALLOCSTALL]!++;
        progress = this.hooks.reclaim?.(this._request(gfp, order, highest)) ?? 0;
        if (progress > 0) {
          page = this.getPageFromFreelist(gfp, order, flags, highest, mt);
          if (page >= 0) return page;
          // __alloc_pages_direct_reclaim: pages may sit on the pcp lists.
          this.drainPages(-1);
          page = this.getPageFromFreelist(gfp, order, flags, highest, mt);
          if (page >= 0) return page;
        }
      }
      if (canCompact && order > 0) {
        page = this._directCompact(gfp, order, flags, highest, mt);
        if (page >= 0) return page;
      }
      if (compactFirst) {
        compactFirst = false;
        continue;
      }
      if (gfp & __GFP_NORETRY) break;
      if (costly && !(canCompact && gfp & __GFP_RETRY_MAYFAIL)) break;
      if (progress > 0 && order <= PAGE_ALLOC_COSTLY_ORDER) noProgressLoops = 0;
      else noProgressLoops++;
      if (progress > 0 && noProgressLoops <= MAX_RECLAIM_RETRIES) continue;
      // __alloc_pages_may_oom: one more try at the high watermark, then the killer.
      page = this.getPageFromFreelist(
        gfp,
        order,
        ALLOC_WMARK_HIGH | (flags & ~ALLOC_WMARK_MASK),
        highest,
        mt,
      );
      if (page >= 0) return page;
      if (costly || gfp & (__GFP_RETRY_MAYFAIL | __GFP_THISNODE) || highest < ZONE_NORMAL) break;
      this.counters[G_OOM]!++;
      const killed = this.hooks.outOfMemory?.(this._request(gfp, order, highest)) ?? false;
      if (!killed) break;
      noProgressLoops = 0;
    }
    if (gfp & __GFP_NOFAIL) {
      // Linux would loop here forever; the last resort it grants is ALLOC_MIN_RESERVE.
      const page = this.getPageFromFreelist(
        gfp,
        order,
        ALLOC_MIN_RESERVE | (flags & ALLOC_KSWAPD),
        highest,
        mt,
      );
      if (page >= 0) return page;
    }
    if ((gfp & __GFP_NOWARN) === 0) {
      this.hooks.warn?.(
        `page allocation failure: order:${order}, mode:0x${(gfp >>> 0).toString(16)}(${formatGfpFlags(gfp)}), nodemask=(null)`,
      );
    }
    return -1;
  }

  /** __alloc_pages_direct_compact, through the compaction module. */
  _directCompact(gfp: number, order: number, flags: number, highest: number, mt: number): number {
    this.counters[G_COMPACT_STALL]!++;
    for (let z = this.nz - 1; z >= 0; z--) {
      const zone = this.zones[z]!;
      if (zone.type > highest || !zone.populated) continue;
      if (!this.compactionSuitable(z, order, this.wmark[z * 4]!, highest)) continue;
      if (this.compactor!(z, order, gfp)) break;
    }
    const page = this.getPageFromFreelist(gfp, order, flags, highest, mt);
    if (page >= 0) this.counters[G_COMPACT_SUCCESS]!++;
    else this.counters[G_COMPACT_FAIL]!++;
    return page;
  }

  /** compaction_suitable: enough order-0 pages to migrate into, and (costly orders) fragmentation to blame. */
  compactionSuitable(z: number, order: number, watermark: number, highest: number): boolean {
    let mark = watermark + 2 * (1 << order);
    if (order > PAGE_ALLOC_COSTLY_ORDER) mark += this.wmark[z * 4 + 1]! - this.wmark[z * 4]!;
    if (!this.zoneWatermarkOk(z, 0, mark, highest, 0)) return false;
    if (order > PAGE_ALLOC_COSTLY_ORDER) {
      const fragindex = fragmentationIndex(this.zoneNrFree(z), order);
      if (fragindex >= 0 && fragindex <= this.extfragThreshold) return false;
    }
    return true;
  }

  /** nr_free of every order of zone `z`. */
  zoneNrFree(z: number): number[] {
    return Array.from(this.nrFree.subarray(z * this.nOrders, (z + 1) * this.nOrders));
  }

  /** kswapd's end of the boost: `watermark_boost = 0`. */
  clearBoost(z: number): void {
    this.boost[z] = 0;
    this.boosted[z] = 0;
  }

  // ----------------------------------------------------- compaction seams

  /** Info word of the allocated block headed at `pfn`. */
  blockInfo(pfn: number, order: number): number {
    return order > 0 ? this.getA(pfn >>> 1) : this.info0(pfn);
  }

  /**
   * split_page: the allocated, non-compound block `pfn` of `order` (> 0,
   * validated by the caller, its info word `info`) becomes 2^order order-0
   * pages; the head keeps its references, every other page holds one.
   */
  splitAllocated(pfn: number, order: number, info: number): void {
    const one = 8 + (info & 3);
    const end = (pfn + (1 << order)) >>> 1;
    for (let j = pfn >>> 1; j < end; j++) {
      this.st[j] = K_PAIR << 5;
      this.setA(j, one);
      this.setB(j, one);
    }
    this.setA(pfn >>> 1, info & ~4);
  }

  /**
   * __isolate_free_page: takes a free block off its list for compaction if
   * the zone stays above min + 2^order; the block is then held as an
   * allocation, as Linux holds isolated pages outside the buddy lists.
   */
  isolateFreePage(z: number, pfn: number, order: number): boolean {
    const mark = this.wmark[z * 4]! + (1 << order);
    if (!this.zoneWatermarkOk(z, 0, mark, 0, 0)) return false;
    const mt = this.pbType[pfn >>> this.pbOrder]!;
    this._delFromFreeList(z, pfn, order, mt);
    if (order === 0) this._take0(pfn);
    else this.st[pfn >>> 1] = K_TAIL;
    this.zoneFree[z]! -= 1 << order;
    this.freeTotal -= 1 << order;
    this.markAllocated(pfn, order, 8 + MIGRATE_MOVABLE);
    if (order >= this.pbOrder - 1) {
      // Blocks of at least half a pageblock turn their pageblocks movable.
      const first = pfn >>> this.pbOrder;
      const last = Math.floor((pfn + (1 << order) - 1) / this.pbPages);
      for (let b = first; b <= last; b++) {
        const old = this.pbType[b]!;
        if (old !== MIGRATE_MOVABLE) {
          this._moveFreepagesBlock(z, b * this.pbPages, old, MIGRATE_MOVABLE);
          this.pbType[b] = MIGRATE_MOVABLE;
        }
      }
    }
    return true;
  }

  /** __compact_finished's test: a free block of `order`+ on the `mt` list, or one a fallback would claim. */
  suitablePageExists(z: number, order: number, mt: number): boolean {
    for (let o = order; o < this.nOrders; o++) {
      if (this.head[(z * this.nOrders + o) * NT + mt] !== 0) return true;
      if (this._findFallback(z, o, mt, true) >= 0) return true;
    }
    return false;
  }

  // ----------------------------------------------------------------- check

  /**
   * Full invariant scan: block coverage and alignment, head states, free
   * lists against the counters, no unmerged free buddies, the overflow map.
   *
   * @throws {CorruptionError} describing the first violation.
   */
  check(): void {
    const fail = (msg: string): never => {
      throw new CorruptionError(PKG, `check: ${msg}`);
    };
    const nrFree = new Int32Array(this.nrFree.length);
    const nrFreeType = new Int32Array(this.nrFreeType.length);
    const zoneFree = new Float64Array(this.nz);
    const zoneFreeBlocks = new Float64Array(this.nz);
    const overflowSeen = new Set<number>();
    // Pages on the pcp lists, with the list's type; each must be an order-0 frame holding that type.
    const pcp = new Map<number, number>();
    for (let z = 0; z < this.nz; z++) {
      let total = 0;
      for (let mt = 0; mt < NT; mt++) total += this.pcpCount[z * NT + mt]!;
      if (this.pcpTotal[z] !== total)
        fail(`zone ${z}'s pcp total ${this.pcpTotal[z]} is not its lists' ${total} pages`);
      for (let mt = 0; mt < NT; mt++) {
        const li = z * NT + mt;
        for (let i = 0; i < this.pcpCount[li]!; i++) {
          const pfn = this.pcpBuf[li]![(this.pcpHead[li]! + i) & this.pcpMask[li]!]!;
          if (pcp.has(pfn)) fail(`pfn 0x${pfn.toString(16)} is twice on the pcp lists`);
          if (this.zoneOf(pfn) !== z) fail(`pfn 0x${pfn.toString(16)} is on another zone's pcp list`);
          pcp.set(pfn, mt);
        }
      }
    }
    let pcpSeen = 0;
    let p = 0;
    while (p < this.frameCount) {
      const z = this.zoneOf(p);
      const j = p >>> 1;
      const s = this.st[j]!;
      const k = s >>> 5;
      if (k === K_FREE || k === K_ALLOC) {
        const o = s & 31;
        if ((p & 1) !== 0 || o < 1 || o > this.maxOrder)
          fail(`pair ${j} holds a bad ${k === K_FREE ? "free" : "allocated"} head (order ${o})`);
        if (p % (1 << o) !== 0) fail(`block at pfn 0x${p.toString(16)} is not aligned to its order ${o}`);
        const end = p + (1 << o);
        if (z < 0 || end > this.zoneEnd[z]!)
          fail(`block at pfn 0x${p.toString(16)} order ${o} leaves its zone`);
        for (let q = p + 2; q < end; q += 2) {
          if (this.st[q >>> 1] !== K_TAIL)
            fail(`pfn 0x${q.toString(16)} inside the block at 0x${p.toString(16)} is not a tail`);
        }
        if (k === K_FREE) {
          const mt = this.pbType[p >>> this.pbOrder]!;
          nrFree[z * this.nOrders + o]!++;
          nrFreeType[(z * this.nOrders + o) * NT + mt]!++;
          zoneFree[z]! += 1 << o;
          if (o >= this.pbOrder) zoneFreeBlocks[z]! += 1 << o;
          this._checkNotMergeable(p, o, z, fail);
        } else {
          const info = this.getA(j);
          if (info < 8 || (info & 3) === TYPE_RESERVED)
            fail(`allocated block at pfn 0x${p.toString(16)} has refcount ${Math.floor(info / 8)}`);
        }
        p = end;
        continue;
      }
      if (k === K_TAIL) fail(`pfn 0x${p.toString(16)} is a tail outside any block`);
      if (k !== K_PAIR && k !== K_FREE_LO && k !== K_FREE_HI) fail(`pair ${j} has unknown kind ${k}`);
      for (let q = p; q < Math.min(p + 2, this.frameCount); q++) {
        const zq = this.zoneOf(q);
        const info = this.info0(q);
        if (info === -1) {
          if (zq < 0) fail(`free pfn 0x${q.toString(16)} is outside every zone`);
          const mt = this.pbType[q >>> this.pbOrder]!;
          nrFree[zq * this.nOrders]!++;
          nrFreeType[zq * this.nOrders * NT + mt]!++;
          zoneFree[zq]! += 1;
          if (this.pbOrder === 0) zoneFreeBlocks[zq]! += 1;
        } else if (info === undefined || Number.isNaN(info) || info < 0) {
          fail(`pfn 0x${q.toString(16)} has no info`);
        } else if ((info & 3) !== TYPE_RESERVED && info < 8) {
          if (pcp.get(q) !== info) fail(`allocated pfn 0x${q.toString(16)} has refcount 0`);
          pcpSeen++;
        }
        if (k !== K_PAIR && info !== -1) {
          const payload = s & 31;
          if (payloadUsesOverflow(payload)) overflowSeen.add(q);
        }
      }
      p += 2 - (p & 1);
    }
    if (pcpSeen !== pcp.size) fail(`${pcp.size} pages on the pcp lists, ${pcpSeen} frames marked so`);
    for (const pfn of this.table.overflow.keys()) {
      if (!overflowSeen.has(pfn)) fail(`overflow refcount for pfn 0x${pfn.toString(16)} belongs to no pair`);
      if (this.table.overflow.get(pfn)! < 8)
        fail(`overflow refcount for pfn 0x${pfn.toString(16)} is below 8`);
    }
    if (overflowSeen.size !== this.table.overflow.size)
      fail("a packed refcount points at a missing overflow entry");
    for (let i = 0; i < this.nrFree.length; i++) {
      if (nrFree[i] !== this.nrFree[i])
        fail(
          `zone ${Math.floor(i / this.nOrders)} order ${i % this.nOrders}: ${nrFree[i]} free blocks, nr_free says ${this.nrFree[i]}`,
        );
    }
    for (let z = 0; z < this.nz; z++) {
      if (zoneFree[z] !== this.zoneFree[z])
        fail(
          `zone ${this.zones[z]!.name}: ${zoneFree[z]} free pages, NR_FREE_PAGES says ${this.zoneFree[z]}`,
        );
      if (zoneFreeBlocks[z] !== this.zoneFreeBlocks[z])
        fail(
          `zone ${this.zones[z]!.name}: NR_FREE_PAGES_BLOCKS is ${this.zoneFreeBlocks[z]}, expected ${zoneFreeBlocks[z]}`,
        );
    }
    let total = 0;
    for (let z = 0; z < this.nz; z++) total += this.zoneFree[z]! + this.pcpTotal[z]!;
    if (total !== this.freeTotal)
      fail(`${total} free pages in the zones and pcp lists, the running total says ${this.freeTotal}`);
    for (let li = 0; li < this.nrFreeType.length; li++) {
      if (nrFreeType[li] !== this.nrFreeType[li])
        fail(`list ${li}: ${nrFreeType[li]} blocks of its type, counter says ${this.nrFreeType[li]}`);
      const z = Math.floor(li / (this.nOrders * NT));
      const o = Math.floor(li / NT) % this.nOrders;
      const mt = li % NT;
      let n = 0;
      let prev = 0;
      for (let v = this.head[li]!; v !== 0; v = this.getA(v - 1)) {
        if (++n > this.nrFreeType[li]!)
          fail(
            `list ${ZONE_NAMES[this.zones[z]!.type]} order ${o} type ${mt} is longer than its count (a cycle?)`,
          );
        if (this.getB(v - 1) !== prev)
          fail(`list ${ZONE_NAMES[this.zones[z]!.type]} order ${o}: broken prev link at pair ${v - 1}`);
        const pfn = this.nodePfn(v - 1, o);
        if (!this.isFreeHead(pfn, o))
          fail(`list order ${o} holds pfn 0x${pfn.toString(16)}, which is not a free block of that order`);
        if (this.zoneOf(pfn) !== z) fail(`pfn 0x${pfn.toString(16)} is on another zone's list`);
        if (this.pbType[pfn >>> this.pbOrder] !== mt)
          fail(
            `pfn 0x${pfn.toString(16)} is on the type-${mt} list of a type-${this.pbType[pfn >>> this.pbOrder]} pageblock`,
          );
        prev = v;
      }
      if (n !== this.nrFreeType[li]) fail(`list ${li} has ${n} nodes, counter says ${this.nrFreeType[li]}`);
      if (this.tail[li] !== prev) fail(`list ${li}: tail is ${this.tail[li]}, last node is ${prev}`);
    }
  }

  _checkNotMergeable(p: number, o: number, z: number, fail: (m: string) => never): void {
    if (o >= this.maxOrder) return;
    const b = p ^ (1 << o);
    if (b >= this.zoneStart[z]! && b < this.zoneEnd[z]! && this.isFreeHead(b, o)) {
      fail(
        `free buddies 0x${Math.min(p, b).toString(16)} and 0x${Math.max(p, b).toString(16)} of order ${o} are not merged`,
      );
    }
  }
}

/** Count of trailing zero bits of a positive safe integer. */
export function ctz(n: number): number {
  let c = 0;
  while (n % 2 === 0 && c < 53) {
    n /= 2;
    c++;
  }
  return c;
}

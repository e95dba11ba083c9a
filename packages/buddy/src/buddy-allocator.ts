/**
 * BuddyAllocator: Linux's zoned buddy page allocator, as the physical frame
 * allocator of a simulated machine or as a power-of-two sub-allocator.
 *
 * Models: mm/page_alloc.c's public face — `alloc_pages`, `__free_pages`,
 * `__get_free_pages`, `get_zeroed_page`, `free_pages`, page reference
 * counts (`get_page`/`put_page`) — with zones built the way x86-64 builds
 * them, watermarks derived as at boot, GFP flags, fail_page_alloc, and the
 * /proc views. The algorithms live in ./internal/engine.ts (split, merge,
 * zone walk, slow path) and ./internal/compaction.ts.
 *
 * Simplifies: one NUMA node and one CPU; "struct page *" and the
 * kernel's direct-map addresses are both expressed through the frame
 * number (`__get_free_pages` returns the physical address, an identity
 * direct map).
 *
 * Neighbours: implements core's FrameAllocator port for the kernel and the
 * MMU's page-table editing; the kernel layer wires reclaim, the OOM killer
 * and page migration in through {@link BuddyHooks}.
 *
 *     createBuddyAllocator({ frameCount: 262144 })          1 GiB, x86-64 zones
 *     DMA    [0x0, 0x1000)        4096 frames
 *     DMA32  [0x1000, 0x40000)  258048 frames
 *     Normal, Movable           empty (above 4 GiB)
 */
import {
  type Checkable,
  type FrameAllocator,
  type Pfn,
  type PhysicalMemory,
  UsageError,
} from "@memstack/core";
import type {
  AllocOptions,
  BuddyHooks,
  BuddyOptions,
  BuddyStats,
  CompactionResult,
  FrameInfo,
  PfnRange,
  ZoneSpec,
  ZoneStats,
} from "./api.js";
import { FailPageAlloc } from "./fault-injection.js";
import { fragmentationIndex, unusableFreeIndex } from "./fragmentation.js";
import type { ZoneName } from "./gfp.js";
import * as gfp from "./gfp.js";
import { checkIntOption } from "./internal/check-option.js";
import { compactZone } from "./internal/compaction.js";
import * as engine from "./internal/engine.js";
import { Engine, type EngineZone } from "./internal/engine.js";
import {
  formatBuddyinfo,
  formatExtfragIndex,
  formatPagetypeinfo,
  formatUnusableIndex,
  formatZoneinfo,
  type ProcZone,
} from "./procfs.js";
import {
  calculateMinFreeKbytes,
  computeWatermarks,
  thpMinFreeKbytes,
  type ZoneWatermarks,
} from "./watermarks.js";

// The constants and functions this module reads on its hot paths, bound
// here (see "Constants on hot paths" in the root README).
const {
  GFP_BITS_MASK,
  __GFP_COMP,
  __GFP_HIGHMEM,
  GFP_KERNEL,
  __GFP_MOVABLE,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
  __GFP_ZERO,
  gfpMigratetype,
  gfpZone,
  gfpZoneIsBad,
  MIGRATE_PCPTYPES,
  MIGRATE_UNMOVABLE,
  MIGRATETYPE_NAMES,
  ZONE_MOVABLE,
  ZONE_NAMES,
  ZONE_NORMAL,
} = gfp;
const {
  C_PGALLOC,
  C_PGFREE,
  G_ALLOCS,
  G_ALLOCSTALL,
  G_COMPACT_FAIL,
  G_COMPACT_FREE_SCANNED,
  G_COMPACT_ISOLATED,
  G_COMPACT_MIGRATE_SCANNED,
  G_COMPACT_STALL,
  G_COMPACT_SUCCESS,
  G_FAILS,
  G_FALLBACKS,
  G_FREES,
  G_INJECTED,
  G_KSWAPD,
  G_MERGES,
  G_OOM,
  G_PGMIGRATE_FAIL,
  G_PGMIGRATE_SUCCESS,
  G_SLOWPATH,
  G_SPLITS,
} = engine;

const PKG = "@memstack/buddy";
const PAGE_SIZE = 4096;
/** Pageblocks per MIGRATE_TYPES, for the mobility-grouping rule (Unmovable … Isolate = 5 here). */
const MIGRATE_TYPES = 5;
/** Largest machine: 2^31 frames (8 TiB), so that a pfn XOR stays in 32-bit arithmetic. */
const MAX_FRAMES = 2 ** 31;

function hex(n: number): string {
  return Number.isSafeInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n);
}

/** x86-64's zones for a machine of `frameCount` frames: DMA < 16 MiB ≤ DMA32 < 4 GiB ≤ Normal, Movable empty. */
export function x86_64Zones(frameCount: number): ZoneSpec[] {
  const dma = Math.min(frameCount, 4096);
  const dma32 = Math.min(frameCount, 2 ** 20);
  return [
    { name: "DMA", startPfn: 0, endPfn: dma },
    { name: "DMA32", startPfn: dma, endPfn: dma32 },
    { name: "Normal", startPfn: dma32, endPfn: frameCount },
    { name: "Movable", startPfn: frameCount, endPfn: frameCount },
  ];
}

/** Linux's zoned buddy page allocator over typed arrays; see the package README. */
export class BuddyAllocator implements FrameAllocator, Checkable {
  /** Frames the allocator manages (zones' managed pages): the port's count. */
  readonly frameCount: number;
  /** Frames of the machine, numbered 0 … machineFrames − 1, managed or not. */
  readonly machineFrames: number;
  /** Largest order (MAX_PAGE_ORDER). */
  readonly maxOrder: number;
  /** Order of a pageblock. */
  readonly pageblockOrder: number;
  /** vm.min_free_kbytes in force. */
  readonly minFreeKbytes: number;
  /** Whether pages are grouped by mobility (page_group_by_mobility_disabled is the negation). */
  readonly groupByMobility: boolean;
  /** GFP flags of `allocFrames` and flag-less `alloc`. */
  readonly defaultGfp: number;
  /** fail_page_alloc: set `probability`, `interval`, … or call `failNth(n)` to inject failures. */
  readonly faultInjection: FailPageAlloc;
  readonly #e: Engine;
  readonly #memory: PhysicalMemory | undefined;
  // defaultGfp resolved once: highest zone type, free-list type, allocation info bits.
  #defHighest = 0;
  #defMt = 0;
  #defType = 0;

  /** @throws {UsageError} naming the option that is out of range or inconsistent. */
  constructor(options: BuddyOptions) {
    const memory = options.memory;
    const frameCount = options.frameCount ?? memory?.frameCount;
    if (
      frameCount === undefined ||
      !Number.isSafeInteger(frameCount) ||
      frameCount < 1 ||
      frameCount > MAX_FRAMES
    ) {
      throw new UsageError(
        PKG,
        `BuddyAllocator: frameCount must be an integer in [1, 2^31], got ${frameCount}`,
        "frameCount",
      );
    }
    if (memory && memory.frameCount < frameCount) {
      throw new UsageError(
        PKG,
        `BuddyAllocator: memory has ${memory.frameCount} frames, fewer than frameCount ${frameCount}`,
        "memory",
      );
    }
    const maxOrder = options.maxOrder ?? 10;
    if (!Number.isInteger(maxOrder) || maxOrder < 1 || maxOrder > 20) {
      throw new UsageError(
        PKG,
        `BuddyAllocator: maxOrder must be an integer in [1, 20], got ${maxOrder}`,
        "maxOrder",
      );
    }
    const pageblockOrder = options.pageblockOrder ?? Math.min(9, maxOrder);
    if (!Number.isInteger(pageblockOrder) || pageblockOrder < 0 || pageblockOrder > maxOrder) {
      throw new UsageError(
        PKG,
        `BuddyAllocator: pageblockOrder must be an integer in [0, maxOrder], got ${pageblockOrder}`,
        "pageblockOrder",
      );
    }
    const defaultGfp = options.defaultGfp ?? GFP_KERNEL;
    checkGfp("BuddyAllocator", defaultGfp, "defaultGfp");
    if (defaultGfp & __GFP_ZERO && memory === undefined) {
      throw new UsageError(
        PKG,
        "BuddyAllocator: defaultGfp has __GFP_ZERO but there is no memory option",
        "defaultGfp",
      );
    }
    const zones = buildZones(
      options.zones ?? x86_64Zones(frameCount),
      frameCount,
      options.holes ?? [],
      options.reserved ?? [],
    );
    const wmZones = zones.map((z) => ({ name: z.name, managedPages: z.managed }));
    const tunables = {
      watermarkScaleFactor: checkInt(options.watermarkScaleFactor ?? 10, "watermarkScaleFactor", 1, 3000),
      lowmemReserveRatio: options.lowmemReserveRatio,
    };
    const lowmem = zones.filter((z) => z.type <= ZONE_NORMAL).reduce((n, z) => n + z.managed, 0);
    let minFree = options.minFreeKbytes;
    if (minFree === undefined) {
      minFree = calculateMinFreeKbytes(lowmem);
      if (options.transparentHugepages) {
        const first = computeWatermarks(wmZones, { ...tunables, minFreeKbytes: minFree });
        const buffer = zones.reduce(
          (n, z, i) => (z.type <= ZONE_NORMAL ? n + Math.max(0, z.managed - first[i]!.high) : n),
          0,
        );
        const populated = zones.filter((z) => z.type <= ZONE_NORMAL && z.populated).length;
        minFree = thpMinFreeKbytes(populated, 2 ** pageblockOrder, buffer, minFree);
      }
    }
    checkInt(minFree, "minFreeKbytes", 0, 2 ** 31);
    const watermarks: ZoneWatermarks[] = computeWatermarks(wmZones, { ...tunables, minFreeKbytes: minFree });
    const totalManaged = zones.filter((z) => z.type <= ZONE_MOVABLE).reduce((n, z) => n + z.managed, 0);
    const groupByMobility = options.groupByMobility ?? totalManaged >= 2 ** pageblockOrder * MIGRATE_TYPES;
    this.machineFrames = frameCount;
    this.frameCount = zones.reduce((n, z) => n + z.managed, 0);
    this.maxOrder = maxOrder;
    this.pageblockOrder = pageblockOrder;
    this.minFreeKbytes = minFree;
    this.groupByMobility = groupByMobility;
    this.defaultGfp = defaultGfp;
    this.faultInjection = new FailPageAlloc(options.faultInjection);
    this.#memory = memory;
    this.#e = new Engine({
      frameCount,
      maxOrder,
      pageblockOrder,
      zones,
      managedRanges: zones.map((z) => z.ranges),
      watermarks,
      watermarkBoostFactor: checkInt(
        options.watermarkBoostFactor ?? 15000,
        "watermarkBoostFactor",
        0,
        2 ** 31,
      ),
      groupByMobility,
      extfragThreshold: checkInt(options.extfragThreshold ?? 500, "extfragThreshold", 0, 1000),
      memory,
      fail: this.faultInjection,
      pcp: options.pcp ?? true,
      hooks: { ...options.hooks },
    });
    this.#defHighest = gfpZone(defaultGfp, this.#e.hasDma, this.#e.hasDma32, this.#e.hasHighmem);
    this.#defMt = groupByMobility ? gfpMigratetype(defaultGfp) : MIGRATE_UNMOVABLE;
    this.#defType = defaultGfp & __GFP_MOVABLE ? 1 : defaultGfp & __GFP_RECLAIMABLE ? 2 : 0;
    this.#e.compactor = (z, order, gfp) => {
      const mt = this.groupByMobility ? gfpMigratetype(gfp) : MIGRATE_UNMOVABLE;
      return compactZone(this.#e, z, order, mt).status === "success";
    };
  }

  /** Frames currently free, across zones. */
  get freeFrameCount(): number {
    return this.#e.freeTotal;
  }

  /**
   * `drain_all_pages`: returns the pages held on the per-CPU lists of one
   * zone (or of all zones) to the buddy lists, where they can merge.
   *
   * @throws {UsageError} for an unknown zone.
   */
  drainPages(zone?: number | ZoneName): void {
    this.#e.drainPages(zone === undefined ? -1 : this.#zoneIndex("drainPages", zone));
  }

  /** Bytes of typed arrays holding frame metadata, free lists and per-CPU lists. */
  get metadataBytes(): number {
    const e = this.#e;
    return (
      e.pcpBuf.reduce((n, b) => n + b.byteLength, 0) +
      e.table.byteLength +
      e.pbType.byteLength +
      e.head.byteLength +
      e.tail.byteLength +
      e.nrFree.byteLength +
      e.nrFreeType.byteLength
    );
  }

  /** Replaces some hooks (the kernel registers reclaim, OOM and migration after creating the allocator). */
  setHooks(hooks: BuddyHooks): void {
    this.#e.hooks = { ...this.#e.hooks, ...hooks };
  }

  // ------------------------------------------------------- FrameAllocator

  /**
   * Allocates 2^order frames with the allocator's `defaultGfp` (GFP_KERNEL).
   *
   * @returns the first frame, or null when no block can be had.
   * @throws {UsageError} for an order outside [0, maxOrder].
   */
  allocFrames(order: number): Pfn | null {
    if (!(order >= 0 && order <= this.maxOrder && (order | 0) === order))
      this.#checkOrder("allocFrames", order, true);
    const gfp = this.defaultGfp;
    const pfn =
      order === 0
        ? this.#e.alloc0(gfp, this.#defHighest, this.#defMt, 8 + this.#defType)
        : this.#e.allocPages(
            gfp,
            order,
            this.#defHighest,
            this.#defMt,
            8 + (gfp & __GFP_COMP ? 4 : 0) + this.#defType,
          );
    return pfn < 0 ? null : (pfn as Pfn);
  }

  /**
   * A {@link FrameAllocator} view of this allocator whose allocations use
   * `gfp` instead of `defaultGfp`: what a kernel hands to a layer that always
   * allocates one way (user pages with GFP_HIGHUSER_MOVABLE, page tables with
   * GFP_KERNEL_ACCOUNT | __GFP_ZERO). The flags are checked and resolved to
   * a zone and a free list once, here, so each allocation is as cheap as
   * `allocFrames`; it places, counts and fails exactly as
   * `alloc({ order, gfp })` would.
   *
   * @throws {UsageError} for bad GFP flags, or __GFP_ZERO without the allocator's memory.
   */
  frameAllocator(gfp: number): FrameAllocator {
    checkGfp("frameAllocator", gfp, "gfp");
    this.#checkZero("frameAllocator", gfp);
    const e = this.#e;
    const highest = gfpZone(gfp, e.hasDma, e.hasDma32, e.hasHighmem);
    const mt = this.groupByMobility ? gfpMigratetype(gfp) : MIGRATE_UNMOVABLE;
    const type = gfp & __GFP_MOVABLE ? 1 : gfp & __GFP_RECLAIMABLE ? 2 : 0;
    const info0 = 8 + type;
    const infoN = 8 + (gfp & __GFP_COMP ? 4 : 0) + type;
    const maxOrder = this.maxOrder;
    const self = this;
    return {
      get frameCount() {
        return self.frameCount;
      },
      get freeFrameCount() {
        return self.freeFrameCount;
      },
      allocFrames(order: number): Pfn | null {
        if (!(order >= 0 && order <= maxOrder && (order | 0) === order))
          self.#checkOrder("allocFrames", order, true);
        const pfn =
          order === 0 ? e.alloc0(gfp, highest, mt, info0) : e.allocPages(gfp, order, highest, mt, infoN);
        return pfn < 0 ? null : (pfn as Pfn);
      },
      freeFrames(frame: Pfn, order: number): void {
        self.#free("freeFrames", frame, order);
      },
      splitFrames(frame: Pfn, order: number): void {
        self.#split("splitFrames", frame, order);
      },
    };
  }

  /**
   * Frees a block from `allocFrames`/`alloc`/`alloc_pages` (drops a reference, as `__free_pages`).
   *
   * @throws {UsageError} naming the pfn and order for a double free, a wrong order, a reserved or foreign frame.
   */
  freeFrames(frame: Pfn, order: number): void {
    this.#free("freeFrames", frame, order);
  }

  // ------------------------------------------------------ TypeScript API

  /**
   * Allocates a naturally aligned block of 2^order frames.
   *
   * @returns the first frame, or null.
   * @throws {UsageError} for a bad order or GFP combination.
   */
  alloc(options: AllocOptions = {}): Pfn | null {
    const order = options.order ?? 0;
    const gfp = options.gfp ?? this.defaultGfp;
    this.#checkOrder("alloc", order, true);
    checkGfp("alloc", gfp, "gfp");
    this.#checkZero("alloc", gfp);
    return this.#alloc(gfp, order);
  }

  /** Frees a block of 2^order frames: same as {@link BuddyAllocator.freeFrames}. */
  free(pfn: Pfn, order = 0): void {
    this.#free("free", pfn, order);
  }

  // --------------------------------------------------------- Linux names

  /**
   * `alloc_pages(gfp, order)`: the frame of the first page ("struct page *"),
   * or null. An order above maxOrder returns null with a warning unless
   * __GFP_NOWARN, as Linux's WARN_ON_ONCE_GFP.
   *
   * @throws {UsageError} for a non-integer or negative order, or bad GFP flags.
   */
  alloc_pages(gfp: number, order: number): Pfn | null {
    checkGfp("alloc_pages", gfp, "gfp");
    this.#checkOrder("alloc_pages", order, false);
    if (order > this.maxOrder) {
      if ((gfp & __GFP_NOWARN) === 0)
        this.#e.hooks.warn?.(`WARNING: alloc_pages order ${order} > MAX_PAGE_ORDER ${this.maxOrder}`);
      return null;
    }
    this.#checkZero("alloc_pages", gfp);
    return this.#alloc(gfp, order);
  }

  /**
   * `__get_free_pages(gfp, order)`: the block's address (physical, identity
   * direct map), or 0. __GFP_HIGHMEM is ignored, as in Linux.
   *
   * @throws {UsageError} as `alloc_pages`.
   */
  __get_free_pages(gfp: number, order: number): number {
    const pfn = this.alloc_pages(gfp & ~__GFP_HIGHMEM, order);
    return pfn === null ? 0 : pfn * PAGE_SIZE;
  }

  /**
   * `get_zeroed_page(gfp)`: one zeroed page's address, or 0. Needs `memory`.
   *
   * @throws {UsageError} when the allocator has no memory to zero.
   */
  get_zeroed_page(gfp: number): number {
    return this.__get_free_pages(gfp | __GFP_ZERO, 0);
  }

  /**
   * `__free_pages(page, order)`: drops a reference to a block; at zero it
   * returns to the free lists. A non-compound block whose head is still
   * referenced frees its upper parts and keeps the head page, as Linux does.
   *
   * @throws {UsageError} naming the pfn and order when the block is not allocated at that order.
   */
  __free_pages(pfn: Pfn, order: number): void {
    this.#free("__free_pages", pfn, order);
  }

  /** `__free_page(page)`: `__free_pages(page, 0)`. @throws {UsageError} as `__free_pages`. */
  __free_page(pfn: Pfn): void {
    this.__free_pages(pfn, 0);
  }

  /**
   * `free_pages(addr, order)`: frees by address; address 0 does nothing.
   *
   * @throws {UsageError} for an address that is not page-aligned or not allocated at that order.
   */
  free_pages(addr: number, order: number): void {
    if (addr === 0) return;
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
      throw new UsageError(PKG, `free_pages: addr ${hex(addr)} is not a page-aligned address`, "addr");
    }
    this.__free_pages((addr / PAGE_SIZE) as Pfn, order);
  }

  /** `free_page(addr)`: `free_pages(addr, 0)`. @throws {UsageError} as `free_pages`. */
  free_page(addr: number): void {
    this.free_pages(addr, 0);
  }

  /**
   * `split_page(page, order)`: turns an allocated non-compound block into
   * 2^order order-0 pages, each freed on its own; the first keeps the
   * block's references, the others hold one each.
   *
   * @throws {UsageError} when `pfn` does not head an allocated block of
   *   `order`, or heads a compound one (__GFP_COMP); nothing changes then.
   */
  split_page(pfn: Pfn, order: number): void {
    this.#split("split_page", pfn, order);
  }

  /** Same as {@link BuddyAllocator.split_page}: the FrameAllocator port's name. */
  splitFrames(frame: Pfn, order: number): void {
    this.#split("splitFrames", frame, order);
  }

  /**
   * `get_page(page)`: takes a reference to an allocated block's head.
   *
   * @throws {UsageError} when `pfn` does not head an allocated block, or the count would overflow.
   */
  get_page(pfn: Pfn): void {
    const order = this.#allocatedHead("get_page", pfn);
    const info = this.#e.blockInfo(pfn, order);
    if (info + 8 > this.#e.table.slotMax)
      throw new UsageError(PKG, `get_page: pfn ${hex(pfn)} refcount overflow`, "pfn");
    if (order > 0) this.#e.setA(pfn >>> 1, info + 8);
    else this.#e.setInfo0(pfn, info + 8);
  }

  /**
   * `put_page(page)`: drops a reference; the block is freed at zero. Only
   * order-0 pages and compound blocks (__GFP_COMP) may be released this way.
   *
   * @throws {UsageError} for a frame that does not head an allocated block, or a non-compound high-order block.
   */
  put_page(pfn: Pfn): void {
    const order = this.#allocatedHead("put_page", pfn);
    if (order > 0 && (this.#e.blockInfo(pfn, order) & 4) === 0) {
      throw new UsageError(
        PKG,
        `put_page: pfn ${hex(pfn)} heads a non-compound order-${order} block; put_page would free only its first page (use __free_pages)`,
        "pfn",
      );
    }
    this.#e.freePages(pfn, order);
  }

  /** `page_ref_count(page)`: references held on an allocated head; 0 for anything else. */
  page_ref_count(pfn: Pfn): number {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= this.machineFrames) return 0;
    const order = this.#e.allocOrderAt(pfn);
    return order < 0 ? 0 : Math.floor(this.#e.blockInfo(pfn, order) / 8);
  }

  // -------------------------------------------------------- inspection

  /**
   * What frame `pfn` is: free or allocated head, tail, or reserved.
   *
   * @throws {UsageError} for a pfn outside the machine.
   */
  frameInfo(pfn: number): FrameInfo {
    const e = this.#e;
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= this.machineFrames) {
      throw new UsageError(
        PKG,
        `frameInfo: pfn ${hex(pfn)} is outside the machine's ${this.machineFrames} frames`,
        "pfn",
      );
    }
    const zone = e.zoneOf(pfn);
    const pbMt = e.pbType[Math.floor(pfn / e.pbPages)]!;
    const base = { pfn, zone, pageblockMigratetype: pbMt };
    for (let o = 0; o <= this.maxOrder; o++) {
      const h = pfn - (pfn % 2 ** o);
      const fo = e.freeOrderAt(h);
      if (fo >= 0 && fo >= o) {
        return {
          ...base,
          state: h === pfn ? "free" : "tail",
          order: fo,
          headPfn: h,
          refcount: 0,
          allocMigratetype: -1,
          compound: false,
        };
      }
      const ao = e.allocOrderAt(h);
      if (ao >= 0 && ao >= o) {
        const info = e.blockInfo(h, ao);
        return {
          ...base,
          state: h === pfn ? "allocated" : "tail",
          order: ao,
          headPfn: h,
          refcount: Math.floor(info / 8),
          allocMigratetype: info & 3,
          compound: (info & 4) !== 0,
        };
      }
      if (o === 0 && e.info0(pfn) >= 0 && e.info0(pfn) <= 3) {
        // info 0..2: a free page on a per-CPU list; 3: an unmanaged frame.
        return {
          ...base,
          state: e.info0(pfn) === 3 ? "reserved" : "pcp",
          order: 0,
          headPfn: pfn,
          refcount: 0,
          allocMigratetype: -1,
          compound: false,
        };
      }
    }
    return {
      ...base,
      state: "reserved",
      order: 0,
      headPfn: pfn,
      refcount: 0,
      allocMigratetype: -1,
      compound: false,
    };
  }

  /** Statistics of every zone, in zone order (populated or not). */
  zones(): ZoneStats[] {
    return this.#e.zones.map((_, z) => this.zoneStats(z));
  }

  /**
   * One zone's sizes, watermarks, free counts and counters.
   *
   * @throws {UsageError} for an unknown zone.
   */
  zoneStats(zone: number | ZoneName): ZoneStats {
    const e = this.#e;
    const z = this.#zoneIndex("zoneStats", zone);
    const d = e.zones[z]!;
    const nrFree = e.zoneNrFree(z);
    const nrFreeByType = Array.from({ length: MIGRATE_PCPTYPES }, (_, mt) =>
      nrFree.map((_, o) => e.nrFreeType[e.listIndex(z, o, mt)]!),
    );
    const blocksByType = [0, 0, 0];
    for (let p = d.start - (d.start % e.pbPages); p < d.end; p += e.pbPages) {
      if (p < d.start) continue;
      blocksByType[e.pbType[p / e.pbPages]!]!++;
    }
    return {
      name: d.name,
      startPfn: d.start,
      spannedPages: d.end - d.start,
      presentPages: d.present,
      managedPages: d.managed,
      freePages: e.zoneFree[z]!,
      freePagesBlocks: e.zoneFreeBlocks[z]!,
      min: e.wmark[z * 4]!,
      low: e.wmark[z * 4 + 1]!,
      high: e.wmark[z * 4 + 2]!,
      promo: e.wmark[z * 4 + 3]!,
      boost: e.boost[z]!,
      lowmemReserve: e.zones.map((zz) => e.reserve[z * ZONE_NAMES.length + zz.type]!),
      nrFree,
      nrFreeByType,
      blocksByType,
      pgalloc: e.zoneCounters[z * 2 + C_PGALLOC]!,
      pgfree: e.zoneCounters[z * 2 + C_PGFREE]!,
      pcpCount: e.pcpPages(z),
      pcpHigh: e.pcpHigh[z]!,
      pcpBatch: e.pcpBatch[z]!,
    };
  }

  /** Allocator-wide event counters. */
  stats(): BuddyStats {
    const c = this.#e.counters;
    return {
      allocations: c[G_ALLOCS]!,
      failures: c[G_FAILS]!,
      injectedFailures: c[G_INJECTED]!,
      frees: c[G_FREES]!,
      splits: c[G_SPLITS]!,
      merges: c[G_MERGES]!,
      fallbacks: c[G_FALLBACKS]!,
      slowpath: c[G_SLOWPATH]!,
      kswapdWakeups: c[G_KSWAPD]!,
      allocstall: c[G_ALLOCSTALL]!,
      oomCalls: c[G_OOM]!,
      compactStall: c[G_COMPACT_STALL]!,
      compactSuccess: c[G_COMPACT_SUCCESS]!,
      compactFail: c[G_COMPACT_FAIL]!,
      compactMigrateScanned: c[G_COMPACT_MIGRATE_SCANNED]!,
      compactFreeScanned: c[G_COMPACT_FREE_SCANNED]!,
      compactIsolated: c[G_COMPACT_ISOLATED]!,
      pgmigrateSuccess: c[G_PGMIGRATE_SUCCESS]!,
      pgmigrateFail: c[G_PGMIGRATE_FAIL]!,
    };
  }

  /**
   * Whether zone `zone` passes `__zone_watermark_ok` for `order` against its
   * min, low or high mark (plus boost), for a request allowed up to
   * `highestZone` — kswapd's balance test.
   *
   * @throws {UsageError} for an unknown zone or a bad order.
   */
  zoneWatermarkOk(
    zone: number | ZoneName,
    order: number,
    mark: "min" | "low" | "high",
    highestZone?: ZoneName,
  ): boolean {
    const z = this.#zoneIndex("zoneWatermarkOk", zone);
    this.#checkOrder("zoneWatermarkOk", order, true);
    const which = mark === "min" ? 0 : mark === "low" ? 1 : 2;
    const highest = highestZone === undefined ? this.#e.zones[z]!.type : ZONE_NAMES.indexOf(highestZone);
    return this.#e.zoneWatermarkOk(z, order, this.#e.wmarkPages(z, which), highest, 0);
  }

  /** Resets a zone's watermark boost, as kswapd does once the zone is balanced. @throws {UsageError} for an unknown zone. */
  clearWatermarkBoost(zone: number | ZoneName): void {
    this.#e.clearBoost(this.#zoneIndex("clearWatermarkBoost", zone));
  }

  /** Linux's fragmentation index of a zone for `order`, in thousandths. @throws {UsageError} for an unknown zone or order. */
  fragmentationIndex(zone: number | ZoneName, order: number): number {
    this.#checkOrder("fragmentationIndex", order, true);
    return fragmentationIndex(this.#e.zoneNrFree(this.#zoneIndex("fragmentationIndex", zone)), order);
  }

  /** Linux's unusable free space index of a zone for `order`, in thousandths. @throws {UsageError} for an unknown zone or order. */
  unusableFreeIndex(zone: number | ZoneName, order: number): number {
    this.#checkOrder("unusableFreeIndex", order, true);
    return unusableFreeIndex(this.#e.zoneNrFree(this.#zoneIndex("unusableFreeIndex", zone)), order);
  }

  // ---------------------------------------------------------- compaction

  /**
   * Compacts one zone: whole-zone with order -1 (the default), or until an
   * order-`order` block exists. Needs the `migratePage` hook; without it the
   * result is "skipped".
   *
   * @throws {UsageError} for an unknown zone or an order outside [-1, maxOrder].
   */
  compactZone(zone: number | ZoneName, order = -1, gfp = GFP_KERNEL): CompactionResult {
    const z = this.#zoneIndex("compactZone", zone);
    if (!Number.isInteger(order) || order < -1 || order > this.maxOrder) {
      throw new UsageError(
        PKG,
        `compactZone: order must be an integer in [-1, ${this.maxOrder}], got ${order}`,
        "order",
      );
    }
    const mt = this.groupByMobility ? gfpMigratetype(gfp) : MIGRATE_UNMOVABLE;
    return compactZone(this.#e, z, order, mt);
  }

  /** `echo 1 > /proc/sys/vm/compact_memory`: compacts every populated zone. */
  compactMemory(): CompactionResult[] {
    const out: CompactionResult[] = [];
    this.#e.zones.forEach((zone, z) => {
      if (zone.populated) out.push(compactZone(this.#e, z, -1, MIGRATE_UNMOVABLE));
    });
    return out;
  }

  // --------------------------------------------------------------- /proc

  /** The numbers behind the /proc views, zone by zone. */
  procZones(): ProcZone[] {
    return this.zones().map((s) => ({
      node: 0,
      name: s.name,
      populated: s.presentPages > 0,
      nrFree: s.nrFree,
      nrFreeByType: [...s.nrFreeByType, s.nrFree.map(() => 0), s.nrFree.map(() => 0)],
      blocksByType: [...s.blocksByType, 0, 0],
      zoneinfo: {
        freePages: s.freePages,
        boost: s.boost,
        min: s.min,
        low: s.low,
        high: s.high,
        promo: s.promo,
        spanned: s.spannedPages,
        present: s.presentPages,
        managed: s.managedPages,
        cma: 0,
        protection: s.lowmemReserve,
        freePagesBlocks: s.freePagesBlocks,
        startPfn: s.startPfn,
      },
    }));
  }

  /** /proc/buddyinfo text. */
  buddyinfo(): string {
    return formatBuddyinfo(this.procZones());
  }

  /** /proc/pagetypeinfo text (migrate types Unmovable … Isolate). */
  pagetypeinfo(): string {
    return formatPagetypeinfo(this.procZones(), this.pageblockOrder, MIGRATETYPE_NAMES);
  }

  /** The modelled lines of /proc/zoneinfo. */
  zoneinfo(): string {
    return formatZoneinfo(this.procZones());
  }

  /** debugfs extfrag/extfrag_index text. */
  extfragIndex(): string {
    return formatExtfragIndex(this.procZones());
  }

  /** debugfs extfrag/unusable_index text. */
  unusableIndex(): string {
    return formatUnusableIndex(this.procZones());
  }

  /**
   * Verifies every invariant: block coverage, head states, list links and
   * counters, merged buddies, refcounts.
   *
   * @throws {CorruptionError} describing the first violation.
   */
  check(): void {
    this.#e.check();
  }

  // ------------------------------------------------------------- private

  #alloc(gfp: number, order: number): Pfn | null {
    const e = this.#e;
    const highest = gfpZone(gfp, e.hasDma, e.hasDma32, e.hasHighmem);
    const mt = this.groupByMobility ? gfpMigratetype(gfp) : MIGRATE_UNMOVABLE;
    const type = gfp & __GFP_MOVABLE ? 1 : gfp & __GFP_RECLAIMABLE ? 2 : 0;
    const info = 8 + (order > 0 && gfp & __GFP_COMP ? 4 : 0) + type;
    const pfn = order === 0 ? e.alloc0(gfp, highest, mt, info) : e.allocPages(gfp, order, highest, mt, info);
    return pfn < 0 ? null : (pfn as Pfn);
  }

  /** Every free entry point: the order-0 per-CPU fast path, else validation and the general path. */
  #free(fn: string, pfn: number, order: number): void {
    if (order === 0 && (pfn | 0) === pfn && pfn >= 0 && pfn < this.machineFrames && this.#e.free0(pfn))
      return;
    this.#checkFree(fn, pfn, order);
    this.#e.freePages(pfn, order);
  }

  #split(fn: string, pfn: number, order: number): void {
    this.#checkOrder(fn, order, true);
    const head = this.#allocatedHead(fn, pfn);
    if (head !== order) {
      throw new UsageError(
        PKG,
        `${fn}: pfn ${hex(pfn)} heads an allocated block of order ${head}, not ${order}`,
        "order",
      );
    }
    if (order === 0) return;
    const info = this.#e.blockInfo(pfn, order);
    if ((info & 4) !== 0) {
      throw new UsageError(
        PKG,
        `${fn}: pfn ${hex(pfn)} heads a compound order-${order} block, which splits only as a folio`,
        "pfn",
      );
    }
    this.#e.splitAllocated(pfn, order, info);
  }

  #checkOrder(fn: string, order: number, bounded: boolean): void {
    if (!Number.isInteger(order) || order < 0 || (bounded && order > this.maxOrder)) {
      throw new UsageError(
        PKG,
        `${fn}: order must be an integer in [0, ${this.maxOrder}], got ${order}`,
        "order",
      );
    }
  }

  #checkZero(fn: string, gfp: number): void {
    if (gfp & __GFP_ZERO && this.#memory === undefined) {
      throw new UsageError(PKG, `${fn}: __GFP_ZERO needs the allocator's memory option`, "gfp");
    }
  }

  #zoneIndex(fn: string, zone: number | ZoneName): number {
    const e = this.#e;
    const z = typeof zone === "number" ? zone : e.zones.findIndex((d) => d.name === zone);
    if (!Number.isInteger(z) || z < 0 || z >= e.nz) {
      throw new UsageError(PKG, `${fn}: no zone ${String(zone)}`, "zone");
    }
    return z;
  }

  /** Order of the allocated block headed at `pfn`; throws otherwise. */
  #allocatedHead(fn: string, pfn: number): number {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= this.machineFrames || this.#e.zoneOf(pfn) < 0) {
      throw new UsageError(PKG, `${fn}: pfn ${hex(pfn)} is outside every zone`, "pfn");
    }
    const order = this.#e.allocOrderAt(pfn);
    if (order < 0) throw new UsageError(PKG, `${fn}: pfn ${hex(pfn)} ${this.#describe(pfn)}`, "pfn");
    return order;
  }

  #describe(pfn: number): string {
    const info = this.frameInfo(pfn);
    if (info.state === "free") return `is free (order ${info.order})`;
    if (info.state === "pcp") return "is free (on a per-CPU list)";
    if (info.state === "reserved") return "is reserved, not managed by the allocator";
    if (info.state === "tail") {
      return `is inside the ${info.refcount > 0 ? "allocated" : "free"} order-${info.order} block at ${hex(info.headPfn)}`;
    }
    return `was allocated at order ${info.order}`;
  }

  #checkFree(fn: string, pfn: number, order: number): void {
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder) {
      throw new UsageError(
        PKG,
        `${fn}: pfn ${hex(pfn)} order ${order}: order must be an integer in [0, ${this.maxOrder}]`,
        "order",
      );
    }
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= this.machineFrames || this.#e.zoneOf(pfn) < 0) {
      throw new UsageError(PKG, `${fn}: pfn ${hex(pfn)} order ${order} is outside every zone`, "pfn");
    }
    if (this.#e.allocOrderAt(pfn) === order) return;
    const what = this.#describe(pfn);
    const hint = what.startsWith("is free") || what.includes("free order") ? " (double free?)" : "";
    throw new UsageError(PKG, `${fn}: pfn ${hex(pfn)} order ${order} ${what}${hint}`, "pfn");
  }
}

/**
 * Creates a buddy allocator; see {@link BuddyOptions}.
 *
 * @throws {UsageError} naming the option that is out of range or inconsistent.
 */
export function createBuddyAllocator(options: BuddyOptions): BuddyAllocator {
  return new BuddyAllocator(options);
}

function checkInt(value: number, name: string, min: number, max: number): number {
  return checkIntOption("BuddyAllocator", name, value, min, max);
}

function checkGfp(fn: string, gfp: number, name: string): void {
  if (!Number.isInteger(gfp) || gfp < 0 || gfp > GFP_BITS_MASK) {
    throw new UsageError(
      PKG,
      `${fn}: ${name} must be a GFP bit mask in [0, ${hex(GFP_BITS_MASK)}], got ${gfp}`,
      name,
    );
  }
  if (gfpZoneIsBad(gfp)) {
    throw new UsageError(
      PKG,
      `${fn}: ${name} ${hex(gfp)} combines zone modifiers Linux rejects (GFP_ZONE_BAD)`,
      name,
    );
  }
  if ((gfp & (__GFP_MOVABLE | __GFP_RECLAIMABLE)) === (__GFP_MOVABLE | __GFP_RECLAIMABLE)) {
    throw new UsageError(PKG, `${fn}: ${name} ${hex(gfp)} is both __GFP_MOVABLE and __GFP_RECLAIMABLE`, name);
  }
}

interface BuiltZone extends EngineZone {
  readonly ranges: [number, number][];
}

function subtract(ranges: [number, number][], cut: readonly PfnRange[]): [number, number][] {
  let out = ranges;
  for (const c of cut) {
    const next: [number, number][] = [];
    for (const [s, e] of out) {
      if (c.endPfn <= s || c.startPfn >= e) next.push([s, e]);
      else {
        if (c.startPfn > s) next.push([s, c.startPfn]);
        if (c.endPfn < e) next.push([c.endPfn, e]);
      }
    }
    out = next;
  }
  return out;
}

function buildZones(
  specs: readonly ZoneSpec[],
  frameCount: number,
  holes: readonly PfnRange[],
  reserved: readonly PfnRange[],
): BuiltZone[] {
  for (const [name, list] of [
    ["holes", holes],
    ["reserved", reserved],
  ] as const) {
    for (const r of list) {
      if (
        !Number.isSafeInteger(r.startPfn) ||
        !Number.isSafeInteger(r.endPfn) ||
        r.startPfn < 0 ||
        r.endPfn < r.startPfn ||
        r.endPfn > frameCount
      ) {
        throw new UsageError(
          PKG,
          `BuddyAllocator: ${name} range [${r.startPfn}, ${r.endPfn}) is not inside [0, ${frameCount})`,
          name,
        );
      }
    }
  }
  if (specs.length === 0) throw new UsageError(PKG, "BuddyAllocator: zones must not be empty", "zones");
  const out: BuiltZone[] = [];
  let prevEnd = 0;
  let prevType = -1;
  for (const spec of specs) {
    const type = ZONE_NAMES.indexOf(spec.name);
    const start = spec.startPfn ?? prevEnd;
    if (type < 0 || type > ZONE_MOVABLE)
      throw new UsageError(PKG, `BuddyAllocator: unknown zone type ${spec.name}`, "zones");
    if (type <= prevType)
      throw new UsageError(PKG, `BuddyAllocator: zone ${spec.name} is out of zone-type order`, "zones");
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(spec.endPfn) ||
      start < prevEnd ||
      spec.endPfn < start ||
      spec.endPfn > frameCount
    ) {
      throw new UsageError(
        PKG,
        `BuddyAllocator: zone ${spec.name} [${start}, ${spec.endPfn}) overlaps another zone or leaves [0, ${frameCount})`,
        "zones",
      );
    }
    // (An empty zone holds no frame, so it shares no pair: a machine of an
    // odd number of frames ends its last zone at an odd pfn, and the empty
    // zones after it start there.)
    if (
      start === prevEnd &&
      start % 2 === 1 &&
      spec.endPfn > start &&
      out.length > 0 &&
      out[out.length - 1]!.end > out[out.length - 1]!.start
    ) {
      throw new UsageError(
        PKG,
        `BuddyAllocator: zone ${spec.name} starts at odd pfn ${start} right after another zone (zones may not share a frame pair)`,
        "zones",
      );
    }
    const span: [number, number][] = start < spec.endPfn ? [[start, spec.endPfn]] : [];
    const present = subtract(span, holes);
    const managed = subtract(present, reserved);
    const presentPages = present.reduce((n, [s, e]) => n + e - s, 0);
    const managedPages = managed.reduce((n, [s, e]) => n + e - s, 0);
    out.push({
      name: spec.name,
      type,
      start,
      end: spec.endPfn,
      present: presentPages,
      managed: managedPages,
      populated: presentPages > 0,
      ranges: managed,
    });
    prevEnd = spec.endPfn;
    prevType = type;
  }
  return out;
}

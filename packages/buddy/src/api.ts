/**
 * Options and shared types of @memstack/buddy.
 */
import type { Pfn, PhysicalMemory } from "@memstack/core";
import type { ZoneName } from "./gfp.js";

/** A half-open range of frames [startPfn, endPfn). */
export interface PfnRange {
  /** First frame. */
  readonly startPfn: number;
  /** One past the last frame. */
  readonly endPfn: number;
}

/** The zone types a zone may have (ZONE_DEVICE never holds buddy pages). */
export type ZoneType = Exclude<ZoneName, "Device">;

/** One zone of the machine. */
export interface ZoneSpec {
  /** The zone's type, which is also its /proc name. */
  readonly name: ZoneType;
  /** First frame the zone spans. @defaultValue the previous zone's end, or 0 */
  readonly startPfn?: number;
  /** One past the last frame the zone spans (its start for an empty zone). */
  readonly endPfn: number;
}

/** Options of {@link FailPageAlloc}: Linux's fail_page_alloc attributes. */
export interface FailPageAllocOptions {
  /** Percent chance (0..100) that an eligible allocation fails. @defaultValue 0 */
  readonly probability?: number;
  /** Fail at most every interval-th eligible allocation. @defaultValue 1 */
  readonly interval?: number;
  /** Failures to inject before stopping; -1 for unlimited. @defaultValue -1 */
  readonly times?: number;
  /** Pages allowed through before failures start. @defaultValue 0 */
  readonly space?: number;
  /** Allocations of a lower order never fail. @defaultValue 1 (as Linux's min-order) */
  readonly minOrder?: number;
  /** Skip allocations that may sleep (Linux's ignore-gfp-wait). @defaultValue true */
  readonly ignoreGfpReclaim?: boolean;
  /** Skip __GFP_HIGHMEM allocations. @defaultValue true */
  readonly ignoreGfpHighmem?: boolean;
  /** Seed of the random draws. @defaultValue 1 */
  readonly seed?: number;
}

/** What an allocation in trouble tells the reclaim hooks. */
export interface ReclaimRequest {
  /** The allocation's GFP flags. */
  readonly gfp: number;
  /** The allocation's order. */
  readonly order: number;
  /** The highest zone the allocation may use. */
  readonly highestZone: ZoneName;
}

/**
 * Callbacks through which the kernel layer plugs reclaim, the OOM killer
 * and page migration into the allocator (see the README's "Wiring").
 */
export interface BuddyHooks {
  /**
   * kswapd's wake-up: an allocation found every allowed zone below its low
   * watermark (or stole a pageblock and boosted a watermark). Called at the
   * start of each slow-path round, before the retry at the min watermark
   * (Linux keeps kswapd awake while an allocation loops); pages it frees at
   * once are used by that retry.
   */
  wakeKswapd?(request: ReclaimRequest): void;
  /**
   * Direct reclaim, for allocations that may sleep (__GFP_DIRECT_RECLAIM)
   * and still fail at the min watermark.
   *
   * @returns the number of pages freed into the allocator; 0 reports that
   * nothing could be reclaimed, which leads to the OOM hook.
   */
  reclaim?(request: ReclaimRequest): number;
  /**
   * The OOM killer: reclaim made no progress for an allocation that Linux
   * would let kill (order ≤ 3, no __GFP_NORETRY/__GFP_RETRY_MAYFAIL, highest
   * zone Normal or above).
   *
   * @returns true when memory was freed (a victim was killed), to retry.
   */
  outOfMemory?(request: ReclaimRequest): boolean;
  /**
   * Page migration for compaction: the movable block at `oldPfn` is being
   * moved to `newPfn` (contents already copied when the allocator has a
   * memory); the owner updates its mappings.
   *
   * @returns false to refuse (a pinned page); the block then stays.
   */
  migratePage?(oldPfn: Pfn, newPfn: Pfn, order: number): boolean;
  /** Kernel log lines, such as "page allocation failure: order:4, mode:0xcc0(GFP_KERNEL), nodemask=(null)". */
  warn?(message: string): void;
}

/** Options of {@link createBuddyAllocator}. */
export interface BuddyOptions {
  /** Frames of physical memory, numbered from 0. @defaultValue `memory.frameCount` */
  readonly frameCount?: number;
  /** The RAM behind the frames, used to zero (__GFP_ZERO) and to copy pages during compaction. */
  readonly memory?: PhysicalMemory;
  /** Largest order (MAX_PAGE_ORDER), 1..20. @defaultValue 10 */
  readonly maxOrder?: number;
  /** Order of a pageblock, the unit of migrate types. @defaultValue min(9, maxOrder) */
  readonly pageblockOrder?: number;
  /**
   * The zones, in type order. @defaultValue x86-64's: DMA below 16 MiB,
   * DMA32 below 4 GiB, Normal above, and an empty Movable zone.
   */
  readonly zones?: readonly ZoneSpec[];
  /** Frames that are not present (holes in the physical map). @defaultValue none */
  readonly holes?: readonly PfnRange[];
  /** Present frames the allocator never manages (firmware, kernel image). @defaultValue none */
  readonly reserved?: readonly PfnRange[];
  /** vm.min_free_kbytes. @defaultValue Linux's boot value for the machine's size */
  readonly minFreeKbytes?: number;
  /** Raise min_free_kbytes as khugepaged does when THP is enabled. @defaultValue false */
  readonly transparentHugepages?: boolean;
  /** vm.watermark_scale_factor (0.01 % units). @defaultValue 10 */
  readonly watermarkScaleFactor?: number;
  /** vm.watermark_boost_factor (0.01 % of the high watermark). @defaultValue 15000 */
  readonly watermarkBoostFactor?: number;
  /** vm.lowmem_reserve_ratio by zone type. @defaultValue [256, 256, 32, 0, 0, 0] */
  readonly lowmemReserveRatio?: readonly number[];
  /** Group pages by mobility. @defaultValue Linux's rule: off below 5 pageblocks of memory */
  readonly groupByMobility?: boolean;
  /** vm.extfrag_threshold for direct compaction of costly orders. @defaultValue 500 */
  readonly extfragThreshold?: number;
  /** GFP flags of the port's `allocFrames` and of `alloc` without flags. @defaultValue GFP_KERNEL */
  readonly defaultGfp?: number;
  /**
   * Keep Linux's per-CPU page lists (one CPU) for order-0 pages: frees
   * rest there, LIFO, and go back to the buddy lists `batch` at a time.
   * @defaultValue true
   */
  readonly pcp?: boolean;
  /** fail_page_alloc attributes. @defaultValue no injected failures */
  readonly faultInjection?: FailPageAllocOptions;
  /** Reclaim, OOM, migration and log hooks. @defaultValue none */
  readonly hooks?: BuddyHooks;
}

/** Options of one allocation through the TypeScript API. */
export interface AllocOptions {
  /** Block size: 2^order frames. @defaultValue 0 */
  readonly order?: number;
  /** GFP flags. @defaultValue the allocator's `defaultGfp` */
  readonly gfp?: number;
}

/** What a frame currently is, as {@link BuddyAllocator.frameInfo} reports it. */
export interface FrameInfo {
  /** The frame number asked about. */
  readonly pfn: number;
  /** Index of its zone in `zones()`, or -1 outside every zone. */
  readonly zone: number;
  /**
   * "free" or "allocated" for a block head, "tail" inside a block, "pcp" for
   * a free page held on a per-CPU list, "reserved" when unmanaged.
   */
  readonly state: "free" | "allocated" | "tail" | "pcp" | "reserved";
  /** Order of the block this frame heads (or belongs to, for a tail). */
  readonly order: number;
  /** First frame of the block. */
  readonly headPfn: number;
  /** Reference count of an allocated head, else 0. */
  readonly refcount: number;
  /** Migrate type the allocation asked for (allocated heads), else -1. */
  readonly allocMigratetype: number;
  /** Whether an allocated head is a compound page (__GFP_COMP). */
  readonly compound: boolean;
  /** Migrate type of the frame's pageblock. */
  readonly pageblockMigratetype: number;
}

/** One zone's sizes, watermarks, free counts and counters. */
export interface ZoneStats {
  /** /proc name. */
  readonly name: ZoneName;
  /** zone_start_pfn. */
  readonly startPfn: number;
  /** Frames spanned, holes included. */
  readonly spannedPages: number;
  /** Frames present. */
  readonly presentPages: number;
  /** Frames the allocator manages. */
  readonly managedPages: number;
  /** Free frames (NR_FREE_PAGES). */
  readonly freePages: number;
  /** Free frames in blocks of at least pageblock order (NR_FREE_PAGES_BLOCKS). */
  readonly freePagesBlocks: number;
  /** WMARK_MIN, pages. */
  readonly min: number;
  /** WMARK_LOW, pages. */
  readonly low: number;
  /** WMARK_HIGH, pages. */
  readonly high: number;
  /** WMARK_PROMO, pages. */
  readonly promo: number;
  /** Current watermark boost, pages. */
  readonly boost: number;
  /** lowmem_reserve by zone index ("protection"). */
  readonly lowmemReserve: readonly number[];
  /** Free blocks per order. */
  readonly nrFree: readonly number[];
  /** Free blocks per migrate type (Unmovable, Movable, Reclaimable) and order. */
  readonly nrFreeByType: readonly (readonly number[])[];
  /** Pageblocks per migrate type (Unmovable, Movable, Reclaimable). */
  readonly blocksByType: readonly number[];
  /** Pages allocated from the zone so far (vmstat pgalloc_<zone>). */
  readonly pgalloc: number;
  /** Pages freed to the zone so far. */
  readonly pgfree: number;
  /** Free pages held on the zone's per-CPU lists (not counted in freePages). */
  readonly pcpCount: number;
  /** pcp->high: at this many pages the lists give `pcpBatch` pages back. */
  readonly pcpHigh: number;
  /** pcp->batch: pages moved per refill or give-back. */
  readonly pcpBatch: number;
}

/** Allocator-wide event counters, named after /proc/vmstat where Linux has one. */
export interface BuddyStats {
  /** Successful allocations. */
  readonly allocations: number;
  /** Allocations that returned failure. */
  readonly failures: number;
  /** Failures injected by fail_page_alloc. */
  readonly injectedFailures: number;
  /** Frees (calls that released pages). */
  readonly frees: number;
  /** Blocks split in two (expand steps). */
  readonly splits: number;
  /** Buddy merges. */
  readonly merges: number;
  /** Allocations served from another migrate type's free list (mm_page_alloc_extfrag events). */
  readonly fallbacks: number;
  /** Slow-path entries. */
  readonly slowpath: number;
  /** kswapd wake-ups requested. */
  readonly kswapdWakeups: number;
  /** Direct reclaim calls (vmstat allocstall). */
  readonly allocstall: number;
  /** OOM hook calls. */
  readonly oomCalls: number;
  /** compact_stall: direct compaction attempts. */
  readonly compactStall: number;
  /** compact_success. */
  readonly compactSuccess: number;
  /** compact_fail. */
  readonly compactFail: number;
  /** compact_migrate_scanned. */
  readonly compactMigrateScanned: number;
  /** compact_free_scanned. */
  readonly compactFreeScanned: number;
  /** compact_isolated: pages isolated by both scanners. */
  readonly compactIsolated: number;
  /** pgmigrate_success: pages moved. */
  readonly pgmigrateSuccess: number;
  /** pgmigrate_fail: pages the owner refused to move. */
  readonly pgmigrateFail: number;
}

/** How a compaction run ended (mm/compaction.c `enum compact_result`). */
export type CompactStatus = "skipped" | "success" | "complete" | "partial_skipped";

/** The outcome of compacting one zone. */
export interface CompactionResult {
  /** Zone compacted. */
  readonly zone: ZoneName;
  /** Why it stopped: "complete" when the scanners met, "success" when the order became available. */
  readonly status: CompactStatus;
  /** Blocks moved. */
  readonly migrated: number;
  /** Blocks whose owner refused to move them. */
  readonly failed: number;
  /** Frames the migration scanner looked at. */
  readonly migrateScanned: number;
  /** Frames the free scanner looked at. */
  readonly freeScanned: number;
}

/**
 * GFP ("get free pages") flags: how an allocation may be satisfied.
 *
 * Models: include/linux/gfp_types.h (bit values and the named
 * combinations), the zone choice of include/linux/gfp.h (`gfp_zone`, the
 * GFP_ZONE_TABLE and GFP_ZONE_BAD bitmaps), the migrate type of
 * `gfp_migratetype`, and the `%pGg` printing of lib/vsprintf.c over the name
 * table of include/trace/events/mmflags.h, which the kernel uses in its
 * "page allocation failure: order:N, mode:0x...(...)" warning.
 *
 * Simplifies: the KASAN (`__GFP_SKIP_ZERO`, `__GFP_SKIP_KASAN`) and lockdep
 * (`__GFP_NOLOCKDEP`) bits are 0, as on a kernel built without
 * CONFIG_KASAN_HW_TAGS and CONFIG_LOCKDEP (this machine's x86-64 kernel);
 * `GFP_HIGHUSER_MOVABLE` is therefore 0x100cca, as printed by such a kernel.
 *
 * The low four bits select zones:
 *
 *     bit 0 __GFP_DMA      -> ZONE_DMA only
 *     bit 1 __GFP_HIGHMEM  -> up to ZONE_HIGHMEM (ZONE_NORMAL without highmem)
 *     bit 2 __GFP_DMA32    -> up to ZONE_DMA32
 *     bit 3 __GFP_MOVABLE  -> movable placement; with __GFP_HIGHMEM up to ZONE_MOVABLE
 *
 * Worked example: GFP_KERNEL = __GFP_DIRECT_RECLAIM (0x400) |
 * __GFP_KSWAPD_RECLAIM (0x800) | __GFP_IO (0x40) | __GFP_FS (0x80) = 0xcc0,
 * zone bits 0 -> highest zone ZONE_NORMAL, migrate type unmovable.
 */

/** Allocate from ZONE_DMA (below 16 MiB on x86-64). */
export const __GFP_DMA = 0x01;
/** Allow ZONE_HIGHMEM (ZONE_NORMAL where there is no highmem). */
export const __GFP_HIGHMEM = 0x02;
/** Allocate from ZONE_DMA32 or below (below 4 GiB on x86-64). */
export const __GFP_DMA32 = 0x04;
/** The page can be moved by migration (compaction); with __GFP_HIGHMEM allows ZONE_MOVABLE. */
export const __GFP_MOVABLE = 0x08;
/** The page can be reclaimed by a shrinker (slab caches with SLAB_RECLAIM_ACCOUNT). */
export const __GFP_RECLAIMABLE = 0x10;
/** High priority: may use half of the min watermark's reserve. */
export const __GFP_HIGH = 0x20;
/** May start physical I/O. */
export const __GFP_IO = 0x40;
/** May call into the file system. */
export const __GFP_FS = 0x80;
/** Return zeroed pages. */
export const __GFP_ZERO = 0x100;
/** The caller may enter direct reclaim (may sleep). */
export const __GFP_DIRECT_RECLAIM = 0x400;
/** Wake kswapd when a zone falls below its low watermark. */
export const __GFP_KSWAPD_RECLAIM = 0x800;
/** The caller will dirty the page (dirty-page spreading, not modelled). */
export const __GFP_WRITE = 0x1000;
/** Do not print the allocation-failure warning. */
export const __GFP_NOWARN = 0x2000;
/** Retry reclaim, but fail rather than invoke the OOM killer. */
export const __GFP_RETRY_MAYFAIL = 0x4000;
/** Never fail (Linux retries forever; see the README for what this model does). */
export const __GFP_NOFAIL = 0x8000;
/** Try once, lightly; no OOM killer. */
export const __GFP_NORETRY = 0x10000;
/** May use all memory, ignoring watermarks. */
export const __GFP_MEMALLOC = 0x20000;
/** Compound page: the head's reference count governs the whole block. */
export const __GFP_COMP = 0x40000;
/** Never use the emergency reserves (overrides __GFP_MEMALLOC). */
export const __GFP_NOMEMALLOC = 0x80000;
/** Enforce the cpuset memory policy (recorded, no cpusets here). */
export const __GFP_HARDWALL = 0x100000;
/** No fallback to other NUMA nodes (single node here). */
export const __GFP_THISNODE = 0x200000;
/** Charge to the memory cgroup (recorded, no cgroups here). */
export const __GFP_ACCOUNT = 0x400000;
/** Zero memory tags with the memory (arm64 MTE; recorded only). */
export const __GFP_ZEROTAGS = 0x800000;
/** Both reclaim modes: direct and kswapd. */
export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

/** Cannot sleep, may dip into the atomic reserve below the min watermark: 0x820. */
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
/** Typical kernel allocation: may sleep and reclaim, ZONE_NORMAL or lower: 0xcc0. */
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
/** GFP_KERNEL charged to the memory cgroup: 0x400cc0. */
export const GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
/** Must not sleep, no reserves, no warning: 0x2800. */
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN;
/** May reclaim but start no I/O: 0xc00. */
export const GFP_NOIO = __GFP_RECLAIM;
/** May reclaim and do I/O but not call into file systems: 0xc40. */
export const GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
/** User-space allocation the kernel also accesses: 0x100cc0. */
export const GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
/** Lowest zone only (ZONE_DMA): 0x1. */
export const GFP_DMA = __GFP_DMA;
/** 32-bit addressable memory (ZONE_DMA32 or lower): 0x4. */
export const GFP_DMA32 = __GFP_DMA32;
/** User page that may live in highmem: 0x100cc2. */
export const GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
/** User page that can be migrated (anonymous memory, page cache): 0x100cca. */
export const GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;
/** Transparent huge page allocation that neither reclaims nor warns: 0xc2a. */
export const GFP_TRANSHUGE_LIGHT =
  (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM;
/** khugepaged's transparent huge page allocation (may direct-reclaim). */
export const GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;

/** Mask of every GFP bit this model knows (bits above it are a usage error). */
export const GFP_BITS_MASK = (1 << 24) - 1;

/** Zone types in Linux's `enum zone_type` order (x86-64 has no HIGHMEM). */
export const ZONE_DMA = 0;
/** 32-bit addressable zone (x86-64: 16 MiB to 4 GiB). */
export const ZONE_DMA32 = 1;
/** Directly mapped memory above the DMA zones. */
export const ZONE_NORMAL = 2;
/** Memory not permanently mapped by the kernel (32-bit systems only). */
export const ZONE_HIGHMEM = 3;
/** Memory that only holds movable pages (kernelcore=/movablecore=). */
export const ZONE_MOVABLE = 4;
/** Device memory (ZONE_DEVICE): printed by /proc/zoneinfo, never holds buddy pages. */
export const ZONE_DEVICE = 5;

/** Names printed by /proc files for each zone type (mm/page_alloc.c `zone_names`). */
export const ZONE_NAMES = ["DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"] as const;
/** A zone's name as /proc prints it. */
export type ZoneName = (typeof ZONE_NAMES)[number];

/** Migrate types in `enum migratetype` order; the first three are the ones with free lists here. */
export const MIGRATE_UNMOVABLE = 0;
/** Pages that compaction may move. */
export const MIGRATE_MOVABLE = 1;
/** Pages a shrinker can free. */
export const MIGRATE_RECLAIMABLE = 2;
/** Number of migrate types with per-CPU lists, and with free lists in this model. */
export const MIGRATE_PCPTYPES = 3;
/** Names printed by /proc/pagetypeinfo (mm/page_alloc.c `migratetype_names`, no CMA). */
export const MIGRATETYPE_NAMES = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"] as const;

// gfp.h: zone modifier combinations that are not allowed (VM_BUG_ON in gfp_zone).
const GFP_ZONE_BAD =
  (1 << (__GFP_DMA | __GFP_HIGHMEM)) |
  (1 << (__GFP_DMA | __GFP_DMA32)) |
  (1 << (__GFP_DMA32 | __GFP_HIGHMEM)) |
  (1 << (__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM)) |
  (1 << (__GFP_MOVABLE | __GFP_HIGHMEM | __GFP_DMA)) |
  (1 << (__GFP_MOVABLE | __GFP_DMA32 | __GFP_DMA)) |
  (1 << (__GFP_MOVABLE | __GFP_DMA32 | __GFP_HIGHMEM)) |
  (1 << (__GFP_MOVABLE | __GFP_DMA32 | __GFP_DMA | __GFP_HIGHMEM));

/** Whether the zone modifiers of `gfp` form a combination Linux rejects (GFP_ZONE_BAD). */
export function gfpZoneIsBad(gfp: number): boolean {
  return ((GFP_ZONE_BAD >>> (gfp & 0xf)) & 1) === 1;
}

/**
 * The highest zone type an allocation with `gfp` may use (gfp.h
 * `gfp_zone`), given which optional zone types the configuration has: a
 * missing DMA, DMA32 or HIGHMEM zone maps to ZONE_NORMAL, as the OPT_ZONE_*
 * macros do.
 *
 * Example: `gfpZone(GFP_HIGHUSER_MOVABLE)` is ZONE_MOVABLE; `gfpZone(GFP_DMA32)` is ZONE_DMA32.
 * The caller checks {@link gfpZoneIsBad} first.
 */
export function gfpZone(gfp: number, hasDma = true, hasDma32 = true, hasHighmem = false): number {
  const bits = gfp & 0xf;
  const dma = hasDma ? ZONE_DMA : ZONE_NORMAL;
  const dma32 = hasDma32 ? ZONE_DMA32 : ZONE_NORMAL;
  const highmem = hasHighmem ? ZONE_HIGHMEM : ZONE_NORMAL;
  switch (bits) {
    case __GFP_DMA:
    case __GFP_MOVABLE | __GFP_DMA:
      return dma;
    case __GFP_HIGHMEM:
      return highmem;
    case __GFP_DMA32:
    case __GFP_MOVABLE | __GFP_DMA32:
      return dma32;
    case __GFP_MOVABLE | __GFP_HIGHMEM:
      return ZONE_MOVABLE;
    default:
      return ZONE_NORMAL;
  }
}

/**
 * The migrate type of an allocation (gfp.h `gfp_migratetype`):
 * __GFP_MOVABLE -> MIGRATE_MOVABLE, __GFP_RECLAIMABLE -> MIGRATE_RECLAIMABLE,
 * neither -> MIGRATE_UNMOVABLE. Both set is a usage error the caller checks.
 */
export function gfpMigratetype(gfp: number): number {
  return (gfp & (__GFP_MOVABLE | __GFP_RECLAIMABLE)) >>> 3;
}

// include/trace/events/mmflags.h __def_gfpflag_names: combinations first, then single bits.
const GFP_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [GFP_TRANSHUGE, "GFP_TRANSHUGE"],
  [GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"],
  [GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"],
  [GFP_HIGHUSER, "GFP_HIGHUSER"],
  [GFP_USER, "GFP_USER"],
  [GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"],
  [GFP_KERNEL, "GFP_KERNEL"],
  [GFP_NOFS, "GFP_NOFS"],
  [GFP_ATOMIC, "GFP_ATOMIC"],
  [GFP_NOIO, "GFP_NOIO"],
  [GFP_NOWAIT, "GFP_NOWAIT"],
  [GFP_DMA, "GFP_DMA"],
  [GFP_DMA32, "GFP_DMA32"],
  [__GFP_RECLAIM, "__GFP_RECLAIM"],
  [__GFP_DMA, "__GFP_DMA"],
  [__GFP_HIGHMEM, "__GFP_HIGHMEM"],
  [__GFP_DMA32, "__GFP_DMA32"],
  [__GFP_MOVABLE, "__GFP_MOVABLE"],
  [__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"],
  [__GFP_HIGH, "__GFP_HIGH"],
  [__GFP_IO, "__GFP_IO"],
  [__GFP_FS, "__GFP_FS"],
  [__GFP_ZERO, "__GFP_ZERO"],
  [__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"],
  [__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"],
  [__GFP_WRITE, "__GFP_WRITE"],
  [__GFP_NOWARN, "__GFP_NOWARN"],
  [__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"],
  [__GFP_NOFAIL, "__GFP_NOFAIL"],
  [__GFP_NORETRY, "__GFP_NORETRY"],
  [__GFP_MEMALLOC, "__GFP_MEMALLOC"],
  [__GFP_COMP, "__GFP_COMP"],
  [__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"],
  [__GFP_HARDWALL, "__GFP_HARDWALL"],
  [__GFP_THISNODE, "__GFP_THISNODE"],
  [__GFP_ACCOUNT, "__GFP_ACCOUNT"],
  [__GFP_ZEROTAGS, "__GFP_ZEROTAGS"],
];

/**
 * Names of the flags in `gfp` the way the kernel's `%pGg` prints them
 * (lib/vsprintf.c `format_flags`): the first table entry whose bits are all
 * set wins and its bits are removed, entries joined with "|", leftover bits
 * in hex. `formatGfpFlags(GFP_KERNEL | __GFP_COMP)` is "GFP_KERNEL|__GFP_COMP";
 * 0 gives "".
 */
export function formatGfpFlags(gfp: number): string {
  let rest = gfp >>> 0;
  const parts: string[] = [];
  for (const [mask, name] of GFP_FLAG_NAMES) {
    if (rest === 0) break;
    if ((rest & mask) >>> 0 !== mask) continue;
    parts.push(name);
    rest = (rest & ~mask) >>> 0;
  }
  if (rest !== 0) parts.push(`0x${rest.toString(16)}`);
  return parts.join("|");
}

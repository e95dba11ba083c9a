/**
 * Per-zone watermarks and lowmem reserves, derived from zone sizes the way
 * Linux derives them at boot.
 *
 * Models: mm/page_alloc.c `calculate_min_free_kbytes`,
 * `__setup_per_zone_wmarks` and `setup_per_zone_lowmem_reserve`, and
 * mm/khugepaged.c `set_recommended_min_free_kbytes` (what raises
 * min_free_kbytes when transparent huge pages are enabled, as on this
 * machine). Pure functions over zone sizes, so they can be checked against
 * the real /proc/zoneinfo of any machine.
 *
 * The rules, with this machine's numbers (min_free_kbytes 67584,
 * managed DMA 3840, DMA32 772808, Normal 360448 pages):
 *
 *     pages_min   = min_free_kbytes / 4                    = 16896
 *     lowmem      = sum of managed pages outside HighMem/Movable = 1137096
 *     min(zone)   = pages_min * managed / lowmem  (integer division)
 *                   DMA32: 16896 * 772808 / 1137096        = 11483
 *                   HighMem, Movable: clamp(managed / 1024, 32, 128)
 *     delta       = max(min_share / 4, managed * watermark_scale_factor / 10000)
 *                   DMA32: max(2870, 772)                  = 2870
 *     low = min + delta = 14353, high = low + delta = 17223, promo = high + delta = 20093
 *
 *     lowmem_reserve[i][j] (j > i) = sum(managed of zones i+1..j) / ratio[i]
 *                   DMA vs Normal: (772808 + 360448) / 256 = 4426
 *
 * `min_share` is the proportional share even for HighMem/Movable zones
 * (whose min is capped), as in Linux: the delta is not capped.
 */
import { ZONE_HIGHMEM, ZONE_MOVABLE, ZONE_NAMES, type ZoneName } from "./gfp.js";

/** One zone as the watermark rules see it. */
export interface WatermarkZone {
  /** The zone's name: its type. */
  readonly name: ZoneName;
  /** Pages the buddy allocator manages in the zone (zoneinfo "managed"). */
  readonly managedPages: number;
}

/** Tunables of the watermark rules (the vm.* sysctls). */
export interface WatermarkTunables {
  /** vm.min_free_kbytes. */
  readonly minFreeKbytes: number;
  /** vm.watermark_scale_factor, in units of 0.01 %. @defaultValue 10 */
  readonly watermarkScaleFactor?: number;
  /**
   * vm.lowmem_reserve_ratio by zone type (DMA, DMA32, Normal, HighMem, Movable, Device).
   * @defaultValue [256, 256, 32, 0, 0, 0]
   */
  readonly lowmemReserveRatio?: readonly number[];
}

/** The watermarks of one zone, in pages. */
export interface ZoneWatermarks {
  /** WMARK_MIN: below it only __GFP_HIGH/atomic/memalloc allocations succeed. */
  readonly min: number;
  /** WMARK_LOW: an allocation that would go below it wakes kswapd. */
  readonly low: number;
  /** WMARK_HIGH: kswapd reclaims until free pages reach it. */
  readonly high: number;
  /** WMARK_PROMO: NUMA memory-tiering promotion mark. */
  readonly promo: number;
  /** lowmem_reserve by zone index of the request's highest zone (zoneinfo "protection"). */
  readonly lowmemReserve: readonly number[];
}

/** Linux's default vm.lowmem_reserve_ratio, by zone type (mm/page_alloc.c). */
export const DEFAULT_LOWMEM_RESERVE_RATIO: readonly number[] = [256, 256, 32, 0, 0, 0];
/** SWAP_CLUSTER_MAX: the floor of a HighMem/Movable zone's min watermark. */
const SWAP_CLUSTER_MAX = 32;

function typeOf(name: ZoneName): number {
  return ZONE_NAMES.indexOf(name);
}

/** ⌊√n⌋ for a non-negative safe integer (the kernel's `int_sqrt`). */
export function intSqrt(n: number): number {
  let r = Math.floor(Math.sqrt(n));
  while (r * r > n) r--;
  while ((r + 1) * (r + 1) <= n) r++;
  return r;
}

/**
 * Linux's boot-time min_free_kbytes (mm/page_alloc.c
 * `calculate_min_free_kbytes`): ⌊√(lowmem_kbytes × 16)⌋ clamped to
 * [128, 262144], where lowmem_kbytes counts the pages of zones up to
 * ZONE_NORMAL above their high watermark (all of them at boot, when the
 * watermarks are still 0). 1 GiB of lowmem gives 4096 KiB.
 *
 * @param lowmemPages managed pages of the zones up to Normal, minus their high watermarks.
 */
export function calculateMinFreeKbytes(lowmemPages: number): number {
  const kbytes = lowmemPages * 4;
  return Math.min(262144, Math.max(128, intSqrt(kbytes * 16)));
}

/**
 * min_free_kbytes after khugepaged raises it for transparent huge pages
 * (mm/khugepaged.c `set_recommended_min_free_kbytes`): 2 pageblocks per
 * zone up to Normal, plus 3 × 3 pageblocks per such zone for migrate-type
 * fallbacks, capped at 5 % of lowmem, and never lower than `current`.
 * This machine: 3 zones × 512 × (2 + 9) pages = 67584 KiB.
 *
 * @param zonesUpToNormal populated zones of type ≤ Normal.
 * @param pageblockPages pages per pageblock (512 on x86-64).
 * @param lowmemPages as for {@link calculateMinFreeKbytes}, with current high watermarks subtracted.
 * @param current the min_free_kbytes in force.
 */
export function thpMinFreeKbytes(
  zonesUpToNormal: number,
  pageblockPages: number,
  lowmemPages: number,
  current: number,
): number {
  let recommended = pageblockPages * zonesUpToNormal * 2 + pageblockPages * zonesUpToNormal * 3 * 3;
  recommended = Math.min(recommended, Math.floor(lowmemPages / 20));
  const kbytes = recommended * 4;
  return Math.max(kbytes, current);
}

/**
 * Watermarks and lowmem reserves of every zone (mm/page_alloc.c
 * `__setup_per_zone_wmarks` and `setup_per_zone_lowmem_reserve`). Zones are
 * given in zone-type order, populated or not, as /proc/zoneinfo lists them.
 */
export function computeWatermarks(
  zones: readonly WatermarkZone[],
  tunables: WatermarkTunables,
): ZoneWatermarks[] {
  const scale = tunables.watermarkScaleFactor ?? 10;
  const ratios = tunables.lowmemReserveRatio ?? DEFAULT_LOWMEM_RESERVE_RATIO;
  const pagesMin = Math.floor(tunables.minFreeKbytes / 4);
  let lowmemPages = 0;
  for (const z of zones) {
    const t = typeOf(z.name);
    if (t !== ZONE_HIGHMEM && t !== ZONE_MOVABLE) lowmemPages += z.managedPages;
  }
  return zones.map((z, i) => {
    const t = typeOf(z.name);
    const share = lowmemPages === 0 ? 0 : Math.floor((pagesMin * z.managedPages) / lowmemPages);
    const min =
      t === ZONE_HIGHMEM || t === ZONE_MOVABLE
        ? Math.min(128, Math.max(SWAP_CLUSTER_MAX, Math.floor(z.managedPages / 1024)))
        : share;
    // mult_frac(managed, scale, 10000): exact integer division.
    const delta = Math.max(Math.floor(share / 4), Math.floor((z.managedPages * scale) / 10000));
    const low = min + delta;
    const high = low + delta;
    const promo = high + delta;
    const reserve = new Array<number>(zones.length).fill(0);
    const ratio = ratios[t] ?? 0;
    const clear = ratio === 0 || z.managedPages === 0;
    let upper = 0;
    for (let j = i + 1; j < zones.length; j++) {
      upper += zones[j]!.managedPages;
      reserve[j] = clear ? 0 : Math.floor(upper / ratio);
    }
    return { min, low, high, promo, lowmemReserve: reserve };
  });
}

/** The per-CPU list sizes of a zone (zoneinfo "pagesets"). */
export interface PcpSizes {
  /** pcp->batch: pages moved between the buddy lists and a per-CPU list at a time. */
  readonly batch: number;
  /** pcp->high_min: the list's high mark before auto-tuning raises it. */
  readonly highMin: number;
  /** pcp->high_max: the most auto-tuning lets a list hold. */
  readonly highMax: number;
}

/**
 * Per-CPU list sizes as mm/page_alloc.c `zone_batchsize` and `zone_highsize`
 * compute them: batch = 2^⌊log2(b + b/2)⌋ − 1 for b = min(managed/4096, 64)
 * (1 when b ≤ 1); high_min = max(low watermark / cpus, 4·batch); high_max =
 * max(managed/8 / cpus, 4·batch). This machine's DMA32 zone (managed 772808,
 * low 13951, 2 CPUs): batch 63, high_min 6975, high_max 48300.
 */
export function zonePcpSizes(managedPages: number, lowWatermark: number, cpus: number): PcpSizes {
  let batch = Math.min(Math.floor(managedPages / 4096), 64);
  batch = batch <= 1 ? 1 : 2 ** Math.floor(Math.log2(batch + Math.floor(batch / 2))) - 1;
  const highMin = Math.max(Math.floor(lowWatermark / cpus), batch * 4);
  const highMax = Math.max(Math.floor(Math.floor(managedPages / 8) / cpus), batch * 4);
  return { batch, highMin, highMax };
}

/**
 * The kernel's text views of the page allocator, byte for byte.
 *
 * Models: mm/vmstat.c `frag_show_print` (/proc/buddyinfo),
 * `pagetypeinfo_showfree_print` and `pagetypeinfo_showblockcount_print`
 * (/proc/pagetypeinfo), the zone part of `zoneinfo_show_print`
 * (/proc/zoneinfo), and `extfrag_show_print` / `unusable_show_print`
 * (debugfs extfrag/extfrag_index and extfrag/unusable_index).
 *
 * Simplifies: these are pure formatters over plain numbers, so that the
 * numbers of a real machine can be fed through them and the text compared
 * with the real file. /proc/zoneinfo is printed only for the lines this
 * package models (watermarks, sizes, protection, free counts, start_pfn);
 * the per-node LRU statistics, per-CPU pagesets and NUMA counters belong to
 * the kernel package.
 *
 * Layout (printf formats from vmstat.c):
 *
 *     buddyinfo     "Node %d, zone %8s " then "%6lu " per order, "\n"
 *     pagetypeinfo  "Node %4d, zone %8s, type %12s " then "%s%6lu " per order
 *     extfrag_index "Node %d, zone %8s " then "%2d.%03d " per order
 */
import { fragmentationIndex, unusableFreeIndex } from "./fragmentation.js";

/** One zone's numbers, as the /proc formatters need them. */
export interface ProcZone {
  /** NUMA node id (0 here). */
  readonly node: number;
  /** Zone name ("DMA", "DMA32", "Normal", "Movable", ...). */
  readonly name: string;
  /** Whether the zone has present pages; unpopulated zones appear only in zoneinfo. */
  readonly populated: boolean;
  /** Free blocks per order (`free_area[order].nr_free`), order 0 first. */
  readonly nrFree: readonly number[];
  /** Free blocks per migrate type and order, in MIGRATETYPE_NAMES order. */
  readonly nrFreeByType?: readonly (readonly number[])[];
  /** Pageblocks per migrate type. */
  readonly blocksByType?: readonly number[];
  /** zoneinfo numbers. */
  readonly zoneinfo?: ZoneinfoNumbers;
}

/** The /proc/zoneinfo numbers of one zone that this package models. */
export interface ZoneinfoNumbers {
  /** NR_FREE_PAGES. */
  readonly freePages: number;
  /** watermark_boost. */
  readonly boost: number;
  /** WMARK_MIN. */
  readonly min: number;
  /** WMARK_LOW. */
  readonly low: number;
  /** WMARK_HIGH. */
  readonly high: number;
  /** WMARK_PROMO. */
  readonly promo: number;
  /** Pages from zone_start_pfn to the zone end, holes included. */
  readonly spanned: number;
  /** Spanned pages minus holes. */
  readonly present: number;
  /** Present pages minus reserved ones: what the buddy allocator manages. */
  readonly managed: number;
  /** CMA pages (always 0 here). */
  readonly cma: number;
  /** lowmem_reserve per zone index. */
  readonly protection: readonly number[];
  /** NR_FREE_PAGES_BLOCKS: free pages in blocks of at least pageblock order. */
  readonly freePagesBlocks: number;
  /** zone_start_pfn. */
  readonly startPfn: number;
}

function pad(value: number | string, width: number): string {
  return String(value).padStart(width, " ");
}

/** /proc/buddyinfo: one line per populated zone (mm/vmstat.c `frag_show_print`). */
export function formatBuddyinfo(zones: readonly ProcZone[]): string {
  let out = "";
  for (const z of zones) {
    if (!z.populated) continue;
    out += `Node ${z.node}, zone ${pad(z.name, 8)} `;
    for (const n of z.nrFree) out += `${pad(n, 6)} `;
    out += "\n";
  }
  return out;
}

/** The cap of pagetypeinfo's list walk: counts at it print as ">100000". */
const PAGETYPEINFO_CAP = 100000;

/**
 * /proc/pagetypeinfo (mm/vmstat.c `pagetypeinfo_show`): free blocks per
 * migrate type and order, then pageblocks per migrate type.
 *
 * @throws {TypeError} when a populated zone lacks `nrFreeByType` or `blocksByType`.
 */
export function formatPagetypeinfo(
  zones: readonly ProcZone[],
  pageblockOrder: number,
  typeNames: readonly string[],
): string {
  const orders = zones.find((z) => z.populated)?.nrFree.length ?? 0;
  let out = `Page block order: ${pageblockOrder}\nPages per block:  ${2 ** pageblockOrder}\n\n`;
  out += `${"Free pages count per migrate type at order".padEnd(43, " ")} `;
  for (let o = 0; o < orders; o++) out += `${pad(o, 6)} `;
  out += "\n";
  for (const z of zones) {
    if (!z.populated) continue;
    if (!z.nrFreeByType || !z.blocksByType) {
      throw new TypeError(`formatPagetypeinfo: zone ${z.name} lacks nrFreeByType or blocksByType`);
    }
    typeNames.forEach((t, mt) => {
      out += `Node ${pad(z.node, 4)}, zone ${pad(z.name, 8)}, type ${pad(t, 12)} `;
      for (let o = 0; o < orders; o++) {
        const n = z.nrFreeByType![mt]?.[o] ?? 0;
        out += n >= PAGETYPEINFO_CAP ? `>${pad(PAGETYPEINFO_CAP, 6)} ` : `${pad(n, 6)} `;
      }
      out += "\n";
    });
  }
  out += `\n${"Number of blocks type ".padEnd(23, " ")}`;
  for (const t of typeNames) out += `${pad(t, 12)} `;
  out += "\n";
  for (const z of zones) {
    if (!z.populated) continue;
    out += `Node ${z.node}, zone ${pad(z.name, 8)} `;
    typeNames.forEach((_, mt) => {
      out += `${pad(z.blocksByType![mt] ?? 0, 12)} `;
    });
    out += "\n";
  }
  return out;
}

/**
 * The zone lines of /proc/zoneinfo that this package models, in the
 * kernel's layout (mm/vmstat.c `zoneinfo_show_print`): every zone, populated
 * or not, from "Node N, zone NAME" to "protection: (...)"; populated zones
 * add nr_free_pages, nr_free_pages_blocks, nr_free_cma and start_pfn.
 *
 * @throws {TypeError} when a zone lacks `zoneinfo`.
 */
export function formatZoneinfo(zones: readonly ProcZone[]): string {
  let out = "";
  for (const z of zones) {
    const n = z.zoneinfo;
    if (!n) throw new TypeError(`formatZoneinfo: zone ${z.name} lacks zoneinfo numbers`);
    out += `Node ${z.node}, zone ${pad(z.name, 8)}`;
    out +=
      `\n  pages free     ${n.freePages}` +
      `\n        boost    ${n.boost}` +
      `\n        min      ${n.min}` +
      `\n        low      ${n.low}` +
      `\n        high     ${n.high}` +
      `\n        promo    ${n.promo}` +
      `\n        spanned  ${n.spanned}` +
      `\n        present  ${n.present}` +
      `\n        managed  ${n.managed}` +
      `\n        cma      ${n.cma}`;
    out += `\n        protection: (${n.protection.join(", ")})`;
    if (!z.populated) {
      out += "\n";
      continue;
    }
    out += `\n      ${"nr_free_pages".padEnd(12)} ${n.freePages}`;
    out += `\n      ${"nr_free_pages_blocks".padEnd(12)} ${n.freePagesBlocks}`;
    out += `\n      ${"nr_free_cma".padEnd(12)} ${n.cma}`;
    out += `\n  start_pfn:           ${n.startPfn}\n`;
  }
  return out;
}

function thousandths(index: number, width: number): string {
  // C's "/" and "%" truncate toward zero: -1000 prints as "-1.000".
  const whole = Math.trunc(index / 1000);
  const frac = Math.abs(index % 1000);
  const sign = index < 0 && whole === 0 ? "-" : "";
  return `${pad(`${sign}${whole}`, width)}.${String(frac).padStart(3, "0")}`;
}

// One line per populated zone: the zone, then an index per order in thousandths.
function formatIndexLines(
  zones: readonly ProcZone[],
  index: (nrFree: readonly number[], order: number) => number,
  width: number,
): string {
  let out = "";
  for (const z of zones) {
    if (!z.populated) continue;
    out += `Node ${z.node}, zone ${pad(z.name, 8)} `;
    for (let o = 0; o < z.nrFree.length; o++) out += `${thousandths(index(z.nrFree, o), width)} `;
    out += "\n";
  }
  return out;
}

/** debugfs extfrag/extfrag_index: the fragmentation index per order, "%2d.%03d " (mm/vmstat.c `extfrag_show_print`). */
export function formatExtfragIndex(zones: readonly ProcZone[]): string {
  return formatIndexLines(zones, fragmentationIndex, 2);
}

/** debugfs extfrag/unusable_index: the unusable free index per order, "%d.%03d " (mm/vmstat.c `unusable_show_print`). */
export function formatUnusableIndex(zones: readonly ProcZone[]): string {
  return formatIndexLines(zones, unusableFreeIndex, 1);
}

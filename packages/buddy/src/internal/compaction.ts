/**
 * Memory compaction: move movable allocations out of the way so that free
 * pages coalesce into high-order blocks.
 *
 * Models mm/compaction.c `compact_zone` in MIGRATE_SYNC mode over the whole
 * zone (what /proc/sys/vm/compact_memory and the last direct-compaction
 * priority do):
 *
 *     zone start                                              zone end
 *     | migrate scanner -->                      <-- free scanner |
 *     [ movable pages are isolated ]     [ free pages are isolated ]
 *
 * - The migration scanner (`isolate_migratepages`) walks pageblocks upward
 *   from the zone start and isolates allocated blocks whose allocation asked
 *   for __GFP_MOVABLE (LRU pages in Linux), smaller than a pageblock and,
 *   for a targeted run, smaller than the target order.
 * - The free scanner (`isolate_freepages`) walks pageblocks downward from
 *   the zone end, in pageblocks of the MOVABLE type (or wholly free ones),
 *   isolating free blocks (`__isolate_free_page`, which keeps the zone above
 *   min + 2^order) until there are as many free pages as pages to migrate.
 * - `compaction_alloc` gives each migrating block the first isolated free
 *   block of the smallest sufficient order, splitting larger ones and
 *   keeping the rest at the head of the lower lists.
 * - Migration copies the frames (when the allocator has a memory), asks the
 *   owner's `migratePage` hook to move its mappings, and frees the source,
 *   which merges with its free buddies.
 * - `compact_finished`: stop when the scanners meet (COMPACT_COMPLETE), or,
 *   for a targeted order, at a pageblock boundary once a free block of that
 *   order exists for the migrate type (COMPACT_SUCCESS). Left-over isolated
 *   free pages are freed back (`release_free_list`).
 *
 * Simplifies: no fast free-list searches (fast_find_migrateblock,
 * fast_isolate_freepages), no skip bits or cached scanner positions, no
 * deferral, whole pageblocks per isolation round instead of
 * COMPACT_CLUSTER_MAX pages; each run scans the whole zone.
 */
import type { Pfn } from "@memstack/core";
import type { CompactionResult, CompactStatus } from "../api.js";
import { MIGRATE_MOVABLE, ZONE_NAMES } from "../gfp.js";
import {
  type Engine,
  G_COMPACT_FREE_SCANNED,
  G_COMPACT_ISOLATED,
  G_COMPACT_MIGRATE_SCANNED,
  G_PGMIGRATE_FAIL,
  G_PGMIGRATE_SUCCESS,
} from "./engine.js";
import { K_PAIR } from "./frame-table.js";

/**
 * Compacts zone `z` (mm/compaction.c `compact_zone`). `order` -1 compacts
 * the whole zone (compact_memory); otherwise compaction stops as soon as an
 * order-`order` block of migrate type `mt` is available.
 */
export function compactZone(e: Engine, z: number, order: number, mt: number): CompactionResult {
  const zone = e.zones[z]!;
  const name = ZONE_NAMES[zone.type]!;
  let migrated = 0;
  let failed = 0;
  let migrateScanned = 0;
  let freeScanned = 0;
  const done = (status: CompactStatus): CompactionResult => {
    e.counters[G_COMPACT_MIGRATE_SCANNED]! += migrateScanned;
    e.counters[G_COMPACT_FREE_SCANNED]! += freeScanned;
    return { zone: name, status, migrated, failed, migrateScanned, freeScanned };
  };
  const migrate = e.hooks.migratePage;
  if (!zone.populated || migrate === undefined) return done("skipped");
  if (order >= 0 && e.suitablePageExists(z, order, mt)) return done("success");

  const pb = e.pbPages;
  const zs = zone.start;
  const ze = zone.end;
  const blockStart = (pfn: number): number => pfn - (pfn % pb);
  let migratePfn = zs;
  let freePfn = blockStart(ze - 1);
  // cc->freepages[order]: isolated free blocks, first in first out.
  const isolated: number[][] = Array.from({ length: e.nOrders }, () => []);
  let nrFreepages = 0;
  let nrMigratepages = 0;

  const scannersMet = (): boolean => Math.floor(freePfn / pb) <= Math.floor(migratePfn / pb);

  // isolate_freepages: fill the isolated lists from the top of the zone.
  const isolateFreepages = (): void => {
    let isolateStart = freePfn;
    let bs = blockStart(isolateStart);
    let be = Math.min(bs + pb, ze);
    const low = blockStart(migratePfn) + pb;
    for (; bs >= low; be = bs, bs -= pb, isolateStart = bs) {
      // pageblock_pfn_to_page: the block must start inside the zone.
      if (bs < zs) continue;
      // suitable_migration_target: a MOVABLE pageblock, or one wholly free.
      if (e.pbType[bs / pb] !== MIGRATE_MOVABLE && e.freeOrderAt(bs) < e.pbOrder) continue;
      // isolate_freepages_block
      let p = isolateStart;
      let aborted = false;
      while (p < be) {
        freeScanned++;
        const o = e.freeOrderAt(p);
        if (o < 0) {
          p++;
          continue;
        }
        if (!e.isolateFreePage(z, p, o)) {
          aborted = true;
          break;
        }
        isolated[o]!.push(p);
        nrFreepages += 1 << o;
        e.counters[G_COMPACT_ISOLATED]! += 1 << o;
        p += 1 << o;
        if (nrFreepages >= nrMigratepages) break;
      }
      isolateStart = Math.min(p, be);
      if (nrFreepages >= nrMigratepages) {
        if (isolateStart >= be) isolateStart = bs - pb;
        break;
      }
      if (aborted) break;
    }
    freePfn = isolateStart;
  };

  // compaction_alloc: smallest isolated block of at least `o`, remainder kept.
  const compactionAlloc = (o: number): number => {
    for (let pass = 0; pass < 2; pass++) {
      for (let so = o; so < e.nOrders; so++) {
        const list = isolated[so]!;
        if (list.length === 0) continue;
        const page = list.shift()!;
        let size = 1 << so;
        // The isolated block is held as one allocation; re-head the halves it gives up.
        let cur = so;
        while (cur > o) {
          cur--;
          size /= 2;
          splitHeld(page, cur + 1);
          isolated[cur]!.unshift(page + size);
        }
        nrFreepages -= 1 << o;
        return page;
      }
      if (pass === 0) isolateFreepages();
    }
    return -1;
  };

  // An isolated block of order o+1 held at `page` becomes two held blocks of order o.
  const splitHeld = (page: number, o1: number): void => {
    const half = page + 2 ** (o1 - 1);
    if (o1 - 1 === 0) {
      // Order-1 → two order-0 frames: the pair becomes PAIR with both held.
      e.st[page >>> 1] = K_PAIR << 5;
      e.setA(page >>> 1, 8 + MIGRATE_MOVABLE);
      e.setB(page >>> 1, 8 + MIGRATE_MOVABLE);
    } else {
      e.markAllocated(page, o1 - 1, 8 + MIGRATE_MOVABLE);
      e.markAllocated(half, o1 - 1, 8 + MIGRATE_MOVABLE);
    }
  };

  let status: CompactStatus = "complete";
  for (;;) {
    if (scannersMet()) {
      status = "complete";
      break;
    }
    if (order >= 0 && migratePfn % pb === 0 && e.suitablePageExists(z, order, mt)) {
      status = "success";
      break;
    }
    // isolate_migratepages: the next whole pageblock below the free scanner.
    const bs = blockStart(migratePfn);
    const be = Math.min(bs + pb, ze);
    if (be > freePfn) {
      status = "complete";
      break;
    }
    const candidates: number[] = [];
    nrMigratepages = 0;
    for (let p = Math.max(bs, zs); p < be; ) {
      migrateScanned++;
      const fo = e.freeOrderAt(p);
      if (fo >= 0) {
        p += 1 << fo;
        continue;
      }
      const ao = e.allocOrderAt(p);
      if (ao < 0) {
        p++;
        continue;
      }
      const info = e.blockInfo(p, ao);
      const movable = (info & 3) === MIGRATE_MOVABLE;
      const skipOrder = (order >= 0 && ao >= order) || ao >= e.pbOrder;
      if (movable && !skipOrder) {
        candidates.push(p, ao);
        nrMigratepages += 1 << ao;
      }
      p += 1 << ao;
    }
    migratePfn = be;
    for (let i = 0; i < candidates.length; i += 2) {
      const src = candidates[i]!;
      const o = candidates[i + 1]!;
      const dst = compactionAlloc(o);
      nrMigratepages -= 1 << o;
      if (dst < 0) {
        failed++;
        e.counters[G_PGMIGRATE_FAIL]!++;
        continue;
      }
      if (e.memory) for (let k = 0; k < 1 << o; k++) e.memory.copyFrame((dst + k) as Pfn, (src + k) as Pfn);
      if (!migrate(src as Pfn, dst as Pfn, o)) {
        // compaction_free: the target goes back to the isolated list's head.
        isolated[o]!.unshift(dst);
        nrFreepages += 1 << o;
        failed++;
        e.counters[G_PGMIGRATE_FAIL]!++;
        continue;
      }
      e.markAllocated(dst, o, e.blockInfo(src, o));
      e.freeBlock(src, o, z, false);
      migrated++;
      e.counters[G_PGMIGRATE_SUCCESS]! += 1 << o;
    }
  }
  // release_free_list: order by order, in list order.
  for (let o = 0; o < e.nOrders; o++) {
    for (const p of isolated[o]!) e.freeBlock(p, o, z, false);
  }
  return done(status);
}

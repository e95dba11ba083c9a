// Migrate types: per-type free lists, pageblock claiming and stealing
// (__rmqueue_claim / try_to_claim_block / __rmqueue_steal).
import type { Pfn } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE } from "../src/index.js";
import { smallBuddy } from "./helpers.js";

// 64 frames, orders 0..4, pageblocks of 8 frames: boot puts 0x0, 0x10, 0x20, 0x30
// (order 4) on the MOVABLE list; every pageblock starts MOVABLE.
const buddy = () => smallBuddy({ frameCount: 64, maxOrder: 4 });

describe("grouping pages by mobility", () => {
  it("an unmovable request claims the pageblocks of a whole movable order-4 block", () => {
    const b = buddy();
    expect(b.zoneStats(0).blocksByType).toEqual([0, 8, 0]);
    expect(b.alloc({ gfp: GFP_KERNEL })).toBe(0x0);
    // change_pageblock_range turned 0x0-0xf unmovable; expand left 0x8 (o3), 0x4 (o2), 0x2 (o1), 0x1 (o0) on the UNMOVABLE lists.
    expect(b.zoneStats(0).blocksByType).toEqual([2, 6, 0]);
    expect(b.zoneStats(0).nrFreeByType[MIGRATE_UNMOVABLE]).toEqual([1, 1, 1, 1, 0]);
    expect(b.zoneStats(0).nrFreeByType[MIGRATE_MOVABLE]).toEqual([0, 0, 0, 0, 3]);
    expect(b.stats().fallbacks).toBe(1);
    // Further unmovable requests stay inside the claimed blocks.
    expect([b.alloc({ gfp: GFP_KERNEL }), b.alloc({ gfp: GFP_KERNEL })]).toEqual([0x1, 0x2]);
    // Movable requests go to movable pageblocks.
    expect(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })).toBe(0x10);
    expect(b.stats().fallbacks).toBe(1);
    expect(b.pagetypeinfo()).toContain(
      "Node 0, zone   Normal            2            6            0            0            0 \n",
    );
    b.check();
  });

  it("a movable request steals an order-0 page from an unmovable pageblock when nothing movable is left", () => {
    const b = buddy();
    expect(b.alloc({ gfp: GFP_KERNEL })).toBe(0x0); // claims 0x0-0xf
    const movable: Pfn[] = [];
    for (let i = 0; i < 48; i++) movable.push(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })!);
    expect(Math.min(...movable)).toBe(0x10);
    expect(b.zoneStats(0).nrFreeByType[MIGRATE_MOVABLE]).toEqual([0, 0, 0, 0, 0]);
    // Now only the unmovable blocks have free pages: 0x1 (o0), 0x2 (o1), 0x4 (o2), 0x8 (o3).
    // __rmqueue_claim looks from the largest order down and claims 0x8's pageblock for MOVABLE
    // (order 3 >= pageblock order); the request then takes 0x8 from the movable list.
    expect(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })).toBe(0x8);
    expect(b.zoneStats(0).blocksByType).toEqual([1, 7, 0]);
    // Next: order-2 block 0x4 (order >= pageblock_order/2 = 1: claim tried, but only 4 of 8 pages free
    // or movable -> 4 >= 4 claims block 0x0-0x7 as well).
    expect(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })).toBe(0x9);
    b.check();
  });
});

describe("watermark boosting", () => {
  it("a steal from another type's pageblock boosts the zone's watermarks and wakes kswapd", () => {
    const wakes: string[] = [];
    // 256 frames, pageblocks of 16: boosting needs 4 pageblocks (64 frames) per zone.
    // min_free_kbytes 64: min 16, low 20, high 24; the boost caps at max(16, 24 · 15000/10000) = 36.
    const b = smallBuddy({
      frameCount: 256,
      maxOrder: 4,
      pageblockOrder: 4,
      minFreeKbytes: 64,
      hooks: { wakeKswapd: (r) => wakes.push(r.highestZone) },
    });
    expect(b.zoneStats(0)).toMatchObject({ min: 16, low: 20, high: 24, boost: 0 });
    const movable: Pfn[] = [];
    for (let i = 0; i < 128; i++) movable.push(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })!);
    // Free every other page of the first 128: movable pageblocks full of order-0 holes.
    for (let i = 0; i < 128; i += 2) b.free(movable[i]!, 0);
    // Unmovable requests: the order-4 blocks left claim whole pageblocks (no boost) …
    while (b.zoneStats(0).nrFree[4]! > 0) b.alloc({ gfp: GFP_KERNEL });
    expect(b.zoneStats(0).boost).toBe(0);
    // … then the unmovable lists run dry and an order-0 hole in a movable pageblock is taken: boost.
    const before = wakes.length;
    while (b.zoneStats(0).nrFreeByType[MIGRATE_UNMOVABLE]!.some((n) => n > 0)) b.alloc({ gfp: GFP_KERNEL });
    expect(b.alloc({ gfp: GFP_KERNEL })).not.toBeNull();
    expect(b.zoneStats(0).boost).toBe(16);
    expect(wakes.length).toBeGreaterThan(before);
    b.clearWatermarkBoost(0);
    expect(b.zoneStats(0).boost).toBe(0);
    b.check();
  });
});

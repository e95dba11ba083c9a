// Zone fallback (Normal -> DMA32 -> DMA, never upward), watermarks and the
// allocation slow path (kswapd, reclaim, OOM hooks), lowmem_reserve.
import { type Pfn, UsageError } from "@memstack/core";
import { describe, expect, it } from "vitest";
import {
  __GFP_MEMALLOC,
  __GFP_NOFAIL,
  __GFP_NOWARN,
  createBuddyAllocator,
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  type ReclaimRequest,
} from "../src/index.js";

function threeZones() {
  return createBuddyAllocator({
    frameCount: 192,
    maxOrder: 3,
    pageblockOrder: 3,
    minFreeKbytes: 0,
    zones: [
      { name: "DMA", endPfn: 64 },
      { name: "DMA32", endPfn: 128 },
      { name: "Normal", endPfn: 192 },
    ],
  });
}

const zoneName = (b: ReturnType<typeof threeZones>, p: number) => b.zoneStats(b.frameInfo(p).zone).name;

describe("zone fallback", () => {
  it("GFP_KERNEL fills Normal, then DMA32, then DMA, then fails", () => {
    const b = threeZones();
    const zones: string[] = [];
    for (;;) {
      const p = b.allocFrames(0);
      if (p === null) break;
      zones.push(zoneName(b, p));
      b.check();
    }
    expect(zones.length).toBe(192);
    expect(zones.slice(0, 64).every((z) => z === "Normal")).toBe(true);
    expect(zones.slice(64, 128).every((z) => z === "DMA32")).toBe(true);
    expect(zones.slice(128).every((z) => z === "DMA")).toBe(true);
  });

  it("GFP_DMA32 never goes up to Normal, GFP_DMA never leaves DMA", () => {
    const b = threeZones();
    const dma32: string[] = [];
    for (let p = b.alloc({ gfp: GFP_DMA32 }); p !== null; p = b.alloc({ gfp: GFP_DMA32 }))
      dma32.push(zoneName(b, p));
    expect(dma32.length).toBe(128);
    expect(new Set(dma32)).toEqual(new Set(["DMA32", "DMA"]));
    expect(b.alloc({ gfp: GFP_DMA })).toBeNull();
    expect(b.zoneStats("Normal").freePages).toBe(64);
    const c = threeZones();
    for (let i = 0; i < 64; i++) expect(zoneName(c, c.alloc({ gfp: GFP_DMA })!)).toBe("DMA");
    expect(c.alloc({ gfp: GFP_DMA | __GFP_NOWARN })).toBeNull();
    expect(c.zoneStats("DMA32").freePages).toBe(64);
    c.check();
  });

  it("GFP_HIGHUSER_MOVABLE may use every zone, starting at the top", () => {
    const b = threeZones();
    expect(zoneName(b, b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })!)).toBe("Normal");
  });

  it("lowmem_reserve keeps DMA pages from Normal-class requests", () => {
    // DMA's reserve against Normal requests: managed(Normal) / 256 = 2560 / 256 = 10.
    const b = createBuddyAllocator({
      frameCount: 2624,
      maxOrder: 3,
      minFreeKbytes: 0,
      zones: [
        { name: "DMA", endPfn: 64 },
        { name: "Normal", endPfn: 2624 },
      ],
    });
    expect(b.zoneStats("DMA").lowmemReserve).toEqual([0, 10]);
    let n = 0;
    while (b.alloc({ gfp: GFP_KERNEL | __GFP_NOWARN }) !== null) n++;
    // Normal gives all 2560; DMA stops when free <= 0 + 10.
    expect(n).toBe(2560 + 54);
    expect(b.zoneStats("DMA").freePages).toBe(10);
    for (let i = 0; i < 10; i++) expect(b.alloc({ gfp: GFP_DMA })).not.toBeNull();
    expect(b.freeFrameCount).toBe(0);
    b.check();
  });
});

describe("watermarks and the slow path", () => {
  // One 64-frame Normal zone, min_free_kbytes 64: min 16, low 20, high 24.
  function zone64(hooks = {}) {
    const warnings: string[] = [];
    const b = createBuddyAllocator({
      frameCount: 64,
      maxOrder: 4,
      minFreeKbytes: 64,
      zones: [{ name: "Normal", endPfn: 64 }],
      hooks: { warn: (m: string) => warnings.push(m), ...hooks },
    });
    return { b, warnings };
  }

  it("derives min/low/high from min_free_kbytes", () => {
    const { b } = zone64();
    expect(b.zoneStats("Normal")).toMatchObject({ min: 16, low: 20, high: 24, promo: 28, managedPages: 64 });
  });

  it("GFP_KERNEL wakes kswapd below low and stops at min; GFP_ATOMIC dips to 3/8 of min; __GFP_MEMALLOC takes the rest", () => {
    const wakes: number[] = [];
    const { b, warnings } = zone64({ wakeKswapd: () => wakes.push(b.freeFrameCount) });
    let kernel = 0;
    while (b.alloc({ gfp: GFP_KERNEL }) !== null) kernel++;
    expect(kernel).toBe(48);
    // Fast path fails at free <= low (20): kswapd is woken at 20, 19, 18, 17, and by the failing call at 16.
    expect(wakes).toEqual([20, 19, 18, 17, 16]);
    expect(warnings).toEqual(["page allocation failure: order:0, mode:0xcc0(GFP_KERNEL), nodemask=(null)"]);
    let atomic = 0;
    while (b.alloc({ gfp: GFP_ATOMIC }) !== null) atomic++;
    // min − min/2 = 8, non-blocking: 8 − 8/4 = 6: free pages 16 … 7 go.
    expect(atomic).toBe(10);
    expect(warnings[1]).toBe("page allocation failure: order:0, mode:0x820(GFP_ATOMIC), nodemask=(null)");
    expect(b.alloc({ gfp: GFP_ATOMIC | __GFP_NOWARN })).toBeNull();
    expect(warnings.length).toBe(2);
    let memalloc = 0;
    while (b.alloc({ gfp: GFP_KERNEL | __GFP_MEMALLOC | __GFP_NOWARN }) !== null) memalloc++;
    expect(memalloc).toBe(6);
    expect(b.freeFrameCount).toBe(0);
    expect(b.stats()).toMatchObject({ allocations: 64, kswapdWakeups: expect.any(Number) });
    b.check();
  });

  it("direct reclaim refills the zone; when it reports nothing, the OOM hook runs", () => {
    const cache: Pfn[] = [];
    const calls: string[] = [];
    let victim: Pfn[] = [];
    const { b } = zone64({
      reclaim: (r: ReclaimRequest) => {
        calls.push(`reclaim order ${r.order} ${r.highestZone}`);
        let freed = 0;
        while (cache.length > 0 && freed < 8) {
          b.free(cache.pop()!, 0);
          freed++;
        }
        return freed;
      },
      outOfMemory: (r: ReclaimRequest) => {
        calls.push(`oom gfp 0x${r.gfp.toString(16)}`);
        const killed = victim.length > 0;
        for (const p of victim) b.free(p, 0);
        victim = [];
        return killed;
      },
    });
    for (let i = 0; i < 20; i++) cache.push(b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })!);
    for (let i = 0; i < 28; i++) victim.push(b.alloc({ gfp: GFP_KERNEL })!);
    expect(b.freeFrameCount).toBe(16);
    // At min: reclaim frees 8 page-cache pages, the retry succeeds.
    expect(b.alloc({ gfp: GFP_KERNEL })).not.toBeNull();
    expect(calls).toEqual(["reclaim order 0 Normal"]);
    b.check();
    // Exhaust the cache, then reclaim reports 0 and the OOM hook kills the victim.
    while (cache.length > 0 || b.freeFrameCount > 16) b.alloc({ gfp: GFP_KERNEL });
    calls.length = 0;
    expect(b.alloc({ gfp: GFP_KERNEL })).not.toBeNull();
    expect(calls).toEqual(["reclaim order 0 Normal", "oom gfp 0xcc0"]);
    expect(b.stats().oomCalls).toBe(1);
    b.check();
  });

  it("__GFP_NOFAIL falls back to half the min reserve; beyond that it fails with the warning (Linux would loop)", () => {
    const { b, warnings } = zone64();
    while (b.alloc({ gfp: GFP_KERNEL | __GFP_NOWARN }) !== null);
    expect(b.freeFrameCount).toBe(16);
    let nofail = 0;
    while (b.alloc({ gfp: GFP_KERNEL | __GFP_NOFAIL }) !== null) nofail++;
    // ALLOC_MIN_RESERVE: min − min/2 = 8, so free pages 16 … 9 go.
    expect(nofail).toBe(8);
    expect(warnings).toEqual([
      "page allocation failure: order:0, mode:0x8cc0(GFP_KERNEL|__GFP_NOFAIL), nodemask=(null)",
    ]);
    b.check();
  });

  it("costly orders give up without the OOM killer", () => {
    const oom: number[] = [];
    const { b } = zone64({
      outOfMemory: (r: ReclaimRequest) => {
        oom.push(r.order);
        return false;
      },
    });
    // Order 4 > PAGE_ALLOC_COSTLY_ORDER (3). The third block passes the min
    // check (32 free − (16 − 1) = 17 > 16); the fourth cannot.
    expect([0, 1, 2, 3].map(() => b.alloc({ order: 4, gfp: GFP_KERNEL | __GFP_NOWARN }))).toEqual([
      0,
      16,
      32,
      null,
    ]);
    expect(oom).toEqual([]);
    // Order 0 is not costly: the killer is asked.
    while (b.alloc({ gfp: GFP_KERNEL | __GFP_NOWARN }) !== null);
    expect(oom).toEqual([0]);
  });
});

describe("watermark queries for kswapd", () => {
  it("zoneWatermarkOk compares against min/low/high", () => {
    const b = createBuddyAllocator({
      frameCount: 64,
      maxOrder: 3,
      minFreeKbytes: 64,
      zones: [{ name: "Normal", endPfn: 64 }],
    });
    for (let i = 0; i < 40; i++) b.alloc({ gfp: GFP_KERNEL });
    expect(b.freeFrameCount).toBe(24);
    expect(b.zoneWatermarkOk("Normal", 0, "high")).toBe(false); // 24 <= 24
    expect(b.zoneWatermarkOk("Normal", 0, "low")).toBe(true);
    expect(() => b.zoneWatermarkOk("HighMem", 0, "low")).toThrow(UsageError);
  });
});

import { describe, expect, it } from "vitest";
import {
  __GFP_COMP,
  __GFP_DMA,
  __GFP_DMA32,
  __GFP_HIGHMEM,
  __GFP_MOVABLE,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
  formatGfpFlags,
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHUSER,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_NOWAIT,
  GFP_TRANSHUGE,
  GFP_USER,
  gfpMigratetype,
  gfpZone,
  gfpZoneIsBad,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_UNMOVABLE,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
} from "../src/index.js";

describe("GFP flags (include/linux/gfp_types.h)", () => {
  it("have Linux's values", () => {
    expect(GFP_KERNEL).toBe(0xcc0);
    expect(GFP_ATOMIC).toBe(0x820);
    expect(GFP_NOWAIT).toBe(0x2800);
    expect(GFP_USER).toBe(0x100cc0);
    expect(GFP_HIGHUSER).toBe(0x100cc2);
    expect(GFP_HIGHUSER_MOVABLE).toBe(0x100cca);
    expect(GFP_DMA).toBe(0x1);
    expect(GFP_DMA32).toBe(0x4);
  });

  it("choose the highest zone as gfp_zone does", () => {
    expect(gfpZone(GFP_KERNEL)).toBe(ZONE_NORMAL);
    expect(gfpZone(GFP_DMA)).toBe(ZONE_DMA);
    expect(gfpZone(GFP_DMA32)).toBe(ZONE_DMA32);
    expect(gfpZone(GFP_HIGHUSER)).toBe(ZONE_NORMAL); // no highmem on x86-64
    expect(gfpZone(GFP_HIGHUSER_MOVABLE)).toBe(ZONE_MOVABLE);
    expect(gfpZone(__GFP_MOVABLE)).toBe(ZONE_NORMAL);
    expect(gfpZone(__GFP_MOVABLE | __GFP_DMA32)).toBe(ZONE_DMA32);
    expect(gfpZone(GFP_DMA, false)).toBe(ZONE_NORMAL); // OPT_ZONE_DMA without a DMA zone
    expect(gfpZoneIsBad(__GFP_DMA | __GFP_HIGHMEM)).toBe(true);
    expect(gfpZoneIsBad(__GFP_DMA32 | __GFP_HIGHMEM | __GFP_MOVABLE)).toBe(true);
    expect(gfpZoneIsBad(GFP_HIGHUSER_MOVABLE)).toBe(false);
  });

  it("map to migrate types as gfp_migratetype does", () => {
    expect(gfpMigratetype(GFP_KERNEL)).toBe(MIGRATE_UNMOVABLE);
    expect(gfpMigratetype(GFP_HIGHUSER_MOVABLE)).toBe(MIGRATE_MOVABLE);
    expect(gfpMigratetype(GFP_KERNEL | __GFP_RECLAIMABLE)).toBe(MIGRATE_RECLAIMABLE);
  });

  it("print as %pGg prints them (mmflags.h table order)", () => {
    expect(formatGfpFlags(GFP_KERNEL)).toBe("GFP_KERNEL");
    expect(formatGfpFlags(GFP_KERNEL | __GFP_COMP | __GFP_NOWARN)).toBe("GFP_KERNEL|__GFP_NOWARN|__GFP_COMP");
    expect(formatGfpFlags(GFP_HIGHUSER_MOVABLE | __GFP_COMP)).toBe("GFP_HIGHUSER_MOVABLE|__GFP_COMP");
    expect(formatGfpFlags(GFP_TRANSHUGE)).toBe("GFP_TRANSHUGE");
    expect(formatGfpFlags(GFP_ATOMIC | __GFP_DMA)).toBe("GFP_ATOMIC|GFP_DMA");
    expect(formatGfpFlags(0x200)).toBe("0x200");
    expect(formatGfpFlags(0)).toBe("");
  });
});

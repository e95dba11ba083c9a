// check() against deliberately corrupted metadata. The engine is built
// directly (an internal module) so that its typed arrays can be damaged.
import { CorruptionError } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { FailPageAlloc } from "../src/fault-injection.js";
import { Engine } from "../src/internal/engine.js";
import { K_FREE, K_PAIR } from "../src/internal/frame-table.js";

function engine(wideSlots = false): Engine {
  return new Engine({
    wideSlots,
    frameCount: 16,
    maxOrder: 3,
    pageblockOrder: 3,
    zones: [{ name: "Normal", type: 2, start: 0, end: 16, present: 16, managed: 16, populated: true }],
    managedRanges: [[[0, 16]]],
    watermarks: [{ min: 0, low: 0, high: 0, promo: 0, lowmemReserve: [0] }],
    watermarkBoostFactor: 0,
    groupByMobility: true,
    extfragThreshold: 500,
    memory: undefined,
    fail: new FailPageAlloc(),
    pcp: false,
    hooks: {},
  });
}

function allocated(): Engine {
  const e = engine();
  // Take order-0 pages 0x0 and 0x1 the way alloc does.
  for (let i = 0; i < 2; i++) expect(e.allocPages(0, 0, 2, 1, 9)).toBe(i);
  e.check();
  return e;
}

describe("check() reports corrupted metadata", () => {
  it("a free-block counter out of step", () => {
    const e = allocated();
    e.nrFree[0]!++;
    expect(() => e.check()).toThrow(CorruptionError);
    expect(() => e.check()).toThrow(/order 0: 0 free blocks, nr_free says 1/);
  });

  it("a broken prev link", () => {
    const e = engine();
    e.allocPages(0, 0, 2, 1, 9); // 0x0; frees 0x1 (o0), 0x2 (o1), 0x4 (o2) and keeps 0x8 (o3)
    e.freePages(0, 0); // merges back: order-3 list is [0x0, 0x8]
    e.setB(4, 7); // pair 4 (pfn 0x8) claims a wrong predecessor
    expect(() => e.check()).toThrow(/broken prev link/);
  });

  it("free buddies left unmerged", () => {
    const e = allocated();
    // Turn allocated 0x0/0x1 into two order-1 "free" heads that never merged: fake 0x0 as free order 1
    e.st[0] = (K_FREE << 5) | 1;
    expect(() => e.check()).toThrow(CorruptionError);
  });

  it("a refcount of zero on an allocated frame", () => {
    const e = allocated();
    e.st[0] = K_PAIR << 5;
    e.setA(0, 1); // refcount 0, type movable
    expect(() => e.check()).toThrow(/allocated pfn 0x0 has refcount 0/);
  });

  it("a stray overflow refcount", () => {
    const e = allocated();
    e.table.overflow.set(7, 9);
    expect(() => e.check()).toThrow(/overflow refcount for pfn 0x7 belongs to no pair/);
  });

  it("a frame counted free that the zone total misses", () => {
    const e = allocated();
    e.zoneFree[0]!--;
    expect(() => e.check()).toThrow(/NR_FREE_PAGES says 13/);
  });

  it("a running free total that the zones and pcp lists do not add up to", () => {
    const e = allocated();
    e.freeTotal++;
    expect(() => e.check()).toThrow(/14 free pages in the zones and pcp lists, the running total says 15/);
  });
});

describe("the 32-bit slot layout of machines above 2^25 frames", () => {
  it("splits, merges, counts references beyond 2^21 and checks as the 24-bit layout does", () => {
    const e = engine(true);
    expect(e.table.slotMax).toBe(2 ** 32 - 1);
    const got: number[] = [];
    for (let p = e.allocPages(0, 0, 2, 1, 9); p >= 0; p = e.allocPages(0, 0, 2, 1, 9)) {
      got.push(p);
      e.check();
    }
    expect(got).toEqual([...Array(16).keys()]);
    // A refcount above 2^21 (the 24-bit layout's limit) fits a 32-bit slot.
    e.setA(0, 2 ** 24 * 8 + 1);
    e.check();
    e.setA(0, 9);
    for (const p of got.filter((_, i) => i % 2 === 0)) e.freePages(p, 0);
    for (const p of got.filter((_, i) => i % 2 === 1)) e.freePages(p, 0);
    e.check();
    expect(e.zoneNrFree(0)).toEqual([0, 0, 0, 2]);
  });
});

// Fragmentation defeats a high-order allocation; compaction cures it.
// 256 frames of one Normal zone, pageblocks of 8, every frame allocated as a
// movable page that records its own number; the even frames are then freed:
// 128 free pages, not one free pair.
import { type Pfn, physAddr, SparseRam } from "@memstack/core";
import { describe, expect, it } from "vitest";
import {
  __GFP_MOVABLE,
  createBuddyAllocator,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_NOWAIT,
} from "../src/index.js";

function fragmented() {
  const memory = new SparseRam({ sizeBytes: 256 * 4096 });
  const b = createBuddyAllocator({
    memory,
    maxOrder: 4,
    pageblockOrder: 3,
    minFreeKbytes: 0,
    groupByMobility: true,
    // Freed pages go straight to the buddy lists (no per-CPU lists holding them back).
    pcp: false,
    zones: [{ name: "Normal", endPfn: 256 }],
  });
  // owner: handle (the page's original pfn) -> where the page is now.
  const owner = new Map<number, number>();
  for (let i = 0; i < 256; i++) {
    const p = b.alloc({ gfp: GFP_HIGHUSER_MOVABLE })!;
    memory.writeU32(physAddr(p * 4096 + 100), 0xa5a50000 + p);
    owner.set(p, p);
  }
  for (let p = 0; p < 256; p += 2) {
    b.free(p as Pfn, 0);
    owner.delete(p);
  }
  return { b, memory, owner };
}

function connect(b: ReturnType<typeof fragmented>["b"], owner: Map<number, number>, moves: string[]) {
  b.setHooks({
    migratePage: (from, to, order) => {
      moves.push(`${from}->${to}/${order}`);
      for (const [h, at] of owner) if (at === from) owner.set(h, to);
      return true;
    },
  });
}

describe("fragmentation and compaction", () => {
  it("half the memory free, yet no order-2 block: the indexes say fragmentation", () => {
    const { b } = fragmented();
    expect(b.buddyinfo()).toBe("Node 0, zone   Normal    128      0      0      0      0 \n");
    // 1000 − ⌊(1000 + ⌊128·1000/4⌋) / 128⌋ = 1000 − 257 = 743.
    expect(b.fragmentationIndex("Normal", 2)).toBe(743);
    expect(b.unusableFreeIndex("Normal", 2)).toBe(1000);
    expect(b.unusableFreeIndex("Normal", 0)).toBe(0);
    expect(b.alloc_pages(GFP_NOWAIT | __GFP_MOVABLE, 2)).toBeNull();
    // Without an owner to update mappings, nothing can move.
    expect(b.compactMemory()).toEqual([
      { zone: "Normal", status: "skipped", migrated: 0, failed: 0, migrateScanned: 0, freeScanned: 0 },
    ]);
    b.check();
  });

  it("compact_memory moves the low movable pages to the top and rebuilds order-4 blocks", () => {
    const { b, memory, owner } = fragmented();
    const moves: string[] = [];
    connect(b, owner, moves);
    const [r] = b.compactMemory();
    // Migrate block [8k, 8k+8) fills free block 248 − 8k. The last one, [0x78, 0x80), finds no
    // target above the free scanner's floor (pageblock_end_pfn(migrate_pfn) = 0x88) and stays.
    expect(r).toMatchObject({ zone: "Normal", status: "complete", migrated: 60, failed: 4 });
    expect(moves.slice(0, 5)).toEqual(["1->248/0", "3->250/0", "5->252/0", "7->254/0", "9->240/0"]);
    expect(b.buddyinfo()).toBe("Node 0, zone   Normal      8      0      0      1      7 \n");
    expect(b.fragmentationIndex("Normal", 2)).toBe(-1000);
    // Every page kept its contents across the move.
    for (const [h, at] of owner) expect(memory.readU32(physAddr(at * 4096 + 100))).toBe(0xa5a50000 + h);
    expect(b.stats()).toMatchObject({ pgmigrateSuccess: 60, pgmigrateFail: 4 });
    expect(b.alloc_pages(GFP_NOWAIT | __GFP_MOVABLE, 2)).toBe(0x70);
    b.check();
  });

  it("direct compaction in the slow path serves an unmovable order-2 request", () => {
    const { b, owner } = fragmented();
    const moves: string[] = [];
    connect(b, owner, moves);
    expect(b.alloc_pages(GFP_KERNEL, 2)).toBe(0x0);
    // One pageblock was enough: 1, 3, 5, 7 moved up and 0x0-0x7 merged.
    expect(moves).toEqual(["1->248/0", "3->250/0", "5->252/0", "7->254/0"]);
    expect(b.stats()).toMatchObject({ compactStall: 1, compactSuccess: 1, compactFail: 0 });
    b.check();
  });

  it("a pinned page (owner refuses) stays, and compaction carries on", () => {
    const { b, owner } = fragmented();
    b.setHooks({
      migratePage: (from, to) => {
        if (from === 3) return false;
        for (const [h, at] of owner) if (at === from) owner.set(h, to);
        return true;
      },
    });
    const r = b.compactZone("Normal");
    // The refused target (250) goes back to the head of the isolated list and serves page 5,
    // so the stream of targets runs one page further: 1 refusal + 3 pages of the last block.
    expect(r).toMatchObject({ status: "complete", migrated: 60, failed: 4 });
    expect(b.frameInfo(3)).toMatchObject({ state: "allocated", refcount: 1 });
    b.check();
  });
});

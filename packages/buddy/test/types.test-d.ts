import type { FrameAllocator, PhysAddr, VirtAddr } from "@memstack/core";
import { describe, expectTypeOf, it } from "vitest";
import { type BuddyAllocator, createBuddyAllocator, type Pfn } from "../src/index.js";

describe("buddy types", () => {
  it("hands out and takes back Pfn, not addresses or plain numbers", () => {
    const b = createBuddyAllocator({ frameCount: 64 });
    expectTypeOf(b.allocFrames(0)).toEqualTypeOf<Pfn | null>();
    expectTypeOf(b.alloc_pages(0, 0)).toEqualTypeOf<Pfn | null>();
    expectTypeOf(b.__free_pages).parameter(0).toEqualTypeOf<Pfn>();
    expectTypeOf<VirtAddr>().not.toMatchTypeOf<Parameters<BuddyAllocator["freeFrames"]>[0]>();
    expectTypeOf<PhysAddr>().not.toMatchTypeOf<Parameters<BuddyAllocator["free"]>[0]>();
    expectTypeOf<number>().not.toMatchTypeOf<Parameters<BuddyAllocator["get_page"]>[0]>();
    // __get_free_pages returns an address, as Linux returns an unsigned long.
    expectTypeOf(b.__get_free_pages(0, 0)).toEqualTypeOf<number>();
  });

  it("implements the FrameAllocator port", () => {
    expectTypeOf<BuddyAllocator>().toMatchTypeOf<FrameAllocator>();
  });
});

import { describeFrameAllocator } from "@memstack/testkit";
import { createBuddyAllocator } from "../src/index.js";

// The suite frees a page after exhausting memory and expects it back at
// once. With per-CPU lists the freed page rests on a pcp list, which the
// watermark check (NR_FREE_PAGES = 0) does not count, as in Linux; so these
// fixtures run the buddy lists alone (pcp: false).

describeFrameAllocator("BuddyAllocator (one DMA zone, no watermarks)", () => ({
  allocator: createBuddyAllocator({ frameCount: 64, maxOrder: 4, minFreeKbytes: 0, pcp: false }),
  firstPfn: 0,
  maxOrder: 4,
}));

describeFrameAllocator("BuddyAllocator (a Normal zone from pfn 0x43)", () => ({
  allocator: createBuddyAllocator({
    frameCount: 0x43 + 77,
    maxOrder: 3,
    minFreeKbytes: 0,
    pcp: false,
    zones: [{ name: "Normal", startPfn: 0x43, endPfn: 0x43 + 77 }],
  }),
  firstPfn: 0x43,
  maxOrder: 3,
}));

// lowmem_reserve would keep DMA32/256 = 4 DMA pages from GFP_KERNEL; the
// suite expects every frame to be handed out, so the ratios are zeroed.
describeFrameAllocator("BuddyAllocator (x86-64 zones over 20 MiB)", () => ({
  allocator: createBuddyAllocator({
    frameCount: 5120,
    minFreeKbytes: 0,
    pcp: false,
    lowmemReserveRatio: [0, 0, 0, 0, 0, 0],
  }),
  firstPfn: 0,
  maxOrder: 10,
}));

import {
  BitmapFrameAllocator,
  Fault,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SimpleMmu,
  SparseRam,
  virtAddr,
} from "@memstack/core";
import { Kernel } from "@memstack/kernel";

// The kernel over core's reference parts (@memstack/machine wires the real MMU and buddy allocator).
const ram = new SparseRam({ sizeBytes: 64 * 1024 * 1024 });
const kernel = new Kernel({
  ram,
  frames: new BitmapFrameAllocator({ frameCount: ram.frameCount }),
  mmu: new SimpleMmu({ ram }),
});

const parent = kernel.spawn("parent");
const a = parent.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE); // top-down below mmap_base
parent.storeU32(virtAddr(a), 42); // a write fault: a zeroed frame is mapped
const child = parent.fork("child")!; // copy-on-write: no page is copied
child.storeU32(virtAddr(a), 7); // now one is
console.log(parent.loadU32(virtAddr(a)), child.loadU32(virtAddr(a))); // 42 7
console.log(kernel.pages.stats.cowCopies); // 1

try {
  parent.storeU8(virtAddr(0x10000), 1);
} catch (e) {
  if (e instanceof Fault) console.log(e.reason); // "not-mapped": SIGSEGV
}
console.log(parent.maps().split("\n")[0]); // 7ffff7dfe000-7ffff7e00000 rw-p 00000000 00:00 0
kernel.check(); // every frame accounted for

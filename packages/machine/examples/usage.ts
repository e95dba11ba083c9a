import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, virtAddr } from "@memstack/core";
import { ProcessKilled } from "@memstack/kernel";
import { createMachine } from "@memstack/machine";

// 20 processes each map 5 MiB on a 50 MiB machine, then touch it all.
const machine = createMachine({ ram: "50M", overcommit: 0 });
const survivors: number[] = [];
for (let i = 0; i < 20; i++) {
  const p = machine.spawn(`worker${i}`);
  const a = p.mmap(0, 5 * 1024 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE); // succeeds: heuristic overcommit
  try {
    for (let off = 0; off < 5 * 1024 * 1024; off += 4096) p.storeU8(virtAddr(a + off), 1);
    survivors.push(p.pid);
  } catch (e) {
    if (!(e instanceof ProcessKilled)) throw e; // the OOM killer chose this one
  }
}
console.log(machine.kernel.dmesg[0]?.slice(0, 40)); // Out of memory: Killed process 1 (worker0
console.log(machine.kernel.processes().filter((p) => p.alive).length <= 9); // true
machine.check(); // RAM, buddy allocator, page tables, TLB and kernel all agree

// A shared mapping stays shared across fork; a private one is copied on write.
const parent = machine.spawn("parent");
const s = parent.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
const child = parent.fork("child")!;
child.storeU8(virtAddr(s), 9);
console.log(parent.loadU8(virtAddr(s))); // 9
console.log(machine.buddyinfo().split("\n")[0]?.startsWith("Node 0, zone      DMA")); // true
void survivors;

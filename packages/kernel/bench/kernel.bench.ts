// System-call cost against the number of VMAs, and demand-zero faults.
//   pnpm --filter @memstack/kernel bench
// Every figure sits beside its baseline in the same run: the same call with
// 100 VMAs, and a plain typed-array page fill for the faults.
import {
  BitmapFrameAllocator,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SimpleMmu,
  SparseRam,
  virtAddr,
} from "@memstack/core";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { Kernel, type Process } from "../src/index.js";

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;

function kernel(ramBytes: number): Kernel {
  const ram = new SparseRam({ sizeBytes: ramBytes });
  return new Kernel({
    ram,
    frames: new BitmapFrameAllocator({ frameCount: ramBytes / PAGE }),
    mmu: new SimpleMmu({ ram }),
    maxMapCount: 1 << 20,
  });
}

// A process with `count` separate one-page VMAs, one page apart, and a
// free three-page hole in the middle of them for the measured calls.
function withVmas(count: number): { p: Process; hole: number } {
  const k = kernel(64 * 1024 * 1024);
  const p = k.spawn();
  const base = 0x100000000;
  const middle = Math.floor(count / 2);
  for (let i = 0; i < count; i++) {
    if (i === middle) continue;
    p.mmap(base + i * 4 * PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED);
  }
  return { p, hole: base + middle * 4 * PAGE };
}

const small = withVmas(100);
const large = withVmas(100_000);

for (const op of ["mmap+munmap", "mprotect split+merge"] as const) {
  summary(() => {
    group(op, () => {
      for (const [label, { p, hole }] of [
        ["100 VMAs (baseline)", small],
        ["100 000 VMAs", large],
      ] as const) {
        const b = bench(label, () => {
          if (op === "mmap+munmap") {
            const a = p.mmap(hole, PAGE, RW, MAP_PRIVATE | MAP_FIXED);
            do_not_optimize(p.munmap(a, PAGE));
          } else {
            p.mmap(hole, 2 * PAGE, RW, MAP_PRIVATE | MAP_FIXED);
            p.mprotect(hole, PAGE, PROT_READ);
            p.mprotect(hole, PAGE, RW);
            do_not_optimize(p.munmap(hole, 2 * PAGE));
          }
        });
        if (label.includes("baseline")) b.baseline(true);
      }
    });
  });
}

// Demand-zero faults through the reference MMU: each first write to a page
// allocates and maps a zeroed frame. Baseline: filling a fresh 4 KiB page
// of a typed array, the work a fault stands for.
const faultPages = 4096;
summary(() => {
  group(`${faultPages} demand-zero faults`, () => {
    bench("Uint8Array page fill (baseline)", () => {
      const buf = new Uint8Array(faultPages * PAGE);
      for (let i = 0; i < faultPages; i++) buf.fill(0, i * PAGE, i * PAGE + PAGE);
      return do_not_optimize(buf);
    }).baseline(true);
    bench("first writes through a Process", function* () {
      yield {
        [0]() {
          const k = kernel(64 * 1024 * 1024);
          const p = k.spawn();
          return { p, a: p.mmap(0, faultPages * PAGE, RW, MAP_PRIVATE) };
        },
        bench({ p, a }: { p: Process; a: number }) {
          for (let i = 0; i < faultPages; i++) p.storeU8(virtAddr(a + i * PAGE), 1);
        },
      };
    });
  });
});

await run();

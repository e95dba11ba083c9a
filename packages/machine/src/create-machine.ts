/**
 * createMachine(): the one place where memstack's layers are wired into a
 * simulated Linux machine, through factory parameters only — no layer
 * reaches into another.
 *
 *                 Kernel ── processes, VMAs, faults, swap, OOM
 *          frames │  ▲ hooks: reclaim, OOM, kswapd, warnings
 *   (GFP_HIGHUSER_MOVABLE)   │
 *        ┌────────▼──┴─────────┐        ┌────────────────────┐
 *        │   BuddyAllocator    │◄───────│  Mmu (x86-64, TLB) │
 *        └─────────┬───────────┘ tables └─────────┬──────────┘
 *                  │ (GFP_KERNEL_ACCOUNT|__GFP_ZERO)│
 *                  └──────────── SparseRam ◄────────┘
 *
 * User pages are allocated as Linux allocates anonymous memory
 * (GFP_HIGHUSER_MOVABLE), page tables as Linux allocates them
 * (GFP_KERNEL_ACCOUNT | __GFP_ZERO). The buddy allocator's slow path calls
 * the kernel's direct reclaim and OOM killer and wakes its kswapd; its
 * allocation-failure warnings go to the kernel log. Compaction does not move
 * process pages (the kernel refuses migration), as for pinned memory.
 */
import {
  __GFP_COMP,
  __GFP_ZERO,
  createBuddyAllocator,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL_ACCOUNT,
  GFP_TRANSHUGE,
} from "@memstack/buddy";
import {
  CorruptionError,
  type FrameAllocator,
  type Pfn,
  parseSize,
  SparseRam,
  UsageError,
} from "@memstack/core";
import { Kernel } from "@memstack/kernel";
import { Mmu } from "@memstack/mmu";
import type { Machine, MachineOptions } from "./api.js";

const PKG = "@memstack/machine";
const PAGE = 4096;

function bytes(value: number | string | undefined, fallback: number, name: string): number {
  const n = value === undefined ? fallback : typeof value === "string" ? parseSize(value) : value;
  if (!Number.isSafeInteger(n) || n < 0 || n % PAGE !== 0) {
    throw new UsageError(
      PKG,
      `createMachine: ${name} must be a whole number of 4 KiB pages, got ${String(value)}`,
      name,
    );
  }
  return n;
}

/**
 * A FrameAllocator view of the buddy allocator that allocates with one GFP
 * mask and counts what it holds. A class, not an object literal: a literal's
 * getters are new closures each time it is made, which V8 keeps in the
 * object rather than its map, so optimized code reads them through a
 * generic inline-cache call (every page fault's watermark check reads
 * `freeFrameCount`); a prototype getter is inlined.
 */
class FramesView implements FrameAllocator {
  private readonly buddy: ReturnType<typeof createBuddyAllocator>;
  private readonly frames: FrameAllocator;
  // Views that free each other's frames share one count.
  private readonly count: { inUse: number };

  constructor(buddy: ReturnType<typeof createBuddyAllocator>, gfp: number, count = { inUse: 0 }) {
    this.buddy = buddy;
    // The mask is checked and resolved once: a page fault allocates no object and re-checks nothing.
    this.frames = buddy.frameAllocator(gfp);
    this.count = count;
  }

  get frameCount(): number {
    return this.buddy.frameCount;
  }

  get freeFrameCount(): number {
    return this.buddy.freeFrameCount;
  }

  get inUse(): number {
    return this.count.inUse;
  }

  allocFrames(order: number): Pfn | null {
    const p = this.frames.allocFrames(order);
    if (p !== null) this.count.inUse += order === 0 ? 1 : 2 ** order;
    return p;
  }

  freeFrames(frame: Pfn, order: number): void {
    this.buddy.freeFrames(frame, order);
    this.count.inUse -= order === 0 ? 1 : 2 ** order;
  }

  splitFrames(frame: Pfn, order: number): void {
    this.buddy.splitFrames(frame, order);
  }
}

/**
 * Builds a simulated x86-64 Linux machine. `createMachine()` with no options
 * gives 1 GiB of RAM, no swap, the heuristic overcommit policy and a
 * Skylake-sized TLB.
 *
 * @throws {UsageError} naming an option that is not a size or is out of range.
 */
export function createMachine(options: MachineOptions = {}): Machine {
  const ramBytes = bytes(options.ram, 1024 * 1024 * 1024, "ram");
  if (ramBytes < 4 * 1024 * 1024) {
    throw new UsageError(PKG, `createMachine: ram must be at least 4M, got ${String(options.ram)}`, "ram");
  }
  const swapBytes = bytes(options.swap, 0, "swap");
  const { maxMapCount } = options;
  if (maxMapCount !== undefined && (!Number.isSafeInteger(maxMapCount) || maxMapCount < 1)) {
    throw new UsageError(
      PKG,
      `createMachine: maxMapCount must be a positive integer, got ${String(maxMapCount)}`,
      "maxMapCount",
    );
  }
  const overcommit =
    typeof options.overcommit === "number" ? { mode: options.overcommit } : options.overcommit;
  const ram = new SparseRam({ sizeBytes: ramBytes });
  const buddy = createBuddyAllocator({ memory: ram });
  const userCount = { inUse: 0 };
  const userFrames = new FramesView(buddy, GFP_HIGHUSER_MOVABLE, userCount);
  // Transparent huge pages: GFP_TRANSHUGE (direct reclaim, no kswapd, no
  // warning, never the OOM killer), not compound, so that the kernel can
  // split each into the order-0 pages it frees through userFrames.
  const thpFrames = new FramesView(buddy, GFP_TRANSHUGE & ~__GFP_COMP, userCount);
  const tableFrames = new FramesView(buddy, GFP_KERNEL_ACCOUNT | __GFP_ZERO);
  const mmu = new Mmu({
    memory: ram,
    frames: tableFrames,
    ...(options.tlb === undefined ? {} : { tlb: options.tlb }),
  });
  // The kernel wakes kswapd at the sum of the zones' low marks and reclaims to the sum of their high marks.
  const zones = buddy.zones();
  const sum = (k: "min" | "low" | "high") => zones.reduce((s, z) => s + z[k], 0);
  const kernel = new Kernel({
    ram,
    frames: userFrames,
    mmu,
    swapBytes,
    ...(overcommit === undefined ? {} : { overcommit }),
    watermarks: { min: sum("min"), low: sum("low"), high: sum("high") },
    ...(options.mmapMinAddr === undefined ? {} : { mmapMinAddr: options.mmapMinAddr }),
    ...(maxMapCount === undefined ? {} : { maxMapCount }),
    ...(options.executeOnly === undefined ? {} : { executeOnly: options.executeOnly }),
    ...(options.zeroPage === undefined ? {} : { zeroPage: options.zeroPage }),
    ...(options.thp === undefined ? {} : { thp: options.thp }),
    ...(options.pageCluster === undefined ? {} : { pageCluster: options.pageCluster }),
    thpFrames,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    pageTableFrames: () => tableFrames.inUse,
  });
  buddy.setHooks({
    wakeKswapd: () => kernel.wakeKswapd(),
    reclaim: () => kernel.reclaim(32),
    outOfMemory: () => kernel.oomKill(),
    migratePage: () => false,
    warn: (line) => {
      kernel.dmesg.push(line);
    },
  });
  return {
    ram,
    buddy,
    mmu,
    kernel,
    spawn: (name?: string) => kernel.spawn(name),
    meminfo: () => kernel.meminfo(),
    buddyinfo: () => buddy.buddyinfo(),
    get pageTableFrames() {
      return tableFrames.inUse;
    },
    check(): void {
      ram.check();
      buddy.check();
      mmu.check();
      kernel.check();
      // Each process's tables in RAM are at most its PGD and the tables the
      // kernel counts as Linux's (fewer only when making one ahead ran out of memory).
      for (const p of kernel.processes()) {
        if (!p.alive) continue;
        const held = mmu.tablesOf(p.space);
        if (held > 1 + p.mm.tables.count) {
          throw new CorruptionError(
            PKG,
            `process ${p.pid} has ${held} page-table frames in RAM, but its PGD and VmPTE count only ${1 + p.mm.tables.count}`,
          );
        }
      }
    },
  };
}

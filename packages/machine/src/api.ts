/**
 * Options and types of @memstack/machine.
 */
import type { BuddyAllocator } from "@memstack/buddy";
import type { SparseRam } from "@memstack/core";
import type { Kernel, OvercommitMode, Process, ThpMode } from "@memstack/kernel";
import type { Mmu, TlbOptions } from "@memstack/mmu";

/** Options of {@link createMachine}; every one has a default. */
export interface MachineOptions {
  /** RAM: bytes or a size such as `"512M"`. @defaultValue "1G" */
  ram?: number | string;
  /** Swap device: bytes or a size such as `"256M"`; 0 for none. @defaultValue 0 */
  swap?: number | string;
  /** vm.overcommit_memory (0 heuristic, 1 always, 2 never), or it with vm.overcommit_ratio. @defaultValue 0, ratio 50 */
  overcommit?: OvercommitMode | { mode?: OvercommitMode; ratio?: number };
  /** The TLB's shape. @defaultValue Skylake's (see @memstack/mmu) */
  tlb?: TlbOptions;
  /** Seed for every random choice (VMA tree priorities today). @defaultValue 1 */
  seed?: number;
  /** vm.mmap_min_addr. @defaultValue 65536 */
  mmapMinAddr?: number;
  /** vm.max_map_count: the most VMAs a process may have. @defaultValue 65530 */
  maxMapCount?: number;
  /**
   * Execute-only memory for PROT_EXEC alone, as Linux on an x86 CPU with
   * protection keys (see the kernel's `KernelOptions.executeOnly`). @defaultValue true
   */
  executeOnly?: boolean;
  /**
   * The shared zero page for reads of memory never written (see the
   * kernel's `KernelOptions.zeroPage`); false allocates a page of zeros
   * instead, as this machine's kernel does on boots with `pvm_no_zero_page=1`.
   * @defaultValue true
   */
  zeroPage?: boolean;
  /**
   * Transparent huge pages, as /sys/kernel/mm/transparent_hugepage/enabled
   * (see the kernel's `KernelOptions.thp`): `"madvise"` maps a 2 MiB page
   * for a fault in a MADV_HUGEPAGE region of private anonymous memory.
   * @defaultValue "madvise", this machine's Linux setting
   */
  thp?: ThpMode;
  /**
   * vm.page-cluster: a swap fault reads up to 2^min(pageCluster, 5) pages
   * around it ahead (see the kernel's `KernelOptions.pageCluster`); 0 reads
   * the faulting page only. @defaultValue 3
   */
  pageCluster?: number;
}

/** A simulated machine: RAM, page allocator, MMU and kernel, wired. */
export interface Machine {
  readonly ram: SparseRam;
  readonly buddy: BuddyAllocator;
  readonly mmu: Mmu;
  readonly kernel: Kernel;
  /** Starts a process with a fresh address space. */
  spawn(name?: string): Process;
  /** /proc/meminfo. */
  meminfo(): string;
  /** /proc/buddyinfo. */
  buddyinfo(): string;
  /** Frames the MMU's page tables hold now. */
  readonly pageTableFrames: number;
  /** Every layer's check(): RAM, buddy allocator, MMU and kernel. @throws {CorruptionError} */
  check(): void;
}

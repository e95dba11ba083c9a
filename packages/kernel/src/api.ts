/**
 * Options and shared types of @memstack/kernel.
 */
import type { FrameAllocator, MemoryManagementUnit, PhysicalMemory } from "@memstack/core";
import type { OvercommitMode } from "./mm/commit.js";
import type { ThpMode } from "./mm/pages.js";

/** Watermarks of the page allocator, in frames (mm/page_alloc.c's WMARK_MIN/LOW/HIGH). */
export interface Watermarks {
  /** Below it only atomic allocations succeed. */
  min: number;
  /** Below it kswapd is woken to reclaim. */
  low: number;
  /** kswapd reclaims until free memory is back above it. */
  high: number;
}

/** Options of {@link Kernel}. */
export interface KernelOptions {
  /** The machine's RAM. */
  ram: PhysicalMemory;
  /** The page allocator (for example the buddy allocator). */
  frames: FrameAllocator;
  /** The MMU, whose page tables and TLB every process runs through. */
  mmu: MemoryManagementUnit;
  /** Size of the swap device in bytes, a multiple of 4096. @defaultValue 0 (no swap) */
  swapBytes?: number;
  /** vm.overcommit_memory and vm.overcommit_ratio. @defaultValue { mode: 0, ratio: 50 } */
  overcommit?: { mode?: OvercommitMode; ratio?: number };
  /** Watermarks in frames. @defaultValue Linux's for one zone holding all the RAM */
  watermarks?: Watermarks;
  /**
   * vm.page-cluster: a swap fault reads ahead up to 2^min(pageCluster, 5)
   * pages around it in its VMA (Linux's VMA-based readahead, the default
   * for a swap device that is not a rotating disk); 0 reads the faulting
   * page only. An integer from 0 to 31, as the sysctl takes. @defaultValue 3
   */
  pageCluster?: number;
  /** vm.mmap_min_addr. @defaultValue 65536 */
  mmapMinAddr?: number;
  /** vm.max_map_count. @defaultValue 65530 */
  maxMapCount?: number;
  /**
   * Execute-only memory, as Linux gives it on an x86 CPU with protection keys
   * (PKU, as on the machine the fixtures were recorded on): a mapping whose
   * protection is exactly PROT_EXEC gets the execute-only key, so a load or
   * store there is SIGSEGV (reason `protection-key`). With false, PROT_EXEC
   * implies read access, as on a CPU without PKU. @defaultValue true
   */
  executeOnly?: boolean;
  /**
   * The shared zero page. With true, a read of private anonymous memory
   * never written maps the zero page (4 KiB, or the huge zero page in a
   * region that may take a transparent huge page), read-only, and takes no
   * frame. With false, the read allocates a page of zeros (a huge page
   * where one may go) as a write would: mapped writable and dirty when the
   * VMA is writable, a huge page dirty always (do_anonymous_page() and
   * do_huge_pmd_anonymous_page() when mm_forbids_zeropage() holds). That is
   * what the kernel of the machine the fixtures come from does on boots with
   * `pvm_no_zero_page=1` on its command line (a patch of its hypervisor's
   * guest kernel); a huge page split there still maps its pages of zeros to
   * the zero page, as here. @defaultValue true
   */
  zeroPage?: boolean;
  /** Seed for every random choice the kernel makes (VMA tree priorities). @defaultValue 1 */
  seed?: number;
  /**
   * Transparent huge pages (/sys/kernel/mm/transparent_hugepage/enabled):
   * `"madvise"` gives a 2 MiB page to a fault in a region of a private
   * anonymous VMA marked MADV_HUGEPAGE (and the huge zero page to a read),
   * `"always"` to any such VMA not marked MADV_NOHUGEPAGE, `"never"` to
   * none. Needs `thpFrames`. @defaultValue "madvise", as on the machine the
   * fixtures were recorded on
   */
  thp?: ThpMode;
  /**
   * Where huge pages come from: a FrameAllocator that allocates with
   * GFP_TRANSHUGE (without __GFP_COMP) and can split what it allocates
   * (`splitFrames`); its pages are freed through `frames`. @defaultValue
   * none: no transparent huge pages
   */
  thpFrames?: FrameAllocator;
  /**
   * How many frames the MMU's page tables hold, for `check()`'s balance of
   * the RAM. @defaultValue none (0), as for an MMU whose tables take no frames
   */
  pageTableFrames?: () => number;
}

export type { OvercommitMode, ThpMode };

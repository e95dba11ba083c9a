/**
 * The `MemoryManagementUnit` port: what a kernel needs of the hardware that
 * translates virtual addresses — address spaces, page-table editing,
 * translation read-back, TLB invalidation, and loads and stores through the
 * current address space with page faults handed to the kernel.
 *
 * Used by the kernel (processes, demand paging, copy-on-write, swap, /proc
 * views); implemented by `@memstack/mmu` (x86-64 4-level paging or RISC-V
 * Sv39, with a set-associative TLB), so the kernel never imports it and a
 * second MMU can replace it.
 *
 * Addresses. A virtual address is the 64-bit address read as a *signed*
 * integer, so the canonical upper half of x86-64 (0xffff_8000_0000_0000 and
 * above, the kernel's half) is the negative range [-2^47, 0) and every
 * canonical address is a safe integer. Physical addresses are plain
 * non-negative numbers.
 *
 * Faithfulness. The editing methods change the page tables in RAM only; like
 * real hardware, the TLB keeps whatever it cached until it is invalidated.
 * After changing or removing a present mapping the kernel must call one of
 * the `invalidate*` methods (Linux's flush_tlb_*); filling an empty entry
 * needs no invalidation, because not-present translations are never cached.
 *
 * Page faults. A load or store through the unit that finds no usable
 * translation first calls the handler registered with `onPageFault`, with
 * the faulting address, the access and the x86 #PF error code; a handler
 * that fixed the cause (mapped a zero page, copied a shared page, swapped a
 * page in) returns true and the access is retried. Only when there is no
 * handler or it returns false does the access throw core's {@link Fault}.
 * Non-canonical addresses are a #GP, not a #PF: they never reach the handler.
 */
import type { PhysAddr } from "../address.js";
import type { Access } from "../errors.js";
import type { FastTags, VirtualMemory } from "./virtual-memory.js";

/** Bit 0 of the page-fault error code: the page was present (a protection violation); clear for a not-present page. */
export const PF_PRESENT = 1 << 0;
/** Bit 1 of the page-fault error code: the access was a write. */
export const PF_WRITE = 1 << 1;
/** Bit 2 of the page-fault error code: the access came from user mode (CPL 3). */
export const PF_USER = 1 << 2;
/** Bit 3 of the page-fault error code: a paging entry on the way had a reserved bit set. */
export const PF_RESERVED = 1 << 3;
/** Bit 4 of the page-fault error code: the access was an instruction fetch. */
export const PF_INSTRUCTION = 1 << 4;

/**
 * Rights of a mapping. Every present page is readable (x86-64 has no
 * write-only or execute-only pages; an Sv39 MMU maps these rights to R, W, X).
 */
export interface PageRights {
  /** Writable (x86 R/W, Sv39 W). */
  readonly write: boolean;
  /** Accessible from user mode (x86 U/S, Sv39 U). */
  readonly user: boolean;
  /** Executable (x86 NX clear, Sv39 X). */
  readonly execute: boolean;
  /** Global: survives address-space switches in the TLB (x86 G, Sv39 G). @defaultValue false */
  readonly global?: boolean;
}

/** One leaf mapping as the page tables hold it, read without side effects. */
export interface PageMapping extends Required<PageRights> {
  /** First byte of the page (signed canonical virtual address). */
  readonly virt: number;
  /** First byte of the physical page. */
  readonly phys: PhysAddr;
  /** Size of the page in bytes: 4096, 2 MiB or 1 GiB. */
  readonly pageSize: number;
  /** The Accessed bit in the entry (set by the walker on first use). */
  readonly accessed: boolean;
  /** The Dirty bit in the entry (set by the walker on first write). */
  readonly dirty: boolean;
  /** Physical address of the 8-byte leaf entry, to read it raw. */
  readonly pteAddress: PhysAddr;
}

/**
 * Called when a translated access faults; returns true when it fixed the
 * cause and the access should be retried.
 *
 * @param address - the faulting virtual address (x86 CR2).
 * @param access - what the access tried to do.
 * @param errorCode - the x86 #PF error code ({@link PF_PRESENT}, {@link PF_WRITE}, ...).
 */
export type PageFaultHandler = (address: number, access: Access, errorCode: number) => boolean;

/** Privilege of the accesses made through the unit: x86 CPL 3 or CPL 0, RISC-V U or S mode. */
export type Privilege = "user" | "supervisor";

/**
 * The hardware half of virtual memory as a kernel sees it. Its
 * {@link VirtualMemory} members access the current address space at the
 * current privilege, through the TLB.
 */
export interface MemoryManagementUnit extends VirtualMemory {
  /**
   * Page sizes the format supports, ascending (4096 first). Needed to choose
   * huge pages (THP, hugetlbfs) without knowing the hardware.
   */
  readonly pageSizes: readonly number[];

  /**
   * Address space used by the VirtualMemory members (the one in CR3 / satp),
   * or -1 before the first switch.
   */
  readonly currentAddressSpace: number;

  /**
   * The unit's fast tags ({@link FastTags}), when it keeps any: its
   * `owner` is the current address space in user mode, else -1.
   */
  readonly fastTags?: FastTags;

  /**
   * Privilege of the VirtualMemory members. A kernel sets `"supervisor"` on
   * entry (a syscall, a fault) and `"user"` before running user code, so that
   * user code faults on kernel pages as it would on real hardware.
   * @defaultValue "user"
   */
  privilege: Privilege;

  /**
   * Whether `addr` is canonical (inside the format's virtual address range).
   * A kernel needs it to answer mmap hints and to tell #GP from #PF.
   */
  isCanonical(addr: number): boolean;

  /**
   * Creates an empty address space: a zeroed root table and a PCID/ASID (one
   * per process, fork, exec).
   *
   * @returns its id, or `null` when the frame allocator has no frame for the root table.
   */
  createAddressSpace(): number | null;

  /**
   * Destroys an address space (process exit): frees every page table it owns
   * and drops its TLB entries. The frames its leaves mapped are the kernel's
   * and are not freed.
   *
   * @throws {UsageError} for an unknown id or the current address space.
   */
  destroyAddressSpace(space: number): void;

  /**
   * Makes `space` current (a CR3 / satp write at a context switch). With
   * PCIDs the TLB keeps every space's entries apart, so nothing is flushed
   * unless the PCID was last used by another space.
   *
   * @throws {UsageError} for an unknown id.
   */
  switchAddressSpace(space: number): void;

  /**
   * Maps `length` bytes at `virt` to `phys` with pages of `pageSize`
   * (mmap populate, a page-fault fix, remap_pfn_range, a huge page).
   * Replaces existing leaves of the same size; allocates page tables from
   * the frame allocator.
   *
   * With `dirty`, the new entries have their Dirty bit set, as a copy of a
   * dirty entry has (fork's copy of a private page, `copy_present_pte()`;
   * an entry mremap moves): the Accessed bit starts clear either way.
   *
   * @returns true, or false when a page-table frame could not be allocated
   * (nothing is changed then).
   * @throws {UsageError} for an unaligned or non-canonical range, a page size
   * the format lacks, a physical range past the RAM, or a range that overlaps
   * a mapping of another page size; the tables are unchanged.
   */
  map(
    space: number,
    virt: number,
    phys: PhysAddr,
    length: number,
    pageSize: number,
    rights: PageRights,
    dirty?: boolean,
  ): boolean;

  /**
   * Removes every mapping in [virt, virt + length) (munmap, swap-out,
   * MADV_DONTNEED) and frees page tables left empty, unless `keepTables`:
   * then the tables stay, empty or not, until {@link freeTables} (a kernel
   * that frees tables as Linux's `free_pgtables()` does). Holes are skipped.
   *
   * @returns the number of leaf entries cleared.
   * @throws {UsageError} for an unaligned range or one that cuts a huge page.
   */
  unmap(space: number, virt: number, length: number, keepTables?: boolean): number;

  /**
   * Frees the page tables of `space` that map nothing and whose whole
   * region (the span their entries cover) lies inside [start, end): the
   * tables `unmap(…, true)` kept. Optional: an MMU without page tables in
   * RAM has none to free.
   *
   * @returns the number of tables freed.
   * @throws {UsageError} for an empty, unaligned or non-canonical range.
   */
  freeTables?(space: number, start: number, end: number): number;

  /**
   * Makes the page tables down to the one a page of `pageSize` (4 KiB by
   * default) at `virt` would be mapped in, mapping nothing (Linux's fork and
   * mremap allocate tables ahead of the pages, and a fault the tables above
   * its page). Optional, as {@link freeTables}.
   *
   * @returns false when a table frame could not be allocated (nothing is changed then).
   * @throws {UsageError} for a size that is not the span of a table entry below the root, or an address not aligned to it or not canonical.
   */
  prepareTables?(space: number, virt: number, pageSize?: number): boolean;

  /**
   * Sets the rights of every mapping in [virt, virt + length) (mprotect,
   * write-protecting pages for copy-on-write), keeping frames and A/D bits.
   *
   * @returns the number of leaf entries changed.
   * @throws {UsageError} for an unaligned range or one that cuts a huge page.
   */
  protect(space: number, virt: number, length: number, rights: PageRights): number;

  /**
   * Reads the leaf mapping that covers `virt`, without setting A/D bits or
   * touching the TLB (/proc/PID/pagemap, fault handling, swap-out choices).
   *
   * @returns the mapping, or null when `virt` is not mapped.
   */
  query(space: number, virt: number): PageMapping | null;

  /**
   * Calls `visit` for every leaf mapping that overlaps [start, end), in
   * address order, without side effects (/proc/PID/smaps, visualisers,
   * fork's copy of the page tables).
   */
  walkRange(space: number, start: number, end: number, visit: (mapping: PageMapping) => void): void;

  /**
   * Clears the Accessed bit of the mapping covering `virt` and says whether
   * it was set (Linux's ptep_test_and_clear_young, for page reclaim's LRU).
   * Like Linux on x86, it does not invalidate the TLB.
   *
   * @returns false also when `virt` is not mapped.
   */
  testAndClearAccessed(space: number, virt: number): boolean;

  /**
   * Clears the Accessed and Dirty bits of the mapping covering `virt` and
   * drops its cached translation, so the next write sets Dirty again
   * (MADV_FREE's pte_mkold and pte_mkclean, then the TLB flush): reclaim
   * then tells a page written since from one that was not.
   *
   * @param invalidate - false leaves the flush to the caller, who makes it
   *   before the next access (an mmu_gather's at the end of a call, over
   *   every entry it cleaned): until then the cached translation is stale.
   * @returns false when `virt` is not mapped.
   */
  clean(space: number, virt: number, invalidate?: boolean): boolean;

  /**
   * Drops the TLB's translation of the page holding `virt` in `space`
   * (INVLPG for the current space, INVPCID individual-address otherwise).
   */
  invalidatePage(space: number, virt: number): void;

  /** Drops every non-global TLB entry of `space` (INVPCID single-context; flush_tlb_mm). */
  invalidateAddressSpace(space: number): void;

  /** Drops every TLB entry, global ones included (INVPCID all-context; flush_tlb_all). */
  invalidateAll(): void;

  /**
   * Registers the handler that page faults of translated accesses go to
   * first (the kernel's do_page_fault), or removes it with null.
   */
  onPageFault(handler: PageFaultHandler | null): void;
}

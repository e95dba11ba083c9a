/**
 * Pages: what the kernel does with frames and page-table entries — page
 * faults (demand-zero, the zero page, copy-on-write, shmem, swap-in), the
 * PageLayer the address spaces call (zap, protect, move, populate), fork's
 * copy of the page tables, and reclaim to swap.
 *
 * Models: mm/memory.c (handle_mm_fault, do_anonymous_page, do_wp_page,
 * do_swap_page, zap_pte_range, copy_page_range), mm/mprotect.c
 * (change_protection), mm/vmscan.c and mm/swap_state.c reduced to a clock.
 * The page tables are the MMU's, reached only through core's
 * MemoryManagementUnit port; frames come from core's FrameAllocator port.
 *
 * Simplifies:
 * - Reclaim is a clock (second chance) over physical frames: the hand skips
 *   a page whose Accessed bit was set (clearing it), and swaps out one that
 *   was not. A page shared after fork goes to one slot every mapping then
 *   refers to, unless one of its mappings was accessed; a shmem page leaves
 *   every process that maps it, and its object keeps the slot it went to
 *   (or drops it, never written). A lazily freed page (MADV_FREE) that was
 *   not written since is dropped instead, with no swap needed; one written
 *   since is an ordinary anonymous page again (mm/vmscan.c,
 *   folio_test_swapbacked).
 * - The swap cache keeps a private page read back from swap together with
 *   its slot, for the other entries that refer to the slot and so that a
 *   clean page goes back out with nothing written; and a page MADV_PAGEOUT
 *   wrote, until reclaim passes again (Linux's write to a disk ends after
 *   reclaim has moved on). Reclaim's own writes end at once. A page of
 *   zeros is not written: the slot is marked (the device's zeromap). A
 *   private swap fault reads ahead the swapped-out pages around it in its
 *   VMA, as Linux's VMA-based readahead does (swap_vma_readahead); a shmem
 *   fault reads its own page only (Linux reads a cluster of neighbouring
 *   slots there).
 * - A transparent huge page (THP, mm/huge_memory.c) is 512 frames taken
 *   as one order-9 block and zeroed together, mapped as Linux maps it with
 *   one PMD entry — but here by 512 PTEs in the PTE table Linux deposits
 *   beside such a PMD, so the TLB sees 4 KiB pages. `PageOwner.huge` marks
 *   the 2 MiB regions that Linux's PMD would map whole (a huge page, or the
 *   huge zero page after a read); a mark goes where Linux splits the PMD:
 *   any change to part of the region (zap, mprotect, a VMA boundary, a
 *   partial MADV_FREE/COLD/PAGEOUT, mremap off a 2 MiB step), swap-out,
 *   and a copy-on-write break of a page another process shares. The frames
 *   are split into order-0 pages at once, where Linux keeps the folio
 *   whole until it is split: a page unmapped from a split huge page goes
 *   back to the buddy allocator at once, not at the deferred split. The
 *   folio's split itself comes where Linux's comes: at a partial MADV_FREE,
 *   COLD or PAGEOUT, or at the next reclaim for a folio mapped in part
 *   (the deferred split shrinker).
 * - A PROT_NONE page cannot be present in the MMU's tables (every present
 *   x86 page is readable), so its frame is kept aside, per process, until
 *   the protection allows access again — Linux's _PAGE_PROTNONE. An
 *   execute-only page (PROT_EXEC alone, with `executeOnly`) is kept aside
 *   the same way: Linux maps it present with the execute-only protection
 *   key (arch/x86/mm/pkeys.c), which the MMU does not model, and a load or
 *   store there is SIGSEGV with SEGV_PKUERR.
 *
 * Frame metadata, in typed arrays indexed by pfn:
 *
 *     refs[pfn]      references: page-table entries plus one for a shmem object's hold
 *     kind[pfn]      FREE, ANON, SHMEM or ZERO
 *     ownerPid[pfn]  for an ANON frame mapped once: the process mapping it
 *     ownerVpn[pfn]  ... and the virtual page number there (the reverse map)
 *     lazy[pfn]      1 for an ANON frame freed lazily (MADV_FREE) and not yet dropped
 *     dirty[pfn]     the folio's dirty flag (PG_dirty; a mapping's own Dirty bit is
 *                    read from its entry): 1 for a SHMEM frame written since it was
 *                    allocated, a frame of the swap cache written since it was read,
 *                    or an ANON frame that left the swap cache or that GUP or reclaim
 *                    marked (#leaveCache, #redirtied), until MADV_FREE clears it
 *     cacheSlot[pfn] for an ANON frame in the swap cache: its slot, else -1
 *     readahead[pfn] 1 for a frame of the swap cache that readahead read and no fault
 *                    has found since (PG_readahead)
 *     hiddenYoung[pfn]  for a frame PROT_NONE keeps aside: the Accessed bit its
 *                    entry had, which reclaim tests and clears (a mapped page's is
 *                    read from its entry)
 *
 * A COW-shared ANON frame (refs > 1) lists its (pid, vpn) mappers in a Map,
 * as a SHMEM frame does all of its own; an ANON frame that only the swap
 * cache holds has refs 0.
 */

import * as core from "@memstack/core";
import {
  CorruptionError,
  Fault,
  type FrameAllocator,
  type MemoryManagementUnit,
  type PageMapping,
  type PageRights,
  type Pfn,
  type PhysicalMemory,
  UsageError,
} from "@memstack/core";
import type { AddressSpace, PageLayer } from "./address-space.js";
import * as addressSpace from "./address-space.js";
import { allZero, type SwapDevice } from "./swap.js";
import type { ShmemObject, Vma } from "./vma.js";
import * as vmaModule from "./vma.js";

// The constants and functions this module reads on its hot paths, bound
// here (see "Constants on hot paths" in the root README).
const { EINVAL, ENOMEM, PF_PRESENT, pfn, physAddr } = core;
const { newAnonVma, TASK_SIZE } = addressSpace;
const { anonVmaCompatible, VM_EXEC, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_READ, VM_SHARED, VM_WRITE } = vmaModule;

const PKG = "@memstack/kernel";
const PAGE = 4096;
/**
 * What a TLB flush covers: an entry changed (where, and the size of its
 * page: 2 MiB for a transparent huge page mapped whole, which Linux's PMD
 * maps and this kernel's 512 PTEs), or a page table freed (its region's
 * first 4 KiB, and as `stride` the region's size: free_pgtables() adds that
 * page to the mmu_gather's range and flushes by the table's level when no
 * entry was changed).
 */
type FlushedPage = Pick<PageMapping, "virt" | "pageSize"> & { stride?: number };
// No 2 MiB region (what #splitHugeIn finds of a process without huge pages).
const NO_REGIONS: readonly number[] = [];
// tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c): a flush of more pages than this flushes everything.
const TLB_FLUSH_CEILING = 33;
const FREE = 0;
const ANON = 1;
// mm/memory.c's fault_around_bytes (64 KiB) in pages, and x86-64's entries per page table.
const FAULT_AROUND_PAGES = 16;
const PTRS_PER_PTE = 512;
const SHMEM = 2;
const ZERO = 3;
/** 2 MiB: what one PMD entry maps, a transparent huge page. */
const HPAGE = 0x200000;
const HPAGE_PAGES = HPAGE / PAGE;
/** A transparent huge page's order in the buddy allocator. */
export const HPAGE_ORDER = 9;
/** `PageOwner.huge`'s value for a region the huge zero page maps. */
const HUGE_ZERO_PAGE = -1;
/** What #hugeFault returns when no huge page could be had: the fault goes on with 4 KiB pages. */
const FALLBACK = 2;

/** /sys/kernel/mm/transparent_hugepage/enabled: which anonymous VMAs get huge pages on a fault. */
export type ThpMode = "always" | "madvise" | "never";

// A VMA's swap readahead record (swapRa, read as 4 hits before any fault):
// the last swap fault's page address, the window it read, the hits since.
function raRecord(vma: Vma): [last: number, win: number, hits: number] {
  const ra = vma.swapRa === 0 ? 4 : vma.swapRa;
  return [ra - (ra % PAGE), Math.floor(ra / 64) % 64, ra % 64];
}

// Whether `page` of shared `vma` lies past the end of its shmem object,
// where a fault is SIGBUS: only mremap makes a mapping longer than its object.
function pastObjectEnd(vma: Vma, page: number): boolean {
  return vma.object !== null && vma.pgoff + (page - vma.start) / PAGE >= vma.object.pages;
}

// User rights by (write | execute << 1).
const RIGHTS: readonly PageRights[] = [0, 1, 2, 3].map((i) =>
  Object.freeze({ write: (i & 1) !== 0, user: true, execute: (i & 2) !== 0 }),
);

/** What the page layer needs to know of a process. */
export interface PageOwner {
  readonly pid: number;
  /** The MMU address space. */
  readonly space: number;
  readonly mm: AddressSpace;
  /** Swapped-out private pages: virtual page number → swap slot. */
  readonly swap: Map<number, number>;
  /** Pages kept aside while their VMA is PROT_NONE: virtual page number → frame. */
  readonly hidden: Map<number, number>;
  /**
   * The pages of `hidden` whose entry is dirty: Linux's protnone entry
   * keeps the Dirty bit the entry had, a fork copies it, and MADV_FREE
   * clears it; reclaim of a lazily freed page reads it.
   */
  readonly hiddenDirty: Set<number>;
  /** Guard markers (MADV_GUARD_INSTALL), entries that fault with SIGSEGV: virtual page number → 1. */
  readonly guards: Map<number, number>;
  /**
   * 2 MiB regions (address / 2 MiB) that Linux maps whole with one PMD
   * entry: a transparent huge page (its first frame) or the huge zero page
   * (-1). Their 512 pages are mapped by PTEs here (see the file's comment).
   */
  readonly huge: Map<number, number>;
  rssAnon: number;
  rssShmem: number;
  hiwaterRss: number;
  readonly alive: boolean;
}

/** What the page layer asks of the kernel around it. */
export interface PageHost {
  /** The process of a pid, if alive. */
  process(pid: number): PageOwner | undefined;
  /**
   * One frame for a process page: may reclaim, or kill a process, to get it.
   *
   * @returns the frame, or null when memory is exhausted and nothing could be freed.
   */
  allocFrame(): Pfn | null;
  /** A frame went back to the allocator. */
  freeFrame(frame: Pfn): void;
  /**
   * 512 contiguous frames for a transparent huge page, already split into
   * order-0 frames (freed one by one with freeFrame), with GFP_TRANSHUGE:
   * may reclaim, never kills. Absent, or null: no huge page to be had.
   */
  allocHuge?(): Pfn | null;
}

/** The kernel's page-level memory management. */
export class PageManager {
  readonly refs: Int32Array;
  readonly kind: Uint8Array;
  readonly ownerPid: Int32Array;
  readonly ownerVpn: Float64Array;
  /** Frames a fault is working on, which reclaim must leave alone while it allocates. */
  readonly pinned: Uint8Array;
  /** 1 for an anonymous frame freed lazily by MADV_FREE, which reclaim may drop if it stays clean. */
  readonly lazy: Uint8Array;
  /** Number of frames marked in `lazy`. */
  lazyCount = 0;
  /**
   * 1 for an anonymous frame of a droppable VMA (MAP_DROPPABLE: Linux
   * leaves its folio out of swap, `folio_add_new_anon_rmap`): reclaim and
   * MADV_PAGEOUT drop it, written or not, and the page reads as zeros again.
   */
  readonly droppable: Uint8Array;
  /** Number of frames marked in `droppable`. */
  droppableCount = 0;
  /**
   * 1 for a shmem frame known written (Linux's folio dirty flag): reclaim
   * may not drop it; or for an anonymous frame of the swap cache written
   * since it was read (a Dirty bit cleared from an entry mapping it):
   * reclaim must write it to its slot again.
   */
  readonly dirty: Uint8Array;
  /**
   * For a frame PROT_NONE keeps aside: 1 while the Accessed bit its entry
   * had when it was hidden stands. Linux's protnone entry keeps that bit
   * (`pte_modify()`), and reclaim's `folio_referenced()` tests and clears it
   * as any; here the entry is gone, so the bit is kept on the frame.
   */
  readonly hiddenYoung: Uint8Array;
  /**
   * For a frame of a transparent huge page not yet split (Linux's large
   * folio, PMD-mapped or not): the huge page's first frame + 1; else 0.
   */
  readonly folio: Int32Array;
  /**
   * The huge pages MADV_FREE freed lazily whole (first frames): Linux's
   * folio without PG_swapbacked, which reclaim discards whole if no entry
   * of it was written since, and otherwise keeps whole, never splitting it.
   */
  readonly lazyFolios = new Set<number>();
  // Heads of large folios that lost a frame: Linux's deferred split queue (#splitPartial).
  readonly #partial = new Set<number>();
  /** (pid, vpn) pairs mapping each COW-shared anonymous frame. */
  readonly shared = new Map<number, [number, number][]>();
  /** For an anonymous frame in the swap cache: the slot whose page it holds; else -1. */
  readonly cacheSlot: Int32Array;
  /** 1 for a frame swap readahead read that no fault has found in the cache since (PG_readahead). */
  readonly readahead: Uint8Array;
  /**
   * The swap cache (mm/swap_state.c): the frame holding each slot's page in
   * memory. A page read back from swap stays in it, its slot kept, so that
   * other processes whose entries refer to the slot find it there, and
   * reclaim need not write it again while it is clean.
   */
  readonly swapCache = new Map<number, number>();
  /** For each shmem frame: its object and its page offset there (the page cache's index). */
  readonly shmemPage = new Map<number, [ShmemObject, number]>();
  /**
   * (pid, vpn) pairs mapping each shmem frame, present or kept aside by
   * PROT_NONE: what Linux finds through the file's i_mmap tree, for
   * reclaim to unmap the page from every process.
   */
  readonly shmemMappers = new Map<number, [number, number][]>();
  readonly zeroFrame: number;
  /** Statistics: faults by outcome, pages swapped. */
  readonly stats = {
    faults: 0,
    zeroFills: 0,
    zeroPageMaps: 0,
    cowCopies: 0,
    cowReuses: 0,
    /** Pages read from swap (/proc/vmstat pswpin). */
    swapIns: 0,
    /** Pages written to swap (pswpout): a clean page of the swap cache goes out with no write. */
    swapOuts: 0,
    /** Pages of zeros swapped out with nothing written, only marked (swpout_zero). */
    swapOutZero: 0,
    /** Pages of zeros swapped in with nothing read (swpin_zero; pswpin counts the others). */
    swapInZero: 0,
    /** Pages swap readahead read besides the faulting one (swap_ra). */
    swapReadahead: 0,
    /** Faults that found a page readahead had read (swap_ra_hit). */
    swapReadaheadHits: 0,
    /** Lazily freed pages (MADV_FREE) that reclaim dropped, clean. */
    lazyFrees: 0,
    /** Pages of droppable mappings (MAP_DROPPABLE) that reclaim or MADV_PAGEOUT dropped. */
    drops: 0,
    /** Transparent huge pages a fault mapped (/proc/vmstat thp_fault_alloc). */
    thpFaults: 0,
    /** Faults that found no huge page and went on with 4 KiB pages (thp_fault_fallback). */
    thpFallbacks: 0,
    /** Reads that mapped the huge zero page (thp_zero_page_alloc counts only its first). */
    thpZeroMaps: 0,
  };
  // TS-private rather than #private: these are read on every page fault,
  // and V8 (Node 20) left #field loads as generic LoadIC calls there (measured).
  private readonly ram: PhysicalMemory;
  private readonly mmu: MemoryManagementUnit;
  private readonly swapDevice: SwapDevice;
  private readonly host: PageHost;
  private readonly executeOnly: boolean;
  // Whether reads of memory never written map the zero page (KernelOptions.zeroPage).
  private readonly zeroPage: boolean;
  private readonly thp: ThpMode;
  // The largest readahead window, in pages: 2^min(vm.page-cluster, 5).
  private readonly raMaxWin: number;
  private hand = 0;
  // One page's bytes, for the zero test of a huge page's split.
  readonly #scratch = new Uint8Array(PAGE);
  readonly #scratchWords = new Uint32Array(this.#scratch.buffer);

  constructor(
    ram: PhysicalMemory,
    frames: FrameAllocator,
    mmu: MemoryManagementUnit,
    swap: SwapDevice,
    host: PageHost,
    executeOnly = true,
    thp: ThpMode = "madvise",
    pageCluster = 3,
    zeroPage = true,
  ) {
    this.executeOnly = executeOnly;
    this.zeroPage = zeroPage;
    // SWAP_RA_ORDER_CEILING (mm/swap_state.c) caps the order at 5.
    this.raMaxWin = 2 ** Math.min(pageCluster, 5);
    this.thp = host.allocHuge === undefined ? "never" : thp;
    this.ram = ram;
    this.mmu = mmu;
    this.swapDevice = swap;
    this.host = host;
    this.refs = new Int32Array(ram.frameCount);
    this.kind = new Uint8Array(ram.frameCount);
    this.ownerPid = new Int32Array(ram.frameCount).fill(-1);
    this.ownerVpn = new Float64Array(ram.frameCount);
    this.pinned = new Uint8Array(ram.frameCount);
    this.lazy = new Uint8Array(ram.frameCount);
    this.droppable = new Uint8Array(ram.frameCount);
    this.dirty = new Uint8Array(ram.frameCount);
    this.cacheSlot = new Int32Array(ram.frameCount).fill(-1);
    this.readahead = new Uint8Array(ram.frameCount);
    this.hiddenYoung = new Uint8Array(ram.frameCount);
    this.folio = new Int32Array(ram.frameCount);
    const zero = frames.allocFrames(0);
    if (zero === null) throw new Error(`[${PKG}] no frame for the zero page`);
    ram.zeroFrame(zero);
    this.zeroFrame = zero;
    this.kind[zero] = ZERO;
    this.refs[zero] = 1;
  }

  /** The PageLayer an address space of `owner` uses. */
  layerFor(owner: PageOwner): PageLayer {
    return {
      zap: (_space, vma, start, end, unmap) => this.zap(owner, vma, start, end, unmap),
      protect: (_space, vma, start, end) => this.protect(owner, vma, start, end),
      gather: (_space, edit) => this.gatherTlb(owner, edit),
      move: (_space, from, to, length) => this.move(owner, from, to, length),
      populate: (_space, vma, start, end, write) => this.populate(owner, vma, start, end, write),
      lazyFree: (_space, _vma, start, end) => this.lazyFree(owner, start, end),
      pageOut: (_space, vma, start, end) => this.pageOut(owner, vma, start, end),
      guardInstall: (_space, vma, start, end) => this.guardInstall(owner, vma, start, end),
      guardRemove: (_space, start, end) =>
        this.#forEachIn(owner.guards, start, end, (vpn) => owner.guards.delete(vpn)),
      guarded: (_space, start, end) => this.#guarded(owner, start, end),
      cold: (_space, _vma, start, end) => this.cold(owner, start, end),
      willNeed: (_space, _vma, start, end) => this.willNeed(owner, start, end),
      splitAt: (_space, at) => this.#splitHuge(owner, at),
      tables: {
        freed: (_space, start, end, moved) => {
          if (!owner.alive) return;
          this.mmu.freeTables?.(owner.space, start, end);
          // pte_free_tlb() and its kin (include/asm-generic/tlb.h): the
          // table's first page joins the gather's range, its level the stride.
          // (A table an mremap moved whole is Linux's still: the move flushed.)
          if (!moved) this.#flushTlb(owner, [{ virt: start, pageSize: PAGE, stride: end - start }]);
        },
        // Making a table may reclaim or kill: a space the OOM killer took makes none.
        made: (_space, addr, size) =>
          owner.alive && (this.mmu.prepareTables?.(owner.space, addr, size) ?? true),
      },
    };
  }

  // ------------------------------------------------------------ helpers

  #rights(vma: Vma, write: boolean): PageRights {
    // One frozen object per combination: a fault allocates none.
    return RIGHTS[(write ? 1 : 0) | ((vma.flags & VM_EXEC) !== 0 ? 2 : 0)]!;
  }

  // Whether loads may reach the VMA's pages: any protection but PROT_NONE,
  // and, with execute-only memory, but PROT_EXEC alone.
  #accessible(vma: Vma): boolean {
    return (vma.flags & (VM_READ | VM_WRITE | VM_EXEC)) !== 0 && !this.#executeOnly(vma);
  }

  // PROT_EXEC alone, which gets the execute-only key (execute_only_pkey()).
  #executeOnly(vma: Vma): boolean {
    return this.executeOnly && (vma.flags & (VM_READ | VM_WRITE | VM_EXEC)) === VM_EXEC;
  }

  // A new frame for `owner`, zeroed: null when memory ran out.
  #newFrame(): number | null {
    const f = this.host.allocFrame();
    if (f === null) return null;
    this.ram.zeroFrame(f);
    return f;
  }

  #setOwner(frame: number, pid: number, vpn: number): void {
    this.ownerPid[frame] = pid;
    this.ownerVpn[frame] = vpn;
  }

  // Clears the entries of [virt, virt + length) of `owner`, keeping their
  // page tables: only free_pgtables() frees tables (see PageTableSet).
  #clear(owner: PageOwner, virt: number, length: number): void {
    this.mmu.unmap(owner.space, virt, length, true);
  }

  // Maps one frame at `page` of `owner` (its entry dirty with `dirty`), counting it.
  #install(owner: PageOwner, page: number, frame: number, rights: PageRights, dirty = false): boolean {
    const k = this.kind[frame];
    if (k === SHMEM) {
      if (!this.#mapShmem(owner, page, frame, rights)) return false;
    } else if (!this.mmu.map(owner.space, page, physAddr(frame * PAGE), PAGE, PAGE, rights, dirty))
      return false;
    owner.mm.tables.touch(page / PAGE);
    if (k === ANON) owner.rssAnon++;
    else if (k === SHMEM) owner.rssShmem++;
    const rss = owner.rssAnon + owner.rssShmem;
    if (rss > owner.hiwaterRss) owner.hiwaterRss = rss;
    return true;
  }

  // Maps shmem `frame` at `page` of `owner` and lists the mapping. The
  // frame is pinned meanwhile: mapping may make a page table, that may
  // reclaim, and an object's page no entry maps yet is reclaim's to take.
  #mapShmem(owner: PageOwner, page: number, frame: number, rights: PageRights): boolean {
    const mapped = this.#withPinned([frame], () =>
      this.mmu.map(owner.space, page, physAddr(frame * PAGE), PAGE, PAGE, rights),
    );
    if (mapped) this.#addShmemMapper(frame, owner.pid, page / PAGE);
    return mapped;
  }

  // (`pid`, `vpn`) maps anonymous `frame` too, which `first` mapped alone
  // until now if the frame has no list of mappers yet.
  #addSharer(frame: number, first: [number, number], pid: number, vpn: number): void {
    let list = this.shared.get(frame);
    if (list === undefined) {
      list = [first];
      this.shared.set(frame, list);
    }
    list.push([pid, vpn]);
  }

  #addShmemMapper(frame: number, pid: number, vpn: number): void {
    const list = this.shmemMappers.get(frame);
    if (list === undefined) this.shmemMappers.set(frame, [[pid, vpn]]);
    else list.push([pid, vpn]);
  }

  // Runs `fn` with `frames` pinned, so that the reclaim a page-table
  // allocation inside it may run leaves them alone.
  #withPinned<T>(frames: readonly number[], fn: () => T): T {
    const pinned = this.pinned;
    const pins: number[] = [];
    for (const frame of frames) {
      if (pinned[frame] === 0) {
        pinned[frame] = 1;
        pins.push(frame);
      }
    }
    try {
      return fn();
    } finally {
      for (const frame of pins) pinned[frame] = 0;
    }
  }

  // One mapping of `frame` at `vpn` of `owner` is gone (its PTE is being cleared).
  #unref(owner: PageOwner, frame: number, vpn: number): void {
    const k = this.kind[frame];
    if (k === ZERO) return;
    if (k === ANON) owner.rssAnon--;
    else if (k === SHMEM) owner.rssShmem--;
    this.#drop(frame, owner.pid, vpn);
  }

  // Drops one reference to `frame` held by (pid, vpn), or by its shmem object (pid -1).
  #drop(frame: number, pid: number, vpn: number): void {
    const left = --this.refs[frame]!;
    if (this.kind[frame] === ANON) {
      const list = this.shared.get(frame);
      if (list !== undefined) {
        const i = list.findIndex(([p, v]) => p === pid && v === vpn);
        if (i >= 0) list.splice(i, 1);
        if (left === 1) {
          // Back to one mapper: it owns the frame again.
          this.shared.delete(frame);
          const last = list[0];
          if (last !== undefined) this.#setOwner(frame, last[0], last[1]);
        }
      }
    } else if (pid >= 0 && this.kind[frame] === SHMEM) {
      const list = this.shmemMappers.get(frame);
      const i = list === undefined ? -1 : list.findIndex(([p, v]) => p === pid && v === vpn);
      if (i >= 0) list!.splice(i, 1);
    }
    if (left === 0) {
      // free_swap_cache(): a page of the swap cache stays there, unmapped,
      // while a swap entry still refers to its slot.
      if (this.cacheSlot[frame]! >= 0 && !this.#freeSwap(frame)) {
        this.ownerPid[frame] = -1;
        this.shared.delete(frame);
        return;
      }
      this.#freeFrame(frame);
    }
  }

  // Gives `frame`, which nothing refers to any more, back to the allocator.
  #freeFrame(frame: number): void {
    this.#unlazy(frame);
    if (this.droppable[frame] === 1) {
      this.droppable[frame] = 0;
      this.droppableCount--;
    }
    this.dirty[frame] = 0;
    this.hiddenYoung[frame] = 0;
    this.readahead[frame] = 0;
    if (this.kind[frame] === SHMEM) {
      this.shmemPage.delete(frame);
      this.shmemMappers.delete(frame);
    }
    if (this.folio[frame] === frame + 1) this.lazyFolios.delete(frame);
    // A page of a large folio freed while others may stay mapped: the folio
    // goes on the deferred split queue (see #splitPartial).
    if (this.folio[frame] !== 0) this.#partial.add(this.folio[frame]! - 1);
    this.folio[frame] = 0;
    this.kind[frame] = FREE;
    this.ownerPid[frame] = -1;
    this.shared.delete(frame);
    this.host.freeFrame(pfn(frame));
  }

  // ----------------------------------------------------------- swap cache

  // Anonymous `frame` holds the page of `slot` in the swap cache.
  #cacheAdd(frame: number, slot: number): void {
    this.cacheSlot[frame] = slot;
    this.swapCache.set(slot, frame);
    this.swapDevice.addCache(slot);
  }

  // `frame` leaves the swap cache; its slot is freed if no entry refers to it.
  #cacheDel(frame: number): void {
    const slot = this.cacheSlot[frame]!;
    this.cacheSlot[frame] = -1;
    this.dirty[frame] = 0;
    this.swapCache.delete(slot);
    this.swapDevice.dropCache(slot);
  }

  // folio_free_swap(): `frame` leaves the swap cache, and its slot is
  // freed, if no swap entry refers to the slot any more. Returns whether
  // the frame is out of the cache.
  #freeSwap(frame: number): boolean {
    if (!this.#ownsSwap(frame)) return false;
    if (this.cacheSlot[frame]! >= 0) this.#leaveCache(frame);
    return true;
  }

  // folio_free_swap(): `frame`, still in use, leaves the swap cache, marked
  // dirty (PG_dirty) as its slot no longer holds it.
  #leaveCache(frame: number): void {
    this.#cacheDel(frame);
    this.dirty[frame] = 1;
  }

  // free_swap_and_cache(): a swap entry referring to `slot` is gone (zap,
  // MADV_FREE). When it was the last, the slot's page in the swap cache
  // leaves the cache if no entry maps it, and is freed, or if swap is half
  // full (__try_to_reclaim_swap() with TTRS_UNMAPPED | TTRS_FULL).
  #releaseSwap(slot: number): void {
    this.swapDevice.release(slot);
    if (this.swapDevice.useCount(slot) !== 0) return;
    const frame = this.swapCache.get(slot);
    if (frame === undefined) return;
    if (this.refs[frame] === 0) this.#dropCached(frame);
    else if (this.swapDevice.full) {
      this.#leaveCache(frame);
    }
  }

  // A Dirty bit of an entry mapping `frame` is about to go (the entry is
  // cleared or rewritten): a shmem page, or a page of the swap cache,
  // keeps it as its own dirty flag.
  #keepDirty(frame: number): void {
    if (this.kind[frame] === SHMEM || this.cacheSlot[frame]! >= 0) this.dirty[frame] = 1;
  }

  // Whether `frame` may be mapped writable in place: not a page of the swap
  // cache that a swap entry still refers to (another process would see
  // the write when it reads the slot back).
  #ownsSwap(frame: number): boolean {
    const slot = this.cacheSlot[frame]!;
    return slot < 0 || this.swapDevice.useCount(slot) === 0;
  }

  /**
   * MADV_WILLNEED on [start, end) of `owner` (madvise_willneed() with
   * swapin_walk_ops): the page of each swap entry there is read into the
   * swap cache, not mapped, so that the fault to come finds it in memory.
   * Stops when memory runs out.
   */
  willNeed(owner: PageOwner, start: number, end: number): void {
    const slots: number[] = [];
    this.#forEachIn(owner.swap, start, end, (_vpn, slot) => void slots.push(slot));
    for (const slot of slots) {
      if (!owner.alive || this.#readSwap(slot) === null) return;
    }
  }

  // __read_swap_cache_async(): `slot`'s page is read into a new frame of
  // the swap cache, unless it is there already or no swap entry refers to
  // the slot any more. Returns the new frame, -1 when nothing was read, or
  // null when no frame could be had. The allocation may reclaim or kill
  // (and so free the slot, or put its page in the cache): both are tested
  // again after it.
  #readSwap(slot: number): number | null {
    const wanted = () => this.swapDevice.useCount(slot) !== 0 && !this.swapCache.has(slot);
    if (!wanted()) return -1;
    const f = this.host.allocFrame();
    if (f === null) return null;
    if (!wanted()) {
      this.host.freeFrame(f);
      return -1;
    }
    this.#readIntoCache(f, slot);
    return f;
  }

  // swap_vma_ra_win() (mm/swap_state.c): the readahead window [start, end)
  // of a swap fault at `page` of `vma` that missed the swap cache, or null
  // for none (a window of one page); the VMA's record moves to this fault.
  // Its size (__swapin_nr_pages): hits + 2 rounded up to a power of two
  // from 4 when readahead hits were counted since the last fault; else 2
  // for a fault on a page next to the last one, 1 for any other; never
  // less than half the last window, never more than 2^min(page-cluster, 5).
  // It runs forward from a fault just after the last one, backward from
  // one just before, and around any other, inside the VMA and the fault's
  // 2 MiB region (one PTE table).
  #raWindow(vma: Vma, page: number): [number, number] | null {
    const max = this.raMaxWin;
    if (max === 1) return null;
    const [last, lastWin, hits] = raRecord(vma);
    let win = hits + 2;
    if (win === 2) {
      if (page !== last + PAGE && page !== last - PAGE) win = 1;
    } else {
      let up = 4;
      while (up < win) up *= 2;
      win = up;
    }
    win = Math.max(Math.min(win, max), Math.floor(lastWin / 2));
    vma.swapRa = page + win * 64;
    if (win === 1) return null;
    let left =
      page === last + PAGE
        ? page
        : last === page + PAGE
          ? page - (win - 1) * PAGE
          : page - Math.floor((win - 1) / 2) * PAGE;
    const right = left + win * PAGE;
    if (left < 0) left = 0;
    const region = page - (page % HPAGE);
    return [Math.max(left, vma.start, region), Math.min(right, vma.end, region + HPAGE)];
  }

  // swap_vma_readahead(): before a swap fault at `page` of `vma` reads its
  // own page, the swapped-out pages of its window are read into the swap
  // cache, each but the faulting one marked as read ahead (PG_readahead).
  // A page in the cache already is left as it is; one no frame can be had
  // for is skipped.
  #readAhead(owner: PageOwner, vma: Vma, page: number): void {
    const window = this.#raWindow(vma, page);
    if (window === null) return;
    for (let at = window[0]; at < window[1]; at += PAGE) {
      // An allocation may have run the OOM killer, and it may have chosen this process.
      if (!owner.alive) return;
      const slot = owner.swap.get(at / PAGE);
      if (slot === undefined) continue;
      const f = this.#readSwap(slot);
      if (f !== null && f >= 0 && at !== page) {
        this.readahead[f] = 1;
        this.stats.swapReadahead++;
      }
    }
  }

  // Whether MADV_FREE frees anonymous `frame` lazily (madvise_free_pte_range()):
  // a page of the swap cache or marked dirty (PG_dirty: see #redirtied and
  // #leaveCache) only when no other entry maps it, and then clean, out of
  // the cache (folio_free_swap(), folio_clear_dirty()); a page of a huge
  // page only when no other process maps any of it (`inShared`, from
  // #inSharedFolio); any other page even when a fork shares it.
  #mayFreeLazily(frame: number, inShared: (frame: number) => boolean): boolean {
    if (this.kind[frame] !== ANON || inShared(frame)) return false;
    const marked = this.cacheSlot[frame]! >= 0 || this.dirty[frame] === 1;
    if (this.refs[frame] !== 1 && (marked || this.folio[frame] !== 0)) return false;
    if (!this.#freeSwap(frame)) return false;
    // folio_clear_dirty(): freed lazily, the page is clean until written.
    this.dirty[frame] = 0;
    return true;
  }

  /**
   * /proc/PID/smaps_rollup's LazyFree (fs/proc/task_mmu.c, smaps_account()),
   * in kB: the private pages of `owner` freed lazily (MADV_FREE) that no
   * entry has written since, pages PROT_NONE keeps aside included (Linux's
   * protnone entries are present to smaps). A huge page Linux maps whole
   * counts whole, 2 MiB, or not at all once its PMD is dirty: here, once
   * any of its 512 entries is.
   */
  lazyFreeKb(owner: PageOwner): number {
    if (this.lazyCount === 0) return 0;
    let pages = 0;
    // Per 2 MiB region mapped whole: its lazily freed, clean pages, or -1 once one is written.
    const whole = new Map<number, number>();
    this.mmu.walkRange(owner.space, 0, TASK_SIZE, (m) => {
      const frame = m.phys / PAGE;
      if (this.kind[frame] !== ANON || this.lazy[frame] !== 1) return;
      const region = Math.floor(m.virt / HPAGE);
      if (!owner.huge.has(region)) {
        if (!m.dirty) pages++;
        return;
      }
      const had = whole.get(region) ?? 0;
      if (had >= 0) whole.set(region, m.dirty ? -1 : had + 1);
    });
    for (const n of whole.values()) if (n > 0) pages += n;
    for (const [vpn, frame] of owner.hidden)
      if (this.kind[frame] === ANON && this.lazy[frame] === 1 && !owner.hiddenDirty.has(vpn)) pages++;
    return pages * (PAGE / 1024);
  }

  /**
   * mincore(2) (mm/mincore.c): one byte per page of [start, start + length)
   * of `owner` into `vec`, 1 for a page in memory: mapped (the zero page and
   * a page PROT_NONE keeps aside included), a private page swapped out
   * whose page is in the swap cache, or a shmem page its object holds; else 0.
   *
   * @returns 0; -EINVAL for a start not page-aligned; -ENOMEM for a range
   * that leaves the user address space, or holds a page no VMA covers (the
   * pages before it filled in).
   * @throws {UsageError} when `vec` is shorter than the range's pages.
   */
  mincore(owner: PageOwner, start: number, length: number, vec: Uint8Array): number {
    if (start % PAGE !== 0) return -EINVAL;
    // access_ok(): the range must end at or below the top of user space.
    if (start + length > TASK_SIZE) return -ENOMEM;
    const pages = Math.ceil(length / PAGE);
    if (vec.length < pages) {
      throw new UsageError(PKG, `mincore: vec holds ${vec.length} bytes, the range ${pages} pages`, "vec");
    }
    const last = start + pages * PAGE;
    for (let at = start, i = 0; at < last; ) {
      const vma = owner.mm.tree.lookup(at);
      if (vma === null) return -ENOMEM;
      for (const end = Math.min(vma.end, last); at < end; at += PAGE, i++)
        vec[i] = this.#inCore(owner, vma, at);
    }
    return 0;
  }

  // mincore_pte_range() for page `at` of `vma`: 1 or 0.
  #inCore(owner: PageOwner, vma: Vma, at: number): number {
    const vpn = at / PAGE;
    // A present entry (a protnone one, kept aside here, too).
    if (this.mmu.query(owner.space, at) !== null || owner.hidden.has(vpn)) return 1;
    if (vma.hugetlb !== null) return 0;
    // None, for shmem: the page cache's page (mincore_page()).
    const obj = vma.object;
    const idx = obj === null ? 0 : vma.pgoff + (at - vma.start) / PAGE;
    if (obj?.frames.has(idx)) return 1;
    // A swap entry (in the page table, or in the shmem object for a page
    // written out): whether its slot's page is in the swap cache (mincore_swap()).
    const slot = obj === null ? owner.swap.get(vpn) : obj.swapped.get(idx);
    return slot !== undefined && this.swapCache.has(slot) ? 1 : 0;
  }

  // swap_update_readahead(): a swap fault at `page` of `vma` found `frame`
  // in the swap cache. The VMA's record moves to this fault, keeping its
  // window, with one more hit (up to 63) if readahead had read the page.
  #raHit(vma: Vma, page: number, frame: number): void {
    const hit = this.readahead[frame] === 1;
    this.readahead[frame] = 0;
    const [, win, hits] = raRecord(vma);
    vma.swapRa = page + win * 64 + (hit ? Math.min(hits + 1, 63) : hits);
    if (hit) this.stats.swapReadaheadHits++;
  }

  // read_swap_cache_async(): `slot`'s page is read into new frame `frame`, which joins the swap cache.
  #readIntoCache(frame: number, slot: number): void {
    this.#readSlot(slot, frame);
    this.kind[frame] = ANON;
    this.#cacheAdd(frame, slot);
  }

  // swap_read_folio(): `slot`'s page into `frame`, counted as pswpin, or
  // as swpin_zero for a slot of zeros (filled, nothing read).
  #readSlot(slot: number, frame: number): void {
    if (this.swapDevice.readPage(slot, this.ram, pfn(frame))) this.stats.swapIns++;
    else this.stats.swapInZero++;
  }

  // swap_writepage(): `frame` to `slot`, counted as pswpout, or as
  // swpout_zero for a page of zeros (only marked). Returns whether it was written.
  #writeSlot(slot: number, frame: number): boolean {
    const wrote = this.swapDevice.writePage(slot, this.ram, pfn(frame));
    if (wrote) this.stats.swapOuts++;
    else this.stats.swapOutZero++;
    return wrote;
  }

  // A page only the swap cache holds goes: out of the cache, back to the allocator.
  #dropCached(frame: number): void {
    this.#cacheDel(frame);
    this.#freeFrame(frame);
  }

  // do_swap_page(): `owner`'s page at `page` of `vma` refers to `slot`.
  // The page is found in the swap cache (another process read the slot
  // back, or MADV_WILLNEED or readahead did), or read in and added to it
  // after the readahead around it; then mapped,
  // writable only if this entry was the slot's only one and nothing else
  // maps the page (Linux: the entry's exclusive bit). The slot stays with
  // the page in the cache unless the fault writes such a page or swap is
  // half full (should_try_to_free_swap()); a write to a page others may
  // see copies it (do_wp_page()).
  #swapIn(owner: PageOwner, vma: Vma, page: number, slot: number, write: boolean): boolean {
    const vpn = page / PAGE;
    let frame = this.swapCache.get(slot);
    if (frame !== undefined) this.#raHit(vma, page, frame);
    else {
      this.#readAhead(owner, vma, page);
      if (!owner.alive) return false;
      // Read in the window, unless a later allocation there reclaimed it.
      frame = this.swapCache.get(slot);
      if (frame === undefined) {
        // (This entry keeps the slot in use: read unless the process died meanwhile.)
        const f = this.#readSwap(slot);
        if (f === null || f < 0) return false;
        frame = f;
      }
    }
    const f = frame;
    const exclusive = this.refs[f] === 0 && this.swapDevice.useCount(slot) === 1;
    this.#prepareAnon(owner, vma);
    // Pinned while mapping it may make a page table (and so reclaim, which
    // would free a page only the cache holds). If that fails the page stays
    // in the cache, and the entry refers to it still.
    const rights = this.#rights(vma, exclusive && (vma.flags & VM_WRITE) !== 0);
    // do_swap_page() maps a write's page dirty when it may write it in place.
    const dirty = write && exclusive && (vma.flags & VM_WRITE) !== 0;
    if (!this.#withPinned([f], () => this.#install(owner, page, f, rights, dirty))) return false;
    if (this.refs[f] === 0) this.#setOwner(f, owner.pid, vpn);
    else this.#addSharer(f, [this.ownerPid[f]!, this.ownerVpn[f]!], owner.pid, vpn);
    this.refs[f]!++;
    owner.swap.delete(vpn);
    this.swapDevice.release(slot);
    if (this.swapDevice.full || (write && exclusive)) this.#freeSwap(f);
    if (write && !exclusive)
      return this.#writeProtected(owner, vma, page, this.mmu.query(owner.space, page)!);
    return true;
  }

  // anon_vma_prepare(): the first fault of a private VMA gives it an anon_vma,
  // shared with a compatible neighbour's when there is one — the next
  // VMA's first, then the previous one's (find_mergeable_anon_vma()).
  // anon_vma_compatible() ignores the protection bits of vm_flags but not
  // the protection key, which x86 keeps there too (VM_PKEY_BIT*): a VMA
  // mapped PROT_EXEC alone, which has the execute-only key, shares no
  // anon_vma with a neighbour that has not, and so never merges with it
  // later, whatever protection both get (anon-vma-pkey.vm).
  #prepareAnon(owner: PageOwner, vma: Vma): void {
    if (vma.anonVma !== null) return;
    for (const n of [owner.mm.tree.next(vma), owner.mm.tree.prev(vma)]) {
      if (
        n !== null &&
        n.anonVma !== null &&
        !n.anonVma.forked &&
        anonVmaCompatible(n, vma) &&
        this.#executeOnly(n) === this.#executeOnly(vma)
      ) {
        vma.anonVma = n.anonVma;
        vma.anonVma.degree++;
        return;
      }
    }
    vma.anonVma = newAnonVma();
    vma.anonVma.degree++;
  }

  // ---------------------------------------------------- huge pages

  // thp_vma_allowable_order() and thp_vma_suitable_order() for an anonymous
  // fault at `page` of `vma`: the start of the 2 MiB region around it when
  // the region may map one huge page (THP on for the VMA, the region inside
  // it, no PTE table there yet: pmd_none), else -1.
  #hugeRegion(owner: PageOwner, vma: Vma, page: number): number {
    if (this.thp === "never" || vma.object !== null || vma.hugetlb !== null) return -1;
    const flags = vma.flags;
    if ((flags & VM_NOHUGEPAGE) !== 0 || (this.thp === "madvise" && (flags & VM_HUGEPAGE) === 0)) return -1;
    // (`&` keeps the low bits of any safe integer.)
    const start = page - (page & (HPAGE - 1));
    if (start < vma.start || start + HPAGE > vma.end) return -1;
    if (owner.mm.tables.hasPte(start / PAGE)) return -1;
    return start;
  }

  // set_huge_zero_folio(): a read maps the huge zero page over the region,
  // read-only (its deposited PTE table is counted, as the one made here).
  #mapHugeZero(owner: PageOwner, vma: Vma, region: number): boolean {
    const rights = this.#rights(vma, false);
    for (let i = 0; i < HPAGE_PAGES; i++) {
      // Only the first can fail: it makes the PTE table the rest go into.
      if (!this.#install(owner, region + i * PAGE, this.zeroFrame, rights)) return false;
    }
    owner.huge.set(region / HPAGE, HUGE_ZERO_PAGE);
    this.stats.thpZeroMaps++;
    return true;
  }

  // A huge page for the region at `region` (vma_alloc_anon_folio_pmd),
  // zeroed and mapped writable; `fromZero`: it replaces the huge zero page
  // mapped there. Returns true, false when memory ran out making the PTE
  // table, or FALLBACK when no huge page could be had.
  // `read`: a read with no zero page to map, which maps the huge page as a
  // write would but dirty (the PMD is made dirty either way) and writable
  // only if the VMA is (maybe_pmd_mkwrite()).
  #hugeFault(
    owner: PageOwner,
    vma: Vma,
    region: number,
    fromZero: boolean,
    read = false,
  ): boolean | typeof FALLBACK {
    const head = this.host.allocHuge!();
    if (head === null || !owner.alive) {
      if (head !== null) for (let i = 0; i < HPAGE_PAGES; i++) this.host.freeFrame(pfn(head + i));
      this.stats.thpFallbacks++;
      return FALLBACK;
    }
    if (fromZero) {
      // pmdp_huge_clear_flush(): the huge zero page's PMD goes with a flush
      // of its range, by 4 KiB strides: past the ceiling, everything.
      this.#clear(owner, region, HPAGE);
      this.flushAll(owner);
    }
    const vpn = region / PAGE;
    for (let i = 0; i < HPAGE_PAGES; i++) {
      const f = head + i;
      this.ram.zeroFrame(pfn(f));
      this.folio[f] = head + 1;
      this.kind[f] = ANON;
      this.refs[f] = 1;
      this.#setOwner(f, owner.pid, vpn + i);
      this.#markDroppable(f, vma);
    }
    const rights = this.#rights(vma, !read || (vma.flags & VM_WRITE) !== 0);
    for (let i = 0; i < HPAGE_PAGES; i++) {
      if (this.#install(owner, region + i * PAGE, head + i, rights, read)) continue;
      // Only the first can fail (the PTE table): nothing is mapped then.
      for (let j = 0; j < HPAGE_PAGES; j++) this.#drop(head + j, owner.pid, vpn + j);
      return false;
    }
    owner.huge.set(region / HPAGE, head);
    this.stats.zeroFills += HPAGE_PAGES;
    this.stats.thpFaults++;
    return true;
  }

  // Linux splits the PMD mapping region `idx` of `owner` whole: its entries
  // become 512 PTEs, each dirty if the PMD was (__split_huge_pmd_locked).
  // Here each page has its own Dirty bit already; a write to any of them
  // was the PMD's, so each lazily freed page of the huge page counts as
  // written since. Returns whether it was (the PMD's Dirty bit).
  #unmarkHuge(owner: PageOwner, idx: number): boolean {
    const head = owner.huge.get(idx);
    if (head === undefined) return false;
    owner.huge.delete(idx);
    if (head === HUGE_ZERO_PAGE || !this.#regionDirty(owner, idx)) return false;
    this.#folioWritten(head);
    return true;
  }

  // __split_huge_pmd() of region `idx` of `owner`, if a huge page (or the
  // huge zero page) maps it whole: the mark goes, and pmdp_invalidate()
  // flushes the PMD's range (flush_tlb_range() by 4 KiB strides for a
  // transparent huge page, 512 of them: past the ceiling, the whole
  // address space; mm/huge_memory.c, arch/x86/mm/tlb.c).
  #splitPmd(owner: PageOwner, idx: number): void {
    const head = owner.huge.get(idx);
    if (head === undefined) return;
    // __split_huge_pmd_locked(): a dirty PMD also marks its folio dirty
    // (PG_dirty: see #redirtied).
    if (this.#unmarkHuge(owner, idx)) this.#folioRedirtied(head);
    this.flushAll(owner);
  }

  // Whether any page of region `idx` of `owner` has its Dirty bit set; with
  // `folio`, any page of the large folio that `folio` - 1 heads.
  #regionDirty(owner: PageOwner, idx: number, folio = 0): boolean {
    let dirty = false;
    this.mmu.walkRange(owner.space, idx * HPAGE, (idx + 1) * HPAGE, (m) => {
      if (m.dirty && (folio === 0 || this.folio[m.phys / PAGE] === folio)) dirty = true;
    });
    return dirty;
  }

  // Whether `owner`'s page `vpn`, whose own entry says `dirty`, was written
  // since MADV_FREE: in a huge page mapped whole, a write to any of its
  // pages; in one mapped by 4 KiB entries (its PMD split, the folio whole),
  // a write to any page of it that `owner` maps in the same 2 MiB region.
  // try_to_unmap_one() (mm/rmap.c) clears a lazily freed large folio's
  // entries as one batch (folio_unmap_pte_batch(), within one VMA and one
  // page table), and a Dirty bit among them keeps the whole folio.
  #writtenSince(owner: PageOwner, vpn: number, frame: number, dirty: boolean): boolean {
    if (dirty) return true;
    const idx = Math.floor(vpn / HPAGE_PAGES);
    if (owner.huge.has(idx)) return this.#regionDirty(owner, idx);
    const folio = this.folio[frame]!;
    return folio !== 0 && this.#regionDirty(owner, idx, folio);
  }

  // Whether the huge page at `head` is mapped by one process alone (each of
  // its frames once), so that a write may keep it whole.
  #hugeExclusive(head: number): boolean {
    for (let i = 0; i < HPAGE_PAGES; i++) if (this.refs[head + i] !== 1) return false;
    return true;
  }

  // split_huge_pmd_if_needed() at a VMA boundary made at `at`: a region it
  // falls inside of is mapped by 4 KiB entries from now on.
  #splitHuge(owner: PageOwner, at: number): void {
    if (owner.huge.size !== 0 && (at & (HPAGE - 1)) !== 0) this.#splitPmd(owner, Math.floor(at / HPAGE));
  }

  // The marks of the regions [start, end) touches: each one it covers only
  // in part is split (#splitPmd); one it covers whole is dropped too unless
  // `keepWhole`. Returns the regions it covers whole that a huge page mapped
  // whole (their PMD's one entry is what the caller's flush covers of them).
  #splitHugeIn(owner: PageOwner, start: number, end: number, keepWhole: boolean): readonly number[] {
    if (owner.huge.size === 0) return NO_REGIONS;
    const whole: number[] = [];
    const first = Math.floor(start / HPAGE);
    const last = Math.ceil(end / HPAGE);
    for (let idx = first; idx < last; idx++) {
      if (!owner.huge.has(idx)) continue;
      if (idx * HPAGE < start || (idx + 1) * HPAGE > end) this.#splitPmd(owner, idx);
      else {
        whole.push(idx);
        if (!keepWhole) this.#unmarkHuge(owner, idx);
      }
    }
    return whole;
  }

  // The entries a flush covers, as the mmu_gather tracks them: those of a
  // region in `whole` (a huge page mapped whole) as its PMD's one entry of
  // 2 MiB (tlb_remove_pmd_tlb_entry(), tlb_flush_pmd_range()), if any of
  // them is in `pages`; the rest one by one.
  #withPmds(pages: FlushedPage[], whole: readonly number[]): FlushedPage[] {
    if (whole.length === 0) return pages;
    const out: FlushedPage[] = [];
    const hit = new Set<number>();
    for (const m of pages) {
      const idx = Math.floor(m.virt / HPAGE);
      if (!whole.includes(idx)) out.push(m);
      else if (!hit.has(idx)) {
        hit.add(idx);
        out.push({ virt: idx * HPAGE, pageSize: HPAGE });
      }
    }
    return out;
  }

  /**
   * MADV_COLD on [start, end) (madvise_cold_or_pageout_pte_range, pageout
   * off): a huge page the range covers in part is split first
   * (#splitFoliosIn); then each page only this process maps is deactivated:
   * its entry made old (the Accessed bit cleared and the TLB entry flushed,
   * so the next access walks and sets it again), so that reclaim's clock
   * takes it at its first pass. Pages shared after fork and the zero page
   * are left as they are.
   */
  cold(owner: PageOwner, start: number, end: number): void {
    this.#splitFoliosIn(owner, start, end, false);
    const inShared = this.#inSharedFolio(owner);
    const young: PageMapping[] = [];
    this.mmu.walkRange(owner.space, start, end, (m) => {
      if (m.accessed && this.#mappedOnce(m.phys / PAGE) && !inShared(m.phys / PAGE)) young.push(m);
    });
    for (const m of young) this.mmu.testAndClearAccessed(owner.space, m.virt);
    // The entries made old are flushed as one range (the VMA's mmu_gather).
    this.#flushTlb(owner, young);
    // A page PROT_NONE keeps aside is a protnone entry to Linux, made old as any.
    this.#forEachIn(owner.hidden, start, end, (_vpn, frame) => {
      if (this.#mappedOnce(frame) && !inShared(frame)) this.hiddenYoung[frame] = 0;
    });
  }

  // Whether one entry maps `frame` (folio_mapcount() of a small folio is 1;
  // a huge page's frames each have one when one process maps it whole): a
  // private page no fork shares, or a shmem page one process maps.
  #mappedOnce(frame: number): boolean {
    const k = this.kind[frame];
    return (k === ANON && this.refs[frame] === 1) || (k === SHMEM && this.refs[frame] === 2);
  }

  // The huge pages `owner` maps in [start, end) that the range does not
  // cover whole (their 512 pages mapped there in order), or all of them
  // with `all`, are split (split_folio), as MADV_FREE, MADV_COLD and
  // MADV_PAGEOUT split a large folio before they handle part of it, and
  // reclaim without swap space one it cannot swap whole. A huge page
  // another process maps too is left alone (folio_likely_mapped_shared).
  #splitFoliosIn(owner: PageOwner, start: number, end: number, all: boolean): void {
    const heads = new Set<number>();
    this.mmu.walkRange(owner.space, start, end, (m) => {
      const head = this.folio[m.phys / PAGE]! - 1;
      if (head >= 0) heads.add(head);
    });
    // Pages PROT_NONE keeps aside are mapped to Linux (protnone entries).
    this.#forEachIn(owner.hidden, start, end, (_vpn, frame) => {
      const head = this.folio[frame]! - 1;
      if (head >= 0) heads.add(head);
    });
    for (const head of heads) {
      // Covered whole: split only by reclaim without swap space, and not
      // then if freed lazily (discarded or kept whole: pageOut).
      if (this.#coversFolio(owner, head, start, end) && (!all || this.lazyFolios.has(head))) continue;
      this.#splitFolio(head);
    }
  }

  // For MADV_FREE, MADV_COLD and MADV_PAGEOUT of `owner`'s pages: whether
  // a frame is a page of a huge page some other process maps any page of.
  // madvise_free_pte_range() and madvise_cold_or_pageout_pte_range() skip
  // such a folio (folio_maybe_mapped_shared()), even the pages of it only
  // the caller maps; #splitFoliosIn left it whole. Each huge page is
  // looked at once per call.
  #inSharedFolio(owner: PageOwner): (frame: number) => boolean {
    const seen = new Map<number, boolean>();
    return (frame) => {
      const head = this.folio[frame]! - 1;
      if (head < 0) return false;
      let shared = seen.get(head);
      if (shared === undefined) {
        shared = false;
        for (let i = 0; i < HPAGE_PAGES && !shared; i++) {
          const f = head + i;
          if (this.folio[f] !== head + 1 || this.refs[f] === 0) continue;
          shared = this.refs[f]! > 1 || this.ownerPid[f] !== owner.pid;
        }
        seen.set(head, shared);
      }
      return shared;
    };
  }

  // The first step of a split of the huge page at `head`: it is no longer
  // lazily freed as one, and unmapping it for the split moves each entry's
  // Dirty bit to the folio (try_to_migrate_one()), whose flag every small
  // page then inherits.
  #inheritDirty(head: number): void {
    this.lazyFolios.delete(head);
    if (this.#folioDirty(head)) this.#folioRedirtied(head);
  }

  // folio_mark_dirty() of the huge page at `head`: written since MADV_FREE
  // (#folioWritten), and each of its pages marked dirty (PG_dirty), which a
  // split leaves on every small page.
  #folioRedirtied(head: number): void {
    this.#folioWritten(head);
    for (let i = 0; i < HPAGE_PAGES; i++) if (this.folio[head + i] === head + 1) this.dirty[head + i] = 1;
  }

  // Whether any page of the huge page at `head` was written since MADV_FREE:
  // its entry is dirty, or it is not lazily freed while others are.
  #folioDirty(head: number): boolean {
    let lazy = false;
    let notLazy = false;
    for (let i = 0; i < HPAGE_PAGES; i++) {
      const f = head + i;
      if (this.folio[f] !== head + 1) continue;
      if (this.lazy[f] === 1) lazy = true;
      else notLazy = true;
      for (const [owner, vpn] of this.#mappersOf(f) ?? []) {
        const m = this.mmu.query(owner.space, vpn * PAGE);
        if (m !== null && m.phys / PAGE === f && m.dirty) return true;
      }
    }
    return lazy && notLazy;
  }

  // Whether `owner` maps the 512 pages of the huge page at `head` in order
  // (PROT_NONE ones too) inside [start, end), within one PTE table (Linux's walk batches a
  // folio's entries one page table at a time: one that crosses a 2 MiB
  // boundary is never covered whole), and nobody else maps any of them.
  #coversFolio(owner: PageOwner, head: number, start: number, end: number): boolean {
    const base = this.ownerVpn[head]!;
    if (base % HPAGE_PAGES !== 0 || base * PAGE < start || (base + HPAGE_PAGES) * PAGE > end) return false;
    for (let i = 0; i < HPAGE_PAGES; i++) {
      const f = head + i;
      if (this.folio[f] !== head + 1 || this.refs[f] !== 1 || this.ownerPid[f] !== owner.pid) return false;
      if (this.ownerVpn[f] !== base + i) return false;
    }
    return true;
  }

  // split_folio() of the huge page at `head`, in Linux 6.18: it becomes
  // 512 small pages, and each one a single process maps that holds only
  // zeros is replaced by the shared zero page in each mapping and freed
  // (remap_page() with RMP_USE_SHARED_ZEROPAGE, try_to_map_unused_to_zeropage()).
  // Left alone while another process maps any of it, unless `shared`: the
  // madvise paths skip a folio a fork shares (folio_maybe_mapped_shared()),
  // the deferred split and reclaim do not. Left whole, too, while a fault in
  // progress holds a page of it (pinned, as its copy-on-write source is
  // while the copy's frame is allocated): that reference makes Linux's
  // split fail (can_split_folio()). Returns whether it split the folio.
  #splitFolio(head: number, shared = false): boolean {
    for (let i = 0; i < HPAGE_PAGES; i++) {
      const f = head + i;
      if (this.folio[f] !== head + 1) continue;
      if (this.pinned[f] !== 0 || (!shared && this.refs[f]! > 1)) return false;
    }
    this.#inheritDirty(head);
    const zeros = this.#scratch;
    for (let i = 0; i < HPAGE_PAGES; i++) {
      const f = head + i;
      if (this.folio[f] !== head + 1) continue;
      this.folio[f] = 0;
      if (this.kind[f] !== ANON) continue;
      const mappers = this.#mappersOf(f);
      if (mappers === null) continue;
      // The PMD of a huge page mapped whole is split with it (unmap_folio():
      // TTU_SPLIT_HUGE_PMD, a flush of everything).
      for (const [owner, vpn] of mappers) {
        const idx = Math.floor(vpn / HPAGE_PAGES);
        if (owner.huge.get(idx) === head) this.#splitPmd(owner, idx);
      }
      this.ram.readBytes(physAddr(f * PAGE), zeros);
      if (!allZero(this.#scratchWords)) continue;
      // A page of zeros: each mapping of it maps the zero page instead
      // (remove_migration_pte(), try_to_map_unused_to_zeropage()).
      for (const [owner, vpn] of mappers) {
        const hidden = owner.hidden.get(vpn) === f;
        const m = hidden ? null : this.mmu.query(owner.space, vpn * PAGE);
        if (!hidden && (m === null || m.phys / PAGE !== f)) continue;
        if (hidden) {
          // Under PROT_NONE Linux maps the zero page with the VMA's protection:
          // a protnone entry, present (mincore counts it), kept aside here as
          // mprotect keeps the zero page under PROT_NONE.
          owner.hidden.delete(vpn);
          owner.hiddenDirty.delete(vpn);
          this.#unref(owner, f, vpn);
          owner.hidden.set(vpn, this.zeroFrame);
          continue;
        }
        const vma = owner.mm.tree.lookup(vpn * PAGE)!;
        // (Linux flushes the split huge page's range instead: not reported.)
        this.#unmapPage(owner, f, vpn, false);
        // (The entry's table is there: this cannot fail.)
        this.#install(owner, vpn * PAGE, this.zeroFrame, this.#rights(vma, false));
      }
    }
    return true;
  }

  // The live mappings of anonymous `frame`: its one owner's, or every
  // process's a fork shares it with; null when they cannot all be found.
  // (A copy: unmapping one changes the shared list.)
  #mappersOf(frame: number): [PageOwner, number][] | null {
    if (this.refs[frame] === 1) {
      const owner = this.host.process(this.ownerPid[frame]!);
      return owner === undefined ? null : [[owner, this.ownerVpn[frame]!]];
    }
    return this.#sharedMappers(frame);
  }

  // deferred_split_scan() (mm/huge_memory.c), the shrinker every reclaim
  // runs: a large folio some of whose pages were unmapped while others stay
  // mapped (queued by __folio_remove_rmap(); here, whose frames were freed
  // in part, see #freeFrame) is split, its pages of zeros mapped to the zero
  // page as every split of an anonymous folio maps them, in every process
  // a fork shares it with. One #splitFolio leaves whole (a page whose
  // mappings cannot all be found) stays queued.
  #splitPartial(): void {
    if (this.#partial.size === 0) return;
    for (const head of this.#partial) {
      const left = this.#folioFrames(head);
      if (left > 0 && left < HPAGE_PAGES) {
        this.#splitFolio(head, true);
        if (this.#folioFrames(head) !== 0) continue;
      }
      this.#partial.delete(head);
    }
  }

  // How many frames the large folio at `head` still has.
  #folioFrames(head: number): number {
    let n = 0;
    for (let i = 0; i < HPAGE_PAGES; i++) if (this.folio[head + i] === head + 1) n++;
    return n;
  }

  /** AnonHugePages of /proc/meminfo: the huge pages mapped whole, in pages, each counted once. */
  anonHugePages(owners: Iterable<PageOwner>): number {
    const heads = new Set<number>();
    for (const o of owners) for (const head of o.huge.values()) if (head !== HUGE_ZERO_PAGE) heads.add(head);
    return heads.size * HPAGE_PAGES;
  }

  /**
   * Verifies `owner`'s huge-page marks: each region lies in one private
   * anonymous VMA over a PTE table, and each of its pages maps (or, under
   * PROT_NONE, keeps aside) the huge page's frame or the zero page.
   *
   * @throws {CorruptionError} naming the region.
   */
  checkHuge(owner: PageOwner): void {
    for (const [idx, head] of owner.huge) {
      const start = idx * HPAGE;
      const fail = (what: string): never => {
        throw new CorruptionError(PKG, `process ${owner.pid}: huge region 0x${start.toString(16)} ${what}`);
      };
      const vma = owner.mm.tree.lookup(start);
      if (vma === null || vma.end < start + HPAGE || vma.object !== null)
        fail("is not inside one private anonymous VMA");
      if (!owner.mm.tables.hasPte(idx * HPAGE_PAGES)) fail("has no PTE table");
      for (let i = 0; i < HPAGE_PAGES; i++) {
        const want = head === HUGE_ZERO_PAGE ? this.zeroFrame : head + i;
        const m = this.mmu.query(owner.space, start + i * PAGE);
        const frame = m !== null ? m.phys / PAGE : owner.hidden.get(idx * HPAGE_PAGES + i);
        if (frame !== want)
          fail(`page ${i} maps ${frame === undefined ? "nothing" : `frame ${frame}`}, not ${want}`);
        if (head !== HUGE_ZERO_PAGE && (this.kind[want] !== ANON || this.folio[want] !== head + 1))
          fail(`page ${i} is not an anonymous page of the huge page`);
      }
    }
  }

  // ------------------------------------------------------------- faults

  /**
   * handle_mm_fault() for `owner`'s access at `addr`; `errorCode` is the
   * MMU's #PF error code (without PF_PRESENT the PTE is known to be absent).
   *
   * @returns true when the access may be retried; false when memory is exhausted.
   * @throws {Fault} (reason not-mapped, not-permitted or protection-key) for the SIGSEGV the access
   *   earns; past-object-end for the SIGBUS of a shared page past its object's end, no-huge-page
   *   for the SIGBUS of a hugetlb page.
   * @throws {UsageError} for an instruction fetch from an execute-only page, which needs protection keys in the MMU.
   */
  fault(
    owner: PageOwner,
    addr: number,
    access: "read" | "write" | "execute",
    errorCode = PF_PRESENT,
  ): boolean {
    this.stats.faults++;
    // Below a stack, the stack grows (lock_mm_and_find_vma); the access is then checked as any other.
    const vma = owner.mm.tree.lookup(addr) ?? owner.mm.growStack(addr, (v) => this.#prepareAnon(owner, v));
    if (vma === null) throw new Fault(PKG, addr, access, "not-mapped");
    // access_error() in arch/x86/mm/fault.c; its pkey test
    // (arch_vma_access_permitted) first: PKRU denies data access to the
    // execute-only key, and bad_area_access_error() reports SEGV_PKUERR.
    if (this.#executeOnly(vma)) this.#executeOnlyFault(addr, access);
    if (
      access === "write"
        ? (vma.flags & VM_WRITE) === 0
        : access === "execute"
          ? (vma.flags & VM_EXEC) === 0
          : !this.#accessible(vma)
    ) {
      throw new Fault(PKG, addr, access, "not-permitted");
    }
    // (`&` keeps the low bits of any safe integer, negative too: no float modulo.)
    const page = addr - (addr & (PAGE - 1));
    // A guard marker (handle_pte_marker): SIGSEGV, before anything the VMA
    // would do for an empty entry.
    if (owner.guards.size !== 0 && owner.guards.has(page / PAGE))
      throw new Fault(PKG, addr, access, "not-mapped");
    // hugetlb_no_page(): the pool has no huge page to give (none are
    // reserved here), SIGBUS, after huge_pte_alloc() made the tables above it.
    if (vma.hugetlb !== null) {
      owner.mm.tables.touchUpper(page, vma.hugetlb.pageBytes);
      if (!owner.alive) return false;
      throw new Fault(PKG, addr, access, "no-huge-page");
    }
    // shmem_fault(): a page past the end of the shmem file is SIGBUS.
    if (pastObjectEnd(vma, page)) {
      // A read faults around first (do_read_fault()), mapping what the
      // object holds nearby, and then finds no page there.
      if (access !== "write" && (errorCode & PF_PRESENT) === 0)
        this.#faultAround(owner, vma, page, (vma.flags & VM_WRITE) !== 0);
      if (!owner.alive) return false;
      // __handle_mm_fault() allocated the PUD and PMD tables on its way down
      // (which may have run the OOM killer: a process it chose dies of that).
      owner.mm.tables.touchUpper(page);
      if (!owner.alive) return false;
      throw new Fault(PKG, addr, access, "past-object-end");
    }
    // A not-present fault comes from a walk that just found no leaf: the
    // page is not mapped, and reading the tables again would find nothing
    // (one CPU: nothing can have mapped it since). Others read the PTE.
    if ((errorCode & PF_PRESENT) === 0) return this.#missing(owner, vma, page, access === "write");
    const m = this.mmu.query(owner.space, page);
    if (m !== null) {
      if (access === "write" && !m.write) return this.#writeProtected(owner, vma, page, m);
      // Present and permitted: a stale translation was cached. Drop it and retry.
      this.mmu.invalidatePage(owner.space, page);
      return true;
    }
    return this.#missing(owner, vma, page, access === "write");
  }

  // A fault on an execute-only page, out of fault()'s way: SIGSEGV for a
  // load or store; a fetch is refused, as the MMU has no protection keys.
  #executeOnlyFault(addr: number, access: "read" | "write" | "execute"): never {
    if (access !== "execute") throw new Fault(PKG, addr, access, "protection-key");
    throw new UsageError(
      PKG,
      `fault: an instruction fetch from the execute-only page at 0x${addr.toString(16)} is not modelled (the MMU has no protection keys)`,
      "access",
    );
  }

  // do_fault_around() with filemap_map_pages(): maps, read fault or not,
  // every page of the object already in memory in a window of
  // FAULT_AROUND_PAGES page-table entries around `page` (aligned down,
  // clamped to the VMA and to the page table), skipping entries present.
  // Returns false when a page table could not be allocated.
  #faultAround(owner: PageOwner, vma: Vma, page: number, writable: boolean): boolean {
    const obj = vma.object!;
    const pteOff = (page / PAGE) % PTRS_PER_PTE;
    const vmaOff = (page - vma.start) / PAGE;
    const vmaPages = (vma.end - vma.start) / PAGE;
    const from = Math.max(pteOff - (pteOff % FAULT_AROUND_PAGES), pteOff - Math.min(pteOff, vmaOff));
    const to = Math.min(from + FAULT_AROUND_PAGES, PTRS_PER_PTE, pteOff + vmaPages - vmaOff);
    const rights = this.#rights(vma, writable);
    for (let j = from; j < to; j++) {
      const at = page + (j - pteOff) * PAGE;
      const idx = vma.pgoff + (at - vma.start) / PAGE;
      if (idx >= obj.pages) break;
      const frame = obj.frames.get(idx);
      if (frame === undefined || this.mmu.query(owner.space, at) !== null || owner.guards.has(at / PAGE))
        continue;
      if (!this.#install(owner, at, frame, rights)) return false;
      this.refs[frame]!++;
    }
    return true;
  }

  // A not-present page: shmem, swap-in, demand-zero or the zero page.
  #missing(owner: PageOwner, vma: Vma, page: number, write: boolean): boolean {
    const vpn = page / PAGE;
    const writable = (vma.flags & VM_WRITE) !== 0;
    if (vma.object !== null) {
      const obj = vma.object;
      const idx = vma.pgoff + (page - vma.start) / PAGE;
      // do_read_fault(): a read first maps the pages around it that the
      // object already holds (fault-around); often the faulting one is among them.
      if (
        !write &&
        this.#faultAround(owner, vma, page, writable) &&
        this.mmu.query(owner.space, page) !== null
      )
        return true;
      // A page table fault-around made may have run the OOM killer, and it
      // may have chosen this process: it dies of that, allocating nothing more.
      if (!owner.alive) return false;
      let frame = obj.frames.get(idx);
      if (frame === undefined) {
        const slot = obj.swapped.size === 0 ? undefined : obj.swapped.get(idx);
        // shmem_swapin_folio(): a page written out is taken from the swap
        // cache or read back, the slot freed, and the page marked dirty
        // (its only copy is in memory).
        const cached = slot === undefined ? undefined : this.swapCache.get(slot);
        const f = cached ?? (slot === undefined ? this.#newFrame() : this.host.allocFrame());
        if (f === null) return false;
        frame = f;
        if (cached !== undefined) this.#cacheDel(frame);
        else if (slot !== undefined) this.#readSlot(slot, f);
        this.kind[frame] = SHMEM;
        this.refs[frame] = 1; // the object's own hold
        obj.frames.set(idx, frame);
        this.shmemPage.set(frame, [obj, idx]);
        if (slot !== undefined) {
          this.swapDevice.release(slot);
          obj.swapped.delete(idx);
          this.dirty[frame] = 1;
        }
      }
      if (!this.#install(owner, page, frame, this.#rights(vma, writable))) return false;
      this.refs[frame]!++;
      // do_shared_fault(): a write marks the folio dirty.
      if (write) this.dirty[frame] = 1;
      return true;
    }
    // No swap entries (the usual case): skip the Map lookup, whose key (a vpn
    // above 2^31 for most user addresses) is a heap number to hash.
    const slot = owner.swap.size === 0 ? undefined : owner.swap.get(vpn);
    if (slot !== undefined) return this.#swapIn(owner, vma, page, slot, write);
    // do_huge_pmd_anonymous_page(): a region that may map a huge page
    // and has no PTE table yet gets the huge zero page on a read, a huge
    // page on a write, and 4 KiB pages only if none can be had.
    const region = this.#hugeRegion(owner, vma, page);
    if (region >= 0) {
      this.#prepareAnon(owner, vma);
      if (!write && this.zeroPage) return this.#mapHugeZero(owner, vma, region);
      const r = this.#hugeFault(owner, vma, region, false, !write);
      if (r !== FALLBACK) return r;
    }
    if (write) return this.#demandZero(owner, vma, page, true);
    // Without the zero page a read takes a page of zeros too, mapped as
    // do_anonymous_page() maps one: writable and dirty if the VMA is.
    if (!this.zeroPage) return this.#demandZero(owner, vma, page, (vma.flags & VM_WRITE) !== 0);
    // A read of untouched private memory maps the shared zero page, read-only.
    this.stats.zeroPageMaps++;
    return this.#install(owner, page, this.zeroFrame, this.#rights(vma, false));
  }

  // do_anonymous_page()'s new page: a frame of zeros for page `page` of
  // `owner`, mapped writable and dirty when `writable`, read-only and
  // clean when not.
  #demandZero(owner: PageOwner, vma: Vma, page: number, writable: boolean): boolean {
    const vpn = page / PAGE;
    const f = this.#newFrame();
    if (f === null) return false;
    this.kind[f] = ANON;
    this.refs[f] = 1;
    this.#setOwner(f, owner.pid, vpn);
    this.#markDroppable(f, vma);
    this.#prepareAnon(owner, vma);
    // Mapping it may make a page table, whose allocation may run the OOM
    // killer onto this process: the frame, mapped nowhere then, goes back
    // (do_anonymous_page()'s release of its folio when it cannot map it).
    if (!this.#install(owner, page, f, this.#rights(vma, writable), writable)) {
      this.#drop(f, owner.pid, vpn);
      return false;
    }
    this.stats.zeroFills++;
    return true;
  }

  // do_wp_page(): a write to a present, write-protected page of a writable VMA.
  #writeProtected(owner: PageOwner, vma: Vma, page: number, m: PageMapping): boolean {
    const frame = m.phys / PAGE;
    const vpn = page / PAGE;
    const rights = this.#rights(vma, true);
    if (owner.huge.size !== 0) {
      const idx = Math.floor(page / HPAGE);
      const head = owner.huge.get(idx);
      if (head === HUGE_ZERO_PAGE) {
        // do_huge_zero_wp_pmd(): a huge page replaces the huge zero page,
        // whatever the VMA's THP flags now; without one the PMD is split
        // into zero-page PTEs and the write copies one 4 KiB page.
        const r = this.#hugeFault(owner, vma, idx * HPAGE, true);
        if (r !== FALLBACK) return r;
        this.#splitPmd(owner, idx);
      } else if (head !== undefined && !this.#hugeExclusive(head)) {
        // do_huge_pmd_wp_page(): a huge page another process still maps
        // part of is split, and the write copies one 4 KiB page.
        this.#splitPmd(owner, idx);
      }
    }
    // wp_can_reuse_anon_folio(): a page of the swap cache is reused only once
    // it leaves the cache, which it does when no swap entry refers to its slot.
    if (
      vma.object !== null ||
      (this.kind[frame] === ANON && this.refs[frame] === 1 && this.#freeSwap(frame))
    ) {
      // Shared memory, or a private page no one else maps: write-enable in place.
      if (vma.object === null) this.stats.cowReuses++;
      this.mmu.protect(owner.space, page, PAGE, rights);
      this.mmu.invalidatePage(owner.space, page);
      return true;
    }
    // Allocating may reclaim: the page being copied must not be swapped out
    // meanwhile. (Pinned inline, not through #withPinned: this is the
    // copy-on-write fault's path, and a closure per fault measured slower.)
    this.pinned[frame] = 1;
    let f: number | null;
    try {
      f = this.#newFrame();
    } finally {
      this.pinned[frame] = 0;
    }
    if (f === null) return false;
    if (this.kind[frame] !== ZERO) this.ram.copyFrame(pfn(f), pfn(frame));
    this.kind[f] = ANON;
    this.refs[f] = 1;
    this.#setOwner(f, owner.pid, vpn);
    this.#markDroppable(f, vma);
    this.#prepareAnon(owner, vma);
    if (m.dirty) this.#keepDirty(frame);
    this.#unref(owner, frame, vpn);
    this.#clear(owner, page, PAGE);
    this.#flushPage(owner, page);
    this.stats.cowCopies++;
    // wp_page_copy() maps the copy dirty.
    return this.#install(owner, page, f, rights, true);
  }

  // --------------------------------------------------------- PageLayer

  /**
   * Drops the pages of [start, end) of `owner`'s `vma`; guard markers stay
   * unless the range is being unmapped (`unmap`: zap_nonpresent_ptes drops
   * them only with ZAP_FLAG_DROP_MARKER, which unmapping sets).
   */
  zap(owner: PageOwner, _vma: Vma, start: number, end: number, unmap = false): void {
    if (unmap) this.#forEachIn(owner.guards, start, end, (vpn) => owner.guards.delete(vpn));
    const whole = this.#splitHugeIn(owner, start, end, false);
    const gone: PageMapping[] = [];
    this.mmu.walkRange(owner.space, start, end, (m) => {
      // zap_present_ptes(): a dirty entry marks its shmem folio dirty (and
      // here a page of the swap cache, whose other mappings may be clean).
      if (m.dirty) this.#keepDirty(m.phys / PAGE);
      gone.push(m);
    });
    if (gone.length > 0) {
      this.#clear(owner, start, end - start);
      for (const m of gone) this.#unref(owner, m.phys / PAGE, m.virt / PAGE);
    }
    // Linux's PROT_NONE entries are present ones: zapping them widens the
    // range to flush as much, though they hold nothing in the TLB.
    const flushed: FlushedPage[] = gone;
    this.#forEachIn(owner.hidden, start, end, (vpn) => flushed.push({ virt: vpn * PAGE, pageSize: PAGE }));
    this.#flushTlb(owner, this.#withPmds(flushed, whole));
    this.#forEachIn(owner.swap, start, end, (vpn, slot) => {
      owner.swap.delete(vpn);
      this.#releaseSwap(slot);
    });
    this.#forEachIn(owner.hidden, start, end, (vpn, frame) => {
      this.#unref(owner, frame, vpn);
      owner.hidden.delete(vpn);
      owner.hiddenDirty.delete(vpn);
    });
  }

  /**
   * MADV_FREE on [start, end) of a private anonymous VMA
   * (madvise_free_pte_range): a page becomes lazily freed, this process's
   * entry of it made old and clean; it keeps its contents until reclaim
   * drops it, which it does only if nothing wrote it since. A page a fork
   * shares is freed so too (its other mappings keep their bits), but not
   * one of the swap cache that another entry maps, nor a page of a huge
   * page that another process maps (#mayFreeLazily). Pages kept aside by
   * PROT_NONE are freed lazily as mapped ones are. Swapped-out pages are
   * dropped at once, as their slots are released.
   */
  lazyFree(owner: PageOwner, start: number, end: number): void {
    // madvise_free_huge_pmd() and madvise_free_pte_range(): a huge page
    // covered in part is split first; the huge zero page is left as it is.
    this.#splitFoliosIn(owner, start, end, false);
    const pages: PageMapping[] = [];
    this.mmu.walkRange(owner.space, start, end, (m) => pages.push(m));
    // The entries made old and clean (those young or dirty before) are flushed as one range.
    const cleaned: PageMapping[] = [];
    const inShared = this.#inSharedFolio(owner);
    for (const m of pages) {
      const frame = m.phys / PAGE;
      if (!this.#mayFreeLazily(frame, inShared)) continue;
      // Old and clean in the tables now; the TLB flush comes once, below.
      this.mmu.clean(owner.space, m.virt, false);
      if (m.accessed || m.dirty) cleaned.push(m);
      this.#markLazy(frame);
      // A huge page left unsplit above is covered whole: freed lazily as one.
      if (this.folio[frame] !== 0) this.lazyFolios.add(this.folio[frame]! - 1);
    }
    // A page PROT_NONE keeps aside is present to Linux (a protnone entry,
    // pte_present()): it is freed lazily too, clean, as nothing can write it.
    this.#forEachIn(owner.hidden, start, end, (vpn, frame) => {
      if (!this.#mayFreeLazily(frame, inShared)) return;
      owner.hiddenDirty.delete(vpn);
      this.#markLazy(frame);
      if (this.folio[frame] !== 0) this.lazyFolios.add(this.folio[frame]! - 1);
    });
    this.#forEachIn(owner.swap, start, end, (vpn, slot) => {
      owner.swap.delete(vpn);
      this.#releaseSwap(slot);
    });
    // madvise_free_huge_pmd(): a huge page covered whole and young or dirty
    // is made old and clean through pmdp_invalidate(), a flush of its range
    // by 4 KiB strides (everything) of its own, and then counts in the
    // gather as its PMD's one entry.
    const whole: number[] = [];
    for (const m of cleaned) {
      const idx = Math.floor(m.virt / HPAGE);
      const head = owner.huge.get(idx);
      if (head === undefined || head === HUGE_ZERO_PAGE || whole.includes(idx)) continue;
      // (One the range covers in part is left alone: another process maps some of it.)
      if (idx * HPAGE < start || (idx + 1) * HPAGE > end) continue;
      whole.push(idx);
      this.flushAll(owner);
    }
    this.#flushTlb(owner, this.#withPmds(cleaned, whole));
  }

  /**
   * MADV_PAGEOUT on [start, end) (madvise_cold_or_pageout_pte_range, then
   * shrink_folio_list): each page this mapping alone maps is reclaimed now,
   * Accessed bit or not. A shmem page is unmapped; it stays in its object
   * when written (shmem pages are not swapped here), and a clean one is
   * dropped from it too; a private anonymous page goes to swap,
   * and stays mapped when there is no free slot (add_to_swap fails before
   * anything is unmapped). Pages shared after fork are left alone.
   */
  pageOut(owner: PageOwner, _vma: Vma, start: number, end: number): void {
    // A huge page covered in part is split first (as for MADV_COLD); so is
    // one covered whole when there is no swap space to write it to
    // (shrink_folio_list(): add_to_swap() fails, split_folio_to_list()).
    this.#splitFoliosIn(owner, start, end, this.swapDevice.freeSlots === 0);
    const inShared = this.#inSharedFolio(owner);
    const pages: [number, number, boolean][] = [];
    this.mmu.walkRange(owner.space, start, end, (m) => pages.push([m.virt, m.phys / PAGE, m.dirty]));
    // A lazily freed huge page is one folio to reclaim: written since in any
    // entry, it is kept whole (try_to_unmap_one() sets PG_swapbacked again);
    // else every page of it is discarded below. (Any left unsplit above is
    // covered whole: all its entries are in `pages`, so the per-page
    // decisions below need no look at the rest of its region.)
    if (this.lazyFolios.size !== 0) {
      const written = new Set<number>();
      for (const [, frame, dirty] of pages) {
        const head = this.folio[frame]! - 1;
        if (head >= 0 && this.lazyFolios.has(head) && (dirty || this.lazy[frame] === 0)) written.add(head);
      }
      for (const head of written) {
        this.lazyFolios.delete(head);
        this.#folioWritten(head);
      }
    }
    for (const [virt, frame, written] of pages) {
      const k = this.kind[frame];
      if (k === SHMEM) {
        // Mapped here only: the object's hold and this entry.
        if (this.refs[frame] !== 2) continue;
        if (written) this.dirty[frame] = 1;
        // try_to_unmap() comes before the write-out, which may fail: the
        // page is unmapped with or without a swap slot.
        this.#unmapPage(owner, frame, virt / PAGE);
        this.#evictShmem(frame, true);
        continue;
      }
      if (k !== ANON || this.refs[frame] !== 1 || this.pinned[frame] !== 0 || inShared(frame)) continue;
      if (this.droppable[frame] === 1) {
        this.#unmapPage(owner, frame, virt / PAGE);
        this.stats.drops++;
        continue;
      }
      if (this.lazy[frame] === 1) {
        // shrink_folio_list(): a lazily freed page not written since is
        // discarded, swap space or not. One written since stays mapped this
        // time: try_to_unmap_one() puts its entry back and makes it an
        // ordinary, swap-backed page again (swap-random-0.vm).
        if (!written) {
          this.#unmapPage(owner, frame, virt / PAGE);
          this.stats.lazyFrees++;
          continue;
        }
        this.#redirtied(frame);
        continue;
      }
      // No slot: the page stays (add_to_swap fails before anything is unmapped).
      this.#swapOut(frame, [[owner, virt / PAGE]], true);
    }
    // Pages kept aside by PROT_NONE are mapped too (Linux's protnone
    // entries, which madvise_cold_or_pageout_pte_range() collects as any).
    this.#forEachIn(owner.hidden, start, end, (vpn, frame) => {
      if (inShared(frame)) return;
      if (this.kind[frame] === ANON && this.refs[frame] === 1 && this.pinned[frame] === 0) {
        if (this.#discardHidden(owner, frame, vpn)) return;
        // An ordinary one is swapped out, when there is a slot for it.
        this.#swapOut(frame, [[owner, vpn]], true);
        return;
      }
      if (this.kind[frame] !== SHMEM || this.refs[frame] !== 2) return;
      this.#unmapHidden(owner, frame, vpn);
      this.#evictShmem(frame, true);
    });
  }

  // A private page kept aside by PROT_NONE that is lazily freed and clean
  // since (written pages were made ordinary when it was hidden), or
  // droppable, is discarded as a mapped one is (try_to_unmap_one()).
  // Returns whether it was.
  #discardHidden(owner: PageOwner, frame: number, vpn: number): boolean {
    const droppable = this.droppable[frame] === 1;
    if (!droppable && this.lazy[frame] !== 1) return false;
    if (!droppable && owner.hiddenDirty.has(vpn)) {
      // Written since, by way of an entry a fork copied (see #reclaimSharedLazy).
      this.#redirtied(frame);
      return false;
    }
    this.#unmapHidden(owner, frame, vpn);
    if (droppable) this.stats.drops++;
    else this.stats.lazyFrees++;
    return true;
  }

  // #unmapPage for page `vpn` of `owner`, which PROT_NONE keeps aside
  // (`frame`): a huge page mapped whole is split first (TTU_SPLIT_HUGE_PMD),
  // then the page leaves the kept pages and drops its reference.
  #unmapHidden(owner: PageOwner, frame: number, vpn: number): void {
    if (owner.huge.size !== 0) this.#splitPmd(owner, Math.floor(vpn / HPAGE_PAGES));
    owner.hidden.delete(vpn);
    owner.hiddenDirty.delete(vpn);
    this.#unref(owner, frame, vpn);
  }

  // A shmem page no entry maps any more leaves its object: a clean one
  // (never written: all zeros) is dropped (__remove_mapping()), a dirty
  // one written to a swap slot the object then refers to (shmem_writeout());
  // with no free slot it stays (and is left unmapped, as Linux leaves it).
  // With `writeback` (MADV_PAGEOUT) a page written stays in the swap cache
  // as #swapOut's do, unmapped and out of its object, until reclaim passes
  // or a fault takes it back. Returns whether the page left its object.
  #evictShmem(frame: number, writeback = false): boolean {
    if (this.refs[frame] !== 1) return false;
    const [obj, idx] = this.shmemPage.get(frame)!;
    let wrote = false;
    let slot = -1;
    if (this.dirty[frame] !== 0) {
      slot = this.swapDevice.allocate();
      if (slot < 0) return false;
      wrote = this.#writeSlot(slot, frame);
      obj.swapped.set(idx, slot);
    }
    obj.frames.delete(idx);
    // (A page of zeros is written at once, so it goes at once.)
    if (writeback && wrote) {
      // The object's hold becomes the cache's (NR_SHMEM no longer counts it).
      this.refs[frame] = 0;
      this.dirty[frame] = 0;
      this.#cacheAdd(frame, slot);
      return true;
    }
    this.#drop(frame, -1, 0);
    return true;
  }

  // Slot `slot` of a shmem object is released (punched, or the object is
  // gone): its page in the swap cache, if any, goes too.
  #releaseShmemSlot(slot: number): void {
    this.swapDevice.release(slot);
    const frame = this.swapCache.get(slot);
    if (frame !== undefined) this.#dropCached(frame);
  }

  #forEachIn(
    map: Map<number, number>,
    start: number,
    end: number,
    fn: (vpn: number, value: number) => void,
  ): void {
    if (map.size === 0) return;
    const first = start / PAGE;
    const last = end / PAGE;
    if (last - first <= map.size) {
      for (let vpn = first; vpn < last; vpn++) {
        const v = map.get(vpn);
        if (v !== undefined) fn(vpn, v);
      }
    } else {
      for (const [vpn, v] of [...map]) if (vpn >= first && vpn < last) fn(vpn, v);
    }
  }

  // flush_tlb_mm_range() (arch/x86/mm/tlb.c) after an edit of the entries
  // `changed`, as the mmu_gather tracked them: an INVLPG at each stride of
  // the range they span, unless it is more than
  // tlb_single_page_flush_ceiling (33) strides, when the address space's
  // whole TLB goes at once. The stride is tlb_get_unmap_shift()'s, the
  // smallest level the gather cleared: 4 KiB for a 4 KiB entry, 2 MiB for a
  // huge page or a freed PTE table, 1 GiB for a freed PMD table. (A gather
  // that only freed tables flushes ⌈range / stride⌉ strides, which Linux's
  // tlb_flush tracepoint reports as ⌊range / stride⌋: see onTlbFlush.)
  // Inside a gather of `owner`'s, the entries are kept for its end.
  #flushTlb(owner: PageOwner, changed: readonly FlushedPage[]): void {
    if (this.#gathering === owner) {
      for (const m of changed) this.#gathered.push(m);
      return;
    }
    if (changed.length === 0) return;
    let stride = Number.POSITIVE_INFINITY;
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    for (const m of changed) {
      const s = m.stride ?? m.pageSize;
      if (s < stride) stride = s;
      if (m.virt < from) from = m.virt;
      if (m.virt + m.pageSize > to) to = m.virt + m.pageSize;
    }
    const strides = Math.floor((to - from) / stride);
    if (strides > TLB_FLUSH_CEILING) {
      this.flushAll(owner);
      return;
    }
    // An INVLPG at every stride of the range, changed or not.
    for (let va = from; va < to; va += stride) this.mmu.invalidatePage(owner.space, va);
    // One INVLPG drops a 2 MiB TLB entry; the MMU holds the 512 4 KiB
    // entries this kernel maps a huge page with, which go one by one.
    if (stride > PAGE) {
      for (const m of changed) {
        if (m.stride !== undefined || m.pageSize === PAGE) continue;
        for (let va = m.virt + PAGE; va < m.virt + m.pageSize; va += PAGE)
          this.mmu.invalidatePage(owner.space, va);
      }
    }
    this.onTlbFlush?.(owner.pid, strides);
  }

  /** flush_tlb_mm(): every TLB entry of `owner` (fork's flush, a range past the ceiling), reported to onTlbFlush. */
  flushAll(owner: PageOwner): void {
    this.mmu.invalidateAddressSpace(owner.space);
    this.onTlbFlush?.(owner.pid, -1);
  }

  // ptep_clear_flush(): the one page at `va` of `owner`, through
  // flush_tlb_mm_range(), reported to onTlbFlush.
  #flushPage(owner: PageOwner, va: number): void {
    this.mmu.invalidatePage(owner.space, va);
    this.onTlbFlush?.(owner.pid, 1);
  }

  /**
   * Linux's `tlb:tlb_flush` tracepoint: called after each flush made as
   * flush_tlb_mm_range() makes them — a call's mmu_gather (a transparent
   * huge page mapped whole counting as its PMD's one 2 MiB entry), fork's,
   * a copy-on-write copy's, the one page MADV_PAGEOUT or reclaim unmaps at a
   * time, a huge page's PMD split and the huge zero page's replacement (both
   * the whole address space) — with the process's pid and what the
   * tracepoint reports: the range's length in strides rounded down, or -1
   * for the whole address space (TLB_FLUSH_ALL). Other invalidations (a
   * stale translation's after a spurious fault, the pages a huge page's
   * folio split puts back on the zero page) are not reported. Null: none.
   */
  onTlbFlush: ((pid: number, strides: number) => void) | null = null;

  #gathering: PageOwner | null = null;
  #gathered: FlushedPage[] = [];

  /**
   * Runs `edit` as one mmu_gather of `owner`'s (tlb_gather_mmu() …
   * tlb_finish_mmu()): the TLB entries its zaps and protects change are
   * flushed at the end, over the range they span together. A gather inside
   * another joins it; the edits of another process inside one (an OOM kill
   * from inside it, whose victim's tables go) flush at once.
   */
  gatherTlb<T>(owner: PageOwner, edit: () => T): T {
    if (this.#gathering !== null) return edit();
    this.#gathering = owner;
    this.#gathered = [];
    try {
      return edit();
    } finally {
      const changed = this.#gathered;
      this.#gathering = null;
      this.#gathered = [];
      if (owner.alive) this.#flushTlb(owner, changed);
    }
  }

  // Calls `edit` once for each run of pages of `pages` (4 KiB mappings in
  // address order) that follow one another with the same `write[i]` (all
  // alike when null): one MMU call walks along a run's table, where a call
  // per page would descend from the root for each (change_pte_range() goes
  // along the PTE table too).
  #inRuns(
    pages: readonly PageMapping[],
    write: readonly boolean[] | null,
    edit: (from: number, to: number, write: boolean) => void,
  ): void {
    let i = 0;
    while (i < pages.length) {
      const w = write === null ? false : write[i]!;
      let j = i + 1;
      while (
        j < pages.length &&
        pages[j]!.virt === pages[j - 1]!.virt + PAGE &&
        (write === null || write[j] === w)
      )
        j++;
      edit(pages[i]!.virt, pages[j - 1]!.virt + PAGE, w);
      i = j;
    }
  }

  /** Makes the PTEs of [start, end) follow `vma.flags`. */
  protect(owner: PageOwner, vma: Vma, start: number, end: number): void {
    // change_huge_pmd() keeps a region it covers whole mapped by one PMD.
    const whole = this.#splitHugeIn(owner, start, end, true);
    const present: PageMapping[] = [];
    this.mmu.walkRange(owner.space, start, end, (m) => present.push(m));
    if (!this.#accessible(vma)) {
      // PROT_NONE: keep the frames aside; the MMU cannot hold an unreadable present page.
      for (const m of present) {
        const vpn = m.virt / PAGE;
        const frame = m.phys / PAGE;
        // The zero page too (4 KiB, or the huge one in its PMD): Linux's
        // entry becomes a protnone one, present (mincore counts it:
        // swap-random-8.vm), with no reference and no RSS, as when mapped.
        if (this.kind[frame] !== ZERO) {
          // The entry goes, and its Dirty and Accessed bits with it: keep what they said.
          if (m.dirty) {
            this.#wasWritten(frame);
            owner.hiddenDirty.add(vpn);
          }
          // (A shmem page hidden in several processes keeps whether any of their entries was accessed.)
          if (m.accessed) this.hiddenYoung[frame] = 1;
          else if (this.kind[frame] !== SHMEM) this.hiddenYoung[frame] = 0;
        }
        owner.hidden.set(vpn, frame);
      }
      this.#inRuns(present, null, (from, to) => this.#clear(owner, from, to - from));
      this.#flushTlb(owner, this.#withPmds(present, whole));
      return;
    }
    const writable = (vma.flags & VM_WRITE) !== 0;
    // Copy-on-write pages and the zero page stay read-only until a write fault.
    // (Nor a page of the swap cache whose slot another entry refers to.)
    const write = present.map((m) => {
      const frame = m.phys / PAGE;
      return (
        writable &&
        (vma.object !== null ||
          (this.kind[frame] === ANON && this.refs[frame] === 1 && this.#ownsSwap(frame)))
      );
    });
    this.#inRuns(present, write, (from, to, w) =>
      this.mmu.protect(owner.space, from, to - from, this.#rights(vma, w)),
    );
    // change_pte_range(): only an entry whose rights changed is flushed (pte_needs_flush()).
    const execute = this.#rights(vma, false).execute;
    this.#flushTlb(
      owner,
      this.#withPmds(
        present.filter((m, i) => m.write !== write[i] || m.execute !== execute),
        whole,
      ),
    );
    // Mapping a page back may make a page table, and so reclaim: the pages
    // coming back are pinned until they are mapped.
    const back: [number, number][] = [];
    this.#forEachIn(owner.hidden, start, end, (vpn, frame) => void back.push([vpn, frame]));
    if (back.length === 0) return;
    this.#withPinned(
      back.map(([, frame]) => frame),
      () => {
        for (const [vpn, frame] of back) {
          // A process the OOM killer took (its tables' allocation) maps nothing more.
          if (!owner.alive) return;
          const w =
            writable &&
            this.kind[frame] !== ZERO &&
            (vma.object !== null || (this.refs[frame] === 1 && this.#ownsSwap(frame)));
          // The frame is counted already; map it back without counting it
          // again, with the Dirty bit its protnone entry kept.
          const dirty = owner.hiddenDirty.delete(vpn);
          this.mmu.map(
            owner.space,
            vpn * PAGE,
            physAddr(frame * PAGE),
            PAGE,
            PAGE,
            this.#rights(vma, w),
            dirty,
          );
          owner.hidden.delete(vpn);
        }
      },
    );
  }

  // move_page_tables() goes extent by extent, each up to the next 2 MiB
  // boundary of the old address or of the new one; move_ptes() flushes an
  // extent that moved a present entry, whole (flush_tlb_range() over it).
  // `present`: the moved entries, in address order.
  #flushMoved(
    owner: PageOwner,
    present: readonly PageMapping[],
    from: number,
    to: number,
    length: number,
  ): void {
    const end = from + length;
    let i = 0;
    for (let old = from; old < end; ) {
      const next = Math.min(end, old - (old % HPAGE) + HPAGE, old + HPAGE - ((old + to - from) % HPAGE));
      let moved = false;
      for (; i < present.length && present[i]!.virt < next; i++) moved = true;
      if (moved)
        this.#flushTlb(owner, [
          { virt: old, pageSize: PAGE },
          { virt: next - PAGE, pageSize: PAGE },
        ]);
      old = next;
    }
  }

  /** Moves the pages of [from, from + length) to [to, to + length) (mremap). */
  move(owner: PageOwner, from: number, to: number, length: number): void {
    // move_huge_pmd(): a region moved whole to a 2 MiB boundary stays one
    // PMD mapping; any other is split on the way.
    const keep: [number, number][] = [];
    if (owner.huge.size !== 0) {
      if ((to - from) % HPAGE === 0) {
        for (let idx = Math.ceil(from / HPAGE); (idx + 1) * HPAGE <= from + length; idx++) {
          const head = owner.huge.get(idx);
          if (head !== undefined) keep.push([idx + (to - from) / HPAGE, head]);
        }
      }
      this.#splitHugeIn(owner, from, from + length, false);
    }
    const present: PageMapping[] = [];
    this.mmu.walkRange(owner.space, from, from + length, (m) => present.push(m));
    this.#clear(owner, from, length);
    this.#flushMoved(owner, present, from, to, length);
    const shift = (to - from) / PAGE;
    // Mapping may allocate a table, and that may reclaim: the pages on
    // their way, in no table for the moment, are pinned until they arrive.
    const moving = this.#withPinned(
      present.map((m) => m.phys / PAGE),
      () => {
        for (const m of present) {
          // ... or run the OOM killer: a process it took moves nothing more.
          if (!owner.alive) return false;
          const frame = m.phys / PAGE;
          const oldVpn = m.virt / PAGE;
          // move_ptes() keeps each entry whole, its Dirty bit with it (its
          // Accessed bit starts clear here).
          this.mmu.map(owner.space, m.virt + (to - from), m.phys, PAGE, PAGE, m, m.dirty);
          this.#remapOwner(owner, frame, oldVpn, oldVpn + shift);
        }
        return true;
      },
    );
    if (!moving) return;
    // (The Dirty bits of the pages PROT_NONE keeps aside move with them.)
    const dirtyMoved: number[] = [];
    for (const map of [owner.swap, owner.hidden, owner.guards]) {
      const moved: [number, number][] = [];
      this.#forEachIn(map, from, from + length, (vpn, v) => {
        moved.push([vpn + shift, v]);
        map.delete(vpn);
        if (map === owner.hidden && owner.hiddenDirty.delete(vpn)) dirtyMoved.push(vpn + shift);
      });
      for (const [vpn, v] of moved) map.set(vpn, v);
      // A page PROT_NONE keeps aside moves in the reverse map too.
      if (map === owner.hidden)
        for (const [vpn, frame] of moved) this.#remapOwner(owner, frame, vpn - shift, vpn);
    }
    for (const vpn of dirtyMoved) owner.hiddenDirty.add(vpn);
    for (const [idx, head] of keep) owner.huge.set(idx, head);
  }

  /**
   * Faults in [start, end) of `vma` (MAP_POPULATE, MADV_POPULATE_*); stops
   * when memory runs out, or at a page whose fault fails.
   *
   * @returns false when it stopped at a page whose fault is SIGSEGV (a
   * guard marker) or SIGBUS (past a shmem object's end), which
   * get_user_pages() turns into EFAULT.
   */
  populate(owner: PageOwner, vma: Vma, start: number, end: number, write: boolean): boolean {
    if (!this.#accessible(vma)) return true;
    for (let page = start; page < end; page += PAGE) {
      if (owner.guards.size !== 0 && owner.guards.has(page / PAGE)) return false;
      if (pastObjectEnd(vma, page)) {
        // shmem_fault() finds no page there (SIGBUS), after the fault made
        // the tables above it and, for a read, mapped what the object holds
        // around it (do_read_fault()), as a load there does.
        if (!write) this.#faultAround(owner, vma, page, (vma.flags & VM_WRITE) !== 0);
        owner.mm.tables.touchUpper(page);
        return false;
      }
      const m = this.mmu.query(owner.space, page);
      let ok = true;
      if (m === null) ok = this.#missing(owner, vma, page, write);
      else if (write && !m.write) ok = this.#writeProtected(owner, vma, page, m);
      // A writable page is not faulted, but GUP's FOLL_TOUCH marks its folio
      // dirty when its entry is clean (follow_page_pte()): a lazily freed
      // page is an ordinary one again, as if written.
      else if (write && !m.dirty) this.#redirtied(m.phys / PAGE);
      if (!ok) return true;
    }
    return true;
  }

  /**
   * MADV_GUARD_INSTALL on [start, end) of `vma` (madvise_guard_install in
   * Linux 6.18): the whole VMA is marked VM_MAYBE_GUARD, so that fork
   * copies its page tables and the markers with them, and a private
   * anonymous one gets its anon_vma; whatever the range maps (pages, swap
   * entries, pages kept aside by PROT_NONE) is zapped, markers already
   * there kept; then every entry becomes a guard marker, in page tables
   * made for them where there were none.
   *
   * @returns false when a page table could not be made (ENOMEM), the markers before it installed.
   */
  guardInstall(owner: PageOwner, vma: Vma, start: number, end: number): boolean {
    vma.maybeGuard = true;
    if (vma.object === null) this.#prepareAnon(owner, vma);
    this.zap(owner, vma, start, end);
    for (let page = start; page < end; page += PAGE) {
      if (!owner.mm.tables.ensure(page / PAGE) || !owner.alive) return false;
      owner.guards.set(page / PAGE, 1);
    }
    return true;
  }

  // Whether [start, end) holds a guard marker.
  #guarded(owner: PageOwner, start: number, end: number): boolean {
    let found = false;
    this.#forEachIn(owner.guards, start, end, () => {
      found = true;
    });
    return found;
  }

  // ---------------------------------------------------------------- fork

  /**
   * copy_page_range(): gives `child` the parent's pages of one VMA. Private
   * pages become copy-on-write in both; shared ones stay shared; swap slots
   * gain a reference.
   *
   * Mapping the child's pages allocates page tables, which may reclaim or
   * kill: the parent's pages still to be copied are pinned meanwhile (as
   * copy_pte_range() holds the page-table lock), and the copy stops if the
   * parent or the child is killed.
   *
   * @returns false when the child could not be given every page.
   */
  copyRange(parent: PageOwner, child: PageOwner, vma: Vma): boolean {
    const present: PageMapping[] = [];
    this.mmu.walkRange(parent.space, vma.start, vma.end, (m) => present.push(m));
    return this.#withPinned(
      present.map((m) => m.phys / PAGE),
      () => this.#copyPages(parent, child, vma, present),
    );
  }

  #copyPages(parent: PageOwner, child: PageOwner, vma: Vma, present: PageMapping[]): boolean {
    const shared = (vma.flags & VM_SHARED) !== 0;
    // Private: both sides lose write access until a write fault copies or
    // reuses the page. copy_present_pte() write-protects the parent's entries
    // one by one; here one pass over the range does it (present entries
    // only, their Accessed and Dirty bits kept, read-only ones unchanged).
    // The child's tables are already made (PageTableSet.copyFrom), so no
    // install below allocates, and none can fail between the two. The child
    // maps each page with the same rights (every page of a VMA has them).
    const ro = this.#rights(vma, false);
    if (!shared && present.length > 0) this.mmu.protect(parent.space, vma.start, vma.end - vma.start, ro);
    for (const m of present) {
      if (!parent.alive || !child.alive) return false;
      const frame = m.phys / PAGE;
      const vpn = m.virt / PAGE;
      // The child's reference is taken before its page is mapped: mapping
      // may kill the parent, whose exit must not free the frame under it.
      if (shared || this.kind[frame] === ZERO) {
        if (this.kind[frame] !== ZERO) this.refs[frame]!++;
        if (!this.#install(child, m.virt, frame, m)) {
          if (this.kind[frame] !== ZERO) this.#drop(frame, child.pid, vpn);
          return false;
        }
        continue;
      }
      this.#addSharer(frame, [parent.pid, vpn], child.pid, vpn);
      this.refs[frame]!++;
      // copy_present_pte() keeps a private entry's Dirty bit in the child
      // (copy_huge_pmd() a huge page's): a page written since MADV_FREE
      // stays so in both, which reclaim and smaps' LazyFree look at.
      if (!this.#install(child, m.virt, frame, ro, m.dirty)) {
        this.#drop(frame, child.pid, vpn);
        return false;
      }
    }
    if (!parent.alive || !child.alive) return false;
    this.#forEachIn(parent.swap, vma.start, vma.end, (vpn, slot) => {
      this.swapDevice.duplicate(slot);
      child.swap.set(vpn, slot);
    });
    // copy_nonpresent_pte(): guard markers are copied as they are.
    this.#forEachIn(parent.guards, vma.start, vma.end, (vpn) => void child.guards.set(vpn, 1));
    // copy_huge_pmd(): the child maps the same huge pages whole (write-protected in both).
    for (const [idx, head] of parent.huge)
      if (idx * HPAGE >= vma.start && (idx + 1) * HPAGE <= vma.end) child.huge.set(idx, head);
    this.#forEachIn(parent.hidden, vma.start, vma.end, (vpn, frame) => {
      child.hidden.set(vpn, frame);
      // copy_present_pte() keeps a private entry's Dirty bit.
      if (parent.hiddenDirty.has(vpn)) child.hiddenDirty.add(vpn);
      // (The huge zero page under PROT_NONE: no reference, as when mapped.)
      if (this.kind[frame] === ZERO) return;
      this.refs[frame]!++;
      if (this.kind[frame] === ANON) {
        this.#addSharer(frame, [parent.pid, vpn], child.pid, vpn);
        child.rssAnon++;
      } else if (this.kind[frame] === SHMEM) {
        this.#addShmemMapper(frame, child.pid, vpn);
        child.rssShmem++;
      }
    });
    return true;
  }

  /** Gives back a shmem object's frames and swap slots when no VMA maps it any more. */
  releaseObject(obj: ShmemObject): void {
    for (const frame of obj.frames.values()) this.#drop(frame, -1, 0);
    obj.frames.clear();
    for (const slot of obj.swapped.values()) this.#releaseShmemSlot(slot);
    obj.swapped.clear();
  }

  /**
   * shmem_truncate_range() for a punched hole: the object gives back its
   * frames of pages [from, to), which no page-table entry maps any more
   * (the kernel zapped every mapping of them first), and the swap slots of
   * those it had written out.
   */
  punchObject(obj: ShmemObject, from: number, to: number): void {
    const gone: [number, number][] = [];
    // Page offsets are keys as virtual page numbers are: [from, to) in pages.
    this.#forEachIn(obj.frames, from * PAGE, to * PAGE, (idx, frame) => void gone.push([idx, frame]));
    for (const [idx, frame] of gone) {
      if (this.refs[frame] !== 1) {
        throw new CorruptionError(
          PKG,
          `shmem page ${idx} (frame ${frame}) is still mapped after its hole was punched`,
        );
      }
      obj.frames.delete(idx);
      this.#drop(frame, -1, 0);
    }
    // shmem_free_swap(): the hole's swapped-out pages give back their slots.
    this.#forEachIn(obj.swapped, from * PAGE, to * PAGE, (idx, slot) => {
      this.#releaseShmemSlot(slot);
      obj.swapped.delete(idx);
    });
  }

  // folio_mark_dirty() of `frame` where Linux calls it on a mapped page:
  // GUP's FOLL_TOUCH for a write, and try_to_unmap_one() finding a lazily
  // freed page's entry dirty. An anonymous page keeps the mark (PG_dirty)
  // until MADV_FREE clears it, which it does only for a page no other
  // process maps; a shmem page or one of the swap cache is dirty as before.
  #redirtied(frame: number): void {
    this.#wasWritten(frame);
    if (this.kind[frame] !== ANON) return;
    // A page of a large folio: the mark is the folio's, which a split
    // leaves on every small page.
    if (this.folio[frame] !== 0) this.#folioRedirtied(this.folio[frame]! - 1);
    else this.dirty[frame] = 1;
  }

  // What a Dirty bit said of `frame` when its entry is rewritten clean or
  // goes: a shmem folio, or a page of the swap cache, is dirty; a lazily
  // freed page was written again.
  #wasWritten(frame: number): void {
    if (this.kind[frame] === SHMEM || this.cacheSlot[frame]! >= 0) this.dirty[frame] = 1;
    else if (this.folio[frame] !== 0) this.#folioWritten(this.folio[frame]! - 1);
    else this.#unlazy(frame);
  }

  // folio_mark_dirty() of the huge page at `head`: its one dirty flag
  // covers every page of it, none of them lazily freed and clean any more.
  #folioWritten(head: number): void {
    for (let i = 0; i < HPAGE_PAGES; i++) if (this.folio[head + i] === head + 1) this.#unlazy(head + i);
  }

  // `frame` is freed lazily (MADV_FREE).
  #markLazy(frame: number): void {
    if (this.lazy[frame] !== 0) return;
    this.lazy[frame] = 1;
    this.lazyCount++;
  }

  // `frame` is no longer lazily freed (written again, or freed).
  #unlazy(frame: number): void {
    if (this.lazy[frame] === 0) return;
    this.lazy[frame] = 0;
    this.lazyCount--;
  }

  // `owner`'s mapping of `frame` moved from page `from` to page `to`: the reverse map follows.
  #remapOwner(owner: PageOwner, frame: number, from: number, to: number): void {
    if (this.ownerPid[frame] === owner.pid && this.ownerVpn[frame] === from) this.ownerVpn[frame] = to;
    const list = this.kind[frame] === SHMEM ? this.shmemMappers.get(frame) : this.shared.get(frame);
    if (list !== undefined) for (const e of list) if (e[0] === owner.pid && e[1] === from) e[1] = to;
  }

  // A new anonymous frame of `vma`: marked when the VMA is droppable.
  #markDroppable(frame: number, vma: Vma): void {
    if (!vma.droppable) return;
    this.droppable[frame] = 1;
    this.droppableCount++;
  }

  // Clears the entry of `owner`'s page `vpn`, which maps `frame`, and drops
  // the reference it held: try_to_unmap_one()'s ptep_clear_flush(), a flush
  // of the one page (this machine has one CPU, so it defers none:
  // should_defer_flush()), reported to onTlbFlush unless `traced` is false.
  #unmapPage(owner: PageOwner, frame: number, vpn: number, traced = true): void {
    // Reclaim splits a huge page before it unmaps any of it (TTU_SPLIT_HUGE_PMD).
    if (owner.huge.size !== 0) this.#splitPmd(owner, Math.floor(vpn / HPAGE_PAGES));
    this.#clear(owner, vpn * PAGE, PAGE);
    if (traced) this.#flushPage(owner, vpn * PAGE);
    else this.mmu.invalidatePage(owner.space, vpn * PAGE);
    this.#unref(owner, frame, vpn);
  }

  // ------------------------------------------------------------- reclaim

  // Swaps anonymous `frame` out of each of its (owner, vpn) mappings,
  // present or kept aside by PROT_NONE: each refers to the slot from then
  // on (its use count one per mapping, as try_to_unmap() puts the same swap
  // entry in each), and the frame is freed with the last. A page of the
  // swap cache goes back to its slot, written only if it is dirty (a clean
  // one is what the slot holds: shrink_folio_list() skips pageout()) and
  // leaving the cache; any other is written to a new slot. A page comes
  // back at its first fault once the protection allows access. With
  // `writeback` (MADV_PAGEOUT), a page written stays in the swap cache,
  // clean and unmapped: Linux's write to a disk ends after
  // shrink_folio_list() has moved on, and the page goes at reclaim's next
  // pass (reclaim's own writes end at once here).
  // Returns false, changing nothing, when no slot is free or when a fault
  // in progress holds a page of the huge page `frame` belongs to (it cannot
  // be split); true too when the split left `frame` nothing to write (a
  // page of zeros, mapped to the zero page instead and freed).
  #swapOut(frame: number, mappers: [PageOwner, number][], writeback = false): boolean {
    const cached = this.cacheSlot[frame]! >= 0;
    if (!cached && this.swapDevice.freeSlots === 0) return false;
    // A page of a huge page goes out split from it, and so does the rest of
    // it: shrink_folio_list() splits a large folio it cannot swap whole
    // (split_folio_to_list()) before any page of it goes, shared after fork
    // or not. Only a block device takes a large folio whole
    // (cluster_alloc_swap_entry(), mm/swapfile.c: a swap file cannot); the
    // swap device here is a file, as the one the fixtures were recorded
    // with. The split maps the folio's pages of zeros to the zero page
    // (#splitFolio): if this page was one, it is gone, with nothing to write.
    if (this.folio[frame] !== 0) {
      // (Not swapped, for now, while a fault holds a page of it.)
      if (!this.#splitFolio(this.folio[frame]! - 1, true)) return false;
      if (this.kind[frame] !== ANON || this.refs[frame] === 0) return true;
    }
    const slot = cached ? this.cacheSlot[frame]! : this.swapDevice.allocate();
    if (slot < 0) return false;
    const write = !cached || this.dirty[frame] === 1 || this.#mappedDirty(frame, mappers);
    // A page of zeros is only marked: no write to wait for, so it goes at once.
    const wrote = write && this.#writeSlot(slot, frame);
    // (A new slot comes with the first mapping's count.)
    mappers.forEach(([owner, vpn], i) => {
      if (cached || i > 0) this.swapDevice.duplicate(slot);
      owner.swap.set(vpn, slot);
    });
    const keep = writeback && wrote;
    if (cached && !keep) this.#cacheDel(frame);
    else if (!cached && keep) this.#cacheAdd(frame, slot);
    for (const [owner, vpn] of mappers) this.#unmapFrom(owner, frame, vpn);
    if (keep) this.dirty[frame] = 0; // what the slot holds now
    return true;
  }

  // Whether the present entry of any of `frame`'s `mappers` is dirty.
  #mappedDirty(frame: number, mappers: [PageOwner, number][]): boolean {
    for (const [owner, vpn] of mappers) {
      if (owner.hidden.get(vpn) === frame) {
        if (owner.hiddenDirty.has(vpn)) return true;
        continue;
      }
      if (this.mmu.query(owner.space, vpn * PAGE)?.dirty) return true;
    }
    return false;
  }

  // Unmaps `frame` from page `vpn` of `owner`, present or kept aside by PROT_NONE.
  #unmapFrom(owner: PageOwner, frame: number, vpn: number): void {
    if (owner.hidden.get(vpn) === frame) this.#unmapHidden(owner, frame, vpn);
    else this.#unmapPage(owner, frame, vpn);
  }

  // The live processes behind (pid, vpn) mappings: null when any is not alive.
  #liveMappers(list: readonly [number, number][]): [PageOwner, number][] | null {
    const mappers: [PageOwner, number][] = [];
    for (const [pid, vpn] of list) {
      const owner = this.host.process(pid);
      if (owner === undefined || !owner.alive) return null;
      mappers.push([owner, vpn]);
    }
    return mappers;
  }

  // The (owner, vpn) mappings of `frame`, shared after fork, when reclaim
  // may swap it: an ordinary page (not lazily freed, not droppable) whose
  // every mapper is a live process; else null.
  #sharedSwappable(frame: number): [PageOwner, number][] | null {
    if (this.lazy[frame] === 1 || this.droppable[frame] === 1) return null;
    return this.#sharedMappers(frame);
  }

  // The (owner, vpn) mappings of `frame`, shared after fork, when they
  // account for every reference and every mapper is a live process; else null.
  #sharedMappers(frame: number): [PageOwner, number][] | null {
    const list = this.shared.get(frame);
    if (list === undefined || list.length !== this.refs[frame]) return null;
    return this.#liveMappers(list);
  }

  // shrink_folio_list() for lazily freed `frame` that several processes
  // map (a fork shared it, and one of them freed it lazily): unless an
  // entry was accessed (every one tested and cleared), try_to_unmap() takes
  // the mappings in rmap order, the earliest mapper first (the anon_vma's
  // interval tree puts a fork's child after its parent). Each clean one is
  // discarded (the page reads as zeros there again); the first written
  // since makes the page an ordinary one (try_to_unmap_one() marks the
  // folio dirty, puts the entry back and sets PG_swapbacked), and the
  // mappings after it stay. Returns whether the frame was freed.
  #reclaimSharedLazy(frame: number): boolean {
    const mappers = this.#sharedMappers(frame);
    if (mappers === null || this.#sharedYoung(frame, mappers)) return false;
    for (const [owner, vpn] of mappers) {
      if (owner.hidden.get(vpn) === frame) {
        // Kept aside by PROT_NONE: its protnone entry's Dirty bit decides,
        // as a mapped one's (a fork copies it; MADV_FREE cleared this
        // process's own, if it freed the page here).
        if (owner.hiddenDirty.has(vpn)) {
          this.#redirtied(frame);
          return false;
        }
        this.#unmapHidden(owner, frame, vpn);
        continue;
      }
      const m = this.mmu.query(owner.space, vpn * PAGE);
      if (m !== null && this.#writtenSince(owner, vpn, frame, m.dirty)) {
        this.#redirtied(frame);
        return false;
      }
      this.#unmapPage(owner, frame, vpn);
    }
    this.stats.lazyFrees++;
    return true;
  }

  // folio_referenced() of a shared page: the Accessed bit of every mapping
  // (a hidden one's kept on the frame) is tested and cleared; any set gives
  // the page its second chance.
  #sharedYoung(frame: number, mappers: [PageOwner, number][]): boolean {
    let young = false;
    for (const [owner, vpn] of mappers) {
      if (owner.hidden.get(vpn) === frame) {
        if (this.hiddenYoung[frame] === 1) young = true;
      } else if (this.mmu.testAndClearAccessed(owner.space, vpn * PAGE)) {
        young = true;
      }
    }
    this.hiddenYoung[frame] = 0;
    return young;
  }

  // shrink_folio_list() for shmem page `frame`: unless an entry mapping it
  // was accessed (every one tested and cleared, folio_referenced() over the
  // file's rmap), it is unmapped from every process (try_to_unmap()), the
  // entries' Dirty bits going to the page, and leaves its object
  // (#evictShmem). Returns whether the frame was freed.
  #reclaimShmem(frame: number): boolean {
    const mappers = this.#liveMappers(this.shmemMappers.get(frame) ?? []);
    if (mappers === null || (mappers.length > 0 && this.#sharedYoung(frame, mappers))) return false;
    if (this.#mappedDirty(frame, mappers)) this.dirty[frame] = 1;
    for (const [owner, vpn] of mappers) this.#unmapFrom(owner, frame, vpn);
    return this.#evictShmem(frame);
  }

  /**
   * Swaps out up to `target` anonymous and shmem pages by the clock: a
   * frame whose Accessed bit is set (in any entry mapping it) gets a second chance.
   *
   * @returns the number of frames freed.
   */
  reclaim(target: number): number {
    this.#splitPartial();
    const n = this.refs.length;
    let freed = 0;
    // Without a free swap slot only clean lazily freed pages and droppable ones can go.
    let canSwap = this.swapDevice.freeSlots > 0;
    const dropOnly = () => this.lazyCount === 0 && this.droppableCount === 0;
    if (!canSwap && dropOnly()) return 0;
    for (let scanned = 0; scanned < 2 * n && freed < target; scanned++) {
      const frame = this.hand;
      this.hand = (this.hand + 1) % n;
      const k = this.kind[frame];
      if (this.pinned[frame] !== 0 || (k !== ANON && k !== SHMEM)) continue;
      // Shmem pages and pages only the swap cache holds sit on the anonymous
      // LRU, which reclaim scans only while there is free swap (get_scan_count(),
      // can_reclaim_anon_pages()); lazily freed and droppable pages need none.
      if (!canSwap && (k === SHMEM || this.refs[frame] === 0)) {
        if (dropOnly()) break;
        continue;
      }
      if (this.refs[frame] === 0) {
        // A page only the swap cache holds (private, or a shmem page
        // MADV_PAGEOUT wrote), clean (its slot holds it): freed with nothing
        // written (__remove_mapping()).
        this.#dropCached(frame);
        freed++;
        continue;
      }
      if (k === SHMEM) {
        if (this.#reclaimShmem(frame)) freed++;
        else if (this.swapDevice.freeSlots === 0) canSwap = false;
        continue;
      }
      // Who maps the page, for the swap-out below: every process of a page
      // shared after fork (try_to_unmap() puts the same swap entry in each
      // mapping, rmap_walk over the anon_vma), or the one that maps it.
      let mappers: [PageOwner, number][] | null;
      if (this.refs[frame] !== 1 && this.lazy[frame] === 1 && this.droppable[frame] === 0) {
        if (this.#reclaimSharedLazy(frame)) freed++;
        continue;
      }
      if (this.refs[frame] !== 1) {
        mappers = this.#sharedSwappable(frame);
        if (mappers === null || this.#sharedYoung(frame, mappers)) continue;
      } else {
        const owner = this.host.process(this.ownerPid[frame]!);
        if (owner === undefined) continue;
        const vpn = this.ownerVpn[frame]!;
        const page = vpn * PAGE;
        if (owner.hidden.get(vpn) === frame) {
          // A page PROT_NONE keeps aside: its protnone entry's Accessed bit
          // gives it a second chance, as a mapped page's does.
          if (this.hiddenYoung[frame] === 1) {
            this.hiddenYoung[frame] = 0;
            continue;
          }
          if (this.#discardHidden(owner, frame, vpn)) {
            freed++;
            continue;
          }
        } else {
          const m = this.mmu.query(owner.space, page);
          if (m === null || m.phys / PAGE !== frame) continue;
          if (this.mmu.testAndClearAccessed(owner.space, page)) continue;
          if (this.droppable[frame] === 1) {
            // try_to_unmap_one(): a droppable page is discarded, dirty or not.
            this.#unmapPage(owner, frame, vpn);
            this.stats.drops++;
            freed++;
            continue;
          }
          if (this.lazy[frame] === 1) {
            if (!this.#writtenSince(owner, vpn, frame, m.dirty)) {
              // Clean since MADV_FREE: dropped, and the page reads as zeros again.
              this.#unmapPage(owner, frame, vpn);
              this.stats.lazyFrees++;
              freed++;
              continue;
            }
            // Written since: an ordinary anonymous page again, left mapped
            // this time (try_to_unmap_one() puts the entry back).
            this.#redirtied(frame);
            continue;
          }
        }
        mappers = [[owner, vpn]];
      }
      if (!canSwap) {
        if (dropOnly()) break;
        continue;
      }
      if (!this.#swapOut(frame, mappers)) {
        // No slot left, or a folio a fault holds a page of.
        if (this.swapDevice.freeSlots === 0) canSwap = false;
        if (!canSwap && dropOnly()) break;
        continue;
      }
      freed++;
    }
    return freed;
  }
}

/**
 * The kernel: processes and the memory they share — the page-fault entry
 * point, frame allocation with kswapd-style and direct reclaim, the OOM
 * killer, overcommit accounting, fork and exit, and the /proc views.
 *
 * Models: Linux's mm/ (memory.c, mmap.c, oom_kill.c, util.c, vmscan.c,
 * swapfile.c) and fs/proc (meminfo.c, task_mmu.c, array.c). It knows the
 * hardware only through core's MemoryManagementUnit port and the page
 * allocator only through core's FrameAllocator port; `createMachine`
 * (in @memstack/machine) wires concrete ones.
 *
 * Frame allocation for a process page:
 *
 *     allocFrames(0) ──ok──► (free < low watermark? kswapd: reclaim to high) ──► frame
 *        │ null
 *        ▼
 *     direct reclaim (32 pages) ──freed some──► retry
 *        │ nothing
 *        ▼
 *     OOM killer: the process with the highest badness dies ──► retry
 *        │ no victim
 *        ▼
 *     null (the fault fails; the faulting process is killed)
 */
import {
  CorruptionError,
  type FrameAllocator,
  type MemoryManagementUnit,
  type Pfn,
  type PhysicalMemory,
  UsageError,
} from "@memstack/core";
import type { KernelOptions, Watermarks } from "./api.js";
import { newAnonVma } from "./mm/address-space.js";
import { CommitPolicy } from "./mm/commit.js";
import { HPAGE_ORDER, PageManager } from "./mm/pages.js";
import { SwapDevice } from "./mm/swap.js";
import {
  copyHighFlags,
  makeVma,
  type ShmemObject,
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_HUGETLB,
  VM_WIPEONFORK,
  type Vma,
} from "./mm/vma.js";
import { formatMeminfo, formatStatusKb, type MeminfoRow } from "./proc/format.js";
import { Process, ProcessKilled } from "./process.js";

const PKG = "@memstack/kernel";
const PAGE = 4096;
/** SWAP_CLUSTER_MAX: pages direct reclaim tries to free at a time. */
const SWAP_CLUSTER_MAX = 32;
/** OOM_SCORE_ADJ_MIN: a process with this adjustment is never chosen. */
const OOM_SCORE_ADJ_MIN = -1000;
const PMD_SIZE = 2 * 1024 * 1024;

/**
 * Linux's watermarks for a zone of `managed` pages that holds all of low
 * memory (mm/page_alloc.c: calculate_min_free_kbytes, __setup_per_zone_wmarks):
 * min_free_kbytes = clamp(int_sqrt(lowmem_kbytes × 16), 128, 262144);
 * low = min + max(min / 4, managed × 10 / 10000); high = low + the same step.
 */
export function linuxWatermarks(managed: number): Watermarks {
  const kb = managed * 4;
  const minFreeKb = Math.min(Math.max(Math.floor(Math.sqrt(kb * 16)), 128), 262144);
  const min = Math.floor(minFreeKb / 4);
  const step = Math.max(Math.floor(min / 4), Math.floor((managed * 10) / 10000));
  return { min, low: min + step, high: min + 2 * step };
}

/** A simulated Linux kernel over core's ports. */
export class Kernel {
  readonly ram: PhysicalMemory;
  readonly frames: FrameAllocator;
  readonly mmu: MemoryManagementUnit;
  readonly swap: SwapDevice;
  readonly commit: CommitPolicy;
  readonly pages: PageManager;
  readonly watermarks: Watermarks;
  readonly mmapMinAddr: number;
  readonly maxMapCount: number;
  /** Frames the kernel itself keeps (the zero page) plus those the MMU's tables use, as reported. */
  readonly #tableFrames: () => number;
  /** The kernel log: OOM kills and allocation failures, in the kernel's words. */
  readonly dmesg: string[] = [];
  readonly #procs = new Map<number, Process>();
  readonly #totalPages: number;
  #nextPid = 1;
  readonly #seed: number;
  // TS-private, not #private: read on every page fault (see PageManager).
  private cur: Process | null = null;
  // The current process was killed (by the OOM killer, in the middle of a
  // fault or a system call) and no process has run since: see oomKill.
  #currentKilled = false;
  /** The kernel's own address space (init_mm), current when no process is. */
  readonly #kernelSpace: number;
  #inKswapd = false;
  // The child fork() is building: not yet a task the OOM killer can see
  // (copy_process() links it into the task list only at the end).
  #forking: Process | null = null;
  #forkParent: Process | null = null;

  /** @throws {UsageError} naming a bad option. */
  constructor(options: KernelOptions) {
    this.ram = options.ram;
    this.frames = options.frames;
    this.mmu = options.mmu;
    this.#totalPages = options.frames.frameCount;
    const swapBytes = options.swapBytes ?? 0;
    if (!Number.isSafeInteger(swapBytes) || swapBytes < 0 || swapBytes % PAGE !== 0) {
      throw new UsageError(
        PKG,
        `Kernel: swapBytes must be a multiple of 4096, got ${swapBytes}`,
        "swapBytes",
      );
    }
    const mode = options.overcommit?.mode ?? 0;
    if (mode !== 0 && mode !== 1 && mode !== 2) {
      throw new UsageError(PKG, `Kernel: overcommit.mode must be 0, 1 or 2, got ${mode}`, "overcommit");
    }
    const ratio = options.overcommit?.ratio ?? 50;
    if (!Number.isInteger(ratio) || ratio < 0) {
      throw new UsageError(
        PKG,
        `Kernel: overcommit.ratio must be a non-negative integer, got ${ratio}`,
        "overcommit",
      );
    }
    this.swap = new SwapDevice(swapBytes);
    this.watermarks = options.watermarks ?? linuxWatermarks(this.#totalPages);
    this.mmapMinAddr = options.mmapMinAddr ?? 65536;
    this.maxMapCount = options.maxMapCount ?? 65530;
    this.#seed = options.seed ?? 1;
    this.#tableFrames = options.pageTableFrames ?? (() => 0);
    const executeOnly = options.executeOnly ?? true;
    if (typeof executeOnly !== "boolean") {
      throw new UsageError(PKG, `Kernel: executeOnly must be a boolean, got ${executeOnly}`, "executeOnly");
    }
    const zeroPage = options.zeroPage ?? true;
    if (typeof zeroPage !== "boolean") {
      throw new UsageError(PKG, `Kernel: zeroPage must be a boolean, got ${zeroPage}`, "zeroPage");
    }
    const thp = options.thp ?? "madvise";
    if (thp !== "always" && thp !== "madvise" && thp !== "never") {
      throw new UsageError(
        PKG,
        `Kernel: thp must be "always", "madvise" or "never", got ${String(thp)}`,
        "thp",
      );
    }
    const pageCluster = options.pageCluster ?? 3;
    if (!Number.isInteger(pageCluster) || pageCluster < 0 || pageCluster > 31) {
      throw new UsageError(
        PKG,
        `Kernel: pageCluster must be an integer from 0 to 31 (vm.page-cluster), got ${pageCluster}`,
        "pageCluster",
      );
    }
    const thpFrames = options.thpFrames;
    if (thpFrames !== undefined && typeof thpFrames.splitFrames !== "function") {
      throw new UsageError(
        PKG,
        "Kernel: thpFrames must be able to split what it allocates (splitFrames)",
        "thpFrames",
      );
    }
    this.pages = new PageManager(
      this.ram,
      this.frames,
      this.mmu,
      this.swap,
      {
        process: (pid) => {
          const p = this.#procs.get(pid);
          return p?.alive ? p : undefined;
        },
        allocFrame: () => this.#allocFrame(),
        freeFrame: (frame) => this.frames.freeFrames(frame, 0),
        ...(thpFrames === undefined
          ? {}
          : {
              allocHuge: () => {
                const head = thpFrames.allocFrames(HPAGE_ORDER);
                if (head !== null) thpFrames.splitFrames!(head, HPAGE_ORDER);
                return head;
              },
            }),
      },
      executeOnly,
      thp,
      pageCluster,
      zeroPage,
    );
    this.commit = new CommitPolicy(
      mode,
      ratio,
      () => this.#totalPages,
      () => this.swap.slotCount,
      this.frames.freeFrameCount,
    );
    const kernelSpace = this.mmu.createAddressSpace();
    if (kernelSpace === null)
      throw new UsageError(PKG, "Kernel: no frame for the kernel's page tables", "frames");
    this.#kernelSpace = kernelSpace;
    this.mmu.switchAddressSpace(kernelSpace);
    this.mmu.onPageFault((address, access, errorCode) => this.#onFault(address, access, errorCode));
  }

  /** The process whose address space is current, or null. */
  get current(): Process | null {
    return this.cur;
  }

  /** Every process, alive or not, by pid. */
  processes(): Process[] {
    return [...this.#procs.values()];
  }

  /** The process with `pid`, if it ever existed. */
  process(pid: number): Process | undefined {
    return this.#procs.get(pid);
  }

  /** @internal Makes `proc` current before it runs (a context switch). */
  enter(proc: Process): void {
    if (!proc.alive) throw new ProcessKilled(proc.pid, proc.state === "killed" ? "SIGKILL" : "exit");
    const mmu = this.mmu;
    // The MMU may have been switched by someone else: its CR3 decides, not this.cur alone.
    if (this.cur !== proc || mmu.currentAddressSpace !== proc.space) {
      mmu.switchAddressSpace(proc.space);
      this.cur = proc;
    }
    this.#currentKilled = false;
    if (mmu.privilege !== "user") mmu.privilege = "user";
  }

  #onFault(address: number, access: "read" | "write" | "execute", errorCode: number): boolean {
    let proc = this.cur;
    const space = this.mmu.currentAddressSpace;
    if (proc === null || proc.space !== space) {
      // The MMU was switched behind the kernel's back: the fault is the process whose tables are in CR3.
      proc = null;
      for (const p of this.#procs.values()) if (p.space === space) proc = p;
      this.cur = proc;
    }
    if (proc === null || !proc.alive) return false;
    if (this.pages.fault(proc, address, access, errorCode)) return true;
    // No frame could be found even after reclaim and the OOM killer: the process dies.
    if (proc.alive) this.#kill(proc, "page fault with no memory left");
    throw new ProcessKilled(proc.pid, "SIGKILL");
  }

  // ----------------------------------------------------------- frames

  #allocFrame(): Pfn | null {
    for (let attempt = 0; attempt < 64; attempt++) {
      const before = this.cur;
      const f = this.frames.allocFrames(0);
      if (f !== null) {
        // An allocator with an OOM hook of its own may have chosen the faulting process.
        if (before !== null && !before.alive) {
          this.frames.freeFrames(f, 0);
          throw new ProcessKilled(before.pid, "SIGKILL");
        }
        if (this.frames.freeFrameCount < this.watermarks.low) this.#kswapd();
        return f;
      }
      if (this.pages.reclaim(SWAP_CLUSTER_MAX) > 0) continue;
      if (!this.oomKill()) return null;
      // The OOM killer chose the process whose fault this is: it cannot go on.
      if (before !== null && !before.alive) throw new ProcessKilled(before.pid, "SIGKILL");
    }
    return null;
  }

  /**
   * Direct reclaim: swaps out up to `pages` cold private pages (for a page
   * allocator's slow path).
   *
   * @returns the number of frames freed.
   */
  reclaim(pages: number): number {
    return this.pages.reclaim(pages);
  }

  /**
   * Reclaims all it can, as writing a memory cgroup's memory.force_empty
   * does for one that holds every process: passes of reclaim until one
   * frees nothing (each pass gives an accessed page its second chance, so
   * the next takes it). Pages that cannot go stay: anonymous and shmem
   * pages while no swap slot is free, the zero page, page tables.
   *
   * @returns the number of frames freed.
   */
  reclaimAll(): number {
    let total = 0;
    for (;;) {
      const n = this.pages.reclaim(this.#totalPages);
      if (n === 0) return total;
      total += n;
    }
  }

  /** Wakes kswapd: reclaims until free memory is back above the high watermark. */
  wakeKswapd(): void {
    this.#kswapd();
  }

  // kswapd: reclaim until the high watermark, once per crossing.
  #kswapd(): void {
    if (this.#inKswapd) return;
    this.#inKswapd = true;
    try {
      const want = this.watermarks.high - this.frames.freeFrameCount;
      if (want > 0) this.pages.reclaim(want);
    } finally {
      this.#inKswapd = false;
    }
  }

  // ------------------------------------------------------------ processes

  /**
   * Starts a process with a fresh address space: a [stack], an empty heap at
   * the initial break, and nothing mapped in between.
   *
   * @throws {UsageError} when the MMU has no frame for the page tables or the
   * initial stack cannot be committed.
   */
  spawn(name = "proc"): Process {
    // A new process is made for someone alive: a victim's unwinding is over.
    this.#currentKilled = false;
    const space = this.mmu.createAddressSpace();
    if (space === null) throw new UsageError(PKG, "spawn: no frame for the new page tables", "name");
    const proc = new Process(this, this.#nextPid++, 0, name, space, this.#seed, {
      mmapBase: 0x7ffff7e00000,
      startBrk: 0x555555559000,
      stackBytes: 0x21000,
    });
    this.#procs.set(proc.pid, proc);
    return proc;
  }

  /**
   * @internal MADV_REMOVE's hole in a shmem object: pages [from, to) leave
   * every process that maps them (unmap_mapping_range), then the object
   * (shmem_truncate_range).
   */
  punchHole(obj: ShmemObject, from: number, to: number): void {
    for (const p of this.#procs.values()) if (p.alive) p.mm.zapObject(obj, from, to);
    this.pages.punchObject(obj, from, to);
  }

  /** @internal fork(2), called through {@link Process.fork}. */
  fork(parent: Process, name: string): Process | null {
    const space = this.mmu.createAddressSpace();
    if (space === null) return null;
    const child = new Process(this, this.#nextPid++, parent.pid, name, space, this.#seed, {
      mmapBase: parent.mm.mmapBase,
      startBrk: parent.mm.startBrk,
      stackBytes: 0,
    });
    child.oomScoreAdj = parent.oomScoreAdj;
    this.#procs.set(child.pid, child);
    // dup_mmap(): copy each VMA (but MADV_DONTFORK ones), charging the private accounted ones again.
    // Copying allocates page tables, which may reclaim or call the OOM killer;
    // if that kills the parent, its VMAs are gone: the list is taken first and
    // the copy stops there.
    const vmas: Vma[] = [];
    parent.mm.tree.forEach((vma) => void vmas.push(vma));
    let ok = true;
    this.#forking = child;
    this.#forkParent = parent;
    try {
      for (const vma of vmas) {
        if (!parent.alive) break;
        if ((vma.flags & VM_DONTCOPY) !== 0) continue;
        const copy = makeVma(vma.start, vma.end, vma.flags, vma.pgoff, vma.object, null);
        copy.stack = vma.stack;
        copyHighFlags(copy, vma);
        // MADV_WIPEONFORK: the child's VMA starts as a fresh one, with no
        // anon_vma and no pages (dup_mmap skips anon_vma_fork and copy_page_range).
        const wipe = (vma.flags & VM_WIPEONFORK) !== 0;
        if (vma.anonVma !== null && !wipe) {
          copy.anonVma = newAnonVma(true);
          copy.anonVma.degree++;
        }
        if (vma.object !== null) vma.object.mappers++;
        // vma_needs_copy(): only a VMA with an anon_vma, or one that may hold
        // guard markers (VM_MAYBE_GUARD), has page-table entries a fault could
        // not rebuild; the child of a shared or never-written private mapping
        // faults its pages in when it touches them.
        const needsCopy = !wipe && (vma.anonVma !== null || vma.maybeGuard);
        if (!child.mm.adopt(copy)) {
          ok = false;
          break;
        }
        if (needsCopy) {
          // copy_page_range() gives the child each table the parent has over the VMA, empty or not.
          // Making the child's tables may run the OOM killer, which may choose the parent.
          if (
            !child.mm.tables.copyFrom(parent.mm.tables, copy.start, copy.end) ||
            !parent.alive ||
            !this.pages.copyRange(parent, child, copy)
          ) {
            ok = false;
            break;
          }
        }
      }
    } finally {
      this.#forking = null;
      this.#forkParent = null;
    }
    if (!parent.alive) {
      // The OOM killer chose the parent while its memory was being copied:
      // the half-built child goes, and the parent dies of its SIGKILL.
      this.exit(child, "exited");
      throw new ProcessKilled(parent.pid, "SIGKILL");
    }
    child.mm.setBrk(parent.mm.brkValue);
    // The parent's private pages were write-protected: drop its cached writable translations.
    this.pages.flushAll(parent);
    if (!ok) {
      this.exit(child, "exited");
      return null;
    }
    return child;
  }

  /** @internal exit(2) or a kill: frees everything `proc` holds. */
  exit(proc: Process, state: "exited" | "killed"): void {
    if (!proc.alive) return;
    // Tear down from the kernel's own address space, as exit_mmap runs after the switch away.
    if (this.mmu.currentAddressSpace === proc.space) {
      this.mmu.switchAddressSpace(this.#kernelSpace);
      this.cur = null;
      // Killed in the middle of what it was doing (a fault, a system call):
      // until another process runs, what allocates is its unwinding.
      this.#currentKilled = state === "killed";
    }
    proc.mm.unmapAll();
    proc.state = state;
    this.mmu.destroyAddressSpace(proc.space);
  }

  /** The last process the kernel killed, and why. */
  lastKill: { pid: number; why: string } | null = null;

  #kill(proc: Process, why: string): void {
    const kb = (pages: number) => pages * 4;
    this.dmesg.push(
      `Out of memory: Killed process ${proc.pid} (${proc.name}) total-vm:${kb(proc.mm.totalVm)}kB, ` +
        `anon-rss:${kb(proc.rssAnon)}kB, file-rss:0kB, shmem-rss:${kb(proc.rssShmem)}kB, ` +
        `UID:0 pgtables:${kb(this.pageTablePages(proc))}kB oom_score_adj:${proc.oomScoreAdj}`,
    );
    this.lastKill = { pid: proc.pid, why };
    this.exit(proc, "killed");
  }

  /**
   * Page-table pages a process holds (mm_pgtables_bytes / 4096: its PUD, PMD
   * and PTE tables, not its PGD), as Linux allocates and frees them; see
   * PageTableSet.
   */
  pageTablePages(proc: Process): number {
    return proc.mm.tables.count;
  }

  /**
   * oom_badness(): RSS + swap entries + page-table pages, plus
   * oom_score_adj thousandths of RAM and swap. -Infinity when the process
   * may not be chosen.
   */
  badness(proc: Process): number {
    if (!proc.alive || proc.oomScoreAdj === OOM_SCORE_ADJ_MIN) return Number.NEGATIVE_INFINITY;
    const total = this.#totalPages + this.swap.slotCount;
    const points = proc.rssAnon + proc.rssShmem + proc.swap.size + this.pageTablePages(proc);
    return points + proc.oomScoreAdj * Math.floor(total / 1000);
  }

  /**
   * out_of_memory(): kills the process with the highest badness (the last
   * created wins a tie, as the task list is walked in creation order). A
   * child fork() is still building is not a candidate, and while a fork's
   * parent is already killed nobody else is: its allocations fail instead.
   *
   * @returns false when no process could be chosen.
   */
  oomKill(): boolean {
    // out_of_memory(): when the task allocating is already a victim, its
    // death will free memory; no other process is killed for it, and the
    // allocation fails instead (task_will_free_mem(current) in
    // mm/oom_kill.c). The task allocating is a fork's parent, or else the
    // current process: one whose fault the killer chose in an earlier pass
    // of the same allocation must not take others with it (the kill made
    // the kernel's own space current, so the flag says whose it was).
    if (this.#forkParent !== null) {
      if (!this.#forkParent.alive) return false;
    } else if (this.#currentKilled) return false;
    let victim: Process | null = null;
    let best = Number.NEGATIVE_INFINITY;
    for (const p of this.#procs.values()) {
      if (p === this.#forking) continue;
      const b = this.badness(p);
      if (b === Number.NEGATIVE_INFINITY || b < best) continue;
      best = b;
      victim = p;
    }
    if (victim === null) return false;
    this.#kill(victim, "oom");
    return true;
  }

  // --------------------------------------------------------------- /proc

  /** /proc/meminfo, with the fields this kernel models filled in and the rest 0. */
  meminfo(): string {
    let anon = 0;
    let pageTables = 0;
    for (const p of this.#procs.values()) {
      if (!p.alive) continue;
      // NR_PAGETABLE counts each process's PGD too (a fork adds VmPTE + 4 kB here).
      pageTables += 1 + this.pageTablePages(p);
    }
    let shmem = 0;
    // Pages only the swap cache holds: on the anonymous LRU, not in AnonPages (NR_ANON_MAPPED).
    let cacheOnly = 0;
    for (let f = 0; f < this.pages.kind.length; f++) {
      const kind = this.pages.kind[f];
      if (kind === 1 || kind === 2) {
        // (A shmem page with no hold is one MADV_PAGEOUT wrote: NR_SHMEM counts it no more.)
        if (this.pages.refs[f] === 0) cacheOnly++;
        else if (kind === 1) anon++;
        else shmem++;
      }
    }
    const swapCached = this.pages.swapCache.size;
    const free = this.frames.freeFrameCount;
    const totalreserve = this.watermarks.high;
    const available = Math.max(0, free - totalreserve);
    const kb = (label: string, pages: number): MeminfoRow => ({ label, value: pages * 4 });
    const bare = (label: string, value: number): MeminfoRow => ({ label, value, bare: true });
    // The fields, in order, of this machine's Linux 6.18 /proc/meminfo (test/fixtures/proc).
    return formatMeminfo([
      kb("MemTotal", this.#totalPages),
      kb("MemFree", free),
      kb("MemAvailable", available),
      kb("Buffers", 0),
      kb("Cached", shmem),
      kb("SwapCached", swapCached),
      kb("Active", anon + cacheOnly + shmem),
      kb("Inactive", 0),
      kb("Active(anon)", anon + cacheOnly + shmem),
      kb("Inactive(anon)", 0),
      kb("Active(file)", 0),
      kb("Inactive(file)", 0),
      kb("Unevictable", 0),
      kb("Mlocked", 0),
      kb("SwapTotal", this.swap.slotCount),
      kb("SwapFree", this.swap.freeSlots),
      kb("Zswap", 0),
      kb("Zswapped", 0),
      kb("Dirty", 0),
      kb("Writeback", 0),
      kb("AnonPages", anon),
      kb("Mapped", 0),
      kb("Shmem", shmem),
      kb("KReclaimable", 0),
      kb("Slab", 0),
      kb("SReclaimable", 0),
      kb("SUnreclaim", 0),
      kb("KernelStack", 0),
      kb("PageTables", pageTables),
      kb("SecPageTables", 0),
      kb("NFS_Unstable", 0),
      kb("Bounce", 0),
      kb("WritebackTmp", 0),
      kb("CommitLimit", this.commit.limit),
      kb("Committed_AS", this.commit.committed),
      { label: "VmallocTotal", value: 34359738367 },
      kb("VmallocUsed", 0),
      kb("VmallocChunk", 0),
      kb("Percpu", 0),
      kb("AnonHugePages", this.pages.anonHugePages([...this.#procs.values()].filter((p) => p.alive))),
      kb("ShmemHugePages", 0),
      kb("ShmemPmdMapped", 0),
      kb("FileHugePages", 0),
      kb("FilePmdMapped", 0),
      kb("Balloon", 0),
      bare("HugePages_Total", 0),
      bare("HugePages_Free", 0),
      bare("HugePages_Rsvd", 0),
      bare("HugePages_Surp", 0),
      { label: "Hugepagesize", value: PMD_SIZE / 1024 },
      kb("Hugetlb", 0),
      kb("DirectMap4k", this.#totalPages),
      kb("DirectMap2M", 0),
      kb("DirectMap1G", 0),
    ]);
  }

  /** /proc/PID/status for `proc`: identity and memory lines (fs/proc/array.c, task_mmu.c). */
  status(proc: Process): string {
    const kb = (label: string, pages: number) => formatStatusKb(label, pages * 4);
    const state = proc.alive ? "R (running)" : "Z (zombie)";
    return (
      `Name:\t${proc.name}\nState:\t${state}\nTgid:\t${proc.pid}\nPid:\t${proc.pid}\nPPid:\t${proc.ppid}\n` +
      kb("VmPeak", proc.mm.hiwaterVm) +
      kb("VmSize", proc.mm.totalVm) +
      kb("VmLck", 0) +
      kb("VmPin", 0) +
      kb("VmHWM", proc.hiwaterRss) +
      kb("VmRSS", proc.rssAnon + proc.rssShmem) +
      kb("RssAnon", proc.rssAnon) +
      kb("RssFile", 0) +
      kb("RssShmem", proc.rssShmem) +
      kb("VmData", proc.mm.dataVm) +
      kb("VmStk", proc.mm.stackVm) +
      // task_mem(): VmExe is the part of exec_vm inside the program's text
      // (start_code..end_code), VmLib the rest. A process here has no program
      // image, so every executable mapping counts as VmLib.
      kb("VmExe", 0) +
      kb("VmLib", proc.mm.execVm) +
      kb("VmPTE", this.pageTablePages(proc)) +
      kb("VmSwap", proc.swap.size) +
      kb("HugetlbPages", 0) +
      "Threads:\t1\n"
    );
  }

  // --------------------------------------------------------------- check

  /**
   * Verifies that every frame is owned exactly as the page tables, shmem
   * objects and reference counts say, that the allocator's free frames plus
   * every owner's frames make up the RAM, that commit accounting matches the
   * VMAs, and every process's VMA tree and the swap device are consistent.
   *
   * @throws {CorruptionError} at the first violation.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new CorruptionError(PKG, `Kernel: ${what}`);
    };
    const n = this.pages.refs.length;
    const counted = new Int32Array(n);
    const swapRefs = new Map<number, number>();
    let committed = 0;
    const objects = new Set<ShmemObject>();
    // Each shmem frame's mappings found in the tables and the pages kept aside, as "pid:vpn".
    const shmemSeen = new Map<number, string[]>();
    const seeShmem = (f: number, pid: number, vpn: number) => {
      const list = shmemSeen.get(f);
      if (list === undefined) shmemSeen.set(f, [`${pid}:${vpn}`]);
      else list.push(`${pid}:${vpn}`);
    };
    for (const p of this.#procs.values()) {
      if (!p.alive) {
        if (
          p.mm.tree.size !== 0 ||
          p.swap.size !== 0 ||
          p.hidden.size !== 0 ||
          p.guards.size !== 0 ||
          p.huge.size !== 0 ||
          p.mm.tables.count !== 0
        )
          fail(`dead process ${p.pid} still holds memory`);
        continue;
      }
      p.mm.tree.check();
      let anon = 0;
      let shm = 0;
      let vmaCommitted = 0;
      // Every mapped, hidden or swapped-out page, and every guard marker, has its PTE table counted.
      const needed: number[] = [...p.swap.keys(), ...p.hidden.keys(), ...p.guards.keys()];
      p.mm.tree.forEach((vma) => {
        if ((vma.flags & VM_ACCOUNT) !== 0) vmaCommitted += (vma.end - vma.start) / PAGE;
        if (vma.object !== null) objects.add(vma.object);
        // A hugetlb VMA: its bounds and file offset on huge page boundaries,
        // no shmem object or anon_vma, and (the pool being empty) no page.
        const huge = vma.hugetlb;
        if (
          huge !== null &&
          (vma.start % huge.pageBytes !== 0 ||
            vma.end % huge.pageBytes !== 0 ||
            (vma.pgoff * PAGE) % huge.pageBytes !== 0 ||
            vma.object !== null ||
            vma.anonVma !== null ||
            (vma.flags & VM_HUGETLB) === 0)
        )
          fail(`process ${p.pid} has a malformed hugetlb VMA at 0x${vma.start.toString(16)}`);
        this.mmu.walkRange(p.space, vma.start, vma.end, (m) => {
          if (huge !== null)
            fail(`process ${p.pid} maps a page in a hugetlb VMA at 0x${m.virt.toString(16)}`);
          needed.push(m.virt / PAGE);
          const f = m.phys / PAGE;
          const k = this.pages.kind[f];
          if (k === 0) fail(`process ${p.pid} maps free frame ${f} at 0x${m.virt.toString(16)}`);
          if (k === 3) {
            if (m.write) fail(`process ${p.pid} maps the zero page writable`);
            return;
          }
          counted[f]!++;
          if (k === 1) anon++;
          else {
            shm++;
            seeShmem(f, p.pid, m.virt / PAGE);
          }
          if (k === 1 && m.write && this.pages.refs[f] !== 1)
            fail(`frame ${f} is shared but mapped writable`);
          const cached = this.pages.cacheSlot[f]!;
          if (m.write && cached >= 0 && this.swap.useCount(cached) !== 0)
            fail(`frame ${f} of the swap cache is mapped writable while swap entries refer to its slot`);
          if (vma.object === null && k !== 1) fail(`private VMA maps a non-anonymous frame ${f}`);
        });
      });
      for (const [vpn, f] of p.hidden) {
        // The huge zero page's entries under PROT_NONE (split since, or not):
        // no reference, no RSS, as when mapped.
        if (this.pages.kind[f] === 3) {
          if (p.mm.tree.lookup(vpn * PAGE) === null)
            fail(`hidden zero page 0x${(vpn * PAGE).toString(16)} outside any VMA`);
          continue;
        }
        counted[f]!++;
        if (this.pages.kind[f] === 1) anon++;
        else {
          shm++;
          seeShmem(f, p.pid, vpn);
        }
        if (p.mm.tree.lookup(vpn * PAGE) === null)
          fail(`hidden page 0x${(vpn * PAGE).toString(16)} outside any VMA`);
      }
      for (const vpn of p.hiddenDirty) {
        const f = p.hidden.get(vpn);
        if (f === undefined || this.pages.kind[f] === 3)
          fail(`dirty mark of 0x${(vpn * PAGE).toString(16)} on no page PROT_NONE keeps aside`);
      }
      for (const vpn of p.guards.keys()) {
        const at = `guard marker at 0x${(vpn * PAGE).toString(16)}`;
        if (p.mm.tree.lookup(vpn * PAGE) === null) fail(`${at} outside any VMA`);
        if (p.swap.has(vpn) || p.hidden.has(vpn) || this.mmu.query(p.space, vpn * PAGE) !== null)
          fail(`${at} holds a page too`);
      }
      for (const [vpn, slot] of p.swap) {
        swapRefs.set(slot, (swapRefs.get(slot) ?? 0) + 1);
        if (p.mm.tree.lookup(vpn * PAGE) === null)
          fail(`swap entry 0x${(vpn * PAGE).toString(16)} outside any VMA`);
      }
      p.mm.tables.check(needed);
      this.pages.checkHuge(p);
      if (anon !== p.rssAnon) fail(`process ${p.pid} RssAnon is ${p.rssAnon} pages, its tables hold ${anon}`);
      if (shm !== p.rssShmem)
        fail(`process ${p.pid} RssShmem is ${p.rssShmem} pages, its tables hold ${shm}`);
      if (vmaCommitted !== p.mm.committed) {
        fail(`process ${p.pid} has ${vmaCommitted} accounted VMA pages but ${p.mm.committed} committed`);
      }
      committed += p.mm.committed;
    }
    for (const obj of objects) {
      committed += obj.charged;
      for (const [idx, f] of obj.frames) {
        counted[f]!++;
        if (this.pages.kind[f] !== 2) fail(`shmem object ${obj.id} holds frame ${f} of the wrong kind`);
        const at = this.pages.shmemPage.get(f);
        if (at === undefined || at[0] !== obj || at[1] !== idx)
          fail(`shmem frame ${f} does not know it is page ${idx} of object ${obj.id}`);
        const listed = (this.pages.shmemMappers.get(f) ?? []).map(([pid, vpn]) => `${pid}:${vpn}`).sort();
        const seen = (shmemSeen.get(f) ?? []).sort();
        if (listed.join() !== seen.join())
          fail(`shmem frame ${f} lists mappings [${listed}], the tables hold [${seen}]`);
      }
      for (const [idx, slot] of obj.swapped) {
        swapRefs.set(slot, (swapRefs.get(slot) ?? 0) + 1);
        if (obj.frames.has(idx)) fail(`shmem object ${obj.id} page ${idx} is both in memory and swapped out`);
      }
    }
    for (const f of this.pages.shmemPage.keys())
      if (this.pages.kind[f] !== 2) fail(`frame ${f} is listed as a shmem page but is not shmem`);
    let owned = 0;
    let lazy = 0;
    let droppable = 0;
    for (let f = 0; f < n; f++) {
      const k = this.pages.kind[f];
      if (this.pages.lazy[f] === 1) {
        lazy++;
        if (k !== 1) fail(`frame ${f} is marked lazily freed but is not anonymous`);
      }
      if (this.pages.droppable[f] === 1) {
        droppable++;
        if (k !== 1) fail(`frame ${f} is marked droppable but is not anonymous`);
      }
      const cached = this.pages.cacheSlot[f]!;
      if (cached >= 0 && this.pages.swapCache.get(cached) !== f)
        fail(`frame ${f} says it holds slot ${cached} in the swap cache, the cache says otherwise`);
      if (this.pages.dirty[f] === 1 && k !== 1 && k !== 2)
        fail(`frame ${f} is marked dirty but is neither anonymous nor shmem`);
      if (this.pages.dirty[f] === 1 && this.pages.lazy[f] === 1)
        fail(`frame ${f} is lazily freed but marked dirty`);
      // Readahead's mark goes when a fault finds the page, before anything maps it.
      if (this.pages.readahead[f] === 1 && (cached < 0 || this.pages.refs[f] !== 0))
        fail(`frame ${f} is marked read ahead but is not an unmapped page of the swap cache`);
      const head = this.pages.folio[f]! - 1;
      if (head >= 0 && (k !== 1 || head % 512 !== 0 || f - head >= 512))
        fail(`frame ${f} is marked part of the huge page at ${head} but is not one of its anonymous pages`);
      if (k === 3) {
        owned++;
        continue;
      }
      if (k === 0) {
        if (this.pages.refs[f] !== 0) fail(`free frame ${f} has ${this.pages.refs[f]} references`);
        continue;
      }
      owned++;
      if (counted[f] !== this.pages.refs[f])
        fail(`frame ${f} has ${this.pages.refs[f]} references, ${counted[f]} found`);
    }
    for (const head of this.pages.lazyFolios)
      if (this.pages.folio[head] !== head + 1)
        fail(`lazily freed huge page ${head} is not a huge page's first frame`);
    if (lazy !== this.pages.lazyCount)
      fail(`${lazy} frames are marked lazily freed, the count says ${this.pages.lazyCount}`);
    if (droppable !== this.pages.droppableCount)
      fail(`${droppable} frames are marked droppable, the count says ${this.pages.droppableCount}`);
    for (let slot = 0; slot < this.swap.slotCount; slot++) {
      if (this.swap.useCount(slot) !== (swapRefs.get(slot) ?? 0))
        fail(`swap slot ${slot} use count is wrong`);
      const f = this.pages.swapCache.get(slot);
      if (this.swap.hasCache(slot) !== (f !== undefined))
        fail(`swap slot ${slot} ${f === undefined ? "is marked as cached" : "is not marked as cached"}`);
    }
    for (const [slot, f] of this.pages.swapCache) {
      const kind = this.pages.kind[f];
      if ((kind !== 1 && kind !== 2) || this.pages.cacheSlot[f] !== slot)
        fail(
          `the swap cache's page of slot ${slot}, frame ${f}, is not an anonymous or shmem frame of that slot`,
        );
      // A shmem page there left its object, which refers to the slot instead; nothing maps it.
      if (kind === 2) {
        const at = this.pages.shmemPage.get(f);
        if (this.pages.refs[f] !== 0 || at === undefined || at[0].swapped.get(at[1]) !== slot)
          fail(`shmem frame ${f} of the swap cache is mapped, or its object does not refer to slot ${slot}`);
      }
      if (this.pages.lazy[f] === 1 || this.pages.droppable[f] === 1 || this.pages.folio[f] !== 0)
        fail(`frame ${f} of the swap cache is lazily freed, droppable or part of a huge page`);
      // A page no entry maps is there for the entries that refer to its slot, and is what the slot holds.
      if (this.pages.refs[f] === 0 && (this.swap.useCount(slot) === 0 || this.pages.dirty[f] === 1))
        fail(
          `frame ${f} of the swap cache is unmapped but ${this.pages.dirty[f] === 1 ? "dirty" : "no entry refers to its slot"}`,
        );
    }
    this.swap.check();
    if (committed !== this.commit.committed)
      fail(`Committed_AS is ${this.commit.committed} pages, the processes hold ${committed}`);
    const tables = this.#tableFrames();
    if (tables > 0) {
      // An MMU with its tables in RAM holds no table Linux would not: each
      // live process's PGD and counted tables, and the kernel's own PGD
      // (it may hold fewer: the empty ones Linux makes ahead, see PageTableSet).
      let held = 1;
      for (const p of this.#procs.values()) if (p.alive) held += 1 + p.mm.tables.count;
      if (tables > held) fail(`the MMU holds ${tables} page-table frames, Linux would hold at most ${held}`);
    }
    if (this.frames.freeFrameCount + owned + tables !== this.#totalPages) {
      fail(
        `${this.frames.freeFrameCount} free + ${owned} owned + ${tables} page-table frames != ${this.#totalPages}`,
      );
    }
  }
}

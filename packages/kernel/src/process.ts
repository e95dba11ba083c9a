/**
 * A simulated Linux process: its own page tables (an MMU address space with
 * a PCID), its VMAs, and the three ports user-space code runs on —
 * VirtualMemory (loads and stores through the MMU, page faults handled by
 * the kernel), ProgramBreak (brk) and Mapper (mmap, munmap, mprotect,
 * madvise, mremap). libc and win32 run on a Process exactly as on a
 * FlatMemory.
 *
 * A call into a Process first switches the MMU to its address space (a
 * context switch; with PCIDs nothing is flushed). After the process is
 * killed or has exited, every call throws {@link ProcessKilled}.
 */
import {
  type FastAccess,
  isU64,
  type Mapper,
  type MemoryManagementUnit,
  type ProgramBreak,
  UsageError,
  type VirtAddr,
  type VirtualMemory,
} from "@memstack/core";
import type { Kernel } from "./kernel.js";
import { AddressSpace } from "./mm/address-space.js";
import type { PageOwner } from "./mm/pages.js";
import { vmaPerms } from "./mm/vma.js";

const PKG = "@memstack/kernel";

/** A process that was killed (by the OOM killer) or has exited, used again. */
export class ProcessKilled extends Error {
  override readonly name = "ProcessKilled";
  /** The process. */
  readonly pid: number;
  /** `SIGKILL` for the OOM killer, `exit` for a process that exited. */
  readonly reason: "SIGKILL" | "exit";

  constructor(pid: number, reason: "SIGKILL" | "exit") {
    super(`[${PKG}] process ${pid} ${reason === "SIGKILL" ? "was killed (SIGKILL)" : "has exited"}`);
    this.pid = pid;
    this.reason = reason;
  }
}

/** Life of a process. */
export type ProcessState = "running" | "killed" | "exited";

// An address or length of the mmap family: an unsigned long (see the Mapper port).
function checkU64(n: number, name: string, fn: string): void {
  if (!isU64(n)) {
    throw new UsageError(PKG, `${fn}: ${name} must be an integer in [0, 2^64), got ${n}`, name);
  }
}

function checkArg(n: number, name: string, fn: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(PKG, `${fn}: ${name} must be a non-negative safe integer, got ${n}`, name);
  }
}

/** A process of a {@link Kernel}. */
export class Process implements VirtualMemory, ProgramBreak, Mapper, PageOwner {
  readonly pid: number;
  readonly ppid: number;
  readonly name: string;
  readonly space: number;
  readonly mm: AddressSpace;
  readonly swap = new Map<number, number>();
  readonly hidden = new Map<number, number>();
  readonly hiddenDirty = new Set<number>();
  readonly guards = new Map<number, number>();
  readonly huge = new Map<number, number>();
  rssAnon = 0;
  rssShmem = 0;
  hiwaterRss = 0;
  /** /proc/PID/oom_score_adj: -1000 (never kill) … 1000. */
  oomScoreAdj = 0;
  state: ProcessState = "running";
  // TS-private rather than #private on the access path: V8 (Node 20) reads
  // #fields more slowly in hot loops (measured in @memstack/mmu).
  private readonly k: Kernel;
  // The kernel's MMU, read once: every load and store goes to it.
  private readonly mmu: MemoryManagementUnit;

  /** @internal Made by {@link Kernel.spawn} and {@link Process.fork}. */
  constructor(
    kernel: Kernel,
    pid: number,
    ppid: number,
    name: string,
    space: number,
    seed: number,
    mmOptions: { mmapBase: number; startBrk: number; stackBytes: number },
  ) {
    this.k = kernel;
    this.mmu = kernel.mmu;
    this.pid = pid;
    this.ppid = ppid;
    this.name = name;
    this.space = space;
    this.mm = new AddressSpace({
      pages: kernel.pages.layerFor(this),
      accounting: kernel.commit,
      mmapBase: mmOptions.mmapBase,
      startBrk: mmOptions.startBrk,
      stackBytes: mmOptions.stackBytes,
      mmapMinAddr: kernel.mmapMinAddr,
      maxMapCount: kernel.maxMapCount,
      // Each address space's tree draws its priorities from the machine seed and its pid.
      seed: (Math.imul(seed, 0x9e3779b1) ^ pid) >>> 0,
    });
    this.mm.onObjectReleased = (obj) => kernel.pages.releaseObject(obj);
    this.mm.onPunchHole = (obj, from, to) => kernel.punchHole(obj, from, to);
  }

  /** The kernel the process runs on. */
  get kernel(): Kernel {
    return this.k;
  }

  /** Whether the process can still run. */
  get alive(): boolean {
    return this.state === "running";
  }

  #enter(): void {
    this.k.enter(this);
  }

  // ---------------------------------------------------------- VirtualMemory
  //
  // Every access runs in this process, at user privilege. When the MMU is
  // already there (the usual case: one process running) that is two field
  // reads, and the access goes straight to the MMU; otherwise the kernel
  // switches to it (and throws ProcessKilled for a dead one: its address
  // space is never current, as exit switches away before destroying it).

  loadU8(addr: VirtAddr): number {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    return mmu.loadU8(addr);
  }
  loadU16(addr: VirtAddr): number {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    return mmu.loadU16(addr);
  }
  loadU32(addr: VirtAddr): number {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    return mmu.loadU32(addr);
  }
  loadU64(addr: VirtAddr): number {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    return mmu.loadU64(addr);
  }
  storeU8(addr: VirtAddr, value: number): void {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    mmu.storeU8(addr, value);
  }
  storeU16(addr: VirtAddr, value: number): void {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    mmu.storeU16(addr, value);
  }
  storeU32(addr: VirtAddr, value: number): void {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    mmu.storeU32(addr, value);
  }
  storeU64(addr: VirtAddr, value: number): void {
    const mmu = this.mmu;
    if (mmu.currentAddressSpace !== this.space || mmu.privilege !== "user") this.k.enter(this);
    mmu.storeU64(addr, value);
  }
  loadBytes(addr: VirtAddr, dest: Uint8Array): void {
    this.#enter();
    this.mmu.loadBytes(addr, dest);
  }
  storeBytes(addr: VirtAddr, src: Uint8Array): void {
    this.#enter();
    this.mmu.storeBytes(addr, src);
  }
  fill(addr: VirtAddr, length: number, byte: number): void {
    this.#enter();
    this.mmu.fill(addr, length, byte);
  }
  copy(dest: VirtAddr, src: VirtAddr, length: number): void {
    this.#enter();
    this.mmu.copy(dest, src, length);
  }
  /**
   * The MMU's fast tags for this process (core's FastAccess): hits taken
   * through them are this process's user-mode accesses, counted in its
   * TLB; null when the MMU keeps none.
   */
  fastAccess(): FastAccess | null {
    const tags = this.mmu.fastTags;
    return tags === undefined ? null : { tags, space: this.space };
  }

  // ------------------------------------------------------- system calls

  brk(addr: number): number {
    checkU64(addr, "addr", "brk");
    this.#enter();
    return this.mm.brk(addr);
  }

  mmap(addr: number, length: number, prot: number, flags: number): number {
    checkU64(addr, "addr", "mmap");
    checkU64(length, "length", "mmap");
    checkArg(prot, "prot", "mmap");
    checkArg(flags, "flags", "mmap");
    this.#enter();
    return this.mm.mmap(addr, length, prot, flags);
  }

  munmap(addr: number, length: number): number {
    checkU64(addr, "addr", "munmap");
    checkU64(length, "length", "munmap");
    this.#enter();
    return this.mm.munmap(addr, length);
  }

  mprotect(addr: number, length: number, prot: number): number {
    checkU64(addr, "addr", "mprotect");
    checkU64(length, "length", "mprotect");
    checkArg(prot, "prot", "mprotect");
    this.#enter();
    return this.mm.mprotect(addr, length, prot);
  }

  madvise(addr: number, length: number, advice: number): number {
    checkU64(addr, "addr", "madvise");
    checkU64(length, "length", "madvise");
    checkArg(advice, "advice", "madvise");
    this.#enter();
    return this.mm.madvise(addr, length, advice);
  }

  mremap(oldAddr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): number {
    checkU64(oldAddr, "oldAddr", "mremap");
    checkU64(oldLength, "oldLength", "mremap");
    checkU64(newLength, "newLength", "mremap");
    checkArg(flags, "flags", "mremap");
    checkU64(newAddr, "newAddr", "mremap");
    this.#enter();
    return this.mm.mremap(oldAddr, oldLength, newLength, flags, newAddr);
  }

  /**
   * mincore(2): one byte per page of [addr, addr + length) into `vec`, 1
   * where the page is in memory (mapped, or in the swap cache or its shmem
   * object), else 0 (see {@link PageManager.mincore}).
   *
   * @returns 0, or -EINVAL (addr not page-aligned) or -ENOMEM (the range
   * leaves user space or holds an unmapped page).
   * @throws {UsageError} when `vec` is not a Uint8Array of a byte per page.
   */
  mincore(addr: number, length: number, vec: Uint8Array): number {
    checkU64(addr, "addr", "mincore");
    checkU64(length, "length", "mincore");
    if (!(vec instanceof Uint8Array)) throw new UsageError(PKG, "mincore: vec must be a Uint8Array", "vec");
    this.#enter();
    return this.k.pages.mincore(this, addr, length, vec);
  }

  /**
   * fork(2): a child with a copy of this address space. Private pages are
   * shared copy-on-write (no data is copied until one side writes), shared
   * mappings stay shared, MADV_DONTFORK areas are left out.
   *
   * @returns the child, or null when memory for its page tables ran out.
   */
  fork(name = this.name): Process | null {
    this.#enter();
    return this.k.fork(this, name);
  }

  /** exit(2): frees everything the process holds. */
  exit(): void {
    if (!this.alive) throw new ProcessKilled(this.pid, this.state === "killed" ? "SIGKILL" : "exit");
    this.k.exit(this, "exited");
  }

  // --------------------------------------------------------------- /proc

  /** The mappings, lowest first, with /proc/PID/maps permissions (`rw-p`): what `maps` prints, as data. */
  mappings(): { start: number; end: number; perms: string }[] {
    return this.mm.tree.toArray().map((v) => ({ start: v.start, end: v.end, perms: vmaPerms(v.flags) }));
  }

  /** /proc/PID/maps. */
  maps(): string {
    return this.mm.maps();
  }

  /**
   * The LazyFree line of /proc/PID/smaps_rollup, in kB: this process's
   * pages freed lazily (MADV_FREE) and not written since, which reclaim
   * would discard rather than swap out.
   */
  lazyFree(): number {
    return this.alive ? this.k.pages.lazyFreeKb(this) : 0;
  }

  /** /proc/PID/status (the identity and memory lines, in the kernel's format). */
  status(): string {
    return this.k.status(this);
  }
}

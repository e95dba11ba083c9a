/**
 * SimpleMmu: the trivial reference implementation of the
 * {@link MemoryManagementUnit} port, so a kernel can be tested without the
 * real MMU package, as BitmapFrameAllocator stands in for the buddy
 * allocator.
 *
 * Models: translation of 48-bit canonical x86-64 addresses with 4 KiB pages,
 * the rights and the #PF error-code bits of real hardware (present, write,
 * user, instruction fetch), Accessed and Dirty bits, and the page-fault
 * handler protocol of the port.
 *
 * Simplifies: the page tables are a Map per address space, not tables in
 * RAM, so they take no frames and `map` never fails; there is no TLB, so no
 * stale translations (invalidation is a no-op); only 4 KiB pages. Use
 * `@memstack/mmu` for real page tables, huge pages and a TLB.
 */
import type { PhysAddr, VirtAddr } from "./address.js";
import type { Access } from "./errors.js";
import { CorruptionError, Fault, UsageError } from "./errors.js";
import {
  type MemoryManagementUnit,
  type PageFaultHandler,
  type PageMapping,
  type PageRights,
  PF_INSTRUCTION,
  PF_PRESENT,
  PF_USER,
  PF_WRITE,
  type Privilege,
} from "./ports/mmu.js";
import type { PhysicalMemory } from "./ports/physical-memory.js";

const PKG = "@memstack/core";
const PAGE = 4096;
const HALF = 2 ** 47;
/** Faults handled in a row at one access before it gives up and throws. */
const MAX_RETRIES = 8;

interface Entry {
  phys: number;
  write: boolean;
  user: boolean;
  execute: boolean;
  global: boolean;
  accessed: boolean;
  dirty: boolean;
}

/** Options of {@link SimpleMmu}. */
export interface SimpleMmuOptions {
  /** The RAM that mapped pages live in. */
  ram: PhysicalMemory;
}

/** A MemoryManagementUnit with its page tables in Maps: for tests of the layers above. */
export class SimpleMmu implements MemoryManagementUnit {
  readonly pageSizes: readonly number[] = [PAGE];
  privilege: Privilege = "user";
  readonly #ram: PhysicalMemory;
  readonly #spaces = new Map<number, Map<number, Entry>>();
  #nextSpace = 0;
  #current = -1;
  #handler: PageFaultHandler | null = null;

  constructor(options: SimpleMmuOptions) {
    this.#ram = options.ram;
  }

  get currentAddressSpace(): number {
    return this.#current;
  }

  isCanonical(addr: number): boolean {
    return Number.isSafeInteger(addr) && addr >= -HALF && addr < HALF;
  }

  #space(space: number, fn: string): Map<number, Entry> {
    const s = this.#spaces.get(space);
    if (s === undefined) throw new UsageError(PKG, `SimpleMmu.${fn}: no address space ${space}`, "space");
    return s;
  }

  #checkRange(virt: number, length: number, fn: string): void {
    if (!this.isCanonical(virt) || virt % PAGE !== 0) {
      throw new UsageError(
        PKG,
        `SimpleMmu.${fn}: virt ${virt} is not a canonical, page-aligned address`,
        "virt",
      );
    }
    if (
      !Number.isSafeInteger(length) ||
      length < 0 ||
      length % PAGE !== 0 ||
      !this.isCanonical(virt + length - 1)
    ) {
      throw new UsageError(
        PKG,
        `SimpleMmu.${fn}: length ${length} is not a whole number of pages inside the space`,
        "length",
      );
    }
  }

  createAddressSpace(): number | null {
    const id = this.#nextSpace++;
    this.#spaces.set(id, new Map());
    return id;
  }

  destroyAddressSpace(space: number): void {
    this.#space(space, "destroyAddressSpace");
    if (space === this.#current) {
      throw new UsageError(
        PKG,
        "SimpleMmu.destroyAddressSpace: the current address space cannot be destroyed",
        "space",
      );
    }
    this.#spaces.delete(space);
  }

  switchAddressSpace(space: number): void {
    this.#space(space, "switchAddressSpace");
    this.#current = space;
  }

  map(
    space: number,
    virt: number,
    phys: PhysAddr,
    length: number,
    pageSize: number,
    rights: PageRights,
    dirty = false,
  ): boolean {
    const s = this.#space(space, "map");
    if (pageSize !== PAGE)
      throw new UsageError(PKG, `SimpleMmu.map: only 4 KiB pages, got ${pageSize}`, "pageSize");
    this.#checkRange(virt, length, "map");
    if (!Number.isSafeInteger(phys) || phys < 0 || phys % PAGE !== 0 || phys + length > this.#ram.sizeBytes) {
      throw new UsageError(
        PKG,
        `SimpleMmu.map: phys ${phys} is not a page-aligned range inside the RAM`,
        "phys",
      );
    }
    for (let off = 0; off < length; off += PAGE) {
      s.set((virt + off) / PAGE, {
        phys: phys + off,
        write: rights.write,
        user: rights.user,
        execute: rights.execute,
        global: rights.global ?? false,
        accessed: false,
        dirty: dirty === true,
      });
    }
    return true;
  }

  unmap(space: number, virt: number, length: number): number {
    const s = this.#space(space, "unmap");
    this.#checkRange(virt, length, "unmap");
    let cleared = 0;
    if (length / PAGE > s.size) {
      for (const vpn of [...s.keys()]) {
        if (vpn * PAGE >= virt && vpn * PAGE < virt + length && s.delete(vpn)) cleared++;
      }
      return cleared;
    }
    for (let off = 0; off < length; off += PAGE) if (s.delete((virt + off) / PAGE)) cleared++;
    return cleared;
  }

  protect(space: number, virt: number, length: number, rights: PageRights): number {
    const s = this.#space(space, "protect");
    this.#checkRange(virt, length, "protect");
    let changed = 0;
    for (let off = 0; off < length; off += PAGE) {
      const e = s.get((virt + off) / PAGE);
      if (e === undefined) continue;
      e.write = rights.write;
      e.user = rights.user;
      e.execute = rights.execute;
      e.global = rights.global ?? false;
      changed++;
    }
    return changed;
  }

  #mapping(vpn: number, e: Entry): PageMapping {
    return {
      virt: vpn * PAGE,
      phys: e.phys as PhysAddr,
      pageSize: PAGE,
      write: e.write,
      user: e.user,
      execute: e.execute,
      global: e.global,
      accessed: e.accessed,
      dirty: e.dirty,
      // There is no entry in RAM: the frame's own address stands in.
      pteAddress: e.phys as PhysAddr,
    };
  }

  query(space: number, virt: number): PageMapping | null {
    const s = this.#space(space, "query");
    const vpn = Math.floor(virt / PAGE);
    const e = s.get(vpn);
    return e === undefined ? null : this.#mapping(vpn, e);
  }

  walkRange(space: number, start: number, end: number, visit: (mapping: PageMapping) => void): void {
    const s = this.#space(space, "walkRange");
    const first = Math.floor(start / PAGE);
    const last = Math.ceil(end / PAGE);
    if (last - first > s.size) {
      const vpns = [...s.keys()].filter((v) => v >= first && v < last).sort((a, b) => a - b);
      for (const vpn of vpns) visit(this.#mapping(vpn, s.get(vpn)!));
      return;
    }
    for (let vpn = first; vpn < last; vpn++) {
      const e = s.get(vpn);
      if (e !== undefined) visit(this.#mapping(vpn, e));
    }
  }

  testAndClearAccessed(space: number, virt: number): boolean {
    const e = this.#space(space, "testAndClearAccessed").get(Math.floor(virt / PAGE));
    if (e === undefined) return false;
    const was = e.accessed;
    e.accessed = false;
    return was;
  }

  clean(space: number, virt: number): boolean {
    const e = this.#space(space, "clean").get(Math.floor(virt / PAGE));
    if (e === undefined) return false;
    e.accessed = false;
    e.dirty = false;
    return true;
  }

  invalidatePage(space: number, _virt: number): void {
    this.#space(space, "invalidatePage");
  }

  invalidateAddressSpace(space: number): void {
    this.#space(space, "invalidateAddressSpace");
  }

  invalidateAll(): void {}

  onPageFault(handler: PageFaultHandler | null): void {
    this.#handler = handler;
  }

  // The physical address of one byte, after the handler had its chances.
  #translate(addr: number, access: Access): number {
    if (!this.isCanonical(addr)) {
      if (!Number.isSafeInteger(addr)) {
        throw new UsageError(PKG, `SimpleMmu: addr must be a safe integer, got ${addr}`, "addr");
      }
      throw new Fault(PKG, addr, access, "non-canonical");
    }
    const s = this.#current < 0 ? undefined : this.#spaces.get(this.#current);
    const user = this.privilege === "user";
    for (let attempt = 0; ; attempt++) {
      const e = s?.get(Math.floor(addr / PAGE));
      let code =
        (access === "write" ? PF_WRITE : 0) |
        (user ? PF_USER : 0) |
        (access === "execute" ? PF_INSTRUCTION : 0);
      if (e !== undefined) {
        const allowed =
          (!user || e.user) && (access !== "write" || e.write) && (access !== "execute" || e.execute);
        if (allowed) {
          e.accessed = true;
          if (access === "write") e.dirty = true;
          return e.phys + (((addr % PAGE) + PAGE) % PAGE);
        }
        code |= PF_PRESENT;
      }
      if (this.#handler === null || attempt >= MAX_RETRIES || !this.#handler(addr, access, code)) {
        throw new Fault(PKG, addr, access, e === undefined ? "not-mapped" : "not-permitted");
      }
    }
  }

  #load(addr: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--)
      v = v * 256 + this.#ram.readU8(this.#translate(addr + i, "read") as PhysAddr);
    return v;
  }

  #store(addr: number, size: number, value: number): void {
    // Translate every byte first, so a store that faults half way writes nothing.
    const phys: number[] = [];
    for (let i = 0; i < size; i++) phys.push(this.#translate(addr + i, "write"));
    let v = value;
    for (let i = 0; i < size; i++) {
      const byte = v % 256;
      v = (v - byte) / 256;
      this.#ram.writeU8(phys[i]! as PhysAddr, byte);
    }
  }

  loadU8(addr: VirtAddr): number {
    return this.#load(addr, 1);
  }
  loadU16(addr: VirtAddr): number {
    return this.#load(addr, 2);
  }
  loadU32(addr: VirtAddr): number {
    return this.#load(addr, 4);
  }
  loadU64(addr: VirtAddr): number {
    const lo = this.#load(addr, 4);
    const hi = this.#load(addr + 4, 4);
    if (hi >= 0x200000) {
      throw new UsageError(PKG, `SimpleMmu.loadU64: the u64 at ${addr} exceeds 2^53 - 1`, "addr");
    }
    return hi * 4294967296 + lo;
  }
  storeU8(addr: VirtAddr, value: number): void {
    this.#store(addr, 1, value & 0xff);
  }
  storeU16(addr: VirtAddr, value: number): void {
    this.#store(addr, 2, value & 0xffff);
  }
  storeU32(addr: VirtAddr, value: number): void {
    this.#store(addr, 4, value >>> 0);
  }
  storeU64(addr: VirtAddr, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new UsageError(
        PKG,
        `SimpleMmu.storeU64: value must be a non-negative safe integer, got ${value}`,
        "value",
      );
    }
    const lo = value >>> 0;
    this.#store(addr, 4, lo);
    this.#store(addr + 4, 4, (value - lo) / 4294967296);
  }

  loadBytes(addr: VirtAddr, dest: Uint8Array): void {
    for (let i = 0; i < dest.length; i++) dest[i] = this.#load(addr + i, 1);
  }
  storeBytes(addr: VirtAddr, src: Uint8Array): void {
    for (let i = 0; i < src.length; i++) this.#store(addr + i, 1, src[i]!);
  }
  fill(addr: VirtAddr, length: number, byte: number): void {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new UsageError(
        PKG,
        `SimpleMmu.fill: length must be a non-negative safe integer, got ${length}`,
        "length",
      );
    }
    for (let i = 0; i < length; i++) this.#store(addr + i, 1, byte & 0xff);
  }
  copy(dest: VirtAddr, src: VirtAddr, length: number): void {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new UsageError(
        PKG,
        `SimpleMmu.copy: length must be a non-negative safe integer, got ${length}`,
        "length",
      );
    }
    const tmp = new Uint8Array(length);
    this.loadBytes(src, tmp);
    this.storeBytes(dest, tmp);
  }

  /**
   * Verifies every entry: page-aligned frames inside the RAM.
   *
   * @throws {CorruptionError} at the first bad entry.
   */
  check(): void {
    for (const [space, s] of this.#spaces) {
      for (const [vpn, e] of s) {
        if (e.phys % PAGE !== 0 || e.phys < 0 || e.phys >= this.#ram.sizeBytes) {
          throw new CorruptionError(
            PKG,
            `SimpleMmu: space ${space} page 0x${(vpn * PAGE).toString(16)} maps bad frame ${e.phys}`,
          );
        }
      }
    }
  }
}

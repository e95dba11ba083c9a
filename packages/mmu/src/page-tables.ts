/**
 * PageTables: the operating system's side of paging — creating, editing and
 * freeing page tables in simulated RAM for many address spaces, in any
 * {@link PageTableFormat}.
 *
 * Models: what Linux's page-table code (mm/memory.c, mm/pgtable-generic.c,
 * arch/x86/mm/pgtable.c) does to the tables: allocate a zeroed table frame
 * when a level is missing, write leaf entries for 4 KiB, 2 MiB or 1 GiB
 * pages, clear them, rewrite their rights, and free a table once its last
 * present entry is cleared — or, for a caller that frees tables itself as
 * Linux's free_pgtables() does, keep it until `freeTables`. Table frames
 * come from the `FrameAllocator` port; the frames that leaves map belong
 * to the caller.
 *
 * Simplifies: no table is shared between address spaces (Linux shares the
 * kernel half's upper tables; here each space has its own), so `check()`
 * treats a table reachable twice as corruption. Edits never touch the TLB:
 * the MMU (mmu.ts) decides about invalidation, as the kernel does.
 *
 * Layout, x86-64, one address space:
 *
 *     root (PML4) ─► PDPT ─► PD ─► PT ─► 4 KiB page
 *                              └──(PS)──► 2 MiB page
 *                      └──(PS)──────────► 1 GiB page
 *
 * Invariants (see `check()`): every table reachable from a root is a frame
 * this editor allocated for that space, at the level it was allocated for,
 * reachable exactly once; its count of present entries is the number of
 * present entries in RAM; no table but a root and a kept one (see
 * `unmap`'s `keepTables`) is empty; no present entry
 * has a reserved bit set or points outside the RAM; every allocated table
 * is reachable (none leaked).
 */
import * as core from "@memstack/core";
import { CorruptionError, type FrameAllocator, UsageError } from "@memstack/core";
import type { PageMapping, PageRights, PageTableFormat } from "./api.js";
import * as api from "./api.js";
import type { PhysWords } from "./internal/phys-words.js";
import type { PageWalker } from "./page-walk.js";

// The constants and functions this module reads on its hot paths, bound
// here (see "Constants on hot paths" in the root README).
const { pfn, physAddr } = core;
const { ENTRY_ACCESSED, ENTRY_DIRTY, ENTRY_EXECUTE, ENTRY_GLOBAL, ENTRY_READ, ENTRY_USER, ENTRY_WRITE } = api;

const PKG = "@memstack/mmu";
const PAGE = 4096;
/** #mapOnce's answer when an allocation freed tables and the descent must start again. */
const RETRY = 2;

interface TableInfo {
  space: number;
  level: number;
  count: number;
  /** Whether the table may be empty: an unmap asked to keep it, or freeTables took a table under it. */
  kept: boolean;
}

/** A visitor of leaf entries: level, entry address, words, and the linear address of the page. */
type LeafVisitor = (level: number, entry: number, lo: number, hi: number, la: number) => void;

/** Converts normalized rights to the ENTRY_* bits of a leaf. */
export function rightsToFlags(rights: PageRights): number {
  let f = ENTRY_READ;
  if (rights.write) f |= ENTRY_WRITE;
  if (rights.user) f |= ENTRY_USER;
  if (rights.execute) f |= ENTRY_EXECUTE;
  if (rights.global) f |= ENTRY_GLOBAL;
  return f;
}

// x mod size for a non-negative integer x and a power-of-two size: a mask below
// 2^31 (float % is a slow library call), a division above.
function modPow2(x: number, size: number): number {
  return size <= 2 ** 30 ? x & (size - 1) : x % size;
}

function hex(n: number): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

/** Page tables of many address spaces in one RAM, edited through one format. */
export class PageTables {
  readonly format: PageTableFormat;
  /**
   * Whether the last successful map replaced a present leaf. When it did
   * not, no TLB entry can hold the range unmarked: an entry that is not
   * stale agrees with the tables, and the tables had nothing there.
   */
  lastMapReplaced = false;
  readonly #words: PhysWords;
  readonly #frames: FrameAllocator;
  readonly #walker: PageWalker;
  readonly #roots = new Map<number, number>();
  readonly #tables = new Map<number, TableInfo>();
  readonly #half: number;
  readonly #full: number;
  readonly #levelSize: number[];
  readonly #out = new Uint32Array(2);
  // Whole tables read at once (check, destroy): one port call instead of 1024.
  readonly #scratch = new Uint8Array(PAGE);
  readonly #scratchWords = new Uint32Array(this.#scratch.buffer);
  // The path of the last descent: table address and entry address per level.
  readonly #pathTable: Float64Array;
  readonly #pathEntry: Float64Array;
  // The leaf (4 KiB) table the last single-page map of a 4 KiB page wrote
  // into: its space (-1 = none), the linear base of the span it covers, its
  // address and its bookkeeping. A page fault maps the page after the one
  // the previous fault mapped, nearly always under the same table, so the
  // next such map goes straight there. Forgotten by every edit that can free
  // a table or rewrite an upper entry (unmap, protect, destroy, createRoot,
  // a map of several pages), so it always names the table a descent from
  // the root would reach.
  #leafSpace = -1;
  /**
   * Bumped whenever a table is freed. A table allocation can run the
   * allocator's hooks (the kernel's reclaim and OOM killer), which unmap
   * pages and free the tables they empty, or destroy a whole space: a map
   * in progress compares it across each allocation and does not link a new
   * table into one that may have gone.
   */
  #epoch = 0;
  #leafBase = 0;
  #leafTable = 0;
  #leafInfo: TableInfo | null = null;
  // The leaf table's host words (core's frame views alias a frame for the
  // life of the memory) and the index of its first word there; null over a
  // memory without frame views, where the map goes through PhysWords.
  #leafU32: Uint32Array | null = null;
  #leafWord = 0;
  readonly #leafSpan: number;
  readonly #leafLevel: number;
  readonly #physLimit: number;

  constructor(words: PhysWords, frames: FrameAllocator, format: PageTableFormat, walker: PageWalker) {
    this.format = format;
    this.#words = words;
    this.#frames = frames;
    this.#walker = walker;
    this.#half = 2 ** (format.virtualBits - 1);
    this.#full = 2 ** format.virtualBits;
    this.#levelSize = format.levelShifts.map((s) => 2 ** s);
    this.#pathTable = new Float64Array(format.levels);
    this.#pathEntry = new Float64Array(format.levels);
    this.#leafLevel = this.#levelSize.indexOf(PAGE);
    this.#leafSpan = this.#leafLevel > 0 ? this.#levelSize[this.#leafLevel - 1]! : 0;
    this.#physLimit = Math.min(words.memory.sizeBytes, 2 ** format.physicalBits);
  }

  /** Forgets the remembered leaf table (see #leafSpace). */
  #forgetLeaf(): void {
    this.#leafSpace = -1;
    this.#leafInfo = null;
    this.#leafU32 = null;
  }

  /** Physical address of the root table of `space`, or undefined. */
  root(space: number): number | undefined {
    return this.#roots.get(space);
  }

  /** Ids of the live address spaces. */
  spaces(): IterableIterator<number> {
    return this.#roots.keys();
  }

  /** Number of page-table frames currently allocated (roots included). */
  get tableCount(): number {
    return this.#tables.size;
  }

  /** Number of page-table frames of address space `space` (its root included; 0 for none). */
  tablesOf(space: number): number {
    let n = 0;
    for (const info of this.#tables.values()) if (info.space === space) n++;
    return n;
  }

  /** The linear address (in [0, 2^bits)) of a canonical signed address. */
  linear(addr: number): number {
    return addr < 0 ? addr + this.#full : addr;
  }

  /** The signed address of a linear address. */
  signed(la: number): number {
    return la >= this.#half ? la - this.#full : la;
  }

  /** Allocates a zeroed root table for a new space; false when no frame is free. */
  createRoot(space: number): boolean {
    this.#forgetLeaf();
    const frame = this.#frames.allocFrames(0);
    if (frame === null) return false;
    this.#words.memory.zeroFrame(frame);
    this.#roots.set(space, frame * PAGE);
    this.#tables.set(frame, { space, level: 0, count: 0, kept: false });
    return true;
  }

  /** Frees every table of `space`, its root last. */
  destroy(space: number): void {
    this.#forgetLeaf();
    const root = this.#mustRoot(space, "destroyAddressSpace");
    const free = (table: number, level: number): void => {
      if (level < this.format.levels - 1) {
        const words = this.#readTable(table).slice();
        for (let i = 0; i < 512; i++) {
          const lo = words[2 * i]!;
          const hi = words[2 * i + 1]!;
          if (this.format.isPresent(lo, hi) && !this.format.isLeaf(lo, hi, level)) {
            free(this.format.address(lo, hi, level), level + 1);
          }
        }
      }
      this.#freeTable(table);
    };
    free(root, 0);
    this.#roots.delete(space);
  }

  // The 1024 u32 words of the table at `table`, in a scratch buffer reused by the next call.
  #readTable(table: number): Uint32Array {
    this.#words.memory.readBytes(physAddr(table), this.#scratch);
    return this.#scratchWords;
  }

  #mustRoot(space: number, fn: string): number {
    const root = this.#roots.get(space);
    if (root === undefined) {
      throw new UsageError(PKG, `${fn}: ${space} is not a live address space`, "space");
    }
    return root;
  }

  #pageSizeLevel(pageSize: number, fn: string): number {
    const level = this.#levelSize.indexOf(pageSize);
    if (level < 0 || !this.format.pageSizes.includes(pageSize)) {
      throw new UsageError(
        PKG,
        `${fn}: ${this.format.name} has no ${pageSize}-byte pages (it has ${this.format.pageSizes.join(", ")})`,
        "pageSize",
      );
    }
    return level;
  }

  /**
   * Checks a signed range [virt, virt + length) for an edit: integers,
   * aligned to `align`, non-empty, canonical, inside one half.
   * Returns its linear start.
   */
  #range(fn: string, virt: number, length: number, align: number): number {
    if (!Number.isSafeInteger(virt) || virt % align !== 0) {
      throw new UsageError(PKG, `${fn}: virt ${virt} is not an integer multiple of ${align}`, "virt");
    }
    if (!Number.isSafeInteger(length) || length <= 0 || length % align !== 0) {
      throw new UsageError(PKG, `${fn}: length ${length} is not a positive multiple of ${align}`, "length");
    }
    const end = virt + length;
    const canonical = (virt >= 0 && end <= this.#half) || (virt >= -this.#half && end <= 0);
    if (!canonical) {
      throw new UsageError(
        PKG,
        `${fn}: [${hex(virt)}, ${hex(end)}) is not inside one canonical half of the ${this.format.virtualBits}-bit space`,
        "virt",
      );
    }
    return this.linear(virt);
  }

  /** map: see {@link Mmu.map}. Returns false, changing nothing, when a table frame is missing. */
  map(space: number, virt: number, phys: number, length: number, pageSize: number, flags: number): boolean {
    if (space === this.#leafSpace && length === PAGE && pageSize === PAGE) {
      // One 4 KiB page under the remembered leaf table: the same checks
      // and the same writes as #mapOne, without the descent. Anything
      // unusual (bad arguments, a conflict) takes the general path, which
      // refuses it with the usual error.
      const la = virt >= 0 ? virt : virt >= -this.#half ? virt + this.#full : -1;
      const d = la - this.#leafBase;
      if (
        d >= 0 &&
        d < this.#leafSpan &&
        // A whole multiple of the page below the table's span (no float
        // modulo: V8 calls out for `%` on a number above 2^31).
        (d & ~(PAGE - 1)) === d &&
        Number.isSafeInteger(phys) &&
        phys >= 0 &&
        (phys & (PAGE - 1)) === 0 &&
        phys + PAGE <= this.#physLimit
      ) {
        const f = this.format;
        const words = this.#words;
        const e = this.#leafTable + (d / PAGE) * 8;
        const w = this.#leafU32;
        const i = this.#leafWord + (d / PAGE) * 2;
        words.readEntryIn(w, i, e);
        const lo = words.entry[0]!;
        const hi = words.entry[1]!;
        const present = f.isPresent(lo, hi);
        if (!present || f.isLeaf(lo, hi, this.#leafLevel)) {
          this.lastMapReplaced = present;
          if (!present) this.#leafInfo!.count++;
          const out = this.#out;
          f.encodeLeaf(phys, flags, this.#leafLevel, out);
          words.writeEntryIn(w, i, e, out[0]!, out[1]!);
          return true;
        }
      }
    }
    const root = this.#mustRoot(space, "map");
    const leafLevel = this.#pageSizeLevel(pageSize, "map");
    const start = this.#range("map", virt, length, pageSize);
    const ram = this.#words.memory.sizeBytes;
    if (!Number.isSafeInteger(phys) || phys < 0 || phys % pageSize !== 0) {
      throw new UsageError(PKG, `map: phys ${phys} is not a multiple of the page size ${pageSize}`, "phys");
    }
    if (phys + length > ram || phys + length > 2 ** this.format.physicalBits) {
      throw new UsageError(
        PKG,
        `map: physical range [${hex(phys)}, ${hex(phys + length)}) passes the end of the ${ram}-byte RAM`,
        "phys",
      );
    }
    this.lastMapReplaced = false;
    if (length === pageSize) return this.#mapOne(space, root, start, phys, leafLevel, flags);
    this.#forgetLeaf();
    const f = this.format;
    const words = this.#words;
    const end = start + length;
    // Pass 1: refuse overlaps with pages of another size before writing anything.
    for (let la = start; la < end; ) {
      let table = root;
      let level = 0;
      let skipTo = la + pageSize;
      for (; level < leafLevel; level++) {
        const e = table + this.#index(la, level) * 8;
        words.readEntry(e);
        const lo = words.entry[0]!;
        const hi = words.entry[1]!;
        if (!f.isPresent(lo, hi)) {
          // Nothing below: skip to the end of what this entry covers.
          skipTo = la - modPow2(la, this.#levelSize[level]!) + this.#levelSize[level]!;
          break;
        }
        if (f.isLeaf(lo, hi, level)) throw this.#insideLargerPage(la, level);
        table = f.address(lo, hi, level);
      }
      if (level === leafLevel) {
        const e = table + this.#index(la, level) * 8;
        words.readEntry(e);
        const lo = words.entry[0]!;
        const hi = words.entry[1]!;
        if (
          f.isPresent(lo, hi) &&
          !f.isLeaf(lo, hi, level) &&
          !this.#leafless(f.address(lo, hi, level), level + 1)
        ) {
          throw new UsageError(
            PKG,
            `map: ${hex(this.signed(la))} already has smaller pages mapped under it; unmap them first`,
            "virt",
          );
        }
      }
      la = Math.min(skipTo, end);
    }
    // Pass 2: write, with an undo log for a failed table allocation.
    const undoEntry: number[] = [];
    const undoLo: number[] = [];
    const undoHi: number[] = [];
    const created: number[] = [];
    // Empty tables (ones unmap kept) the new leaves replace: freed once all is written.
    const replaced: number[] = [];
    const out = this.#out;
    for (let la = start, p = phys; la < end; la += pageSize, p += pageSize) {
      let table = root;
      for (let level = 0; level < leafLevel; level++) {
        const e = table + this.#index(la, level) * 8;
        words.readEntry(e);
        const lo = words.entry[0]!;
        const hi = words.entry[1]!;
        if (f.isPresent(lo, hi)) {
          table = f.address(lo, hi, level);
          continue;
        }
        const epoch = this.#epoch;
        const frame = this.#frames.allocFrames(0);
        if (frame === null || this.#epoch !== epoch) {
          // No frame, or the allocator's hooks freed tables this map may
          // stand on: undo what it wrote and fail, changing nothing.
          if (frame !== null) this.#frames.freeFrames(frame, 0);
          this.#rollback(undoEntry, undoLo, undoHi, created);
          this.#forgetLeaf();
          return false;
        }
        words.memory.zeroFrame(frame);
        this.#tables.set(frame, { space, level: level + 1, count: 0, kept: false });
        f.encodeTable(frame * PAGE, out);
        words.write(e + 4, out[1]!);
        words.write(e, out[0]!);
        this.#info(table).count++;
        created.push(e);
        table = frame * PAGE;
      }
      const e = table + this.#index(la, leafLevel) * 8;
      words.readEntry(e);
      const lo = words.entry[0]!;
      const hi = words.entry[1]!;
      undoEntry.push(e);
      undoLo.push(lo);
      undoHi.push(hi);
      if (!f.isPresent(lo, hi)) this.#info(table).count++;
      else if (!f.isLeaf(lo, hi, leafLevel)) replaced.push(f.address(lo, hi, leafLevel), leafLevel + 1);
      else this.lastMapReplaced = true;
      f.encodeLeaf(p, flags, leafLevel, out);
      words.write(e + 4, out[1]!);
      words.write(e, out[0]!);
    }
    for (let i = 0; i < replaced.length; i += 2) this.#freeSubtree(replaced[i]!, replaced[i + 1]!);
    return true;
  }

  // Whether the table at `table` (of `level`) and every table under it map nothing.
  #leafless(table: number, level: number): boolean {
    const info = this.#info(table);
    if (info.count === 0) return true;
    const f = this.format;
    const words = this.#words;
    for (let i = 0; i < 512; i++) {
      words.readEntry(table + i * 8);
      const lo = words.entry[0]!;
      const hi = words.entry[1]!;
      if (!f.isPresent(lo, hi)) continue;
      if (f.isLeaf(lo, hi, level) || !this.#leafless(f.address(lo, hi, level), level + 1)) return false;
    }
    return true;
  }

  // Frees the table at `table` (of `level`) and every table under it, all
  // mapping nothing; the entry that pointed at it is already rewritten.
  #freeSubtree(table: number, level: number): void {
    const f = this.format;
    const words = this.#words;
    for (let i = 0; this.#info(table).count > 0 && i < 512; i++) {
      words.readEntry(table + i * 8);
      const lo = words.entry[0]!;
      const hi = words.entry[1]!;
      if (!f.isPresent(lo, hi)) continue;
      this.#freeSubtree(f.address(lo, hi, level), level + 1);
      words.write(table + i * 8, 0);
      words.write(table + i * 8 + 4, 0);
      this.#info(table).count--;
    }
    this.#freeTable(table);
  }

  // Gives table frame `table` (its parent entry already cleared) back to
  // the allocator, counting it in #epoch.
  #freeTable(table: number): void {
    this.#tables.delete(table / PAGE);
    this.#epoch++;
    this.#frames.freeFrames(pfn(table / PAGE), 0);
  }

  /**
   * map of one page (a page fault's fix, fork's copy): one descent that
   * checks, allocates missing tables and writes the leaf. It refuses a
   * conflict before writing anything, as the two passes of the general case
   * do: a conflict can only be met on tables that existed before the call,
   * and every table below one this call creates is new and empty.
   */
  #mapOne(
    space: number,
    root: number,
    la: number,
    phys: number,
    leafLevel: number,
    flags: number,
    leaf = true,
  ): boolean {
    // A table allocation that freed tables (see #epoch) undoes the tables
    // this descent made and starts again from the root, which is gone if
    // the hooks destroyed the space (the OOM killer chose its process).
    for (let tries = 0; tries < 16; tries++) {
      const done = this.#mapOnce(space, root, la, phys, leafLevel, flags, leaf);
      if (done !== RETRY) return done === 1;
      const again = this.#roots.get(space);
      if (again === undefined) return false;
      root = again;
    }
    return false;
  }

  // One descent of #mapOne: 1 mapped, 0 no frame, RETRY when an allocation
  // freed tables. Without `leaf`, it stops at the table the leaf would go in.
  #mapOnce(
    space: number,
    root: number,
    la: number,
    phys: number,
    leafLevel: number,
    flags: number,
    leaf: boolean,
  ): number {
    const f = this.format;
    const words = this.#words;
    const out = this.#out;
    let table = root;
    let level = 0;
    let created = 0;
    for (; level < leafLevel; level++) {
      const e = table + this.#index(la, level) * 8;
      words.readEntry(e);
      const lo = words.entry[0]!;
      const hi = words.entry[1]!;
      if (f.isPresent(lo, hi)) {
        if (f.isLeaf(lo, hi, level)) throw this.#insideLargerPage(la, level);
        table = f.address(lo, hi, level);
        continue;
      }
      const epoch = this.#epoch;
      const frame = this.#frames.allocFrames(0);
      if (frame === null || this.#epoch !== epoch) {
        if (frame !== null) this.#frames.freeFrames(frame, 0);
        // Undo the tables made so far, deepest first (each is empty but for
        // its one child; the topmost hangs under a table that existed, which
        // that child keeps from being freed) — unless the hooks destroyed
        // the space, which freed them with the rest.
        const alive = this.#roots.get(space) === root;
        // The hooks' own maps and unmaps (this allocation's or an earlier
        // one's) reuse #pathTable/#pathEntry: walk la's path again.
        if (alive && created > 0) {
          let t = root;
          for (let l = 0; l < level; l++) {
            const pe = t + this.#index(la, l) * 8;
            words.readEntry(pe);
            this.#pathTable[l] = t;
            this.#pathEntry[l] = pe;
            t = f.address(words.entry[0]!, words.entry[1]!, l);
          }
          this.#pathTable[level] = t;
        }
        for (let l = level - 1; alive && l >= level - created; l--) {
          const parent = this.#pathEntry[l]!;
          const child = this.#pathTable[l + 1]!;
          words.write(parent, 0);
          words.write(parent + 4, 0);
          this.#info(this.#pathTable[l]!).count--;
          this.#tables.delete(child / PAGE);
          this.#frames.freeFrames(pfn(child / PAGE), 0);
        }
        this.#forgetLeaf();
        return frame === null ? 0 : RETRY;
      }
      words.memory.zeroFrame(frame);
      this.#tables.set(frame, { space, level: level + 1, count: 0, kept: false });
      f.encodeTable(frame * PAGE, out);
      words.write(e + 4, out[1]!);
      words.write(e, out[0]!);
      this.#info(table).count++;
      this.#pathTable[level] = table;
      this.#pathEntry[level] = e;
      this.#pathTable[level + 1] = frame * PAGE;
      created++;
      table = frame * PAGE;
    }
    if (!leaf) {
      // The table made ahead maps nothing yet: it may stay empty.
      this.#info(table).kept = true;
      return 1;
    }
    const e = table + this.#index(la, leafLevel) * 8;
    words.readEntry(e);
    const lo = words.entry[0]!;
    const hi = words.entry[1]!;
    let emptied = -1;
    if (f.isPresent(lo, hi)) {
      if (!f.isLeaf(lo, hi, leafLevel)) {
        emptied = f.address(lo, hi, leafLevel);
        if (!this.#leafless(emptied, leafLevel + 1)) {
          throw new UsageError(
            PKG,
            `map: ${hex(this.signed(la))} already has smaller pages mapped under it; unmap them first`,
            "virt",
          );
        }
      } else {
        this.lastMapReplaced = true;
      }
    } else {
      this.#info(table).count++;
    }
    f.encodeLeaf(phys, flags, leafLevel, out);
    words.write(e + 4, out[1]!);
    words.write(e, out[0]!);
    // An empty table (one unmap kept) under the new, larger page goes.
    if (emptied >= 0) this.#freeSubtree(emptied, leafLevel + 1);
    if (leafLevel === this.#leafLevel) {
      this.#leafSpace = space;
      this.#leafBase = la - modPow2(la, this.#leafSpan);
      this.#leafTable = table;
      this.#leafInfo = this.#info(table);
      // The table was just written, so its frame is backed.
      this.#leafU32 = words.frameWords(table, true);
      this.#leafWord = words.firstWord;
    }
    return 1;
  }

  #rollback(undoEntry: number[], undoLo: number[], undoHi: number[], created: number[]): void {
    const f = this.format;
    const words = this.#words;
    for (let i = undoEntry.length - 1; i >= 0; i--) {
      const e = undoEntry[i]!;
      const table = e - (e & 0xfff);
      // A table the allocator's hooks freed meanwhile (see #epoch): its entries went with it.
      if (!this.#tables.has(table / PAGE)) continue;
      if (!f.isPresent(undoLo[i]!, undoHi[i]!)) this.#info(table).count--;
      words.write(e, undoLo[i]!);
      words.write(e + 4, undoHi[i]!);
    }
    for (let i = created.length - 1; i >= 0; i--) {
      const e = created[i]!;
      if (!this.#tables.has((e - (e & 0xfff)) / PAGE)) continue;
      words.readEntry(e);
      const lo = words.entry[0]!;
      const hi = words.entry[1]!;
      const child = f.address(lo, hi, 0) / PAGE;
      words.write(e, 0);
      words.write(e + 4, 0);
      this.#info(e - (e & 0xfff)).count--;
      this.#tables.delete(child);
      this.#frames.freeFrames(pfn(child), 0);
    }
  }

  // A map asked for a page inside a larger page already mapped at `level`.
  #insideLargerPage(la: number, level: number): UsageError {
    return new UsageError(
      PKG,
      `map: ${hex(this.signed(la))} is inside a ${this.#levelSize[level]}-byte page; unmap it first`,
      "virt",
    );
  }

  #index(la: number, level: number): number {
    return (la / this.#levelSize[level]!) & 511;
  }

  #info(table: number): TableInfo {
    const info = this.#tables.get(table / PAGE);
    if (info === undefined) {
      throw new CorruptionError(
        PKG,
        `PageTables: frame ${hex(table)} is used as a table but was never allocated`,
      );
    }
    return info;
  }

  /**
   * Visits every present leaf overlapping linear [start, end), in order,
   * skipping absent ranges a whole entry at a time. The descent path is in
   * #pathTable/#pathEntry during the visit.
   *
   * After one descent from the root it reads on along the table it reached,
   * entry after entry (as Linux's zap_pte_range() and change_pte_range() go
   * along a PTE table), through the table's host words when the memory has
   * frame views: a range costs about one entry read per page, not one per
   * level. It descends from the root again at an entry that points to a
   * table, past the table's end, and after a visit that freed a table (the
   * one it reads along may be gone, its frame reused). The path above the
   * table is the descent's; a visit that walks the tables itself (walkRange's
   * may) overwrites it, which nothing after the visit reads.
   */
  #forEachLeaf(root: number, start: number, end: number, visit: LeafVisitor): void {
    const f = this.format;
    const words = this.#words;
    let la = start;
    while (la < end) {
      let table = root;
      let level = 0;
      let e = 0;
      let lo = 0;
      let hi = 0;
      for (;;) {
        e = table + this.#index(la, level) * 8;
        this.#pathTable[level] = table;
        this.#pathEntry[level] = e;
        words.readEntry(e);
        lo = words.entry[0]!;
        hi = words.entry[1]!;
        if (!f.isPresent(lo, hi) || f.isLeaf(lo, hi, level)) break;
        table = f.address(lo, hi, level);
        level++;
      }
      const size = this.#levelSize[level]!;
      const tableEnd = la - modPow2(la, size * 512) + size * 512;
      // The table's host words, when it has them: its bytes never move once backed.
      const w = words.frameWords(table, false);
      let wi = w === null ? 0 : words.firstWord + ((e - table) >>> 2);
      const epoch = this.#epoch;
      for (;;) {
        const pageStart = la - modPow2(la, size);
        if (f.isPresent(lo, hi)) visit(level, e, lo, hi, pageStart);
        la = pageStart + size;
        if (la >= end || la >= tableEnd || this.#epoch !== epoch) break;
        e += 8;
        this.#pathEntry[level] = e;
        if (w !== null) {
          wi += 2;
          lo = w[wi]!;
          hi = w[wi + 1]!;
        } else {
          words.readEntry(e);
          lo = words.entry[0]!;
          hi = words.entry[1]!;
        }
        if (f.isPresent(lo, hi) && !f.isLeaf(lo, hi, level)) break;
      }
    }
  }

  /** Throws when a leaf overlapping linear [start, end) is not wholly inside it. */
  #refuseCut(fn: string, root: number, start: number, end: number): void {
    this.#forEachLeaf(root, start, end, (level, _e, _lo, _hi, la) => {
      const size = this.#levelSize[level]!;
      if (la < start || la + size > end) {
        throw new UsageError(
          PKG,
          `${fn}: the range cuts the ${size}-byte page at ${hex(this.signed(la))}; split it first`,
          "length",
        );
      }
    });
  }

  /** unmap: see {@link Mmu.unmap}. */
  unmap(space: number, virt: number, length: number, keepTables = false): number {
    this.#forgetLeaf();
    const root = this.#mustRoot(space, "unmap");
    const start = this.#range("unmap", virt, length, PAGE);
    const end = start + length;
    this.#refuseCut("unmap", root, start, end);
    let cleared = 0;
    const words = this.#words;
    this.#forEachLeaf(root, start, end, (level, e) => {
      words.write(e, 0);
      words.write(e + 4, 0);
      cleared++;
      if (keepTables) {
        const info = this.#info(this.#pathTable[level]!);
        info.count--;
        info.kept = true;
        return;
      }
      // Free tables left empty, upwards; the root stays.
      for (let l = level; l > 0; l--) {
        const table = this.#pathTable[l]!;
        const info = this.#info(table);
        if (--info.count > 0) return;
        const parent = this.#pathEntry[l - 1]!;
        words.write(parent, 0);
        words.write(parent + 4, 0);
        this.#freeTable(table);
      }
      this.#info(this.#pathTable[0]!).count--;
    });
    return cleared;
  }

  /** prepareTables: see {@link Mmu.prepareTables}. */
  prepareTables(space: number, virt: number, pageSize = PAGE): boolean {
    const root = this.#mustRoot(space, "prepareTables");
    // No leaf is written: any level's span will do, whether the format maps pages that size or not.
    const leafLevel = this.#levelSize.indexOf(pageSize);
    if (leafLevel <= 0) {
      throw new UsageError(
        PKG,
        `prepareTables: ${pageSize} is not the span of a page-table entry below the root (${this.#levelSize.slice(1).join(", ")})`,
        "pageSize",
      );
    }
    const la = this.#range("prepareTables", virt, pageSize, pageSize);
    return this.#mapOne(space, root, la, 0, leafLevel, 0, false);
  }

  /** freeTables: see {@link Mmu.freeTables}. */
  freeTables(space: number, virt: number, length: number): number {
    this.#forgetLeaf();
    const root = this.#mustRoot(space, "freeTables");
    const start = this.#range("freeTables", virt, length, PAGE);
    return this.#freeEmpty(root, 0, 0, start, start + length);
  }

  // Frees the empty tables under `table` (at `level`, its entries' spans
  // starting at linear `base`) whose whole span lies in [start, end),
  // deepest first; returns how many went.
  #freeEmpty(table: number, level: number, base: number, start: number, end: number): number {
    const f = this.format;
    const words = this.#words;
    const size = this.#levelSize[level]!;
    const info = this.#info(table);
    let freed = 0;
    const from = Math.max(start, base);
    for (let la = from - modPow2(from, size); la < end && la < base + size * 512; la += size) {
      const e = table + this.#index(la, level) * 8;
      words.readEntry(e);
      const lo = words.entry[0]!;
      const hi = words.entry[1]!;
      if (!f.isPresent(lo, hi) || f.isLeaf(lo, hi, level)) continue;
      const child = f.address(lo, hi, level);
      freed += this.#freeEmpty(child, level + 1, la, start, end);
      if (la < start || la + size > end || this.#info(child).count > 0) continue;
      words.write(e, 0);
      words.write(e + 4, 0);
      info.count--;
      info.kept = true;
      this.#freeTable(child);
      freed++;
    }
    return freed;
  }

  /** protect: see {@link Mmu.protect}. */
  protect(space: number, virt: number, length: number, flags: number): number {
    this.#forgetLeaf();
    const root = this.#mustRoot(space, "protect");
    const start = this.#range("protect", virt, length, PAGE);
    const end = start + length;
    this.#refuseCut("protect", root, start, end);
    let changed = 0;
    const f = this.format;
    const out = this.#out;
    this.#forEachLeaf(root, start, end, (level, e, lo, hi) => {
      const kept = f.flags(lo, hi, level) & (ENTRY_ACCESSED | ENTRY_DIRTY);
      f.encodeLeaf(f.address(lo, hi, level), flags | kept, level, out);
      if (out[0] === lo && out[1] === hi) return;
      this.#words.write(e + 4, out[1]!);
      this.#words.write(e, out[0]!);
      changed++;
    });
    return changed;
  }

  /** testAndClearAccessed: see {@link Mmu.testAndClearAccessed}. */
  testAndClearAccessed(space: number, virt: number): boolean {
    return this.#clearLeafBits("testAndClearAccessed", space, virt, ENTRY_ACCESSED) > 0;
  }

  /** The table half of {@link Mmu.clean}: clears A and D of the leaf covering `virt`. */
  clean(space: number, virt: number): boolean {
    return this.#clearLeafBits("clean", space, virt, ENTRY_ACCESSED | ENTRY_DIRTY) >= 0;
  }

  // Clears `bits` (ENTRY_* flags) in the leaf covering `virt`: returns those
  // of them that were set, or -1 when no leaf covers it.
  #clearLeafBits(fn: string, space: number, virt: number, bits: number): number {
    const root = this.#mustRoot(space, fn);
    const la = this.#pointLinear(fn, virt);
    let was = -1;
    const f = this.format;
    const out = this.#out;
    this.#forEachLeaf(root, la, la + 1, (level, e, lo, hi) => {
      const flags = f.flags(lo, hi, level);
      was = flags & bits;
      if (was === 0) return;
      f.encodeLeaf(f.address(lo, hi, level), flags & ~bits, level, out);
      this.#words.write(e, out[0]!);
    });
    return was;
  }

  #pointLinear(fn: string, virt: number): number {
    if (!Number.isSafeInteger(virt) || virt < -this.#half || virt >= this.#half) {
      throw new UsageError(PKG, `${fn}: virt ${virt} is not a canonical address`, "virt");
    }
    return this.linear(virt);
  }

  #mapping(level: number, e: number, lo: number, hi: number, la: number): PageMapping {
    const flags = this.format.flags(lo, hi, level);
    return {
      virt: this.signed(la),
      phys: physAddr(this.format.address(lo, hi, level)),
      pageSize: this.#levelSize[level]!,
      write: (flags & ENTRY_WRITE) !== 0,
      user: (flags & ENTRY_USER) !== 0,
      execute: (flags & ENTRY_EXECUTE) !== 0,
      global: (flags & ENTRY_GLOBAL) !== 0,
      accessed: (flags & ENTRY_ACCESSED) !== 0,
      dirty: (flags & ENTRY_DIRTY) !== 0,
      pteAddress: physAddr(e),
    };
  }

  /** query: see {@link Mmu.query}. */
  query(space: number, virt: number): PageMapping | null {
    const root = this.#mustRoot(space, "query");
    const la = this.#pointLinear("query", virt);
    let found: PageMapping | null = null;
    this.#forEachLeaf(root, la, la + 1, (level, e, lo, hi, pageLa) => {
      if (!this.format.isReserved(lo, hi, level)) found = this.#mapping(level, e, lo, hi, pageLa);
    });
    return found;
  }

  /** walkRange: see {@link Mmu.walkRange}. */
  walkRange(space: number, start: number, end: number, visit: (m: PageMapping) => void): void {
    const root = this.#mustRoot(space, "walkRange");
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end) {
      throw new UsageError(PKG, `walkRange: [${start}, ${end}) is not a range of integers`, "start");
    }
    const lo = Math.max(start, -this.#half);
    const hi = Math.min(end, this.#half);
    // The leaf visitor is made once (see #eachMapping); `visit` is handed to
    // it through a field, saved and restored so a visit may walk again.
    const saved = this.#walkVisit;
    this.#walkVisit = visit;
    try {
      // The negative (upper) half comes first in signed order.
      if (lo < 0) {
        this.#forEachLeaf(
          root,
          this.linear(lo),
          this.linear(Math.min(hi, 0)) || this.#full,
          this.#eachMapping,
        );
      }
      if (hi > 0) this.#forEachLeaf(root, Math.max(lo, 0), hi, this.#eachMapping);
    } finally {
      this.#walkVisit = saved;
    }
  }

  // walkRange's leaf visitor, made once: a closure made per call costs an
  // allocation (and, under tsx's keepNames, an Object.defineProperty).
  #walkVisit: ((m: PageMapping) => void) | null = null;
  readonly #eachMapping: LeafVisitor = (level, e, l, h, la) => {
    this.#walkVisit!(this.#mapping(level, e, l, h, la));
  };

  /** The walker over these tables, for translation by root. */
  get walker(): PageWalker {
    return this.#walker;
  }

  /**
   * Verifies every table reachable from every root (see the file comment).
   *
   * @throws {CorruptionError} at the first violation.
   */
  check(): void {
    const f = this.format;
    const words = this.#words;
    const ram = words.memory.sizeBytes;
    if (this.#leafSpace !== -1) {
      // The remembered leaf table is the one a descent from the root reaches.
      let table = this.#roots.get(this.#leafSpace) ?? -1;
      for (let level = 0; table >= 0 && level < this.#leafLevel; level++) {
        words.readEntry(table + this.#index(this.#leafBase, level) * 8);
        const lo = words.entry[0]!;
        const hi = words.entry[1]!;
        table = f.isPresent(lo, hi) && !f.isLeaf(lo, hi, level) ? f.address(lo, hi, level) : -1;
      }
      if (table !== this.#leafTable || this.#tables.get(table / PAGE) !== this.#leafInfo) {
        throw new CorruptionError(
          PKG,
          `PageTables: the remembered leaf table ${hex(this.#leafTable)} of space ${this.#leafSpace} is not the one its tables reach`,
        );
      }
      // Its host words are the table's own.
      const w = words.frameWords(table, false);
      if (this.#leafU32 !== w || (w !== null && this.#leafWord !== words.firstWord)) {
        throw new CorruptionError(
          PKG,
          `PageTables: the remembered host words of leaf table ${hex(this.#leafTable)} are not the table's`,
        );
      }
    }
    const seen = new Set<number>();
    const last = f.levels - 1;
    const visit = (space: number, table: number, level: number): void => {
      const frame = table / PAGE;
      const info = this.#tables.get(frame);
      if (info === undefined || info.space !== space || info.level !== level) {
        throw new CorruptionError(
          PKG,
          `PageTables: table ${hex(table)} at level ${level} of space ${space} was not allocated there`,
        );
      }
      if (seen.has(frame)) {
        throw new CorruptionError(PKG, `PageTables: table ${hex(table)} is reachable from two parents`);
      }
      seen.add(frame);
      let present = 0;
      const entries = this.#readTable(table).slice();
      for (let i = 0; i < 512; i++) {
        const e = table + i * 8;
        const lo = entries[2 * i]!;
        const hi = entries[2 * i + 1]!;
        if (!f.isPresent(lo, hi)) continue;
        present++;
        if (f.isReserved(lo, hi, level)) {
          throw new CorruptionError(
            PKG,
            `PageTables: entry ${hex(e)} (0x${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}) has a reserved bit set`,
          );
        }
        const target = f.address(lo, hi, level);
        const leaf = f.isLeaf(lo, hi, level);
        const size = leaf ? this.#levelSize[level]! : PAGE;
        if (target + size > ram) {
          throw new CorruptionError(
            PKG,
            `PageTables: entry ${hex(e)} points at ${hex(target)}, past the RAM`,
          );
        }
        if (!leaf) {
          if (level === last)
            throw new CorruptionError(PKG, `PageTables: entry ${hex(e)} at the last level is not a leaf`);
          visit(space, target, level + 1);
        }
      }
      if (present !== info.count) {
        throw new CorruptionError(
          PKG,
          `PageTables: table ${hex(table)} has ${present} present entries but counts ${info.count}`,
        );
      }
      if (present === 0 && level > 0 && !info.kept) {
        throw new CorruptionError(PKG, `PageTables: table ${hex(table)} is empty but was not freed`);
      }
    };
    for (const [space, root] of this.#roots) visit(space, root, 0);
    if (seen.size !== this.#tables.size) {
      throw new CorruptionError(
        PKG,
        `PageTables: ${this.#tables.size - seen.size} allocated table(s) are not reachable from any root`,
      );
    }
  }
}

/**
 * PageTableSet: which page-table pages one process has, by the region each
 * covers, with the lifetime Linux gives them on x86-64 (4-level paging).
 * This is what `mm_pgtables_bytes` counts: VmPTE in /proc/PID/status, the
 * `pgtables` of the OOM killer's line and its badness (the PGD is not in
 * it; /proc/meminfo's PageTables counts it too).
 *
 * Models:
 * - A fault that maps a page allocates the PUD, PMD and PTE tables above
 *   it (`__handle_mm_fault`, `pte_alloc`); a SIGBUS past a shmem object's
 *   end, or in a hugetlb mapping with no huge page to give (2 MiB pages),
 *   allocates the upper two only, and one in a mapping of 1 GiB pages the
 *   PUD table alone.
 * - Clearing entries frees no table (MADV_FREE, MADV_PAGEOUT, reclaim and
 *   swap-out: a swap entry lives in its PTE), except that MADV_DONTNEED
 *   over a whole, aligned 2 MiB region of one VMA frees the PTE table it
 *   emptied (CONFIG_PT_RECLAIM, mm/pt_reclaim.c; on in this machine's Linux
 *   6.18). A table emptied by smaller zaps stays.
 * - Unmapping VMAs frees tables as `free_pgtables()` / `free_pgd_range()`
 *   (mm/memory.c) do: only tables whose whole region lies between the
 *   VMAs left before (`floor`) and after (`ceiling`) the unmapped ones.
 * - fork gives the child, for each VMA whose entries it copies, every
 *   table the parent has over that VMA, empty or not (`copy_page_range`
 *   allocates the child's table before looking at the parent's entries).
 * - mremap moves tables as `move_page_tables()` (mm/mremap.c) does: a
 *   whole, aligned 2 MiB extent takes the source's PTE table with it when
 *   the destination has none (`move_normal_pmd`); otherwise the
 *   destination gets its own where the source has one. A move whose two
 *   addresses sit at the same offset in their 2 MiB regions, with nothing
 *   mapped below either in its region and reaching the next boundary,
 *   starts at the regions' starts (`try_realign_addr`).
 *
 * Simplifies: mremap never moves a whole PMD table (Linux does for 1 GiB
 * aligned moves, `move_normal_pud`: the count comes out the same, as this
 * machine's kernel shows, except after MREMAP_DONTUNMAP, where Linux's old
 * range keeps no PMD table); there are no huge-page mappings.
 *
 * Regions are numbered by address / size: PTE tables cover 2 MiB, PMD
 * tables 1 GiB, PUD tables 512 GiB. A PTE table implies its PMD and PUD
 * tables; `check()` verifies it.
 */
import { CorruptionError } from "@memstack/core";

const PKG = "@memstack/kernel";
const PAGES_PER_PTE = 512;
const PTE_SPAN = 2 ** 21;
const PMD_SPAN = 2 ** 30;
const PUD_SPAN = 2 ** 39;
const SPANS = [PTE_SPAN, PMD_SPAN, PUD_SPAN] as const;

/** What an MMU with tables in RAM is told, to hold the tables this set counts. */
export interface TableHooks {
  /**
   * The tables over [start, end) went (a whole region of one level), deepest
   * first; `moved` when the table went because an mremap moved it whole to
   * another region (move_normal_pmd(), move_huge_pmd(): Linux moves the
   * table itself, which no TLB flush of a freed table follows).
   */
  freed(start: number, end: number, moved?: boolean): void;
  /**
   * The tables over `addr` down to the one a page of `pageSize` would go in
   * exist (4 KiB: the PTE table; 2 MiB: the PMD table), made ahead of any
   * page; false when memory ran out.
   */
  made(addr: number, pageSize: number): boolean;
}

/** The page-table pages of one address space. */
export class PageTableSet {
  readonly #hooks: TableHooks | null;

  /** `hooks` tell the MMU below of tables freed, and of tables made ahead of the pages. */
  constructor(hooks: TableHooks | null = null) {
    this.#hooks = hooks;
  }

  // [0] PTE tables by 2 MiB region, [1] PMD tables by 1 GiB, [2] PUD tables by 512 GiB.
  readonly #levels: [Set<number>, Set<number>, Set<number>] = [new Set(), new Set(), new Set()];
  // The PTE region touched last, known present with its parents (−1: none).
  #last = -1;

  /** Page-table pages held (mm_pgtables_bytes / 4096). */
  get count(): number {
    return this.#levels[0].size + this.#levels[1].size + this.#levels[2].size;
  }

  /** Whether the PTE table over virtual page `vpn` exists. */
  hasPte(vpn: number): boolean {
    return this.#levels[0].has(Math.floor(vpn / PAGES_PER_PTE));
  }

  /** A page at `vpn` is being mapped: the tables down to its PTE table exist from now on. */
  touch(vpn: number): void {
    const r = Math.floor(vpn / PAGES_PER_PTE);
    if (r === this.#last) return;
    this.#levels[0].add(r);
    this.#addUpper(vpn * 4096);
    this.#last = r;
  }

  /**
   * The tables down to the PTE table over `vpn` exist from now on, made in
   * the MMU too, ahead of any page (a guard marker's entry needs them).
   *
   * @returns false when the MMU could not make them.
   */
  ensure(vpn: number): boolean {
    if (this.hasPte(vpn)) return true;
    if (!this.#made(vpn * 4096, 4096)) return false;
    this.touch(vpn);
    return true;
  }

  /**
   * The tables above a page of `pageBytes` at `addr` exist from now on (a
   * fault that maps no page): the PUD and PMD tables above a 4 KiB or a
   * 2 MiB page, the PUD table alone above a 1 GiB one (huge_pte_alloc).
   */
  touchUpper(addr: number, pageBytes = PTE_SPAN): void {
    if (pageBytes >= PMD_SPAN) {
      this.#levels[2].add(Math.floor(addr / PUD_SPAN));
      this.#made(addr, PMD_SPAN);
      return;
    }
    this.#addUpper(addr);
    this.#made(addr, PTE_SPAN);
  }

  #addUpper(addr: number): void {
    this.#levels[1].add(Math.floor(addr / PMD_SPAN));
    this.#levels[2].add(Math.floor(addr / PUD_SPAN));
  }

  // Tells the MMU to make the tables over `addr` down to a `pageSize` page's
  // (aligned down to it); false when it could not (memory ran out, or the
  // OOM killer took the space, whose tables are gone with it).
  #made(addr: number, pageSize: number): boolean {
    return this.#hooks === null || this.#hooks.made(addr - (addr % pageSize), pageSize);
  }

  // Frees the table of region `r` at `level`, telling the MMU.
  #free(level: number, r: number, moved = false): void {
    this.#levels[level]!.delete(r);
    const span = SPANS[level]!;
    this.#hooks?.freed(r * span, (r + 1) * span, moved);
  }

  /** Drops every table (the address space is gone). */
  clear(): void {
    for (const s of this.#levels) s.clear();
    this.#last = -1;
  }

  /**
   * MADV_DONTNEED's page-table reclaim over [start, end), a range of one
   * VMA just zapped: the PTE table of each whole 2 MiB region inside it is
   * empty now, and goes (zap_pte_range() with `reclaim_pt`), unless `busy`
   * says the region still holds entries.
   */
  reclaimEmpty(start: number, end: number, busy?: (start: number, end: number) => boolean): void {
    const first = Math.ceil(start / PTE_SPAN);
    const last = Math.floor(end / PTE_SPAN);
    if (first >= last) return;
    this.#last = -1;
    for (const r of this.#present(0, first * PTE_SPAN, last * PTE_SPAN)) {
      // A table still holding entries the zap leaves (guard markers) is not empty.
      if (busy?.(r * PTE_SPAN, (r + 1) * PTE_SPAN) === true) continue;
      this.#free(0, r);
    }
  }

  /**
   * `free_pgd_range(addr, end, floor, ceiling)`: frees the tables of the
   * unmapped range [addr, end) whose regions lie wholly at or above
   * `floor` (the end of the VMA before, 0 for none) and at or below
   * `ceiling` (the start of the VMA after, Infinity for none).
   */
  freeRange(addr: number, end: number, floor: number, ceiling: number): void {
    this.#last = -1;
    let lo = addr - (addr % PTE_SPAN);
    if (lo < floor) lo += PTE_SPAN;
    let hi = end;
    if (ceiling !== Number.POSITIVE_INFINITY) {
      const c = ceiling - (ceiling % PTE_SPAN);
      if (c === 0) return;
      if (hi > c) hi -= PTE_SPAN;
    }
    if (lo >= hi) return;
    for (const g of this.#present(2, lo, hi)) {
      const pudLo = Math.max(lo, g * PUD_SPAN);
      const pudHi = Math.min(hi, (g + 1) * PUD_SPAN);
      for (const m of this.#present(1, pudLo, pudHi)) {
        const pmdLo = Math.max(pudLo, m * PMD_SPAN);
        const pmdHi = Math.min(pudHi, (m + 1) * PMD_SPAN);
        for (const t of this.#present(0, pmdLo, pmdHi)) this.#free(0, t);
        if (this.#tailFrees(pmdLo, pmdHi, PMD_SPAN, floor, ceiling)) this.#free(1, m);
      }
      if (this.#tailFrees(pudLo, pudHi, PUD_SPAN, floor, ceiling)) this.#free(2, g);
    }
  }

  // The test at the end of free_pmd_range() / free_pud_range(): whether the
  // table of `span` over [lo, hi), emptied, may go.
  #tailFrees(lo: number, hi: number, span: number, floor: number, ceiling: number): boolean {
    if (lo - (lo % span) < floor) return false;
    if (ceiling === Number.POSITIVE_INFINITY) return true;
    const c = ceiling - (ceiling % span);
    return c !== 0 && hi <= c;
  }

  // The regions of `level` present over [lo, hi), in no particular order.
  #present(level: number, lo: number, hi: number): number[] {
    const set = this.#levels[level]!;
    const span = SPANS[level]!;
    const first = Math.floor(lo / span);
    const last = Math.floor((hi - 1) / span);
    const out: number[] = [];
    if (last - first < set.size) {
      for (let r = first; r <= last; r++) if (set.has(r)) out.push(r);
    } else {
      for (const r of set) if (r >= first && r <= last) out.push(r);
    }
    return out;
  }

  /**
   * fork's `copy_page_range()` for one VMA over [start, end): the child
   * (this set) gets every table `parent` has over that range.
   *
   * @returns false when the MMU could not make one (fork fails with ENOMEM).
   */
  copyFrom(parent: PageTableSet, start: number, end: number): boolean {
    // Top level first, as copy_p4d_range() allocates downwards: a PUD table
    // with no PMD table under it is made as the table a 1 GiB page would go
    // in, a PMD table with no PTE table as a 2 MiB page's.
    for (let level = 2; level >= 0; level--) {
      const span = SPANS[level]!;
      const below = level === 0 ? 4096 : SPANS[level - 1]!;
      for (const r of parent.#present(level, start, end)) {
        this.#levels[level]!.add(r);
        if (!this.#made(Math.max(start, r * span), below)) return false;
      }
    }
    return true;
  }

  /**
   * `move_page_tables()` for the pages of [from, from + length) going to
   * [to, to + length): the destination's tables, and a source PTE table
   * that moves whole. `realign` when no VMA lies below `from` or `to` in
   * their 2 MiB regions (`can_align_down`). Called once the pages have
   * moved, so that a table that moves whole is empty when the MMU frees it.
   */
  move(from: number, to: number, length: number, realign: boolean): void {
    this.#last = -1;
    // can_realign_addr(): only a move that reaches a region boundary, from
    // an unaligned address at the same offset as the destination's.
    const off = from % PTE_SPAN;
    if (realign && off !== 0 && off === to % PTE_SPAN && length >= PTE_SPAN - off) {
      from -= off;
      to -= off;
      length += off;
    }
    const [pte, pmd, pud] = this.#levels;
    let done = 0;
    while (done < length) {
      const oldAddr = from + done;
      const newAddr = to + done;
      // The PUD-level step: nothing under a missing PMD table is moved.
      if (!pmd.has(Math.floor(oldAddr / PMD_SPAN))) {
        done += Math.min(PMD_SPAN - (oldAddr % PMD_SPAN), PMD_SPAN - (newAddr % PMD_SPAN), length - done);
        continue;
      }
      // alloc_new_pud(): the destination's PUD table, even with nothing to move under it.
      pud.add(Math.floor(newAddr / PUD_SPAN));
      if (!this.#made(newAddr, PMD_SPAN)) return;
      const extent = Math.min(
        PTE_SPAN - (oldAddr % PTE_SPAN),
        PTE_SPAN - (newAddr % PTE_SPAN),
        length - done,
      );
      done += extent;
      const oldPte = Math.floor(oldAddr / PTE_SPAN);
      if (!pte.has(oldPte)) continue;
      pmd.add(Math.floor(newAddr / PMD_SPAN));
      const newPte = Math.floor(newAddr / PTE_SPAN);
      const whole = extent === PTE_SPAN && !pte.has(newPte);
      pte.add(newPte);
      // The pages have moved: the MMU made the tables over those that were
      // there; a range without any still gets its table, as Linux's does.
      if (!this.#made(newAddr, 4096)) return;
      if (whole) this.#free(0, oldPte, true);
    }
  }

  /**
   * Verifies that every PTE table has its PMD and PUD tables, every PMD
   * table its PUD table, and that `needed` virtual pages (those mapped or
   * holding a swap entry) all have their PTE table.
   *
   * @throws {CorruptionError} naming the first region found wrong.
   */
  check(needed: Iterable<number>): void {
    const [pte, pmd, pud] = this.#levels;
    for (const r of pte) {
      const addr = r * PTE_SPAN;
      if (!pmd.has(Math.floor(addr / PMD_SPAN)) || !pud.has(Math.floor(addr / PUD_SPAN)))
        throw new CorruptionError(PKG, `page tables: the PTE table at 0x${addr.toString(16)} has no parent`);
    }
    for (const r of pmd) {
      const addr = r * PMD_SPAN;
      if (!pud.has(Math.floor(addr / PUD_SPAN)))
        throw new CorruptionError(PKG, `page tables: the PMD table at 0x${addr.toString(16)} has no parent`);
    }
    for (const vpn of needed) {
      if (!this.hasPte(vpn))
        throw new CorruptionError(
          PKG,
          `page tables: page 0x${(vpn * 4096).toString(16)} is mapped but its PTE table is not counted`,
        );
    }
  }
}

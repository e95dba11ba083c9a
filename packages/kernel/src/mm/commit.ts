/**
 * Overcommit policy and commit accounting: vm.overcommit_memory,
 * vm.overcommit_ratio, CommitLimit and Committed_AS, as mm/util.c's
 * __vm_enough_memory and vm_commit_limit compute them
 * (Documentation/mm/overcommit-accounting.rst).
 *
 * - mode 0 (heuristic, the default): a single request fails only when it
 *   alone is larger than RAM plus swap;
 * - mode 1 (always): nothing fails;
 * - mode 2 (never): Committed_AS, the new request included, must stay below
 *   CommitLimit = RAM × overcommit_ratio / 100 + swap, less the admin
 *   reserve (processes here are not CAP_SYS_ADMIN) and the smaller of 1/32
 *   of the process's size and the user reserve.
 *
 * The reserves are computed once, from the free memory at boot, as
 * init_admin_reserve and init_user_reserve do: min(free / 32, 8 MiB) and
 * min(free / 32, 128 MiB).
 */
import type { AddressSpace, CommitAccounting } from "./address-space.js";

/** vm.overcommit_memory: 0 heuristic, 1 always, 2 never. */
export type OvercommitMode = 0 | 1 | 2;

/** Machine-wide commit accounting under one overcommit policy. */
export class CommitPolicy implements CommitAccounting {
  mode: OvercommitMode;
  /** vm.overcommit_ratio, in percent. */
  ratio: number;
  /** Committed_AS, in pages. */
  committed = 0;
  readonly #ramPages: () => number;
  readonly #swapPages: () => number;
  readonly adminReservePages: number;
  readonly userReservePages: number;

  constructor(
    mode: OvercommitMode,
    ratio: number,
    ramPages: () => number,
    swapPages: () => number,
    freeAtBoot: number,
  ) {
    this.mode = mode;
    this.ratio = ratio;
    this.#ramPages = ramPages;
    this.#swapPages = swapPages;
    const kb = freeAtBoot * 4;
    this.adminReservePages = Math.min(Math.floor(kb / 32), 8192) / 4;
    this.userReservePages = Math.min(Math.floor(kb / 32), 131072) / 4;
  }

  get never(): boolean {
    return this.mode === 2;
  }

  /** CommitLimit in pages: RAM × ratio / 100 + swap. */
  get limit(): number {
    return Math.floor((this.#ramPages() * this.ratio) / 100) + this.#swapPages();
  }

  charge(space: AddressSpace | null, pages: number): boolean {
    this.committed += pages;
    if (this.mode === 1) return true;
    if (this.mode === 0) {
      if (pages > this.#ramPages() + this.#swapPages()) {
        this.committed -= pages;
        return false;
      }
      return true;
    }
    let allowed = this.limit - Math.floor(this.adminReservePages);
    if (space !== null)
      allowed -= Math.min(Math.floor(space.totalVm / 32), Math.floor(this.userReservePages));
    if (this.committed < allowed) return true;
    this.committed -= pages;
    return false;
  }

  uncharge(pages: number): void {
    this.committed -= pages;
  }
}

/**
 * Fault injection for page allocations, after Linux's fail_page_alloc.
 *
 * Models: mm/fail_page_alloc.c `__should_fail_alloc_page` (the filters:
 * min-order, ignore-gfp-wait, ignore-gfp-highmem, never __GFP_NOFAIL) and
 * lib/fault-inject.c `should_fail_ex` (the per-task fail-nth counter, then
 * probability, interval, times and space), in Linux's order. The random
 * draw is core's seeded xoshiro128** in place of `get_random_u32_below`,
 * so a failing run replays from its seed.
 *
 * Simplifies: no task filter or stack-trace filter (there are no tasks at
 * this layer); "verbose" reports go to the allocator's warn hook.
 *
 * Neighbours: the allocator calls {@link FailPageAlloc.shouldFail} at the
 * top of every allocation (`prepare_alloc_pages`), after checking the order
 * and before touching any zone; a true answer makes the allocation return
 * failure without a "page allocation failure" warning, as in Linux.
 */
import { createRng, type Rng } from "@memstack/core";
import type { FailPageAllocOptions } from "./api.js";
import { __GFP_DIRECT_RECLAIM, __GFP_HIGHMEM, __GFP_NOFAIL } from "./gfp.js";
import { checkIntOption } from "./internal/check-option.js";

/** A fail_page_alloc fault attribute: decides which allocations fail on purpose. */
export class FailPageAlloc {
  /** Percent chance that an eligible allocation fails (0 disables all but fail-nth). */
  probability: number;
  /** Only every interval-th eligible allocation may fail. */
  interval: number;
  /** How many more failures to inject; -1 for no limit. */
  times: number;
  /** Pages to let through before failing (decremented by each allocation's size). */
  space: number;
  /** Allocations below this order never fail. */
  minOrder: number;
  /** Skip allocations that may sleep (__GFP_DIRECT_RECLAIM). */
  ignoreGfpReclaim: boolean;
  /** Skip allocations with __GFP_HIGHMEM. */
  ignoreGfpHighmem: boolean;
  /** Failures injected so far. */
  injected = 0;
  #failNth = 0;
  #count = 0;
  readonly #rng: Rng;

  /** @throws {UsageError} naming an option that is out of range. */
  constructor(options: FailPageAllocOptions = {}) {
    this.probability = check(options.probability ?? 0, "probability", 0, 100);
    this.interval = check(options.interval ?? 1, "interval", 1, 2 ** 31);
    this.times = options.times === undefined ? -1 : check(options.times, "times", -1, 2 ** 31);
    this.space = check(options.space ?? 0, "space", 0, 2 ** 31);
    this.minOrder = check(options.minOrder ?? 1, "minOrder", 0, 64);
    this.ignoreGfpReclaim = options.ignoreGfpReclaim ?? true;
    this.ignoreGfpHighmem = options.ignoreGfpHighmem ?? true;
    this.#rng = createRng(options.seed ?? 1);
  }

  /**
   * Makes the `n`-th eligible allocation from now fail (Linux's
   * /proc/self/fail-nth): `failNth(1)` fails the next one.
   *
   * @throws {UsageError} when `n` is not a positive integer.
   */
  failNth(n: number): void {
    this.#failNth = check(n, "n", 1, 2 ** 31);
  }

  /** The fail-nth countdown still pending (0 = none). */
  get pendingFailNth(): number {
    return this.#failNth;
  }

  /** Whether any failure can be injected (probability set or a fail-nth pending). */
  get armed(): boolean {
    return this.probability !== 0 || this.#failNth !== 0;
  }

  /** Whether to fail an allocation of `2^order` pages with `gfp`; counts and consumes as Linux does. */
  shouldFail(gfp: number, order: number): boolean {
    if (order < this.minOrder) return false;
    if (gfp & __GFP_NOFAIL) return false;
    if (this.ignoreGfpHighmem && gfp & __GFP_HIGHMEM) return false;
    if (this.ignoreGfpReclaim && gfp & __GFP_DIRECT_RECLAIM) return false;
    return this.#shouldFailEx(2 ** order);
  }

  #shouldFailEx(size: number): boolean {
    if (this.#failNth > 0) {
      this.#failNth--;
      if (this.#failNth === 0) return this.#fail();
      return false;
    }
    if (this.probability === 0) return false;
    if (this.times === 0) return false;
    if (this.space > size) {
      this.space -= size;
      return false;
    }
    if (this.interval > 1) {
      this.#count++;
      if (this.#count % this.interval !== 0) return false;
    }
    if (this.probability <= this.#rng.nextInt(100)) return false;
    return this.#fail();
  }

  #fail(): boolean {
    if (this.times !== -1 && this.times !== 0) this.times--;
    this.injected++;
    return true;
  }
}

function check(value: number, name: string, min: number, max: number): number {
  return checkIntOption("FailPageAlloc", name, value, min, max);
}

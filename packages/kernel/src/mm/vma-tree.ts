/**
 * The set of VMAs of one address space, ordered by address, with the
 * queries the kernel needs in logarithmic time: the VMA at or after an
 * address, neighbours, and the highest free gap of a given size below a
 * limit (for top-down mmap placement).
 *
 * Models: Linux's maple tree of VMAs (mm/mmap.c, lib/maple_tree.c), whose
 * gap tracking makes `unmapped_area_topdown` logarithmic. Simplifies: a
 * treap (a binary search tree balanced by random priorities, here drawn from
 * a seeded generator so runs replay) instead of a B-tree; same bounds.
 *
 * Augmentation: each node keeps `gap`, the free space between the end of
 * its in-order predecessor (or address 0) and its own start, and `maxGap`,
 * the largest `gap` in its subtree. The gap search descends only into
 * subtrees whose `maxGap` could hold the request.
 *
 *          [0x5000-0x6000) gap 0x1000, maxGap 0x3000
 *           /                         \
 *   [0x1000-0x4000)               [0x9000-0xa000)
 *   gap 0x1000                    gap 0x3000   (0x9000 - 0x6000)
 *
 * Invariants (see `check()`): nodes are disjoint and sorted, every `gap`
 * equals start minus the predecessor's end, every `maxGap` is the maximum
 * over its subtree, and every parent's priority is at least its children's.
 */
import { CorruptionError } from "@memstack/core";

const PKG = "@memstack/kernel";

/** The tree fields of a node; a VMA carries them. */
export interface TreeNode {
  /** First address covered. */
  start: number;
  /** One past the last address covered. */
  end: number;
  /** @internal */ left: this | null;
  /** @internal */ right: this | null;
  /** @internal */ prio: number;
  /** @internal Free bytes between the predecessor's end (or 0) and start. */
  gap: number;
  /** @internal Largest gap in this subtree. */
  maxGap: number;
  /** @internal The node before this one in address order (kept on insert and remove). */
  pred?: this | null;
  /** @internal The node after this one in address order. */
  succ?: this | null;
}

/** A set of disjoint ranges ordered by address, with gap search. */
export class VmaTree<T extends TreeNode> {
  #root: T | null = null;
  #size = 0;
  #seed: number;

  constructor(seed = 0x9e3779b9) {
    this.#seed = seed >>> 0 || 1;
  }

  /** Number of nodes. */
  get size(): number {
    return this.#size;
  }

  #nextPrio(): number {
    // xorshift32: only the order of priorities matters.
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x >>> 0;
    return this.#seed;
  }

  /** The node containing `addr`, or null. */
  lookup(addr: number): T | null {
    let t = this.#root;
    while (t !== null) {
      if (addr < t.start) t = t.left;
      else if (addr >= t.end) t = t.right;
      else return t;
    }
    return null;
  }

  /** The first node whose end is above `addr` (Linux's find_vma), or null. */
  findAfter(addr: number): T | null {
    let t = this.#root;
    let best: T | null = null;
    while (t !== null) {
      if (t.end > addr) {
        best = t;
        t = t.left;
      } else {
        t = t.right;
      }
    }
    return best;
  }

  /** The last node whose start is below `addr`, or null. */
  findBefore(addr: number): T | null {
    let t = this.#root;
    let best: T | null = null;
    while (t !== null) {
      if (t.start < addr) {
        best = t;
        t = t.right;
      } else {
        t = t.left;
      }
    }
    return best;
  }

  /** The node after `node` (in the tree) in address order, or null: O(1), from its link. */
  next(node: T): T | null {
    return node.succ ?? null;
  }

  /** The node before `node` (in the tree) in address order, or null: O(1). */
  prev(node: T): T | null {
    return node.pred ?? null;
  }

  /** The lowest node, or null. */
  first(): T | null {
    let t = this.#root;
    if (t === null) return null;
    while (t.left !== null) t = t.left;
    return t;
  }

  /** The highest node, or null. */
  last(): T | null {
    let t = this.#root;
    if (t === null) return null;
    while (t.right !== null) t = t.right;
    return t;
  }

  /**
   * Every node overlapping [start, end), in address order.
   *
   * @param first - `findAfter(start)`, when the caller already has it.
   */
  overlapping(start: number, end: number, first: T | null = this.findAfter(start)): T[] {
    const out: T[] = [];
    for (let n = first; n !== null && n.start < end; n = this.next(n)) out.push(n);
    return out;
  }

  /** Calls `fn` on every node in address order. */
  forEach(fn: (node: T) => void): void {
    const walk = (t: T | null): void => {
      if (t === null) return;
      walk(t.left);
      fn(t);
      walk(t.right);
    };
    walk(this.#root);
  }

  /** All nodes in address order. */
  toArray(): T[] {
    const out: T[] = [];
    this.forEach((n) => {
      out.push(n);
    });
    return out;
  }

  #update(t: T): void {
    let m = t.gap;
    if (t.left !== null && t.left.maxGap > m) m = t.left.maxGap;
    if (t.right !== null && t.right.maxGap > m) m = t.right.maxGap;
    t.maxGap = m;
  }

  // Recomputes maxGap along the path from the root to the node starting at `key`.
  #touch(t: T | null, key: number): void {
    if (t === null) return;
    if (key < t.start) this.#touch(t.left, key);
    else if (key > t.start) this.#touch(t.right, key);
    this.#update(t);
  }

  #insertAt(t: T | null, x: T): T {
    if (t === null) return x;
    if (x.start < t.start) {
      const l = this.#insertAt(t.left, x);
      t.left = l;
      if (l.prio > t.prio) {
        t.left = l.right;
        l.right = t;
        this.#update(t);
        this.#update(l);
        return l;
      }
    } else {
      const r = this.#insertAt(t.right, x);
      t.right = r;
      if (r.prio > t.prio) {
        t.right = r.left;
        r.left = t;
        this.#update(t);
        this.#update(r);
        return r;
      }
    }
    this.#update(t);
    return t;
  }

  #join(a: T | null, b: T | null): T | null {
    if (a === null) return b;
    if (b === null) return a;
    if (a.prio > b.prio) {
      a.right = this.#join(a.right, b);
      this.#update(a);
      return a;
    }
    b.left = this.#join(a, b.left);
    this.#update(b);
    return b;
  }

  // Removes `x` from the subtree at `t`; `succ` is x's successor, whose
  // gap the caller has already set. The unwinding recomputes every node on
  // the path to x; when x had a right subtree, its successor is that
  // subtree's lowest node, below the path: the join's result is walked down
  // to it.
  #removeAt(t: T | null, x: T, succ: T | null): T | null {
    if (t === null) return null;
    if (t === x) {
      const joined = this.#join(t.left, t.right);
      if (t.right !== null && succ !== null) this.#touch(joined, succ.start);
      return joined;
    }
    if (x.start < t.start) t.left = this.#removeAt(t.left, x, succ);
    else t.right = this.#removeAt(t.right, x, succ);
    this.#update(t);
    return t;
  }

  /**
   * Inserts a node whose range is free. The caller guarantees it: the tree
   * checks disjointness only in `check()`.
   *
   * @param next - the first node above x (`findAfter(x.start)`), when the
   *   caller has it: the insert then makes one descent instead of two.
   */
  insert(x: T, next?: T | null): void {
    // The range is free, so the node before the successor is the predecessor.
    const succ = next === undefined ? this.findAfter(x.start) : next;
    const pred = succ !== null ? (succ.pred ?? null) : this.last();
    x.left = null;
    x.right = null;
    x.prio = this.#nextPrio();
    x.gap = x.start - (pred === null ? 0 : pred.end);
    x.maxGap = x.gap;
    // The successor's gap shrinks to the space above x. A new leaf's
    // neighbours in address order are both on its search path, which the
    // insertion recomputes bottom-up (a rotation recomputes the node it
    // lowers), so the successor's subtree maximum comes out right.
    if (succ !== null) succ.gap = succ.start - x.end;
    this.#root = this.#insertAt(this.#root, x);
    this.#size++;
    x.pred = pred;
    x.succ = succ;
    if (pred !== null) pred.succ = x;
    if (succ !== null) succ.pred = x;
  }

  /** Removes a node that is in the tree. */
  remove(x: T): void {
    const pred = this.prev(x);
    const succ = this.next(x);
    if (succ !== null) succ.gap = succ.start - (pred === null ? 0 : pred.end);
    this.#root = this.#removeAt(this.#root, x, succ);
    this.#size--;
    x.left = null;
    x.right = null;
    x.pred = null;
    x.succ = null;
    if (pred !== null) pred.succ = succ;
    if (succ !== null) succ.pred = pred;
  }

  /**
   * Moves the bounds of a node in place. The new range must keep the node
   * between its neighbours (no overlap, same order).
   */
  adjust(x: T, start: number, end: number): void {
    const pred = this.prev(x);
    const succ = this.next(x);
    // Rekeying in place keeps the order, so the path to the node is
    // unchanged; a gap that did not change needs no pass up its path.
    const gap = start - (pred === null ? 0 : pred.end);
    x.start = start;
    x.end = end;
    if (gap !== x.gap) {
      x.gap = gap;
      this.#touch(this.#root, start);
    }
    if (succ !== null && succ.start - end !== succ.gap) {
      succ.gap = succ.start - end;
      this.#touch(this.#root, succ.start);
    }
  }

  /**
   * The top of the highest free range of at least `length` bytes inside
   * [low, high), or -1 when there is none. The range found is
   * [top - length, top) at its highest.
   */
  highestGap(length: number, low: number, high: number): number {
    if (high - low < length) return -1;
    const last = this.last();
    // The space above the highest node.
    const above = last === null ? low : Math.max(last.end, low);
    if (high - above >= length) return high;
    return this.#searchGap(this.#root, length, low, high);
  }

  #searchGap(t: T | null, length: number, low: number, high: number): number {
    if (t === null || t.maxGap < length) return -1;
    // Nodes right of t start above t.start: if t.start >= high their gaps
    // begin at or above t.end > high and cannot help.
    if (t.start < high) {
      const r = this.#searchGap(t.right, length, low, high);
      if (r >= 0) return r;
    }
    const gapStart = Math.max(t.start - t.gap, low);
    const gapEnd = Math.min(t.start, high);
    if (gapEnd - gapStart >= length) return gapEnd;
    if (t.start - t.gap <= low) return -1; // everything to the left lies below low
    return this.#searchGap(t.left, length, low, high);
  }

  /**
   * The start of the lowest free range of at least `length` bytes inside
   * [low, high), or -1 when there is none (Linux's bottom-up unmapped_area).
   */
  lowestGap(length: number, low: number, high: number): number {
    if (high - low < length) return -1;
    const r = this.#searchLow(this.#root, length, low, high);
    if (r >= 0) return r;
    const last = this.last();
    const above = last === null ? low : Math.max(last.end, low);
    return high - above >= length ? above : -1;
  }

  #searchLow(t: T | null, length: number, low: number, high: number): number {
    if (t === null || t.maxGap < length) return -1;
    // Gaps in the left subtree all lie below t's predecessor's end.
    if (t.start - t.gap > low) {
      const l = this.#searchLow(t.left, length, low, high);
      if (l >= 0) return l;
    }
    const gapStart = Math.max(t.start - t.gap, low);
    const gapEnd = Math.min(t.start, high);
    if (gapEnd - gapStart >= length) return gapStart;
    if (t.end >= high) return -1; // everything to the right lies above high
    return this.#searchLow(t.right, length, low, high);
  }

  /**
   * Verifies order, disjointness, gaps, subtree maxima and heap order.
   *
   * @throws {CorruptionError} at the first violation.
   */
  check(): void {
    let prevEnd = 0;
    let count = 0;
    const walk = (t: T | null, parentPrio: number): number => {
      if (t === null) return -1;
      if (t.prio > parentPrio)
        throw new CorruptionError(PKG, `VmaTree: heap order broken at 0x${t.start.toString(16)}`);
      const l = walk(t.left, t.prio);
      if (t.start >= t.end)
        throw new CorruptionError(PKG, `VmaTree: empty node at 0x${t.start.toString(16)}`);
      if (t.start < prevEnd)
        throw new CorruptionError(PKG, `VmaTree: nodes overlap or are unsorted at 0x${t.start.toString(16)}`);
      if (t.gap !== t.start - prevEnd) {
        throw new CorruptionError(
          PKG,
          `VmaTree: gap of 0x${t.start.toString(16)} is ${t.gap}, expected ${t.start - prevEnd}`,
        );
      }
      prevEnd = t.end;
      count++;
      const r = walk(t.right, t.prio);
      const m = Math.max(t.gap, l, r);
      if (t.maxGap !== m)
        throw new CorruptionError(
          PKG,
          `VmaTree: maxGap of 0x${t.start.toString(16)} is ${t.maxGap}, expected ${m}`,
        );
      return m;
    };
    walk(this.#root, Number.POSITIVE_INFINITY);
    // The neighbour links follow address order both ways.
    let before: T | null = null;
    this.forEach((n) => {
      if ((n.pred ?? null) !== before || (before !== null && (before.succ ?? null) !== n)) {
        throw new CorruptionError(PKG, `VmaTree: neighbour links broken at 0x${n.start.toString(16)}`);
      }
      before = n;
    });
    if (before !== null && ((before as T).succ ?? null) !== null) {
      throw new CorruptionError(PKG, "VmaTree: the last node has a successor");
    }
    if (count !== this.#size)
      throw new CorruptionError(PKG, `VmaTree: ${count} nodes but size ${this.#size}`);
  }
}

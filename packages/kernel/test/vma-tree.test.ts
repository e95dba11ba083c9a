import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type TreeNode, VmaTree } from "../src/mm/vma-tree.js";

type Node = TreeNode & { id: number };
const node = (start: number, end: number, id = 0): Node =>
  ({ start, end, id, left: null, right: null, prio: 0, gap: 0, maxGap: 0 }) as Node;

// The reference: the same query by a linear scan of sorted ranges.
function modelHighestGap(ranges: [number, number][], length: number, low: number, high: number): number {
  let best = -1;
  let prevEnd = 0;
  const edges = [...ranges, [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY] as [number, number]];
  for (const [s, e] of edges) {
    const gs = Math.max(prevEnd, low);
    const ge = Math.min(s, high);
    if (ge - gs >= length) best = Math.max(best, ge);
    prevEnd = e;
  }
  return best;
}

function modelLowestGap(ranges: [number, number][], length: number, low: number, high: number): number {
  let prevEnd = 0;
  const edges = [...ranges, [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY] as [number, number]];
  for (const [s, e] of edges) {
    const gs = Math.max(prevEnd, low);
    const ge = Math.min(s, high);
    if (ge - gs >= length) return gs;
    prevEnd = e;
  }
  return -1;
}

describe("VmaTree", () => {
  it("finds nodes, neighbours and the highest gap", () => {
    const t = new VmaTree<Node>(1);
    t.insert(node(0x5000, 0x6000, 1));
    t.insert(node(0x1000, 0x4000, 2));
    t.insert(node(0x9000, 0xa000, 3));
    t.check();
    expect(t.lookup(0x1fff)?.id).toBe(2);
    expect(t.lookup(0x4000)).toBeNull();
    expect(t.findAfter(0x4000)?.id).toBe(1);
    expect(t.findAfter(0xa000)).toBeNull();
    expect(t.prev(t.lookup(0x9000)!)?.id).toBe(1);
    expect(t.highestGap(0x1000, 0, 0x10000)).toBe(0x10000);
    expect(t.highestGap(0x3000, 0, 0x9000)).toBe(0x9000);
    expect(t.highestGap(0x3001, 0, 0x9000)).toBe(-1);
    expect(t.highestGap(0x1000, 0, 0x5000)).toBe(0x5000);
    expect(t.highestGap(0x1000, 0x2000, 0x4800)).toBe(-1);
    expect(t.highestGap(0x800, 0x4000, 0x4800)).toBe(0x4800);
    t.adjust(t.lookup(0x5000)!, 0x4800, 0x6800);
    t.check();
    t.remove(t.lookup(0x1000)!);
    t.check();
    expect(t.toArray().map((n) => n.id)).toEqual([1, 3]);
  });

  it("agrees with a sorted-array model under random inserts, removes and adjusts", () => {
    type S = { t: VmaTree<Node>; ranges: [number, number][] };
    const page = 0x1000;
    checkSequences<S>({
      setup: () => ({ t: new VmaTree<Node>(7), ranges: [] }),
      check: (s) => {
        s.t.check();
        expect(s.t.toArray().map((n) => [n.start, n.end])).toEqual(s.ranges);
      },
      numRuns: 150,
      maxSteps: 80,
      steps: fc.oneof(
        fc
          .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 8 }), fc.boolean())
          .map(([p, n, hint]) =>
            step(`insert(${p}p, ${n}p${hint ? ", next" : ""})`, (s: S) => {
              const start = p * page;
              const end = start + n * page;
              if (s.ranges.some(([a, b]) => a < end && start < b)) return;
              // With `hint`, the caller names the next node, found in the model.
              const above = s.ranges.find(([a]) => a >= end);
              if (hint) s.t.insert(node(start, end), above === undefined ? null : s.t.lookup(above[0]));
              else s.t.insert(node(start, end));
              s.ranges.push([start, end]);
              s.ranges.sort((x, y) => x[0] - y[0]);
            }),
          ),
        fc.nat().map((k) =>
          step(`remove(#${k})`, (s: S) => {
            if (s.ranges.length === 0) return;
            const [start] = s.ranges.splice(k % s.ranges.length, 1)[0]!;
            s.t.remove(s.t.lookup(start)!);
          }),
        ),
        fc
          .tuple(fc.nat(), fc.integer({ min: -2, max: 2 }), fc.integer({ min: -2, max: 2 }))
          .map(([k, ds, de]) =>
            step(`adjust(#${k}, ${ds}p, ${de}p)`, (s: S) => {
              if (s.ranges.length === 0) return;
              const i = k % s.ranges.length;
              const [a, b] = s.ranges[i]!;
              const start = a + ds * page;
              const end = b + de * page;
              const lo = i > 0 ? s.ranges[i - 1]![1] : 0;
              const hi = i + 1 < s.ranges.length ? s.ranges[i + 1]![0] : Number.POSITIVE_INFINITY;
              if (start < lo || end > hi || start >= end) return;
              s.t.adjust(s.t.lookup(a)!, start, end);
              s.ranges[i] = [start, end];
            }),
          ),
        fc
          .tuple(
            fc.integer({ min: 1, max: 20 }),
            fc.integer({ min: 0, max: 200 }),
            fc.integer({ min: 0, max: 220 }),
          )
          .map(([n, lo, hi]) =>
            step(`highestGap(${n}p, ${lo}p, ${hi}p)`, (s: S) => {
              expect(s.t.highestGap(n * page, lo * page, hi * page)).toBe(
                modelHighestGap(s.ranges, n * page, lo * page, hi * page),
              );
              expect(s.t.lowestGap(n * page, lo * page, hi * page)).toBe(
                modelLowestGap(s.ranges, n * page, lo * page, hi * page),
              );
            }),
          ),
      ),
    });
  });

  it("stays logarithmic: 100 000 nodes packed under a top, each placement found at once", () => {
    const t = new VmaTree<Node>(3);
    let top = 2 ** 40;
    for (let i = 0; i < 100_000; i++) {
      const at = t.highestGap(0x1000, 0x10000, top);
      expect(at).toBe(top);
      // Leave a one-page hole every other node so the gaps are many and small.
      t.insert(node(at - 0x1000, at));
      top = at - (i % 2 === 0 ? 0x2000 : 0x1000);
    }
    expect(t.size).toBe(100_000);
    t.check();
  });
});

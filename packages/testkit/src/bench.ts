/**
 * Helpers for the packages' benchmarks (`bench/`), kept apart from the test
 * helpers so that a benchmark does not load vitest.
 */

/** The median of `xs` (the upper one of an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/**
 * The ratio of `b`'s time to `a`'s: the median, over `pairs` alternations,
 * of `block` calls of `b` against the `block` calls of `a` next to them,
 * the order swapped every other time. Blocks a few milliseconds long, side
 * by side, see the same machine speed; on a VM whose speed changes by a
 * third from one second to the next, their ratio is steadier than the ratio
 * of two medians taken seconds apart.
 */
export function pairedRatio(a: () => unknown, b: () => unknown, block = 2000, pairs = 41): number {
  const ratios: number[] = [];
  const time = (fn: () => unknown): number => {
    const t = performance.now();
    for (let i = 0; i < block; i++) fn();
    return performance.now() - t;
  };
  for (let k = 0; k < pairs; k++) {
    if (k % 2 === 0) {
      const ta = time(a);
      ratios.push(time(b) / ta);
    } else {
      const tb = time(b);
      ratios.push(tb / time(a));
    }
  }
  return median(ratios);
}

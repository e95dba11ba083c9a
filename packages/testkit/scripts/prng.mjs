// A small seeded generator (mulberry32) for the fixture generators of the
// packages' tests (kernel's generate-random.mjs, libc's generate.mjs): the
// same seed gives the same numbers on every machine, so a generated fixture
// can be written again, byte for byte, before it is re-recorded.

/** Numbers in [0, 1) from `seed`, the same sequence every time. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `prng(seed)` with the two draws every generator makes of it. */
export function draws(seed) {
  const random = prng(seed);
  /** An integer in [lo, hi]. */
  const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  /** One element of `xs`. */
  const pick = (xs) => xs[int(0, xs.length - 1)];
  return { random, int, pick };
}

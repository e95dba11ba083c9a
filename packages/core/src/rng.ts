/**
 * The seeded pseudo-random generator behind every random choice in memstack
 * (ASLR offsets, random workloads, fault injection), so that any run can be
 * replayed from its seed.
 *
 * Algorithm: xoshiro128** (Blackman and Vigna, 2018), 128 bits of state in
 * four 32-bit words, period 2^128 - 1, seeded by running splitmix32 over the
 * 32-bit seed so that nearby seeds give unrelated streams. All arithmetic is
 * 32-bit (`Math.imul`, `>>> 0`), so the stream is the same on every engine.
 *
 *     result = rotl(s1 * 5, 7) * 9
 *     t = s1 << 9; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11)
 */
import { UsageError } from "./errors.js";

const PKG = "@memstack/core";

/** A seeded pseudo-random generator; see {@link createRng}. */
export interface Rng {
  /** The seed this generator was created with. */
  readonly seed: number;
  /** The next unsigned 32-bit integer, in [0, 2^32). */
  nextU32(): number;
  /** The next float in [0, 1), with 32 bits of randomness. */
  nextFloat(): number;
  /**
   * The next integer in [0, bound), unbiased (rejection sampling).
   *
   * @throws {UsageError} when `bound` is not an integer in [1, 2^32].
   */
  nextInt(bound: number): number;
  /** True with probability `p` (0 ≤ p ≤ 1). */
  chance(p: number): boolean;
  /** A copy in the same state: both produce the same stream from here on. */
  clone(): Rng;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

class Xoshiro128 implements Rng {
  readonly seed: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, state?: readonly [number, number, number, number]) {
    this.seed = seed;
    if (state) {
      [this.s0, this.s1, this.s2, this.s3] = state;
      return;
    }
    // splitmix32 spreads one 32-bit seed over the four state words.
    let z = seed >>> 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) | 0;
      let t = z ^ (z >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > 4294967296) {
      throw new UsageError(PKG, `Rng.nextInt: bound must be an integer in [1, 2^32], got ${bound}`, "bound");
    }
    // Reject the top sliver of the 32-bit range that would bias small results.
    const limit = 4294967296 - (4294967296 % bound);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % bound;
    }
  }

  chance(p: number): boolean {
    return this.nextFloat() < p;
  }

  clone(): Rng {
    return new Xoshiro128(this.seed, [this.s0, this.s1, this.s2, this.s3]);
  }
}

/**
 * Creates a seeded generator (xoshiro128**). The same seed gives the same
 * stream on every run and engine.
 *
 * @param seed - any integer; only its low 32 bits matter. @defaultValue 1
 * @throws {UsageError} when `seed` is not an integer.
 */
export function createRng(seed = 1): Rng {
  if (!Number.isInteger(seed)) {
    throw new UsageError(PKG, `createRng: seed must be an integer, got ${seed}`, "seed");
  }
  return new Xoshiro128(seed);
}

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createRng, UsageError } from "../src/index.js";

// Recorded from the C reference in fixtures/rng (bash fixtures/rng/record.sh).
const reference: Record<string, number[]> = JSON.parse(
  readFileSync(new URL("./fixtures/rng/xoshiro128ss.json", import.meta.url), "utf8"),
);

describe("createRng", () => {
  it("produces the C reference stream for each recorded seed", () => {
    for (const [seed, stream] of Object.entries(reference)) {
      const rng = createRng(Number(seed));
      expect(stream.map(() => rng.nextU32())).toEqual(stream);
    }
  });

  it("reduces a seed to its low 32 bits", () => {
    const a = createRng(-1);
    const b = createRng(0xffffffff);
    expect(a.nextU32()).toBe(b.nextU32());
  });

  it("replays from a clone", () => {
    const rng = createRng(7);
    rng.nextU32();
    const copy = rng.clone();
    const xs = [rng.nextU32(), rng.nextU32(), rng.nextFloat()];
    expect([copy.nextU32(), copy.nextU32(), copy.nextFloat()]).toEqual(xs);
    expect(copy.seed).toBe(7);
  });

  it("draws unbiased integers below a bound and floats in [0, 1)", () => {
    const rng = createRng(3);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[rng.nextInt(6)]++;
    // Each face is drawn 10000 times on average; a spread past 5 sigma (~450) would be a bug.
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(450);
    for (let i = 0; i < 1000; i++) {
      const f = rng.nextFloat();
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
    }
    expect(rng.nextInt(1)).toBe(0);
    expect(rng.nextInt(2 ** 32)).toBeLessThan(2 ** 32);
  });

  it("refuses bad seeds and bounds, naming them", () => {
    expect(() => createRng(1.5)).toThrow(UsageError);
    const rng = createRng();
    for (const b of [0, -1, 2.5, 2 ** 32 + 1]) expect(() => rng.nextInt(b)).toThrow(/bound/);
  });
});

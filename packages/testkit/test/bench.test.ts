import { describe, expect, it } from "vitest";
import { median, pairedRatio } from "../src/bench.js";

describe("bench helpers", () => {
  it("median takes the middle value, the upper one of an even count", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(3);
    expect(median([])).toBeNaN();
  });

  it("pairedRatio calls each function block × pairs times and returns a positive ratio", () => {
    let a = 0;
    let b = 0;
    const r = pairedRatio(
      () => a++,
      () => b++,
      10,
      7,
    );
    expect(a).toBe(70);
    expect(b).toBe(70);
    expect(r).toBeGreaterThan(0);
  });
});

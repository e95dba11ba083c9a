import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkSequences, step } from "../src/index.js";

describe("checkSequences", () => {
  it("runs check after every step and reports the failing step, the seed and the shrunk sequence", () => {
    let checks = 0;
    let steps = 0;
    expect(() =>
      checkSequences<{ n: number }>({
        setup: () => ({ n: 0 }),
        steps: fc.integer({ min: 1, max: 5 }).map((k) =>
          step(`add(${k})`, (s: { n: number }) => {
            steps++;
            s.n += k;
          }),
        ),
        check: (s) => {
          checks++;
          if (s.n > 12) throw new Error(`n = ${s.n} passed 12`);
        },
        seed: 42,
        numRuns: 200,
      }),
    ).toThrow(
      /seed: 42[\s\S]*Counterexample: \[\[add\(\d\),[\s\S]*step \d+ \(add\(\d\)\) failed: n = 1[3-7] passed 12/,
    );
    expect(checks).toBeGreaterThan(steps);
  });

  it("passes when every check holds", () => {
    checkSequences<number[]>({
      setup: () => [],
      steps: fc.nat().map((k) => step(`push(${k})`, (s: number[]) => s.push(k))),
      check: (s) => expect(s.every((x) => x >= 0)).toBe(true),
      numRuns: 20,
    });
  });
});

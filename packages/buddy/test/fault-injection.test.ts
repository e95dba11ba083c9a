// fail_page_alloc: fail-nth, probability with a seed, interval, times,
// space, and Linux's filters (min-order 1, ignore-gfp-wait).
import { describe, expect, it } from "vitest";
import {
  __GFP_NOFAIL,
  createBuddyAllocator,
  FailPageAlloc,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOWAIT,
} from "../src/index.js";

function buddy(fault = {}) {
  const warnings: string[] = [];
  const b = createBuddyAllocator({
    frameCount: 256,
    maxOrder: 4,
    minFreeKbytes: 0,
    faultInjection: { minOrder: 0, ignoreGfpReclaim: false, ...fault },
    hooks: { warn: (m) => warnings.push(m) },
  });
  return { b, warnings };
}

describe("fail_page_alloc", () => {
  it("fails exactly the n-th allocation with failNth, without a failure warning", () => {
    const { b, warnings } = buddy();
    b.faultInjection.failNth(3);
    const got = [0, 1, 2, 3].map(() => b.allocFrames(0));
    expect(got.map((p) => p === null)).toEqual([false, false, true, false]);
    expect(b.stats()).toMatchObject({ injectedFailures: 1, failures: 1 });
    expect(warnings).toEqual([]);
    b.check();
  });

  it("Linux's defaults spare order-0 and sleeping allocations", () => {
    const f = new FailPageAlloc({ probability: 100 });
    expect(f.shouldFail(GFP_KERNEL, 3)).toBe(false); // ignore-gfp-wait
    expect(f.shouldFail(GFP_ATOMIC, 0)).toBe(false); // min-order 1
    expect(f.shouldFail(GFP_ATOMIC, 1)).toBe(true);
    expect(f.shouldFail(GFP_ATOMIC | __GFP_NOFAIL, 1)).toBe(false);
  });

  it("probability draws come from the seed, so a run replays", () => {
    const run = (seed: number) => {
      const { b } = buddy({ probability: 30, seed });
      return Array.from({ length: 40 }, () => (b.allocFrames(0) === null ? 1 : 0)).join("");
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
    const fails = run(7)
      .split("")
      .filter((c) => c === "1").length;
    expect(fails).toBeGreaterThan(3);
    expect(fails).toBeLessThan(25);
  });

  it("interval, times and space", () => {
    const f = new FailPageAlloc({
      probability: 100,
      interval: 3,
      times: 2,
      minOrder: 0,
      ignoreGfpReclaim: false,
    });
    expect(Array.from({ length: 10 }, () => f.shouldFail(GFP_NOWAIT, 0))).toEqual([
      false,
      false,
      true,
      false,
      false,
      true,
      false,
      false,
      false,
      false,
    ]);
    const g = new FailPageAlloc({ probability: 100, space: 5, minOrder: 0, ignoreGfpReclaim: false });
    // should_fail_ex passes while space > size: 5 > 4 lets the order-2 request
    // through (space 1 left); 1 > 1 is false, so the next one fails.
    expect([2, 0, 0, 0].map((o) => g.shouldFail(GFP_NOWAIT, o))).toEqual([false, true, true, true]);
  });
});

import { describe, expect, it } from "vitest";
import { FlatMemory, sbrk, UsageError } from "../src/index.js";

describe("sbrk over the ProgramBreak port", () => {
  it("returns the old break, queries with 0 and reports refusal as -1", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 20 });
    const start = sbrk(m, 0);
    expect(start).toBe(m.brkBase);
    expect(sbrk(m, 100)).toBe(start);
    expect(sbrk(m, 0)).toBe(start + 100);
    expect(sbrk(m, -100)).toBe(start + 100);
    // The kernel refuses a break below the start by returning the old one; glibc
    // only calls a break that ends *below* the request a failure, so this
    // "succeeds" without moving anything, exactly as glibc's sbrk does.
    expect(sbrk(m, -1)).toBe(start);
    expect(sbrk(m, 0)).toBe(start);
    expect(sbrk(m, 2 << 20)).toBe(-1);
    expect(sbrk(m, 0)).toBe(start);
    expect(() => sbrk(m, 0.5)).toThrow(UsageError);
    m.check();
  });
});

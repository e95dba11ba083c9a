/**
 * Byte-array comparison for property tests: `expect(a).toEqual(b)` walks a
 * typed array element by element through vitest's generic equality, far too
 * slowly to run after every step; this finds the first difference directly.
 */
import { expect } from "vitest";

/** Asserts that two byte arrays are equal, naming the first offset where they differ. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      expect.fail(
        `${what} differ first at offset 0x${i.toString(16)}: got ${actual[i]}, expected ${expected[i]}`,
      );
    }
  }
}

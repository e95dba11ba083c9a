import { describe, expect, it } from "vitest";
import { vmFixtureSetting } from "../src/index.js";

describe("vmFixtureSetting", () => {
  it("reads swap, protection keys and the zero page from a recorded script's name", () => {
    expect(vmFixtureSetting("mmap-basic.vm")).toEqual({ swap: false, executeOnly: true, zeroPage: true });
    expect(vmFixtureSetting("swap-random-1.vm")).toEqual({ swap: true, executeOnly: true, zeroPage: true });
    expect(vmFixtureSetting("exec-only.nopku.vm")).toEqual({
      swap: false,
      executeOnly: false,
      zeroPage: true,
    });
    expect(vmFixtureSetting("a.nozero.nopku.vm")).toEqual({
      swap: false,
      executeOnly: false,
      zeroPage: false,
    });
    // Only a whole dotted part counts: a name that merely contains the word does not.
    expect(vmFixtureSetting("nozero-thp-1.vm").zeroPage).toBe(true);
  });
});

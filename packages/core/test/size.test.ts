import { describe, expect, it } from "vitest";
import { formatSize, parseSize, UsageError } from "../src/index.js";

describe("parseSize", () => {
  it("reads decimal, hex and powers of 1024", () => {
    expect(parseSize("0")).toBe(0);
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("0x1000")).toBe(4096);
    expect(parseSize("64K")).toBe(65536);
    expect(parseSize("64k")).toBe(65536);
    expect(parseSize("512M")).toBe(512 * 2 ** 20);
    expect(parseSize("1G")).toBe(2 ** 30);
    expect(parseSize("1GiB")).toBe(2 ** 30);
    expect(parseSize("4T")).toBe(2 ** 42);
    expect(parseSize("7P")).toBe(7 * 2 ** 50);
    expect(parseSize("1.5K")).toBe(1536);
    expect(parseSize(" 2M ")).toBe(2 ** 21);
  });
  it("refuses what is not a whole number of bytes, naming text", () => {
    for (const bad of ["", "K", "-1", "1.3", "0x10K", "12Q", "1e3", "9P", "0.0001K"]) {
      expect(() => parseSize(bad), bad).toThrow(UsageError);
    }
    try {
      parseSize("lots");
    } catch (e) {
      expect((e as UsageError).argument).toBe("text");
      expect((e as Error).message).toMatch(/^\[@memstack\/core\] parseSize: "lots"/);
    }
  });
});

describe("formatSize", () => {
  it("uses the largest unit and round-trips exact multiples", () => {
    expect(formatSize(0)).toBe("0");
    expect(formatSize(1000)).toBe("1000");
    expect(formatSize(1024)).toBe("1K");
    expect(formatSize(1536)).toBe("1.5K");
    expect(formatSize(65536)).toBe("64K");
    expect(formatSize(3 * 2 ** 20)).toBe("3M");
    expect(formatSize(2 ** 32)).toBe("4G");
    expect(formatSize(2 ** 48)).toBe("256T");
    expect(formatSize(2 ** 53 - 1)).toBe("8P");
    for (const n of [4096, 2 ** 21, 2 ** 30, 5 * 2 ** 40]) expect(parseSize(formatSize(n))).toBe(n);
  });
  it("refuses negative and fractional byte counts", () => {
    expect(() => formatSize(-1)).toThrow(UsageError);
    expect(() => formatSize(0.5)).toThrow(UsageError);
  });
});

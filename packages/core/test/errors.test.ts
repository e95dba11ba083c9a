import { describe, expect, it } from "vitest";
import { CorruptionError, Fault, UsageError } from "../src/index.js";

describe("errors", () => {
  it("UsageError is a RangeError naming the package and argument", () => {
    const e = new UsageError("@memstack/buddy", "double free of pfn 0x1a3", "pfn");
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe("[@memstack/buddy] double free of pfn 0x1a3");
    expect(e.pkg).toBe("@memstack/buddy");
    expect(e.argument).toBe("pfn");
    expect(e.name).toBe("UsageError");
  });

  it("CorruptionError keeps the bare detail for exact abort messages", () => {
    const e = new CorruptionError("@memstack/libc", "free(): invalid pointer");
    expect(e.detail).toBe("free(): invalid pointer");
    expect(e.message).toBe("[@memstack/libc] free(): invalid pointer");
    expect(e).not.toBeInstanceOf(RangeError);
  });

  it("Fault carries address, access and reason", () => {
    const f = new Fault("@memstack/kernel", 0x7fff_0000_1000, "write", "not-permitted");
    expect(f.address).toBe(0x7fff_0000_1000);
    expect(f.access).toBe("write");
    expect(f.reason).toBe("not-permitted");
    expect(f.message).toBe("[@memstack/kernel] write of 0x7fff00001000 faulted: not-permitted");
  });
});

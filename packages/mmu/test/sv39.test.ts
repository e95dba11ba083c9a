import { PF_INSTRUCTION, PF_PRESENT, PF_RESERVED, PF_USER, PF_WRITE } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { createSv39Format } from "../src/index.js";
import { GiB, MiB, machine, P, RW_USER, V } from "./helpers.js";

// RISC-V privileged spec, Sv39 PTE: V R W X U G A D in bits 0-7, PPN in 10-53.
const BIT = { V: 1, R: 2, W: 4, X: 8, U: 16, G: 32, A: 64, D: 128 };
const BASE = 0x10_0000_0000;

describe("RISC-V Sv39 behind the same interface", () => {
  it("writes entries a person can decode by the spec, three levels deep", () => {
    const { mmu, space, ram } = machine({ format: createSv39Format() });
    const phys = 0x8020_1000;
    mmu.map(space, BASE, P(phys), 4096, 4096, { write: true, user: true, execute: false });
    const m = mmu.query(space, BASE)!;
    const lo = ram.readU32(P(m.pteAddress));
    const hi = ram.readU32(P(m.pteAddress + 4));
    expect(lo & 0xff).toBe(BIT.V | BIT.R | BIT.W | BIT.U);
    expect((lo >>> 10) + (hi & 0x3fffff) * 2 ** 22).toBe(phys / 4096);
    expect(mmu.walk(space, BASE, "read", "user").memoryRefs).toBe(3);
    // The root's entry for VPN[2] is a pointer: V only, no R/W/X.
    const root = mmu.rootOf(space);
    const top = ram.readU32(P(root + Math.floor(BASE / GiB) * 8));
    expect(top & 0xff).toBe(BIT.V);
    mmu.storeU8(V(BASE + 1), 5);
    expect(ram.readU32(P(m.pteAddress)) & (BIT.A | BIT.D)).toBe(BIT.A | BIT.D);
    expect(ram.readU8(P(phys + 1))).toBe(5);
    mmu.check();
  });

  it("has 39-bit canonical addresses, megapages and gigapages, and 16-bit ASIDs", () => {
    const { mmu, space, frames } = machine({ format: createSv39Format() });
    expect(mmu.isCanonical(2 ** 38 - 1)).toBe(true);
    expect(mmu.isCanonical(2 ** 38)).toBe(false);
    expect(mmu.translate(2 ** 38).source).toBe("non-canonical");
    expect(mmu.format.maxTag).toBe(65535);
    const big = frames.allocFrames(9)! * 4096;
    mmu.map(space, BASE, P(big), 2 * MiB, 2 * MiB, RW_USER);
    expect(mmu.walk(space, BASE + 12345, "read", "user")).toMatchObject({
      ok: true,
      memoryRefs: 2,
      pageSize: 2 * MiB,
    });
    mmu.map(space, 2 * GiB, P(GiB), GiB, GiB, RW_USER);
    expect(mmu.walk(space, 2 * GiB + 5, "write", "user")).toMatchObject({
      ok: true,
      memoryRefs: 1,
      pageSize: GiB,
    });
    mmu.check();
  });

  it("faults on reserved encodings: W without R, a misaligned megapage, reserved high bits", () => {
    const { mmu, space, ram, frame } = machine({ format: createSv39Format() });
    mmu.map(space, BASE, frame(), 4096, 4096, RW_USER);
    const pte = mmu.query(space, BASE)!.pteAddress;
    const lo = ram.readU32(P(pte));
    ram.writeU32(P(pte), (lo & ~BIT.R) >>> 0);
    expect(mmu.walk(space, BASE, "read", "user").errorCode).toBe(PF_PRESENT | PF_RESERVED | PF_USER);
    ram.writeU32(P(pte), lo);
    ram.writeU32(P(pte + 4), 1 << 22); // bit 54
    expect(mmu.walk(space, BASE, "read", "user").errorCode).toBe(PF_PRESENT | PF_RESERVED | PF_USER);
    ram.writeU32(P(pte + 4), 0);
    expect(mmu.walk(space, BASE, "read", "user").ok).toBe(true);
    // A megapage whose PPN[0] is not zero.
    mmu.map(space, BASE + 4 * MiB, P(2 * MiB), 2 * MiB, 2 * MiB, RW_USER);
    const mega = mmu.query(space, BASE + 4 * MiB)!.pteAddress;
    const mlo = ram.readU32(P(mega));
    ram.writeU32(P(mega), (mlo | (1 << 10)) >>> 0);
    expect(mmu.walk(space, BASE + 4 * MiB, "read", "supervisor").errorCode).toBe(PF_PRESENT | PF_RESERVED);
    ram.writeU32(P(mega), mlo);
    mmu.check();
  });

  it("keeps S mode off U pages except loads and stores with SUM, and never executes them", () => {
    const withSum = machine({ format: createSv39Format({ sum: true }) });
    const without = machine({ format: createSv39Format({ sum: false }) });
    for (const { mmu, space, frame } of [withSum, without]) {
      mmu.map(space, BASE, frame(), 4096, 4096, { write: true, user: true, execute: true });
      mmu.privilege = "supervisor";
    }
    expect(withSum.mmu.translate(BASE, "write").errorCode).toBe(-1);
    expect(withSum.mmu.translate(BASE, "execute").errorCode).toBe(PF_PRESENT | PF_INSTRUCTION);
    expect(without.mmu.translate(BASE, "read").errorCode).toBe(PF_PRESENT);
    expect(without.mmu.translate(BASE, "write").errorCode).toBe(PF_PRESENT | PF_WRITE);
    withSum.mmu.check();
    without.mmu.check();
  });
});

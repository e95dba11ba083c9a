import type { MemoryManagementUnit, PhysAddr, VirtAddr, VirtualMemory } from "@memstack/core";
import { describe, expectTypeOf, it } from "vitest";
import type { Mmu } from "../src/index.js";

describe("types", () => {
  it("Mmu is a MemoryManagementUnit and so a VirtualMemory", () => {
    expectTypeOf<Mmu>().toMatchTypeOf<MemoryManagementUnit>();
    expectTypeOf<Mmu>().toMatchTypeOf<VirtualMemory>();
  });

  it("takes a PhysAddr, not a VirtAddr, for the frame of a mapping", () => {
    expectTypeOf<Mmu["map"]>().parameter(2).toEqualTypeOf<PhysAddr>();
    expectTypeOf<VirtAddr>().not.toMatchTypeOf<PhysAddr>();
  });
});

import { describe, expectTypeOf, it } from "vitest";
import {
  type Pfn,
  type PhysAddr,
  type PhysicalMemory,
  pfn,
  physAddr,
  type VirtAddr,
  type VirtualMemory,
  virtAddr,
} from "../src/index.js";

describe("branded address types", () => {
  it("keeps Pfn, PhysAddr and VirtAddr apart", () => {
    expectTypeOf(pfn(1)).not.toEqualTypeOf<VirtAddr>();
    expectTypeOf<Pfn>().not.toMatchTypeOf<VirtAddr>();
    expectTypeOf<Pfn>().not.toMatchTypeOf<PhysAddr>();
    expectTypeOf<PhysAddr>().not.toMatchTypeOf<VirtAddr>();
    expectTypeOf<VirtAddr>().toMatchTypeOf<number>();
    expectTypeOf<number>().not.toMatchTypeOf<Pfn>();
  });

  it("will not pass a Pfn where a VirtAddr is expected", () => {
    const load = (m: VirtualMemory) => m.loadU8;
    expectTypeOf(load).returns.parameter(0).toEqualTypeOf<VirtAddr>();
    expectTypeOf(virtAddr(0)).toEqualTypeOf<VirtAddr>();
    const misuse = (vm: VirtualMemory, ram: PhysicalMemory) => {
      // @ts-expect-error a Pfn is not a VirtAddr
      vm.loadU8(pfn(1));
      // @ts-expect-error a VirtAddr is not a PhysAddr
      ram.readU8(virtAddr(1));
      // @ts-expect-error a plain number is not a PhysAddr
      ram.readU8(4096);
    };
    expectTypeOf(misuse).toBeFunction();
    expectTypeOf(physAddr(1)).toEqualTypeOf<PhysAddr>();
  });
});

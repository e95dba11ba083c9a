import { describeVirtualMemory } from "@memstack/testkit";
import { createSv39Format } from "../src/index.js";
import { machine, RW_USER } from "./helpers.js";

const BASE = 0x5555_5555_0000;

describeVirtualMemory("Mmu x86-64 (4 KiB pages, user mode)", () => {
  const m = machine();
  for (let i = 0; i < 3; i++) m.mmu.map(m.space, BASE + i * 4096, m.frame(), 4096, 4096, RW_USER);
  return {
    memory: m.mmu,
    start: BASE,
    length: 3 * 4096,
    unmapped: [BASE - 4096, BASE + 3 * 4096, 0],
    check: () => m.mmu.check(),
  };
});

describeVirtualMemory("Mmu x86-64 (one 2 MiB page, supervisor mode)", () => {
  const m = machine();
  const phys = m.frames.allocFrames(9)!;
  m.mmu.map(m.space, 0x4000_0000, (phys * 4096) as never, 2 ** 21, 2 ** 21, { ...RW_USER, user: false });
  m.mmu.privilege = "supervisor";
  return {
    memory: m.mmu,
    start: 0x4000_0000 + 2 ** 21 - 3 * 4096,
    length: 3 * 4096,
    unmapped: [0x4000_0000 + 2 ** 21, 0x3fff_f000],
    check: () => m.mmu.check(),
  };
});

describeVirtualMemory("Mmu RISC-V Sv39 (4 KiB pages)", () => {
  const m = machine({ format: createSv39Format() });
  const base = 0x20_0000_0000;
  for (let i = 0; i < 3; i++) m.mmu.map(m.space, base + i * 4096, m.frame(), 4096, 4096, RW_USER);
  return {
    memory: m.mmu,
    start: base,
    length: 3 * 4096,
    unmapped: [base + 3 * 4096, base - 4096],
    check: () => m.mmu.check(),
  };
});

// Call lists with the queries a trace cannot hold (malloc_trim,
// malloc_usable_size, mallopt, mallinfo2) between the calls, run by the real
// glibc through fixtures/glibc/calls.c (fixtures/random/record.sh records
// them): the simulated malloc must print the same lines.
import { FlatMemory } from "@memstack/core";
import { createMachine } from "@memstack/machine";
import { describe, expect, it } from "vitest";
import { createMalloc, type Malloc } from "../src/index.js";
import { runCalls } from "./calls.js";
import { fixture, throughPorts } from "./helpers.js";

const quiet = { stderr: () => {} };
const flat = (): Malloc => {
  const mem = new FlatMemory({ memory: new ArrayBuffer(1 << 28), assumeZeroed: true });
  return createMalloc({ memory: mem, programBreak: mem, mapper: mem, ...quiet });
};

describe("malloc_trim, malloc_usable_size, mallopt and mallinfo2 between random calls, as glibc answers", () => {
  for (const mix of ["mixed", "small", "large", "realloc", "align"]) {
    for (const seed of [0, 1]) {
      const name = `${mix}-${seed}`;
      it(`${name} on FlatMemory`, () => {
        const m = flat();
        const got = runCalls(m, fixture(`random/${name}.calls.gz`));
        expect(got === fixture(`random/${name}.calls.expected.gz`), "differs from glibc's answers").toBe(
          true,
        );
        m.check();
      });
    }
  }

  it("malloc_trim with top at MINSIZE grows the heap, as glibc 2.36's signed/unsigned test makes it, on every backend", () => {
    const list = fixture("glibc/trim-grows.calls");
    const expected = fixture("glibc/trim-grows.expected");
    expect(expected).toMatch(/trim 1\nmallinfo2 arena=2260992 /);
    const m = flat();
    expect(runCalls(m, list)).toBe(expected);
    m.check();
    const generic = createMalloc({
      ...throughPorts(new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 28 })),
      ...quiet,
    });
    expect(runCalls(generic, list)).toBe(expected);
    generic.check();
    const machine = createMachine({ ram: "64M" });
    const p = machine.spawn("calls");
    const inProcess = createMalloc({ memory: p, programBreak: p, mapper: p, ...quiet });
    expect(runCalls(inProcess, list)).toBe(expected);
    inProcess.check();
    machine.check();
  });

  it("mixed-0 and large-0 in a process of createMachine()", () => {
    for (const name of ["mixed-0", "large-0"]) {
      const machine = createMachine({ ram: "256M" });
      const p = machine.spawn("calls");
      const m = createMalloc({ memory: p, programBreak: p, mapper: p, ...quiet });
      expect(
        runCalls(m, fixture(`random/${name}.calls.gz`)) === fixture(`random/${name}.calls.expected.gz`),
      ).toBe(true);
      m.check();
      machine.check();
    }
  });
});

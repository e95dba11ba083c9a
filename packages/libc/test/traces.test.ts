// Real programs' malloc traces replayed through the simulated malloc: every
// placement must be the one glibc chose (recorded with the tracer of
// ../shared/oracles/glibc; see fixtures/traces/record.sh).
import { existsSync } from "node:fs";
import { FlatMemory } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { createMalloc, formatPlacements, parseMallocTrace, replayMallocTrace } from "../src/index.js";
import { fixture, throughPorts } from "./helpers.js";

// ../shared/traces, copied into the fixtures by fixtures/traces/shared/copy.sh.
const SHARED = new URL("fixtures/traces/shared/", import.meta.url);

function load(name: string): { trace: string; expected: string } {
  if (name.startsWith("shared:")) {
    const base = name.slice(7);
    const gz = existsSync(new URL(`${base}.trace.gz`, SHARED));
    const read = (suffix: string): string => fixture(`traces/shared/${base}${suffix}${gz ? ".gz" : ""}`);
    return { trace: read(".trace"), expected: read(".expected") };
  }
  return { trace: fixture(`traces/${name}.trace.gz`), expected: fixture(`traces/${name}.expected.gz`) };
}

const fast = ["shared:sort", "shared:awk", "cc1", "du", "python", "perl", "sort", "xz", "sqlite"];
const ported = ["shared:sort", "cc1", "du", "python", "sort", "xz"];

describe("real traces replay to glibc's exact placements", () => {
  for (const name of fast) {
    it(`${name} on FlatMemory`, () => {
      const { trace, expected } = load(name);
      const parsed = parseMallocTrace(trace);
      const flat = new FlatMemory({ memory: new ArrayBuffer(1 << 30), assumeZeroed: true });
      const m = createMalloc({ memory: flat, programBreak: flat, mapper: flat });
      const { placements } = replayMallocTrace(m, parsed);
      const got = formatPlacements(placements);
      expect(got.length).toBe(expected.length);
      expect(got === expected, "placements differ from glibc's").toBe(true);
      m.check();
      flat.check();
    });
  }

  for (const name of ported) {
    it(`${name} through the generic port path`, () => {
      const { trace, expected } = load(name);
      const flat = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 30 });
      const m = createMalloc(throughPorts(flat));
      const got = formatPlacements(replayMallocTrace(m, parseMallocTrace(trace)).placements);
      expect(got === expected, "placements differ from glibc's").toBe(true);
      m.check();
    });
  }

  it("keeps every invariant through a real trace (cc1, check() every 7th call)", () => {
    const parsed = parseMallocTrace(load("cc1").trace);
    const flat = new FlatMemory({ memory: new ArrayBuffer(1 << 28), assumeZeroed: true });
    const m = createMalloc({ memory: flat, programBreak: flat, mapper: flat });
    let calls = 0;
    replayMallocTrace(m, parsed, {
      progressEvery: 1,
      onProgress: () => {
        if (++calls % 7 === 0) m.check();
      },
    });
    expect(calls).toBeGreaterThan(5000);
    m.check();
  });
});

// Real programs' malloc traces replayed through the simulated malloc: every
// placement must be the one glibc chose (recorded with the tracer of
// ../shared/oracles/glibc; see fixtures/traces/record.sh).
import { existsSync } from "node:fs";
import { FlatMemory } from "@memstack/core";
import { createMachine } from "@memstack/machine";
import { describe, expect, it } from "vitest";
import {
  createMalloc,
  formatPlacements,
  type MallocTunables,
  parseMallocTrace,
  replayMallocTrace,
} from "../src/index.js";
import { fixture, newHeap, RANDOM_MIXES, throughPorts } from "./helpers.js";

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

const fast = [
  "shared:sort",
  "shared:awk",
  "cc1",
  "du",
  "python",
  "perl",
  "sort",
  "xz",
  "sqlite",
  "diff",
  "cpp",
];
const ported = ["shared:sort", "cc1", "du", "python", "sort", "xz", "diff", "cpp"];

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

  it("cc1 on a FlatMemory grown to its 4 GiB limit (maxBytes 2^32: the arena's mmap lands at the top)", () => {
    const flat = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 2 ** 32 });
    const m = createMalloc({ memory: flat, programBreak: flat, mapper: flat });
    expect(flat.buffer.byteLength).toBe(2 ** 32);
    const { trace, expected } = load("cc1");
    const got = formatPlacements(replayMallocTrace(m, parseMallocTrace(trace)).placements);
    expect(got === expected, "placements differ from glibc's").toBe(true);
    m.check();
    flat.check();
  });

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

// Random call mixes (fixtures/random/generate.mjs, seeded) with the
// placements the real glibc chose for them (fixtures/random/record.sh):
// memalign with odd alignments, realloc across the mmap threshold, calloc,
// frees in random order, which real programs' traces exercise less.
describe("random call mixes replay to glibc's exact placements", () => {
  const traces = RANDOM_MIXES.flatMap((mix) => [`${mix}-0`, `${mix}-1`]);
  // unsorted-limit.trace and trim-remainder.trace are written by hand and kept as plain text.
  const text = (name: string): string =>
    name === "unsorted-limit" || name === "trim-remainder"
      ? fixture(`random/${name}.trace`)
      : fixture(`random/${name}.trace.gz`);
  const load = (name: string) => ({
    trace: parseMallocTrace(text(name)),
    expected: fixture(`random/${name}.expected.gz`),
  });

  for (const name of traces) {
    it(`${name} on FlatMemory, check() every 25th call`, () => {
      const { trace, expected } = load(name);
      const { m } = newHeap({}, 1 << 28);
      const { placements } = replayMallocTrace(m, trace, { progressEvery: 25, onProgress: () => m.check() });
      expect(formatPlacements(placements) === expected, "placements differ from glibc's").toBe(true);
      m.check();
    });
  }

  // The same calls under glibc's tunables (GLIBC_TUNABLES when recorded,
  // createMalloc's `tunables` here), with a hand-written trace whose
  // placements only tcache_unsorted_limit changes.
  const sets: Record<string, { tunables: MallocTunables }> = JSON.parse(fixture("random/tunables.json"));
  // A regression: check() took a last_remainder left past the end of a
  // trimmed heap (as glibc leaves it) for corruption.
  it("trim-remainder (written by hand): last_remainder past the trimmed heap's end, check() after every call", () => {
    const { trace, expected } = load("trim-remainder");
    const { m } = newHeap({}, 1 << 26);
    const { placements } = replayMallocTrace(m, trace, { progressEvery: 1, onProgress: () => m.check() });
    expect(formatPlacements(placements) === expected, "placements differ from glibc's").toBe(true);
    const { lastRemainder, top } = m.bins();
    expect(lastRemainder).toBeGreaterThan(top);
    expect(lastRemainder).toBeGreaterThanOrEqual(m.heapBase + m.mallinfo2().arena);
    m.check();
  });

  it("unsorted-limit (written by hand) on FlatMemory", () => {
    const { trace, expected } = load("unsorted-limit");
    const { m } = newHeap({}, 1 << 26);
    expect(formatPlacements(replayMallocTrace(m, trace).placements) === expected).toBe(true);
    m.check();
  });
  for (const [set, { tunables }] of Object.entries(sets)) {
    it(`mixed-0, small-0 and unsorted-limit with tunables ${set}`, () => {
      for (const name of ["mixed-0", "small-0", "unsorted-limit"]) {
        const { m } = newHeap({ tunables }, 1 << 28);
        const got = formatPlacements(replayMallocTrace(m, parseMallocTrace(text(name))).placements);
        expect(got === fixture(`random/${name}.${set}.expected.gz`), `${name} differs from glibc's`).toBe(
          true,
        );
        m.check();
      }
    });
  }

  for (const name of ["mixed-0", "large-0", "realloc-0", "align-0"]) {
    it(`${name} through the generic port path and in a process of createMachine()`, () => {
      const { trace, expected } = load(name);
      const generic = createMalloc(throughPorts(new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 1 << 28 })));
      expect(formatPlacements(replayMallocTrace(generic, trace).placements) === expected).toBe(true);
      generic.check();
      const machine = createMachine({ ram: "256M" });
      const proc = machine.spawn("replay");
      const m = createMalloc({ memory: proc, programBreak: proc, mapper: proc });
      expect(formatPlacements(replayMallocTrace(m, trace).placements) === expected).toBe(true);
      m.check();
      machine.check();
    });
  }
});

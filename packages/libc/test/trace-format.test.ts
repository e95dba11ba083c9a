// The trace grammar, against the real-glibc replayer's own answers
// (fixtures/trace-errors/*.expected, recorded with run-replay): the same
// `error LINE: REASON` for every malformed trace, and the same placements
// for a well-formed one that uses every kind of line and number.
import { readdirSync } from "node:fs";
import { FlatMemory } from "@memstack/core";
import { describe, expect, it } from "vitest";
import {
  createMalloc,
  formatPlacements,
  parseMallocTrace,
  replayMallocTrace,
  TraceSyntaxError,
} from "../src/index.js";
import { fixture } from "./helpers.js";

const dir = new URL("fixtures/trace-errors/", import.meta.url);
const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".trace"))
  .map((f) => f.slice(0, -".trace".length));

// What the simulated replay prints: the same shape as run-replay's record.
function simulate(text: string): string {
  let trace: ReturnType<typeof parseMallocTrace>;
  try {
    trace = parseMallocTrace(text);
  } catch (e) {
    if (!(e instanceof TraceSyntaxError)) throw e;
    return `exit 2\nerror ${e.line}: ${e.reason}\n`;
  }
  const mem = new FlatMemory({ memory: new ArrayBuffer(64 << 20), assumeZeroed: true });
  const m = createMalloc({ memory: mem, programBreak: mem, mapper: mem });
  const out = formatPlacements(replayMallocTrace(m, trace).placements);
  m.check();
  return `exit 0\n${out}`;
}

describe("the malloc trace format, as run-replay reads it", () => {
  it("has recorded cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });
  for (const name of cases) {
    it(`${name}: the same answer as the real replayer`, () => {
      expect(simulate(fixture(`trace-errors/${name}.trace`))).toBe(fixture(`trace-errors/${name}.expected`));
    });
  }
});

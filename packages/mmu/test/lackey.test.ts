import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { UsageError } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { createSv39Format, replayLackey } from "../src/index.js";

// Recorded on this machine by test/fixtures/lackey/record.sh (valgrind lackey on `sort -r`).
const trace = gunzipSync(readFileSync(new URL("./fixtures/lackey/sort-r-1000.lackey.gz", import.meta.url)));

// An independent reading of the trace: counts by kind, page touches (an
// access spanning two pages touches both; M touches twice) and distinct
// pages, with BigInt arithmetic on addresses.
const lines = trace.toString("latin1").split("\n");
function independent(pageSize: number, instructions: boolean) {
  const counts = { I: 0, L: 0, S: 0, M: 0 };
  const pages = new Set<bigint>();
  let touches = 0;
  const size = BigInt(pageSize);
  for (const line of lines) {
    const m = /^(I | [LSM]) ([0-9a-f]+),(\d+)$/.exec(line);
    if (m === null) continue;
    const kind = m[1]!.trim() as keyof typeof counts;
    if (kind === "I" && !instructions) continue;
    counts[kind]++;
    const a = BigInt(`0x${m[2]}`);
    const first = a / size;
    const last = (a + BigInt(m[3]!) - 1n) / size;
    touches += Number(last - first + 1n) * (kind === "M" ? 2 : 1);
    for (let p = first; p <= last; p++) pages.add(p);
  }
  return { counts, pages: pages.size, touches };
}

describe("lackey trace replay", () => {
  it("replays every access of a real program and maps each page it touches once", { timeout: 30_000 }, () => {
    const want = independent(4096, true);
    const r = replayLackey(trace, { instructions: true });
    expect(r.counts).toEqual(want.counts);
    expect(r.pagesTouched).toBe(want.pages);
    const l1 = r.stats.levels[0]!;
    // Every lookup hits or misses; a miss everywhere is a walk (or a first-touch fault).
    expect(l1.hits + l1.misses).toBe(r.lookups);
    // One lookup per page touched, plus the retry after each first-touch fault.
    expect(r.stats.pageFaults).toBe(want.pages);
    expect(r.lookups).toBe(want.touches + want.pages);
    expect(r.stats.walkMemoryRefs).toBeGreaterThanOrEqual(4 * (r.stats.walks - r.stats.pageFaults));
    expect(r.hitRates[0]).toBeGreaterThan(0.9);
    expect(r.hitRates[0]).toBeLessThan(1);
  });

  it("shows 2 MiB pages cutting TLB misses and walk references against 4 KiB pages", {
    timeout: 30_000,
  }, () => {
    const small = replayLackey(trace, { pageSize: 4096 });
    const huge = replayLackey(trace, { pageSize: 2 ** 21 });
    expect(huge.counts).toEqual(small.counts);
    expect(huge.lookups - huge.pagesTouched).toBe(small.lookups - small.pagesTouched);
    expect(huge.pagesTouched).toBe(independent(2 ** 21, false).pages);
    expect(huge.pagesTouched).toBeLessThan(small.pagesTouched);
    expect(huge.stats.levels[0]!.misses).toBeLessThan(small.stats.levels[0]!.misses);
    expect(huge.walkRefsPerLookup).toBeLessThan(small.walkRefsPerLookup);
    expect(huge.stats.levels[0]!.bySize["4K"]!.hits).toBe(0);
    expect(small.stats.levels[0]!.bySize["2M"]!.hits).toBe(0);
  });

  it("runs on Sv39 too, and refuses malformed lines and missing page sizes", () => {
    const text = new TextEncoder().encode("==1== header\nI  0401ab70,3\n L 1fff000778,8\n M 0401ab70,4\n");
    const r = replayLackey(text, { format: createSv39Format(), instructions: true });
    expect(r.counts).toEqual({ I: 1, L: 1, S: 0, M: 1 });
    expect(r.lookups).toBe(4 + r.pagesTouched);
    expect(r.pagesTouched).toBe(2);
    expect(() => replayLackey(new TextEncoder().encode(" L zz,8\n"))).toThrow(/line 1/);
    expect(() => replayLackey(new TextEncoder().encode(" S 1000,\n"))).toThrow(UsageError);
    expect(() => replayLackey(text, { pageSize: 8192 })).toThrow(UsageError);
    expect(() => replayLackey(text, { repeat: 0 })).toThrow(UsageError);
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type CliIo, main } from "../src/index.js";

// Every real trace, with glibc's own placements, replayed by glibc's malloc
// running in a process of a simulated machine: every heap access goes
// through x86-64 page tables, the TLB and demand paging, and the placements
// must still be glibc's exactly.
const recorded = new URL("../../../packages/libc/test/fixtures/traces/", import.meta.url).pathname;
// ../shared/traces, as copied into libc's fixtures.
const shared = `${recorded}shared/`;

const traces = [
  ...readdirSync(shared)
    .filter((f) => /\.trace(\.gz)?$/.test(f))
    .map((f) => `${shared}${f}`),
  ...readdirSync(recorded)
    .filter((f) => f.endsWith(".trace.gz"))
    .map((f) => `${recorded}${f}`),
];

function read(file: string): string {
  const buf = readFileSync(file);
  return (buf[0] === 0x1f ? gunzipSync(buf) : buf).toString("utf8");
}

describe("malloc traces in a kernel process match glibc", () => {
  for (const trace of traces) {
    it(trace.split("/").slice(-2).join("/"), () => {
      let out = "";
      const io: CliIo = {
        out: (t) => {
          out += t;
        },
        err: () => {},
      };
      return main(["malloc", "replay", "--backend", "process", "--memory", "256M", trace], io).then(
        (status) => {
          expect(status).toBe(0);
          const expected = read(trace.replace(/\.trace(\.gz)?$/, ".expected$1")).split("\n");
          const got = out.split("\n");
          const first = got.findIndex((line, i) => line !== expected[i]);
          // Name the first placement that differs rather than diffing 400 000 lines.
          expect(
            first === -1 ? null : { call: first + 1, got: got[first], expected: expected[first] },
          ).toBeNull();
          expect(got.length).toBe(expected.length);
        },
      );
    });
  }
});

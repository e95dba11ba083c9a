// libc over every buffer FlatMemory takes: a plain ArrayBuffer, a resizable
// one (FlatMemory's default), a SharedArrayBuffer fixed or growable, and a
// WebAssembly.Memory, whose buffer is replaced by a new one each time the
// heap grows it. libc reads and writes its words through typed views of the
// buffer it cached: after every growth they must follow the new buffer, so
// that nothing is written into a detached one or read back as zeros.
// Every backing must give glibc's placements and the same bytes.
import { FlatMemory, type FlatMemoryOptions, virtAddr, type WasmMemoryLike } from "@memstack/core";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createMalloc,
  formatPlacements,
  type Malloc,
  parseMallocTrace,
  replayMallocTrace,
} from "../src/index.js";
import { fixture } from "./helpers.js";

// @types/node declares no WebAssembly global; this is the part the tests use.
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemoryLike };
  }
).WebAssembly.Memory;

const MiB = 1 << 20;
const LIMIT = 1 << 30;
const WASM_PAGE = 65536;

const BACKINGS: [string, () => FlatMemoryOptions][] = [
  ["a plain ArrayBuffer", () => ({ memory: new ArrayBuffer(LIMIT), assumeZeroed: true })],
  ["a resizable ArrayBuffer (the default)", () => ({ sizeBytes: MiB, maxBytes: LIMIT })],
  ["a SharedArrayBuffer", () => ({ memory: new SharedArrayBuffer(LIMIT), assumeZeroed: true })],
  [
    "a growable SharedArrayBuffer",
    () => ({ memory: new SharedArrayBuffer(MiB, { maxByteLength: LIMIT }), assumeZeroed: true }),
  ],
  [
    "a WebAssembly.Memory",
    () => ({
      memory: new WasmMemory({ initial: 1, maximum: LIMIT / WASM_PAGE }),
      maxBytes: LIMIT,
      assumeZeroed: true,
    }),
  ],
];

function heapOn(options: FlatMemoryOptions): { m: Malloc; mem: FlatMemory } {
  const mem = new FlatMemory(options);
  return { m: createMalloc({ memory: mem, programBreak: mem, mapper: mem }), mem };
}

describe("every buffer FlatMemory takes", () => {
  for (const [name, options] of BACKINGS) {
    it(`${name}: real traces replay to glibc's placements`, () => {
      for (const trace of ["cc1", "diff", "python"]) {
        const { m, mem } = heapOn(options());
        const expected = fixture(`traces/${trace}.expected.gz`);
        const parsed = parseMallocTrace(fixture(`traces/${trace}.trace.gz`));
        const got = formatPlacements(replayMallocTrace(m, parsed).placements);
        expect(got === expected, `${trace}: placements differ from glibc's`).toBe(true);
        m.check();
        mem.check();
      }
    });
  }

  it("a WebAssembly.Memory grows under the heap: its buffer is replaced, and libc follows it", () => {
    const wasm = new WasmMemory({ initial: 1, maximum: 256 });
    const first = wasm.buffer;
    const { m, mem } = heapOn({ memory: wasm, maxBytes: 256 * WASM_PAGE, assumeZeroed: true });
    const a = m.malloc(40);
    // (Past the tcache's next pointer and key, which free writes at 0 and 8.)
    mem.storeU8(virtAddr(a + 24), 0x5a);
    // Past the first 64 KiB: brk grows the memory, which detaches the old buffer.
    const big = m.malloc(200_000);
    expect(big).not.toBe(0);
    expect(first.byteLength).toBe(0);
    expect(wasm.buffer.byteLength).toBeGreaterThan(WASM_PAGE);
    // The chunk freed into the tcache and handed back is read and written
    // through the new buffer: its key cleared, its byte kept.
    m.free(a);
    expect(m.malloc(40)).toBe(a);
    expect(mem.loadU8(virtAddr(a + 24))).toBe(0x5a);
    expect(new Uint8Array(wasm.buffer)[a + 24]).toBe(0x5a);
    // The key (tcache_key, written by free, cleared by malloc) reads 0 in the new buffer.
    expect(mem.loadU32(virtAddr(a + 8)) + mem.loadU32(virtAddr(a + 12))).toBe(0);
    m.check();
    mem.check();
  });
});

interface Block {
  p: number;
  n: number;
  tag: number;
}
interface State {
  heaps: { m: Malloc; mem: FlatMemory }[];
  live: Block[];
  nextTag: number;
}

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 0x90 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0x91, max: 0x4000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x4001, max: 0x60000 }) },
);

// One call on every heap: each must give the same answer.
function same(s: State, call: (m: Malloc) => number): number {
  const got = s.heaps.map((h) => call(h.m));
  if (got.some((p) => p !== got[0]))
    throw new Error(`the backings disagree: ${got.map((p) => `0x${p.toString(16)}`).join(", ")}`);
  return got[0]!;
}

function tag(s: State, p: number, n: number): void {
  if (p === 0) return;
  const t = (s.nextTag++ % 250) + 1;
  for (const h of s.heaps) {
    h.mem.storeU8(virtAddr(p), t);
    h.mem.storeU8(virtAddr(p + Math.max(n, 1) - 1), t);
  }
  s.live.push({ p, n, tag: t });
}

function verify(s: State, b: Block): void {
  for (const h of s.heaps) {
    const first = h.mem.loadU8(virtAddr(b.p));
    const last = h.mem.loadU8(virtAddr(b.p + Math.max(b.n, 1) - 1));
    if (first !== b.tag || last !== b.tag)
      throw new Error(`block 0x${b.p.toString(16)} lost its tag ${b.tag}: ${first}, ${last}`);
  }
}

describe("random calls on every backing at once", () => {
  it("the same pointers, the same bytes, check() after every step", () => {
    checkSequences<State>({
      setup: () => ({
        // Small WebAssembly and growable buffers, so that most runs grow them many times.
        heaps: BACKINGS.map(([, options]) => {
          const o = options();
          return heapOn({ ...o, maxBytes: 64 * MiB });
        }),
        live: [],
        nextTag: 0,
      }),
      check: (s) => {
        for (const h of s.heaps) {
          h.m.check();
          h.mem.check();
        }
        for (const b of s.live) verify(s, b);
      },
      steps: fc.oneof(
        size.map((n) =>
          step<State>(`malloc(${n})`, (s) =>
            tag(
              s,
              same(s, (m) => m.malloc(n)),
              n,
            ),
          ),
        ),
        fc.nat().map((i) =>
          step<State>(`free(#${i})`, (s) => {
            if (s.live.length === 0) return;
            const [b] = s.live.splice(i % s.live.length, 1);
            verify(s, b!);
            same(s, (m) => {
              m.free(b!.p);
              return 0;
            });
          }),
        ),
        fc.tuple(fc.nat(), size).map(([i, n]) =>
          step<State>(`realloc(#${i}, ${n})`, (s) => {
            if (s.live.length === 0) return;
            const [b] = s.live.splice(i % s.live.length, 1);
            const q = same(s, (m) => m.realloc(b!.p, Math.max(n, 1)));
            tag(s, q, Math.max(n, 1));
          }),
        ),
        fc.integer({ min: 0, max: 0x10000 }).map((pad) =>
          step<State>(`malloc_trim(${pad})`, (s) => {
            same(s, (m) => m.malloc_trim(pad));
          }),
        ),
      ),
      maxSteps: 80,
      numRuns: 30,
    });
  });
});

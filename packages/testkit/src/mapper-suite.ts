/**
 * Conformance suite of the Mapper and ProgramBreak ports: the Linux rules
 * that hold for every implementation, with or without an MMU — argument
 * errors and their errno, placement without overlap, zero-filled memory,
 * MAP_FIXED replacement, MADV_DONTNEED, and brk's refusals. (Faults on
 * unmapped or protected memory need an MMU; the kernel's own tests check
 * those against the real kernel.)
 */

import { readFileSync } from "node:fs";
import {
  EEXIST,
  EINVAL,
  ENOMEM,
  errnoName,
  MADV_DONTNEED,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MAP_SHARED,
  type Mapper,
  PROT_READ,
  PROT_WRITE,
  type ProgramBreak,
  type VirtualMemory,
  virtAddr,
} from "@memstack/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkSequences, step } from "./sequences.js";

/** What a Mapper factory hands the suite: one fresh address space, three views of it. */
export interface MapperFixture {
  /** The mmap family. */
  mapper: Mapper;
  /** brk. */
  programBreak: ProgramBreak;
  /** Loads and stores into the same space. */
  memory: VirtualMemory;
  /** The implementation's invariant check, if it has one. */
  check?: () => void;
  /**
   * The mmap flag words of `fixtures/linux/mmap-flags.expected` whose
   * answer this implementation does not give, as its README says; the
   * suite leaves them out. @defaultValue none
   */
  notModelled?: readonly number[];
}

const RW = PROT_READ | PROT_WRITE;

// What this machine's Linux answered (recorded by fixtures/linux/record.sh):
// mmap and mprotect with protection bits beyond r, w and x, and mmap with
// each mapping type and flag bit.
const recorded = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/linux/${name}.expected`, import.meta.url), "utf8")
    .trimEnd()
    .split("\n");
const PROT_BITS = recorded("prot-bits");
const MMAP_FLAGS = recorded("mmap-flags");
const MADVISE_ADVICE = recorded("madvise-advice");
// A call's answer as the recording programs print it: `ok` or the errno's name.
const answer = (r: number): string => (r < 0 ? errnoName(r) : "ok");
const PAGE = 4096;

function fillPage(m: VirtualMemory, addr: number, byte: number): void {
  m.fill(virtAddr(addr), PAGE, byte);
}

function isZero(m: VirtualMemory, addr: number, length: number): boolean {
  const bytes = new Uint8Array(length);
  m.loadBytes(virtAddr(addr), bytes);
  return bytes.every((b) => b === 0);
}

/** Runs the Mapper and ProgramBreak conformance tests on fixtures made by `create`. */
// Addresses and lengths near 2^64 that a number holds exactly.
const U64S = [2 ** 64 - PAGE, 2 ** 64 - 2048, 2 ** 64 - 2 * PAGE, 2 ** 63, 2 ** 53, 2 ** 53 + 2];

export function describeMapper(name: string, create: () => MapperFixture): void {
  describe(`Mapper conformance: ${name}`, () => {
    it("refuses a zero length, a missing type and an unaligned MAP_FIXED with EINVAL", () => {
      const { mapper, check } = create();
      expect(mapper.mmap(0, 0, RW, MAP_PRIVATE)).toBe(-EINVAL);
      expect(mapper.mmap(0, PAGE, RW, 0)).toBe(-EINVAL);
      const a = mapper.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
      expect(a).toBeGreaterThan(0);
      expect(mapper.mmap(a + 1, PAGE, RW, MAP_PRIVATE | MAP_FIXED)).toBe(-EINVAL);
      check?.();
    });

    it("places page-aligned, disjoint, zero-filled mappings", () => {
      const { mapper, memory, check } = create();
      const a = mapper.mmap(0, 3 * PAGE, RW, MAP_PRIVATE);
      const b = mapper.mmap(0, 5000, RW, MAP_PRIVATE);
      expect(a % PAGE).toBe(0);
      expect(b % PAGE).toBe(0);
      expect(b + 2 * PAGE <= a || a + 3 * PAGE <= b).toBe(true);
      expect(isZero(memory, a, 3 * PAGE)).toBe(true);
      expect(isZero(memory, b, 2 * PAGE)).toBe(true);
      check?.();
    });

    it("honours a free hint, and gives fresh zeros where memory was unmapped", () => {
      const { mapper, memory, check } = create();
      const a = mapper.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
      fillPage(memory, a + PAGE, 0x77);
      expect(mapper.munmap(a, 4 * PAGE)).toBe(0);
      expect(mapper.mmap(a, 4 * PAGE, RW, MAP_PRIVATE)).toBe(a);
      expect(isZero(memory, a, 4 * PAGE)).toBe(true);
      check?.();
    });

    it("replaces with MAP_FIXED (zeroing) and refuses with MAP_FIXED_NOREPLACE (EEXIST)", () => {
      const { mapper, memory, check } = create();
      const a = mapper.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
      fillPage(memory, a + PAGE, 0x55);
      fillPage(memory, a + 2 * PAGE, 0x66);
      expect(mapper.mmap(a + PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE)).toBe(-EEXIST);
      expect(memory.loadU8(virtAddr(a + PAGE))).toBe(0x55);
      expect(mapper.mmap(a + PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED)).toBe(a + PAGE);
      expect(isZero(memory, a + PAGE, PAGE)).toBe(true);
      expect(memory.loadU8(virtAddr(a + 2 * PAGE))).toBe(0x66);
      check?.();
    });

    it("checks munmap's arguments and accepts an unmapped range", () => {
      const { mapper, check } = create();
      const a = mapper.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
      expect(mapper.munmap(a + 1, PAGE)).toBe(-EINVAL);
      expect(mapper.munmap(a, 0)).toBe(-EINVAL);
      expect(mapper.munmap(a, 2 * PAGE)).toBe(0);
      expect(mapper.munmap(a, 2 * PAGE)).toBe(0);
      check?.();
    });

    it("takes addresses and lengths near 2^64 with the kernel's unsigned long arithmetic", () => {
      // Linux's answers to these are recorded in the u64-*.vm fixtures of
      // @memstack/kernel and @memstack/core.
      const { mapper, check } = create();
      const a = mapper.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
      // start + PAGE_ALIGN(len) ends below the start: ENOMEM, nothing changed.
      expect(mapper.mprotect(a + PAGE, 2 ** 64 - PAGE, PROT_READ)).toBe(-ENOMEM);
      // PAGE_ALIGN wraps to 0: EINVAL.
      expect(mapper.madvise(a, 2 ** 64 - 2048, MADV_DONTNEED)).toBe(-EINVAL);
      // A fixed address among the last 4095 below 2^64 comes back as an error code.
      expect(mapper.mmap(2 ** 64 - 2048, PAGE, RW, MAP_PRIVATE | MAP_FIXED)).toBe(-2048);
      // Both pages are still mapped.
      expect(mapper.mprotect(a, 2 * PAGE, PROT_READ | PROT_WRITE)).toBe(0);
      expect(mapper.munmap(a, 2 * PAGE)).toBe(0);
      expect(() => mapper.mmap(0, 2 ** 64, RW, MAP_PRIVATE)).toThrow(/length/);
      check?.();
    });

    it("checks mprotect's arguments and refuses unmapped pages with ENOMEM", () => {
      const { mapper, check } = create();
      const a = mapper.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
      expect(mapper.mprotect(a + 1, PAGE, PROT_READ)).toBe(-EINVAL);
      expect(mapper.mprotect(a, 0, PROT_READ)).toBe(0);
      expect(mapper.mprotect(a, PAGE, 0x40)).toBe(-EINVAL);
      expect(mapper.mprotect(a, PAGE, PROT_READ)).toBe(0);
      expect(mapper.munmap(a, 2 * PAGE)).toBe(0);
      expect(mapper.mprotect(a, PAGE, PROT_READ)).toBe(-ENOMEM);
      check?.();
    });

    it("answers protection bits beyond r, w and x as the real kernel does (fixtures/linux/prot-bits.expected)", () => {
      const { mapper, check } = create();
      const lines: string[] = [];
      for (const line of PROT_BITS) {
        const [call, hex] = line.split(" ") as [string, string];
        if (call !== "mmap") continue;
        const prot = Number(hex);
        // The same calls as prot-bits.c.
        const p = mapper.mmap(0, PAGE, prot, MAP_PRIVATE);
        lines.push(`mmap ${hex} ${answer(p)}`);
        if (p >= 0) mapper.munmap(p, PAGE);
        const q = mapper.mmap(0, 2 * PAGE, PROT_READ, MAP_PRIVATE);
        mapper.munmap(q, PAGE);
        const r = mapper.mprotect(q + PAGE, PAGE, prot);
        lines.push(`mprotect ${hex} ${answer(r)}`);
        const h = mapper.mprotect(q, 2 * PAGE, prot);
        lines.push(`mprotect-hole ${hex} ${answer(h)}`);
        mapper.munmap(q + PAGE, PAGE);
        check?.();
      }
      expect(lines.join("\n")).toBe(PROT_BITS.join("\n"));
    });

    it("answers each mapping type and flag bit as the real kernel does (fixtures/linux/mmap-flags.expected)", () => {
      const { mapper, check, notModelled = [] } = create();
      const want: string[] = [];
      const got: string[] = [];
      for (const line of MMAP_FLAGS) {
        // `mmap FLAGS RESULT`, and ` below-2G` where Linux placed it below
        // 2 GiB (MAP_32BIT): then the Mapper must too. (A mapping Linux
        // placed higher is not compared: a FlatMemory's addresses may all
        // lie below 2 GiB.)
        const [, hex, result, where] = line.split(" ") as [string, string, string, string?];
        const flags = Number(hex);
        if (notModelled.includes(flags)) continue;
        const p = mapper.mmap(0, 2 * PAGE, RW, flags);
        want.push(`mmap ${hex} ${result}${where === undefined ? "" : ` ${where}`}`);
        got.push(
          `mmap ${hex} ${answer(p)}${where !== undefined && p >= 0 && p < 2 ** 31 ? " below-2G" : ""}`,
        );
        // A MAP_HUGETLB mapping is 2 MiB, and cannot be unmapped in part.
        if (p >= 0) mapper.munmap(p, (flags & MAP_HUGETLB) !== 0 ? 2 * 1024 * 1024 : 2 * PAGE);
        check?.();
      }
      expect(got.join("\n")).toBe(want.join("\n"));
    });

    it("answers each advice as the real kernel does (fixtures/linux/madvise-advice.expected)", () => {
      const { mapper, memory, check } = create();
      const want: string[] = [];
      const got: string[] = [];
      for (const line of MADVISE_ADVICE) {
        // `madvise ADVICE private|shared RESULT`, as madvise-advice.c calls it.
        const [, advice, kind, result] = line.split(" ") as [string, string, string, string];
        const p = mapper.mmap(0, 2 * PAGE, RW, kind === "shared" ? MAP_SHARED : MAP_PRIVATE);
        memory.storeU8(virtAddr(p), 1);
        const r = mapper.madvise(p, 2 * PAGE, Number(advice));
        want.push(`madvise ${advice} ${kind} ${result}`);
        got.push(`madvise ${advice} ${kind} ${answer(r)}`);
        mapper.munmap(p, 2 * PAGE);
        check?.();
      }
      expect(got.join("\n")).toBe(want.join("\n"));
    });

    it("zeroes private pages on MADV_DONTNEED and refuses unknown advice", () => {
      const { mapper, memory, check } = create();
      const a = mapper.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
      fillPage(memory, a, 0x11);
      fillPage(memory, a + PAGE, 0x22);
      expect(mapper.madvise(a, PAGE, 0x7fff)).toBe(-EINVAL);
      expect(mapper.madvise(a + 1, PAGE, MADV_DONTNEED)).toBe(-EINVAL);
      expect(mapper.madvise(a, PAGE, MADV_DONTNEED)).toBe(0);
      expect(isZero(memory, a, PAGE)).toBe(true);
      expect(memory.loadU8(virtAddr(a + PAGE))).toBe(0x22);
      check?.();
    });

    it("punches shared pages out with MADV_REMOVE, which private memory refuses", () => {
      const { mapper, memory, check } = create();
      const s = mapper.mmap(0, 3 * PAGE, RW, MAP_SHARED);
      const p = mapper.mmap(0, PAGE, RW, MAP_PRIVATE);
      for (let i = 0; i < 3; i++) fillPage(memory, s + i * PAGE, 0x31 + i);
      fillPage(memory, p, 0x44);
      expect(mapper.madvise(s + PAGE, PAGE, MADV_REMOVE)).toBe(0);
      check?.();
      expect(memory.loadU8(virtAddr(s))).toBe(0x31);
      expect(isZero(memory, s + PAGE, PAGE)).toBe(true);
      expect(memory.loadU8(virtAddr(s + 2 * PAGE))).toBe(0x33);
      expect(mapper.madvise(p, PAGE, MADV_REMOVE)).toBe(-EINVAL);
      expect(memory.loadU8(virtAddr(p))).toBe(0x44);
      // Wiping on fork is for private memory only.
      expect(mapper.madvise(s, PAGE, MADV_WIPEONFORK)).toBe(-EINVAL);
      expect(mapper.madvise(p, PAGE, MADV_WIPEONFORK)).toBe(0);
      expect(memory.loadU8(virtAddr(p))).toBe(0x44);
      check?.();
    });

    it("moves the break with brk(2)'s rules and hands out zeroed memory", () => {
      const { programBreak: pb, memory, check } = create();
      const start = pb.brk(0);
      expect(start).toBeGreaterThan(0);
      expect(pb.brk(start + 3 * PAGE + 5)).toBe(start + 3 * PAGE + 5);
      expect(isZero(memory, start, 3 * PAGE)).toBe(true);
      fillPage(memory, start + PAGE, 0x99);
      // Below the start of the heap: refused, the break stays.
      expect(pb.brk(start - PAGE)).toBe(start + 3 * PAGE + 5);
      expect(pb.brk(start)).toBe(start);
      expect(pb.brk(start + 2 * PAGE)).toBe(start + 2 * PAGE);
      expect(isZero(memory, start, 2 * PAGE)).toBe(true);
      expect(pb.brk(0)).toBe(start + 2 * PAGE);
      check?.();
    });

    it("keeps its invariants under random mmap, munmap, mprotect, madvise and brk", () => {
      type S = { fx: MapperFixture; maps: number[] };
      checkSequences<S>({
        setup: () => ({ fx: create(), maps: [] }),
        check: (s) => s.fx.check?.(),
        numRuns: 60,
        steps: fc.oneof(
          fc.integer({ min: 1, max: 6 * PAGE }).map((len) =>
            step(`mmap(${len})`, (s: S) => {
              const a = s.fx.mapper.mmap(0, len, RW, MAP_PRIVATE);
              expect(a).toBeGreaterThan(0);
              expect(isZero(s.fx.memory, a, len)).toBe(true);
              s.fx.memory.storeU8(virtAddr(a), 1);
              s.maps.push(a);
            }),
          ),
          fc
            .tuple(fc.nat(), fc.integer({ min: -2, max: 6 }), fc.integer({ min: 1, max: 4 }))
            .map(([k, off, pages]) =>
              step(`munmap(#${k}${off >= 0 ? "+" : ""}${off}p, ${pages}p)`, (s: S) => {
                if (s.maps.length === 0) return;
                const a = s.maps[k % s.maps.length]! + off * PAGE;
                if (a <= 0) return;
                expect([0, -EINVAL]).toContain(s.fx.mapper.munmap(a, pages * PAGE));
              }),
            ),
          fc
            .tuple(
              fc.nat(),
              fc.integer({ min: 0, max: 4 }),
              fc.integer({ min: 1, max: 3 }),
              fc.integer({ min: 0, max: 7 }),
            )
            .map(([k, off, pages, prot]) =>
              step(`mprotect(#${k}+${off}p, ${pages}p, ${prot})`, (s: S) => {
                if (s.maps.length === 0) return;
                const r = s.fx.mapper.mprotect(s.maps[k % s.maps.length]! + off * PAGE, pages * PAGE, prot);
                expect([0, -ENOMEM]).toContain(r);
              }),
            ),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 })).map(([k, pages]) =>
            step(`madvise(#${k}, ${pages}p, DONTNEED)`, (s: S) => {
              if (s.maps.length === 0) return;
              const r = s.fx.mapper.madvise(s.maps[k % s.maps.length]!, pages * PAGE, MADV_DONTNEED);
              expect([0, -ENOMEM]).toContain(r);
            }),
          ),
          // Unsigned long arguments near 2^64, each held exactly by a
          // number: every call fails (an mprotect's end must wrap, or it
          // would change the mappings up to the first hole, as Linux's does).
          fc
            .tuple(fc.nat(), fc.integer({ min: 0, max: 3 }), fc.constantFrom(...U64S), fc.boolean())
            .map(([k, call, big, asLength]) =>
              step(`u64(#${k}, call ${call}, ${asLength ? "length" : "address"} ${big})`, (s: S) => {
                const a = asLength ? (s.maps[k % Math.max(1, s.maps.length)] ?? PAGE) : big;
                const len = asLength ? big : PAGE;
                const m = s.fx.mapper;
                let r: number;
                if (call === 0) r = m.munmap(a, len);
                else if (call === 1) r = m.mprotect(a, len, PROT_READ);
                else if (call === 2) r = m.madvise(a, len, MADV_DONTNEED);
                else r = m.mmap(a, len, RW, MAP_PRIVATE | MAP_FIXED);
                if (call !== 1 || !asLength || a + big >= 2 ** 64) expect(r).toBeLessThan(0);
              }),
            ),
          fc.integer({ min: -3 * PAGE, max: 5 * PAGE }).map((delta) =>
            step(`brk(+${delta})`, (s: S) => {
              const pb = s.fx.programBreak;
              const old = pb.brk(0);
              const got = pb.brk(Math.max(0, old + delta));
              expect([old, Math.max(0, old + delta)]).toContain(got);
            }),
          ),
        ),
      });
    });
  });
}

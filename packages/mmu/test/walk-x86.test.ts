import { physAddr, SparseRam } from "@memstack/core";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AccessCode, createX86_64Format, type PageTableFormat } from "../src/index.js";
import { PhysWords } from "../src/internal/phys-words.js";
import { PageWalker } from "../src/page-walk.js";

// The walker takes its x86-64 path (walkX86) for createX86_64Format's own
// format and the generic walk (walkAny) for any other object: a copy of the
// same format is another object, so it walks generically. Both run over
// twin RAMs holding the same random tables; every walk must give the same
// result and leave the same words (A and D bits) in the tables.

// Frames 1..TABLES hold tables (the root is frame 1); entries point at them
// or at frames above, so walks go through shared, recursive and missing tables.
const TABLES = 6;
const INDICES = [0, 1, 2, 511];
const PTE_P = 1;
const PTE_PS = 0x80;

interface Twin {
  ram: SparseRam[];
  walker: PageWalker[];
  /** Addresses whose whole path a step wrote (other writes may have cut it since). */
  paths: number[];
}

function twin(format: PageTableFormat): Twin {
  const ram = [new SparseRam({ sizeBytes: 2 ** 32 }), new SparseRam({ sizeBytes: 2 ** 32 })];
  const walker = [
    new PageWalker(new PhysWords(ram[0]!), format),
    new PageWalker(new PhysWords(ram[1]!), { ...format }),
  ];
  return { ram, walker, paths: [] };
}

// Low words: absent, a table pointer with random rights and flags, a 4 KiB
// leaf anywhere, PS set, or anything at all.
const lowWord = fc.oneof(
  fc.constant(0),
  fc
    .tuple(fc.integer({ min: 1, max: TABLES + 2 }), fc.nat({ max: 0x17f }))
    .map(([frame, bits]) => (frame * 4096 + (bits | PTE_P)) >>> 0),
  fc
    .tuple(fc.nat({ max: 0xfffff }), fc.nat({ max: 0xfff }))
    .map(([frame, bits]) => (frame * 4096 + (bits | PTE_P)) >>> 0),
  fc
    .tuple(fc.nat({ max: 0x7ff }), fc.nat({ max: 0xfff }))
    .map(([frame, bits]) => (frame * 2 ** 21 + (bits | PTE_P | PTE_PS)) >>> 0),
  fc.nat({ max: 0xffffffff }),
);
// High words: none, NX, frame bits, a reserved bit, anything.
const highWord = fc.oneof(
  fc.constant(0),
  fc.constant(0x8000_0000),
  fc.nat({ max: 0xff }),
  fc.constantFrom(0x0000_4000, 0x0008_0000, 0x8004_0000),
  fc.nat({ max: 0xffffffff }),
);

const FIELDS = [
  "ok",
  "errorCode",
  "pagePhys",
  "pageSize",
  "flags",
  "level",
  "entryAddress",
  "memoryRefs",
  "adWrites",
] as const;

function tableWords(ram: SparseRam): number[] {
  const words: number[] = [];
  for (let frame = 1; frame <= TABLES; frame++) {
    for (const i of INDICES) {
      words.push(
        ram.readU32(physAddr(frame * 4096 + i * 8)),
        ram.readU32(physAddr(frame * 4096 + i * 8 + 4)),
      );
    }
  }
  return words;
}

describe.each([
  ["x86-64", createX86_64Format()],
  [
    "x86-64 without NX or 1 GiB pages, 40 physical bits",
    createX86_64Format({ nx: false, pages1G: false, physicalBits: 40 }),
  ],
] as [string, PageTableFormat][])("the x86-64 walk on %s", (_name, format) => {
  it("takes the x86-64 path only for the format's own object", () => {
    const t = twin(format);
    const x86 = (w: PageWalker) => (w as unknown as { x86: boolean }).x86;
    expect(x86(t.walker[0]!)).toBe(true);
    expect(x86(t.walker[1]!)).toBe(false);
    // A format with a method the x86-64 path writes out replaced walks generically too.
    for (const method of ["decode", "permits", "accessedBits"] as const) {
      const patched = createX86_64Format();
      (patched as unknown as Record<string, unknown>)[method] = createX86_64Format()[method];
      expect(x86(new PageWalker(new PhysWords(t.ram[0]!), patched)), method).toBe(false);
    }
  });

  it("gives the generic walk's result and A/D writes on random tables", () => {
    // What the walks came to, over every run: each kind must come up.
    const seen = { ok: 0, absent: 0, denied: 0, reserved: 0, huge: 0 };
    checkSequences<Twin>({
      // The tables start empty: a frame never written has no host bytes and
      // reads as zeros, so a walk through it finds nothing present.
      setup: () => twin(format),
      check: (t) => expect(tableWords(t.ram[1]!)).toEqual(tableWords(t.ram[0]!)),
      numRuns: 150,
      maxSteps: 60,
      steps: fc.oneof(
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.integer({ min: 1, max: TABLES }), fc.constantFrom(...INDICES), lowWord, highWord)
            .map(([frame, index, lo, hi]) =>
              step(`entry ${index} of frame ${frame} = ${hi.toString(16)}:${lo.toString(16)}`, (t: Twin) => {
                for (const ram of t.ram) {
                  ram.writeU32(physAddr(frame * 4096 + index * 8), lo);
                  ram.writeU32(physAddr(frame * 4096 + index * 8 + 4), hi);
                }
              }),
            ),
        },
        {
          // A whole path: three table entries (P set, PS clear, other bits at
          // random) down to a leaf with random bits, at indices a walk uses.
          weight: 2,
          arbitrary: fc
            .tuple(
              fc.array(fc.tuple(fc.integer({ min: 1, max: TABLES }), fc.constantFrom(...INDICES)), {
                minLength: 4,
                maxLength: 4,
              }),
              // Mostly with R/W and U/S set, and NX clear, so that many walks through them translate.
              fc.array(
                fc.nat({ max: 0xfff }).map((b) => ((b & 0x300) === 0 ? b : b | 0x7)),
                { minLength: 4, maxLength: 4 },
              ),
              fc.array(fc.constantFrom(0, 0, 0, 0x8000_0000), { minLength: 4, maxLength: 4 }),
              // The level of the leaf: mostly a 4 KiB page, else a 2 MiB or 1 GiB one (PS set).
              fc.constantFrom(3, 3, 3, 2, 1),
            )
            .map(([path, bits, highs, leaf]) =>
              step(`path ${JSON.stringify(path)} bits ${bits} high ${highs} leaf at ${leaf}`, (t: Twin) => {
                const idx = path.map(([, index]) => index);
                t.paths.push(idx[0]! * 2 ** 39 + idx[1]! * 2 ** 30 + idx[2]! * 2 ** 21 + idx[3]! * 4096);
                for (let level = 0; level <= leaf; level++) {
                  const [frame, index] = level === 0 ? [1, path[0]![1]] : path[level]!;
                  // A table, a 4 KiB page above the tables, or a huge page at 1 GiB (aligned for both sizes).
                  const next =
                    level < leaf ? path[level + 1]![0] * 4096 : level === 3 ? (TABLES + 1) * 4096 : 2 ** 30;
                  const low =
                    level < leaf
                      ? bits[level]! & ~PTE_PS
                      : level === 3
                        ? bits[level]!
                        : bits[level]! | PTE_PS;
                  for (const ram of t.ram) {
                    ram.writeU32(physAddr(frame * 4096 + index * 8), (next + (low | PTE_P)) >>> 0);
                    ram.writeU32(physAddr(frame * 4096 + index * 8 + 4), highs[level]!);
                  }
                }
              }),
            ),
        },
        {
          weight: 5,
          arbitrary: fc
            .tuple(
              fc.array(fc.constantFrom(...INDICES), { minLength: 4, maxLength: 4 }),
              fc.option(fc.oneof(fc.constant(0), fc.nat({ max: 7 })), { freq: 4 }),
              fc.nat({ max: 4095 }),
              fc.constantFrom<AccessCode>(0, 1, 2),
              fc.boolean(),
              fc.boolean(),
            )
            .map(([idx, path, off, access, user, sideEffects]) => {
              const any = idx[0]! * 2 ** 39 + idx[1]! * 2 ** 30 + idx[2]! * 2 ** 21 + idx[3]! * 4096 + off;
              const what =
                path === null ? `0x${any.toString(16)}` : `the address of path -${path + 1} + ${off}`;
              return step(`walk(${what}, access ${access}, user ${user}, A/D ${sideEffects})`, (t: Twin) => {
                // A quarter of the walks go to an address at random, the rest to one a
                // path step wrote, counted back from the last (the last most often).
                const built = path === null ? undefined : t.paths[t.paths.length - 1 - path];
                const la = built === undefined ? any : built + off;
                // A table pointer past the RAM is refused by the RAM, the same way in both.
                const results = t.walker.map((w) => {
                  w.input[0] = 4096;
                  w.input[1] = la;
                  try {
                    const ok = w.walk(access, user, sideEffects);
                    return { ok, ...Object.fromEntries(FIELDS.map((f) => [f, w.result[f]])) };
                  } catch (e) {
                    return { threw: String(e) };
                  }
                });
                expect(results[0]).toEqual(results[1]);
                if ("threw" in results[0]!) return;
                const r = t.walker[1]!.result;
                if (r.ok) seen[r.pageSize > 4096 ? "huge" : "ok"]++;
                else if (r.errorCode & 8) seen.reserved++;
                else if (r.errorCode & 1) seen.denied++;
                else seen.absent++;
              });
            }),
        },
      ),
    });
    for (const [kind, n] of Object.entries(seen)) expect(n, kind).toBeGreaterThan(0);
  });
});

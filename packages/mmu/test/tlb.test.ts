import { createRng, UsageError } from "@memstack/core";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BELOW_ABSENT,
  ENTRY_GLOBAL,
  ENTRY_READ,
  SKYLAKE_TLB,
  Tlb,
  type TlbLevelConfig,
} from "../src/index.js";

const SIZES = [4096, 2 ** 21, 2 ** 30];
// One level: 4 KiB pages in 2 sets of 4 ways; big pages in a 1-set array.
const SMALL: TlbLevelConfig[] = [
  {
    name: "L1",
    arrays: [
      { pageSizes: [4096], sets: 2, ways: 4 },
      { pageSizes: [2 ** 21, 2 ** 30], sets: 1, ways: 2 },
    ],
  },
];

// SMALL's first level above a second of `sets` × `ways` holding every size:
// small enough to evict at both levels.
function twoLevels(sets: number, ways: number): TlbLevelConfig[] {
  return [
    { ...SMALL[0]!, name: "L1" },
    { name: "L2", arrays: [{ pageSizes: SIZES, sets, ways }] },
  ];
}

// Every typed array of a TLB but its argument registers: stamps, PLRU bits,
// counters, generations, stale marks.
const state = (t: Tlb) =>
  Object.entries(t).flatMap(([key, v]) => (ArrayBuffer.isView(v) && key !== "at" ? [[key, v]] : []));

// Page k of set 0 (even 4 KiB page numbers land in set 0 of 2 sets).
const page = (k: number) => k * 2 * 4096;

function fillPages(tlb: Tlb, pages: number[], pcid = 1): number[] {
  return pages.map((p) => tlb.fill(0, page(p), pcid, 0, p * 4096, ENTRY_READ, 1));
}

describe("Tlb", () => {
  it("has the Skylake shape by default: 64 + 32 + 4 L1 entries and 1536 + 16 STLB entries", () => {
    const tlb = new Tlb(SIZES);
    expect(tlb.slotCount).toBe(64 + 32 + 4 + 1536 + 16);
    expect(SKYLAKE_TLB.map((l) => l.name)).toEqual(["L1 dTLB", "STLB"]);
    tlb.check();
  });

  it("replaces the least recently used way under LRU", () => {
    const tlb = new Tlb(SIZES, { levels: SMALL });
    const slots = fillPages(tlb, [0, 1, 2, 3]);
    tlb.hit(tlb.probe(0, page(0), 1)); // order now 1, 2, 3, 0
    const s = tlb.fill(0, page(4), 1, 0, 0x99000, ENTRY_READ, 1);
    expect(s).toBe(slots[1]);
    expect(tlb.probe(0, page(1), 1)).toBe(-1);
    for (const p of [0, 2, 3, 4]) expect(tlb.probe(0, page(p), 1)).toBeGreaterThanOrEqual(0);
    expect(tlb.stats()[0]!.evictions).toBe(1);
    expect(tlb.stats()[0]!.bySize["4K"]!.evictions).toBe(1);
    tlb.check();
  });

  it("replaces by tree pseudo-LRU and by LRU exactly as independent models do, and the two differ", () => {
    // Models written from the textbook definitions: LRU keeps a recency list;
    // tree PLRU keeps one bit per internal node pointing away from the last use.
    const lruModel = () => {
      const order: number[] = [];
      return {
        use: (w: number) => {
          order.splice(order.indexOf(w) >>> 0, order.includes(w) ? 1 : 0);
          order.push(w);
        },
        victim: (ways: number) => (order.length < ways ? order.length : order[0]!),
      };
    };
    const plruModel = () => {
      const node = [false, false, false]; // true: the victim is on the right
      let filled = 0;
      return {
        use: (w: number) => {
          filled = Math.max(filled, w + 1);
          const right = w >= 2;
          node[0] = !right;
          node[right ? 2 : 1] = w % 2 === 0;
        },
        victim: (ways: number) => {
          if (filled < ways) return filled;
          const right = node[0]!;
          return (right ? 2 : 0) + (node[right ? 2 : 1] ? 1 : 0);
        },
      };
    };
    let differed = false;
    for (let seed = 1; seed <= 200; seed++) {
      let x = seed;
      const rand = () => {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        return x;
      };
      const ops = Array.from({ length: 12 }, () => rand() % 6); // pages 0..5 of set 0
      const victims: Record<string, number[]> = {};
      for (const policy of ["lru", "plru"] as const) {
        const tlb = new Tlb(SIZES, { levels: SMALL, replacement: policy });
        const model = policy === "lru" ? lruModel() : plruModel();
        const wayOf = new Map<number, number>();
        const got: number[] = [];
        for (const p of ops) {
          const hit = tlb.probe(0, page(p), 1);
          if (hit >= 0) {
            tlb.hit(hit);
            model.use(wayOf.get(p)!);
            continue;
          }
          const way = model.victim(4);
          const slot = tlb.fill(0, page(p), 1, 0, 0, ENTRY_READ, 1);
          expect(slot % 4).toBe(way); // set 0 of the 4 KiB array starts at slot 0
          for (const [q, w] of wayOf) if (w === way) wayOf.delete(q);
          wayOf.set(p, way);
          model.use(way);
          got.push(way);
          tlb.check();
        }
        victims[policy] = got;
      }
      if (JSON.stringify(victims.lru) !== JSON.stringify(victims.plru)) differed = true;
    }
    expect(differed).toBe(true);
    expect(
      () =>
        new Tlb(SIZES, {
          levels: [{ name: "x", arrays: [{ pageSizes: SIZES, sets: 1, ways: 12 }] }],
          replacement: "plru",
        }),
    ).toThrow(UsageError);
  });

  it("tags entries with the PCID; global entries match every PCID", () => {
    const tlb = new Tlb(SIZES, { levels: SMALL });
    tlb.fill(0, page(0), 1, 0, 0x1000, ENTRY_READ, 1);
    tlb.fill(0, page(0), 2, 0, 0x2000, ENTRY_READ, 2);
    tlb.fill(0, page(1), 1, 0, 0x3000, ENTRY_READ | ENTRY_GLOBAL, 1);
    expect(tlb.phys[tlb.probe(0, page(0), 1)]).toBe(0x1000);
    expect(tlb.phys[tlb.probe(0, page(0), 2)]).toBe(0x2000);
    expect(tlb.probe(0, page(0), 3)).toBe(-1);
    expect(tlb.phys[tlb.probe(0, page(1), 7)]).toBe(0x3000);
    // A PCID flush spares other PCIDs and global entries; INVLPG drops the global one.
    expect(tlb.invalidate("pcid", 1)).toBe(1);
    expect(tlb.probe(0, page(0), 2)).toBeGreaterThanOrEqual(0);
    expect(tlb.probe(0, page(1), 1)).toBeGreaterThanOrEqual(0);
    expect(tlb.invalidatePage(page(1), 1, false)).toBe(0);
    expect(tlb.invalidatePage(page(1), 1, true)).toBe(1);
    expect(tlb.invalidate("all")).toBe(1);
    tlb.check();
  });

  it("holds big pages in their own arrays and finds them for any address inside", () => {
    const tlb = new Tlb(SIZES, { levels: SMALL });
    tlb.fill(0, 2 ** 30, 1, 2, 5 * 2 ** 30, ENTRY_READ, 1);
    tlb.fill(0, 2 ** 21 * 3, 1, 1, 2 ** 21 * 9, ENTRY_READ, 1);
    expect(tlb.phys[tlb.probe(0, 2 ** 30 + 0x1234_5678, 1)]).toBe(5 * 2 ** 30);
    expect(tlb.phys[tlb.probe(0, 2 ** 21 * 3 + 0x1f_ffff, 1)]).toBe(2 ** 21 * 9);
    expect(tlb.probe(0, 2 ** 21 * 4, 1)).toBe(-1);
    tlb.check();
  });

  it("refuses shapes that cannot work", () => {
    const bad = (levels: TlbLevelConfig[]) => () => new Tlb(SIZES, { levels });
    expect(bad([{ name: "a", arrays: [{ pageSizes: SIZES, sets: 3, ways: 2 }] }])).toThrow(/power of two/);
    expect(bad([{ name: "a", arrays: [{ pageSizes: [4096], sets: 1, ways: 2 }] }])).toThrow(
      /no array for 2M/,
    );
    expect(bad([{ name: "a", arrays: [{ pageSizes: [8192], sets: 1, ways: 2 }] }])).toThrow(/8192/);
    expect(bad([{ name: "a", arrays: [{ pageSizes: SIZES, sets: 1, ways: 33 }] }])).toThrow(/ways/);
  });

  it("probeAt, fillAt, setForAt, setForCopy and copy do exactly what probe, fill and setFor do", () => {
    // Two levels small enough to evict; addresses above 2^32 (the hot-path
    // methods take them through `at`). Every typed array (stamps, PLRU bits,
    // counters, generations, stale marks) and the statistics must agree.
    const levels = twoLevels(4, 8);
    for (const replacement of ["lru", "plru"] as const) {
      const a = new Tlb(SIZES, { levels, replacement });
      const b = new Tlb(SIZES, { levels, replacement });
      const rng = createRng(7);
      const base = 0x7f12_0000_0000;
      for (let step = 0; step < 4000; step++) {
        const k = rng.nextInt(10) === 0 ? 1 : 0;
        const size = SIZES[k]!;
        const pageLa = base + rng.nextInt(k === 0 ? 96 : 4) * size;
        const la = pageLa + rng.nextInt(size);
        const pcid = 1 + rng.nextInt(2);
        const op = rng.nextInt(4);
        if (op === 0) {
          const phys = 2 ** 40 + rng.nextInt(1 << 20) * size;
          const level = rng.nextInt(2);
          const flags = ENTRY_READ | (rng.nextInt(8) === 0 ? ENTRY_GLOBAL : 0);
          const sa = a.fill(level, pageLa, pcid, k, phys, flags, pcid);
          b.at[0] = pageLa;
          b.at[1] = phys;
          expect(b.fillAt(level, pcid, k, flags, pcid)).toBe(sa);
        } else if (op === 1) {
          a.markStale(pcid, pageLa, pageLa + size);
          b.markStale(pcid, pageLa, pageLa + size);
        } else {
          // An L1 miss that may hit the lower level and copy the entry up.
          const level = rng.nextInt(2);
          const fa = a.probe(level, la, pcid);
          b.at[0] = la;
          expect(b.probeAt(level, pcid)).toBe(fa);
          expect(b.setForAt(level, k)).toBe(a.setFor(level, k, la));
          if (fa >= 0 && level === 1) {
            a.hit(fa);
            b.hit(fa);
            const fk = a.size[fa]!;
            expect(b.setForCopy(0, fa)).toBe(a.setFor(0, fk, a.tag[fa]!));
            const sa = a.fill(0, a.tag[fa]!, a.pcid[fa]!, fk, a.phys[fa]!, a.flags[fa]!, a.space[fa]!);
            a.stale[sa] = a.stale[fa]!;
            expect(b.copy(0, fa)).toBe(sa);
          }
        }
        if (step % 500 === 0) {
          a.check();
          b.check();
        }
      }
      expect(state(b)).toEqual(state(a));
      expect(b.stats()).toEqual(a.stats());
      expect(a.stats()[0]!.evictions).toBeGreaterThan(0);
      expect(a.stale.some((x) => x === 1)).toBe(true);
      a.check();
      b.check();
    }
  });

  it("probeBelow, hitBelow and copyUp make the usual L1 miss exactly as probeAt, hit, miss and copy do", () => {
    // Two TLBs of two levels (4 KiB sets that collide, a 2 MiB array so that
    // the fused path must also refuse), driven alike; on each miss, `ref`
    // probes level by level and copies up, `fused` takes the one-piece path
    // wherever it applies. Every typed array and the statistics must agree
    // after each step.
    const levels = twoLevels(2, 6);
    const base = 0x7f12_0000_0000;
    interface S {
      ref: Tlb;
      fused: Tlb;
    }
    // How often each answer of probeBelow came up, over every run.
    const seen = { taken: 0, absent: 0, general: 0 };
    const pageArb = fc.integer({ min: 0, max: 13 });
    const pcidArb = fc.integer({ min: 1, max: 2 });
    checkSequences<S>({
      setup: () => ({ ref: new Tlb(SIZES, { levels }), fused: new Tlb(SIZES, { levels }) }),
      check: (s) => {
        s.ref.check();
        s.fused.check();
        expect(state(s.fused)).toEqual(state(s.ref));
        expect(s.fused.stats()).toEqual(s.ref.stats());
      },
      numRuns: 60,
      maxSteps: 80,
      // Most steps fill the second level or miss; a 2 MiB entry, which
      // turns the one-piece path off until it goes, comes seldom.
      steps: fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .tuple(pageArb, pcidArb, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 7 }))
            .map(([p, pcid, l, g]) => {
              const level = l === 0 ? 0 : 1;
              return step(
                `fill(L${level + 1}, page ${p}, pcid ${pcid}${g === 0 ? ", global" : ""})`,
                (s: S) => {
                  const flags = ENTRY_READ | (g === 0 ? ENTRY_GLOBAL : 0);
                  for (const t of [s.ref, s.fused])
                    t.fill(level, base + p * 4096, pcid, 0, 2 ** 40 + p * 4096, flags, pcid);
                },
              );
            }),
        },
        {
          weight: 1,
          arbitrary: fc
            .tuple(pcidArb, fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 3 }))
            .map(([pcid, level, drop]) =>
              drop === 0
                ? step(`fill a 2 MiB page (L${level + 1}, pcid ${pcid})`, (s: S) => {
                    for (const t of [s.ref, s.fused]) t.fill(level, base, pcid, 1, 2 ** 41, ENTRY_READ, pcid);
                  })
                : step(`invalidatePage(2 MiB page, pcid ${pcid})`, (s: S) => {
                    for (const t of [s.ref, s.fused]) t.invalidatePage(base, pcid, true);
                  }),
            ),
        },
        fc.tuple(pageArb, pcidArb).map(([p, pcid]) =>
          step(`invalidatePage(page ${p}, pcid ${pcid})`, (s: S) => {
            for (const t of [s.ref, s.fused]) t.invalidatePage(base + p * 4096, pcid, true);
          }),
        ),
        pcidArb.map((pcid) =>
          step(`invalidate(pcid ${pcid})`, (s: S) => {
            for (const t of [s.ref, s.fused]) t.invalidate("pcid", pcid);
          }),
        ),
        fc.tuple(pageArb, pcidArb).map(([p, pcid]) =>
          step(`markStale(page ${p}, pcid ${pcid})`, (s: S) => {
            for (const t of [s.ref, s.fused]) t.markStale(pcid, base + p * 4096, base + (p + 1) * 4096);
          }),
        ),
        {
          weight: 6,
          arbitrary: fc.tuple(pageArb, pcidArb).map(([p, pcid]) =>
            step(`miss(page ${p}, pcid ${pcid})`, (s: S) => {
              const la = base + p * 4096;
              const { ref, fused } = s;
              const l1 = ref.probe(0, la, pcid);
              const l2 = l1 >= 0 ? -1 : ref.probe(1, la, pcid);
              // The reference: an L1 hit, or missLevels' copy up of an L2 hit.
              if (l1 >= 0) ref.hit(l1);
              else if (l2 >= 0) {
                ref.hit(l2);
                ref.miss(0, ref.size[l2]!);
                ref.copy(0, l2);
              }
              fused.at[0] = la;
              const found = fused.probeBelow(pcid);
              // The one-piece path applies while every valid entry is of 4 KiB.
              const applies = ref.size.every((k, slot) => k === 0 || ref.pcid[slot] === -1);
              if (found >= 0) {
                expect(applies && l1 < 0).toBe(true);
                expect(found).toBe(l2);
                fused.hitBelow(found);
                fused.copyUp(found);
                seen.taken++;
                return;
              }
              if (found === BELOW_ABSENT) {
                expect(applies && l1 < 0 && l2 < 0).toBe(true);
                seen.absent++;
              } else {
                expect(found).toBe(-1);
                expect(!applies || l1 >= 0).toBe(true);
                seen.general++;
              }
              // The general path, as the caller takes it.
              if (l1 >= 0) fused.hit(l1);
              else if (l2 >= 0) {
                fused.hit(l2);
                fused.miss(0, fused.size[l2]!);
                fused.copy(0, l2);
              }
            }),
          ),
        },
      ),
    });
    // Each answer must come up, or the comparison above proves nothing about
    // it. Over 30 seeds the one-piece path was taken 48 to 95 times (mean 67,
    // sd 12), the others hundreds of times; 20 is far below any of them, so
    // this fails only when a change starves a path, not on an unlucky seed
    // (it failed at > 50 once in CI).
    for (const n of Object.values(seen)) expect(n).toBeGreaterThan(20);
  });
});

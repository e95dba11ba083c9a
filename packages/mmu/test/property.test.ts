import { type PageRights, UsageError } from "@memstack/core";
import { checkSequences, step } from "@memstack/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSv39Format, createX86_64Format, type PageTableFormat } from "../src/index.js";
import { GiB, type Machine, MiB, machine, P } from "./helpers.js";

// A plain reference model of the mappings: first 4 KiB page (relative to W) → mapping.
interface Mapping {
  size: number;
  phys: number;
  rights: PageRights;
}
interface State {
  m: Machine;
  /** 1 GiB-aligned window the steps work in. */
  w: number;
  model: Map<number, Mapping>;
  flushed: boolean;
}

const PAGES = 4 * 512; // the first 8 MiB hold 4 KiB and 2 MiB pages, so they collide
const UNITS: Record<number, number> = { 4096: 1, [2 * MiB]: 512, [GiB]: 262144 };

function covering(model: Map<number, Mapping>, page: number): [number, Mapping] | undefined {
  for (const size of [4096, 2 * MiB, GiB]) {
    const unit = UNITS[size]!;
    const key = page - (page % unit);
    const m = model.get(key);
    if (m !== undefined && m.size === size) return [key, m];
  }
  return undefined;
}

const rightsArb = fc.record({ write: fc.boolean(), user: fc.boolean(), execute: fc.boolean() });

function steps() {
  return fc.oneof(
    fc
      .tuple(fc.integer({ min: 0, max: PAGES - 1 }), fc.integer({ min: 1, max: 3 }), rightsArb, fc.nat(1000))
      .map(([page, n, rights, frame]) =>
        step(`map4K(+${page}, ${n}, ${JSON.stringify(rights)})`, (s: State) =>
          mapStep(s, page, n, 4096, rights, frame),
        ),
      ),
    fc
      .tuple(fc.integer({ min: 0, max: 3 }), rightsArb, fc.nat(100))
      .map(([slot, rights, frame]) =>
        step(`map2M(slot ${slot}, ${JSON.stringify(rights)})`, (s: State) =>
          mapStep(s, slot * 512, 1, 2 * MiB, rights, frame),
        ),
      ),
    fc
      .tuple(fc.integer({ min: 0, max: 1 }), rightsArb)
      .map(([slot, rights]) =>
        step(`map1G(slot ${slot}, ${JSON.stringify(rights)})`, (s: State) =>
          mapStep(s, slot * 262144, 1, GiB, rights, 1),
        ),
      ),
    fc
      .tuple(fc.integer({ min: 0, max: PAGES - 1 }), fc.integer({ min: 1, max: 700 }), fc.boolean())
      .map(([page, n, keep]) =>
        step(`unmap(+${page}, ${n}${keep ? ", keepTables" : ""})`, (s: State) =>
          rangeStep(s, page, n, null, keep),
        ),
      ),
    fc
      .tuple(fc.integer({ min: 0, max: Math.ceil(PAGES / 512) }), fc.integer({ min: 1, max: 3 }))
      .map(([region, n]) =>
        step(`freeTables(region ${region}, ${n})`, (s: State) => {
          s.m.mmu.freeTables(s.m.space, s.w + region * 2 * MiB, s.w + (region + n) * 2 * MiB);
        }),
      ),
    fc
      .tuple(fc.integer({ min: 0, max: PAGES - 1 }), fc.integer({ min: 1, max: 700 }), rightsArb)
      .map(([page, n, rights]) =>
        step(`protect(+${page}, ${n}, ${JSON.stringify(rights)})`, (s: State) =>
          rangeStep(s, page, n, rights),
        ),
      ),
    fc.constant(
      step("flush", (s: State) => {
        s.m.mmu.invalidateAddressSpace(s.m.space);
        s.flushed = true;
      }),
    ),
  );
}

function mapStep(s: State, page: number, n: number, size: number, rights: PageRights, frame: number): void {
  const unit = UNITS[size]!;
  const phys = (frame + 1) * size;
  let clash = false;
  for (let p = page; p < page + n * unit; p++) {
    const c = covering(s.model, p);
    if (c !== undefined && c[1].size !== size) clash = true;
  }
  const call = () => s.m.mmu.map(s.m.space, s.w + page * 4096, P(phys), n * size, size, rights);
  if (clash) {
    expect(call).toThrow(UsageError);
    return;
  }
  expect(call()).toBe(true);
  for (let i = 0; i < n; i++) s.model.set(page + i * unit, { size, phys: phys + i * size, rights });
  s.flushed = false;
}

function rangeStep(s: State, page: number, n: number, rights: PageRights | null, keep = false): void {
  const end = page + n;
  let cuts = false;
  const inside: number[] = [];
  for (const [key, m] of s.model) {
    const last = key + UNITS[m.size]!;
    if (last <= page || key >= end) continue;
    if (key < page || last > end) cuts = true;
    inside.push(key);
  }
  const mmu = s.m.mmu;
  const call = () =>
    rights === null
      ? mmu.unmap(s.m.space, s.w + page * 4096, n * 4096, keep)
      : mmu.protect(s.m.space, s.w + page * 4096, n * 4096, rights);
  if (cuts) {
    expect(call).toThrow(UsageError);
    return;
  }
  const changed = call();
  if (rights === null) {
    expect(changed).toBe(inside.length);
    for (const k of inside) s.model.delete(k);
  } else {
    for (const k of inside) s.model.set(k, { ...s.model.get(k)!, rights });
  }
  s.flushed = false;
}

// A user-mode read: not present → U (4); present but not user → P|U (5).
function expectedError(m: Mapping | undefined): number {
  if (m === undefined) return 4;
  return m.rights.user ? -1 : 5;
}

function compare(s: State): void {
  const { mmu, space } = s.m;
  s.m.mmu.check();
  const probes = new Set<number>([0, PAGES - 1, 262144, 262144 + 77]);
  for (const [key, m] of s.model) {
    probes.add(key);
    probes.add(key + UNITS[m.size]! - 1);
  }
  for (const page of probes) {
    const c = covering(s.model, page);
    const q = mmu.query(space, s.w + page * 4096 + 8);
    if (c === undefined) {
      expect(q, `query +${page}`).toBeNull();
    } else {
      const [key, m] = c;
      expect(q, `query +${page}`).toMatchObject({
        virt: s.w + key * 4096,
        phys: m.phys,
        pageSize: m.size,
        write: m.rights.write,
        user: m.rights.user,
        execute: m.rights.execute,
      });
    }
    if (s.flushed) {
      // With the TLB flushed since the last edit, hardware translation agrees with the model.
      const t = mmu.translate(s.w + page * 4096 + 8, "read");
      const m = c?.[1];
      expect(t.errorCode, `translate +${page}`).toBe(expectedError(m));
      if (m !== undefined && t.errorCode === -1) expect(t.phys).toBe(m.phys + (page - c![0]) * 4096 + 8);
    }
  }
}

describe.each([
  ["x86-64", createX86_64Format(), 0x7f00_0000_0000],
  ["Sv39", createSv39Format(), 0x20_0000_0000],
] as [string, PageTableFormat, number][])(
  "random map/unmap/protect on %s against a plain model",
  (_name, format, w) => {
    it("agrees on every translation and keeps check() clean", () => {
      checkSequences<State>({
        setup: () => ({ m: machine({ format }), w, model: new Map(), flushed: true }),
        steps: steps(),
        check: compare,
        numRuns: 40,
        maxSteps: 30,
      });
    });
  },
);

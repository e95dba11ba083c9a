/**
 * A property test of what processes read back: random writes, reads, forks,
 * shared and private mappings, protection changes, advice and reclaim on a
 * small machine with swap, every read compared with a model of what was
 * written. Where the structural `check()` of a kernel proves that every frame
 * and slot is accounted for, this proves that the bytes in them are the right
 * ones: a page swapped out, read back, shared, copied on write or written
 * again must hold what its process last wrote there (or what a process
 * sharing it did), and zeros where nothing was.
 *
 * The model: each process's private pages by address, each shared mapping's
 * object by page offset (a fork's child gets a copy of the first and the same
 * objects), one byte per page (at offset 7). A write or read the protection
 * forbids must fault; a process the OOM killer takes leaves the model;
 * mremap moves or resizes private mappings only (a shared one grown past
 * its object would SIGBUS, which the model does not follow).
 */
import {
  Fault,
  MADV_COLD,
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MADV_PAGEOUT,
  MADV_WILLNEED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  virtAddr,
} from "@memstack/core";
import fc from "fast-check";
import { expect } from "vitest";
import { checkSequences, step } from "./sequences.js";

/** The calls the property makes on a process (a kernel's `Process`). */
export interface ContentProcess {
  readonly alive: boolean;
  mmap(addr: number, length: number, prot: number, flags: number): number;
  munmap(addr: number, length: number): number;
  mprotect(addr: number, length: number, prot: number): number;
  madvise(addr: number, length: number, advice: number): number;
  mremap(addr: number, oldLength: number, newLength: number, flags: number, newAddr?: number): number;
  fork(name?: string): ContentProcess | null;
  exit(): void;
  loadU8(addr: ReturnType<typeof virtAddr>): number;
  storeU8(addr: ReturnType<typeof virtAddr>, value: number): void;
}

/** A machine the property runs on. */
export interface ContentSystem {
  /** A new process. */
  spawn(): ContentProcess;
  /** The machine's invariant check. */
  check(): void;
  /** Runs reclaim over up to `pages` pages, as memory pressure does. */
  reclaim(pages: number): void;
}

/** Options of {@link checkContents}. */
export interface ContentOptions {
  /** A fresh machine with a small RAM, some swap, and overcommit mode 1. */
  setup: () => ContentSystem;
  /** Whether some mappings are 2 MiB under MADV_HUGEPAGE: transparent huge pages, split as they go. */
  hugePages?: boolean;
  /** Largest mapping, and most pages one write or read step touches. @defaultValue 24 */
  maxPages?: number;
  numRuns?: number;
  maxSteps?: number;
}

const PAGE = 4096;
const OFF = 7;
const PROT_NONE = 0;
const PROT_READ = 1;
const RW = 3;

interface Mapping {
  start: number;
  pages: number;
  /** A shared mapping's object (its bytes by page offset), or null. */
  object: Map<number, number> | null;
  prot: number[];
}

interface Proc {
  p: ContentProcess;
  maps: Mapping[];
  /** Private bytes by address. */
  priv: Map<number, number>;
}

interface State {
  sys: ContentSystem;
  procs: Proc[];
}

function live(s: State): Proc[] {
  // The OOM killer may have taken any of them, at any step.
  s.procs = s.procs.filter((q) => q.p.alive);
  return s.procs;
}

function pickProc(s: State, k: number): Proc | undefined {
  const l = live(s);
  return l.length === 0 ? undefined : l[k % l.length];
}

// Runs `fn` for `q`; a kill of `q` (by the OOM killer, during the call) ends it quietly.
function killable(q: Proc, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!q.p.alive && !(e instanceof Fault)) return;
    throw e;
  }
}

// Runs `fn` on mapping `m` of process `k`, when there is such a process
// and mapping; a kill of the process during it ends it quietly.
function withMapping(s: State, k: number, m: number, fn: (q: Proc, map: Mapping) => void): void {
  const q = pickProc(s, k);
  const map = q === undefined || q.maps.length === 0 ? undefined : q.maps[m % q.maps.length];
  if (q !== undefined && map !== undefined) killable(q, () => fn(q, map));
}

// Runs `fn` on `count` pages (clamped to the mapping) from page `page` of mapping `m` of process `k`.
function onRange(
  s: State,
  k: number,
  m: number,
  page: number,
  count: number,
  fn: (q: Proc, map: Mapping, first: number, pages: number) => void,
): void {
  withMapping(s, k, m, (q, map) => {
    const first = page % map.pages;
    fn(q, map, first, Math.min(count, map.pages - first));
  });
}

// Runs `fn` for `count` pages from page `page` of mapping `m` of process
// `k`, wrapping round the mapping's end: page index and byte address.
function eachPage(
  s: State,
  k: number,
  m: number,
  page: number,
  count: number,
  fn: (q: Proc, map: Mapping, pg: number, at: ReturnType<typeof virtAddr>, i: number) => void,
): void {
  withMapping(s, k, m, (q, map) => {
    for (let i = 0; i < count; i++) {
      const pg = (page + i) % map.pages;
      fn(q, map, pg, virtAddr(map.start + pg * PAGE + OFF), i);
    }
  });
}

function expected(q: Proc, m: Mapping, page: number): number {
  return m.object !== null ? (m.object.get(page) ?? 0) : (q.priv.get(m.start + page * PAGE) ?? 0);
}

function expectFault(fn: () => unknown, access: "read" | "write"): void {
  let fault: unknown = null;
  try {
    fn();
  } catch (e) {
    fault = e;
  }
  expect(fault, `the ${access} should fault`).toBeInstanceOf(Fault);
}

/** Runs the property: every read returns what the model says was written. */
export function checkContents(options: ContentOptions): void {
  const nat = fc.nat();
  const span = fc.integer({ min: 1, max: options.maxPages ?? 24 });
  checkSequences<State>({
    setup: () => {
      const sys = options.setup();
      return { sys, procs: [{ p: sys.spawn(), maps: [], priv: new Map() }] };
    },
    check: (s) => s.sys.check(),
    numRuns: options.numRuns ?? 40,
    maxSteps: options.maxSteps ?? 50,
    steps: fc.oneof(
      fc.tuple(nat, span, fc.boolean()).map(([k, pages, shared]) =>
        step(`mmap(#${k}, ${pages}p, ${shared ? "shared" : "private"})`, (s: State) => {
          const q = pickProc(s, k);
          if (q === undefined) return;
          killable(q, () => {
            const a = q.p.mmap(0, pages * PAGE, RW, shared ? MAP_SHARED : MAP_PRIVATE);
            expect(a).toBeGreaterThan(0);
            q.maps.push({ start: a, pages, object: shared ? new Map() : null, prot: Array(pages).fill(RW) });
          });
        }),
      ),
      fc.nat().map((k) =>
        step(`mmap-huge(#${k})`, (s: State) => {
          const q = pickProc(s, k);
          if (q === undefined || options.hugePages !== true) return;
          const pages = 512;
          killable(q, () => {
            const a = q.p.mmap(0, pages * PAGE, RW, MAP_PRIVATE);
            expect(a).toBeGreaterThan(0);
            expect(q.p.madvise(a, pages * PAGE, MADV_HUGEPAGE)).toBe(0);
            q.maps.push({ start: a, pages, object: null, prot: Array(pages).fill(RW) });
          });
        }),
      ),
      {
        weight: 4,
        arbitrary: fc
          .tuple(nat, nat, nat, span, fc.integer({ min: 1, max: 255 }))
          .map(([k, m, page, count, value]) =>
            step(`write(#${k}, map ${m}, page ${page}, ${count}p, ${value})`, (s: State) =>
              eachPage(s, k, m, page, count, (q, map, pg, at, i) => {
                if (map.prot[pg] !== RW) {
                  expectFault(() => q.p.storeU8(at, value), "write");
                  return;
                }
                const v = (value + i) & 0xff;
                q.p.storeU8(at, v);
                if (map.object !== null) map.object.set(pg, v);
                else q.priv.set(map.start + pg * PAGE, v);
              }),
            ),
          ),
      },
      {
        weight: 4,
        arbitrary: fc.tuple(nat, nat, nat, span).map(([k, m, page, count]) =>
          step(`read(#${k}, map ${m}, page ${page}, ${count}p)`, (s: State) =>
            eachPage(s, k, m, page, count, (q, map, pg, at) => {
              if (map.prot[pg] === PROT_NONE) {
                expectFault(() => q.p.loadU8(at), "read");
                return;
              }
              const got = q.p.loadU8(at);
              expect(got, `process read 0x${(map.start + pg * PAGE).toString(16)}`).toBe(
                expected(q, map, pg),
              );
            }),
          ),
        ),
      },
      nat.map((k) =>
        step(`fork(#${k})`, (s: State) => {
          const q = pickProc(s, k);
          if (q === undefined || live(s).length >= 5) return;
          killable(q, () => {
            const child = q.p.fork();
            if (child === null) return;
            s.procs.push({
              p: child,
              maps: q.maps.map((m) => ({ ...m, prot: [...m.prot] })),
              priv: new Map(q.priv),
            });
          });
        }),
      ),
      nat.map((k) =>
        step(`exit(#${k})`, (s: State) => {
          const q = pickProc(s, k);
          if (q !== undefined && live(s).length > 1) q.p.exit();
        }),
      ),
      fc
        .tuple(nat, nat, nat, fc.integer({ min: 1, max: 8 }), fc.constantFrom(PROT_NONE, PROT_READ, RW))
        .map(([k, m, page, count, prot]) =>
          step(`mprotect(#${k}, map ${m}, page ${page}, ${count}p, ${prot})`, (s: State) =>
            onRange(s, k, m, page, count, (q, map, pg, n) => {
              expect(q.p.mprotect(map.start + pg * PAGE, n * PAGE, prot)).toBe(0);
              for (let i = 0; i < n; i++) map.prot[pg + i] = prot;
            }),
          ),
        ),
      fc
        .tuple(
          nat,
          nat,
          nat,
          span,
          fc.constantFrom(MADV_PAGEOUT, MADV_PAGEOUT, MADV_COLD, MADV_WILLNEED, MADV_DONTNEED),
        )
        .map(([k, m, page, count, advice]) =>
          step(`madvise(#${k}, map ${m}, page ${page}, ${count}p, ${advice})`, (s: State) =>
            onRange(s, k, m, page, count, (q, map, pg, n) => {
              expect(q.p.madvise(map.start + pg * PAGE, n * PAGE, advice)).toBe(0);
              // MADV_DONTNEED: private pages read as zeros again; shared ones keep their bytes.
              if (advice === MADV_DONTNEED && map.object === null)
                for (let i = 0; i < n; i++) q.priv.delete(map.start + (pg + i) * PAGE);
            }),
          ),
        ),
      fc.tuple(nat, nat).map(([k, m]) =>
        step(`munmap(#${k}, map ${m})`, (s: State) =>
          withMapping(s, k, m, (q, map) => {
            expect(q.p.munmap(map.start, map.pages * PAGE)).toBe(0);
            q.maps.splice(q.maps.indexOf(map), 1);
            for (let i = 0; i < map.pages; i++) q.priv.delete(map.start + i * PAGE);
          }),
        ),
      ),
      fc.tuple(nat, nat, span).map(([k, m, pages]) =>
        step(`mremap(#${k}, map ${m}, ${pages}p)`, (s: State) =>
          withMapping(s, k, m, (q, map) => {
            // One VMA only (mremap refuses a range across several): one protection throughout.
            if (map.object !== null || map.prot.some((p) => p !== map.prot[0])) return;
            const r = q.p.mremap(map.start, map.pages * PAGE, pages * PAGE, MREMAP_MAYMOVE);
            if (r < 0) return;
            const kept: [number, number][] = [];
            for (let i = 0; i < map.pages; i++) {
              const v = q.priv.get(map.start + i * PAGE);
              q.priv.delete(map.start + i * PAGE);
              if (v !== undefined && i < pages) kept.push([r + i * PAGE, v]);
            }
            for (const [a, v] of kept) q.priv.set(a, v);
            const prot = map.prot[0]!;
            map.start = r;
            map.pages = pages;
            map.prot = Array(pages).fill(prot);
          }),
        ),
      ),
      fc.integer({ min: 1, max: 64 }).map((n) => step(`reclaim(${n})`, (s: State) => s.sys.reclaim(n))),
    ),
  });
}

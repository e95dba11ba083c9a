/**
 * Tlb: a translation lookaside buffer with the shape of a real one —
 * levels (an L1 dTLB, a second-level STLB), each made of set-associative
 * arrays for particular page sizes, entries tagged with a PCID/ASID, global
 * entries, LRU or tree pseudo-LRU replacement, and per-level, per-size
 * statistics.
 *
 * Models: Intel SDM vol. 3A §4.10 — a TLB caches translations, not page
 * tables, so after software changes an entry the old translation stays
 * until it is invalidated (INVLPG, INVPCID, a CR3 write without PCIDs) or
 * evicted; entries are tagged with the PCID current when they were filled,
 * and global entries match every PCID. Not-present translations are never
 * cached. The cached entry remembers the rights, Accessed and Dirty state
 * that the walk saw.
 *
 * Simplifies: one TLB for data and instruction fetches (no separate ITLB);
 * an L1 miss that hits in a lower level copies the entry into the levels
 * above it (neither inclusive nor exclusive is enforced); timing is not
 * modelled, only counts.
 * Neighbours: the MMU (mmu.ts) probes it on every access and fills it from
 * the page walker (page-walk.ts).
 *
 * Layout: all entries of all arrays live in one set of typed arrays, slot
 * numbers running array by array, set by set, way by way:
 *
 *     slot = arrayBase + set × ways + way,   set = ⌊la / pageSize⌋ mod sets
 *
 *     tag[slot]    linear address of the page (NaN: invalid)
 *     pcid[slot]   tag of the address space (-1: invalid)
 *     size[slot]   index of the page size
 *     phys[slot]   physical address of the page
 *     flags[slot]  ENTRY_* rights, G, A, D as the walk saw them
 *     gen[slot]    bumped whenever the slot is invalidated or refilled
 *
 * Worked example (default shape): the 4 KiB page at la 0x7f12_3456_7000 has
 * vpn 0x7f1234567, so it lives in L1 set 0x7 (16 sets) and STLB set 0x67
 * (128 sets).
 *
 * Invariants (see `check()`): a valid slot's tag is aligned to its size and
 * indexes its own set; no two valid slots of a set hold the same page for
 * the same PCID; invalid slots have pcid -1; LRU stamps are below the clock;
 * PLRU state fits the set.
 */
import { CorruptionError, UsageError } from "@memstack/core";
import type { TlbArrayConfig, TlbLevelConfig, TlbLevelStats, TlbOptions, TlbSizeStats } from "./api.js";
import * as api from "./api.js";

// The constants this module reads on its hot paths, bound here (see
// "Constants on hot paths" in the root README).
const { ENTRY_GLOBAL } = api;

const PKG = "@memstack/mmu";
/** Ranges up to this many bytes are marked stale by probing their sets; larger ones by a full scan. */
const STALE_PROBE_LIMIT = 64 * 4096;

/**
 * The TLB of an Intel Skylake core's data side (Intel Optimization Manual,
 * table 2-15): L1 dTLB with 64 entries 4-way for 4 KiB, 32 entries 4-way
 * for 2 MiB and 4 fully associative entries for 1 GiB pages; a 1536-entry
 * 12-way STLB shared by 4 KiB and 2 MiB pages and 16 entries 4-way for 1 GiB.
 */
export const SKYLAKE_TLB: readonly TlbLevelConfig[] = [
  {
    name: "L1 dTLB",
    arrays: [
      { pageSizes: [4096], sets: 16, ways: 4 },
      { pageSizes: [2 ** 21], sets: 8, ways: 4 },
      { pageSizes: [2 ** 30], sets: 1, ways: 4 },
    ],
  },
  {
    name: "STLB",
    arrays: [
      { pageSizes: [4096, 2 ** 21], sets: 128, ways: 12 },
      { pageSizes: [2 ** 30], sets: 4, ways: 4 },
    ],
  },
];

const SIZE_NAMES: Record<number, string> = { 4096: "4K", [2 ** 21]: "2M", [2 ** 30]: "1G" };

/** The short name of a page size: `"4K"`, `"2M"`, `"1G"`. */
export function pageSizeName(size: number): string {
  return SIZE_NAMES[size] ?? `${size}`;
}

function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}

/** {@link Tlb.probeBelow}'s answer when neither level holds the page. */
export const BELOW_ABSENT = -2;

/** A multi-level, set-associative, PCID-tagged TLB over typed arrays. */
export class Tlb {
  /** Page sizes known to the TLB, ascending; entries store an index into it. */
  readonly pageSizes: readonly number[];
  /** Number of levels. */
  readonly levelCount: number;
  /** Total number of entries over every level. */
  readonly slotCount: number;
  /** Linear address of each slot's page; NaN when invalid. */
  readonly tag: Float64Array;
  /** PCID/ASID of each slot; -1 when invalid. */
  readonly pcid: Int32Array;
  /** Page-size index of each slot. */
  readonly size: Uint8Array;
  /** Physical address of each slot's page. */
  readonly phys: Float64Array;
  /** ENTRY_* bits of each slot. */
  readonly flags: Uint8Array;
  /** Address space that filled each slot. */
  readonly space: Int32Array;
  /** Generation of each slot, bumped on every invalidation or refill. */
  readonly gen: Int32Array;
  /** Set when the tables changed under a slot that was not invalidated yet (see `markStale`). */
  readonly stale: Uint8Array;
  /**
   * Fills since the TLB was made: while it has not moved, no address the
   * TLB did not hold has come into it (only a fill adds an entry).
   */
  fills = 0;
  /**
   * The set each slot belongs to, numbered across every array of every
   * level. Recency (LRU stamps, PLRU bits) is compared only within a set,
   * so touches of slots in different sets commute.
   */
  readonly setOf: Int32Array;
  /**
   * Argument registers of {@link Tlb.probeAt} and {@link Tlb.fillAt}: [0]
   * a linear address, [1] a physical address.
   */
  readonly at = new Float64Array(2);

  private readonly names: string[];
  private readonly plru: boolean;
  // 1 for LRU, 0 for PLRU: a number, so touch() tests no boolean field.
  private readonly lru: number;
  // Index in `counts` of each slot's hit counter (level and page size), set when it is filled.
  private readonly hitCounter: Int32Array;
  // Valid entries of each page size in each level ([level * sizes + k]): a
  // probe skips the sizes a level holds none of.
  private readonly sizeCount: Int32Array;
  // Internal state is TypeScript-private, not #private: V8 (Node 20) reads
  // #fields markedly slower on these paths (measured).
  // Per array: level, first slot, sets, ways, first set number (for PLRU bits).
  private readonly arrLevel: number[] = [];
  private readonly arrBase: number[] = [];
  private readonly arrSets: number[] = [];
  private readonly arrWays: number[] = [];
  private readonly arrSetBase: number[] = [];
  // Array holding page-size index k at level l: #arrayFor[l * sizes + k].
  private readonly arrayFor: Int32Array;
  // First set number and set mask of that array, by the same index (for setFor).
  private readonly setBaseFor: Int32Array;
  private readonly setMaskFor: Int32Array;
  // 1 / page size, by size index: set numbers come from a multiplication
  // (exact for powers of two) rather than a division.
  private readonly inverse: Float64Array;
  private readonly slotArray: Int32Array;
  private readonly stamp: Float64Array;
  private readonly plruBits: Int32Array;
  // The LRU clock, one element: the MMU shares its own, so that a stamp
  // taken for a hit it counted itself orders against the TLB's (see hitsAt).
  private readonly clock: Float64Array;
  // Counters: [(level * sizes + k) * 3 + {0 hits, 1 misses, 2 evictions}], plus misses per level.
  private readonly counts: Float64Array;
  private readonly levelMisses: Float64Array;

  /**
   * `clock`, one element, is the LRU clock: every touch takes the next
   * tick from it (a caller that stamps its own cached hits from the same
   * clock passes it; see {@link Tlb.hitsAt}).
   *
   * @throws {UsageError} for a shape that is not valid for `pageSizes`.
   */
  constructor(pageSizes: readonly number[], options: TlbOptions = {}, clock = new Float64Array(1)) {
    this.clock = clock;
    // The default shape keeps only the arrays for page sizes the format has.
    const levels =
      options.levels ??
      SKYLAKE_TLB.map((l) => ({
        name: l.name,
        arrays: l.arrays
          .map((a) => ({ ...a, pageSizes: a.pageSizes.filter((s) => pageSizes.includes(s)) }))
          .filter((a) => a.pageSizes.length > 0),
      }));
    const replacement = options.replacement ?? "lru";
    if (replacement !== "lru" && replacement !== "plru") {
      throw new UsageError(
        PKG,
        `Tlb: replacement must be "lru" or "plru", got ${String(replacement)}`,
        "replacement",
      );
    }
    if (!Array.isArray(levels) || levels.length === 0) {
      throw new UsageError(PKG, "Tlb: levels must list at least one level", "levels");
    }
    this.pageSizes = pageSizes;
    this.inverse = Float64Array.from(pageSizes, (s) => 1 / s);
    this.levelCount = levels.length;
    this.plru = replacement === "plru";
    this.lru = this.plru ? 0 : 1;
    this.names = levels.map((l) => String(l.name));
    const nSizes = pageSizes.length;
    this.arrayFor = new Int32Array(levels.length * nSizes).fill(-1);
    let slots = 0;
    let sets = 0;
    levels.forEach((level, l) => {
      for (const arr of level.arrays as readonly TlbArrayConfig[]) {
        if (!isPow2(arr.sets)) {
          throw new UsageError(
            PKG,
            `Tlb: ${level.name}: sets must be a power of two, got ${arr.sets}`,
            "sets",
          );
        }
        if (!Number.isInteger(arr.ways) || arr.ways < 1 || arr.ways > 32) {
          throw new UsageError(PKG, `Tlb: ${level.name}: ways must be in [1, 32], got ${arr.ways}`, "ways");
        }
        if (this.plru && !isPow2(arr.ways)) {
          throw new UsageError(
            PKG,
            `Tlb: ${level.name}: tree pseudo-LRU needs a power-of-two number of ways, got ${arr.ways}`,
            "ways",
          );
        }
        const a = this.arrLevel.length;
        for (const size of arr.pageSizes) {
          const k = pageSizes.indexOf(size);
          if (k < 0) {
            throw new UsageError(
              PKG,
              `Tlb: ${level.name}: page size ${size} is not one of the format's (${pageSizes.join(", ")})`,
              "pageSizes",
            );
          }
          if (this.arrayFor[l * nSizes + k] !== -1) {
            throw new UsageError(
              PKG,
              `Tlb: ${level.name}: two arrays hold ${pageSizeName(size)} pages`,
              "pageSizes",
            );
          }
          this.arrayFor[l * nSizes + k] = a;
        }
        this.arrLevel.push(l);
        this.arrBase.push(slots);
        this.arrSets.push(arr.sets);
        this.arrWays.push(arr.ways);
        this.arrSetBase.push(sets);
        slots += arr.sets * arr.ways;
        sets += arr.sets;
      }
      for (let k = 0; k < nSizes; k++) {
        if (this.arrayFor[l * nSizes + k] === -1) {
          throw new UsageError(
            PKG,
            `Tlb: ${level.name} holds no array for ${pageSizeName(pageSizes[k]!)} pages`,
            "levels",
          );
        }
      }
    });
    this.slotCount = slots;
    this.tag = new Float64Array(slots).fill(Number.NaN);
    this.pcid = new Int32Array(slots).fill(-1);
    this.size = new Uint8Array(slots);
    this.phys = new Float64Array(slots);
    this.flags = new Uint8Array(slots);
    this.space = new Int32Array(slots).fill(-1);
    this.gen = new Int32Array(slots);
    this.stale = new Uint8Array(slots);
    this.stamp = new Float64Array(slots);
    this.plruBits = new Int32Array(sets);
    this.slotArray = new Int32Array(slots);
    this.hitCounter = new Int32Array(slots);
    this.sizeCount = new Int32Array(levels.length * nSizes);
    this.setOf = new Int32Array(slots);
    for (let a = 0; a < this.arrBase.length; a++) {
      this.slotArray.fill(a, this.arrBase[a]!, this.arrBase[a]! + this.arrSets[a]! * this.arrWays[a]!);
      for (let set = 0; set < this.arrSets[a]!; set++) {
        const first = this.arrBase[a]! + set * this.arrWays[a]!;
        this.setOf.fill(this.arrSetBase[a]! + set, first, first + this.arrWays[a]!);
      }
    }
    this.setBaseFor = this.arrayFor.map((a) => this.arrSetBase[a]!);
    this.setMaskFor = this.arrayFor.map((a) => this.arrSets[a]! - 1);
    this.counts = new Float64Array(levels.length * nSizes * 3);
    this.levelMisses = new Float64Array(levels.length);
  }

  /** Level of a slot. */
  levelOf(slot: number): number {
    return this.arrLevel[this.slotArray[slot]!]!;
  }

  /**
   * The set (numbered as in {@link Tlb.setOf}) that holds pages of size
   * index `sizeIndex` containing linear address `la` in `level`: the only
   * set of that size a probe, hit, fill or invalidation of `la` can touch.
   *
   * @returns the set number (every level has an array for every size).
   */
  setFor(level: number, sizeIndex: number, la: number): number {
    return this.setOfPage(level, sizeIndex, la);
  }

  /** {@link Tlb.setFor} for the linear address in `at[0]`. */
  setForAt(level: number, sizeIndex: number): number {
    return this.setOfPage(level, sizeIndex, this.at[0]!);
  }

  /**
   * The set (numbered as in {@link Tlb.setOf}) of `level` that a copy of
   * slot `src`'s entry goes to: {@link Tlb.setFor} of its page size and tag.
   */
  setForCopy(level: number, src: number): number {
    return this.setOfPage(level, this.size[src]!, this.tag[src]!);
  }

  // The one formula behind setFor, setForAt and setForCopy (small enough
  // to inline, so `la` is not boxed on the hot paths that reach it).
  private setOfPage(level: number, sizeIndex: number, la: number): number {
    const i = level * this.pageSizes.length + sizeIndex;
    return this.setBaseFor[i]! + ((la * this.inverse[sizeIndex]!) & this.setMaskFor[i]!);
  }

  /**
   * Finds the entry of `level` that translates linear address `la` for
   * `pcid` (or a global one), trying every page size the level holds.
   *
   * @returns the slot, or -1.
   */
  probe(level: number, la: number, pcid: number): number {
    this.at[0] = la;
    return this.probeAt(level, pcid);
  }

  /**
   * {@link Tlb.probe} for the linear address in `at[0]`: a caller on a hot
   * path passes addresses above 2^31 through the typed array, where they
   * need no heap number per call.
   *
   * @returns the slot, or -1.
   */
  probeAt(level: number, pcid: number): number {
    const la = this.at[0]!;
    const nSizes = this.pageSizes.length;
    for (let k = 0; k < nSizes; k++) {
      // No entry of this size in the level (the usual case for huge pages): nothing to search.
      if (this.sizeCount[level * nSizes + k] === 0) continue;
      const a = this.arrayFor[level * nSizes + k]!;
      const size = this.pageSizes[k]!;
      const ways = this.arrWays[a]!;
      const first = this.arrBase[a]! + ((la * this.inverse[k]!) & (this.arrSets[a]! - 1)) * ways;
      const pageLa = la - (la & (size - 1));
      for (let s = first; s < first + ways; s++) {
        if (
          this.tag[s] === pageLa &&
          this.size[s] === k &&
          (this.pcid[s] === pcid || (this.flags[s]! & ENTRY_GLOBAL) !== 0)
        ) {
          return s;
        }
      }
    }
    return -1;
  }

  /**
   * The usual first-level miss, found without changing anything. In a TLB
   * of two levels under LRU whose entries are all of the smallest page
   * size, for the page at linear `at[0]` (page-aligned) and `pcid`: the
   * second level's slot that probeAt(1) would find when probeAt(0) finds
   * none; {@link BELOW_ABSENT} when neither level holds the page. -1 when
   * the TLB is not of that kind or its first level holds the page: the
   * caller then probes level by level.
   */
  probeBelow(pcid: number): number {
    if (this.lru !== 1 || this.levelCount !== 2) return -1;
    const nSizes = this.pageSizes.length;
    const counts = this.sizeCount;
    for (let k = 1; k < nSizes; k++) if (counts[k] !== 0 || counts[nSizes + k] !== 0) return -1;
    const pageLa = this.at[0]!;
    const tags = this.tag;
    const pcids = this.pcid;
    const flags = this.flags;
    // (Each loop's bound in a local: V8 loads a typed array's element again at every test.)
    if (counts[0] !== 0) {
      const a = this.arrayFor[0]!;
      const first = this.firstOfSet(a, pageLa);
      const end = first + this.arrWays[a]!;
      for (let s = first; s < end; s++) {
        if (tags[s] === pageLa && (pcids[s] === pcid || (flags[s]! & ENTRY_GLOBAL) !== 0)) return -1;
      }
    }
    if (counts[nSizes] === 0) return BELOW_ABSENT;
    const a = this.arrayFor[nSizes]!;
    const first = this.firstOfSet(a, pageLa);
    const end = first + this.arrWays[a]!;
    for (let s = first; s < end; s++) {
      if (tags[s] === pageLa && (pcids[s] === pcid || (flags[s]! & ENTRY_GLOBAL) !== 0)) return s;
    }
    return BELOW_ABSENT;
  }

  // The first slot of the set of array `a` that holds the smallest page at `pageLa`.
  private firstOfSet(a: number, pageLa: number): number {
    return this.arrBase[a]! + ((pageLa * this.inverse[0]!) & (this.arrSets[a]! - 1)) * this.arrWays[a]!;
  }

  /**
   * What a miss of the first level that the second one serves counts, for
   * slot `src` from {@link Tlb.probeBelow}: its hit (the slot made most
   * recently used) and the first level's miss.
   */
  hitBelow(src: number): void {
    this.hit(src);
    this.miss(0, 0);
  }

  /**
   * {@link Tlb.copy} into the first level of slot `src` from
   * {@link Tlb.probeBelow}: the same fill (the page's slot if the set has
   * one, else its first free way, else its least recently used), made
   * without fillAt's search for the page size's array.
   *
   * @returns the slot filled.
   */
  copyUp(src: number): number {
    const tags = this.tag;
    const pcids = this.pcid;
    const sizes = this.size;
    const stamps = this.stamp;
    const pageLa = tags[src]!;
    const pcid = pcids[src]!;
    this.fills++;
    const a = this.arrayFor[0]!;
    const first = this.firstOfSet(a, pageLa);
    let slot = -1;
    let free = -1;
    let oldest = first;
    let oldestStamp = Number.POSITIVE_INFINITY;
    const end = first + this.arrWays[a]!;
    for (let s = first; s < end; s++) {
      const p = pcids[s]!;
      if (p === -1) {
        if (free < 0) free = s;
      } else if (tags[s] === pageLa && sizes[s] === 0 && p === pcid) {
        slot = s;
      } else if (stamps[s]! < oldestStamp) {
        oldest = s;
        oldestStamp = stamps[s]!;
      }
    }
    if (slot < 0) {
      slot = free >= 0 ? free : oldest;
      // An eviction of an entry of the first level (all of the smallest size).
      if (pcids[slot] !== -1) this.count(2, 1);
    }
    if (pcids[slot] !== -1) this.sizeCount[0]!--;
    this.sizeCount[0]!++;
    tags[slot] = pageLa;
    pcids[slot] = pcid;
    sizes[slot] = 0;
    this.phys[slot] = this.phys[src]!;
    this.flags[slot] = this.flags[src]!;
    this.space[slot] = this.space[src]!;
    this.stale[slot] = this.stale[src]!;
    this.gen[slot] = this.gen[slot]! + 1;
    this.hitCounter[slot] = 0;
    this.touch(slot);
    return slot;
  }

  private count(i: number, n: number): void {
    this.counts[i] = this.counts[i]! + n;
  }

  /** Records a hit on `slot` (counts it, makes it most recently used). */
  hit(slot: number): void {
    const i = this.hitCounter[slot]!;
    this.counts[i] = this.counts[i]! + 1;
    this.touch(slot);
  }

  /** Records `n` hits on `slot` made by a caller that cached it (the MMU's register). */
  hits(slot: number, n: number): void {
    const i = this.hitCounter[slot]!;
    this.counts[i] = this.counts[i]! + n;
    this.touch(slot);
  }

  /** Whether replacement is exact LRU, whose recency {@link Tlb.hitsAt} may set from a stamp. */
  get stampsRecency(): boolean {
    return this.lru === 1;
  }

  /**
   * Records `n` hits on `slot` made by a caller that cached it, the last at
   * tick `at` of the shared clock (LRU only): the slot becomes as recent as
   * that tick. Exact when nothing has touched the slot's set since `at`
   * was taken, so that, handed over in any order, the slots of a set keep
   * the order of their last hits.
   */
  hitsAt(slot: number, n: number, at: number): void {
    const i = this.hitCounter[slot]!;
    this.counts[i] = this.counts[i]! + n;
    if (this.stamp[slot]! < at) this.stamp[slot] = at;
  }

  /** Records a miss in `level`; `sizeIndex` is the size it resolved to, or -1 for a fault. */
  miss(level: number, sizeIndex: number): void {
    this.levelMisses[level] = this.levelMisses[level]! + 1;
    if (sizeIndex >= 0) this.count((level * this.pageSizes.length + sizeIndex) * 3 + 1, 1);
  }

  /** Makes `slot` the most recently used of its set. */
  touch(slot: number): void {
    if (this.lru === 1) {
      const c = this.clock[0]! + 1;
      this.clock[0] = c;
      this.stamp[slot] = c;
      return;
    }
    // Tree PLRU: walk from the root to the leaf of this way, pointing every
    // node on the way at the other half. Node n's children are 2n+1, 2n+2;
    // bit n = 1 means "the victim is in the upper half".
    // Example, 4 ways, touching way 2: root points low (bit0 = 0), node 2 points at way 3 (bit2 = 1).
    const a = this.slotArray[slot]!;
    const ways = this.arrWays[a]!;
    const rel = slot - this.arrBase[a]!;
    const setIndex = this.arrSetBase[a]! + Math.floor(rel / ways);
    const way = rel % ways;
    let bits = this.plruBits[setIndex]!;
    let node = 0;
    for (let span = ways >> 1; span >= 1; span >>= 1) {
      const upper = (way & span) !== 0;
      bits = upper ? bits & ~(1 << node) : bits | (1 << node);
      node = 2 * node + (upper ? 2 : 1);
    }
    this.plruBits[setIndex] = bits;
  }

  private victim(a: number, first: number): number {
    const ways = this.arrWays[a]!;
    for (let s = first; s < first + ways; s++) if (this.pcid[s] === -1) return s;
    if (!this.plru) {
      let best = first;
      for (let s = first + 1; s < first + ways; s++) if (this.stamp[s]! < this.stamp[best]!) best = s;
      return best;
    }
    const setIndex = this.arrSetBase[a]! + (first - this.arrBase[a]!) / ways;
    const bits = this.plruBits[setIndex]!;
    let node = 0;
    let way = 0;
    for (let span = ways >> 1; span >= 1; span >>= 1) {
      const upper = (bits & (1 << node)) !== 0;
      if (upper) way += span;
      node = 2 * node + (upper ? 2 : 1);
    }
    return first + way;
  }

  /**
   * Puts a translation into `level`, replacing an entry for the same page
   * and PCID if there is one, else an invalid way, else the policy's victim.
   *
   * @returns the slot used.
   */
  fill(
    level: number,
    pageLa: number,
    pcid: number,
    sizeIndex: number,
    phys: number,
    flags: number,
    space: number,
  ): number {
    this.at[0] = pageLa;
    this.at[1] = phys;
    return this.fillAt(level, pcid, sizeIndex, flags, space);
  }

  /**
   * Copies the entry in slot `src` (of a lower level) into `level`, as
   * {@link Tlb.fill} with its tag, PCID, size, physical address, flags and
   * space would, and carries its stale mark over: a copy of an entry
   * cached before an edit is as stale as the original.
   *
   * @returns the slot used.
   */
  copy(level: number, src: number): number {
    this.at[0] = this.tag[src]!;
    this.at[1] = this.phys[src]!;
    const slot = this.fillAt(level, this.pcid[src]!, this.size[src]!, this.flags[src]!, this.space[src]!);
    this.stale[slot] = this.stale[src]!;
    return slot;
  }

  /**
   * {@link Tlb.fill} with the page's linear address in `at[0]` and its
   * physical address in `at[1]` (no heap number per call for addresses
   * above 2^31).
   *
   * @returns the slot used.
   */
  fillAt(level: number, pcid: number, sizeIndex: number, flags: number, space: number): number {
    const pageLa = this.at[0]!;
    const phys = this.at[1]!;
    this.fills++;
    const nSizes = this.pageSizes.length;
    const a = this.arrayFor[level * nSizes + sizeIndex]!;
    const ways = this.arrWays[a]!;
    const first = this.arrBase[a]! + ((pageLa * this.inverse[sizeIndex]!) & (this.arrSets[a]! - 1)) * ways;
    // One pass over the set: an entry for the same page and PCID, else the
    // first invalid way, else (LRU) the least recently used way.
    let slot = -1;
    let free = -1;
    let oldest = first;
    const pcids = this.pcid;
    const tags = this.tag;
    const sizes = this.size;
    const stamps = this.stamp;
    let oldestStamp = Number.POSITIVE_INFINITY;
    for (let s = first; s < first + ways; s++) {
      const p = pcids[s]!;
      if (p === -1) {
        if (free < 0) free = s;
      } else if (tags[s] === pageLa && sizes[s] === sizeIndex && p === pcid) {
        slot = s;
      } else if (stamps[s]! < oldestStamp) {
        oldest = s;
        oldestStamp = stamps[s]!;
      }
    }
    if (slot < 0) {
      slot = free >= 0 ? free : this.lru === 1 ? oldest : this.victim(a, first);
      if (pcids[slot] !== -1) this.count((level * nSizes + sizes[slot]!) * 3 + 2, 1);
    }
    if (pcids[slot] !== -1) this.sizeCount[level * nSizes + sizes[slot]!]!--;
    this.sizeCount[level * nSizes + sizeIndex]!++;
    tags[slot] = pageLa;
    pcids[slot] = pcid;
    sizes[slot] = sizeIndex;
    this.phys[slot] = phys;
    this.flags[slot] = flags;
    this.space[slot] = space;
    this.stale[slot] = 0;
    this.gen[slot] = this.gen[slot]! + 1;
    this.hitCounter[slot] = (level * nSizes + sizeIndex) * 3;
    this.touch(slot);
    return slot;
  }

  /** Empties one slot. */
  invalidateSlot(slot: number): void {
    if (this.pcid[slot] !== -1) {
      this.sizeCount[this.arrLevel[this.slotArray[slot]!]! * this.pageSizes.length + this.size[slot]!]!--;
    }
    this.tag[slot] = Number.NaN;
    this.pcid[slot] = -1;
    this.space[slot] = -1;
    this.stale[slot] = 0;
    this.gen[slot] = this.gen[slot]! + 1;
  }

  /**
   * Drops every entry, in every level, that translates linear `la` for
   * `pcid`, and global ones when `includeGlobal` (INVLPG: yes; INVPCID
   * individual-address: no).
   *
   * @returns the number of entries dropped.
   */
  invalidatePage(la: number, pcid: number, includeGlobal: boolean): number {
    let n = 0;
    for (let level = 0; level < this.levelCount; level++) {
      for (let k = 0; k < this.pageSizes.length; k++) {
        if (this.sizeCount[level * this.pageSizes.length + k] === 0) continue;
        const a = this.arrayFor[level * this.pageSizes.length + k]!;
        const size = this.pageSizes[k]!;
        const ways = this.arrWays[a]!;
        const first = this.arrBase[a]! + ((la * this.inverse[k]!) & (this.arrSets[a]! - 1)) * ways;
        const pageLa = la - (la & (size - 1));
        for (let s = first; s < first + ways; s++) {
          if (this.tag[s] !== pageLa || this.size[s] !== k) continue;
          const global = (this.flags[s]! & ENTRY_GLOBAL) !== 0;
          if (global ? includeGlobal : this.pcid[s] === pcid) {
            this.invalidateSlot(s);
            n++;
          }
        }
      }
    }
    return n;
  }

  /**
   * Drops the entries selected by `which`: `"pcid"` the non-global ones of
   * `value`; `"space"` every one filled for address space `value`;
   * `"non-global"` all non-global ones; `"all"` every entry.
   *
   * @returns the number of entries dropped.
   */
  invalidate(which: "pcid" | "space" | "non-global" | "all", value = -1): number {
    let n = 0;
    for (let s = 0; s < this.slotCount; s++) {
      if (this.pcid[s] === -1) continue;
      const global = (this.flags[s]! & ENTRY_GLOBAL) !== 0;
      const drop =
        which === "all" ||
        (which === "non-global" && !global) ||
        (which === "pcid" && !global && this.pcid[s] === value) ||
        (which === "space" && this.space[s] === value);
      if (drop) {
        this.invalidateSlot(s);
        n++;
      }
    }
    return n;
  }

  /** Marks the entries of `space` overlapping linear [start, end) as stale: the tables changed under them. */
  markStale(space: number, start: number, end: number): void {
    // A small range (one page, for a map or a protect in a fault) is found
    // set by set, as a lookup would; only a large one scans every slot.
    if (end - start > STALE_PROBE_LIMIT) {
      for (let s = 0; s < this.slotCount; s++) {
        if (this.space[s] !== space || this.pcid[s] === -1) continue;
        const la = this.tag[s]!;
        if (la < end && la + this.pageSizes[this.size[s]!]! > start) this.stale[s] = 1;
      }
      return;
    }
    const nSizes = this.pageSizes.length;
    for (let level = 0; level < this.levelCount; level++) {
      for (let k = 0; k < nSizes; k++) {
        const a = this.arrayFor[level * nSizes + k]!;
        if (a < 0 || this.sizeCount[level * nSizes + k] === 0) continue;
        const size = this.pageSizes[k]!;
        const ways = this.arrWays[a]!;
        for (let la = start - (((start % size) + size) % size); la < end; la += size) {
          const first = this.arrBase[a]! + ((la * this.inverse[k]!) & (this.arrSets[a]! - 1)) * ways;
          for (let s = first; s < first + ways; s++) {
            if (this.tag[s] === la && this.size[s] === k && this.space[s] === space && this.pcid[s] !== -1) {
              this.stale[s] = 1;
            }
          }
        }
      }
    }
  }

  /** Counters by level and page size. */
  stats(): TlbLevelStats[] {
    const nSizes = this.pageSizes.length;
    return this.names.map((name, l) => {
      const bySize: Record<string, TlbSizeStats> = {};
      let hits = 0;
      let evictions = 0;
      for (let k = 0; k < nSizes; k++) {
        const i = (l * nSizes + k) * 3;
        bySize[pageSizeName(this.pageSizes[k]!)] = {
          hits: this.counts[i]!,
          misses: this.counts[i + 1]!,
          evictions: this.counts[i + 2]!,
        };
        hits += this.counts[i]!;
        evictions += this.counts[i + 2]!;
      }
      return { name, hits, misses: this.levelMisses[l]!, evictions, bySize };
    });
  }

  /** Zeroes every counter. */
  resetStats(): void {
    this.counts.fill(0);
    this.levelMisses.fill(0);
  }

  /**
   * Verifies the internal invariants (see the file comment).
   *
   * @throws {CorruptionError} at the first violation.
   */
  check(): void {
    const sizes = new Int32Array(this.sizeCount.length);
    for (let s = 0; s < this.slotCount; s++) {
      if (this.pcid[s] !== -1) sizes[this.levelOf(s) * this.pageSizes.length + this.size[s]!]!++;
    }
    for (let i = 0; i < sizes.length; i++) {
      if (sizes[i] !== this.sizeCount[i]) {
        throw new CorruptionError(
          PKG,
          `Tlb: ${this.sizeCount[i]} entries of size index ${i % this.pageSizes.length} counted, ${sizes[i]} found`,
        );
      }
    }
    for (let a = 0; a < this.arrBase.length; a++) {
      const ways = this.arrWays[a]!;
      const sets = this.arrSets[a]!;
      for (let set = 0; set < sets; set++) {
        const first = this.arrBase[a]! + set * ways;
        for (let s = first; s < first + ways; s++) {
          if (this.pcid[s] === -1) {
            if (!Number.isNaN(this.tag[s]!)) {
              throw new CorruptionError(PKG, `Tlb: slot ${s} is invalid but keeps tag ${this.tag[s]}`);
            }
            continue;
          }
          const size = this.pageSizes[this.size[s]!];
          if (
            size === undefined ||
            this.arrayFor[this.arrLevel[a]! * this.pageSizes.length + this.size[s]!] !== a
          ) {
            throw new CorruptionError(PKG, `Tlb: slot ${s} holds a page size its array does not take`);
          }
          const la = this.tag[s]!;
          if (!Number.isSafeInteger(la) || la % size !== 0 || ((la / size) & (sets - 1)) !== set) {
            throw new CorruptionError(
              PKG,
              `Tlb: slot ${s} tag 0x${la.toString(16)} does not belong in set ${set}`,
            );
          }
          if (this.pcid[s]! < 0 || this.stamp[s]! > this.clock[0]!) {
            throw new CorruptionError(PKG, `Tlb: slot ${s} has a bad PCID or LRU stamp`);
          }
          if (this.hitCounter[s] !== (this.arrLevel[a]! * this.pageSizes.length + this.size[s]!) * 3) {
            throw new CorruptionError(PKG, `Tlb: slot ${s} counts its hits under another level or size`);
          }
          for (let t = s + 1; t < first + ways; t++) {
            if (this.tag[t] === la && this.size[t] === this.size[s] && this.pcid[t] === this.pcid[s]) {
              throw new CorruptionError(
                PKG,
                `Tlb: slots ${s} and ${t} hold the same page for PCID ${this.pcid[s]}`,
              );
            }
          }
        }
        if (this.plru && this.plruBits[this.arrSetBase[a]! + set]! >>> (ways - 1) !== 0) {
          throw new CorruptionError(PKG, `Tlb: PLRU bits of set ${set} use more than ${ways - 1} nodes`);
        }
      }
    }
  }
}

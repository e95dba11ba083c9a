/**
 * The page walker: the hardware's translation of one virtual address
 * through the page tables in RAM (Intel SDM vol. 3A §4.5 and §4.7; RISC-V
 * privileged spec, "Virtual Address Translation Process").
 *
 * Models: the walk from the root table down to a leaf, one 8-byte entry
 * read per level (counted as a memory reference); the permission check
 * combined over every level (x86: writable only if R/W is set at every
 * level, user only if U/S is set at every level, executable unless NX is set
 * at any level); reserved bits; the Accessed bits of every entry used and
 * the Dirty bit of the leaf on a write, set in RAM as hardware does; the
 * fault reported as a value with the x86 #PF error-code bits.
 *
 * Simplifies: A and D are written only when the translation succeeds (the
 * SDM allows setting A on a faulting walk too; Linux never relies on it).
 * There are no paging-structure caches: every walk reads every level, which
 * is what the memory-reference counts measure.
 * Neighbours: formats (x86-64-format.ts, sv39-format.ts) interpret the
 * entries; the TLB (tlb.ts) caches what a walk finds; the MMU (mmu.ts) calls
 * the walker on a TLB miss.
 *
 * Algorithm, for linear address `la` (the signed address folded into
 * [0, 2^bits)): at level L the index is ⌊la / 2^shift[L]⌋ mod 512 and the
 * entry sits at table + 8·index. Worked example (x86-64): la = 0x7f12_3456_7890
 * has PML4 index 0xfe, PDPT index 0x48, PD index 0x1a2, PT index 0x167,
 * offset 0x890.
 */
import { PF_INSTRUCTION, PF_PRESENT, PF_RESERVED, PF_USER, PF_WRITE } from "@memstack/core";
import {
  type AccessCode,
  ENTRY_ACCESSED,
  ENTRY_DIRTY,
  ENTRY_GLOBAL,
  ENTRY_RIGHTS,
  type PageTableFormat,
  type WalkResult,
} from "./api.js";
import type { PhysWords } from "./internal/phys-words.js";

const NON_RIGHTS = ENTRY_GLOBAL | ENTRY_ACCESSED | ENTRY_DIRTY;

/** Translates addresses by reading page tables in RAM; one per MMU, allocation-free. */
export class PageWalker {
  /** The result of the last walk (the same object every time). */
  readonly result: WalkResult = {
    ok: false,
    errorCode: -1,
    pagePhys: -1,
    pageSize: 0,
    flags: 0,
    level: 0,
    entryAddress: -1,
    memoryRefs: 0,
    adWrites: 0,
  };
  private readonly words: PhysWords;
  private readonly format: PageTableFormat;
  private readonly divisors: Float64Array;
  private readonly pathAddr: Float64Array;
  private readonly pathLo: Float64Array;

  constructor(words: PhysWords, format: PageTableFormat) {
    this.words = words;
    this.format = format;
    this.divisors = Float64Array.from(format.levelShifts, (s) => 2 ** s);
    this.pathAddr = new Float64Array(format.levels);
    this.pathLo = new Float64Array(format.levels);
  }

  /**
   * Walks from the table at physical `root` for linear address `la`.
   *
   * @param access - 0 read, 1 write, 2 execute.
   * @param user - whether the access comes from user mode.
   * @param sideEffects - whether to set Accessed/Dirty bits in RAM on success.
   * @returns whether it translated; details in {@link PageWalker.result}.
   */
  walk(root: number, la: number, access: AccessCode, user: boolean, sideEffects: boolean): boolean {
    const f = this.format;
    const words = this.words;
    const r = this.result;
    const levels = f.levels;
    r.ok = false;
    r.errorCode = -1;
    r.pagePhys = -1;
    r.pageSize = 0;
    r.flags = 0;
    r.memoryRefs = 0;
    r.adWrites = 0;
    const base = (access === 1 ? PF_WRITE : 0) | (user ? PF_USER : 0) | (access === 2 ? PF_INSTRUCTION : 0);
    let table = root;
    let rights = ENTRY_RIGHTS;
    for (let level = 0; level < levels; level++) {
      // ToInt32 of the positive quotient truncates it, i.e. floors it, and keeps its low 9 bits exact.
      const entry = table + ((la / this.divisors[level]!) & 511) * 8;
      const lo = words.readEntry(entry);
      const hi = words.hi;
      r.memoryRefs++;
      r.level = level;
      r.entryAddress = entry;
      if (!f.isPresent(lo, hi)) {
        r.errorCode = base;
        return false;
      }
      if (f.isReserved(lo, hi, level)) {
        r.errorCode = base | PF_PRESENT | PF_RESERVED;
        return false;
      }
      this.pathAddr[level] = entry;
      this.pathLo[level] = lo;
      const flags = f.flags(lo, hi, level);
      if (!f.isLeaf(lo, hi, level)) {
        rights &= flags | NON_RIGHTS;
        table = f.address(lo, hi, level);
        continue;
      }
      const eff = (rights & flags) | (flags & NON_RIGHTS);
      r.pagePhys = f.address(lo, hi, level);
      r.pageSize = this.divisors[level]!;
      r.flags = eff;
      if (!f.permits(eff, access, user)) {
        r.errorCode = base | PF_PRESENT;
        return false;
      }
      if (sideEffects) {
        const write = access === 1;
        for (let l = 0; l <= level; l++) {
          const old = this.pathLo[l]!;
          const now = (old | f.accessedBits(l, l === level, write)) >>> 0;
          if (now !== old) {
            words.write(this.pathAddr[l]!, now);
            r.adWrites++;
          }
        }
        r.flags |= write ? ENTRY_ACCESSED | ENTRY_DIRTY : ENTRY_ACCESSED;
      }
      r.ok = true;
      return true;
    }
    // Unreachable with a well-formed format: the last level is always a leaf or reserved.
    r.errorCode = base | PF_PRESENT | PF_RESERVED;
    return false;
  }
}

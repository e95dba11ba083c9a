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
 *
 * Speed: each level reads its entry straight from the host bytes of the
 * table (the host location of the last table read at each level is kept,
 * and consecutive walks share their upper tables) and classifies it with
 * one call of the format's `decode`, which V8 inlines — skipped when the
 * level's entry has the same two words as the last one decoded there
 * (decode depends on nothing else), as the upper levels of consecutive
 * walks do; A/D bits come from a table made once per format and are set
 * in the words the walk read them from (no second frame lookup). The root
 * and the address come in a typed array (`input`), so a walk allocates nothing.
 * For createX86_64Format's own format over host frames, the walk has the
 * format's decode written out (walkX86), about a quarter faster; it leaves
 * huge pages and reserved bits to the generic walk.
 */
import * as core from "@memstack/core";
import type { AccessCode, PageTableFormat, WalkResult } from "./api.js";
import * as api from "./api.js";
import type { PhysWords } from "./internal/phys-words.js";
import * as x86 from "./x86-64-format.js";

// The constants this module reads on its hot paths, bound here (see
// "Constants on hot paths" in the root README).
const { PF_INSTRUCTION, PF_PRESENT, PF_RESERVED, PF_USER, PF_WRITE } = core;
const {
  DECODE_ABSENT,
  DECODE_LEAF,
  DECODE_RESERVED,
  DECODE_TABLE,
  ENTRY_ACCESSED,
  ENTRY_DIRTY,
  ENTRY_EXECUTE,
  ENTRY_GLOBAL,
  ENTRY_READ,
  ENTRY_RIGHTS,
  ENTRY_USER,
  ENTRY_WRITE,
} = api;
const { PTE_A, PTE_D, PTE_G, PTE_P, PTE_PS, PTE_RW, PTE_US, X86_WALK } = x86;

const NON_RIGHTS = ENTRY_GLOBAL | ENTRY_ACCESSED | ENTRY_DIRTY;

/** The #PF error-code bits that describe an access: W/R, U/S and I/D (P and RSVD describe the entry). */
export function accessErrorBits(access: AccessCode, user: boolean): number {
  return (access === 1 ? PF_WRITE : 0) | (user ? PF_USER : 0) | (access === 2 ? PF_INSTRUCTION : 0);
}

// Slots of the walk's outputs in WalkOutput's Float64Array.
const OK = 0;
const ERROR_CODE = 1;
const PAGE_PHYS = 2;
const PAGE_SIZE = 3;
const FLAGS = 4;
const LEVEL = 5;
const ENTRY_ADDRESS = 6;
const MEMORY_REFS = 7;
const AD_WRITES = 8;

/**
 * The outputs of a walk, kept in a Float64Array: storing a physical address
 * (a double above 2^31) into a plain object field would allocate a heap
 * number on every walk. Read through the {@link WalkResult} getters.
 */
class WalkOutput implements WalkResult {
  readonly v = new Float64Array(9);
  get ok(): boolean {
    return this.v[OK] === 1;
  }
  get errorCode(): number {
    return this.v[ERROR_CODE]!;
  }
  get pagePhys(): number {
    return this.v[PAGE_PHYS]!;
  }
  get pageSize(): number {
    return this.v[PAGE_SIZE]!;
  }
  get flags(): number {
    return this.v[FLAGS]!;
  }
  get level(): number {
    return this.v[LEVEL]!;
  }
  get entryAddress(): number {
    return this.v[ENTRY_ADDRESS]!;
  }
  get memoryRefs(): number {
    return this.v[MEMORY_REFS]!;
  }
  get adWrites(): number {
    return this.v[AD_WRITES]!;
  }
}

/** What the walker calls: the format itself when it has `decode`, else a wrapper. */
interface Decoder {
  decode(lo: number, hi: number, level: number, out: Float64Array): number;
}

/**
 * {@link PageTableFormat.decode}, or for a format that lacks it the same
 * classification through the format's individual methods. The walker calls
 * `decode` as a method of the returned object, a call V8 can inline.
 */
export function decoderFor(format: PageTableFormat): Decoder {
  if (format.decode !== undefined) return format as Decoder;
  return {
    decode(lo, hi, level, out) {
      if (!format.isPresent(lo, hi)) return DECODE_ABSENT;
      if (format.isReserved(lo, hi, level)) return DECODE_RESERVED;
      out[0] = format.address(lo, hi, level);
      out[1] = format.flags(lo, hi, level);
      return format.isLeaf(lo, hi, level) ? DECODE_LEAF : DECODE_TABLE;
    },
  };
}

const PAGE = 4096;
const INV_PAGE = 1 / 4096;
const TWO_32 = 4294967296;
/** What walkX86 returns for an entry it leaves to the generic walk (a huge page, a reserved bit). */
const RARE = -1;
type Rare = typeof RARE;

/** Translates addresses by reading page tables in RAM; one per MMU, allocation-free. */
export class PageWalker {
  /** The result of the last walk (the same object every time). */
  readonly result: WalkResult = new WalkOutput();
  private readonly out: Float64Array = (this.result as WalkOutput).v;
  private readonly words: PhysWords;
  private readonly format: PageTableFormat;
  private readonly decoder: Decoder;
  private readonly decoded = new Float64Array(2);
  // The table read last at each level, and where its bytes are on the host:
  // consecutive walks share their upper tables, so most levels skip the
  // host-frame lookup. A frame's place never changes once it is backed.
  private readonly lastPfn: Float64Array;
  private readonly lastWords: Uint32Array[];
  private readonly lastIndex: Int32Array;
  private readonly divisors: Float64Array;
  // 2^-shift per level: multiplying is exact for powers of two, and a
  // division by a value loaded from memory is a slow instruction.
  private readonly reciprocals: Float64Array;
  private readonly pathAddr: Float64Array;
  private readonly pathLo: Float64Array;
  // Each level's entry as an index into lastWords[level] (-1: read through
  // the port), so that an A/D update writes the words the walk just read.
  private readonly pathWord: Int32Array;
  // The last entry decoded at each level, and what decode said of it:
  // decode is a function of (lo, hi, level) only, so an entry read again
  // with the same words (the upper levels of consecutive walks) skips it.
  private readonly cLo: Uint32Array;
  private readonly cHi: Uint32Array;
  private readonly cKind: Int32Array;
  private readonly cAddr: Float64Array;
  private readonly cFlags: Int32Array;
  // Accessed/Dirty bits to OR into an entry used at each level: [level] for
  // a table entry or a read through a leaf, [levels + level] for a leaf written.
  private readonly adBits: Int32Array;
  // The x86-64 path: taken when the format is createX86_64Format's own, the
  // methods walkX86 writes out untouched, over a memory with frame views.
  private readonly x86: boolean;
  private readonly hiCheck: number;
  private readonly nxBit: number;

  constructor(words: PhysWords, format: PageTableFormat) {
    this.words = words;
    this.format = format;
    this.decoder = decoderFor(format);
    const x86 = X86_WALK.get(format);
    this.x86 =
      x86 !== undefined &&
      x86.decode === format.decode &&
      x86.permits === format.permits &&
      x86.accessedBits === format.accessedBits &&
      words.fast;
    this.hiCheck = x86?.hiCheck ?? 0;
    this.nxBit = x86?.nxBit ?? 0;
    this.lastPfn = new Float64Array(format.levels).fill(-1);
    this.lastWords = Array.from({ length: format.levels }, () => new Uint32Array(0));
    this.lastIndex = new Int32Array(format.levels);
    this.divisors = Float64Array.from(format.levelShifts, (s) => 2 ** s);
    this.reciprocals = Float64Array.from(format.levelShifts, (s) => 2 ** -s);
    this.pathAddr = new Float64Array(format.levels);
    this.pathLo = new Float64Array(format.levels);
    this.pathWord = new Int32Array(format.levels);
    this.cLo = new Uint32Array(format.levels);
    this.cHi = new Uint32Array(format.levels);
    this.cKind = new Int32Array(format.levels);
    this.cAddr = new Float64Array(format.levels);
    this.cFlags = new Int32Array(format.levels);
    for (let l = 0; l < format.levels; l++) {
      this.decoded.fill(0);
      this.cKind[l] = this.decoder.decode(0, 0, l, this.decoded);
      this.cAddr[l] = this.decoded[0]!;
      this.cFlags[l] = this.decoded[1]!;
    }
    this.adBits = new Int32Array(3 * format.levels);
    for (let l = 0; l < format.levels; l++) {
      this.adBits[l] = format.accessedBits(l, false, false);
      this.adBits[format.levels + l] = format.accessedBits(l, true, false);
      this.adBits[2 * format.levels + l] = format.accessedBits(l, true, true);
    }
  }

  /**
   * Inputs of {@link PageWalker.walk}: [0] the physical address of the root
   * table, [1] the linear address. A typed array rather than arguments: a
   * number above 2^31 passed to a call V8 does not inline is boxed as a
   * heap number, an allocation per walk.
   */
  readonly input = new Float64Array(2);

  /**
   * Walks from the table at physical `input[0]` for linear address `input[1]`.
   *
   * @param access - 0 read, 1 write, 2 execute.
   * @param user - whether the access comes from user mode.
   * @param sideEffects - whether to set Accessed/Dirty bits in RAM on success.
   * @returns whether it translated; details in {@link PageWalker.result}.
   */
  walk(access: AccessCode, user: boolean, sideEffects: boolean): boolean {
    if (this.x86) {
      const done = this.walkX86(access, user, sideEffects);
      if (done !== RARE) return done;
    }
    return this.walkAny(access, user, sideEffects);
  }

  /**
   * {@link PageWalker.walk} for createX86_64Format's format over host
   * frames, its decode written out: the same outputs, A/D writes and table
   * caches as {@link PageWalker.walkAny}, with no decode call, no decode
   * cache and a fixed four levels. A demand fault walks twice (the try that
   * faults, the retry), and this made @memstack/machine's fault loop 3–6 %
   * faster. Returns whether it translated, or RARE, having written
   * nothing, at a reserved high bit or PS above the last level (a huge page,
   * or reserved in a PML4E): the generic walk then does the whole walk.
   * `test/walk-x86.test.ts` runs both on the same random tables.
   */
  private walkX86(access: AccessCode, user: boolean, sideEffects: boolean): boolean | Rare {
    const la = this.input[1]!;
    const host = this.words.host;
    const hiCheck = this.hiCheck;
    const nxBit = this.nxBit;
    const base = accessErrorBits(access, user);
    let pfn = this.input[0]! * INV_PAGE;
    let rights = ENTRY_RIGHTS;
    for (let level = 0; level < 4; level++) {
      const index = (la * this.reciprocals[level]!) & 511;
      let w: Uint32Array;
      let word: number;
      if (pfn === this.lastPfn[level]) {
        w = this.lastWords[level]!;
        word = this.lastIndex[level]! + index * 2;
      } else if (host.lookup(pfn, false)) {
        w = host.u32[host.slab]!;
        const first = host.byte >>> 2;
        this.lastPfn[level] = pfn;
        this.lastWords[level] = w;
        this.lastIndex[level] = first;
        word = first + index * 2;
      } else {
        // A table never written reads as zeros: not present.
        return this.noPage(level, pfn * PAGE + index * 8, base);
      }
      const lo = w[word]!;
      const hi = w[word + 1]!;
      if ((lo & PTE_P) === 0) return this.noPage(level, pfn * PAGE + index * 8, base);
      // PS is the PAT bit in a PTE (level 3), a page size above it.
      if ((hi & hiCheck) !== 0 || ((lo & PTE_PS) !== 0 && level !== 3)) return RARE;
      this.pathWord[level] = word;
      this.pathLo[level] = lo;
      // The format's flags of the entry: R always, R/W → W, U/S → U, X unless NX.
      rights &= ENTRY_READ | (lo & PTE_RW) | ((lo & PTE_US) << 1) | ((hi & nxBit) === 0 ? ENTRY_EXECUTE : 0);
      if (level < 3) {
        pfn = (lo >>> 12) + (hi & 0xfffff) * 1048576;
        continue;
      }
      const entry = pfn * PAGE + index * 8;
      const pagePhys = ((lo & 0xfffff000) >>> 0) + (hi & 0xfffff) * TWO_32;
      // The leaf's A and D, and G (bit 8 → ENTRY_GLOBAL), pass through the combined rights.
      let eff = rights | (lo & (PTE_A | PTE_D)) | ((lo & PTE_G) >>> 4);
      if (
        (user && (eff & ENTRY_USER) === 0) ||
        (access === 1 && (eff & ENTRY_WRITE) === 0) ||
        (access === 2 && (eff & ENTRY_EXECUTE) === 0)
      ) {
        return this.denied(3, entry, base | PF_PRESENT, pagePhys, PAGE, eff);
      }
      let writes = 0;
      if (sideEffects) {
        // A in every entry used, D too in the leaf on a write, in the words the walk read.
        for (let l = 0; l < 3; l++) {
          const old = this.pathLo[l]!;
          if ((old & PTE_A) === 0) {
            this.lastWords[l]![this.pathWord[l]!] = (old | PTE_A) >>> 0;
            writes++;
          }
        }
        const bits = access === 1 ? PTE_A | PTE_D : PTE_A;
        if ((lo & bits) !== bits) {
          w[word] = (lo | bits) >>> 0;
          writes++;
        }
        eff |= access === 1 ? ENTRY_ACCESSED | ENTRY_DIRTY : ENTRY_ACCESSED;
      }
      return this.translated(3, entry, pagePhys, PAGE, eff, writes);
    }
    return RARE; // not reached: level 3 always returns
  }

  // The walk for any format, and for x86-64's rare entries.
  private walkAny(access: AccessCode, user: boolean, sideEffects: boolean): boolean {
    const root = this.input[0]!;
    const la = this.input[1]!;
    const f = this.format;
    const words = this.words;
    const host = words.host;
    const fast = words.fast;
    const decoder = this.decoder;
    const dec = this.decoded;
    const levels = f.levels;
    const base = accessErrorBits(access, user);
    // Tables are found by frame number (exact: table addresses are multiples of 4096).
    let pfn = root * INV_PAGE;
    let rights = ENTRY_RIGHTS;
    let level = 0;
    let entry = -1;
    let error = base | PF_PRESENT | PF_RESERVED; // what a walk that runs off the last level reports
    // The outputs are written once, at the end: typed-array stores per
    // level would cost more than the rest of the level.
    for (; level < levels; level++) {
      // ToInt32 of the positive product truncates it, i.e. floors it, and keeps its low 9 bits exact.
      const index = (la * this.reciprocals[level]!) & 511;
      entry = pfn * PAGE + index * 8;
      // The entry's two words, straight from the host bytes of the table
      // (a table never written has none: it reads as zeros).
      let lo = 0;
      let hi = 0;
      let word = -1;
      if (pfn === this.lastPfn[level]) {
        const w = this.lastWords[level]!;
        word = this.lastIndex[level]! + index * 2;
        lo = w[word]!;
        hi = w[word + 1]!;
      } else if (fast) {
        if (host.lookup(pfn, false)) {
          const w = host.u32[host.slab]!;
          const first = host.byte >>> 2;
          this.lastPfn[level] = pfn;
          this.lastWords[level] = w;
          this.lastIndex[level] = first;
          word = first + index * 2;
          lo = w[word]!;
          hi = w[word + 1]!;
        }
      } else {
        words.readEntry(entry);
        lo = words.entry[0]!;
        hi = words.entry[1]!;
      }
      let kind: number;
      let address: number;
      let flags: number;
      if (lo === this.cLo[level] && hi === this.cHi[level]) {
        kind = this.cKind[level]!;
        address = this.cAddr[level]!;
        flags = this.cFlags[level]!;
      } else {
        kind = decoder.decode(lo, hi, level, dec);
        address = dec[0]!;
        flags = dec[1]!;
        this.cLo[level] = lo;
        this.cHi[level] = hi;
        this.cKind[level] = kind;
        this.cAddr[level] = address;
        this.cFlags[level] = flags;
      }
      if (kind === DECODE_ABSENT) {
        error = base;
        break;
      }
      if (kind === DECODE_RESERVED) break;
      this.pathAddr[level] = entry;
      this.pathLo[level] = lo;
      this.pathWord[level] = word;
      if (kind === DECODE_TABLE) {
        rights &= flags | NON_RIGHTS;
        pfn = address * INV_PAGE;
        continue;
      }
      let eff = (rights & flags) | (flags & NON_RIGHTS);
      const pagePhys = address;
      if (!f.permits(eff, access, user)) {
        return this.denied(level, entry, base | PF_PRESENT, pagePhys, this.divisors[level]!, eff);
      }
      let writes = 0;
      if (sideEffects) {
        const write = access === 1;
        for (let l = 0; l <= level; l++) {
          const old = this.pathLo[l]!;
          const bits = this.adBits[l === level ? (write ? 2 * levels : levels) + l : l]!;
          if ((old & bits) !== bits) {
            // The table's bytes never move, so lastWords[l] still holds this walk's table at l.
            const word = this.pathWord[l]!;
            if (word >= 0) this.lastWords[l]![word] = (old | bits) >>> 0;
            else words.write(this.pathAddr[l]!, (old | bits) >>> 0);
            writes++;
          }
        }
        eff |= write ? ENTRY_ACCESSED | ENTRY_DIRTY : ENTRY_ACCESSED;
      }
      return this.translated(level, entry, pagePhys, this.divisors[level]!, eff, writes);
    }
    return this.noPage(level, entry, error);
  }

  // The outputs of a walk that translated, through the leaf at `level`
  // (entry address `entry`) to a page of `size` bytes at `pagePhys`, with
  // rights and A/D bits `eff` and `writes` A/D writes.
  private translated(
    level: number,
    entry: number,
    pagePhys: number,
    size: number,
    eff: number,
    writes: number,
  ): true {
    const r = this.out;
    r[PAGE_PHYS] = pagePhys;
    r[PAGE_SIZE] = size;
    r[FLAGS] = eff;
    r[AD_WRITES] = writes;
    r[OK] = 1;
    r[ERROR_CODE] = -1;
    r[LEVEL] = level;
    r[ENTRY_ADDRESS] = entry;
    r[MEMORY_REFS] = level + 1;
    return true;
  }

  // A fault at a leaf whose combined rights `eff` forbid the access (and,
  // with no leaf, noPage's).
  private denied(
    level: number,
    entry: number,
    error: number,
    pagePhys: number,
    size: number,
    eff: number,
  ): false {
    const r = this.out;
    r[PAGE_PHYS] = pagePhys;
    r[PAGE_SIZE] = size;
    r[FLAGS] = eff;
    r[AD_WRITES] = 0;
    return this.fault(level, entry, error);
  }

  // A fault with no page: an entry not present (or in a table never
  // written), a reserved bit, or a walk that ran off the last level.
  private noPage(level: number, entry: number, error: number): false {
    return this.denied(level, entry, error, -1, 0, 0);
  }

  // A fault: the walk stopped at `level` (with a well-formed format it never
  // runs past the last level, which is always a leaf or reserved).
  private fault(level: number, entry: number, error: number): false {
    const r = this.out;
    const last = Math.min(level, this.format.levels - 1);
    r[OK] = 0;
    r[ERROR_CODE] = error;
    r[LEVEL] = last;
    r[ENTRY_ADDRESS] = entry;
    r[MEMORY_REFS] = last + 1;
    return false;
  }
}

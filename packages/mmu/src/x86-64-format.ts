/**
 * The x86-64 4-level page-table format (Intel SDM vol. 3A §4.5), as entries
 * in RAM: PML4 → PDPT → PD → PT, 512 eight-byte entries per 4 KiB table.
 *
 * Models: the entry bits P, R/W, U/S, PWT, PCD, A, D, PS, G and NX (bit 63),
 * the physical frame in bits 12 to MAXPHYADDR-1, 2 MiB pages (PS in a PDE)
 * and 1 GiB pages (PS in a PDPTE), and the reserved bits whose presence
 * makes a walk fault with RSVD set.
 *
 * Simplifies: PWT, PCD and PAT are stored but mean nothing (there is no
 * cache); protection keys (bits 59–62) are ignored as with CR4.PKE = 0;
 * CR0.WP is 1 (supervisor writes to read-only pages fault, as Linux sets
 * it) and SMEP/SMAP are off (supervisor code may touch user pages).
 * Neighbours: the walker (page-walk.ts) and the editor (page-tables.ts) call
 * these methods; Sv39 (sv39-format.ts) implements the same interface.
 *
 *     63  62..52  51 ........ 12  11..9  8  7  6  5  4   3   2   1  0
 *     NX  ignored  frame address   avail  G  PS D  A  PCD PWT U/S R/W P
 *     \__ hi word (bits 32–63) __/ \________ lo word (bits 0–31) ______/
 *
 * Worked example: a user, writable, non-executable 4 KiB page at physical
 * 0x1_2345_6000 that has been written is lo = 0x2345_6067 (frame bits
 * 0x23456000 | D 0x40 | A 0x20 | U/S 4 | R/W 2 | P 1), hi = 0x8000_0001
 * (NX | frame bit 32).
 */
import { UsageError } from "@memstack/core";
import type { AccessCode, PageTableFormat, X86_64FormatOptions } from "./api.js";
import * as api from "./api.js";

// The constants this module reads on its hot paths, bound here (see
// "Constants on hot paths" in the root README).
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
  ENTRY_USER,
  ENTRY_WRITE,
} = api;

const PKG = "@memstack/mmu";

/** x86 entry bit 0: present. */
export const PTE_P = 1 << 0;
/** x86 entry bit 1: writable. */
export const PTE_RW = 1 << 1;
/** x86 entry bit 2: user-accessible. */
export const PTE_US = 1 << 2;
/** x86 entry bit 3: page-level write-through. */
export const PTE_PWT = 1 << 3;
/** x86 entry bit 4: page-level cache disable. */
export const PTE_PCD = 1 << 4;
/** x86 entry bit 5: accessed, set by the walker. */
export const PTE_A = 1 << 5;
/** x86 entry bit 6: dirty, set by the walker on a write through a leaf. */
export const PTE_D = 1 << 6;
/** x86 entry bit 7: page size (in a PDE or PDPTE: the entry maps a 2 MiB or 1 GiB page). */
export const PTE_PS = 1 << 7;
/** x86 entry bit 8: global translation (leaf only). */
export const PTE_G = 1 << 8;
/** x86 entry bit 63, as a bit of the high word: no-execute. */
export const PTE_NX_HI = 0x80000000;

const TWO_32 = 4294967296;
// Frame bits in the high word: 51..32 → hi bits 19..0.
const HI_FRAME = 0x000fffff;

/**
 * What the walker's x86-64 path (page-walk.ts) needs of a format this file
 * made: the high-word bits that make an entry reserved, the NX bit (0 when
 * NX is off), and the format's own methods that path writes out, so that a
 * format object with any of them replaced afterwards takes the generic walk.
 */
export interface X86WalkParams {
  readonly hiCheck: number;
  readonly nxBit: number;
  readonly decode: PageTableFormat["decode"];
  readonly permits: PageTableFormat["permits"];
  readonly accessedBits: PageTableFormat["accessedBits"];
}

/** The formats made by {@link createX86_64Format}, with their {@link X86WalkParams}. */
export const X86_WALK = new WeakMap<PageTableFormat, X86WalkParams>();

/**
 * Creates the x86-64 4-level format.
 *
 * @throws {UsageError} when `physicalBits` is not in [32, 52].
 */
export function createX86_64Format(options: X86_64FormatOptions = {}): PageTableFormat {
  const { physicalBits = 46, nx = true, pages1G = true } = options;
  if (!Number.isInteger(physicalBits) || physicalBits < 32 || physicalBits > 52) {
    throw new UsageError(
      PKG,
      `createX86_64Format: physicalBits must be an integer in [32, 52], got ${physicalBits}`,
      "physicalBits",
    );
  }
  // Bits MAXPHYADDR..51 of an entry are reserved; in the high word they are
  // bits (physicalBits - 32)..19. With 46 bits: 0x000fc000.
  const hiReserved = (HI_FRAME & ~((1 << (physicalBits - 32)) - 1)) >>> 0;
  const last = 3;
  // High-word bits that make an entry reserved (NX too when EFER.NXE is off), and the NX bit.
  const hiCheck = (hiReserved | (nx ? 0 : PTE_NX_HI)) >>> 0;
  const nxBit = nx ? PTE_NX_HI : 0;
  // The rare cases of decode: a reserved bit, or PS above the last level.
  const decodeRare = (lo: number, hi: number, level: number, out: Float64Array): number => {
    if ((hi & hiCheck) !== 0) return DECODE_RESERVED;
    // PS set: reserved in a PML4E; a 1 GiB page (bits 29..13 zero) in a
    // PDPTE; a 2 MiB page (bits 20..13 zero) in a PDE.
    if (level === 0) return DECODE_RESERVED;
    if (level === 1) {
      if (!pages1G || (lo & 0x3fffe000) !== 0) return DECODE_RESERVED;
      out[0] = ((lo & 0xc0000000) >>> 0) + (hi & HI_FRAME) * TWO_32;
    } else {
      if ((lo & 0x001fe000) !== 0) return DECODE_RESERVED;
      out[0] = ((lo & 0xffe00000) >>> 0) + (hi & HI_FRAME) * TWO_32;
    }
    const f =
      ENTRY_READ |
      (lo & PTE_RW) |
      ((lo & PTE_US) << 1) |
      (lo & PTE_A) |
      ((hi & nxBit) === 0 ? ENTRY_EXECUTE : 0);
    out[1] = f | ((lo & PTE_G) >>> 4) | (lo & PTE_D);
    return DECODE_LEAF;
  };

  const format: PageTableFormat = {
    name: "x86-64 4-level",
    levels: 4,
    virtualBits: 48,
    physicalBits,
    maxTag: 4095,
    pageSizes: pages1G ? [4096, 2 ** 21, 2 ** 30] : [4096, 2 ** 21],
    levelShifts: [39, 30, 21, 12],

    isPresent: (lo) => (lo & PTE_P) !== 0,

    isLeaf: (lo, _hi, level) => level === last || ((level === 1 || level === 2) && (lo & PTE_PS) !== 0),

    isReserved(lo, hi, level) {
      if ((hi & hiReserved) !== 0) return true;
      if (!nx && (hi & PTE_NX_HI) !== 0) return true;
      if (level === 0) return (lo & PTE_PS) !== 0; // PS is reserved in a PML4E
      if (level === 1 && (lo & PTE_PS) !== 0) {
        // A 1 GiB page: bits 29..13 must be zero (bit 12 is its PAT bit).
        return !pages1G || (lo & 0x3fffe000) !== 0;
      }
      if (level === 2 && (lo & PTE_PS) !== 0) return (lo & 0x001fe000) !== 0; // 2 MiB: bits 20..13
      return false;
    },

    address(lo, hi, level) {
      let mask = 0xfffff000;
      if (level === 1 && (lo & PTE_PS) !== 0) mask = 0xc0000000;
      else if (level === 2 && (lo & PTE_PS) !== 0) mask = 0xffe00000;
      return ((lo & mask) >>> 0) + (hi & HI_FRAME) * TWO_32;
    },

    flags(lo, hi, level) {
      let f = ENTRY_READ;
      if (lo & PTE_RW) f |= ENTRY_WRITE;
      if (lo & PTE_US) f |= ENTRY_USER;
      if (!nx || (hi & PTE_NX_HI) === 0) f |= ENTRY_EXECUTE;
      if (level === last || (lo & PTE_PS) !== 0) {
        if (lo & PTE_G) f |= ENTRY_GLOBAL;
        if (lo & PTE_D) f |= ENTRY_DIRTY;
      }
      if (lo & PTE_A) f |= ENTRY_ACCESSED;
      return f;
    },

    permits(flags, access: AccessCode, user) {
      if (user && (flags & ENTRY_USER) === 0) return false;
      // CR0.WP = 1: a supervisor write to a read-only page faults too.
      if (access === 1) return (flags & ENTRY_WRITE) !== 0;
      if (access === 2) return (flags & ENTRY_EXECUTE) !== 0;
      return true;
    },

    decode(lo, hi, level, out) {
      if ((lo & PTE_P) === 0) return DECODE_ABSENT;
      // Short enough to be inlined into the walker: the common entries (a
      // table pointer, a 4 KiB leaf) here, huge pages and reserved bits aside.
      if ((hi & hiCheck) !== 0 || ((lo & PTE_PS) !== 0 && level !== last))
        return decodeRare(lo, hi, level, out);
      out[0] = ((lo & 0xfffff000) >>> 0) + (hi & HI_FRAME) * TWO_32;
      // flags(): R always, R/W → W, U/S → U (bit 2 → 3), A, and X unless NX.
      const f =
        ENTRY_READ |
        (lo & PTE_RW) |
        ((lo & PTE_US) << 1) |
        (lo & PTE_A) |
        ((hi & nxBit) === 0 ? ENTRY_EXECUTE : 0);
      if (level === last) {
        out[1] = f | ((lo & PTE_G) >>> 4) | (lo & PTE_D); // G (bit 8 → 4) and D (bit 6) of a leaf
        return DECODE_LEAF;
      }
      out[1] = f;
      return DECODE_TABLE;
    },

    accessedBits: (_level, leaf, write) => (leaf && write ? PTE_A | PTE_D : PTE_A),

    encodeTable(tablePhys, out) {
      // Linux's _PAGE_TABLE: tables grant everything, the leaf decides.
      out[0] = (tablePhys | PTE_P | PTE_RW | PTE_US) >>> 0; // | keeps the low 32 bits
      out[1] = Math.floor(tablePhys / TWO_32);
    },

    encodeLeaf(phys, flags, level, out) {
      let lo = phys | PTE_P;
      if (flags & ENTRY_WRITE) lo |= PTE_RW;
      if (flags & ENTRY_USER) lo |= PTE_US;
      if (flags & ENTRY_GLOBAL) lo |= PTE_G;
      if (flags & ENTRY_ACCESSED) lo |= PTE_A;
      if (flags & ENTRY_DIRTY) lo |= PTE_D;
      if (level !== last) lo |= PTE_PS;
      let hi = Math.floor(phys / TWO_32);
      if (nx && (flags & ENTRY_EXECUTE) === 0) hi |= PTE_NX_HI;
      out[0] = lo >>> 0;
      out[1] = hi >>> 0;
    },
  };
  const { decode, permits, accessedBits } = format;
  X86_WALK.set(format, { hiCheck, nxBit, decode, permits, accessedBits });
  return format;
}

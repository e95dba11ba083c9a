/**
 * The RISC-V Sv39 page-table format (RISC-V privileged spec §"Sv39"), behind
 * the same interface as x86-64, to prove the format is swappable.
 *
 * Models: three levels of 512 eight-byte entries; V R W X U G A D bits; the
 * physical page number in bits 10–53; any level may hold a leaf (a valid
 * entry with R, W or X set), giving 4 KiB pages, 2 MiB megapages and 1 GiB
 * gigapages; reserved encodings (W without R, bits 54–63 set, a misaligned
 * superpage, a pointer at the last level, A/D/U in a pointer) fault.
 *
 * Simplifies: the MMU sets A and D itself (as with the Svadu extension)
 * instead of faulting for software to set them; MXR is off (execute-only
 * pages are not readable); SUM is an option. A fault is reported with the
 * same x86-style error-code bits as on x86-64 (P = a valid leaf was found),
 * where real RISC-V reports scause 12, 13 or 15.
 *
 *     63..54    53 ........ 10  9..8  7 6 5 4 3 2 1 0
 *     reserved  PPN[2:0]        RSW   D A G U X W R V
 *
 * Worked example: a user read/write 4 KiB page at physical 0x8020_1000 has
 * PPN 0x80201, so lo = (0x80201 << 10) | U 0x10 | W 4 | R 2 | V 1 = 0x2008_0417.
 */
import {
  type AccessCode,
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
  type PageTableFormat,
  type Sv39FormatOptions,
} from "./api.js";

/** Sv39 entry bit 0: valid. */
export const SV39_V = 1 << 0;
/** Sv39 entry bit 1: readable. */
export const SV39_R = 1 << 1;
/** Sv39 entry bit 2: writable. */
export const SV39_W = 1 << 2;
/** Sv39 entry bit 3: executable. */
export const SV39_X = 1 << 3;
/** Sv39 entry bit 4: user-accessible. */
export const SV39_U = 1 << 4;
/** Sv39 entry bit 5: global mapping. */
export const SV39_G = 1 << 5;
/** Sv39 entry bit 6: accessed. */
export const SV39_A = 1 << 6;
/** Sv39 entry bit 7: dirty. */
export const SV39_D = 1 << 7;

const TWO_22 = 4194304;
const PAGE = 4096;

/** Creates the Sv39 format. */
export function createSv39Format(options: Sv39FormatOptions = {}): PageTableFormat {
  const { sum = true } = options;
  const isLeaf = (lo: number): boolean => (lo & (SV39_R | SV39_W | SV39_X)) !== 0;
  return {
    name: "RISC-V Sv39",
    levels: 3,
    virtualBits: 39,
    physicalBits: 56,
    maxTag: 65535,
    pageSizes: [4096, 2 ** 21, 2 ** 30],
    levelShifts: [30, 21, 12],

    isPresent: (lo) => (lo & SV39_V) !== 0,

    isLeaf: (lo) => isLeaf(lo),

    isReserved(lo, hi, level) {
      if ((hi & 0xffc00000) !== 0) return true; // bits 63..54
      if (!isLeaf(lo)) {
        // A pointer at the last level, or one with A, D or U set.
        return level === 2 || (lo & (SV39_A | SV39_D | SV39_U)) !== 0;
      }
      if ((lo & (SV39_W | SV39_R)) === SV39_W) return true; // W without R
      // A superpage must be aligned: PPN[0] (bits 18..10) for a megapage,
      // PPN[1:0] (bits 27..10) for a gigapage.
      if (level === 1) return (lo & 0x0007fc00) !== 0;
      if (level === 0) return (lo & 0x0ffffc00) !== 0;
      return false;
    },

    address: (lo, hi) => ((lo >>> 10) + (hi & 0x003fffff) * TWO_22) * PAGE,

    flags(lo) {
      if (!isLeaf(lo)) return ENTRY_READ | ENTRY_WRITE | ENTRY_EXECUTE | ENTRY_USER;
      let f = 0;
      if (lo & SV39_R) f |= ENTRY_READ;
      if (lo & SV39_W) f |= ENTRY_WRITE;
      if (lo & SV39_X) f |= ENTRY_EXECUTE;
      if (lo & SV39_U) f |= ENTRY_USER;
      if (lo & SV39_G) f |= ENTRY_GLOBAL;
      if (lo & SV39_A) f |= ENTRY_ACCESSED;
      if (lo & SV39_D) f |= ENTRY_DIRTY;
      return f;
    },

    permits(flags, access: AccessCode, user) {
      if (user) {
        if ((flags & ENTRY_USER) === 0) return false;
      } else if ((flags & ENTRY_USER) !== 0) {
        // S mode never executes U pages; it reads and writes them only with SUM.
        if (access === 2 || !sum) return false;
      }
      if (access === 0) return (flags & ENTRY_READ) !== 0;
      if (access === 1) return (flags & ENTRY_WRITE) !== 0;
      return (flags & ENTRY_EXECUTE) !== 0;
    },

    decode(lo, hi, level, out) {
      if ((lo & SV39_V) === 0) return DECODE_ABSENT;
      if ((hi & 0xffc00000) !== 0) return DECODE_RESERVED;
      const address = ((lo >>> 10) + (hi & 0x003fffff) * TWO_22) * PAGE;
      if (!isLeaf(lo)) {
        if (level === 2 || (lo & (SV39_A | SV39_D | SV39_U)) !== 0) return DECODE_RESERVED;
        out[0] = address;
        out[1] = ENTRY_READ | ENTRY_WRITE | ENTRY_EXECUTE | ENTRY_USER;
        return DECODE_TABLE;
      }
      if ((lo & (SV39_W | SV39_R)) === SV39_W) return DECODE_RESERVED;
      if (level === 1 ? (lo & 0x0007fc00) !== 0 : level === 0 && (lo & 0x0ffffc00) !== 0) {
        return DECODE_RESERVED;
      }
      out[0] = address;
      // R W X U G A D (bits 1..7) are ENTRY_READ … ENTRY_DIRTY (bits 0..6), in order.
      out[1] = (lo >>> 1) & 0x7f;
      return DECODE_LEAF;
    },

    accessedBits: (_level, leaf, write) => (leaf ? (write ? SV39_A | SV39_D : SV39_A) : 0),

    encodeTable(tablePhys, out) {
      const ppn = tablePhys / PAGE;
      out[0] = (((ppn & 0x3fffff) << 10) | SV39_V) >>> 0;
      out[1] = Math.floor(ppn / TWO_22);
    },

    encodeLeaf(phys, flags, _level, out) {
      const ppn = phys / PAGE;
      let lo = ((ppn & 0x3fffff) << 10) | SV39_V | SV39_R;
      if (flags & ENTRY_WRITE) lo |= SV39_W;
      if (flags & ENTRY_EXECUTE) lo |= SV39_X;
      if (flags & ENTRY_USER) lo |= SV39_U;
      if (flags & ENTRY_GLOBAL) lo |= SV39_G;
      if (flags & ENTRY_ACCESSED) lo |= SV39_A;
      if (flags & ENTRY_DIRTY) lo |= SV39_D;
      out[0] = lo >>> 0;
      out[1] = Math.floor(ppn / TWO_22);
    },
  };
}

export type {
  Access,
  AccessCode,
  LackeyOptions,
  LackeyReport,
  MmuOptions,
  MmuStats,
  PageFaultHandler,
  PageMapping,
  PageRights,
  PageTableFormat,
  Privilege,
  Sv39FormatOptions,
  TlbArrayConfig,
  TlbLevelConfig,
  TlbLevelStats,
  TlbOptions,
  TlbSizeStats,
  Translation,
  WalkResult,
  X86_64FormatOptions,
} from "./api.js";
export {
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
} from "./api.js";
export { replayLackey } from "./lackey.js";
export { Mmu } from "./mmu.js";
export { PageFault } from "./page-fault.js";
export {
  createSv39Format,
  SV39_A,
  SV39_D,
  SV39_G,
  SV39_R,
  SV39_U,
  SV39_V,
  SV39_W,
  SV39_X,
} from "./sv39-format.js";
export { BELOW_ABSENT, pageSizeName, SKYLAKE_TLB, Tlb } from "./tlb.js";
export {
  createX86_64Format,
  PTE_A,
  PTE_D,
  PTE_G,
  PTE_NX_HI,
  PTE_P,
  PTE_PCD,
  PTE_PS,
  PTE_PWT,
  PTE_RW,
  PTE_US,
} from "./x86-64-format.js";

export type { Pfn, PhysAddr, VirtAddr } from "./address.js";
export {
  alignDown,
  alignUp,
  hi32,
  isAligned,
  isPowerOfTwo,
  joinWords,
  lo32,
  log2,
  MAX_SAFE_ADDRESS,
  PAGE_SHIFT,
  PAGE_SIZE,
  PAGE_SIZE_1G,
  PAGE_SIZE_2M,
  PAGE_SIZE_4K,
  pageNumber,
  pageOffset,
  pfn,
  pfnToPhys,
  physAddr,
  physToPfn,
  TWO_POW_32,
  toHex,
  virtAddr,
} from "./address.js";
export type {
  Access,
  BitmapFrameAllocatorOptions,
  FaultReason,
  FlatBacking,
  FlatMemoryOptions,
  FlatRegion,
  SparseRamOptions,
  WasmMemoryLike,
} from "./api.js";
export { BitmapFrameAllocator } from "./bitmap-frame-allocator.js";
export type { Checkable } from "./checkable.js";
export { CorruptionError, Fault, UsageError } from "./errors.js";
export { FlatMemory } from "./flat-memory.js";
export {
  addU64,
  alignU64,
  EACCES,
  EAGAIN,
  EBADF,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOMEM,
  ENOSYS,
  EOPNOTSUPP,
  EPERM,
  errnoName,
  errValueU64,
  hugePageBytes,
  isMadvice,
  isSyscallError,
  isU64,
  LEGACY_MAP_MASK,
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGE_1GB,
  MAP_HUGE_2MB,
  MAP_HUGE_MASK,
  MAP_HUGE_SHIFT,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  pageAlignU64,
  STACK_GUARD_GAP,
} from "./linux-abi.js";
export type { FrameAllocator } from "./ports/frame-allocator.js";
export type { Mapper } from "./ports/mapper.js";
export type {
  MemoryManagementUnit,
  PageFaultHandler,
  PageMapping,
  PageRights,
  Privilege,
} from "./ports/mmu.js";
export { PF_INSTRUCTION, PF_PRESENT, PF_RESERVED, PF_USER, PF_WRITE } from "./ports/mmu.js";
export type { PhysicalMemory } from "./ports/physical-memory.js";
export type { ProgramBreak } from "./ports/program-break.js";
export type { FastAccess, FastTags, VirtualMemory } from "./ports/virtual-memory.js";
export type { RemapMapping } from "./remap-move.js";
export { mremapArgsError, remapMove } from "./remap-move.js";
export type { Rng } from "./rng.js";
export { createRng } from "./rng.js";
export { sbrk } from "./sbrk.js";
export type { SimpleMmuOptions } from "./simple-mmu.js";
export { SimpleMmu } from "./simple-mmu.js";
export { formatSize, parseSize } from "./size.js";
export { SparseRam } from "./sparse-ram.js";
export type { VmScriptOp, VmScriptTarget } from "./vm-script.js";
export { mapsPerms, parseVmScript, runVmScript, VmScriptError } from "./vm-script.js";

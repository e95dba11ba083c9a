export type {
  BinInfo,
  BinsSnapshot,
  ChunkInfo,
  ChunkState,
  Mallinfo2,
  Malloc,
  MallocCounters,
  MallocOptions,
  MallocPorts,
  MallocTunables,
} from "./api.js";
export {
  M_ARENA_MAX,
  M_ARENA_TEST,
  M_CHECK_ACTION,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  M_MXFAST,
  M_PERTURB,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
} from "./api.js";
export type { CallListOptions, ListedCall } from "./calls.js";
export { parseCallList, runCallList } from "./calls.js";
export type { CxxHeap, NewHandler } from "./cxx.js";
export { createCxxHeap } from "./cxx.js";
export { BadAlloc, MallocAbort } from "./errors.js";
export { createMalloc } from "./malloc.js";
export type { MallocTrace, ReplayOptions, ReplayResult } from "./trace.js";
export {
  formatPlacements,
  PLACEMENT_MMAP,
  PLACEMENT_NULL,
  parseMallocTrace,
  replayMallocTrace,
  TRACE_CALLOC,
  TRACE_FREE,
  TRACE_MALLOC,
  TRACE_MEMALIGN,
  TRACE_NONE,
  TRACE_REALLOC,
  TraceSyntaxError,
} from "./trace.js";

/**
 * `memstack malloc replay FILE [--backend flat|process] [--progress]`:
 * replays a `# memstack malloc trace v1` (plain or gzipped; `-` for stdin)
 * through @memstack/libc's glibc malloc and prints one placement per call on
 * stdout, in the format of ../shared/oracles/glibc/run-replay, so the two can
 * be diffed. Progress (when stderr is a terminal, or with --progress) and a
 * summary go to stderr. A malformed line prints `error LINE: REASON` and
 * exits 2 before anything runs; a heap corruption glibc would detect prints
 * glibc's message and exits 134, as the aborted process would.
 *
 * Backends: `flat` runs malloc over a FlatMemory (one ArrayBuffer, no MMU);
 * `process` runs it in a process of a simulated Linux machine
 * (@memstack/machine: x86-64 page tables in RAM, a TLB, demand paging), so
 * every heap byte goes through the MMU. A process killed by the OOM killer
 * exits 137 and one that faults exits 139, as a shell reports SIGKILL and
 * SIGSEGV.
 */
import {
  Fault,
  FlatMemory,
  formatSize,
  type Mapper,
  type ProgramBreak,
  parseSize,
  type VirtualMemory,
} from "@memstack/core";
import { ProcessKilled } from "@memstack/kernel";
import {
  createMalloc,
  formatPlacements,
  MallocAbort,
  parseMallocTrace,
  replayMallocTrace,
  TraceSyntaxError,
} from "@memstack/libc";
import { createMachine } from "@memstack/machine";
import { type CliIo, readInput } from "../io.js";

/** Options of `memstack malloc replay`. */
export interface MallocReplayOptions {
  /** Where the process runs: `flat` (FlatMemory) or `process` (a process of a simulated Linux machine). */
  backend: string;
  /** Show a progress bar on stderr even when it is not a terminal. */
  progress?: boolean;
  /** Size of the flat address space, or of the machine's RAM for `process`, e.g. `1G`. */
  memory: string;
}

/** Exit status of a process killed by SIGABRT, as a shell reports it. */
export const EXIT_ABORT = 134;
/** Exit status of a process killed by SIGKILL (the OOM killer). */
export const EXIT_KILLED = 137;
/** Exit status of a process killed by SIGSEGV. */
export const EXIT_SEGV = 139;

function bar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
  return `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${total} calls`;
}

/**
 * Runs the command.
 *
 * @returns the exit status: 0, 2 for a usage error or a malformed trace, 134 for a simulated abort.
 */
export function runMallocReplay(file: string, options: MallocReplayOptions, io: CliIo): number {
  if (options.backend !== "flat" && options.backend !== "process") {
    io.err(`memstack: unknown backend '${options.backend}' (expected flat or process)\n`);
    return 2;
  }
  let memoryBytes: number;
  try {
    memoryBytes = parseSize(options.memory);
  } catch {
    io.err(`memstack: --memory: not a size: '${options.memory}'\n`);
    return 2;
  }
  if (
    options.backend === "flat" &&
    (memoryBytes < 1 << 20 || memoryBytes > 2 ** 32 || memoryBytes % 65536 !== 0)
  ) {
    io.err("memstack: --memory must be a multiple of 64K between 1M and 4G\n");
    return 2;
  }
  if (options.backend === "process" && (memoryBytes < 4 << 20 || memoryBytes % 4096 !== 0)) {
    io.err("memstack: --memory (the machine's RAM) must be a multiple of 4K of at least 4M\n");
    return 2;
  }
  const bytes = readInput(file, io);
  if (bytes === null) return 1;
  const text = bytes.toString("utf8");
  let trace: ReturnType<typeof parseMallocTrace>;
  try {
    trace = parseMallocTrace(text);
  } catch (e) {
    if (e instanceof TraceSyntaxError) {
      io.err(`error ${e.line}: ${e.reason}\n`);
      return 2;
    }
    throw e;
  }
  let space: VirtualMemory & ProgramBreak & Mapper;
  if (options.backend === "flat") {
    // A fixed ArrayBuffer: typed arrays over a resizable one are several times slower.
    space = new FlatMemory({ memory: new ArrayBuffer(memoryBytes), assumeZeroed: true });
  } else {
    space = createMachine({ ram: memoryBytes }).spawn("replay");
  }
  const malloc = createMalloc({ memory: space, programBreak: space, mapper: space });
  const showProgress = options.progress === true || io.errIsTty === true;
  const started = performance.now();
  let placements: Float64Array;
  try {
    placements = replayMallocTrace(malloc, trace, {
      onProgress: showProgress ? (done, total) => io.err(bar(done, total)) : undefined,
      progressEvery: 65536,
    }).placements;
  } catch (e) {
    if (showProgress) io.err("\n");
    if (e instanceof MallocAbort) {
      io.err(`${e.detail}\n`);
      return EXIT_ABORT;
    }
    if (e instanceof ProcessKilled) {
      io.err("Killed\n");
      return EXIT_KILLED;
    }
    if (e instanceof Fault) {
      io.err(`Segmentation fault (${e.access} of 0x${e.address.toString(16)}: ${e.reason})\n`);
      return EXIT_SEGV;
    }
    throw e;
  }
  const ms = performance.now() - started;
  if (showProgress) io.err("\n");
  io.out(formatPlacements(placements));
  const c = malloc.counters();
  io.err(
    `malloc replay: ${trace.length} calls in ${ms.toFixed(1)} ms (${((ms * 1e6) / Math.max(1, trace.length)).toFixed(0)} ns/call);` +
      ` peak heap ${formatSize(c.peakHeapBytes)}, brk calls ${c.brkCalls},` +
      ` mmaps ${c.mmapCalls} (munmaps ${c.munmapCalls}, mremaps ${c.mremapCalls}), peak mmapped ${formatSize(c.peakMmappedBytes)}\n`,
  );
  return 0;
}

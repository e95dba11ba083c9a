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
import { formatSize } from "@memstack/core";
import {
  createMalloc,
  formatPlacements,
  parseMallocTrace,
  replayMallocTrace,
  TraceSyntaxError,
} from "@memstack/libc";
import { type CliIo, readInput } from "../io.js";
import { type BackendOptions, openSpace, processEnd } from "./malloc-backend.js";

/** Options of `memstack malloc replay`. */
export interface MallocReplayOptions extends BackendOptions {
  /** Show a progress bar on stderr even when it is not a terminal. */
  progress?: boolean;
}

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
  const opened = openSpace(options, "replay", io);
  if (opened === null) return 2;
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
  const { space } = opened;
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
    const status = processEnd(e, io);
    if (status !== null) return status;
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

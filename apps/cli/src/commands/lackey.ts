/**
 * `memstack lackey TRACE`: replays a valgrind lackey trace (plain or
 * gzipped) through @memstack/mmu's page tables and TLB and prints the hit
 * rates, walks and memory references, so 4 KiB and 2 MiB pages can be
 * compared on a real program's accesses. Record a trace with
 * `valgrind --tool=lackey --trace-mem=yes --log-file=TRACE prog`.
 */
import { parseSize, UsageError } from "@memstack/core";
import { createSv39Format, createX86_64Format, pageSizeName, replayLackey } from "@memstack/mmu";
import { type CliIo, readInput } from "../io.js";

/** Options of `memstack lackey`, as commander parses them. */
export interface LackeyCommandOptions {
  /** Page size, e.g. `4K` or `2M`. */
  pageSize: string;
  /** `x86-64` or `sv39`. */
  format: string;
  /** Whether `I` lines go through the TLB too. */
  instructions: boolean;
}

/**
 * Replays `path` and prints the report to `io.out`.
 *
 * @returns the exit status: 0, or 1 when the file cannot be read or holds no access line (one line on `io.err`).
 * @throws {UsageError} for an unknown format, a page size the format lacks, or a malformed trace line.
 */
export function runLackey(path: string, options: LackeyCommandOptions, io: CliIo): number {
  const format =
    options.format === "x86-64"
      ? createX86_64Format()
      : options.format === "sv39"
        ? createSv39Format()
        : (() => {
            throw new UsageError(
              "@memstack/cli",
              `lackey: --format must be x86-64 or sv39, got ${options.format}`,
              "format",
            );
          })();
  const pageSize = parseSize(options.pageSize);
  const trace = readInput(path, io);
  if (trace === null) return 1;
  const started = performance.now();
  const r = replayLackey(trace, { format, pageSize, instructions: options.instructions });
  const seconds = (performance.now() - started) / 1000;
  const accesses = r.counts.I + r.counts.L + r.counts.S + r.counts.M;
  if (accesses === 0) {
    // Every lackey trace of a program that ran has access lines; the
    // replay skips any other line (valgrind's own), so this is not one.
    io.err(
      `memstack: ${path} has no lackey access lines ("I  addr,size", " L addr,size", " S addr,size", " M addr,size"): record one with valgrind --tool=lackey --trace-mem=yes --log-file=FILE PROGRAM\n`,
    );
    return 1;
  }
  io.out(`trace        ${path}\n`);
  io.out(`format       ${format.name}, ${pageSizeName(pageSize)} pages\n`);
  io.out(
    `accesses     ${accesses} (I ${r.counts.I}, L ${r.counts.L}, S ${r.counts.S}, M ${r.counts.M}), ${r.pagesTouched} pages touched\n`,
  );
  for (const [i, level] of r.stats.levels.entries()) {
    io.out(
      `${level.name.padEnd(12)} ${(100 * r.hitRates[i]!).toFixed(3)}% hits (${level.hits} hits, ${level.misses} misses, ${level.evictions} evictions)\n`,
    );
  }
  io.out(
    `walks        ${r.stats.walks}, ${r.stats.walkMemoryRefs} memory references (${r.walkRefsPerLookup.toFixed(5)} per lookup)\n`,
  );
  io.out(`time         ${seconds.toFixed(2)} s\n`);
  return 0;
}

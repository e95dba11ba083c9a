/**
 * `memstack vm run FILE [--ram SIZE] [--swap SIZE] [--overcommit MODE] [--thp MODE] [--page-cluster N] [--no-execute-only] [--no-zero-page] [--proc] [--meminfo]`:
 * runs a `# memstack vm script v1` (../shared/formats/README.md, section 2;
 * `-` for stdin) on a fresh process of a simulated Linux machine
 * (@memstack/machine) and prints one result line per call on stdout, in the
 * format of ../shared/oracles/linux/run-vm-script, so the two can be diffed.
 * A malformed line prints `error LINE: REASON` on stderr and exits 2 before
 * anything runs. --no-execute-only models a CPU without protection keys,
 * where PROT_EXEC alone stays readable; --no-zero-page a kernel that maps
 * no zero page, where a read of memory never written takes a page. With
 * --proc, the process's /proc/PID/maps and status go to stderr afterwards
 * (the last child's, after fork lines); with --meminfo, the machine's
 * /proc/meminfo after them.
 */
import { runVmScript, VmScriptError } from "@memstack/core";
import { type OvercommitMode, type ThpMode, vmScriptTarget } from "@memstack/kernel";
import { createMachine } from "@memstack/machine";
import { type CliIo, readInput } from "../io.js";

/** Options of `memstack vm run`. */
export interface VmRunOptions {
  /** The machine's RAM, e.g. `512M`. */
  ram: string;
  /** The swap device, e.g. `0` or `256M`. */
  swap: string;
  /** vm.overcommit_memory: `0`, `1` or `2`. */
  overcommit: string;
  /** Transparent huge pages: `always`, `madvise` (this machine's, the default) or `never`. */
  thp?: string;
  /** vm.page-cluster: `0` to `31`; swap readahead reads up to 2^min(n, 5) pages (`3`, the default). */
  pageCluster?: string;
  /**
   * PROT_EXEC alone is execute-only, as Linux makes it on an x86 CPU with
   * protection keys (PKU): true by default; false (`--no-execute-only`)
   * for a CPU without them, where such a mapping stays readable.
   */
  executeOnly?: boolean;
  /**
   * A read of memory never written maps the shared zero page: true by
   * default; false (`--no-zero-page`) allocates a page of zeros, as a
   * kernel booted with `pvm_no_zero_page=1` does.
   */
  zeroPage?: boolean;
  /** Print /proc/PID/maps and status to stderr at the end. */
  proc?: boolean;
  /** Print /proc/meminfo to stderr at the end (after --proc's). */
  meminfo?: boolean;
}

/**
 * Runs the command.
 *
 * @returns the exit status: 0, or 2 for a malformed script or a bad option.
 */
export function runVmRun(file: string, options: VmRunOptions, io: CliIo): number {
  const mode = Number(options.overcommit);
  if (mode !== 0 && mode !== 1 && mode !== 2) {
    io.err(`memstack: --overcommit must be 0, 1 or 2, got '${options.overcommit}'\n`);
    return 2;
  }
  const thp = options.thp ?? "madvise";
  if (thp !== "always" && thp !== "madvise" && thp !== "never") {
    io.err(`memstack: --thp must be always, madvise or never, got '${thp}'\n`);
    return 2;
  }
  const pageCluster = Number(options.pageCluster ?? "3");
  if (!Number.isInteger(pageCluster) || pageCluster < 0 || pageCluster > 31 || options.pageCluster === "") {
    io.err(`memstack: --page-cluster must be an integer from 0 to 31, got '${options.pageCluster}'\n`);
    return 2;
  }
  const bytes = readInput(file, io);
  if (bytes === null) return 1;
  const text = bytes.toString("utf8");
  const machine = createMachine({
    ram: options.ram,
    swap: options.swap,
    overcommit: mode as OvercommitMode,
    thp: thp as ThpMode,
    pageCluster,
    executeOnly: options.executeOnly !== false,
    zeroPage: options.zeroPage !== false,
  });
  // After a fork line the script runs in the child, whose /proc --proc shows.
  let proc = machine.spawn("vm-script");
  let lines: string[];
  try {
    lines = runVmScript(
      text,
      vmScriptTarget(proc, (child) => {
        proc = child;
      }),
    );
  } catch (e) {
    if (e instanceof VmScriptError) {
      io.err(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  io.out(lines.length > 0 ? `${lines.join("\n")}\n` : "");
  if (options.proc === true) io.err(`${proc.maps()}\n${proc.status()}`);
  if (options.meminfo === true) io.err(machine.kernel.meminfo());
  return 0;
}

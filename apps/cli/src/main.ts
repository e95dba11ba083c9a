/**
 * The `memstack` command: a commander program whose subcommands run
 * memstack's packages. Exit codes: 0 success, 1 a command's own failure,
 * 2 a usage error (unknown command or option, missing argument), with a
 * one-line error and the usage on stderr.
 */
import { createRequire } from "node:module";
import { UsageError } from "@memstack/core";
import { Command, CommanderError } from "commander";
import { runDemo } from "./commands/demo.js";
import { type LackeyCommandOptions, runLackey } from "./commands/lackey.js";
import { runMallocCalls } from "./commands/malloc-calls.js";
import { runMallocReplay } from "./commands/malloc-replay.js";
import { runVmRun, type VmRunOptions } from "./commands/vm-run.js";
import { type CliIo, processIo } from "./io.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

/** Exit status of a usage error, as for shell builtins and most Unix tools. */
export const EXIT_USAGE = 2;

// Exit status set by a command's action (commander's actions return nothing).
let status = 0;

function buildProgram(io: CliIo): Command {
  const program = new Command("memstack")
    .description(
      "Real memory-management systems, rebuilt over real bytes: run them, inspect them, compare them.",
    )
    .version(version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} });
  program
    .command("demo")
    .description(
      "a tour: an ArrayBuffer as an address space (brk, mmap, faults), then glibc's malloc and fork in a simulated machine",
    )
    .action(() => runDemo(io));
  program
    .command("lackey")
    .description(
      "replay a valgrind lackey trace through x86-64 or Sv39 page tables and a TLB; print hit rates and walks",
    )
    .argument("<trace>", "trace file from valgrind --tool=lackey --trace-mem=yes (plain or gzipped)")
    .option("--page-size <size>", "page size used to map the trace: 4K, 2M or 1G", "4K")
    .option("--format <format>", "page-table format: x86-64 or sv39", "x86-64")
    .option("--instructions", "replay instruction fetches (I lines) through the TLB too", false)
    .action((trace: string, options: LackeyCommandOptions) => {
      status = runLackey(trace, options, io);
    });
  const malloc = program.command("malloc").description("glibc 2.36's malloc (@memstack/libc)");
  malloc
    .command("replay")
    .description(
      "replay a malloc trace (# memstack malloc trace v1, plain or gzipped, - for stdin); placements on stdout",
    )
    .argument("<file>", "the trace")
    .option(
      "--backend <backend>",
      "where the process runs: flat (FlatMemory) or process (a kernel process)",
      "flat",
    )
    .option(
      "--memory <size>",
      "size of the flat address space, or of the machine's RAM with --backend process",
      "1G",
    )
    .option("--progress", "draw a progress bar on stderr even when it is not a terminal")
    .action((file: string, options: { backend: string; memory: string; progress?: boolean }) => {
      status = runMallocReplay(file, options, io);
    });
  malloc
    .command("calls")
    .description(
      "run a call list (malloc's calls, queries, writes over heap words, forks; - for stdin); glibc's lines on stdout",
    )
    .argument("<file>", "the call list")
    .option(
      "--backend <backend>",
      "where the process runs: flat (FlatMemory) or process (a kernel process; needed for forks)",
      "flat",
    )
    .option(
      "--memory <size>",
      "size of the flat address space, or of the machine's RAM with --backend process",
      "1G",
    )
    .action((file: string, options: { backend: string; memory: string }) => {
      status = runMallocCalls(file, options, io);
    });
  const vm = program.command("vm").description("the Linux kernel's virtual memory (@memstack/kernel)");
  vm.command("run")
    .description(
      "run a VM script (# memstack vm script v1, - for stdin) on a fresh process of a simulated machine; results on stdout",
    )
    .argument("<file>", "the script")
    .option("--ram <size>", "the machine's RAM", "1G")
    .option("--swap <size>", "the swap device", "0")
    .option("--overcommit <mode>", "vm.overcommit_memory: 0 heuristic, 1 always, 2 never", "0")
    .option("--thp <mode>", "transparent huge pages: always, madvise or never", "madvise")
    .option("--page-cluster <n>", "vm.page-cluster: swap readahead of up to 2^n pages (0: none)", "3")
    .option(
      "--no-execute-only",
      "PROT_EXEC alone stays readable, as on an x86 CPU without protection keys (PKU); with them (the default) it is execute-only",
    )
    .option(
      "--no-zero-page",
      "a read of memory never written takes a page of zeros, as on a kernel booted with pvm_no_zero_page=1; by default it maps the shared zero page",
    )
    .option("--proc", "print the process's /proc/PID/maps and status to stderr at the end")
    .option("--meminfo", "print the machine's /proc/meminfo to stderr at the end (after --proc's)")
    .action((file: string, options: VmRunOptions) => {
      status = runVmRun(file, options, io);
    });
  return program;
}

/**
 * Runs the CLI on `argv` (without the node and script paths).
 *
 * @returns the process exit status.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  status = 0;
  const program = buildProgram(io);
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return status;
  } catch (e) {
    // A command's own bad input (a page size the format lacks, a malformed
    // trace line) is a usage error; a file it cannot read is its failure.
    if (e instanceof UsageError) {
      io.err(`memstack: ${e.message.replace(/^\[[^\]]+\] /, "")}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof Error && "code" in e && typeof e.code === "string" && e.code.startsWith("E")) {
      io.err(`memstack: ${e.message}\n`);
      return 1;
    }
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
    // `memstack help [command]` (exit code 0), or a command group without its
    // subcommand or `help` of an unknown one (exit code 1): the help is
    // already written, to stdout or stderr; nothing more to say.
    if (e.code === "commander.help") return e.exitCode === 0 ? 0 : EXIT_USAGE;
    io.err(`memstack: ${e.message.replace(/^error: /, "")}\n`);
    io.err(`${program.helpInformation().split("\n")[0]}\nRun 'memstack --help' for the commands.\n`);
    return EXIT_USAGE;
  }
}

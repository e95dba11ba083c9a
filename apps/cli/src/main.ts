/**
 * The `memstack` command: a commander program whose subcommands run
 * memstack's packages. Exit codes: 0 success, 1 a command's own failure,
 * 2 a usage error (unknown command or option, missing argument), with a
 * one-line error and the usage on stderr.
 */
import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";
import { runDemo } from "./commands/demo.js";
import { type CliIo, processIo } from "./io.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

/** Exit status of a usage error, as for shell builtins and most Unix tools. */
export const EXIT_USAGE = 2;

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
    .description("a tour of FlatMemory: an ArrayBuffer as an address space, with brk, mmap and faults")
    .action(() => runDemo(io));
  return program;
}

/**
 * Runs the CLI on `argv` (without the node and script paths).
 *
 * @returns the process exit status.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
    io.err(`memstack: ${e.message.replace(/^error: /, "")}\n`);
    io.err(`${program.helpInformation().split("\n")[0]}\nRun 'memstack --help' for the commands.\n`);
    return EXIT_USAGE;
  }
}

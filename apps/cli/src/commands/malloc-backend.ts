/**
 * What `memstack malloc replay` and `memstack malloc calls` share: the
 * backend a malloc runs on (`flat`: a FlatMemory over one ArrayBuffer;
 * `process`: a process of a simulated Linux machine), checked from the
 * command line, and how a run that ends as a C process would is reported:
 * glibc's abort message and 134, "Killed" and 137 for the OOM killer, a
 * segmentation fault and 139.
 */
import {
  Fault,
  FlatMemory,
  type Mapper,
  type ProgramBreak,
  parseSize,
  type VirtualMemory,
} from "@memstack/core";
import { type Process, ProcessKilled } from "@memstack/kernel";
import { MallocAbort } from "@memstack/libc";
import { createMachine } from "@memstack/machine";
import type { CliIo } from "../io.js";

/** Exit status of a process killed by SIGABRT, as a shell reports it. */
export const EXIT_ABORT = 134;
/** Exit status of a process killed by SIGKILL (the OOM killer). */
export const EXIT_KILLED = 137;
/** Exit status of a process killed by SIGSEGV. */
export const EXIT_SEGV = 139;

/** The command line's choice of backend. */
export interface BackendOptions {
  /** Where the process runs: `flat` (FlatMemory) or `process` (a process of a simulated Linux machine). */
  backend: string;
  /** Size of the flat address space, or of the machine's RAM for `process`, e.g. `1G`. */
  memory: string;
}

/** An address space to run a malloc in: a FlatMemory, or a process (which can fork). */
export interface Space {
  readonly space: VirtualMemory & ProgramBreak & Mapper;
  /** The process, for the `process` backend; null for `flat`. */
  readonly process: Process | null;
}

/**
 * The address space `options` ask for, or null (having said why on
 * stderr) when the backend or the size is not one it takes.
 */
export function openSpace(options: BackendOptions, name: string, io: CliIo): Space | null {
  if (options.backend !== "flat" && options.backend !== "process") {
    io.err(`memstack: unknown backend '${options.backend}' (expected flat or process)\n`);
    return null;
  }
  let memoryBytes: number;
  try {
    memoryBytes = parseSize(options.memory);
  } catch {
    io.err(`memstack: --memory: not a size: '${options.memory}'\n`);
    return null;
  }
  if (
    options.backend === "flat" &&
    (memoryBytes < 1 << 20 || memoryBytes > 2 ** 32 || memoryBytes % 65536 !== 0)
  ) {
    io.err("memstack: --memory must be a multiple of 64K between 1M and 4G\n");
    return null;
  }
  if (options.backend === "process" && (memoryBytes < 4 << 20 || memoryBytes % 4096 !== 0)) {
    io.err("memstack: --memory (the machine's RAM) must be a multiple of 4K of at least 4M\n");
    return null;
  }
  if (options.backend === "flat") {
    // A fixed ArrayBuffer: typed arrays over a resizable one are several times slower.
    return {
      space: new FlatMemory({ memory: new ArrayBuffer(memoryBytes), assumeZeroed: true }),
      process: null,
    };
  }
  const proc = createMachine({ ram: memoryBytes }).spawn(name);
  return { space: proc, process: proc };
}

/**
 * The exit status of a run that ended as a C process's would (an abort, an
 * OOM kill, a fault), having said so on stderr; null for any other error.
 */
export function processEnd(e: unknown, io: CliIo): number | null {
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
  return null;
}

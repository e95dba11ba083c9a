/**
 * `memstack malloc calls FILE [--backend flat|process] [--memory SIZE]`:
 * runs a call list (@memstack/libc's `runCallList` format: the calls of a
 * trace plus malloc_trim, malloc_usable_size, mallopt, mallinfo2, errno,
 * writes over the heap's own words and forks; `-` for stdin) through glibc's
 * malloc and prints one line per call on stdout, the lines the real glibc
 * prints for the same list through libc's test/fixtures/glibc/calls.c, so
 * that the two can be diffed. A malformed line prints `error LINE: REASON`
 * and exits 2 before anything runs. A list that makes glibc abort prints
 * glibc's message on stderr and exits 134, as the aborted process would; a
 * fault exits 139, an OOM kill 137. Forks (F, P) need `--backend process`.
 */

import type { VirtualMemory } from "@memstack/core";
import { MAP_PRIVATE, PROT_READ, PROT_WRITE } from "@memstack/core";
import { createMalloc, type Malloc, parseCallList, runCallList, TraceSyntaxError } from "@memstack/libc";
import { type CliIo, readInput } from "../io.js";
import { type BackendOptions, openSpace, processEnd } from "./malloc-backend.js";

/**
 * Runs the command.
 *
 * @returns the exit status: 0; 1 when the file cannot be read; 2 for a usage
 *   error or a malformed list; 134, 137 or 139 for a list whose process
 *   aborts, is killed or faults.
 */
export function runMallocCalls(file: string, options: BackendOptions, io: CliIo): number {
  const opened = openSpace(options, "calls", io);
  if (opened === null) return 2;
  const bytes = readInput(file, io);
  if (bytes === null) return 1;
  let calls: ReturnType<typeof parseCallList>;
  try {
    calls = parseCallList(bytes.toString("utf8"));
  } catch (e) {
    if (e instanceof TraceSyntaxError) {
      io.err(`error ${e.line}: ${e.reason}\n`);
      return 2;
    }
    throw e;
  }
  const fork = calls.find((c) => c.op === "F" || c.op === "P");
  if (fork !== undefined && opened.process === null) {
    io.err(`error ${fork.line}: '${fork.op}' forks: run the list with --backend process\n`);
    return 2;
  }
  const { space } = opened;
  // posix_memalign's pointer: 8 bytes of a page of its own, outside the heap
  // (calls.c keeps it on its stack).
  const memptr = space.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  const first = createMalloc({ memory: space, programBreak: space, mapper: space });
  let proc = opened.process;
  let heap: Malloc = first;
  const forkProcess = (intoChild: boolean): { m: Malloc; memory: VirtualMemory } => {
    const child = proc!.fork(proc!.name);
    if (child === null) throw new Error("fork failed: no memory for the child's page tables");
    if (!intoChild) {
      child.exit();
      return { m: heap, memory: proc! };
    }
    heap = heap.forkChild({ memory: child, programBreak: child, mapper: child });
    proc = child;
    return { m: heap, memory: child };
  };
  const out: string[] = [];
  let status = 0;
  try {
    runCallList(first, calls, space, memptr, {
      out,
      // calls.c's own test: a block within 4 GiB above the initial break is
      // the heap's (on FlatMemory, where everything is, the heap itself).
      inHeap:
        opened.process === null ? undefined : (p) => p >= first.heapBase && p - first.heapBase < 2 ** 32,
      fork: opened.process === null ? undefined : forkProcess,
    });
  } catch (e) {
    const end = processEnd(e, io);
    if (end === null) throw e;
    status = end;
  }
  io.out(out.length > 0 ? `${out.join("\n")}\n` : "");
  return status;
}

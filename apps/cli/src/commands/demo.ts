/**
 * `memstack demo`: a short tour of what exists so far, narrated. First
 * FlatMemory, one ArrayBuffer as an address space with the program break and
 * mmap of a Linux process; then a simulated Linux machine running glibc's
 * malloc in a process, fork's copy-on-write and the /proc views. The tour
 * grows as the stack does.
 */
import {
  errnoName,
  Fault,
  FlatMemory,
  formatSize,
  isSyscallError,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  sbrk,
  toHex,
  virtAddr,
} from "@memstack/core";
import { createMalloc } from "@memstack/libc";
import { createMachine } from "@memstack/machine";
import type { CliIo } from "../io.js";

const RW = PROT_READ | PROT_WRITE;

// A raw syscall return: an address in hex, 0, or the negated errno's name.
function ret(value: number): string {
  if (isSyscallError(value)) return `-${errnoName(value)}`;
  return value === 0 ? "0" : toHex(value);
}

function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Prints the tour to `io.out`. */
export function runDemo(io: CliIo): void {
  const line = (call: string, result: string, note = ""): void => {
    io.out(`${`  ${call.padEnd(50)} ${result.padEnd(12)} ${note}`.trimEnd()}\n`);
  };
  const started = performance.now();
  const memory = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 64 << 20 });
  const initialSize = memory.sizeBytes;

  io.out("memstack demo: FlatMemory, an ArrayBuffer used as a process's address space\n\n");
  io.out(
    `A ${formatSize(initialSize)} resizable ArrayBuffer, growable to ${formatSize(memory.limit)}: address N is byte N.\n` +
      "The heap grows up from the program break; mmap places mappings down from the top.\n\n",
  );

  const brk0 = memory.brk(0);
  line("brk(0)", toHex(brk0), "the initial program break");
  const heap = sbrk(memory, 0x5000);
  line("sbrk(0x5000)", toHex(heap), `the heap is now ${toHex(brk0)}-${toHex(memory.brk(0))}, zero-filled`);

  const text = new TextEncoder().encode("hello, memstack");
  memory.storeBytes(virtAddr(heap), text);
  const back = new Uint8Array(text.length);
  memory.loadBytes(virtAddr(heap), back);
  line(`storeBytes(${toHex(heap)}, "hello, memstack")`, "", `reads back "${new TextDecoder().decode(back)}"`);

  const word = heap + 0x10;
  memory.storeU32(virtAddr(word), 0xdeadbeef);
  const raw = new Uint8Array(4);
  memory.loadBytes(virtAddr(word), raw);
  line(`storeU32(${toHex(word)}, 0xdeadbeef)`, "", `bytes in memory: ${hexBytes(raw)} (little-endian)`);
  line(
    `loadU16(${toHex(word + 1)})`,
    toHex(memory.loadU16(virtAddr(word + 1))),
    "an unaligned load: bytes be ad",
  );

  io.out("\n");
  const a = memory.mmap(0, 10000, RW, MAP_PRIVATE);
  line("mmap(NULL, 10000, rw-, MAP_PRIVATE)", ret(a), "top-down; 10000 bytes round up to 3 pages");
  line(
    `mmap(${toHex(a)}, 4096, rw-, MAP_FIXED_NOREPLACE)`,
    ret(memory.mmap(a, 4096, RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE)),
    "that range is taken, as on Linux",
  );
  line("mmap(NULL, 0, rw-, MAP_PRIVATE)", ret(memory.mmap(0, 0, RW, MAP_PRIVATE)), "a zero length");
  line(
    `mprotect(${toHex(a + 4096)}, 4096, r--)`,
    ret(memory.mprotect(a + 4096, 4096, PROT_READ)),
    "splits the mapping in three",
  );
  line(`munmap(${toHex(a + 1)}, 4096)`, ret(memory.munmap(a + 1, 4096)), "an unaligned address");
  line(
    `brk(${toHex(brk0 - 4096)})`,
    toHex(memory.brk(brk0 - 4096)),
    "below the start: refused, the break stays",
  );

  io.out("\nThe address space now:\n");
  for (const r of memory.regions()) {
    const perms = `${r.prot & PROT_READ ? "r" : "-"}${r.prot & PROT_WRITE ? "w" : "-"}-${r.shared ? "s" : "p"}`;
    io.out(
      `  ${toHex(r.start).padStart(10)}-${toHex(r.end).padEnd(10)} ${perms} ${formatSize(r.end - r.start).padStart(5)}${r.heap ? "  [heap]" : ""}\n`,
    );
  }

  io.out("\n");
  try {
    memory.loadU8(virtAddr(memory.limit));
  } catch (e) {
    if (!(e instanceof Fault)) throw e;
    line(
      `loadU8(${toHex(memory.limit)})`,
      "Fault",
      `${e.access} of ${toHex(e.address)}: ${e.reason} (the simulated SIGSEGV)`,
    );
  }

  io.out(
    `\nThe buffer grew from ${formatSize(initialSize)} to ${formatSize(memory.sizeBytes)} to cover the mapping at the top;` +
      " the host commits its pages only when they are written.\n",
  );
  memory.check();
  io.out("All invariants hold (FlatMemory.check()).\n");
  machineAct(io, line);
  io.out(`\nDone in ${(performance.now() - started).toFixed(0)} ms.\n`);
}

// Act two: a process of a simulated x86-64 Linux machine, with glibc's malloc in it.
function machineAct(io: CliIo, line: (call: string, result: string, note?: string) => void): void {
  const machine = createMachine({ ram: "64M" });
  const proc = machine.spawn("demo");
  io.out(
    "\nNow a simulated Linux machine: 64M of RAM, the buddy allocator, x86-64 page tables in that RAM\n" +
      "and a TLB. glibc's malloc runs in a process; every byte it touches goes through the MMU.\n\n",
  );
  const malloc = createMalloc({ memory: proc, programBreak: proc, mapper: proc });
  const brk0 = malloc.heapBase;
  const p = malloc.malloc(100);
  line("malloc(100)", `brk0+${toHex(p - brk0)}`, "glibc's first chunk sits after the 0x290-byte tcache");
  const q = malloc.malloc(100);
  line("malloc(100)", `brk0+${toHex(q - brk0)}`, "the next 0x70-byte chunk");
  malloc.free(p);
  line(
    "free(first); malloc(100)",
    `brk0+${toHex(malloc.malloc(100) - brk0)}`,
    "straight back from the tcache",
  );
  const big = malloc.malloc(200 * 1024);
  line(
    "malloc(200K)",
    malloc.isMmapped(big) ? "mmap" : toHex(big),
    "above the 128K threshold: its own mapping",
  );
  proc.storeU32(virtAddr(q), 0x11111111);
  const faults = machine.kernel.pages.stats.cowCopies;
  const child = proc.fork("child");
  if (child === null) throw new Error("fork failed on an idle machine");
  child.storeU32(virtAddr(q), 0x22222222);
  line(
    "fork(); child writes the chunk",
    `${machine.kernel.pages.stats.cowCopies - faults} copy`,
    `copy-on-write: parent still reads ${toHex(proc.loadU32(virtAddr(q)))}`,
  );
  // The child's malloc is the parent's, inherited with its heap.
  const childMalloc = malloc.forkChild({ memory: child, programBreak: child, mapper: child });
  childMalloc.free(q);
  line(
    "child: free(chunk); malloc(100)",
    `brk0+${toHex(childMalloc.malloc(100) - brk0)}`,
    `its own heap now; the parent's chunk stays ${malloc.chunks().find((c) => c.address === q - 16)?.state}`,
  );
  childMalloc.check();
  io.out("\n/proc/PID/maps of the parent:\n");
  for (const l of proc.maps().trimEnd().split("\n")) io.out(`  ${l}\n`);
  const meminfo = machine.meminfo();
  const pick = (label: string) => new RegExp(`^${label}:.*$`, "m").exec(meminfo)?.[0] ?? "";
  io.out(
    `\n/proc/meminfo (part):\n  ${pick("MemFree")}\n  ${pick("AnonPages")}\n  ${pick("Committed_AS")}\n`,
  );
  machine.check();
  io.out("All invariants hold (RAM, buddy allocator, page tables and TLB, kernel).\n");
}

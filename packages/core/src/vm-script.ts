/**
 * The `# memstack vm script v1` format (../shared/formats/README.md, section
 * 2), run against any address space that offers the Mapper, ProgramBreak and
 * VirtualMemory ports, so its output can be compared line for line with the
 * real kernel's (../shared/oracles/linux/run-vm-script).
 *
 * The whole script is parsed before anything runs; a malformed line throws a
 * {@link VmScriptError} carrying the line number and reason. Expressions
 * follow the oracle: numbers are unsigned 64-bit, so `brk0-0x1000` below 0
 * wraps. The mmap family takes them as the unsigned longs they are (a value
 * a number cannot hold as the middle of its page, see `arg`), so its checks
 * and wrapping sums are the kernel's; a read or write above 2^53 - 1 is
 * made at 2^53 - 1, which faults as the real address does.
 *
 * Nine lines, and more madvise advice, go beyond the shared format; their
 * real-kernel twin is packages/kernel/test/fixtures/vm/vm-script-ext.c:
 *
 *     mremap NAME OLD OLDLEN NEWLEN FLAGS NEWADDR
 *     fork
 *     status
 *     procmaps
 *     pte
 *     mincore ADDR LEN
 *     vmswap
 *     reclaim
 *     lazyfree
 *
 * mremap: FLAGS is `none` or `|`-joined `maymove`, `fixed`, `dontunmap`;
 * NEWADDR is an expression (`0` when unused). It prints what an mmap line
 * prints, and binds NAME to the result. OLD is evaluated before NEWADDR.
 * fork: prints `ok`, and every later line runs in the child (the target's
 * `fork()`); `err ENOSYS` for a target that cannot fork. madvise also takes
 * `free`, `random`, `sequential`, `dontfork`, `dofork`, `hugepage`,
 * `nohugepage`, `dontdump`, `dodump`, `cold`, `pageout`, `populate_read`,
 * `populate_write`, `dontneed_locked`, `remove`, `mergeable`,
 * `unmergeable`, `wipeonfork`, `keeponfork`, `guard_install` and
 * `guard_remove`; mmap's FLAGS also `growsdown` (MAP_GROWSDOWN) and
 * `droppable` (MAP_DROPPABLE, a mapping type: alone, not with private),
 * `32bit` (MAP_32BIT), `hugetlb` (MAP_HUGETLB) and a huge page size for it:
 * `huge_2mb`, `huge_1gb` or another of Linux's MAP_HUGE_* (`huge_16kb` …
 * `huge_16gb`, the size's log2 from bit 26 up). status: how
 * /proc/PID/status's VmSize, VmData, VmExe, VmLib, RssAnon and RssShmem moved
 * since the script began, in kB (`status VmSize=+8 VmData=+8 VmExe=+0 VmLib=+0
 * RssAnon=+4 RssShmem=+0`), from the target's `status()`; `err ENOSYS`
 * without one. procmaps: what maps prints, with the offset, device and name
 * columns of the target's `procMaps()` text (/proc/PID/maps) after each
 * range (`a-a+0x1000 rw-s 00000000 00:01 /dev/zero (deleted)`); `err
 * ENOSYS` without one. pte: how VmPTE (the process's page-table pages, in
 * kB) moved since the first pte line of the process it runs in, which
 * prints `pte +0` (the child's first after a fork too): a real process's
 * own mappings hold tables of their own, and their number is not the
 * script's; `err ENOSYS` without `status()`. mincore: mincore(2) over LEN
 * bytes (at most 16M) from ADDR, `ok` and one digit per page, 1 for a page
 * in memory (mapped, or in the page or swap cache), 0 for one that is not
 * (`ok 1101`; `ok` alone for LEN 0), or `err ERRNO`; `err ENOSYS` for a
 * target without `mincore()`. vmswap: how /proc/PID/status's VmSwap (the
 * process's swapped-out pages, kB) moved since the script began (`vmswap
 * +8`), from `status()`; `err ENOSYS` without one. reclaim: the kernel
 * reclaims all it can (the oracle: its memory cgroup's memory.force_empty),
 * `ok`; `err ENOSYS` for a target without `reclaim()`. lazyfree:
 * /proc/PID/smaps_rollup's LazyFree, the process's pages freed lazily
 * (MADV_FREE) and not written since, in kB (`lazyfree 8`), from the
 * target's `lazyFree()`; `err ENOSYS` without one.
 */
import { virtAddr } from "./address.js";
import { Fault } from "./errors.js";
import {
  ENOMEM,
  ENOSYS,
  errnoName,
  isSyscallError,
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_32BIT,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGE_SHIFT,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "./linux-abi.js";
import type { Mapper } from "./ports/mapper.js";
import type { ProgramBreak } from "./ports/program-break.js";
import type { VirtualMemory } from "./ports/virtual-memory.js";

/** An address space a VM script can run on. */
export interface VmScriptTarget {
  mapper: Mapper;
  programBreak: ProgramBreak;
  memory: VirtualMemory;
  /** The current mappings, lowest first, with /proc/PID/maps permissions (`rw-p`). */
  maps(): readonly { start: number; end: number; perms: string }[];
  /** fork(2): the child's target, or null when the fork fails (ENOMEM). Optional. */
  fork?(): VmScriptTarget | null;
  /** The text of /proc/PID/status, for status lines. Optional. */
  status?(): string;
  /** The text of /proc/PID/maps, for procmaps lines. Optional. */
  procMaps?(): string;
  /**
   * mincore(2): fills one byte per page of [addr, addr + length) into
   * `vec` (bit 0: in memory) and returns 0, or a negative errno. Optional.
   */
  mincore?(addr: number, length: number, vec: Uint8Array): number;
  /** Reclaims all the memory the kernel can (memory.force_empty), for reclaim lines. Optional. */
  reclaim?(): void;
  /** /proc/PID/smaps_rollup's LazyFree in kB, for lazyfree lines. Optional. */
  lazyFree?(): number;
}

// The /proc/PID/status fields a status line reports.
const STATUS_FIELDS = ["VmSize", "VmData", "VmExe", "VmLib", "RssAnon", "RssShmem"] as const;

// One field of a /proc/PID/status text, in kB (NaN when missing).
function statusField(text: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? Number.NaN);
}

// The STATUS_FIELDS of a /proc/PID/status text, in kB.
function statusKb(text: string): number[] {
  return STATUS_FIELDS.map((f) => statusField(text, f));
}

// A change as the status, pte and vmswap lines print it: `+8`, `+0`, `-4`.
function signed(d: number): string {
  return `${d >= 0 ? "+" : ""}${d}`;
}

/** A malformed script line: `error LINE: REASON`, as the oracle prints it. */
export class VmScriptError extends Error {
  override readonly name = "VmScriptError";
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`error ${line}: ${reason}`);
  }
}

type Expr = { base: string | null; brk0: boolean; off: bigint };
/** One parsed line of a VM script. */
export type VmScriptOp =
  | { kind: "mmap"; line: number; name: string; at: Expr; len: bigint; prot: number; flags: number }
  | {
      kind: "mremap";
      line: number;
      name: string;
      at: Expr;
      len: bigint;
      newLen: bigint;
      flags: number;
      to: Expr;
    }
  | { kind: "munmap"; line: number; at: Expr; len: bigint }
  | { kind: "mprotect"; line: number; at: Expr; len: bigint; prot: number }
  | { kind: "madvise"; line: number; at: Expr; len: bigint; advice: number }
  | { kind: "brk" | "read"; line: number; at: Expr }
  | { kind: "mincore"; line: number; at: Expr; len: bigint }
  | { kind: "write"; line: number; at: Expr; byte: number }
  | { kind: "maps"; line: number }
  | { kind: "fork"; line: number }
  | { kind: "status"; line: number }
  | { kind: "procmaps"; line: number }
  | { kind: "pte"; line: number }
  | { kind: "vmswap"; line: number }
  | { kind: "reclaim"; line: number }
  | { kind: "lazyfree"; line: number };

const U64 = (1n << 64n) - 1n;
const FIELDS: Record<string, number> = {
  mmap: 6,
  mremap: 7,
  munmap: 3,
  mprotect: 4,
  madvise: 4,
  brk: 2,
  read: 2,
  write: 3,
  maps: 1,
  fork: 1,
  status: 1,
  procmaps: 1,
  pte: 1,
  mincore: 3,
  vmswap: 1,
  reclaim: 1,
  lazyfree: 1,
};
// The longest range a mincore line takes: the oracle's vector is one page.
const MINCORE_MAX = 16n << 20n;
const FLAGS: Record<string, number> = {
  private: MAP_PRIVATE,
  shared: MAP_SHARED,
  fixed: MAP_FIXED,
  fixed_noreplace: MAP_FIXED_NOREPLACE,
  populate: MAP_POPULATE,
  noreserve: MAP_NORESERVE,
  anonymous: 0,
  // memstack's (vm-script-ext.c parses them too).
  growsdown: MAP_GROWSDOWN,
  droppable: MAP_DROPPABLE,
  "32bit": MAP_32BIT,
  hugetlb: MAP_HUGETLB,
  // Linux's MAP_HUGE_* page sizes: log2 of the size from MAP_HUGE_SHIFT up.
  ...Object.fromEntries(
    (
      [
        ["16kb", 14],
        ["64kb", 16],
        ["512kb", 19],
        ["1mb", 20],
        ["2mb", 21],
        ["8mb", 23],
        ["16mb", 24],
        ["32mb", 25],
        ["256mb", 28],
        ["512mb", 29],
        ["1gb", 30],
        ["2gb", 31],
        ["16gb", 34],
      ] as const
    ).map(([size, log]) => [`huge_${size}`, (log << MAP_HUGE_SHIFT) >>> 0]),
  ),
};
const MREMAP_FLAGS: Record<string, number> = {
  maymove: MREMAP_MAYMOVE,
  fixed: MREMAP_FIXED,
  dontunmap: MREMAP_DONTUNMAP,
};
// The shared format's three, then memstack's (vm-script-ext.c parses them too).
const ADVICE: Record<string, number> = {
  dontneed: MADV_DONTNEED,
  willneed: MADV_WILLNEED,
  normal: MADV_NORMAL,
  free: MADV_FREE,
  random: MADV_RANDOM,
  sequential: MADV_SEQUENTIAL,
  dontfork: MADV_DONTFORK,
  dofork: MADV_DOFORK,
  hugepage: MADV_HUGEPAGE,
  nohugepage: MADV_NOHUGEPAGE,
  dontdump: MADV_DONTDUMP,
  dodump: MADV_DODUMP,
  cold: MADV_COLD,
  pageout: MADV_PAGEOUT,
  populate_read: MADV_POPULATE_READ,
  populate_write: MADV_POPULATE_WRITE,
  dontneed_locked: MADV_DONTNEED_LOCKED,
  remove: MADV_REMOVE,
  mergeable: MADV_MERGEABLE,
  unmergeable: MADV_UNMERGEABLE,
  wipeonfork: MADV_WIPEONFORK,
  keeponfork: MADV_KEEPONFORK,
  guard_install: MADV_GUARD_INSTALL,
  guard_remove: MADV_GUARD_REMOVE,
};
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseNumber(s: string, line: number): bigint {
  const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)([KMG]?)$/.exec(s);
  if (m === null) throw new VmScriptError(line, "bad number");
  const v = BigInt(m[1]!) << BigInt(m[2] === "K" ? 10 : m[2] === "M" ? 20 : m[2] === "G" ? 30 : 0);
  if (v > U64) throw new VmScriptError(line, "bad number");
  return v;
}

function parseExpr(s: string, line: number): Expr {
  if (/^[0-9]/.test(s)) return { base: null, brk0: false, off: parseNumber(s, line) };
  const cut = s.search(/[+-]/);
  const head = cut < 0 ? s : s.slice(0, cut);
  const off = cut < 0 ? 0n : (s[cut] === "+" ? 1n : -1n) * parseNumber(s.slice(cut + 1), line);
  if (head === "brk0") return { base: null, brk0: true, off };
  if (!NAME_RE.test(head)) throw new VmScriptError(line, "bad name");
  return { base: head, brk0: false, off };
}

function parseProt(s: string, line: number): number {
  if (s === "none") return 0;
  let p = 0;
  for (const c of s) {
    if (c === "r") p |= PROT_READ;
    else if (c === "w") p |= PROT_WRITE;
    else if (c === "x") p |= PROT_EXEC;
    else throw new VmScriptError(line, "bad prot");
  }
  if (p === 0) throw new VmScriptError(line, "bad prot");
  return p;
}

/**
 * Parses a VM script.
 *
 * @throws {VmScriptError} at the first malformed line.
 */
export function parseVmScript(text: string): VmScriptOp[] {
  const ops: VmScriptOp[] = [];
  const mapped = new Set<string>();
  let header = false;
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (s === "") return;
    if (!header) {
      if (s !== "# memstack vm script v1") throw new VmScriptError(line, "missing header");
      header = true;
      return;
    }
    if (s.startsWith("#")) return;
    const t = s.split(/[ \t]+/);
    if (t.length > 7) throw new VmScriptError(line, "too many fields");
    const kind = t[0]!;
    const want = FIELDS[kind];
    if (want === undefined) throw new VmScriptError(line, "unknown call");
    if (t.length !== want) throw new VmScriptError(line, "wrong number of fields");
    // mmap and mremap bind a name that no earlier line bound.
    const bind = (): string => {
      const name = t[1]!;
      if (name === "brk0") throw new VmScriptError(line, "brk0 is not a name to bind");
      if (!NAME_RE.test(name)) throw new VmScriptError(line, "bad name");
      if (mapped.has(name)) throw new VmScriptError(line, "name already bound by an earlier mmap");
      mapped.add(name);
      return name;
    };
    switch (kind) {
      case "mremap": {
        const name = bind();
        const at = parseExpr(t[2]!, line);
        const len = parseNumber(t[3]!, line);
        const newLen = parseNumber(t[4]!, line);
        let flags = 0;
        if (t[5] !== "none") {
          for (const f of t[5]!.split("|")) {
            const v = MREMAP_FLAGS[f];
            if (v === undefined) throw new VmScriptError(line, "bad flag");
            flags |= v;
          }
        }
        ops.push({ kind, line, name, at, len, newLen, flags, to: parseExpr(t[6]!, line) });
        break;
      }
      case "mmap": {
        const name = bind();
        const at = parseExpr(t[2]!, line);
        const len = parseNumber(t[3]!, line);
        const prot = parseProt(t[4]!, line);
        let flags = 0;
        for (const f of t[5]!.split("|")) {
          const v = FLAGS[f];
          if (v === undefined) throw new VmScriptError(line, "bad flag");
          flags |= v;
        }
        // Unsigned, as the C int reaches the kernel: huge_16gb sets bit 31.
        ops.push({ kind, line, name, at, len, prot, flags: flags >>> 0 });
        break;
      }
      case "munmap":
        ops.push({ kind, line, at: parseExpr(t[1]!, line), len: parseNumber(t[2]!, line) });
        break;
      case "mprotect":
        ops.push({
          kind,
          line,
          at: parseExpr(t[1]!, line),
          len: parseNumber(t[2]!, line),
          prot: parseProt(t[3]!, line),
        });
        break;
      case "madvise": {
        const advice = ADVICE[t[3]!];
        const at = parseExpr(t[1]!, line);
        const len = parseNumber(t[2]!, line);
        if (advice === undefined) throw new VmScriptError(line, "bad advice");
        ops.push({ kind, line, at, len, advice });
        break;
      }
      case "write": {
        const byte = parseNumber(t[2]!, line);
        if (byte > 255n) throw new VmScriptError(line, "byte above 255");
        ops.push({ kind, line, at: parseExpr(t[1]!, line), byte: Number(byte) });
        break;
      }
      case "brk":
      case "read":
        ops.push({ kind, line, at: parseExpr(t[1]!, line) });
        break;
      case "mincore": {
        const at = parseExpr(t[1]!, line);
        const len = parseNumber(t[2]!, line);
        if (len > MINCORE_MAX) throw new VmScriptError(line, "mincore length above 16M");
        ops.push({ kind, line, at, len });
        break;
      }
      case "fork":
      case "status":
      case "procmaps":
      case "pte":
      case "vmswap":
      case "reclaim":
      case "lazyfree":
        ops.push({ kind, line });
        break;
      default:
        ops.push({ kind: "maps", line });
    }
  });
  if (!header) throw new VmScriptError(text.split("\n").length, "missing header");
  return ops;
}

// A 64-bit value as an argument of the mmap family (an unsigned long: see
// the Mapper port). A number holds every one below 2^53 and every multiple
// of 4096, but not all the others; one it cannot hold goes as the middle of
// its page, which shares with it everything the kernel tests of such a
// value: its page, that it is not page-aligned, and its PAGE_ALIGN.
function arg(v: bigint): number {
  const n = Number(v);
  if (BigInt(n) === v) return n;
  return Number(v - (v % 4096n) + 2048n);
}

// A 64-bit value as an address for the VirtualMemory port, which takes safe
// integers: one above 2^53 - 1 (non-canonical on x86-64 as that is, or in
// the kernel's half) becomes 2^53 - 1, whose access faults as its own would.
function addr(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** The permissions column of /proc/PID/maps for PROT_* bits: `mapsPerms(3, false)` is `rw-p`. */
export function mapsPerms(prot: number, shared: boolean): string {
  return `${prot & PROT_READ ? "r" : "-"}${prot & PROT_WRITE ? "w" : "-"}${prot & PROT_EXEC ? "x" : "-"}${shared ? "s" : "p"}`;
}

// One load or store: its result line, or "segv" when the space faults.
function touch(access: () => string): string {
  try {
    return access();
  } catch (e) {
    if (e instanceof Fault) return "segv";
    throw e;
  }
}

/**
 * Runs a VM script on a fresh address space and returns its output lines,
 * one per call, in the format the real-kernel oracle prints.
 *
 * @throws {VmScriptError} for a malformed script, before running anything.
 */
export function runVmScript(text: string, space: VmScriptTarget): string[] {
  const ops = parseVmScript(text);
  const out: string[] = [];
  // The process the script runs in: after a fork line, the child.
  let target = space;
  // /proc/PID/status when the script began, for status lines.
  const base =
    ops.some((o) => o.kind === "status") && space.status !== undefined ? statusKb(space.status()) : [];
  // VmSwap when the script began, for vmswap lines.
  const swapBase =
    ops.some((o) => o.kind === "vmswap") && space.status !== undefined
      ? statusField(space.status(), "VmSwap")
      : 0;
  // VmPTE at the first pte line of the current process (NaN: none yet).
  let pteBase = Number.NaN;
  const bound = new Map<string, bigint>();
  const brk0 = BigInt(target.programBreak.brk(0));
  let first: string | null = null;
  let spanLo = U64;
  let spanHi = 0n;

  const evaluate = (e: Expr): bigint | null => {
    let base = e.brk0 ? brk0 : 0n;
    if (e.base !== null) {
      const v = bound.get(e.base);
      if (v === undefined) {
        out.push(`unbound ${e.base}`);
        return null;
      }
      base = v;
    }
    return (base + e.off) & U64;
  };
  const rel = (a: bigint): string => {
    const b = bound.get(first!)!;
    if (a === b) return first!;
    return a > b ? `${first}+0x${(a - b).toString(16)}` : `${first}-0x${(b - a).toString(16)}`;
  };
  const status = (r: number): string => (isSyscallError(r) ? `err ${errnoName(r)}` : "ok");
  // Whether a mapping overlaps the span of addresses the script's mappings
  // ever covered: what maps and procmaps lines show.
  const inSpan = (start: bigint, end: bigint): boolean => spanLo < spanHi && end > spanLo && start < spanHi;
  // An mmap's or mremap's result: `err ERRNO`, or `ok NAME=EXPR` with NAME
  // bound and the span of maps lines widened to the new mapping.
  const bindResult = (name: string, r: number, len: bigint): void => {
    if (isSyscallError(r)) {
      out.push(`err ${errnoName(r)}`);
      return;
    }
    const p = BigInt(r);
    bound.set(name, p);
    first ??= name;
    const end = p + ((len + 4095n) & ~4095n);
    if (p < spanLo) spanLo = p;
    if (end > spanHi) spanHi = end;
    out.push(`ok ${name}=${rel(p)}`);
  };

  for (const op of ops) {
    if (op.kind === "maps") {
      const shown = target
        .maps()
        .filter((m) => inSpan(BigInt(m.start), BigInt(m.end)))
        .map((m) => `${rel(BigInt(m.start))}-${rel(BigInt(m.end))} ${m.perms}`);
      out.push(shown.length > 0 ? `maps ${shown.join(" ; ")}` : "maps none");
      continue;
    }
    if (op.kind === "procmaps") {
      if (target.procMaps === undefined) {
        out.push(`err ${errnoName(-ENOSYS)}`);
        continue;
      }
      // START-END PERMS OFFSET DEV INODE [NAME], the inode left out.
      const shown: string[] = [];
      for (const l of target.procMaps().split("\n")) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) (\S+) (\S+) \d+ *(.*)$/.exec(l);
        if (m === null) continue;
        const start = BigInt(`0x${m[1]}`);
        const end = BigInt(`0x${m[2]}`);
        if (!inSpan(start, end)) continue;
        shown.push(`${rel(start)}-${rel(end)} ${m[3]} ${m[4]} ${m[5]}${m[6] === "" ? "" : ` ${m[6]}`}`);
      }
      out.push(shown.length > 0 ? `procmaps ${shown.join(" ; ")}` : "procmaps none");
      continue;
    }
    if (op.kind === "status") {
      if (target.status === undefined) out.push(`err ${errnoName(-ENOSYS)}`);
      else {
        const now = statusKb(target.status());
        const moved = STATUS_FIELDS.map((f, k) => `${f}=${signed(now[k]! - base[k]!)}`);
        out.push(`status ${moved.join(" ")}`);
      }
      continue;
    }
    if (op.kind === "pte") {
      if (target.status === undefined) out.push(`err ${errnoName(-ENOSYS)}`);
      else {
        const now = statusField(target.status(), "VmPTE");
        if (Number.isNaN(pteBase)) pteBase = now;
        out.push(`pte ${signed(now - pteBase)}`);
      }
      continue;
    }
    if (op.kind === "reclaim") {
      if (target.reclaim === undefined) out.push(`err ${errnoName(-ENOSYS)}`);
      else {
        target.reclaim();
        out.push("ok");
      }
      continue;
    }
    if (op.kind === "lazyfree") {
      out.push(target.lazyFree === undefined ? `err ${errnoName(-ENOSYS)}` : `lazyfree ${target.lazyFree()}`);
      continue;
    }
    if (op.kind === "vmswap") {
      if (target.status === undefined) out.push(`err ${errnoName(-ENOSYS)}`);
      else {
        out.push(`vmswap ${signed(statusField(target.status(), "VmSwap") - swapBase)}`);
      }
      continue;
    }
    if (op.kind === "fork") {
      const child = target.fork === undefined ? undefined : target.fork();
      if (child === undefined) out.push(`err ${errnoName(-ENOSYS)}`);
      else if (child === null) out.push(`err ${errnoName(-ENOMEM)}`);
      else {
        target = child;
        pteBase = Number.NaN;
        out.push("ok");
      }
      continue;
    }
    const at = evaluate(op.at);
    if (at === null) continue;
    switch (op.kind) {
      case "mmap":
        bindResult(op.name, target.mapper.mmap(arg(at), arg(op.len), op.prot, op.flags), op.len);
        break;
      case "mremap": {
        const to = evaluate(op.to);
        if (to === null) break;
        const mremap = target.mapper.mremap;
        if (mremap === undefined) {
          out.push(`err ${errnoName(-ENOSYS)}`);
          break;
        }
        const r = mremap.call(target.mapper, arg(at), arg(op.len), arg(op.newLen), op.flags, arg(to));
        bindResult(op.name, r, op.newLen);
        break;
      }
      case "munmap":
        out.push(status(target.mapper.munmap(arg(at), arg(op.len))));
        break;
      case "mprotect":
        out.push(status(target.mapper.mprotect(arg(at), arg(op.len), op.prot)));
        break;
      case "madvise":
        out.push(status(target.mapper.madvise(arg(at), arg(op.len), op.advice)));
        break;
      case "brk": {
        const now = BigInt(target.programBreak.brk(arg(at)));
        out.push(now >= brk0 ? `brk0+0x${(now - brk0).toString(16)}` : `brk0-0x${(brk0 - now).toString(16)}`);
        break;
      }
      case "read":
        out.push(touch(() => `ok ${target.memory.loadU8(virtAddr(addr(at)))}`));
        break;
      case "mincore": {
        if (target.mincore === undefined) {
          out.push(`err ${errnoName(-ENOSYS)}`);
          break;
        }
        const vec = new Uint8Array(Number((op.len + 4095n) / 4096n));
        const r = target.mincore(arg(at), Number(op.len), vec);
        out.push(
          isSyscallError(r)
            ? `err ${errnoName(r)}`
            : `ok${vec.length > 0 ? " " : ""}${Array.from(vec, (b) => b & 1).join("")}`,
        );
        break;
      }
      case "write": {
        const byte = op.byte;
        out.push(
          touch(() => {
            target.memory.storeU8(virtAddr(addr(at)), byte);
            return "ok";
          }),
        );
        break;
      }
    }
  }
  return out;
}

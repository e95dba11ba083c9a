/**
 * The three kinds of error every memstack package throws.
 *
 * - {@link UsageError}: the TypeScript API was misused (a negative size, a
 *   fractional address, a double free). It is a `RangeError`, names the
 *   package and the argument, and leaves every structure as it was.
 * - {@link CorruptionError}: a structure found its own bytes inconsistent
 *   (glibc's "free(): invalid pointer", a failed `check()`), the way the real
 *   system aborts.
 * - {@link Fault}: a simulated access that the address space forbids, the
 *   simulated SIGSEGV / access violation, with address, access kind and
 *   reason.
 *
 * Expected outcomes are not errors: exhaustion returns `null` or 0, a C- or
 * Win32-shaped API reports through its own convention (errno, -EINVAL,
 * GetLastError).
 */

/** The kind of memory access that faulted. */
export type Access = "read" | "write" | "execute";

/**
 * Why an access faulted.
 *
 * - `not-mapped`: nothing is mapped there (SIGSEGV with SEGV_MAPERR; x86 #PF with P=0).
 * - `not-permitted`: mapped, but the protection forbids this access (SEGV_ACCERR; #PF with P=1).
 * - `protection-key`: mapped, but its protection key forbids data access, as
 *   for Linux's execute-only memory on x86 with PKU (SEGV_PKUERR; #PF with PK=1).
 * - `past-object-end`: mapped, but past the end of the object behind the
 *   mapping, as the part of a shared anonymous mapping that mremap grew beyond
 *   its shmem file (SIGBUS with BUS_ADRERR).
 * - `no-huge-page`: mapped with MAP_HUGETLB, but the hugetlb pool has no
 *   huge page to fault in (MAP_NORESERVE reserved none; SIGBUS).
 * - `non-canonical`: the address is not canonical for the address space (x86 #GP).
 * - `reserved-bit`: a paging entry on the way has a reserved bit set (#PF with RSVD=1).
 */
export type FaultReason =
  | "not-mapped"
  | "not-permitted"
  | "protection-key"
  | "past-object-end"
  | "no-huge-page"
  | "non-canonical"
  | "reserved-bit";

function hex(n: number): string {
  return Number.isSafeInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n);
}

/**
 * Misuse of a memstack API: a bad argument or a call the structure's state
 * does not allow. The message starts with `[package]` and names the argument.
 */
export class UsageError extends RangeError {
  override readonly name = "UsageError";
  /** The npm package that threw, such as `@memstack/core`. */
  readonly pkg: string;
  /** The argument at fault, when one argument is to blame. */
  readonly argument: string | undefined;

  constructor(pkg: string, message: string, argument?: string) {
    super(`[${pkg}] ${message}`);
    this.pkg = pkg;
    this.argument = argument;
  }
}

/**
 * A structure found its own data inconsistent: what the real system reports
 * by aborting (glibc's messages) or what a `check()` found.
 */
export class CorruptionError extends Error {
  override readonly name = "CorruptionError";
  /** The npm package that threw. */
  readonly pkg: string;
  /** The message without the package prefix, e.g. glibc's exact abort text. */
  readonly detail: string;

  constructor(pkg: string, detail: string) {
    super(`[${pkg}] ${detail}`);
    this.pkg = pkg;
    this.detail = detail;
  }
}

/**
 * A simulated memory access that the address space forbids: the simulated
 * SIGSEGV or access violation. Thrown by {@link VirtualMemory} loads and
 * stores; translation layers return fault values instead.
 */
export class Fault extends Error {
  override readonly name = "Fault";
  /** The npm package whose address space refused the access. */
  readonly pkg: string;
  /** The faulting virtual address (CR2 on x86). */
  readonly address: number;
  /** What the access tried to do. */
  readonly access: Access;
  /** Why it was refused. */
  readonly reason: FaultReason;

  constructor(pkg: string, address: number, access: Access, reason: FaultReason) {
    super(`[${pkg}] ${access} of ${hex(address)} faulted: ${reason}`);
    this.pkg = pkg;
    this.address = address;
    this.access = access;
    this.reason = reason;
  }
}

/**
 * The text formats of /proc files, as the kernel prints them:
 * fs/proc/meminfo.c (show_val_kb), fs/proc/task_mmu.c (task_mem,
 * show_vma_header_prefix, show_map_vma) and fs/proc/array.c. Tests format
 * the numbers of this machine's real files with them and compare the text
 * byte for byte.
 */

/** One line of /proc/meminfo: the value in kB, or a bare count (HugePages_*). */
export interface MeminfoRow {
  readonly label: string;
  readonly value: number;
  /** True for the lines without " kB". */
  readonly bare?: boolean;
}

/** /proc/meminfo: each label with its colon padded to 16 columns, the value to 8, then " kB". */
export function formatMeminfo(rows: readonly MeminfoRow[]): string {
  return rows
    .map((r) => `${`${r.label}:`.padEnd(16)}${String(r.value).padStart(8)}${r.bare ? "" : " kB"}\n`)
    .join("");
}

/** A memory line of /proc/PID/status: `VmRSS:\t    1234 kB`. */
export function formatStatusKb(label: string, kb: number): string {
  return `${label}:\t${String(kb).padStart(8)} kB\n`;
}

/** One mapping as /proc/PID/maps prints it. */
export interface MapsLine {
  readonly start: number;
  readonly end: number;
  /** `rw-p` */
  readonly perms: string;
  /** File offset in bytes. */
  readonly offset: number;
  readonly major: number;
  readonly minor: number;
  readonly inode: number;
  /** `[heap]`, `/dev/zero (deleted)`, or empty. */
  readonly name: string;
}

/**
 * A /proc/PID/maps line: hex fields of at least 8 digits, the device as two
 * hex bytes, the inode in decimal, then, for a named mapping, padding to
 * column 73 (25 + 6 × sizeof(void *) - 1 = 72 on 64-bit, plus one space).
 */
export function formatMapsLine(m: MapsLine): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  const head = `${hex(m.start, 8)}-${hex(m.end, 8)} ${m.perms} ${hex(m.offset, 8)} ${hex(m.major, 2)}:${hex(m.minor, 2)} ${m.inode} `;
  return m.name === "" ? `${head}\n` : `${head.padEnd(72)} ${m.name}\n`;
}

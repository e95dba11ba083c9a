import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

/** Where a command writes: stdout carries only a command's output; progress and summaries go to stderr. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Whether standard error is a terminal (progress bars are drawn only there). @defaultValue false */
  errIsTty?: boolean;
}

/** The process's own streams. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  errIsTty: process.stderr.isTTY === true,
};

/**
 * The bytes of a command's input `file` (`-`: standard input), gunzipped
 * when they start with gzip's magic (1f 8b); null, after one line
 * `memstack: cannot read FILE: REASON` on `io.err`, when it cannot be read
 * (the command then exits 1).
 */
export function readInput(file: string, io: CliIo): Buffer | null {
  try {
    const raw = readFileSync(file === "-" ? 0 : file);
    return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  } catch (e) {
    io.err(`memstack: cannot read ${file}: ${(e as Error).message}\n`);
    return null;
  }
}

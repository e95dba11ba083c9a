/**
 * Sizes as people write them: `"64K"`, `"512M"`, `"1.5G"`, `"0x1000"`.
 *
 * The suffixes K, M, G, T and P are powers of 1024 (as in the script formats
 * and in Linux's `mem=` boot parameter), in either case, optionally followed
 * by `iB` or `B`. A size must come out as a whole, non-negative number of
 * bytes no larger than 2^53 - 1.
 */
import { UsageError } from "./errors.js";

const PKG = "@memstack/core";
const UNITS = ["", "K", "M", "G", "T", "P"] as const;
const SIZE_RE = /^(0x[0-9a-f]+|\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i;

/**
 * Parses a size: a decimal or `0x` hex number with an optional K/M/G/T/P
 * suffix (powers of 1024). `parseSize("64K")` is 65536, `parseSize("1.5K")`
 * is 1536, `parseSize("0x1000")` is 4096.
 *
 * @throws {UsageError} naming `text` when it is not a size or not a whole number of bytes.
 */
export function parseSize(text: string): number {
  const m = SIZE_RE.exec(text.trim());
  if (m === null) {
    throw new UsageError(
      PKG,
      `parseSize: "${text}" is not a size (examples: 4096, 0x1000, 64K, 512M, 1G)`,
      "text",
    );
  }
  const [, num = "", unit = ""] = m;
  const isHex = num.startsWith("0x") || num.startsWith("0X");
  if (isHex && unit !== "") {
    throw new UsageError(PKG, `parseSize: "${text}" mixes hex with a unit suffix`, "text");
  }
  const base = isHex ? Number.parseInt(num.slice(2), 16) : Number(num);
  const value = base * 1024 ** UNITS.indexOf(unit.toUpperCase() as (typeof UNITS)[number]);
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(PKG, `parseSize: "${text}" is not a whole number of bytes below 2^53`, "text");
  }
  return value;
}

/**
 * Formats a byte count with the largest unit that leaves a value of at least
 * 1, with at most two decimals: `formatSize(65536)` is `"64K"`,
 * `formatSize(1536)` is `"1.5K"`, `formatSize(1000)` is `"1000"`. Exact
 * multiples of their unit round-trip through {@link parseSize}.
 *
 * @throws {UsageError} when `bytes` is not a non-negative safe integer.
 */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new UsageError(PKG, `formatSize: bytes must be a non-negative safe integer, got ${bytes}`, "bytes");
  }
  let unit = 0;
  while (unit < UNITS.length - 1 && bytes >= 1024 ** (unit + 1)) unit++;
  const scaled = bytes / 1024 ** unit;
  const text = Number.isInteger(scaled) ? String(scaled) : String(Math.round(scaled * 100) / 100);
  return `${text}${UNITS[unit]}`;
}

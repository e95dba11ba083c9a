/**
 * Option validation shared by the allocator and fail_page_alloc: an integer
 * option outside its range is a UsageError naming the owner and the option.
 */
import { UsageError } from "@memstack/core";

const PKG = "@memstack/buddy";

/**
 * Returns `value` when it is an integer in [min, max].
 *
 * @throws {UsageError} "<owner>: <name> must be an integer in [min, max], got <value>".
 */
export function checkIntOption(owner: string, name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(PKG, `${owner}: ${name} must be an integer in [${min}, ${max}], got ${value}`, name);
  }
  return value;
}

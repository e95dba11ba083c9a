/**
 * Address arithmetic for 64-bit address spaces in plain numbers.
 *
 * Addresses, sizes and frame numbers are JavaScript numbers: every integer up
 * to 2^53 is exact, and x86-64 needs 48 bits of virtual and at most 52 bits
 * of physical address. JavaScript's bit operators work on 32 bits only, so
 * nothing here uses them on a value that may reach 2^32; division and
 * remainder by a power of two are exact on integers below 2^53, and the
 * high and low 32-bit words of a value come from {@link hi32} and
 * {@link lo32}.
 *
 *     address 0x0000_7fff_ffff_f123
 *             |---- hi32 ----||---- lo32 ----|
 *             0x00007fff      0xfffff123
 *     pageNumber = 0x7ffffffff (address / 4096), pageOffset = 0x123
 *
 * Branded types keep three easily confused numbers apart at compile time:
 * a {@link PhysAddr} is a byte address in physical memory, a {@link VirtAddr}
 * a byte address in an address space, a {@link Pfn} a physical frame number.
 * Their constructors are free casts; validation belongs to whoever uses the
 * number.
 */
import { UsageError } from "./errors.js";

const PKG = "@memstack/core";

/** log2 of the base page size: 4 KiB pages. */
export const PAGE_SHIFT = 12;
/** The base page size in bytes: 4096. */
export const PAGE_SIZE = 4096;
/** 4 KiB, the x86-64 and Sv39 base page. */
export const PAGE_SIZE_4K = 4096;
/** 2 MiB, the x86-64 PDE large page and the Sv39 megapage. */
export const PAGE_SIZE_2M = 2 * 1024 * 1024;
/** 1 GiB, the x86-64 PDPTE huge page and the Sv39 gigapage. */
export const PAGE_SIZE_1G = 1024 * 1024 * 1024;
/** 2^32, the first value that does not fit a 32-bit word. */
export const TWO_POW_32 = 4294967296;
/** Largest integer a number holds exactly: 2^53 - 1. */
export const MAX_SAFE_ADDRESS = Number.MAX_SAFE_INTEGER;

declare const brand: unique symbol;
/** A byte address in physical memory. */
export type PhysAddr = number & { readonly [brand]: "PhysAddr" };
/** A byte address in a virtual address space. */
export type VirtAddr = number & { readonly [brand]: "VirtAddr" };
/** A physical frame number: a physical address divided by the 4 KiB page size. */
export type Pfn = number & { readonly [brand]: "Pfn" };

/** Brands a number as a physical address. Free: no check, no conversion. */
export function physAddr(n: number): PhysAddr {
  return n as PhysAddr;
}

/** Brands a number as a virtual address. Free: no check, no conversion. */
export function virtAddr(n: number): VirtAddr {
  return n as VirtAddr;
}

/** Brands a number as a physical frame number. Free: no check, no conversion. */
export function pfn(n: number): Pfn {
  return n as Pfn;
}

/** The physical address of the first byte of frame `frame` (frame × 4096). */
export function pfnToPhys(frame: Pfn): PhysAddr {
  return (frame * PAGE_SIZE) as PhysAddr;
}

/** The frame that holds physical address `addr` (⌊addr / 4096⌋). */
export function physToPfn(addr: PhysAddr): Pfn {
  return Math.floor(addr / PAGE_SIZE) as Pfn;
}

/**
 * Whether `n` is a positive integer power of two, up to 2^53.
 * `isPowerOfTwo(0)` is false; `isPowerOfTwo(2 ** 40)` is true.
 */
export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n <= 0) return n === 2 ** 53;
  if (n < TWO_POW_32) return (n & (n - 1)) === 0 && n !== 0;
  // Above 32 bits a power of two has an empty low word and a power-of-two high word.
  if (n % TWO_POW_32 !== 0) return false;
  const hi = n / TWO_POW_32;
  return (hi & (hi - 1)) === 0;
}

/**
 * ⌊log2(n)⌋ for a positive safe integer: the index of its highest set bit.
 * `log2(4096)` is 12, `log2(4097)` is 12, `log2(2 ** 48)` is 48.
 *
 * @throws {UsageError} when `n` is not a positive safe integer.
 */
export function log2(n: number): number {
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(PKG, `log2: n must be a positive safe integer, got ${n}`, "n");
  }
  if (n < TWO_POW_32) return 31 - Math.clz32(n);
  return 63 - Math.clz32(Math.floor(n / TWO_POW_32));
}

function checkAlignment(align: number, fn: string): void {
  if (!isPowerOfTwo(align)) {
    throw new UsageError(PKG, `${fn}: align must be a power of two, got ${align}`, "align");
  }
}

function checkValue(value: number, fn: string, name = "value"): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(PKG, `${fn}: ${name} must be a non-negative safe integer, got ${value}`, name);
  }
}

/**
 * `value` rounded down to a multiple of `align` (a power of two).
 * `alignDown(0x1234, 0x1000)` is 0x1000.
 *
 * @throws {UsageError} when `align` is not a power of two or `value` not a non-negative safe integer.
 */
export function alignDown(value: number, align: number): number {
  checkValue(value, "alignDown");
  checkAlignment(align, "alignDown");
  return value - (value % align);
}

/**
 * `value` rounded up to a multiple of `align` (a power of two).
 * `alignUp(0x1001, 0x1000)` is 0x2000; `alignUp(0x1000, 0x1000)` is 0x1000.
 *
 * @throws {UsageError} when `align` is not a power of two, `value` not a
 * non-negative safe integer, or the result would pass 2^53.
 */
export function alignUp(value: number, align: number): number {
  checkValue(value, "alignUp");
  checkAlignment(align, "alignUp");
  const rem = value % align;
  if (rem === 0) return value;
  const up = value + (align - rem);
  if (!Number.isSafeInteger(up)) {
    throw new UsageError(PKG, `alignUp: ${value} rounded up to ${align} passes 2^53`, "value");
  }
  return up;
}

/**
 * Whether `value` is a multiple of `align` (a power of two).
 *
 * @throws {UsageError} when `align` is not a power of two.
 */
export function isAligned(value: number, align: number): boolean {
  checkAlignment(align, "isAligned");
  return Number.isSafeInteger(value) && value % align === 0;
}

/**
 * The high 32 bits of a non-negative safe integer: `hi32(2 ** 32 + 5)` is 1.
 *
 * @throws {UsageError} when `value` is not a non-negative safe integer.
 */
export function hi32(value: number): number {
  checkValue(value, "hi32");
  return Math.floor(value / TWO_POW_32);
}

/**
 * The low 32 bits of a non-negative safe integer, as an unsigned number:
 * `lo32(2 ** 32 + 5)` is 5. (`>>> 0` reduces modulo 2^32 exactly for any
 * integer below 2^53.)
 *
 * @throws {UsageError} when `value` is not a non-negative safe integer.
 */
export function lo32(value: number): number {
  checkValue(value, "lo32");
  return value >>> 0;
}

/**
 * Joins two 32-bit words into one number: `joinWords(1, 5)` is 2^32 + 5.
 *
 * @throws {UsageError} when a word is not an unsigned 32-bit integer or the
 * result would pass 2^53 (hi ≥ 2^21).
 */
export function joinWords(hi: number, lo: number): number {
  if (!Number.isInteger(lo) || lo < 0 || lo >= TWO_POW_32) {
    throw new UsageError(PKG, `joinWords: lo must be an unsigned 32-bit integer, got ${lo}`, "lo");
  }
  if (!Number.isInteger(hi) || hi < 0 || hi >= 0x200000) {
    throw new UsageError(
      PKG,
      `joinWords: hi must be below 2^21 so the result stays below 2^53, got ${hi}`,
      "hi",
    );
  }
  return hi * TWO_POW_32 + lo;
}

/**
 * The number of the page that holds `addr`, for a page size that is a power
 * of two (4 KiB by default): `pageNumber(0x1_0000_3fff)` is 0x100003.
 *
 * @throws {UsageError} for a negative or fractional address or a bad page size.
 */
export function pageNumber(addr: number, pageSize: number = PAGE_SIZE): number {
  checkValue(addr, "pageNumber", "addr");
  checkAlignment(pageSize, "pageNumber");
  return Math.floor(addr / pageSize);
}

/**
 * The offset of `addr` inside its page: `pageOffset(0x1_0000_3fff)` is 0xfff.
 *
 * @throws {UsageError} for a negative or fractional address or a bad page size.
 */
export function pageOffset(addr: number, pageSize: number = PAGE_SIZE): number {
  checkValue(addr, "pageOffset", "addr");
  checkAlignment(pageSize, "pageOffset");
  return addr % pageSize;
}

/** Formats a non-negative integer as lowercase hex with `0x`: `toHex(4096)` is `"0x1000"`. */
export function toHex(value: number): string {
  return `0x${value.toString(16)}`;
}

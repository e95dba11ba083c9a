import {
  BitmapFrameAllocator,
  type PageRights,
  type PhysAddr,
  physAddr,
  SparseRam,
  type VirtAddr,
  virtAddr,
} from "@memstack/core";
import { Mmu, type MmuOptions, type PageTableFormat } from "../src/index.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const P = physAddr;
export const V = virtAddr;

export const RW_USER: PageRights = { write: true, user: true, execute: false };
export const RO_USER: PageRights = { write: false, user: true, execute: false };
export const RX_USER: PageRights = { write: false, user: true, execute: true };
export const RW_KERNEL: PageRights = { write: true, user: false, execute: false };

export interface Machine {
  ram: SparseRam;
  frames: BitmapFrameAllocator;
  mmu: Mmu;
  space: number;
  /** Allocates a data frame (order 0) and returns its physical address. */
  frame(): PhysAddr;
}

/**
 * A machine with 64 GiB of sparse RAM whose first 64 MiB of frames feed page
 * tables and data pages, and one current address space.
 */
export function machine(
  options: Partial<Omit<MmuOptions, "memory" | "frames">> & { format?: PageTableFormat } = {},
): Machine {
  const ram = new SparseRam({ sizeBytes: 64 * GiB });
  const frames = new BitmapFrameAllocator({ frameCount: 16384, maxOrder: 18 });
  const mmu = new Mmu({ memory: ram, frames, ...options });
  const space = mmu.createAddressSpace();
  if (space === null) throw new Error("no root frame");
  mmu.switchAddressSpace(space);
  return {
    ram,
    frames,
    mmu,
    space,
    frame: () => {
      const f = frames.allocFrames(0);
      if (f === null) throw new Error("out of frames");
      return physAddr(f * 4096);
    },
  };
}

/** A user address in the lower half, 2 MiB-aligned. */
export const USER_BASE = 0x7f12_3440_0000;

export function va(n: number): VirtAddr {
  return virtAddr(n);
}

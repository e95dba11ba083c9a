import { BitmapFrameAllocator, SimpleMmu, SparseRam } from "@memstack/core";
import { Kernel, type KernelOptions, vmScriptTarget } from "../src/index.js";
import type { Process } from "../src/process.js";

/** A kernel over core's reference RAM, frame allocator and MMU. */
export function testKernel(ramBytes = 64 * 1024 * 1024, options: Partial<KernelOptions> = {}): Kernel {
  const ram = new SparseRam({ sizeBytes: ramBytes });
  const frames = new BitmapFrameAllocator({ frameCount: ramBytes / 4096, maxOrder: 10 });
  const mmu = new SimpleMmu({ ram });
  // Huge pages come from the same allocator (it splits what it gives).
  return new Kernel({ ram, frames, mmu, thpFrames: frames, ...options });
}

/** The VM-script target of a process (a fork line goes on in the child). */
export function scriptTarget(p: Process) {
  return vmScriptTarget(p);
}

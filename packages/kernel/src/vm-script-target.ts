/**
 * A process as the target of a VM script (core's `runVmScript`): its ports,
 * its mappings as /proc/PID/maps shows them (for `maps` and `procmaps`
 * lines), its /proc/PID/status for `status` and `vmswap` lines, mincore(2)
 * for `mincore` lines, its kernel's `reclaimAll()` for `reclaim` lines, and
 * fork(2) for the script's `fork` line, after which the script runs in the
 * child.
 */
import type { VmScriptTarget } from "@memstack/core";
import type { Process } from "./process.js";

/**
 * The VM-script target of process `p`. A `fork` line forks the process it
 * runs in and goes on in the child; `onFork` hears of each child.
 */
export function vmScriptTarget(p: Process, onFork?: (child: Process) => void): VmScriptTarget {
  return {
    mapper: p,
    programBreak: p,
    memory: p,
    maps: () => p.mappings(),
    status: () => p.status(),
    lazyFree: () => p.lazyFree(),
    procMaps: () => p.maps(),
    mincore: (addr, length, vec) => p.mincore(addr, length, vec),
    reclaim: () => void p.kernel.reclaimAll(),
    fork: () => {
      const child = p.fork();
      if (child === null) return null;
      onFork?.(child);
      return vmScriptTarget(child, onFork);
    },
  };
}

/**
 * How the kernel's recorded VM scripts (packages/kernel/test/fixtures/vm,
 * recorded by record.sh there) were recorded, read from a script's file
 * name, for the tests that run them on a kernel or a whole machine:
 *
 *   swap-*.vm          64 MiB of swap on, vm.page-cluster 0
 *   NAME.nopku.*vm     a CPU without protection keys: PROT_EXEC alone reads
 *   NAME.nozero.*vm    a kernel that maps no zero page (pvm_no_zero_page=1)
 *
 * Every other script: no swap, protection keys, the zero page.
 */
export interface VmFixtureSetting {
  /** Recorded with 64 MiB of swap and vm.page-cluster 0. */
  readonly swap: boolean;
  /** The kernel option `executeOnly` it needs. */
  readonly executeOnly: boolean;
  /** The kernel option `zeroPage` it needs. */
  readonly zeroPage: boolean;
}

/** The setting a recorded VM script `file` (a base name ending in `.vm`) was recorded with. */
export function vmFixtureSetting(file: string): VmFixtureSetting {
  const parts = file.split(".");
  return {
    swap: file.startsWith("swap-"),
    executeOnly: !parts.includes("nopku"),
    zeroPage: !parts.includes("nozero"),
  };
}

export type { KernelOptions, OvercommitMode, ThpMode, Watermarks } from "./api.js";
export { Kernel, linuxWatermarks } from "./kernel.js";
export type { CommitAccounting, PageLayer } from "./mm/address-space.js";
export { AddressSpace, TASK_SIZE } from "./mm/address-space.js";
export { CommitPolicy } from "./mm/commit.js";
export { SwapDevice } from "./mm/swap.js";
export type { ProcessState } from "./process.js";
export { Process, ProcessKilled } from "./process.js";
export { vmScriptTarget } from "./vm-script-target.js";

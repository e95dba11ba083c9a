export { runDemo } from "./commands/demo.js";
export type { LackeyCommandOptions } from "./commands/lackey.js";
export { runLackey } from "./commands/lackey.js";
export type { MallocReplayOptions } from "./commands/malloc-replay.js";
export { EXIT_ABORT, runMallocReplay } from "./commands/malloc-replay.js";
export type { VmRunOptions } from "./commands/vm-run.js";
export { runVmRun } from "./commands/vm-run.js";
export type { CliIo } from "./io.js";
export { EXIT_USAGE, main } from "./main.js";

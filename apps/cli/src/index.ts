export { runDemo } from "./commands/demo.js";
export type { MallocReplayOptions } from "./commands/malloc-replay.js";
export { EXIT_ABORT, runMallocReplay } from "./commands/malloc-replay.js";
export type { CliIo } from "./io.js";
export { EXIT_USAGE, main } from "./main.js";

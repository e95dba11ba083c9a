export { runDemo } from "./commands/demo.js";
export type { LackeyCommandOptions } from "./commands/lackey.js";
export { runLackey } from "./commands/lackey.js";
export type { MallocReplayOptions } from "./commands/malloc-replay.js";
export { EXIT_ABORT, runMallocReplay } from "./commands/malloc-replay.js";
export type { CliIo } from "./io.js";
export { EXIT_USAGE, main } from "./main.js";

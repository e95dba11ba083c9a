export { runDemo } from "./commands/demo.js";
export type { LackeyCommandOptions } from "./commands/lackey.js";
export { runLackey } from "./commands/lackey.js";
export type { CliIo } from "./io.js";
export { EXIT_USAGE, main } from "./main.js";

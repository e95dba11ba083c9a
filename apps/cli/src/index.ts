export { runDemo } from "./commands/demo.js";
export type { CliIo } from "./io.js";
export { EXIT_USAGE, main } from "./main.js";

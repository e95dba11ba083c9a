export type { Machine, MachineOptions } from "./api.js";
export { createMachine } from "./create-machine.js";

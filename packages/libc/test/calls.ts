// The call lists' runner (src/calls.ts) under the name the tests use.
export { type CallListOptions as RunCallsOptions, runCallList as runCalls } from "../src/calls.js";

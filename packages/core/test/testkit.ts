// @memstack/testkit depends on @memstack/core, so core cannot list it as a
// dependency without a cycle in the workspace graph (turbo refuses one).
// Core's tests reach the suites by path instead; every other package
// depends on @memstack/testkit as usual.
export * from "../../testkit/src/index.js";

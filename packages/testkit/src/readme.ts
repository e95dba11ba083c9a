/**
 * "Usage that runs as written": a package's README shows
 * `examples/usage.ts` verbatim in a ```ts block, and the example, run, logs
 * exactly the lines its comments promise.
 */
import { readFileSync } from "node:fs";
import { expect, vi } from "vitest";

/**
 * Checks that `README.md` of the package at `packageDir` contains
 * `examples/usage.ts` verbatim, runs the example, and compares what it logs
 * with `expected`, line for line.
 */
export async function expectReadmeExample(packageDir: URL, expected: readonly string[]): Promise<void> {
  const readme = readFileSync(new URL("README.md", packageDir), "utf8");
  const example = readFileSync(new URL("examples/usage.ts", packageDir), "utf8");
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.join(" "));
  });
  try {
    await import(new URL("examples/usage.ts", packageDir).pathname);
  } finally {
    spy.mockRestore();
  }
  expect(lines).toEqual(expected);
}

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, expect, it, vi } from "vitest";

// The README's usage block runs as written (importing the sources instead of
// the published package) and prints what its comments say.
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const code = /## Usage\n\n```ts\n([\s\S]*?)```/.exec(readme)![1]!;
const generated = new URL("./readme-usage.generated.ts", import.meta.url);

afterAll(() => rmSync(generated, { force: true }));

it("runs the README's usage example and prints what its comments say", async () => {
  writeFileSync(generated, code.replace('"@memstack/mmu"', '"../src/index.js"'));
  const printed: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    printed.push(args.map(String).join(" "));
  });
  try {
    await import(generated.href);
  } finally {
    spy.mockRestore();
  }
  const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) =>
    m[1]!.split(/[,(]/)[0]!.trim(),
  );
  expect(expected.length).toBe(6);
  expect(printed).toEqual(expected);
});

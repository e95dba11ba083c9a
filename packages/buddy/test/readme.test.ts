// The README's usage block runs as written (imports pointed at the source).
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, expect, it, vi } from "vitest";

const file = new URL("./.readme-usage.generated.ts", import.meta.url);
afterAll(() => rmSync(file, { force: true }));

it("runs the README usage example", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const usage = /## Usage\n+```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  writeFileSync(file, usage.replace('"@memstack/buddy"', '"../src/index.js"'));
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  await import(/* @vite-ignore */ file.href);
  expect(log.mock.calls[0]![0]).toMatch(/^Node 0, zone {6}DMA /);
  expect(log.mock.calls[1]![0]).toMatchObject({ name: "DMA32", managedPages: 258048 });
  log.mockRestore();
});

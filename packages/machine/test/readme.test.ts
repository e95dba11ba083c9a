import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";

describe("README usage", () => {
  afterEach(() => vi.restoreAllMocks());

  it("shows examples/usage.ts verbatim, and it runs as written", async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../examples/usage.ts", import.meta.url), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.join(" "));
    });
    await import("../examples/usage.ts");
    expect(lines).toEqual(["Out of memory: Killed process 9 (worker8", "true", "9", "true"]);
  });
});

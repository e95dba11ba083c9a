import { readdirSync, readFileSync } from "node:fs";
import { runVmScript } from "@memstack/core";
import { describe, expect, it } from "vitest";
import { scriptTarget, testKernel } from "./helpers.js";

// Recorded from the real kernel by fixtures/vm/record.sh.
const dir = new URL("./fixtures/vm/", import.meta.url);

describe("VM scripts against the real kernel's recorded output", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".vm"))) {
    it(`matches Linux line for line: ${file}`, () => {
      // swap-*.vm were recorded with 64 MiB of swap on and vm.page-cluster 0
      // (record.sh); the rest with no swap.
      const swap = file.startsWith("swap-") ? { swapBytes: 64 * 1024 * 1024, pageCluster: 0 } : {};
      const kernel = testKernel(64 * 1024 * 1024, swap);
      const p = kernel.spawn("script");
      const script = readFileSync(new URL(file, dir), "utf8");
      const expected = readFileSync(new URL(file.replace(/\.vm$/, ".expected"), dir), "utf8")
        .trimEnd()
        .split("\n");
      const got = runVmScript(script, scriptTarget(p));
      const upto = expected.indexOf("beyond");
      expect(got.slice(0, upto < 0 ? undefined : upto)).toEqual(
        upto < 0 ? expected : expected.slice(0, upto),
      );
      kernel.check();
    });
  }
});

import { readdirSync, readFileSync } from "node:fs";
import { runVmScript } from "@memstack/core";
import { vmFixtureSetting } from "@memstack/testkit";
import { describe, expect, it } from "vitest";
import { scriptTarget, testKernel } from "./helpers.js";

// Recorded from the real kernel by fixtures/vm/record.sh.
const dir = new URL("./fixtures/vm/", import.meta.url);

describe("VM scripts against the real kernel's recorded output", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".vm"))) {
    it(`matches Linux line for line: ${file}`, () => {
      // How record.sh recorded it, from its name (swap-*, .nopku., .nozero.).
      const how = vmFixtureSetting(file);
      const kernel = testKernel(64 * 1024 * 1024, {
        ...(how.swap ? { swapBytes: 64 * 1024 * 1024, pageCluster: 0 } : {}),
        executeOnly: how.executeOnly,
        zeroPage: how.zeroPage,
      });
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

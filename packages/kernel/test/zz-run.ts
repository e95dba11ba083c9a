import { readFileSync } from "node:fs";
import { runVmScript } from "@memstack/core";
import { createMachine } from "../../machine/src/index.js";
import { scriptTarget, testKernel } from "./helpers.js";

let bad = 0;
const files = process.argv
  .slice(2)
  .flatMap((a) => (a.startsWith("@") ? readFileSync(a.slice(1), "utf8").trim().split("\n") : [a]));
for (const f of files) {
  const script = readFileSync(f, "utf8");
  const exp = readFileSync(f.replace(/\.vm$/, ".expected"), "utf8").trimEnd().split("\n");
  const upto = exp.indexOf("beyond");
  const want = upto < 0 ? exp : exp.slice(0, upto);
  let fileBad = false;
  for (const which of ["simple", "machine"]) {
    let got: string[] = [];
    try {
      if (which === "simple") {
        const k = testKernel(64 * 1024 * 1024, { executeOnly: false } as never);
        got = runVmScript(script, scriptTarget(k.spawn("script")));
        try {
          k.check();
        } catch (e) {
          got.push(`CHECKTHROW ${e}`);
        }
      } else {
        const m = createMachine({ ram: "64M", executeOnly: false } as never);
        got = runVmScript(script, scriptTarget(m.spawn("script") as never));
        try {
          m.check();
        } catch (e) {
          got.push(`CHECKTHROW ${e}`);
        }
      }
    } catch (e) {
      got = [`THROW ${e}`];
    }
    if (got.some((l) => l.startsWith("CHECKTHROW")))
      console.log(`${f} ${which} ${got.find((l) => l.startsWith("CHECKTHROW"))}`);
    const g = got.slice(0, want.length);
    const i = want.findIndex((l, j) => l !== g[j]);
    if (i >= 0 || g.length < want.length) {
      fileBad = true;
      const k = i < 0 ? g.length : i;
      console.log(`${f} ${which} diff@${k}: exp=${JSON.stringify(want[k])} got=${JSON.stringify(g[k])}`);
    }
  }
  if (fileBad) bad++;
  console.log(`DONE ${f} ${fileBad ? "DIFF" : "OK"}${upto >= 0 ? " beyond" : ""}`);
}
console.log("bad", bad, "of", files.length);

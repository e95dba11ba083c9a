/**
 * Compares two builds of the stack on recycled demand-zero faults, in one
 * process, as packages/machine/README.md's rounds of work were measured.
 *
 * Each build (a directory made by snapshot.sh) gets MACHINES machines of
 * its own; a sample is the median of ROUNDS passes of PAGES first writes to
 * a fresh mmap (the munmap after each pass untimed, or only the munmap
 * timed with --time=munmap) on the next of its machines in turn. Samples of
 * the two builds alternate, in alternate order, PAIRS times; the figure is
 * the median of the pairs' ratios B/A. Several machines per build, because
 * the host places each machine's RAM once and one placement can be faster
 * than another by more than the change being measured; both import orders,
 * because the build loaded second runs a few per cent apart from the first.
 * The same build against itself comes out at 1.00 ± 0.01 here.
 *
 * Usage:
 *   pnpm build && bash packages/machine/bench/ab/snapshot.sh . /tmp/ab/new
 *   (the same from a checkout of the old commit, into /tmp/ab/old)
 *   npx tsx packages/machine/bench/ab/faults.ts /tmp/ab/old /tmp/ab/new [--pages=1000]
 *     [--rounds=20] [--pairs=100] [--machines=4] [--time=faults|munmap]
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { median } from "@memstack/testkit/bench";

interface Options {
  pages: number;
  rounds: number;
  pairs: number;
  machines: number;
  time: "faults" | "munmap";
}

function usage(message: string): never {
  console.error(`faults.ts: ${message}`);
  console.error(
    "usage: faults.ts DIR_A DIR_B [--pages=N] [--rounds=N] [--pairs=N] [--machines=N] [--time=faults|munmap]",
  );
  process.exit(2);
}

function parse(argv: string[]): { dirs: [string, string]; options: Options } {
  const dirs: string[] = [];
  const options: Options = { pages: 1000, rounds: 20, pairs: 100, machines: 4, time: "faults" };
  for (const arg of argv) {
    const m = /^--(pages|rounds|pairs|machines|time)=(.+)$/.exec(arg);
    if (m === null) {
      if (arg.startsWith("--")) usage(`unknown option ${arg}`);
      dirs.push(arg);
      continue;
    }
    const [, name, value] = m as unknown as [string, keyof Options, string];
    if (name === "time") {
      if (value !== "faults" && value !== "munmap") usage(`--time must be faults or munmap, got ${value}`);
      options.time = value;
      continue;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer, got ${value}`);
    options[name] = n;
  }
  if (dirs.length !== 2) usage(`two snapshot directories are needed, got ${dirs.length}`);
  for (const d of dirs) {
    if (!existsSync(`${d}/node_modules/@memstack/machine/dist/index.js`)) {
      usage(`${d} is not a snapshot (no node_modules/@memstack/machine/dist/index.js): run snapshot.sh`);
    }
  }
  return { dirs: dirs as [string, string], options };
}

// One build's sampler: a sample is the median over `rounds` passes, in ns per page.
async function sampler(dir: string, o: Options): Promise<() => number> {
  const url = (pkg: string) =>
    pathToFileURL(resolve(dir, `node_modules/@memstack/${pkg}/dist/index.js`)).href;
  const { createMachine } = await import(url("machine"));
  const { MAP_PRIVATE, PROT_READ, PROT_WRITE } = await import(url("core"));
  const procs = Array.from({ length: o.machines }, () => createMachine({ ram: "1G" }).spawn());
  const bytes = o.pages * 4096;
  let next = 0;
  return () => {
    const p = procs[next++ % procs.length];
    const times: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const a = p.mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE);
      const t0 = performance.now();
      for (let i = 0; i < o.pages; i++) p.storeU8(a + i * 4096, 1);
      const t1 = performance.now();
      p.munmap(a, bytes);
      const t2 = performance.now();
      times.push(o.time === "faults" ? t1 - t0 : t2 - t1);
    }
    return (median(times) * 1e6) / o.pages;
  };
}

const { dirs, options } = parse(process.argv.slice(2));
const a = await sampler(dirs[0], options);
const b = await sampler(dirs[1], options);
for (let i = 0; i < 4 * options.machines; i++) {
  a();
  b();
}
const as: number[] = [];
const bs: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < options.pairs; i++) {
  let x: number;
  let y: number;
  if (i % 2 === 0) {
    x = a();
    y = b();
  } else {
    y = b();
    x = a();
  }
  as.push(x);
  bs.push(y);
  ratios.push(y / x);
  if ((i + 1) % 10 === 0) process.stderr.write(`\r${i + 1}/${options.pairs} pairs`);
}
process.stderr.write("\n");
const what = options.time === "faults" ? "fault" : "page unmapped";
console.log(
  `${options.pages} pages, ${options.pairs} pairs of ${options.rounds} passes, ${options.machines} machines per build`,
);
console.log(`A ${dirs[0]}: ${median(as).toFixed(0)} ns a ${what} (median of its samples)`);
console.log(`B ${dirs[1]}: ${median(bs).toFixed(0)} ns a ${what}`);
console.log(`B/A: ${median(ratios).toFixed(3)} (the median of the pairs' ratios)`);

/**
 * Benchmarks of @memstack/buddy, each beside its baseline in the same run:
 *
 * 1. Order-0 allocate+free pairs per second, against a plain Int32Array
 *    free stack (the cheapest possible page allocator): a steady state
 *    (fragmented 1 GiB machine, no splits or merges) and a batch pattern
 *    (1024 allocations then 1024 frees on a fresh machine: splits and
 *    merges amortised).
 * 2. Initialising a 64 GiB machine (2^24 frames): time and metadata bytes,
 *    against allocating the same number of bytes as a bare Uint8Array.
 * 3. Cost of one allocate+free pair by order (0, 4, 8, 10) on machines of
 *    16 MiB, 1 GiB and 64 GiB: bounded by the number of orders, independent
 *    of memory size; splits+merges per pair from stats().
 *
 * Run: pnpm --filter @memstack/buddy bench
 */
import os from "node:os";
import { measure } from "mitata";
import { type BuddyAllocator, createBuddyAllocator, GFP_KERNEL, type Pfn } from "../src/index.js";

const BATCH = 1024;
const out: string[] = [];
const line = (s: string): void => {
  out.push(s);
  console.log(s);
};

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1);
}

async function perSecond(fn: () => void, opsPerCall: number): Promise<number> {
  const s = await measure(fn, { min_cpu_time: 300e6 });
  return (opsPerCall / s.p50) * 1e9;
}

async function pairs(): Promise<void> {
  line("## 1. order-0 allocate+free pairs per second (median)");
  // Baseline: an Int32Array stack of free frame numbers.
  const stack = new Int32Array(262144);
  for (let i = 0; i < stack.length; i++) stack[i] = i;
  let top = stack.length;
  const held = new Int32Array(BATCH);
  const baseline = await perSecond(() => {
    for (let i = 0; i < BATCH; i++) {
      const p = stack[--top]!;
      stack[top++] = p;
    }
  }, BATCH);
  const baselineBatch = await perSecond(() => {
    for (let i = 0; i < BATCH; i++) held[i] = stack[--top]!;
    for (let i = BATCH - 1; i >= 0; i--) stack[top++] = held[i]!;
  }, BATCH);

  // Steady state: a 1 GiB machine with every other frame allocated.
  const steady = createBuddyAllocator({ frameCount: 262144 });
  const all: Pfn[] = [];
  for (let p = steady.allocFrames(0); p !== null; p = steady.allocFrames(0)) all.push(p);
  for (let i = 0; i < all.length; i += 2) steady.freeFrames(all[i]!, 0);
  const s0 = steady.stats();
  const steadyRate = await perSecond(() => {
    for (let i = 0; i < BATCH; i++) steady.freeFrames(steady.allocFrames(0)!, 0);
  }, BATCH);
  const s1 = steady.stats();
  steady.check();

  // Batch: 1024 allocations then 1024 frees on a fresh machine.
  const fresh = createBuddyAllocator({ frameCount: 262144 });
  const got: Pfn[] = new Array(BATCH);
  const f0 = fresh.stats();
  const batchRate = await perSecond(() => {
    for (let i = 0; i < BATCH; i++) got[i] = fresh.allocFrames(0)!;
    for (let i = BATCH - 1; i >= 0; i--) fresh.freeFrames(got[i]!, 0);
  }, BATCH);
  const f1 = fresh.stats();
  fresh.check();
  // The same batch with the buddy lists alone (no per-CPU lists): every pair splits and merges.
  const bare = createBuddyAllocator({ frameCount: 262144, pcp: false });
  const g0 = bare.stats();
  const bareRate = await perSecond(() => {
    for (let i = 0; i < BATCH; i++) got[i] = bare.allocFrames(0)!;
    for (let i = BATCH - 1; i >= 0; i--) bare.freeFrames(got[i]!, 0);
  }, BATCH);
  const g1 = bare.stats();
  bare.check();
  const perPair = (a: typeof s0, b: typeof s0) =>
    ((b.splits - a.splits + b.merges - a.merges) / Math.max(1, b.allocations - a.allocations)).toFixed(2);
  line("| pattern | buddy pairs/s | Int32Array stack pairs/s | ratio | splits+merges per pair |");
  line("|---|---|---|---|---|");
  line(
    `| steady (fragmented 1 GiB) | ${fmt(steadyRate)} | ${fmt(baseline)} | ${(steadyRate / baseline).toFixed(3)} | ${perPair(s0, s1)} |`,
  );
  line(
    `| batch 1024 alloc, 1024 free | ${fmt(batchRate)} | ${fmt(baselineBatch)} | ${(batchRate / baselineBatch).toFixed(3)} | ${perPair(f0, f1)} |`,
  );
  line(
    `| batch, buddy lists only (pcp: false) | ${fmt(bareRate)} | ${fmt(baselineBatch)} | ${(bareRate / baselineBatch).toFixed(3)} | ${perPair(g0, g1)} |`,
  );
}

function init64(): void {
  line("");
  line("## 2. initialising a 64 GiB machine (2^24 frames), median of 5");
  const times: number[] = [];
  const bytes: number[] = [];
  let b: BuddyAllocator | undefined;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    b = createBuddyAllocator({ frameCount: 2 ** 24 });
    times.push(performance.now() - t0);
    bytes.push(b.metadataBytes);
  }
  b!.allocFrames(10);
  const base: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const u = new Uint8Array(bytes[0]!);
    u[u.length - 1] = 1;
    base.push(performance.now() - t0);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  line("| what | median ms | metadata |");
  line("|---|---|---|");
  line(
    `| createBuddyAllocator({ frameCount: 2^24 }) | ${med(times).toFixed(1)} | ${(bytes[0]! / 2 ** 20).toFixed(1)} MiB (${(bytes[0]! / 2 ** 24).toFixed(2)} B/frame) |`,
  );
  line(`| baseline: new Uint8Array of the same bytes | ${med(base).toFixed(1)} | same |`);
}

async function orders(): Promise<void> {
  line("");
  line("## 3. one allocate+free pair by order and machine size, buddy lists only: ns (splits+merges)");
  const sizes: [string, number][] = [
    ["16 MiB", 4096],
    ["1 GiB", 262144],
    ["64 GiB", 2 ** 24],
  ];
  const ords = [0, 3, 6, 9, 10];
  line(`| machine | ${ords.map((o) => `order ${o}`).join(" | ")} |`);
  line(`|---|${ords.map(() => "---").join("|")}|`);
  for (const [name, frames] of sizes) {
    const b = createBuddyAllocator({ frameCount: frames, pcp: false });
    const cells: string[] = [];
    for (const o of ords) {
      const before = b.stats();
      const s = await measure(
        () => {
          const p = b.alloc_pages(GFP_KERNEL, o)!;
          b.__free_pages(p, o);
        },
        { min_cpu_time: 150e6 },
      );
      const after = b.stats();
      const ops =
        (after.splits - before.splits + after.merges - before.merges) /
        (after.allocations - before.allocations);
      cells.push(`${s.p50.toFixed(0)} (${ops.toFixed(0)})`);
    }
    b.check();
    line(`| ${name} | ${cells.join(" | ")} |`);
  }
}

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
line(
  `# @memstack/buddy benchmarks — ${os.cpus().length} cores, ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
line("");
await pairs();
init64();
await orders();

// Cost of an access through core's memories, beside the plain typed array
// and DataView they are built on, in the same run.
//   pnpm --filter @memstack/core bench
import { bench, do_not_optimize, group, run, summary } from "mitata";
import {
  FlatMemory,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  physAddr,
  SparseRam,
  virtAddr,
} from "../src/index.js";

const WORDS = 1 << 16; // 256 KiB touched: fits in L2, so the loop measures the access path
const flat = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
const base = flat.mmap(0, WORDS * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
const u32 = new Uint32Array(WORDS);
const dv = new DataView(new ArrayBuffer(WORDS * 4));
const ram = new SparseRam({ sizeBytes: 1 << 30 });
for (let i = 0; i < WORDS; i++) {
  u32[i] = i;
  dv.setUint32(i * 4, i, true);
  flat.storeU32(virtAddr(base + i * 4), i);
  ram.writeU32(physAddr(i * 4), i);
}

summary(() => {
  group(`sum of ${WORDS} u32 loads`, () => {
    bench("Uint32Array[i] (baseline)", () => {
      let s = 0;
      for (let i = 0; i < WORDS; i++) s += u32[i]!;
      return do_not_optimize(s);
    }).baseline(true);
    bench("DataView.getUint32", () => {
      let s = 0;
      for (let i = 0; i < WORDS; i++) s += dv.getUint32(i * 4, true);
      return do_not_optimize(s);
    });
    bench("FlatMemory.loadU32", () => {
      let s = 0;
      for (let i = 0; i < WORDS; i++) s += flat.loadU32(virtAddr(base + i * 4));
      return do_not_optimize(s);
    });
    bench("SparseRam.readU32", () => {
      let s = 0;
      for (let i = 0; i < WORDS; i++) s += ram.readU32(physAddr(i * 4));
      return do_not_optimize(s);
    });
  });
});

summary(() => {
  group(`${WORDS} u32 stores`, () => {
    bench("Uint32Array[i] = v (baseline)", () => {
      for (let i = 0; i < WORDS; i++) u32[i] = i;
    }).baseline(true);
    bench("FlatMemory.storeU32", () => {
      for (let i = 0; i < WORDS; i++) flat.storeU32(virtAddr(base + i * 4), i);
    });
    bench("SparseRam.writeU32", () => {
      for (let i = 0; i < WORDS; i++) ram.writeU32(physAddr(i * 4), i);
    });
  });
});

await run();

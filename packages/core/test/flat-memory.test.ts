import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  EEXIST,
  EFAULT,
  EINVAL,
  ENOMEM,
  EPERM,
  Fault,
  FlatMemory,
  type FlatMemoryOptions,
  MADV_DONTNEED,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  mapsPerms,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  runVmScript,
  UsageError,
  virtAddr as V,
  type WasmMemoryLike,
} from "../src/index.js";
import { describeMapper, describeVirtualMemory } from "./testkit.js";

// @types/node declares no WebAssembly global; this is the part the tests use.
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemoryLike };
  }
).WebAssembly.Memory;

const RW = PROT_READ | PROT_WRITE;
const PAGE = 4096;
const MiB = 1 << 20;

function vmFixture(options: FlatMemoryOptions, unmapped: (m: FlatMemory) => number[]) {
  return () => {
    const memory = new FlatMemory(options);
    const start = memory.mmap(0, 3 * PAGE, RW, MAP_PRIVATE);
    return { memory, start, length: 3 * PAGE, unmapped: unmapped(memory), check: () => memory.check() };
  };
}

describeVirtualMemory(
  "FlatMemory over a created, growable ArrayBuffer",
  vmFixture({ sizeBytes: 64 * 1024, maxBytes: 4 * MiB }, (m) => [m.limit, m.limit + 5, 2 ** 40]),
);
describeVirtualMemory(
  "FlatMemory over a fixed ArrayBuffer",
  vmFixture({ memory: new ArrayBuffer(MiB) }, (m) => [MiB, MiB + PAGE, m.limit * 2]),
);
describeVirtualMemory(
  "FlatMemory over a growable SharedArrayBuffer",
  vmFixture({ memory: new SharedArrayBuffer(64 * 1024, { maxByteLength: 2 * MiB }) }, (m) => [
    m.limit,
    2 ** 33,
  ]),
);
describeVirtualMemory(
  "FlatMemory over a WebAssembly.Memory",
  vmFixture({ memory: new WasmMemory({ initial: 2, maximum: 64 }), maxBytes: 64 * 65536 }, (m) => [
    m.limit,
    2 ** 32,
  ]),
);

describeMapper("FlatMemory", () => {
  const m = new FlatMemory({ sizeBytes: 64 * 1024, maxBytes: 8 * MiB });
  // MAP_HUGETLB | MAP_NORESERVE, which Linux maps and FlatMemory refuses (ENOMEM): it cannot fault.
  const notModelled = [0x44001, 0x44002, 0x44003];
  return { mapper: m, programBreak: m, memory: m, check: () => m.check(), notModelled };
});

describe("FlatMemory against the real kernel (recorded VM scripts)", () => {
  // Recorded with ../shared/oracles/linux/run-vm-script by fixtures/linux/record.sh.
  // These scripts read and write only mapped memory: FlatMemory has no MMU to fault.
  const dir = new URL("./fixtures/linux/", import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".vm"))) {
    it(`matches Linux line for line on ${file}`, () => {
      const m = new FlatMemory({ sizeBytes: MiB, maxBytes: 64 * MiB });
      const script = readFileSync(new URL(file, dir), "utf8");
      const expected = readFileSync(new URL(file.replace(/\.vm$/, ".expected"), dir), "utf8")
        .trimEnd()
        .split("\n");
      const got = runVmScript(script, {
        mapper: m,
        programBreak: m,
        memory: m,
        maps: () =>
          m.regions().map((r) => ({ start: r.start, end: r.end, perms: mapsPerms(r.prot, r.shared) })),
      });
      expect(got).toEqual(expected);
      m.check();
    });
  }
});

describe("FlatMemory at its 4 GiB limit", () => {
  // Regression: a buffer of exactly 2^32 bytes got word views of length
  // 2^32 >>> 2 = 0, so every aligned load read undefined (NaN for a u64).
  it("loads and stores words at the top of a buffer grown to 4 GiB", () => {
    const m = new FlatMemory({ sizeBytes: MiB, maxBytes: 2 ** 32 });
    // The first mmap is placed below the limit, so the buffer grows to it.
    const page = m.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | 0x20);
    expect(page).toBe(2 ** 32 - 4096);
    expect(m.buffer.byteLength).toBe(2 ** 32);
    const top = V(2 ** 32 - 8);
    m.storeU64(top, 2 ** 40 + 5);
    expect(m.loadU64(top)).toBe(2 ** 40 + 5);
    expect(m.loadU32(top)).toBe(5);
    expect(m.loadU16(V(2 ** 32 - 4))).toBe(256);
    m.storeU32(V(page), 0xdeadbeef);
    expect(m.loadU32(V(page))).toBe(0xdeadbeef);
    m.check();
  });
});

describe("FlatMemory layout", () => {
  it("places mmaps top-down from the limit and the heap upward from brkBase", () => {
    const m = new FlatMemory({ sizeBytes: MiB, maxBytes: 16 * MiB, brkBase: 0x20000 });
    expect(m.limit).toBe(16 * MiB);
    expect(m.brk(0)).toBe(0x20000);
    const a = m.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    expect(a).toBe(16 * MiB - 2 * PAGE);
    const b = m.mmap(0, PAGE, PROT_READ, MAP_PRIVATE);
    expect(b).toBe(a - PAGE);
    expect(m.brk(0x20000 + 100)).toBe(0x20000 + 100);
    expect(m.regions()).toEqual([
      { start: 0x20000, end: 0x21000, prot: RW, shared: false, heap: true },
      { start: b, end: a, prot: PROT_READ, shared: false, heap: false },
      { start: a, end: a + 2 * PAGE, prot: RW, shared: false, heap: false },
    ]);
    m.check();
  });

  it("grows a resizable buffer to cover what it hands out, and no further", () => {
    const buf = new ArrayBuffer(64 * 1024, { maxByteLength: 4 * MiB });
    const m = new FlatMemory({ memory: buf });
    expect(m.limit).toBe(4 * MiB);
    expect(m.brk(m.brkBase + 200 * 1024)).toBe(m.brkBase + 200 * 1024);
    expect(buf.byteLength).toBe(m.brkBase + 200 * 1024);
    m.storeU32(V(m.brkBase + 200 * 1024 - 4), 0xfeedface);
    const a = m.mmap(0, PAGE, RW, MAP_PRIVATE);
    expect(buf.byteLength).toBe(4 * MiB);
    expect(m.sizeBytes).toBe(4 * MiB);
    expect(m.loadU32(V(m.brkBase + 200 * 1024 - 4))).toBe(0xfeedface);
    m.storeU8(V(a), 1);
    m.check();
  });

  it("grows a WebAssembly.Memory by whole 64 KiB pages and follows its new buffer", () => {
    const wasm = new WasmMemory({ initial: 1, maximum: 16 });
    const m = new FlatMemory({ memory: wasm, maxBytes: 16 * 65536, brkBase: 0x8000, assumeZeroed: true });
    new Uint8Array(wasm.buffer)[0x100] = 42; // "static data" below brkBase is left alone
    expect(m.brk(0x8000 + 0x10001)).toBe(0x18001);
    expect(wasm.buffer.byteLength).toBe(2 * 65536);
    expect(m.buffer).toBe(wasm.buffer);
    expect(m.loadU8(V(0x100))).toBe(42);
    m.storeU32(V(0x18000 - 4), 7);
    expect(new DataView(wasm.buffer).getUint32(0x18000 - 4, true)).toBe(7);
    m.check();
  });

  it("refuses to grow a fixed buffer, leaving break and regions as they were", () => {
    const m = new FlatMemory({ memory: new ArrayBuffer(256 * 1024) });
    expect(m.limit).toBe(256 * 1024);
    const top = m.mmap(0, 64 * 1024, RW, MAP_PRIVATE);
    expect(top).toBe(192 * 1024);
    expect(m.brk(m.brkBase + 200 * 1024)).toBe(m.brkBase);
    expect(m.mmap(0, 200 * 1024, RW, MAP_PRIVATE)).toBe(-ENOMEM);
    expect(m.regions()).toHaveLength(1);
    m.check();
  });

  it("clears a dirty caller-supplied buffer before handing it out", () => {
    const buf = new ArrayBuffer(MiB);
    new Uint8Array(buf).fill(0xcc);
    const m = new FlatMemory({ memory: buf });
    const a = m.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    expect(new Uint8Array(buf, a, 2 * PAGE).every((b) => b === 0)).toBe(true);
    expect(new Uint8Array(buf)[a - 1]).toBe(0xcc);
    expect(m.brk(m.brkBase + 10)).toBe(m.brkBase + 10);
    expect(m.loadU32(V(m.brkBase))).toBe(0);
    expect(m.loadU8(V(m.brkBase + PAGE))).toBe(0xcc); // beyond the break's page: not handed out
    m.check();
  });

  it("keeps one free page between the new break and the next mapping", () => {
    const m = new FlatMemory({ sizeBytes: MiB, maxBytes: MiB });
    const base = m.brkBase;
    expect(m.mmap(base + 4 * PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED)).toBe(base + 4 * PAGE);
    expect(m.brk(base + 3 * PAGE)).toBe(base + 3 * PAGE);
    expect(m.brk(base + 3 * PAGE + 1)).toBe(base + 3 * PAGE);
    m.check();
  });
});

describe("FlatMemory mmap errors, in Linux's order", () => {
  const fresh = () => new FlatMemory({ sizeBytes: MiB, maxBytes: 8 * MiB });

  it("returns Linux's errno and changes nothing", () => {
    const m = fresh();
    const a = m.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    const before = m.regions();
    expect(m.mmap(0, 0, RW, MAP_PRIVATE)).toBe(-EINVAL);
    expect(m.mmap(0, PAGE, RW, 0)).toBe(-EINVAL);
    // An anonymous MAP_SHARED_VALIDATE falls in do_mmap's default case.
    expect(m.mmap(0, PAGE, RW, MAP_SHARED_VALIDATE)).toBe(-EINVAL);
    expect(m.mmap(a + 1, PAGE, RW, MAP_PRIVATE | MAP_FIXED)).toBe(-EINVAL);
    expect(m.mmap(a, PAGE, RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE)).toBe(-EEXIST);
    // A placement check comes before the type check: EEXIST wins over EINVAL.
    expect(m.mmap(a, PAGE, RW, MAP_FIXED_NOREPLACE)).toBe(-EEXIST);
    expect(m.mmap(PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED)).toBe(-EPERM);
    expect(m.mmap(m.limit - PAGE, 2 * PAGE, RW, MAP_PRIVATE | MAP_FIXED)).toBe(-ENOMEM);
    expect(m.mmap(0, 9 * MiB, RW, MAP_PRIVATE)).toBe(-ENOMEM);
    // 8 MiB of address space less the 64 KiB below brkBase and the 16 KiB of a: no gap is that large.
    expect(m.mmap(0, 8 * MiB - 64 * 1024 - 12 * 1024, RW, MAP_PRIVATE)).toBe(-ENOMEM);
    expect(m.regions()).toEqual(before);
    m.check();
  });

  it("throws a UsageError for arguments that are not addresses or lengths at all", () => {
    const m = fresh();
    expect(() => m.mmap(-4096, PAGE, RW, MAP_PRIVATE)).toThrow(UsageError);
    expect(() => m.mmap(0, 1.5, RW, MAP_PRIVATE)).toThrow(/length/);
    expect(() => m.munmap(Number.NaN, PAGE)).toThrow(UsageError);
    expect(() => m.brk(-1)).toThrow(UsageError);
    expect(() => m.madvise(0, 2 ** 64, MADV_DONTNEED)).toThrow(/length/);
    m.check();
  });

  it("maps below a taken hint from the top, and uses a free one", () => {
    const m = fresh();
    const hint = 4 * MiB;
    expect(m.mmap(hint, PAGE, RW, MAP_PRIVATE)).toBe(hint);
    expect(m.mmap(hint + 5, PAGE, RW, MAP_PRIVATE)).toBe(m.limit - PAGE);
    // A hint below mmap_min_addr is raised to it (round_hint_to_min).
    expect(m.mmap(PAGE, PAGE, RW, MAP_PRIVATE)).toBe(m.mmapMinAddr);
    m.check();
  });
});

describe("FlatMemory mprotect and madvise", () => {
  it("refuses both GROWSDOWN and GROWSUP, and prot bits it does not know", () => {
    const m = new FlatMemory();
    const a = m.mmap(0, PAGE, RW, MAP_PRIVATE);
    expect(m.mprotect(a, PAGE, PROT_GROWSDOWN | PROT_GROWSUP | PROT_READ)).toBe(-EINVAL);
    expect(m.mprotect(a, PAGE, 0x10)).toBe(-EINVAL);
    expect(m.mprotect(a, 0, 0x10)).toBe(0);
    expect(m.mprotect(a, PAGE, PROT_READ | PROT_EXEC)).toBe(0);
    expect(m.mprotect(a, PAGE, PROT_NONE)).toBe(0);
    expect(m.regions()[0]?.prot).toBe(PROT_NONE);
    m.check();
  });

  it("charges private writable mappings (VM_ACCOUNT) and merges as Linux does for unwritten pages", () => {
    const m = new FlatMemory();
    const a = m.mmap(0, PAGE, RW, MAP_PRIVATE);
    const b = m.mmap(0, PAGE, PROT_READ, MAP_PRIVATE);
    expect(b).toBe(a - PAGE);
    expect(m.regions().filter((r) => !r.heap)).toHaveLength(2);
    // Made read-only before any page was faulted in, a loses its charge and
    // merges with b (recorded from Linux in fixtures/linux/munmap-mprotect).
    expect(m.mprotect(a, PAGE, PROT_READ)).toBe(0);
    expect(m.regions().filter((r) => !r.heap)).toHaveLength(1);
    // A MAP_NORESERVE mapping is never charged, so it does not merge with a charged one.
    const c = m.mmap(0, PAGE, RW, MAP_PRIVATE | MAP_NORESERVE);
    const d = m.mmap(0, PAGE, RW, MAP_PRIVATE);
    expect([c, d]).toEqual([b - PAGE, b - 2 * PAGE]);
    expect(m.regions().filter((r) => !r.heap)).toHaveLength(3);
    m.check();
  });

  it("keeps shared pages on MADV_DONTNEED", () => {
    const m = new FlatMemory();
    const s = m.mmap(0, PAGE, RW, MAP_SHARED);
    m.storeU8(V(s), 9);
    expect(m.madvise(s, PAGE, 4)).toBe(0);
    expect(m.loadU8(V(s))).toBe(9);
  });
});

describe("FlatMemory mremap", () => {
  const fresh = () => new FlatMemory({ sizeBytes: MiB, maxBytes: 8 * MiB });

  it("shrinks in place, grows in place into free space, and moves with MAYMOVE", () => {
    const m = fresh();
    const a = m.mmap(0, 4 * PAGE, RW, MAP_PRIVATE);
    m.storeU32(V(a), 0x12345678);
    expect(m.mremap(a, 4 * PAGE, 2 * PAGE, 0)).toBe(a);
    expect(m.mremap(a, 2 * PAGE, 3 * PAGE, 0)).toBe(a);
    expect(m.loadU32(V(a + 2 * PAGE))).toBe(0);
    // Fill the page after a, so it can no longer grow in place.
    expect(m.mmap(a + 3 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED)).toBe(a + 3 * PAGE);
    m.storeU32(V(a + 3 * PAGE - 4), 0xabcdef01);
    expect(m.mremap(a, 3 * PAGE, 5 * PAGE, 0)).toBe(-ENOMEM);
    const moved = m.mremap(a, 3 * PAGE, 5 * PAGE, MREMAP_MAYMOVE);
    expect(moved).toBe(a - 5 * PAGE);
    expect(m.loadU32(V(moved))).toBe(0x12345678);
    expect(m.loadU32(V(moved + 3 * PAGE - 4))).toBe(0xabcdef01);
    expect(m.loadU32(V(moved + 3 * PAGE))).toBe(0);
    expect(m.regions().some((r) => r.start === a)).toBe(false);
    m.check();
  });

  it("moves to a fixed address, or leaves the old range mapped and empty with DONTUNMAP", () => {
    const m = fresh();
    const a = m.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    m.storeU8(V(a), 5);
    const target = 2 * MiB;
    expect(m.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target)).toBe(target);
    expect(m.loadU8(V(target))).toBe(5);
    const b = m.mremap(target, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    expect(b).toBeGreaterThan(0);
    expect(m.loadU8(V(b))).toBe(5);
    expect(m.loadU8(V(target))).toBe(0);
    expect(m.regions().some((r) => r.start === target)).toBe(true);
    m.check();
  });

  it("returns Linux's errors and changes nothing", () => {
    const m = fresh();
    const a = m.mmap(0, 2 * PAGE, RW, MAP_PRIVATE);
    const before = m.regions();
    expect(m.mremap(a, PAGE, PAGE, 8)).toBe(-EINVAL);
    expect(m.mremap(a, PAGE, 2 * PAGE, MREMAP_FIXED, MiB)).toBe(-EINVAL);
    expect(m.mremap(a, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)).toBe(-EINVAL);
    expect(m.mremap(a + 1, PAGE, PAGE, 0)).toBe(-EINVAL);
    expect(m.mremap(a, PAGE, 0, 0)).toBe(-EINVAL);
    expect(m.mremap(a - 16 * PAGE, PAGE, 2 * PAGE, 0)).toBe(-EFAULT);
    expect(m.mremap(a, 3 * PAGE, 4 * PAGE, MREMAP_MAYMOVE)).toBe(-EFAULT);
    expect(m.mremap(a, 0, PAGE, MREMAP_MAYMOVE)).toBe(-EINVAL);
    expect(m.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, a + PAGE)).toBe(-EINVAL);
    expect(m.regions()).toEqual(before);
    m.check();
  });
});

describe("FlatMemory faults", () => {
  it("faults at the first byte past the buffer for an access that straddles its end", () => {
    const m = new FlatMemory({ memory: new ArrayBuffer(MiB) });
    try {
      m.loadU64(V(MiB - 4));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(Fault);
      expect((e as Fault).address).toBe(MiB);
    }
    expect(() => m.copy(V(0), V(MiB - 4), 8)).toThrow(Fault);
    expect(() => m.fill(V(0), -1, 0)).toThrow(UsageError);
  });

  it("refuses out-of-range options, naming them", () => {
    expect(() => new FlatMemory({ brkBase: 100 })).toThrow(/brkBase/);
    expect(() => new FlatMemory({ sizeBytes: 2 * MiB, maxBytes: MiB })).toThrow(/maxBytes/);
    expect(() => new FlatMemory({ memory: new ArrayBuffer(MiB), maxBytes: 2 * MiB })).toThrow(/maxBytes/);
    expect(() => new FlatMemory({ memory: new ArrayBuffer(MiB), brkBase: MiB })).toThrow(/brkBase/);
    expect(() => new FlatMemory({ sizeBytes: 0 })).toThrow(/sizeBytes/);
  });
});

import {
  EFAULT,
  EINVAL,
  ENOMEM,
  Fault,
  MADV_POPULATE_WRITE,
  MAP_FIXED,
  MAP_HUGE_1GB,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  virtAddr as V,
} from "@memstack/core";
import { describe, expect, it } from "vitest";
import { testKernel } from "./helpers.js";

// The VM scripts mmap-hugetlb*.vm, madvise-hugetlb.vm and mremap-hugetlb.vm
// hold the answers recorded from Linux; these check what a script cannot
// print: the fault's reason, 1 GiB placement and /proc/meminfo.
const MB2 = 2 * 1024 * 1024;
const GB = 1024 * 1024 * 1024;
const RW = 3;
const kb = (text: string, label: string) => Number(new RegExp(`^${label}:\\s+(\\d+)`, "m").exec(text)![1]);

describe("MAP_HUGETLB with an empty huge page pool", () => {
  it("refuses a reservation with ENOMEM and leaves every structure valid", () => {
    const k = testKernel();
    const p = k.spawn();
    const committed = kb(k.meminfo(), "Committed_AS");
    const vmas = p.mm.mapCount;
    expect(p.mmap(0, 4096, RW, MAP_PRIVATE | MAP_HUGETLB)).toBe(-ENOMEM);
    expect(p.mmap(0, 4096, RW, MAP_SHARED | MAP_HUGETLB)).toBe(-ENOMEM);
    expect(p.mmap(0, 4096, RW, MAP_PRIVATE | MAP_HUGETLB | (16 << 26))).toBe(-EINVAL);
    expect(p.mm.mapCount).toBe(vmas);
    k.check();
    const a = p.mmap(0, 4096, RW, MAP_PRIVATE | MAP_HUGETLB | MAP_NORESERVE);
    expect(a % MB2).toBe(0);
    // Never charged; the pool's lines stay 0, as nothing is reserved.
    expect(kb(k.meminfo(), "Committed_AS")).toBe(committed);
    for (const label of ["HugePages_Total", "HugePages_Rsvd", "Hugetlb"])
      expect(kb(k.meminfo(), label)).toBe(0);
    expect(p.munmap(a + 4096, 4096)).toBe(-EINVAL);
    expect(p.mprotect(a, 4096, 1)).toBe(-EINVAL);
    k.check();
    expect(p.munmap(a, 4096)).toBe(-EINVAL);
    expect(p.munmap(a, MB2)).toBe(0);
    expect(p.mm.mapCount).toBe(vmas);
    k.check();
  });

  it("faults with SIGBUS (no-huge-page) on any touch, and maps no page", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, MB2, RW, MAP_PRIVATE | MAP_HUGETLB | MAP_NORESERVE | MAP_POPULATE);
    expect(a).toBeGreaterThan(0);
    for (const touch of [() => p.loadU8(V(a)), () => p.storeU32(V(a + 4096), 1)]) {
      expect(touch).toThrow(Fault);
      try {
        touch();
      } catch (e) {
        expect((e as Fault).reason).toBe("no-huge-page");
      }
    }
    expect(p.madvise(a, MB2, MADV_POPULATE_WRITE)).toBe(-EFAULT);
    expect(p.rssAnon + p.rssShmem).toBe(0);
    k.check();
  });

  it("places 1 GiB pages at a 1 GiB boundary, and splits them only there", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, 4096, RW, MAP_PRIVATE | MAP_HUGETLB | MAP_HUGE_1GB | MAP_NORESERVE);
    expect(a % GB).toBe(0);
    expect(p.maps()).toContain(" 00:12 ");
    expect(p.munmap(a, MB2)).toBe(-EINVAL);
    expect(p.mmap(a + MB2, MB2, RW, MAP_PRIVATE | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED)).toBe(-EINVAL);
    // Its fault makes only the PUD table above it: no PMD table.
    const tables = p.mm.tables.count;
    expect(() => p.loadU8(V(a))).toThrow(Fault);
    expect(p.mm.tables.count - tables).toBeLessThanOrEqual(1);
    k.check();
    expect(p.munmap(a, GB)).toBe(0);
    k.check();
  });

  it("copies hugetlb VMAs to a child of fork, which faults as its parent does", () => {
    const k = testKernel();
    const p = k.spawn();
    const a = p.mmap(0, 3 * MB2, RW, MAP_SHARED | MAP_HUGETLB | MAP_NORESERVE);
    const c = p.fork()!;
    expect(c.maps()).toBe(p.maps());
    expect(() => c.loadU8(V(a))).toThrow(Fault);
    expect(c.munmap(a + MB2, 4096)).toBe(-EINVAL);
    k.check();
  });
});

import { readFileSync } from "node:fs";
import {
  MADV_DONTNEED,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  virtAddr as V,
} from "@memstack/core";
import { describe, expect, it } from "vitest";
import { formatMapsLine, formatMeminfo, formatStatusKb } from "../src/proc/format.js";
import { testKernel } from "./helpers.js";

// Real /proc text of this machine (fixtures/proc/record.sh).
const sample = readFileSync(new URL("./fixtures/proc/proc-sample.txt", import.meta.url), "utf8");
const section = (name: string) => sample.split(`== ${name}\n`)[1]!.split("\n== ")[0]!.trimEnd().split("\n");

describe("/proc formats, byte for byte against this machine's kernel", () => {
  it("formats every real /proc/meminfo line from its numbers", () => {
    for (const line of section("meminfo")) {
      const m = /^([^:]+):\s+(\d+)( kB)?$/.exec(line)!;
      expect(formatMeminfo([{ label: m[1]!, value: Number(m[2]), bare: m[3] === undefined }])).toBe(
        `${line}\n`,
      );
    }
  });

  it("prints the same /proc/meminfo fields in the same order", () => {
    const real = section("meminfo").map((l) => l.split(":")[0]);
    const ours = testKernel()
      .meminfo()
      .trimEnd()
      .split("\n")
      .map((l) => l.split(":")[0]);
    expect(ours).toEqual(real);
  });

  it("formats the real /proc/PID/status memory lines, and prints them in the same order", () => {
    const real = section("status");
    for (const line of real) {
      const m = /^(\w+):\t\s*(\d+) kB$/.exec(line)!;
      expect(formatStatusKb(m[1]!, Number(m[2]))).toBe(`${line}\n`);
    }
    const k = testKernel();
    const ours = k
      .spawn()
      .status()
      .split("\n")
      .filter((l) => /^(Vm|Rss|HugetlbPages)/.test(l))
      .map((l) => l.split(":")[0]);
    expect(ours).toEqual(real.map((l) => l.split(":")[0]));
  });

  it("formats real /proc/PID/maps lines: anonymous, shared, [heap], [stack]", () => {
    for (const line of section("maps")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+) *(.*)$/.exec(
        line,
      )!;
      const text = formatMapsLine({
        start: Number.parseInt(m[1]!, 16),
        end: Number.parseInt(m[2]!, 16),
        perms: m[3]!,
        offset: Number.parseInt(m[4]!, 16),
        major: Number.parseInt(m[5]!, 16),
        minor: Number.parseInt(m[6]!, 16),
        inode: Number(m[7]),
        name: m[8]!,
      });
      expect(text).toBe(`${line}\n`);
    }
  });

  it("shows a process's mappings as the real kernel shows the same kinds", () => {
    const k = testKernel();
    const p = k.spawn("sample");
    const a = p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    const s = p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED);
    p.storeU8(V(a), 1);
    p.storeU8(V(s), 1);
    p.brk(p.brk(0) + 65536);
    const lines = p.maps().trimEnd().split("\n");
    const kinds = (ls: string[]) =>
      ls.map((l) => {
        const [, perms, offset, dev, , name] = /^\S+ (\S+) (\S+) (\S+) (\d+) *(.*)$/.exec(l)!;
        return `${perms} ${offset} ${dev} ${name}`;
      });
    // Same perms, offsets, devices and names as the real lines (addresses and inode numbers aside).
    expect(new Set(kinds(lines))).toEqual(new Set(kinds(section("maps"))));
  });
});

// This machine's kernel's page-table accounting (fixtures/proc/pgtables.c, via record.sh).
const pgtables = new Map(
  readFileSync(new URL("./fixtures/proc/pgtables.txt", import.meta.url), "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => l.split(" ") as [string, string])
    .map(([k, v]) => [k, Number(v)]),
);
const kbOf = (text: string, field: string) =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text)![1]);

describe("page-table accounting, against this machine's kernel", () => {
  it("grows VmPTE by a PUD, PMD and PTE table for a first write, a PTE table 2 MiB on, and drops them on munmap", () => {
    const k = testKernel();
    const p = k.spawn();
    const base = kbOf(p.status(), "VmPTE");
    const a = 0x2000_0000_0000;
    expect(p.mmap(a, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED)).toBe(a);
    p.storeU8(V(a), 1);
    expect(kbOf(p.status(), "VmPTE") - base).toBe(pgtables.get("first_write_kb"));
    p.storeU8(V(a + (2 << 20)), 1);
    expect(kbOf(p.status(), "VmPTE") - base).toBe(pgtables.get("second_region_kb"));
    expect(p.munmap(a, 4 << 20)).toBe(0);
    expect(kbOf(p.status(), "VmPTE") - base).toBe(pgtables.get("after_munmap_kb"));
    k.check();
  });

  it("keeps the PUD and PMD tables a read ending in SIGBUS made, and no PTE table", () => {
    const k = testKernel();
    const p = k.spawn();
    const base = kbOf(p.status(), "VmPTE");
    const s = 0x3000_0000_0000;
    expect(p.mmap(s, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED)).toBe(s);
    expect(p.mremap(s, 4096, 8192, 0)).toBe(s);
    expect(() => p.loadU8(V(s + 4096))).toThrow(expect.objectContaining({ reason: "past-object-end" }));
    expect(kbOf(p.status(), "VmPTE") - base).toBe(pgtables.get("sigbus_kb"));
    k.check();
  });

  it("counts each process's PGD in /proc/meminfo's PageTables, not in its VmPTE", () => {
    const k = testKernel();
    const procs = Array.from({ length: 5 }, () => k.spawn());
    procs.forEach((p, i) => {
      const a = p.mmap(0, (i + 1) << 21, PROT_READ | PROT_WRITE, MAP_PRIVATE);
      for (let off = 0; off < (i + 1) << 21; off += 1 << 20) p.storeU8(V(a + off), 1);
    });
    const vmpte = procs.reduce((s, p) => s + kbOf(p.status(), "VmPTE"), 0);
    expect(vmpte).toBeGreaterThan(0);
    expect(kbOf(k.meminfo(), "PageTables") - vmpte).toBe(procs.length * pgtables.get("pgd_kb")!);
  });

  it("keeps an emptied page table until its region is unmapped, and names it in the OOM killer's line", () => {
    const k = testKernel();
    const p = k.spawn("victim");
    const a = p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    p.storeU8(V(a), 1);
    const held = kbOf(p.status(), "VmPTE");
    expect(p.madvise(a, 8192, MADV_DONTNEED)).toBe(0);
    expect(kbOf(p.status(), "VmPTE")).toBe(held);
    expect(kbOf(p.status(), "RssAnon")).toBe(0);
    k.oomKill();
    expect(k.dmesg.at(-1)).toContain(` pgtables:${held}kB `);
    k.check();
  });
});

import { readFileSync } from "node:fs";
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, virtAddr as V } from "@memstack/core";
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

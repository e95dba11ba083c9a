// The /proc formatters against this machine's real files (fixtures/linux,
// recorded by fixtures/linux/record.sh), and the watermark rules against the
// real kernel's numbers.
import { describe, expect, it } from "vitest";
import {
  computeWatermarks,
  createBuddyAllocator,
  formatBuddyinfo,
  formatExtfragIndex,
  formatPagetypeinfo,
  formatUnusableIndex,
  formatZoneinfo,
  MIGRATETYPE_NAMES,
  thpMinFreeKbytes,
  type ZoneName,
  zonePcpSizes,
} from "../src/index.js";
import {
  fixture,
  modelledZoneinfoLines,
  parseBuddyinfo,
  parsePagetypeinfo,
  parseZoneinfo,
  vmSysctls,
} from "./helpers.js";

describe("/proc formatters reproduce the real kernel's text byte for byte", () => {
  it("/proc/buddyinfo", () => {
    const real = fixture("buddyinfo.txt");
    expect(formatBuddyinfo(parseBuddyinfo(real))).toBe(real);
  });

  it("debugfs extfrag/extfrag_index and unusable_index, computed from the same snapshot's buddyinfo", () => {
    const zones = parseBuddyinfo(fixture("buddyinfo.txt"));
    expect(formatExtfragIndex(zones)).toBe(fixture("extfrag_index.txt"));
    expect(formatUnusableIndex(zones)).toBe(fixture("unusable_index.txt"));
  });

  it("/proc/pagetypeinfo", () => {
    const real = fixture("pagetypeinfo.txt");
    const parsed = parsePagetypeinfo(real);
    expect(parsed.types).toEqual([...MIGRATETYPE_NAMES]);
    expect(formatPagetypeinfo(parsed.zones, parsed.pageblockOrder, parsed.types)).toBe(real);
  });

  it("/proc/zoneinfo, for the lines this package models", () => {
    const real = fixture("zoneinfo.txt");
    expect(formatZoneinfo(parseZoneinfo(real))).toBe(modelledZoneinfoLines(real));
  });
});

describe("watermarks derived as the real kernel derived them", () => {
  const real = parseZoneinfo(fixture("zoneinfo.txt"));
  const vm = vmSysctls();

  it("min, low, high, promo and protection of every zone", () => {
    const derived = computeWatermarks(
      real.map((z) => ({ name: z.name as ZoneName, managedPages: z.zoneinfo!.managed })),
      {
        minFreeKbytes: vm.minFreeKbytes,
        watermarkScaleFactor: vm.watermarkScaleFactor,
        lowmemReserveRatio: vm.lowmemReserveRatio,
      },
    );
    derived.forEach((w, i) => {
      const z = real[i]!.zoneinfo!;
      expect({ zone: real[i]!.name, ...w }).toEqual({
        zone: real[i]!.name,
        min: z.min,
        low: z.low,
        high: z.high,
        promo: z.promo,
        lowmemReserve: z.protection,
      });
    });
  });

  it("per-CPU list batch, high_min and high_max of every populated zone (zone_batchsize, zone_highsize)", () => {
    const text = fixture("zoneinfo.txt");
    const blocks = text.split(/^(?=Node \d+, zone)/m).filter((b) => /pagesets/.test(b));
    const cpus = (blocks[0]!.match(/\n {4}cpu: \d+/g) ?? []).length;
    expect(cpus).toBeGreaterThan(0);
    for (const b of blocks) {
      const num = (re: RegExp): number => Number(re.exec(b)![1]);
      const real = {
        batch: num(/\n\s+batch:\s+(\d+)/),
        highMin: num(/\n\s+high_min:\s+(\d+)/),
        highMax: num(/\n\s+high_max:\s+(\d+)/),
      };
      expect(zonePcpSizes(num(/\n\s+managed\s+(\d+)/), num(/\n\s+low\s+(\d+)/), cpus)).toEqual(real);
    }
  });

  it("min_free_kbytes is khugepaged's recommendation when THP is enabled", () => {
    expect(vm.thp).not.toMatch(/\[never\]/);
    const upToNormal = real.filter((z) => ["DMA", "DMA32", "Normal"].includes(z.name) && z.populated);
    const buffer = upToNormal.reduce((n, z) => n + z.zoneinfo!.managed - z.zoneinfo!.high, 0);
    const pageblockPages = 2 ** parsePagetypeinfo(fixture("pagetypeinfo.txt")).pageblockOrder;
    expect(thpMinFreeKbytes(upToNormal.length, pageblockPages, buffer, 0)).toBe(vm.minFreeKbytes);
  });

  it("an allocator built with the real zone layout prints the real zoneinfo watermark lines", () => {
    // Reproduce each zone's span, present and managed counts with holes and
    // reserved ranges at the end of its span (their place does not matter
    // to the watermark rules).
    const populated = real.filter((z) => z.populated && z.name !== "Device");
    const zones = real
      .filter((z) => z.name !== "Device")
      .map((z) => ({
        name: z.name as "DMA" | "DMA32" | "Normal" | "Movable",
        startPfn: z.populated ? z.zoneinfo!.startPfn : 0,
        endPfn: z.populated ? z.zoneinfo!.startPfn + z.zoneinfo!.spanned : 0,
      }));
    const last = populated[populated.length - 1]!.zoneinfo!;
    const machine = last.startPfn + last.spanned;
    zones[zones.length - 1] = { name: "Movable", startPfn: machine, endPfn: machine };
    const holes = populated.map((z) => {
      const n = z.zoneinfo!;
      return { startPfn: n.startPfn + n.spanned - (n.spanned - n.present), endPfn: n.startPfn + n.spanned };
    });
    const reserved = populated.map((z) => {
      const n = z.zoneinfo!;
      const holeStart = n.startPfn + n.present;
      return { startPfn: holeStart - (n.present - n.managed), endPfn: holeStart };
    });
    const b = createBuddyAllocator({
      frameCount: machine,
      zones,
      holes,
      reserved,
      minFreeKbytes: vm.minFreeKbytes,
      watermarkScaleFactor: vm.watermarkScaleFactor,
    });
    b.check();
    const mine = parseZoneinfo(b.zoneinfo());
    for (const z of populated) {
      const m = mine.find((x) => x.name === z.name)!.zoneinfo!;
      const r = z.zoneinfo!;
      expect([m.min, m.low, m.high, m.promo, m.spanned, m.present, m.managed, m.startPfn]).toEqual([
        r.min,
        r.low,
        r.high,
        r.promo,
        r.spanned,
        r.present,
        r.managed,
        r.startPfn,
      ]);
      // The real kernel also counts ZONE_DEVICE, which holds no buddy pages.
      expect(m.protection).toEqual(r.protection.slice(0, m.protection.length));
      expect(m.freePages).toBe(r.managed);
    }
  });
});

// Parsers for the real /proc files recorded under fixtures/linux, and a
// small allocator factory shared by the tests.
import { readFileSync } from "node:fs";
import {
  type BuddyOptions,
  createBuddyAllocator,
  type ProcZone,
  type ZoneinfoNumbers,
} from "../src/index.js";

export const FIXTURES = new URL("./fixtures/linux/", import.meta.url);

export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), "utf8");
}

/** /proc/buddyinfo → zones with nr_free per order. */
export function parseBuddyinfo(text: string): ProcZone[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("Node"))
    .map((l) => {
      const m = /^Node (\d+), zone\s+(\S+)\s+(.*)$/.exec(l)!;
      return {
        node: Number(m[1]),
        name: m[2]!,
        populated: true,
        nrFree: m[3]!.trim().split(/\s+/).map(Number),
      };
    });
}

/** /proc/pagetypeinfo → zones with per-type free counts and block counts. */
export function parsePagetypeinfo(text: string): {
  pageblockOrder: number;
  types: string[];
  zones: ProcZone[];
} {
  const lines = text.split("\n");
  const pageblockOrder = Number(/Page block order: (\d+)/.exec(text)![1]);
  const zones = new Map<string, { nrFreeByType: number[][]; blocksByType: number[] }>();
  const types: string[] = [];
  for (const l of lines) {
    const m = /^Node\s+(\d+), zone\s+(\S+), type\s+(\S+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const z = zones.get(m[2]!) ?? { nrFreeByType: [], blocksByType: [] };
    z.nrFreeByType.push(m[4]!.trim().split(/\s+/).map(Number));
    zones.set(m[2]!, z);
    if (!types.includes(m[3]!)) types.push(m[3]!);
  }
  for (const l of lines) {
    const m = /^Node (\d+), zone\s+(\S+)\s+([\d\s]+)$/.exec(l);
    if (m) zones.get(m[2]!)!.blocksByType = m[3]!.trim().split(/\s+/).map(Number);
  }
  return {
    pageblockOrder,
    types,
    zones: [...zones].map(([name, z]) => ({
      node: 0,
      name,
      populated: true,
      nrFree: z.nrFreeByType[0]!.map((_, o) => z.nrFreeByType.reduce((n, row) => n + row[o]!, 0)),
      nrFreeByType: z.nrFreeByType,
      blocksByType: z.blocksByType,
    })),
  };
}

/** /proc/zoneinfo → the zone numbers this package models. */
export function parseZoneinfo(text: string): ProcZone[] {
  const blocks = text.split(/^(?=Node \d+, zone)/m).filter((b) => b.startsWith("Node"));
  return blocks.map((b) => {
    const name = /^Node \d+, zone\s+(\S+)/.exec(b)![1]!;
    const num = (re: RegExp): number => Number(re.exec(b)?.[1] ?? 0);
    const present = num(/\n\s+present\s+(\d+)/);
    const zi: ZoneinfoNumbers = {
      freePages: num(/\n\s+pages free\s+(\d+)/),
      boost: num(/\n\s+boost\s+(\d+)/),
      min: num(/\n\s+min\s+(\d+)/),
      low: num(/\n\s+low\s+(\d+)/),
      high: num(/\n\s+high\s+(\d+)/),
      promo: num(/\n\s+promo\s+(\d+)/),
      spanned: num(/\n\s+spanned\s+(\d+)/),
      present,
      managed: num(/\n\s+managed\s+(\d+)/),
      cma: num(/\n\s+cma\s+(\d+)/),
      protection: /protection: \(([^)]*)\)/.exec(b)![1]!.split(", ").map(Number),
      freePagesBlocks: num(/\n\s+nr_free_pages_blocks\s+(\d+)/),
      startPfn: num(/\n\s+start_pfn:\s+(\d+)/),
    };
    return { node: 0, name, populated: present > 0, nrFree: [], zoneinfo: zi };
  });
}

/** The lines of a real /proc/zoneinfo that formatZoneinfo prints. */
export function modelledZoneinfoLines(text: string): string {
  const keep =
    /^(Node \d+, zone| {2}pages free| {8}(boost|min|low|high|promo|spanned|present|managed|cma) | {8}protection:| {6}nr_free_pages | {6}nr_free_pages_blocks | {6}nr_free_cma | {2}start_pfn:)/;
  return `${text
    .split("\n")
    .filter((l) => keep.test(l))
    .join("\n")}\n`;
}

export function vmSysctls(): {
  minFreeKbytes: number;
  watermarkScaleFactor: number;
  lowmemReserveRatio: number[];
  thp: string;
} {
  const t = fixture("vm.txt");
  const get = (k: string): string => new RegExp(`^${k} (.*)$`, "m").exec(t)![1]!;
  return {
    minFreeKbytes: Number(get("min_free_kbytes")),
    watermarkScaleFactor: Number(get("watermark_scale_factor")),
    lowmemReserveRatio: get("lowmem_reserve_ratio").trim().split(/\s+/).map(Number),
    thp: get("thp_enabled"),
  };
}

/** A single-zone machine whose lists are easy to follow: no watermarks, mobility grouping on. */
export function smallBuddy(options: Partial<BuddyOptions> = {}) {
  return createBuddyAllocator({
    frameCount: 16,
    maxOrder: 3,
    pageblockOrder: 3,
    minFreeKbytes: 0,
    groupByMobility: true,
    pcp: false,
    zones: [{ name: "Normal", startPfn: 0, endPfn: options.frameCount ?? 16 }],
    ...options,
  });
}

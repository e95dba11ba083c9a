import { ENOMEM, MAP_PRIVATE, PROT_READ, PROT_WRITE, virtAddr as V } from "@memstack/core";
import { type Process, ProcessKilled } from "@memstack/kernel";
import { describe, expect, it } from "vitest";
import { createMachine } from "../src/index.js";

const PAGE = 4096;
const MiB = 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const pattern = (pid: number, i: number) => (pid * 1_000_003 + i) >>> 0;

describe("20 processes of 5 MiB on a 50 MiB machine, through the whole stack", () => {
  for (const mode of [0, 1, 2] as const) {
    it(`overcommit mode ${mode}: what succeeds, what faults, who is killed`, () => {
      const m = createMachine({ ram: "50M", overcommit: mode });
      const procs = Array.from({ length: 20 }, (_, i) => m.spawn(`w${i}`));
      const bases = procs.map((p) => p.mmap(0, 5 * MiB, RW, MAP_PRIVATE));
      const outcome = procs.map((p, i) => {
        if (bases[i] === -ENOMEM) return "enomem";
        try {
          for (let k = 0; k < (5 * MiB) / PAGE; k++) p.storeU32(V(bases[i]! + k * PAGE), pattern(p.pid, k));
          return "touched";
        } catch (e) {
          if (!(e instanceof ProcessKilled)) throw e;
          return "killed";
        }
      });
      m.check();
      const killed = procs.filter((p) => p.state === "killed");
      if (mode === 2) {
        // Never: the commit limit refuses mmaps up front, and nobody is killed.
        expect(outcome).toContain("enomem");
        expect(killed).toHaveLength(0);
        expect(outcome.filter((o) => o === "touched").length).toBe(outcome.indexOf("enomem"));
      } else {
        // Heuristic and always: every mmap succeeds, and the OOM killer makes room.
        expect(outcome).not.toContain("enomem");
        expect(killed.length).toBeGreaterThan(0);
        expect(m.kernel.dmesg.filter((l) => l.startsWith("Out of memory: Killed process"))).toHaveLength(
          killed.length,
        );
      }
      // Whoever is alive kept every byte it wrote.
      procs.forEach((p, i) => {
        if (!p.alive || outcome[i] !== "touched") return;
        for (let k = 0; k < (5 * MiB) / PAGE; k++)
          expect(p.loadU32(V(bases[i]! + k * PAGE))).toBe(pattern(p.pid, k));
      });
    });
  }

  it("loses nothing of the others when a process is killed in the middle of an interleaved, fault-heavy run", () => {
    const m = createMachine({ ram: "24M", swap: "8M" });
    const procs: Process[] = Array.from({ length: 5 }, (_, i) => m.spawn(`w${i}`));
    const pages = (6 * MiB) / PAGE;
    const bases = procs.map((p) => p.mmap(0, pages * PAGE, RW, MAP_PRIVATE));
    const written = procs.map(() => 0);
    // Round robin: a page of each process at a time, so faults of all five interleave.
    for (let k = 0; k < pages; k++) {
      procs.forEach((p, i) => {
        if (!p.alive) return;
        try {
          p.storeU32(V(bases[i]! + k * PAGE), pattern(p.pid, k));
          written[i] = k + 1;
        } catch (e) {
          if (!(e instanceof ProcessKilled)) throw e;
        }
      });
      if (k % 128 === 0) m.check();
    }
    m.check();
    expect(procs.some((p) => p.state === "killed")).toBe(true);
    procs.forEach((p, i) => {
      if (!p.alive) return;
      for (let k = 0; k < written[i]!; k++)
        expect(p.loadU32(V(bases[i]! + k * PAGE))).toBe(pattern(p.pid, k));
    });
    m.check();
  });
});

describe("the OOM killer takes no one else for an allocation whose task it chose", () => {
  const kills = (m: ReturnType<typeof createMachine>) =>
    m.kernel.dmesg.filter((l) => l.startsWith("Out of memory: Killed process"));
  // B fills memory to the page; W, whose oom_score_adj makes it the first
  // choice whatever it holds, has mapped but not yet written its pages.
  const full = () => {
    const setup = () => {
      const m = createMachine({ ram: "16M" });
      const b = m.spawn("b");
      const w = m.spawn("w");
      w.oomScoreAdj = 1000;
      return { m, b, w, bAt: b.mmap(0, 16 * MiB, RW, MAP_PRIVATE), wAt: w.mmap(0, MiB, RW, MAP_PRIVATE) };
    };
    // The machine is deterministic: on one, find the page of B's whose
    // allocation first calls the killer (which takes W first)...
    const probe = setup();
    let n = 0;
    for (; kills(probe.m).length === 0; n++) {
      try {
        probe.b.storeU32(V(probe.bAt + n * PAGE), 0);
      } catch (e) {
        if (!(e instanceof ProcessKilled)) throw e;
        break;
      }
    }
    expect(probe.w.state).toBe("killed");
    // ...and on another, B writes the pages before it.
    const s = setup();
    for (let i = 0; i < n - 1; i++) s.b.storeU32(V(s.bAt + i * PAGE), pattern(s.b.pid, i));
    expect(kills(s.m)).toEqual([]);
    return { ...s, pages: n - 1 };
  };

  it("a writer it kills at its first fault dies alone: the process that filled memory lives on", () => {
    const { m, b, w, bAt, wAt, pages } = full();
    // W's first fault finds no page: the killer takes W, which frees next to
    // nothing, and the allocation fails with W. Linux's out_of_memory() lets
    // a task that is already a victim die (task_will_free_mem(current))
    // rather than kill on for it, so B lives.
    expect(() => w.storeU32(V(wAt), 1)).toThrow(ProcessKilled);
    expect(w.state).toBe("killed");
    expect(b.alive).toBe(true);
    expect(kills(m)).toEqual([
      expect.stringMatching(new RegExp(`^Out of memory: Killed process ${w.pid} \\(w\\)`)),
    ]);
    for (let i = 0; i < pages; i++) expect(b.loadU32(V(bAt + i * PAGE))).toBe(pattern(b.pid, i));
    m.check();
  });

  it("only for that allocation: processes spawned into the full memory after it still call the killer", () => {
    const { m, b, w, wAt } = full();
    expect(() => w.storeU32(V(wAt), 1)).toThrow(ProcessKilled);
    // With no process entered since W died, new processes' page tables take
    // the last free frames, and the next one makes the killer take B (the
    // one process with memory) rather than fail.
    const spawned = [];
    while (b.alive) spawned.push(m.spawn(`s${spawned.length}`));
    expect(spawned.length).toBeGreaterThan(0);
    expect(kills(m)).toHaveLength(2);
    m.check();
  });
});

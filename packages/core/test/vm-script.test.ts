import { describe, expect, it } from "vitest";
import {
  FlatMemory,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  mapsPerms,
  PROT_READ,
  PROT_WRITE,
  parseVmScript,
  runVmScript,
  VmScriptError,
  type VmScriptTarget,
} from "../src/index.js";

const H = "# memstack vm script v1\n";

describe("parseVmScript", () => {
  it("refuses a malformed line with the oracle's message, before running anything", () => {
    const cases: [string, string][] = [
      ["", "error 1: missing header"],
      ["# memstack malloc trace v1\n", "error 1: missing header"],
      [`${H}frob a\n`, "error 2: unknown call"],
      [`${H}mmap a 0 4K rw\n`, "error 2: wrong number of fields"],
      [`${H}mmap a 0 4X rw private\n`, "error 2: bad number"],
      [`${H}mmap a 0 4K rq private\n`, "error 2: bad prot"],
      [`${H}mmap a 0 4K rw private|weird\n`, "error 2: bad flag"],
      [`${H}mmap 1a 0 4K rw private\n`, "error 2: bad name"],
      [`${H}mmap brk0 0 4K rw private\n`, "error 2: brk0 is not a name to bind"],
      [
        `${H}mmap a 0 4K rw private\n\nmmap a 0 4K rw private\n`,
        "error 4: name already bound by an earlier mmap",
      ],
      [`${H}madvise a 4K guard\n`, "error 2: bad advice"],
      [`${H}write a 256\n`, "error 2: byte above 255"],
      [`${H}mremap b a 4K 8K maymove\n`, "error 2: wrong number of fields"],
      [`${H}fork now\n`, "error 2: wrong number of fields"],
      [`${H}mincore a\n`, "error 2: wrong number of fields"],
      [`${H}vmswap now\n`, "error 2: wrong number of fields"],
      [`${H}reclaim all\n`, "error 2: wrong number of fields"],
      [`${H}lazyfree now\n`, "error 2: wrong number of fields"],
      [`${H}mincore a 0x1000001\n`, "error 2: mincore length above 16M"],
      [`${H}mremap b a 4K 8K maymove|far 0\n`, "error 2: bad flag"],
      [`${H}mremap b a 4K 8K 0 0\n`, "error 2: bad flag"],
      [`${H}mremap brk0 a 4K 8K none 0\n`, "error 2: brk0 is not a name to bind"],
      [
        `${H}mmap a 0 4K rw private\nmremap a a 4K 8K maymove 0\n`,
        "error 3: name already bound by an earlier mmap",
      ],
    ];
    for (const [text, message] of cases) {
      try {
        parseVmScript(text);
        expect.unreachable(message);
      } catch (e) {
        expect(e).toBeInstanceOf(VmScriptError);
        expect((e as Error).message).toBe(message);
      }
    }
  });

  it("reads memstack's mremap line: NAME OLD OLDLEN NEWLEN FLAGS NEWADDR", () => {
    const [none, all] = parseVmScript(
      `${H}mremap b a 4K 8K none 0\nmremap c b+4K 1M 1M maymove|fixed|dontunmap a+2M\n`,
    );
    expect(none).toMatchObject({ kind: "mremap", name: "b", len: 4096n, newLen: 8192n, flags: 0 });
    expect(all).toMatchObject({
      kind: "mremap",
      name: "c",
      at: { base: "b", off: 4096n },
      flags: MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
      to: { base: "a", off: 2n << 20n },
    });
  });

  it("reads numbers with K/M/G suffixes and name offsets", () => {
    const ops = parseVmScript(`${H}  # a comment\nmunmap a-64K 0x10\nbrk brk0+1M\nmaps\n`);
    expect(ops.map((o) => o.kind)).toEqual(["munmap", "brk", "maps"]);
  });
});

describe("runVmScript", () => {
  it("prints one line per call, relative to the first name, with unbound names", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    const out = runVmScript(
      `${H}munmap x 4K\nmmap a 0 8K rw private\nmmap b 0 4K r private\nmaps\nbrk brk0+0x10\nread b\n`,
      {
        mapper: m,
        programBreak: m,
        memory: m,
        maps: () =>
          m.regions().map((r) => ({ start: r.start, end: r.end, perms: mapsPerms(r.prot, r.shared) })),
      },
    );
    expect(out).toEqual([
      "unbound x",
      "ok a=a",
      "ok b=a-0x1000",
      "maps a-0x1000-a r--p ; a-a+0x2000 rw-p",
      "brk0+0x10",
      "ok 0",
    ]);
  });

  it("runs mremap lines: binds the result, prints errors, and ENOSYS where the mapper has none", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    const target = {
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () =>
        m.regions().map((r) => ({ start: r.start, end: r.end, perms: mapsPerms(r.prot, r.shared) })),
    };
    const script = `${H}mmap a 0 8K rw private\nwrite a+4K 7\nmremap b a 8K 16K maymove 0\nread b+4K\nmremap c a+1 4K 4K maymove 0\nmremap d b 4K 4K maymove|fixed x\nmaps\n`;
    expect(runVmScript(script, target)).toEqual([
      "ok a=a",
      "ok",
      "ok b=a-0x4000",
      "ok 7",
      "err EINVAL",
      "unbound x",
      "maps a-0x4000-a rw-p",
    ]);
    const mapper = {
      mmap: m.mmap.bind(m),
      munmap: m.munmap.bind(m),
      mprotect: m.mprotect.bind(m),
      madvise: m.madvise.bind(m),
    };
    expect(
      runVmScript(`${H}mmap e 0 4K rw private\nmremap f e 4K 8K maymove 0\n`, { ...target, mapper }),
    ).toEqual(["ok e=e", "err ENOSYS"]);
  });

  it("runs the rest of the script in the child after a fork line; ENOSYS or ENOMEM when there is none", () => {
    const parent = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    const child = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    const targetOf = (m: FlatMemory, fork?: () => VmScriptTarget | null): VmScriptTarget => ({
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () =>
        m.regions().map((r) => ({ start: r.start, end: r.end, perms: mapsPerms(r.prot, r.shared) })),
      ...(fork === undefined ? {} : { fork }),
    });
    // A stand-in child: the lines after the fork must reach it, not the parent.
    const script = `${H}mmap a 0 4K rw private\nfork\nmmap b a 4K r private|fixed\nmaps\n`;
    expect(
      runVmScript(
        script,
        targetOf(parent, () => targetOf(child)),
      ),
    ).toEqual(["ok a=a", "ok", "ok b=a", "maps a-a+0x1000 r--p"]);
    expect(parent.regions().map((r) => r.prot)).toEqual([PROT_READ | PROT_WRITE]);
    expect(child.regions().map((r) => r.prot)).toEqual([PROT_READ]);
    expect(runVmScript(`${H}fork\n`, targetOf(parent))).toEqual(["err ENOSYS"]);
    expect(
      runVmScript(
        `${H}fork\n`,
        targetOf(parent, () => null),
      ),
    ).toEqual(["err ENOMEM"]);
  });

  it("prints how /proc/PID/status moved since the script began, for status lines; ENOSYS without it", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    let kb = 100;
    const status = () =>
      `Name:\tx\nVmSize:\t${kb} kB\nVmExe:\t       0 kB\nVmLib:\t       8 kB\nRssAnon:\t4 kB\nRssShmem:\t0 kB\nVmData:\t${kb - 50} kB\n`;
    const target: VmScriptTarget = {
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () => [],
      status,
    };
    const script = `${H}status\nmmap a 0 4K rw private\nstatus\n`;
    const out = runVmScript(script, {
      ...target,
      mapper: {
        ...m,
        mmap: (...args: Parameters<FlatMemory["mmap"]>) => {
          kb -= 12;
          return m.mmap(...args);
        },
        munmap: m.munmap.bind(m),
        mprotect: m.mprotect.bind(m),
        madvise: m.madvise.bind(m),
      },
    });
    expect(out).toEqual([
      "status VmSize=+0 VmData=+0 VmExe=+0 VmLib=+0 RssAnon=+0 RssShmem=+0",
      "ok a=a",
      "status VmSize=-12 VmData=-12 VmExe=+0 VmLib=+0 RssAnon=+0 RssShmem=+0",
    ]);
    const { status: _, ...none } = target;
    expect(runVmScript(`${H}status\n`, none)).toEqual(["err ENOSYS"]);
  });

  it("calls the target's reclaim for reclaim lines; ENOSYS without one", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    let calls = 0;
    const target: VmScriptTarget = {
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () => [],
      reclaim: () => {
        calls++;
      },
    };
    expect(runVmScript(`${H}reclaim\nreclaim\n`, target)).toEqual(["ok", "ok"]);
    expect(calls).toBe(2);
    const { reclaim: _, ...none } = target;
    expect(runVmScript(`${H}reclaim\n`, none)).toEqual(["err ENOSYS"]);
  });

  it("asks the target for LazyFree at each lazyfree line; ENOSYS without one", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    let kb = 0;
    const target: VmScriptTarget = {
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () => [],
      lazyFree: () => {
        kb += 4;
        return kb;
      },
    };
    const script = `${H}lazyfree\nwrite 0x1000 1\nlazyfree\n`;
    expect(runVmScript(script, target)).toEqual(["lazyfree 4", "ok", "lazyfree 8"]);
    const { lazyFree: _, ...none } = target;
    expect(runVmScript(`${H}lazyfree\n`, none)).toEqual(["err ENOSYS"]);
  });

  it("prints how VmSwap moved since the script began for vmswap lines; ENOSYS without status", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    let swapped = 12;
    const target: VmScriptTarget = {
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () => [],
      status: () => `Name:\tx\nVmSwap:\t${swapped} kB\n`,
    };
    const out = runVmScript(`${H}vmswap\nmmap a 0 4K rw private\nvmswap\nvmswap\n`, {
      ...target,
      mapper: {
        ...m,
        mmap: (...args: Parameters<FlatMemory["mmap"]>) => {
          swapped += 8;
          return m.mmap(...args);
        },
        munmap: m.munmap.bind(m),
        mprotect: m.mprotect.bind(m),
        madvise: m.madvise.bind(m),
      },
    });
    expect(out).toEqual(["vmswap +0", "ok a=a", "vmswap +8", "vmswap +8"]);
    swapped = 4;
    expect(runVmScript(`${H}vmswap\n`, target)).toEqual(["vmswap +0"]);
    const { status: _, ...none } = target;
    expect(runVmScript(`${H}vmswap\n`, none)).toEqual(["err ENOSYS"]);
  });

  it("prints a digit per page for mincore lines, the target's errno, and ENOSYS without mincore", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    const calls: [number, number, number][] = [];
    const target: VmScriptTarget = {
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () => [],
      mincore: (addr, length, vec) => {
        calls.push([addr, length, vec.length]);
        if (addr % 4096 !== 0) return -22;
        // Bit 0 only: the other bits of each byte are reserved.
        vec.forEach((_, i) => {
          vec[i] = i % 2 === 0 ? 0xff : 0xfe;
        });
        return 0;
      },
    };
    const out = runVmScript(
      `${H}mmap a 0 16K rw private\nmincore a 10000\nmincore a 0\nmincore a+1 4096\n`,
      target,
    );
    expect(out).toEqual(["ok a=a", "ok 101", "ok", "err EINVAL"]);
    const a = calls[0]![0];
    expect(calls).toEqual([
      [a, 10000, 3],
      [a, 0, 0],
      [a + 1, 4096, 1],
    ]);
    const { mincore: _, ...none } = target;
    expect(runVmScript(`${H}mincore 0 4096\n`, none)).toEqual(["err ENOSYS"]);
  });

  it("prints how VmPTE moved since the first pte line of each process, for pte lines; ENOSYS without status", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    const tables = { parent: 44, child: 20 };
    const targetOf = (who: "parent" | "child", fork?: () => VmScriptTarget): VmScriptTarget => ({
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () => [],
      status: () => `Name:\tx\nVmPTE:\t${tables[who]} kB\nVmSwap:\t0 kB\n`,
      ...(fork === undefined ? {} : { fork }),
    });
    const target = targetOf("parent", () => targetOf("child"));
    const bump = (who: "parent" | "child", kb: number) => (): number => {
      tables[who] += kb;
      return 0;
    };
    // munmap stands in for the calls that change the tables: the parent's first (+8 kB), then the child's (-4 kB).
    let calls = 0;
    const mapper = {
      ...m,
      mmap: m.mmap.bind(m),
      mprotect: m.mprotect.bind(m),
      madvise: m.madvise.bind(m),
      munmap: () => (calls++ === 0 ? bump("parent", 8) : bump("child", -4))(),
    };
    const script = `${H}pte\nmunmap 0x10000 4K\npte\nfork\npte\nmunmap 0x10000 4K\npte\n`;
    const out = runVmScript(script, { ...target, mapper, fork: () => ({ ...targetOf("child"), mapper }) });
    expect(out).toEqual(["pte +0", "ok", "pte +8", "ok", "pte +0", "ok", "pte -4"]);
    const { status: _, ...none } = targetOf("parent");
    expect(runVmScript(`${H}pte\n`, none)).toEqual(["err ENOSYS"]);
  });

  it("prints the other columns of /proc/PID/maps for procmaps lines, the inode left out", () => {
    const m = new FlatMemory({ sizeBytes: 1 << 20, maxBytes: 16 << 20 });
    const target: VmScriptTarget = {
      mapper: m,
      programBreak: m,
      memory: m,
      maps: () => [],
      procMaps: () =>
        m
          .regions()
          .map(
            (r) =>
              `${r.start.toString(16)}-${r.end.toString(16)} ${mapsPerms(r.prot, r.shared)} 00000000 00:${r.shared ? "01 7" : "00 0"}${r.shared ? "          /dev/zero (deleted)" : ""}`,
          )
          .join("\n"),
    };
    const out = runVmScript(`${H}procmaps\nmmap a 0 4K rw shared\nmmap b 0 4K r private\nprocmaps\n`, target);
    expect(out).toEqual([
      "procmaps none",
      "ok a=a",
      "ok b=a-0x1000",
      "procmaps a-0x1000-a r--p 00000000 00:00 ; a-a+0x1000 rw-s 00000000 00:01 /dev/zero (deleted)",
    ]);
    const { procMaps: _, ...none } = target;
    expect(runVmScript(`${H}procmaps\n`, none)).toEqual(["err ENOSYS"]);
  });
});

import { describe, expect, it } from "vitest";
import { FlatMemory, mapsPerms, parseVmScript, runVmScript, VmScriptError } from "../src/index.js";

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
      [`${H}madvise a 4K free\n`, "error 2: bad advice"],
      [`${H}write a 256\n`, "error 2: byte above 255"],
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
});

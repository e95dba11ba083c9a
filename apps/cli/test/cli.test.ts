import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type CliIo, EXIT_USAGE, main } from "../src/index.js";

function capture(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    stdout: () => out,
    stderr: () => err,
  };
}

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

describe("memstack CLI", () => {
  it("prints its version and help, exiting 0", async () => {
    const io = capture();
    expect(await main(["--version"], io)).toBe(0);
    expect(io.stdout()).toBe(`${version}\n`);
    const help = capture();
    expect(await main(["--help"], help)).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: memstack \[options\] \[command\]/);
    expect(help.stdout()).toContain("demo");
  });

  it("answers an unknown command or option with one error line and the usage, exit 2", async () => {
    for (const argv of [["bogus"], ["--frob"], ["demo", "--frob"], ["demo", "extra"]]) {
      const io = capture();
      expect(await main(argv, io), argv.join(" ")).toBe(EXIT_USAGE);
      expect(io.stdout()).toBe("");
      const lines = io.stderr().trimEnd().split("\n");
      expect(lines[0]).toMatch(/^memstack: (unknown command|unknown option|too many arguments)/);
      expect(lines[1]).toMatch(/^Usage: memstack/);
    }
  });

  it("prints a command's help for `help COMMAND`, exiting 0 with nothing on stderr", async () => {
    for (const [argv, usage] of [
      [["help"], "Usage: memstack [options] [command]"],
      [["help", "malloc"], "Usage: memstack malloc [options] [command]"],
      [["help", "vm"], "Usage: memstack vm [options] [command]"],
      [["help", "lackey"], "Usage: memstack lackey [options] <trace>"],
      [["malloc", "help", "replay"], "Usage: memstack malloc replay [options] <file>"],
    ] as const) {
      const io = capture();
      expect(await main(argv, io), argv.join(" ")).toBe(0);
      expect(io.stdout().startsWith(usage), argv.join(" ")).toBe(true);
      expect(io.stderr(), argv.join(" ")).toBe("");
    }
  });

  it("shows a group's help on stderr and exits 2 when its subcommand is missing or unknown", async () => {
    for (const argv of [["malloc"], ["vm"], ["help", "bogus"]]) {
      const io = capture();
      expect(await main(argv, io), argv.join(" ")).toBe(EXIT_USAGE);
      expect(io.stdout(), argv.join(" ")).toBe("");
      expect(io.stderr(), argv.join(" ")).toMatch(/^Usage: memstack/);
      expect(io.stderr(), argv.join(" ")).not.toContain("outputHelp");
    }
  });

  it("answers a file it cannot read with one line naming it, exit 1", async () => {
    for (const argv of [
      ["vm", "run", "/nonexistent/x.vm"],
      ["malloc", "replay", "/nonexistent/x.trace"],
      ["malloc", "calls", "/nonexistent/x.calls"],
      ["lackey", "/nonexistent/x.lackey"],
    ]) {
      const io = capture();
      expect(await main(argv, io), argv.join(" ")).toBe(1);
      expect(io.stdout(), argv.join(" ")).toBe("");
      expect(io.stderr(), argv.join(" ")).toMatch(
        /^memstack: cannot read \/nonexistent\/x\.\w+: ENOENT[^\n]*\n$/,
      );
    }
  });

  it("shows the help on stderr and exits 2 when given no command", async () => {
    const io = capture();
    expect(await main([], io)).toBe(EXIT_USAGE);
    expect(io.stderr()).toMatch(/^Usage: memstack/);
  });

  it("runs the demo: brk, mmap errors, a fault, then malloc and fork on a simulated machine, all on stdout", async () => {
    const io = capture();
    expect(await main(["demo"], io)).toBe(0);
    const out = io.stdout();
    expect(io.stderr()).toBe("");
    expect(out).toMatch(/brk\(0\)\s+0x10000/);
    expect(out).toMatch(/mmap\(NULL, 10000, rw-, MAP_PRIVATE\)\s+0x3ffd000/);
    expect(out).toMatch(/MAP_FIXED_NOREPLACE\)\s+-EEXIST/);
    expect(out).toMatch(/mmap\(NULL, 0, rw-, MAP_PRIVATE\)\s+-EINVAL/);
    expect(out).toMatch(/0x3ffe000-0x3fff000\s+r--p/);
    expect(out).toMatch(/0x10000-0x15000\s+rw-p\s+20K\s+\[heap\]/);
    expect(out).toMatch(/loadU8\(0x4000000\)\s+Fault\s+read of 0x4000000: not-mapped/);
    expect(out).toContain("All invariants hold (FlatMemory.check()).");
    // Act two: glibc's malloc in a process of a simulated machine.
    expect(out).toMatch(/malloc\(100\)\s+brk0\+0x2a0/);
    expect(out).toMatch(/free\(first\); malloc\(100\)\s+brk0\+0x2a0/);
    expect(out).toMatch(/malloc\(200K\)\s+mmap/);
    expect(out).toMatch(
      /fork\(\); child writes the chunk\s+1 copy\s+copy-on-write: parent still reads 0x11111111/,
    );
    expect(out).toMatch(
      /child: free\(chunk\); malloc\(100\)\s+brk0\+0x310\s+its own heap now; the parent's chunk stays in-use/,
    );
    expect(out).toMatch(/^ {2}555555559000-[0-9a-f]+ rw-p 00000000 00:00 0 +\[heap\]$/m);
    expect(out).toContain("All invariants hold (RAM, buddy allocator, page tables and TLB, kernel).");
  });

  it("runs as a command through the root script, as the README says", async () => {
    const run = promisify(execFile);
    const root = new URL("../../../", import.meta.url).pathname;
    const { stdout } = await run("pnpm", ["--silent", "memstack", "--version"], { cwd: root });
    expect(stdout).toBe(`${version}\n`);
    const failed = await run("pnpm", ["--silent", "memstack", "nope"], { cwd: root }).catch((e) => e);
    expect(failed.code).toBe(EXIT_USAGE);
    expect(failed.stderr).toMatch(/^memstack: unknown command 'nope'/);
  });
});

describe("memstack lackey", () => {
  it("replays a trace and compares page sizes, with usage errors on bad options", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { gzipSync } = await import("node:zlib");
    const dir = mkdtempSync(`${(await import("node:os")).tmpdir()}/lackey-`);
    // Two pages 4 KiB apart, touched twice each: 2 misses and 2 hits at 4 KiB, 1 miss at 2 MiB.
    const lines = "==7== Lackey\nI  00400000,4\n L 00401000,8\n S 00400010,4\n M 00401008,4\n";
    writeFileSync(`${dir}/t.lackey.gz`, gzipSync(lines));
    const small = capture();
    expect(await main(["lackey", `${dir}/t.lackey.gz`, "--instructions"], small)).toBe(0);
    expect(small.stdout()).toMatch(/accesses\s+4 \(I 1, L 1, S 1, M 1\), 2 pages touched/);
    expect(small.stdout()).toMatch(/L1 dTLB\s+[\d.]+% hits \(3 hits, 4 misses, 0 evictions\)/);
    const huge = capture();
    expect(await main(["lackey", `${dir}/t.lackey.gz`, "--instructions", "--page-size", "2M"], huge)).toBe(0);
    expect(huge.stdout()).toMatch(/2M pages/);
    expect(huge.stdout()).toMatch(/1 pages touched/);
    expect(huge.stdout()).toMatch(/L1 dTLB\s+[\d.]+% hits \(4 hits, 2 misses, 0 evictions\)/);
    const bad = capture();
    expect(await main(["lackey", `${dir}/t.lackey.gz`, "--page-size", "8K"], bad)).toBe(EXIT_USAGE);
    expect(bad.stderr()).toMatch(/^memstack: replayLackey: x86-64 4-level has no 8192-byte pages/);
    const missing = capture();
    expect(await main(["lackey", `${dir}/none.lackey`], missing)).toBe(1);
    expect(missing.stderr()).toMatch(/^memstack: cannot read .*none\.lackey: ENOENT/);
    // A file with no access line (not a lackey trace, or valgrind's messages alone): an error, no report.
    writeFileSync(`${dir}/not.lackey`, "root:x:0:0:root:/root:/bin/bash\n==7== Lackey\n");
    const empty = capture();
    expect(await main(["lackey", `${dir}/not.lackey`], empty)).toBe(1);
    expect(empty.stdout()).toBe("");
    expect(empty.stderr()).toMatch(/^memstack: .*not\.lackey has no lackey access lines .* --trace-mem=yes/);
  });
});

describe("memstack malloc replay", () => {
  // ../shared/traces, as copied into libc's fixtures.
  const traces = new URL("../../../packages/libc/test/fixtures/traces/shared/", import.meta.url).pathname;

  it("prints glibc's placements for a real trace on stdout, and a summary on stderr", async () => {
    const io = capture();
    expect(await main(["malloc", "replay", `${traces}sort.trace`], io)).toBe(0);
    expect(io.stdout()).toBe(readFileSync(`${traces}sort.expected`, "utf8"));
    expect(io.stderr()).toMatch(
      /^malloc replay: 295 calls in [\d.]+ ms .*peak heap 132K, brk calls 1, mmaps 1 /,
    );
  });

  it("reads a gzipped trace and draws a progress bar with --progress", async () => {
    const io = capture();
    expect(await main(["malloc", "replay", "--progress", `${traces}awk.trace.gz`], io)).toBe(0);
    expect(io.stdout()).toBe(gunzipSync(readFileSync(`${traces}awk.expected.gz`)).toString("utf8"));
    expect(io.stderr()).toContain("] 100% 442038/442038 calls");
  });

  it("runs the same trace in a process of a simulated machine, with the same placements", async () => {
    const io = capture();
    expect(
      await main(["malloc", "replay", "--backend", "process", "--memory", "64M", `${traces}sort.trace`], io),
    ).toBe(0);
    expect(io.stdout()).toBe(readFileSync(`${traces}sort.expected`, "utf8"));
    const bad = capture();
    expect(await main(["malloc", "replay", "--backend", "mmu", `${traces}sort.trace`], bad)).toBe(EXIT_USAGE);
    expect(bad.stderr()).toMatch(/unknown backend 'mmu'/);
    const small = capture();
    expect(
      await main(
        ["malloc", "replay", "--backend", "process", "--memory", "1M", `${traces}sort.trace`],
        small,
      ),
    ).toBe(EXIT_USAGE);
  });

  it("answers a malformed line with error LINE: REASON and exit 2, running nothing", async () => {
    const io = capture();
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const file = `${mkdtempSync(`${tmpdir()}/memstack-`)}/malformed.trace`;
    writeFileSync(file, "# memstack malloc trace v1\nm 1 10\n\nm 2 12Q\n");
    expect(await main(["malloc", "replay", file], io)).toBe(EXIT_USAGE);
    expect(io.stdout()).toBe("");
    expect(io.stderr()).toBe("error 4: bad number\n");
  });
});

describe("memstack malloc calls", () => {
  const libcFixtures = new URL("../../../packages/libc/test/fixtures/", import.meta.url).pathname;
  // One list of a recorded family (fixtures' lists.txt.gz and expected.txt.gz, "# seed N" sections).
  const seed = (file: string, n: number): string => {
    const text = gunzipSync(readFileSync(`${libcFixtures}${file}`)).toString("utf8");
    const part = text.split("# seed ").find((p) => p.startsWith(`${n}\n`))!;
    return part.slice(part.indexOf("\n") + 1);
  };
  const tmp = async (name: string, text: string): Promise<string> => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const file = `${mkdtempSync(`${tmpdir()}/memstack-`)}/${name}`;
    writeFileSync(file, text);
    return file;
  };

  it("prints what the real glibc printed for a list with forks, in a process", async () => {
    const file = await tmp("fork.calls", seed("fork/lists.txt.gz", 1003));
    expect(seed("fork/lists.txt.gz", 1003)).toMatch(/^F$/m);
    const io = capture();
    expect(await main(["malloc", "calls", "--backend", "process", file], io)).toBe(0);
    expect(io.stdout()).toBe(seed("fork/expected.txt.gz", 1003));
    expect(io.stderr()).toBe("");
    // On FlatMemory a fork cannot be had: said before anything runs.
    const flat = capture();
    expect(await main(["malloc", "calls", file], flat)).toBe(EXIT_USAGE);
    expect(flat.stdout()).toBe("");
    expect(flat.stderr()).toMatch(/^error \d+: 'F' forks: run the list with --backend process\n$/);
  });

  it("ends a corrupted heap as glibc's process ends: its message on stderr, exit 134; a fault, 139", async () => {
    const file = await tmp("prev.calls", "m 1 24\nw 1 -8 0x1231\nf 1\n");
    for (const backend of ["flat", "process"]) {
      const io = capture();
      expect(await main(["malloc", "calls", "--backend", backend, file], io)).toBe(134);
      expect(io.stdout()).toBe("0x2a0\n");
      expect(io.stderr()).toBe("double free or corruption (!prev)\n");
    }
    // A size field of 0x1234 (IS_MMAPPED clear, PREV_INUSE clear): glibc reads prev_size
    // below the heap and faults, as the real process does.
    const segv = await tmp("segv.calls", "m 1 24\nw 1 -8 0x1234\nf 1\n");
    const io = capture();
    expect(await main(["malloc", "calls", "--backend", "process", segv], io)).toBe(139);
    expect(io.stderr()).toMatch(/^Segmentation fault \(read of 0x[0-9a-f]+: not-mapped\)\n$/);
  });

  it("answers a malformed line with error LINE: REASON and exit 2, running nothing", async () => {
    const file = await tmp("bad.calls", "m 1 24\ni\nz 9\n");
    const io = capture();
    expect(await main(["malloc", "calls", file], io)).toBe(EXIT_USAGE);
    expect(io.stdout()).toBe("");
    expect(io.stderr()).toBe("error 3: unknown call 'z'\n");
  });
});

describe("memstack vm run", () => {
  const fixtures = new URL("../../../packages/kernel/test/fixtures/vm/", import.meta.url).pathname;

  it("prints what the real kernel printed for a recorded script, line for line", async () => {
    for (const name of [
      "mmap-thp",
      "account-merge",
      "brk",
      "mremap-multi",
      "fork-cow",
      "status-shmem",
      "madvise-free",
    ]) {
      const io = capture();
      expect(await main(["vm", "run", `${fixtures}${name}.vm`], io)).toBe(0);
      expect(io.stdout()).toBe(readFileSync(`${fixtures}${name}.expected`, "utf8"));
      expect(io.stderr()).toBe("");
    }
  });

  it("reads a gzipped script as the plain one", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { gzipSync } = await import("node:zlib");
    const dir = mkdtempSync(`${(await import("node:os")).tmpdir()}/vm-gz-`);
    writeFileSync(`${dir}/s.vm.gz`, gzipSync(readFileSync(`${fixtures}random-mixed-1.vm`)));
    const io = capture();
    expect(await main(["vm", "run", `${dir}/s.vm.gz`], io)).toBe(0);
    expect(io.stdout()).toBe(readFileSync(`${fixtures}random-mixed-1.expected`, "utf8"));
  });

  it("shows /proc/PID/maps and status on stderr with --proc", async () => {
    const io = capture();
    expect(await main(["vm", "run", "--proc", "--ram", "64M", `${fixtures}mmap-basic.vm`], io)).toBe(0);
    expect(io.stderr()).toMatch(/^7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 {26}\[stack\]$/m);
    expect(io.stderr()).toMatch(/^VmRSS:\t +\d+ kB$/m);
  });

  it("shows /proc/meminfo on stderr with --meminfo: here a page read back stays in the swap cache", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const file = `${mkdtempSync(`${tmpdir()}/memstack-`)}/swap.vm`;
    writeFileSync(
      file,
      "# memstack vm script v1\nmmap a 0 0x4000 rw private\nwrite a 1\nwrite a+0x1000 2\nmadvise a 0x4000 pageout\nread a\n",
    );
    const io = capture();
    expect(await main(["vm", "run", "--meminfo", "--ram", "64M", "--swap", "1M", file], io)).toBe(0);
    expect(io.stdout()).toBe("ok a=a\nok\nok\nok\nok 1\n");
    expect(io.stderr()).toMatch(/^MemTotal:\s+65536 kB$/m);
    expect(io.stderr()).toMatch(/^SwapTotal:\s+1024 kB$/m);
    // Two pages went out and wait in the swap cache, as Linux's do while a
    // disk writes them; the one read back is mapped from there, its slot kept.
    expect(io.stderr()).toMatch(/^SwapFree:\s+1016 kB$/m);
    expect(io.stderr()).toMatch(/^SwapCached:\s+8 kB$/m);
  });

  it("runs a script recorded with swap on, given swap and vm.page-cluster 0, and refuses a bad --page-cluster", async () => {
    for (const name of ["swap-pageout", "swap-random-1"]) {
      const io = capture();
      const args = [
        "vm",
        "run",
        "--ram",
        "64M",
        "--swap",
        "64M",
        "--page-cluster",
        "0",
        `${fixtures}${name}.vm`,
      ];
      expect(await main(args, io)).toBe(0);
      expect(io.stdout()).toBe(readFileSync(`${fixtures}${name}.expected`, "utf8"));
    }
    const io = capture();
    expect(await main(["vm", "run", "--page-cluster", "32", `${fixtures}swap-pageout.vm`], io)).toBe(2);
    expect(io.stderr()).toMatch(/--page-cluster must be an integer from 0 to 31, got '32'/);
  });

  it("models a CPU without protection keys with --no-execute-only and a kernel with no zero page with --no-zero-page", async () => {
    for (const [args, name] of [
      [[], "exec-only"],
      [["--no-execute-only"], "exec-only.nopku"],
      [["--no-zero-page"], "zero-page.nozero"],
    ] as const) {
      const io = capture();
      expect(await main(["vm", "run", ...args, `${fixtures}${name}.vm`], io)).toBe(0);
      expect(io.stdout()).toBe(readFileSync(`${fixtures}${name}.expected`, "utf8"));
    }
    // Without the flag, the zero page: the reads take no page, and the output differs.
    const io = capture();
    expect(await main(["vm", "run", `${fixtures}zero-page.nozero.vm`], io)).toBe(0);
    expect(io.stdout()).not.toBe(readFileSync(`${fixtures}zero-page.nozero.expected`, "utf8"));
  });

  it("shows the child's /proc after a fork line", async () => {
    const io = capture();
    expect(await main(["vm", "run", "--proc", "--ram", "64M", `${fixtures}fork-cow.vm`], io)).toBe(0);
    expect(io.stdout()).toBe(readFileSync(`${fixtures}fork-cow.expected`, "utf8"));
    // The script's last process is the child: PPid names its parent.
    expect(io.stderr()).toMatch(/^PPid:\t[1-9]\d*$/m);
  });

  it("refuses a malformed script with error LINE: REASON and exit 2, running nothing", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const file = `${mkdtempSync(`${tmpdir()}/memstack-`)}/bad.vm`;
    writeFileSync(file, "# memstack vm script v1\nmmap a 0 4K rw private\nmmap b 0 4K rq private\n");
    const io = capture();
    expect(await main(["vm", "run", file], io)).toBe(EXIT_USAGE);
    expect(io.stdout()).toBe("");
    expect(io.stderr()).toBe("error 3: bad prot\n");
    const bad = capture();
    expect(await main(["vm", "run", "--overcommit", "3", file], bad)).toBe(EXIT_USAGE);
    expect(bad.stderr()).toMatch(/--overcommit must be 0, 1 or 2/);
    const thp = capture();
    expect(await main(["vm", "run", "--thp", "sometimes", file], thp)).toBe(EXIT_USAGE);
    expect(thp.stderr()).toMatch(/--thp must be always, madvise or never, got 'sometimes'/);
  });

  it("maps transparent huge pages as this machine's Linux does, or as --thp says", async () => {
    // thp-fault.vm was recorded on a kernel in madvise mode; with never, no 2 MiB page.
    const io = capture();
    expect(await main(["vm", "run", "--ram", "64M", `${fixtures}thp-fault.vm`], io)).toBe(0);
    expect(io.stdout()).toBe(readFileSync(`${fixtures}thp-fault.expected`, "utf8"));
    const never = capture();
    expect(
      await main(["vm", "run", "--ram", "64M", "--thp", "never", `${fixtures}thp-fault.vm`], never),
    ).toBe(0);
    expect(never.stdout()).toMatch(/RssAnon=\+4 /);
    expect(never.stdout()).not.toMatch(/RssAnon=\+2048 /);
  });
});

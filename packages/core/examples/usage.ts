import {
  EINVAL,
  Fault,
  FlatMemory,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  parseSize,
  physAddr,
  SparseRam,
  sbrk,
  virtAddr,
} from "@memstack/core";

// An address space over one growable ArrayBuffer: address N is byte N.
const memory = new FlatMemory({ sizeBytes: parseSize("1M"), maxBytes: parseSize("64M") });
const heap = sbrk(memory, 0x4000); // the old break: 0x10000
memory.storeU32(virtAddr(heap), 0xdeadbeef);
console.log(memory.loadU16(virtAddr(heap + 1)).toString(16)); // "adbe": little-endian, unaligned

const block = memory.mmap(0, 10000, PROT_READ | PROT_WRITE, MAP_PRIVATE); // top-down: 0x3ffd000
console.log(memory.mmap(0, 0, PROT_READ, MAP_PRIVATE) === -EINVAL); // true: Linux's answer
console.log(memory.munmap(block, 10000)); // 0

try {
  memory.loadU8(virtAddr(memory.limit));
} catch (e) {
  if (e instanceof Fault) console.log(e.reason); // "not-mapped"
}

// A terabyte of RAM that costs host memory only where it is written.
const ram = new SparseRam({ sizeBytes: parseSize("1T") });
ram.writeU64(physAddr(0x7f_0000_0000), 2 ** 48);
console.log(ram.readU64(physAddr(0x7f_0000_0000)), ram.backedFrameCount); // 281474976710656 1

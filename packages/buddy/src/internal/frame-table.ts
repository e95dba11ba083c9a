/**
 * Frame metadata of the buddy allocator: 3.5 bytes per frame, kept per
 * *pair* of frames.
 *
 * Models: the fields of Linux's `struct page` the page allocator uses —
 * PageBuddy and the buddy order (page_private), the free-list links
 * (page->buddy_list), the reference count, the compound flag, and which
 * migrate type the allocation asked for — packed into typed arrays instead
 * of a 64-byte struct per frame.
 *
 * Why pairs. Free lists are doubly linked, and a free block needs two links.
 * Blocks of order ≥ 1 span a whole pair of frames (2j, 2j+1), so their links
 * fit in the pair's two slots. An order-0 free frame has only itself, but
 * its buddy (the other frame of the pair) is never free at order 0 — they
 * would have merged — so the pair still has exactly one free block, and its
 * two slots hold that block's links. Each pair therefore stores:
 *
 *     st[j]          u8   kind (3 bits) | payload (5 bits)
 *     A[j] = aLo|aHi u24  (u32 on machines above 2^25 frames)
 *     B[j] = bLo|bHi u24
 *
 *     kind        meaning                                 payload     A            B
 *     TAIL        inside a block that starts earlier      -           -            -
 *     FREE        free block of order k ≥ 1 starts at 2j  k           next link    prev link
 *     ALLOC       allocated block of order k ≥ 1 at 2j    k           info(2j)     -
 *     PAIR        two order-0 frames, neither free        -           info(2j)     info(2j+1)
 *     FREE_LO     2j free at order 0, 2j+1 not free       info'(2j+1) next link    prev link
 *     FREE_HI     2j+1 free at order 0, 2j not free       info'(2j)   next link    prev link
 *
 * A link is a pair index + 1 (0 = none): a list node is a pair. The info of
 * an allocated or reserved frame is `refcount·8 + compound·4 + type`, type
 * being the allocation's migrate type (0..2) or 3 for a frame the allocator
 * does not manage (a hole, a reserved range, or outside every zone). A page
 * resting on a per-CPU list has refcount 0 and its list's type (info 0..2),
 * as Linux's pcp pages have a zero refcount and no PageBuddy. In a
 * FREE_LO/FREE_HI pair the non-free frame's info must fit the 5-bit payload:
 * `type·8 + min(refcount, 7)`, with refcounts ≥ 8 kept in a small overflow
 * map (a page with 8 references whose buddy happens to be free is rare).
 *
 * A 64 GiB machine (2^24 frames, 2^23 pairs) takes 7 bytes per pair:
 * 56 MiB. Zero-filled arrays mean "every pair is TAIL", so a fresh table
 * costs nothing until the boot code frees the managed ranges into it.
 *
 * Invariants (checked by the allocator's `check()`): every frame is covered
 * by exactly one block or is an unmanaged order-0 frame; FREE and ALLOC
 * heads are naturally aligned; the links of each list are mutually
 * consistent; overflow entries exist exactly for FREE_LO/HI payloads with
 * refcount code 0 and a managed type.
 */

/** Inside a block that starts at an earlier pair. */
export const K_TAIL = 0;
/** A free block of order ≥ 1 starts here; payload = order. */
export const K_FREE = 1;
/** An allocated block of order ≥ 1 starts here; payload = order, A = info. */
export const K_ALLOC = 2;
/** Two order-0 frames, neither free: A = info(low), B = info(high). */
export const K_PAIR = 3;
/** The low frame is free at order 0; payload = packed info of the high frame. */
export const K_FREE_LO = 4;
/** The high frame is free at order 0; payload = packed info of the low frame. */
export const K_FREE_HI = 5;

/** Info type of a frame the allocator does not manage. */
export const TYPE_RESERVED = 3;
/** Info word of an unmanaged frame. */
export const INFO_RESERVED = TYPE_RESERVED;

/** The typed arrays behind the frame metadata. */
export class FrameTable {
  readonly pairCount: number;
  /** Per pair: kind << 5 | payload. */
  readonly st: Uint8Array;
  readonly aLo: Uint16Array;
  readonly aHi: Uint8Array | Uint16Array;
  readonly bLo: Uint16Array;
  readonly bHi: Uint8Array | Uint16Array;
  /** Largest value a slot holds. */
  readonly slotMax: number;
  /** Refcounts ≥ 8 of the non-free frame of a FREE_LO/FREE_HI pair, by pfn. */
  readonly overflow = new Map<number, number>();

  /** @param wide 32-bit slots even for a small machine (tests of the large-machine layout). */
  constructor(frameCount: number, wide = false) {
    this.pairCount = Math.ceil(frameCount / 2);
    this.st = new Uint8Array(this.pairCount);
    this.aLo = new Uint16Array(this.pairCount);
    this.bLo = new Uint16Array(this.pairCount);
    // 24-bit slots hold pair links up to 2^24 - 1 and refcounts up to 2^21.
    wide ||= this.pairCount + 1 >= 2 ** 24;
    this.aHi = wide ? new Uint16Array(this.pairCount) : new Uint8Array(this.pairCount);
    this.bHi = wide ? new Uint16Array(this.pairCount) : new Uint8Array(this.pairCount);
    this.slotMax = wide ? 2 ** 32 - 1 : 2 ** 24 - 1;
  }

  /** Bytes of typed arrays held. */
  get byteLength(): number {
    return (
      this.st.byteLength +
      this.aLo.byteLength +
      this.aHi.byteLength +
      this.bLo.byteLength +
      this.bHi.byteLength
    );
  }
}

/**
 * Packs the info of the non-free frame of a FREE_LO/HI pair into 5 bits:
 * `type·8 + refcount` for refcounts 1..7, `type·8 + 0` for refcounts ≥ 8
 * (kept in the overflow map); refcount 0 (a page held on a per-CPU list,
 * info = its list's migrate type) as `3·8 + type + 1`, and an unmanaged
 * frame as `3·8 + 0`.
 */
export function packPayload(info: number): number {
  const type = info & 3;
  if (info < 8) return (TYPE_RESERVED << 3) | (type === TYPE_RESERVED ? 0 : type + 1);
  const rc = Math.floor(info / 8);
  return (type << 3) | (rc >= 8 ? 0 : rc);
}

/** Whether a packed payload defers its refcount to the overflow map. */
export function payloadUsesOverflow(payload: number): boolean {
  return payload >>> 3 !== TYPE_RESERVED && (payload & 7) === 0;
}

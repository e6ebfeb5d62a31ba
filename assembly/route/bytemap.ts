// An open-addressing hash map from (tag, bytes) to an i32: the route table's indexes (exact paths
// with tag 0; prefix-trie children with the parent node as tag). Keys point into memory the table
// owns for its whole life, so the map stores only their address and length. Slots live in one
// block of unmanaged memory (16 bytes each: tag, key address, key length or -1 when empty, value),
// so a lookup is plain loads, with no managed references to track on the way.
import { hashBytes, HASH_SEED, bytesEqual } from '../hpack/hash';

const SLOT: usize = 16;

export class ByteMap {
  private slots: usize = 0;
  private mask: i32 = 0;
  private size: i32 = 0;

  constructor(capacity: i32 = 16) {
    let cap = 16;
    while (cap < capacity * 2) cap <<= 1;
    this.alloc(cap);
  }

  private alloc(cap: i32): void {
    this.mask = cap - 1;
    this.slots = heap.alloc(<usize>cap * SLOT);
    for (let i = 0; i < cap; i++) store<i32>(this.slots + <usize>i * SLOT, -1, 8);
  }

  @inline private static hash(tag: u32, p: usize, n: i32): u32 {
    let h = (HASH_SEED ^ tag) * 16777619;
    h = hashBytes(h, p, n);
    return h ^ (h >> 15);
  }

  /** The value for the key, or -1. */
  get(tag: u32, p: usize, n: i32): i32 {
    const slots = this.slots;
    const mask = this.mask;
    let i = <i32>ByteMap.hash(tag, p, n) & mask;
    for (;;) {
      const s = slots + <usize>i * SLOT;
      const len = load<i32>(s, 8);
      if (len < 0) return -1;
      if (len == n && load<u32>(s) == tag && bytesEqual(load<usize>(s, 4), p, n)) return load<i32>(s, 12);
      i = (i + 1) & mask;
    }
    return -1; // not reached: the table is never full
  }

  /** Sets the value for the key (the key's bytes must outlive the map). */
  set(tag: u32, p: usize, n: i32, value: i32): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    let i = <i32>ByteMap.hash(tag, p, n) & this.mask;
    for (;;) {
      const s = this.slots + <usize>i * SLOT;
      const len = load<i32>(s, 8);
      if (len < 0) break;
      if (len == n && load<u32>(s) == tag && bytesEqual(load<usize>(s, 4), p, n)) {
        store<i32>(s, value, 12);
        return;
      }
      i = (i + 1) & this.mask;
    }
    const s = this.slots + <usize>i * SLOT;
    store<u32>(s, tag);
    store<usize>(s, p, 4);
    store<i32>(s, n, 8);
    store<i32>(s, value, 12);
    this.size++;
  }

  private grow(): void {
    const old = this.slots;
    const oldCap = this.mask + 1;
    this.alloc(oldCap << 1);
    this.size = 0;
    for (let i = 0; i < oldCap; i++) {
      const s = old + <usize>i * SLOT;
      if (load<i32>(s, 8) >= 0) this.set(load<u32>(s), load<usize>(s, 4), load<i32>(s, 8), load<i32>(s, 12));
    }
    heap.free(old);
  }

  /** Gives the slots back (the map is unusable after). */
  dispose(): void {
    if (this.slots != 0) heap.free(this.slots);
    this.slots = 0;
  }
}

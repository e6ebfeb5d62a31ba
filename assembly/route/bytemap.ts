// An open-addressing hash map from (tag, bytes) to an i32: the route table's indexes (exact paths
// with tag 0; prefix-trie children with the parent node as tag). Keys point into memory the table
// owns for its whole life, so the map stores only their address and length.
import { hashBytes, HASH_SEED, bytesEqual } from '../hpack/hash';

export class ByteMap {
  private tags: StaticArray<u32>;
  private ptrs: StaticArray<usize>;
  private lens: StaticArray<i32>; // -1: empty slot
  private values: StaticArray<i32>;
  private size: i32 = 0;
  private mask: i32;

  constructor(capacity: i32 = 16) {
    let cap = 16;
    while (cap < capacity * 2) cap <<= 1;
    this.mask = cap - 1;
    this.tags = new StaticArray<u32>(cap);
    this.ptrs = new StaticArray<usize>(cap);
    this.lens = new StaticArray<i32>(cap);
    this.values = new StaticArray<i32>(cap);
    for (let i = 0; i < cap; i++) unchecked(this.lens[i] = -1);
  }

  @inline private static hash(tag: u32, p: usize, n: i32): u32 {
    let h = (HASH_SEED ^ tag) * 16777619;
    h = hashBytes(h, p, n);
    return h ^ (h >> 15);
  }

  /** The value for the key, or -1. */
  get(tag: u32, p: usize, n: i32): i32 {
    let i = <i32>ByteMap.hash(tag, p, n) & this.mask;
    for (;;) {
      const len = unchecked(this.lens[i]);
      if (len < 0) return -1;
      if (len == n && unchecked(this.tags[i]) == tag && bytesEqual(unchecked(this.ptrs[i]), p, n)) return unchecked(this.values[i]);
      i = (i + 1) & this.mask;
    }
    return -1; // not reached: the table is never full
  }

  /** Sets the value for the key (the key's bytes must outlive the map). */
  set(tag: u32, p: usize, n: i32, value: i32): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    let i = <i32>ByteMap.hash(tag, p, n) & this.mask;
    for (;;) {
      const len = unchecked(this.lens[i]);
      if (len < 0) break;
      if (len == n && unchecked(this.tags[i]) == tag && bytesEqual(unchecked(this.ptrs[i]), p, n)) {
        unchecked(this.values[i] = value);
        return;
      }
      i = (i + 1) & this.mask;
    }
    unchecked(this.tags[i] = tag);
    unchecked(this.ptrs[i] = p);
    unchecked(this.lens[i] = n);
    unchecked(this.values[i] = value);
    this.size++;
  }

  private grow(): void {
    const tags = this.tags, ptrs = this.ptrs, lens = this.lens, values = this.values;
    const cap = (this.mask + 1) << 1;
    this.mask = cap - 1;
    this.tags = new StaticArray<u32>(cap);
    this.ptrs = new StaticArray<usize>(cap);
    this.lens = new StaticArray<i32>(cap);
    this.values = new StaticArray<i32>(cap);
    for (let i = 0; i < cap; i++) unchecked(this.lens[i] = -1);
    this.size = 0;
    for (let i = 0; i < lens.length; i++) {
      if (unchecked(lens[i]) >= 0) this.set(unchecked(tags[i]), unchecked(ptrs[i]), unchecked(lens[i]), unchecked(values[i]));
    }
  }
}

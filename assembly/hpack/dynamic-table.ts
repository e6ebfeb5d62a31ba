// RFC 7541 §2.3.2 and §4: the dynamic table, a FIFO of (name, value) entries whose size is the sum
// of name + value + 32 per entry, evicting the oldest to stay within the maximum size.
// Entries live in a ring indexed newest-first; each entry's bytes are one heap block (name then value).
export const ENTRY_OVERHEAD: i32 = 32;

export class DynamicTable {
  ptrs: StaticArray<usize>;
  nlen: StaticArray<i32>;
  vlen: StaticArray<i32>;
  // the static index of the entry's name when it has one: lets the host use a cached string
  sname: StaticArray<u8>;
  cap: i32;
  head: i32 = -1; // slot of the newest entry
  count: i32 = 0;
  size: i32 = 0;
  maxSize: i32;
  inserted: u32 = 0; // entries ever added: absolute ids for the encoder's index

  constructor(maxSize: i32) {
    const cap = maxSize / ENTRY_OVERHEAD + 1;
    this.ptrs = new StaticArray<usize>(cap);
    this.nlen = new StaticArray<i32>(cap);
    this.vlen = new StaticArray<i32>(cap);
    this.sname = new StaticArray<u8>(cap);
    this.cap = cap;
    this.maxSize = maxSize;
  }

  @inline slot(rel: i32): i32 {
    let s = this.head - rel;
    if (s < 0) s += this.cap;
    return s;
  }
  @inline namePtr(rel: i32): usize { return unchecked(this.ptrs[this.slot(rel)]); }
  @inline nameLen(rel: i32): i32 { return unchecked(this.nlen[this.slot(rel)]); }
  @inline valuePtr(rel: i32): usize { const s = this.slot(rel); return unchecked(this.ptrs[s]) + <usize>unchecked(this.nlen[s]); }
  @inline valueLen(rel: i32): i32 { return unchecked(this.vlen[this.slot(rel)]); }
  @inline staticName(rel: i32): i32 { return <i32>unchecked(this.sname[this.slot(rel)]); }
  /** Relative index (0 = newest) of an absolute id, or -1 if evicted. */
  @inline relOf(abs: u32): i32 {
    const rel = <i32>(this.inserted - 1 - abs);
    return rel >= 0 && rel < this.count ? rel : -1;
  }

  private evictOldest(): void {
    const s = this.slot(this.count - 1);
    heap.free(unchecked(this.ptrs[s]));
    this.size -= unchecked(this.nlen[s]) + unchecked(this.vlen[s]) + ENTRY_OVERHEAD;
    this.count--;
  }

  /** Adds an entry (§4.4). An entry larger than the table empties it and is not added. */
  add(np: usize, nl: i32, vp: usize, vl: i32, staticName: i32): void {
    const esize = nl + vl + ENTRY_OVERHEAD;
    this.inserted++;
    if (esize > this.maxSize) {
      while (this.count > 0) this.evictOldest();
      return;
    }
    while (this.count > 0 && this.size + esize > this.maxSize) this.evictOldest();
    const total = nl + vl;
    const mem = heap.alloc(total > 0 ? <usize>total : 1);
    memory.copy(mem, np, <usize>nl);
    memory.copy(mem + <usize>nl, vp, <usize>vl);
    let h = this.head + 1;
    if (h == this.cap) h = 0;
    this.head = h;
    unchecked((this.ptrs[h] = mem));
    unchecked((this.nlen[h] = nl));
    unchecked((this.vlen[h] = vl));
    unchecked((this.sname[h] = <u8>staticName));
    this.count++;
    this.size += esize;
  }

  /** A maximum-size change (§4.3, §6.3): evicts as needed; grows the ring if more entries can fit. */
  setMaxSize(n: i32): void {
    this.maxSize = n;
    while (this.count > 0 && this.size > n) this.evictOldest();
    const need = n / ENTRY_OVERHEAD + 1;
    if (need > this.cap) {
      const ptrs = new StaticArray<usize>(need);
      const nlen = new StaticArray<i32>(need);
      const vlen = new StaticArray<i32>(need);
      const sname = new StaticArray<u8>(need);
      // re-lay newest-first entries so that the oldest sits at slot 0
      for (let rel = this.count - 1, k = 0; rel >= 0; rel--, k++) {
        const s = this.slot(rel);
        unchecked((ptrs[k] = this.ptrs[s]));
        unchecked((nlen[k] = this.nlen[s]));
        unchecked((vlen[k] = this.vlen[s]));
        unchecked((sname[k] = this.sname[s]));
      }
      this.ptrs = ptrs;
      this.nlen = nlen;
      this.vlen = vlen;
      this.sname = sname;
      this.cap = need;
      this.head = this.count - 1;
    }
  }

  dispose(): void {
    while (this.count > 0) this.evictOldest();
  }
}

// A growable byte buffer in unmanaged linear memory. The core keeps all wire bytes in these so that
// the host can read them through one view of memory.buffer, without any managed-object layout.
export class Bytes {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;

  reserve(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.cap) return;
    let cap = this.cap < 256 ? 256 : this.cap << 1;
    while (cap < need) cap <<= 1;
    this.ptr = this.ptr == 0 ? heap.alloc(<usize>cap) : heap.realloc(this.ptr, <usize>cap);
    this.cap = cap;
  }

  @inline end(): usize { return this.ptr + <usize>this.len; }

  push32be(v: u32): void {
    this.reserve(4);
    store<u32>(this.ptr + <usize>this.len, bswap<u32>(v));
    this.len += 4;
  }

  append(src: usize, n: i32): void {
    if (n <= 0) return;
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  /** Drops the first n bytes, moving the rest to the front. */
  shift(n: i32): void {
    if (n <= 0) return;
    const rest = this.len - n;
    if (rest > 0) memory.copy(this.ptr, this.ptr + <usize>n, <usize>rest);
    this.len = rest > 0 ? rest : 0;
  }

  /** Gives memory back when a buffer that once grew large is empty again. */
  shrinkIfIdle(keep: i32): void {
    if (this.len == 0 && this.cap > keep) {
      heap.free(this.ptr);
      this.ptr = 0;
      this.cap = 0;
    }
  }

  free(): void {
    if (this.ptr != 0) heap.free(this.ptr);
    this.ptr = 0;
    this.len = 0;
    this.cap = 0;
  }
}

/** Frame and integer fields on the wire are big-endian. */
@inline export function read24(p: usize): u32 {
  return (<u32>load<u8>(p) << 16) | (<u32>load<u8>(p + 1) << 8) | <u32>load<u8>(p + 2);
}
@inline export function read32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

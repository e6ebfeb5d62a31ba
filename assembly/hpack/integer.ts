// RFC 7541 §5.1 prefix integers. Decoding reports the value through `intValue` and returns the
// position after the integer, or -1 when the input ends early or the value exceeds 2^31 - 1
// (no length or index this core accepts is that large, and refusing it keeps arithmetic in i32).
export let intValue: u32 = 0;

export function decodeInt(p: usize, end: usize, prefixBits: u32): isize {
  if (p >= end) return -1;
  const mask: u32 = (1 << prefixBits) - 1;
  let v: u32 = <u32>load<u8>(p) & mask;
  p++;
  if (v < mask) {
    intValue = v;
    return <isize>p;
  }
  let shift: u32 = 0;
  while (true) {
    if (p >= end) return -1;
    const b = <u32>load<u8>(p);
    p++;
    if (shift > 28) return -1;
    const add = <u64>(b & 0x7f) << shift;
    const nv = <u64>v + add;
    if (nv > 0x7fffffff) return -1;
    v = <u32>nv;
    shift += 7;
    if ((b & 0x80) == 0) break;
  }
  intValue = v;
  return <isize>p;
}

/** Writes `v` with an N-bit prefix; `first` holds the pattern bits above the prefix. Returns bytes written. */
export function encodeInt(dst: usize, first: u32, prefixBits: u32, v: u32): i32 {
  const mask: u32 = (1 << prefixBits) - 1;
  if (v < mask) {
    store<u8>(dst, <u8>(first | v));
    return 1;
  }
  store<u8>(dst, <u8>(first | mask));
  v -= mask;
  let n = 1;
  while (v >= 0x80) {
    store<u8>(dst + <usize>n, <u8>((v & 0x7f) | 0x80));
    v >>= 7;
    n++;
  }
  store<u8>(dst + <usize>n, <u8>v);
  return n + 1;
}

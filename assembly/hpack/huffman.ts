// RFC 7541 §5.2 Huffman coding. Decoding runs a 4-bit-at-a-time state machine built once at start
// from the code table (the nghttp2 approach): 256 tree nodes × 16 nibbles, each entry giving the next
// node, at most one emitted symbol, and whether the bits seen so far may legally end the string.
import { HUFFMAN_CODES, HUFFMAN_BITS } from './huffman-table';

const LEAF: i32 = 0x10000;
const F_SYM: u32 = 1 << 17;
const F_FAIL: u32 = 1 << 18;
const F_ACCEPT: u32 = 1 << 19;

// children[node * 2 + bit]: internal node index, or LEAF | symbol
const children = new StaticArray<i32>(512);
const accepting = new StaticArray<bool>(256);
const fsm = new StaticArray<u32>(256 * 16);

function build(): void {
  for (let i = 0; i < 512; i++) unchecked((children[i] = -1));
  let nodes = 1;
  for (let sym = 0; sym < 257; sym++) {
    const code = unchecked(HUFFMAN_CODES[sym]);
    const bits = <i32>unchecked(HUFFMAN_BITS[sym]);
    let node = 0;
    for (let i = bits - 1; i > 0; i--) {
      const slot = node * 2 + <i32>((code >> <u32>i) & 1);
      let c = unchecked(children[slot]);
      if (c == -1) {
        c = nodes++;
        unchecked((children[slot] = c));
      }
      node = c;
    }
    unchecked((children[node * 2 + <i32>(code & 1)] = LEAF | sym));
  }
  // Padding is the most significant bits of EOS (all ones), strictly shorter than 8 bits.
  let n = 0;
  for (let depth = 0; depth < 8; depth++) {
    unchecked((accepting[n] = true));
    const c = unchecked(children[n * 2 + 1]);
    if (c & LEAF) break;
    n = c;
  }
  for (let s = 0; s < 256; s++) {
    for (let nib = 0; nib < 16; nib++) {
      let cur = s;
      let entry: u32 = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const c = unchecked(children[cur * 2 + ((nib >> bit) & 1)]);
        if (c & LEAF) {
          const sym = c & 0xffff;
          if (sym == 256) { entry |= F_FAIL; break; }
          entry |= F_SYM | (<u32>sym << 8);
          cur = 0;
        } else {
          cur = c;
        }
      }
      entry |= <u32>cur;
      if (unchecked(accepting[cur])) entry |= F_ACCEPT;
      unchecked((fsm[s * 16 + nib] = entry));
    }
  }
}
build();

/** Decodes n Huffman-coded bytes at src into dst (room for n * 8 / 5 + 1 bytes). Returns bytes written, or -1. */
export function huffmanDecode(src: usize, n: i32, dst: usize): i32 {
  let state: u32 = 0;
  let out = dst;
  let accept = true;
  const end = src + <usize>n;
  for (let p = src; p < end; p++) {
    const b = <u32>load<u8>(p);
    let e = unchecked(fsm[(state << 4) | (b >> 4)]);
    if (e & F_FAIL) return -1;
    if (e & F_SYM) { store<u8>(out, <u8>(e >> 8)); out++; }
    state = e & 0xff;
    e = unchecked(fsm[(state << 4) | (b & 0xf)]);
    if (e & F_FAIL) return -1;
    if (e & F_SYM) { store<u8>(out, <u8>(e >> 8)); out++; }
    state = e & 0xff;
    accept = (e & F_ACCEPT) != 0;
  }
  if (!accept) return -1;
  return <i32>(out - dst);
}

/** The length in bytes of the Huffman coding of n bytes at src. */
export function huffmanLength(src: usize, n: i32): i32 {
  let bits: u64 = 0;
  for (let i = 0; i < n; i++) bits += <u64>unchecked(HUFFMAN_BITS[load<u8>(src + <usize>i)]);
  return <i32>((bits + 7) >> 3);
}

/** Huffman-codes n bytes at src into dst; returns bytes written (== huffmanLength). */
export function huffmanEncode(src: usize, n: i32, dst: usize): i32 {
  let acc: u64 = 0;
  let accBits: u32 = 0;
  let out = dst;
  for (let i = 0; i < n; i++) {
    const sym = <i32>load<u8>(src + <usize>i);
    const bits = <u32>unchecked(HUFFMAN_BITS[sym]);
    acc = (acc << bits) | <u64>unchecked(HUFFMAN_CODES[sym]);
    accBits += bits;
    while (accBits >= 8) {
      accBits -= 8;
      store<u8>(out, <u8>(acc >> accBits));
      out++;
    }
  }
  if (accBits > 0) {
    // pad with the high bits of EOS (all ones)
    store<u8>(out, <u8>((acc << (8 - accBits)) | ((1 << (8 - accBits)) - 1)));
    out++;
  }
  return <i32>(out - dst);
}

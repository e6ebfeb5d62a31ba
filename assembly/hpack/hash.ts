// FNV-1a over bytes: the key of the encoder's lookups into the static and dynamic tables.
// Collisions only cost a missed index: every hit is confirmed by comparing the bytes.
export function hashBytes(h: u32, p: usize, n: i32): u32 {
  for (let i = 0; i < n; i++) {
    h ^= <u32>load<u8>(p + <usize>i);
    h *= 16777619;
  }
  return h;
}
export const HASH_SEED: u32 = 2166136261;

export function bytesEqual(a: usize, b: usize, n: i32): bool {
  return memory.compare(a, b, <usize>n) == 0;
}

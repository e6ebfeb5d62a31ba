// Lookups into the RFC 7541 static table.
import {
  STATIC_COUNT, STATIC_BYTES, STATIC_NAME_OFF, STATIC_NAME_LEN, STATIC_VALUE_OFF, STATIC_VALUE_LEN,
} from './static-table-data';
import { hashBytes, bytesEqual, HASH_SEED } from './hash';

export { STATIC_COUNT };

@inline export function staticNamePtr(i: i32): usize { return STATIC_BYTES + <usize>unchecked(STATIC_NAME_OFF[i]); }
@inline export function staticNameLen(i: i32): i32 { return <i32>unchecked(STATIC_NAME_LEN[i]); }
@inline export function staticValuePtr(i: i32): usize { return STATIC_BYTES + <usize>unchecked(STATIC_VALUE_OFF[i]); }
@inline export function staticValueLen(i: i32): i32 { return <i32>unchecked(STATIC_VALUE_LEN[i]); }

// Open-addressed name hash → lowest static index with that name (entries sharing a name are
// adjacent). 256 slots for ~50 distinct names keeps probes short; no Map, no allocation per lookup.
const SLOTS: u32 = 256;
const slotHash = new StaticArray<u32>(SLOTS);
const slotIndex = new StaticArray<u8>(SLOTS);
// static index → lowest static index with the same name: one number per distinct name
const firstOfName = new StaticArray<u8>(STATIC_COUNT + 1);

function lookupName(p: usize, n: i32, h: u32): i32 {
  let s = h & (SLOTS - 1);
  while (true) {
    const idx = <i32>unchecked(slotIndex[s]);
    if (idx == 0) return 0;
    if (unchecked(slotHash[s]) == h && staticNameLen(idx) == n && bytesEqual(staticNamePtr(idx), p, n)) return idx;
    s = (s + 1) & (SLOTS - 1);
  }
}

for (let i = 1; i <= STATIC_COUNT; i++) {
  const np = staticNamePtr(i), nl = staticNameLen(i);
  const h = hashBytes(HASH_SEED, np, nl);
  let first = lookupName(np, nl, h);
  if (first == 0) {
    first = i;
    let s = h & (SLOTS - 1);
    while (unchecked(slotIndex[s]) != 0) s = (s + 1) & (SLOTS - 1);
    unchecked((slotHash[s] = h));
    unchecked((slotIndex[s] = <u8>i));
  }
  unchecked((firstOfName[i] = <u8>first));
}

/** The static index naming this entry's name: e.g. 5 (:path /index.html) gives 4 (:path). */
@inline export function staticNameIndex(i: i32): i32 { return <i32>unchecked(firstOfName[i]); }

/** The static index whose name is these bytes (h: their hashBytes), or 0. */
export function findStaticName(p: usize, n: i32, h: u32): i32 {
  return lookupName(p, n, h);
}

/** Given the static name index, the static index matching name and value too, or 0. */
export function findStaticValue(nameIdx: i32, vp: usize, vn: i32): i32 {
  const nl = staticNameLen(nameIdx);
  const np = staticNamePtr(nameIdx);
  for (let i = nameIdx; i <= STATIC_COUNT; i++) {
    if (staticNameLen(i) != nl || !bytesEqual(staticNamePtr(i), np, nl)) break;
    if (staticValueLen(i) == vn && bytesEqual(staticValuePtr(i), vp, vn)) return i;
  }
  return 0;
}

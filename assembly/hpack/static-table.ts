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

// name hash → lowest static index with that name (entries sharing a name are adjacent)
const byName = new Map<u32, i32>();
// static index → lowest static index with the same name: one number per distinct name
const firstOfName = new StaticArray<u8>(STATIC_COUNT + 1);
for (let i = 1; i <= STATIC_COUNT; i++) {
  const h = hashBytes(HASH_SEED, staticNamePtr(i), staticNameLen(i));
  if (!byName.has(h)) byName.set(h, i);
  unchecked((firstOfName[i] = <u8>byName.get(h)));
}

/** The static index naming this entry's name: e.g. 5 (:path /index.html) gives 4 (:path). */
@inline export function staticNameIndex(i: i32): i32 { return <i32>unchecked(firstOfName[i]); }

/** The static index whose name is these bytes, or 0. */
export function findStaticName(p: usize, n: i32, h: u32): i32 {
  if (!byName.has(h)) return 0;
  const i = byName.get(h);
  if (staticNameLen(i) != n || !bytesEqual(staticNamePtr(i), p, n)) return 0;
  return i;
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

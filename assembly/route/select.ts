// Route selection: a request head (the fields a table looks at, which the host wrote to scratch
// memory) against a route table; the first entry in precedence order
// whose conditions all hold wins. Only entries that can match the path are looked at: the exact-path
// bucket, the trie nodes along the path's segments, and the regex entries; each of those lists is in
// precedence order, so a list is abandoned at its first entry ranked below the best match so far.
//
// What is compared, as the Gateway API says: the path without its query, case-sensitive; a method;
// header names case-insensitively and values exactly (a header sent several times is matched as its
// values joined with ","; the host names fields by the table's lowercase name list); query parameter names exactly and the first value of a parameter, both
// percent-decoded. Regular expressions must match the whole value.
import { Bytes } from '../bytes';
import { RouteTable, Entry, Cond, PATH_GRPC_SERVICE, COND_EXACT } from './table';

const NO_MATCH: i32 = 0x7fffffff;

// The request's fields, in the compact form the host writes for selection (route-table.ts
// CoreRouteTable.select): per field a little-endian u32 holding the field's name index in its low
// 12 bits (0 :path, 1 :method, 2 + k the table's k-th header name) and the value's length above
// them, then the value bytes.
let count = 0;
let nameIdx = new StaticArray<i32>(64);
let values = new StaticArray<usize>(64);
let valueLens = new StaticArray<i32>(64);
let path: usize = 0;
let pathLen = 0; // up to '?'
let query: usize = 0;
let queryLen = -1; // -1: no query
let method: usize = 0;
let methodLen = -1;
const joined = new Bytes();
const decodedName = new Bytes();
const decodedValue = new Bytes();

function readRequest(p: usize, n: i32): void {
  if (n > nameIdx.length) {
    let cap = nameIdx.length;
    while (cap < n) cap <<= 1;
    nameIdx = new StaticArray<i32>(cap);
    values = new StaticArray<usize>(cap);
    valueLens = new StaticArray<i32>(cap);
  }
  count = n;
  path = 0; pathLen = 0; query = 0; queryLen = -1; method = 0; methodLen = -1;
  for (let i = 0; i < n; i++) {
    const word = load<u32>(p);
    const idx = <i32>(word & 0xfff);
    const vl = <i32>(word >> 12);
    const value = p + 4;
    unchecked(nameIdx[i] = idx);
    unchecked(values[i] = value);
    unchecked(valueLens[i] = vl);
    if (idx == 0) {
      path = value;
      let k = 0;
      while (k < vl && load<u8>(value + <usize>k) != 0x3f) k++;
      pathLen = k;
      if (k < vl) { query = value + <usize>k + 1; queryLen = vl - k - 1; }
    } else if (idx == 1) {
      method = value;
      methodLen = vl;
    }
    p = value + <usize>vl;
  }
}

/** The result of the best entry for the request whose n field records are at p, or -1. */
export function selectRoute(t: RouteTable, p: usize, n: i32): i32 {
  readRequest(p, n);
  let best = NO_MATCH;
  // exact paths
  const list = t.exact.get(0, path, pathLen);
  if (list >= 0) best = firstMatch(t, unchecked(t.exactLists[list]), best, false);
  // regular expressions without a literal prefix
  best = firstRegex(t, t.regexEntries, best);
  // prefixes and the regexes filed under a literal prefix, along the trie
  best = firstMatch(t, unchecked(t.nodeEntries[0]), best, false);
  best = firstRegex(t, unchecked(t.nodeRegex[0]), best);
  if (pathLen > 0 && load<u8>(path) == 0x2f) {
    let node = 0;
    let s = 1;
    while (s < pathLen) {
      let e = s;
      while (e < pathLen && load<u8>(path + <usize>e) != 0x2f) e++;
      const child = t.children.get(<u32>node, path + <usize>s, e - s);
      if (child < 0) break;
      node = child;
      best = firstMatch(t, unchecked(t.nodeEntries[node]), best, true);
      best = firstRegex(t, unchecked(t.nodeRegex[node]), best);
      s = e + 1;
    }
  }
  return best == NO_MATCH ? -1 : <i32>unchecked(t.entries[best]).result;
}

@inline function firstRegex(t: RouteTable, list: StaticArray<i32>, best: i32): i32 {
  for (let k = 0; k < list.length; k++) {
    const i = unchecked(list[k]);
    if (i >= best) return best;
    const e = unchecked(t.entries[i]);
    if (e.pathRegex!.matches(path, pathLen) && conditionsHold(e)) return i;
  }
  return best;
}

@inline function firstMatch(t: RouteTable, list: StaticArray<i32>, best: i32, checkGrpc: bool): i32 {
  for (let k = 0; k < list.length; k++) {
    const i = unchecked(list[k]);
    if (i >= best) return best;
    const e = unchecked(t.entries[i]);
    if (checkGrpc && e.pathKind == PATH_GRPC_SERVICE && !grpcMethodFollows(e.pathLen)) continue;
    if (conditionsHold(e)) return i;
  }
  return best;
}

// "/<service>" is followed by exactly one more non-empty segment: the method
function grpcMethodFollows(prefixLen: i32): bool {
  if (pathLen <= prefixLen + 1 || load<u8>(path + <usize>prefixLen) != 0x2f) return false;
  for (let k = prefixLen + 1; k < pathLen; k++) if (load<u8>(path + <usize>k) == 0x2f) return false;
  return true;
}

function conditionsHold(e: Entry): bool {
  if (e.methodLen >= 0) {
    if (methodLen != e.methodLen || memory.compare(method, e.method, <usize>methodLen) != 0) return false;
  }
  const hs = e.headers;
  for (let k = 0; k < hs.length; k++) if (!headerHolds(unchecked(hs[k]))) return false;
  const qs = e.queries;
  for (let k = 0; k < qs.length; k++) if (!queryHolds(unchecked(qs[k]))) return false;
  return true;
}

function headerHolds(c: Cond): bool {
  const want = c.nameIndex;
  let found = -1;
  let more = false;
  for (let i = 0; i < count; i++) {
    if (unchecked(nameIdx[i]) == want) {
      if (found < 0) found = i;
      else { more = true; break; }
    }
  }
  if (found < 0) return false;
  let v = unchecked(values[found]);
  let vl = unchecked(valueLens[found]);
  if (more) {
    joined.len = 0;
    for (let i = found; i < count; i++) {
      if (unchecked(nameIdx[i]) == want) {
        if (joined.len > 0) { joined.reserve(1); store<u8>(joined.end(), 0x2c); joined.len++; }
        joined.append(unchecked(values[i]), unchecked(valueLens[i]));
      }
    }
    v = joined.ptr;
    vl = joined.len;
  }
  return valueHolds(c, v, vl);
}

@inline function valueHolds(c: Cond, v: usize, vl: i32): bool {
  if (c.kind == COND_EXACT) return vl == c.valueLen && memory.compare(v, c.value, <usize>vl) == 0;
  return c.regex!.matches(v, vl);
}

function queryHolds(c: Cond): bool {
  if (queryLen < 0) return false;
  let s = 0;
  while (s <= queryLen) {
    let e = s;
    while (e < queryLen && load<u8>(query + <usize>e) != 0x26) e++; // &
    let eq = s;
    while (eq < e && load<u8>(query + <usize>eq) != 0x3d) eq++; // =
    decode(decodedName, query + <usize>s, eq - s);
    if (decodedName.len == c.nameLen && memory.compare(decodedName.ptr, c.name, <usize>c.nameLen) == 0) {
      // the first occurrence decides
      const vs = eq < e ? eq + 1 : e;
      decode(decodedValue, query + <usize>vs, e - vs);
      return valueHolds(c, decodedValue.ptr, decodedValue.len);
    }
    s = e + 1;
  }
  return false;
}

function hexDigit(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

// %XX decoding; a '%' not followed by two hex digits stays as it is
function decode(out: Bytes, p: usize, n: i32): void {
  out.len = 0;
  out.reserve(n > 0 ? n : 1);
  let o = out.ptr;
  for (let k = 0; k < n; k++) {
    const c = load<u8>(p + <usize>k);
    if (c == 0x25 && k + 2 < n) {
      const h = hexDigit(load<u8>(p + <usize>k + 1));
      const l = hexDigit(load<u8>(p + <usize>k + 2));
      if (h >= 0 && l >= 0) {
        store<u8>(o++, <u8>(h * 16 + l));
        k += 2;
        continue;
      }
    }
    store<u8>(o++, c);
  }
  out.len = <i32>(o - out.ptr);
}

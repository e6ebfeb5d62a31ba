// Route selection: a request head (the header field records the host wrote to scratch memory, the
// same records h2_submit_headers reads) against a route table; the first entry in precedence order
// whose conditions all hold wins. Only entries that can match the path are looked at: the exact-path
// bucket, the trie nodes along the path's segments, and the regex entries; each of those lists is in
// precedence order, so a list is abandoned at its first entry ranked below the best match so far.
//
// What is compared, as the Gateway API says: the path without its query, case-sensitive; a method;
// header names case-insensitively and values exactly (a header sent several times is matched as its
// values joined with ","); query parameter names exactly and the first value of a parameter, both
// percent-decoded. Regular expressions must match the whole value.
import { Bytes } from '../bytes';
import { RouteTable, Entry, Cond, PATH_GRPC_SERVICE, COND_EXACT } from './table';

const NO_MATCH: i32 = 0x7fffffff;

// the request's fields, parsed from scratch once per selection
let count = 0;
let names = new StaticArray<usize>(64);
let nameLens = new StaticArray<i32>(64);
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
  if (n > names.length) {
    let cap = names.length;
    while (cap < n) cap <<= 1;
    names = new StaticArray<usize>(cap);
    nameLens = new StaticArray<i32>(cap);
    values = new StaticArray<usize>(cap);
    valueLens = new StaticArray<i32>(cap);
  }
  count = n;
  path = 0; pathLen = 0; query = 0; queryLen = -1; method = 0; methodLen = -1;
  for (let i = 0; i < n; i++) {
    const nl = load<i32>(p);
    const vl = load<i32>(p + 4);
    const name = p + 12;
    const value = name + <usize>nl;
    unchecked(names[i] = name);
    unchecked(nameLens[i] = nl);
    unchecked(values[i] = value);
    unchecked(valueLens[i] = vl);
    if (nl == 5 && load<u8>(name) == 0x3a) { // :path
      if (load<u32>(name + 1) == 0x68746170) {
        path = value;
        let k = 0;
        while (k < vl && load<u8>(value + <usize>k) != 0x3f) k++;
        pathLen = k;
        if (k < vl) { query = value + <usize>k + 1; queryLen = vl - k - 1; }
      }
    } else if (nl == 7 && load<u8>(name) == 0x3a && load<u32>(name + 1) == 0x6874656d && load<u16>(name + 5) == 0x646f) { // :method
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

@inline function lower(c: u32): u32 { return c - 0x41 < 26 ? c | 0x20 : c; }

function sameName(a: usize, b: usize, n: i32): bool {
  for (let k = 0; k < n; k++) {
    if (lower(load<u8>(a + <usize>k)) != lower(load<u8>(b + <usize>k))) return false;
  }
  return true;
}

function headerHolds(c: Cond): bool {
  let found = -1;
  let more = false;
  for (let i = 0; i < count; i++) {
    if (unchecked(nameLens[i]) == c.nameLen && sameName(unchecked(names[i]), c.name, c.nameLen)) {
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
      if (unchecked(nameLens[i]) == c.nameLen && sameName(unchecked(names[i]), c.name, c.nameLen)) {
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

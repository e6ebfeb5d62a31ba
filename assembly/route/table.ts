// A route table: the match conditions of every route rule attached to one parent (a Service port),
// as the host compiled them from HTTPRoute/GRPCRoute objects, already in precedence order (entry 0
// beats entry 1 whenever both match; the host applies the Gateway API's ordering rules, so the core
// only has to find the first matching entry). Indexes keep selection from scanning every entry:
// exact paths in a hash map, prefixes in a trie of path segments, regexes in a list.
//
// The host hands the table over as one blob (little-endian):
//   u32 magic "SKRT", u32 version (1), u32 entry count, then per entry:
//   u32 result, u8 path kind, u8 has-method, u8 header count, u8 query count, str path,
//   [str method], header count × (u8 kind, str name, str value), query count × (u8 kind, str name, str value)
// where str = u32 length + bytes, and a condition kind is 0 (exact) or 1 (regular expression).
import { ByteMap } from './bytemap';
import { Regex, RegexCompiler } from './regex';

export const PATH_PREFIX: u8 = 0; // segment-wise prefix ("/" matches everything)
export const PATH_EXACT: u8 = 1;
export const PATH_REGEX: u8 = 2;
export const PATH_GRPC_SERVICE: u8 = 3; // "/<service>/<one more segment>" (GRPCRoute, service only)

export const COND_EXACT: u8 = 0;
export const COND_REGEX: u8 = 1;

const MAGIC: u32 = 0x54524b53; // "SKRT"
const VERSION: u32 = 1;

// why a blob was refused
export const TABLE_OK: i32 = 0;
export const TABLE_MALFORMED: i32 = 1;
export const TABLE_BAD_REGEX: i32 = 2;

export class Cond {
  kind: u8 = COND_EXACT;
  /** For headers: 2 + the index of the name among the table's distinct header names (first seen first). */
  nameIndex: i32 = 0;
  name: usize = 0;
  nameLen: i32 = 0;
  value: usize = 0;
  valueLen: i32 = 0;
  regex: Regex | null = null;
}

export class Entry {
  result: u32 = 0;
  pathKind: u8 = PATH_PREFIX;
  path: usize = 0;
  pathLen: i32 = 0; // for prefixes: without the trailing '/'
  pathRegex: Regex | null = null;
  method: usize = 0;
  methodLen: i32 = -1; // -1: any method
  headers: Cond[] = [];
  queries: Cond[] = [];
}

export class RouteTable {
  blob: usize = 0;
  // What selection reads, frozen into StaticArrays once loaded (direct loads, no Array calls):
  entries: StaticArray<Entry> = new StaticArray<Entry>(0);
  exact: ByteMap = new ByteMap();
  exactLists: StaticArray<StaticArray<i32>> = new StaticArray<StaticArray<i32>>(0);
  // trie: node 0 is "/"; children keyed by (parent, segment); entries per node in rank order
  nodeEntries: StaticArray<StaticArray<i32>> = new StaticArray<StaticArray<i32>>(0);
  children: ByteMap = new ByteMap();
  /** Regex entries with no literal path prefix to index them by: tried for every request. */
  regexEntries: StaticArray<i32> = new StaticArray<i32>(0);
  /** Regex entries by the trie node of their literal prefix's whole segments (in rank order). */
  nodeRegex: StaticArray<StaticArray<i32>> = new StaticArray<StaticArray<i32>>(0);
  // the same while loading
  private bEntries: Entry[] = [];
  private bExactLists: Array<i32[]> = [];
  private bNodeEntries: Array<i32[]> = [[]];
  private bRegexEntries: i32[] = [];
  private bNodeRegex: Array<i32[]> = [[]];
  // what went wrong when load() returned false
  error: i32 = TABLE_OK;
  errorEntry: i32 = -1;
  errorPart: i32 = 0; // 0 path, 1 + k header k, 1001 + k query k
  errorCode: i32 = 0; // the regex error (regex.ts RE_*)
  errorPos: i32 = 0;

  private headerNames: ByteMap = new ByteMap();
  private headerNameCount: i32 = 0;
  private p: usize = 0;
  private end: usize = 0;
  private bad: bool = false;

  /** Copies and indexes the n-byte blob at src; false (error set) when it is malformed. */
  load(src: usize, n: i32): bool {
    this.blob = heap.alloc(n > 0 ? <usize>n : 1);
    memory.copy(this.blob, src, <usize>n);
    this.p = this.blob;
    this.end = this.blob + <usize>n;
    if (this.u32() != MAGIC || this.u32() != VERSION) return this.malformed();
    const count = this.u32();
    if (this.bad || count > 1000000) return this.malformed();
    const compiler = new RegexCompiler();
    for (let i: i32 = 0; i < <i32>count; i++) {
      const e = new Entry();
      e.result = this.u32();
      e.pathKind = this.u8();
      const hasMethod = this.u8();
      const nh = this.u8();
      const nq = this.u8();
      e.path = this.str();
      e.pathLen = this.lastLen;
      if (hasMethod != 0) {
        e.method = this.str();
        e.methodLen = this.lastLen;
      }
      for (let k: i32 = 0; k < <i32>nh; k++) {
        const c = this.cond();
        if (c === null) return this.malformed();
        // the host sends request fields named by these indexes: the same first-seen order it uses
        let idx = this.headerNames.get(0, c.name, c.nameLen);
        if (idx < 0) {
          idx = 2 + this.headerNameCount++;
          this.headerNames.set(0, c.name, c.nameLen, idx);
        }
        c.nameIndex = idx;
        e.headers.push(c);
      }
      for (let k: i32 = 0; k < <i32>nq; k++) {
        const c = this.cond();
        if (c === null) return this.malformed();
        e.queries.push(c);
      }
      if (this.bad || e.pathKind > PATH_GRPC_SERVICE) return this.malformed();
      // regexes
      if (e.pathKind == PATH_REGEX) {
        e.pathRegex = compiler.compile(e.path, e.pathLen);
        if (e.pathRegex === null) return this.badRegex(i, 0, compiler);
      }
      for (let k = 0; k < e.headers.length; k++) {
        const c = e.headers[k];
        if (c.kind == COND_REGEX && (c.regex = compiler.compile(c.value, c.valueLen)) === null) return this.badRegex(i, 1 + k, compiler);
      }
      for (let k = 0; k < e.queries.length; k++) {
        const c = e.queries[k];
        if (c.kind == COND_REGEX && (c.regex = compiler.compile(c.value, c.valueLen)) === null) return this.badRegex(i, 1001 + k, compiler);
      }
      this.bEntries.push(e);
      this.index(e, i);
    }
    if (this.p != this.end) return this.malformed();
    this.freeze();
    return true;
  }

  private freeze(): void {
    const n = this.bEntries.length;
    this.entries = new StaticArray<Entry>(n);
    for (let i = 0; i < n; i++) this.entries[i] = this.bEntries[i];
    this.exactLists = freezeLists(this.bExactLists);
    this.nodeEntries = freezeLists(this.bNodeEntries);
    this.nodeRegex = freezeLists(this.bNodeRegex);
    this.regexEntries = freezeList(this.bRegexEntries);
    this.bEntries = [];
    this.bExactLists = [];
    this.bNodeEntries = [];
    this.bNodeRegex = [];
    this.bRegexEntries = [];
  }

  private index(e: Entry, i: i32): void {
    if (e.pathKind == PATH_EXACT) {
      let list = this.exact.get(0, e.path, e.pathLen);
      if (list < 0) {
        list = this.bExactLists.length;
        this.bExactLists.push([]);
        this.exact.set(0, e.path, e.pathLen, list);
      }
      this.bExactLists[list].push(i);
    } else if (e.pathKind == PATH_REGEX) {
      // A regex can only match paths that start with its literal prefix: file it under the trie
      // node of that prefix's complete segments, so requests elsewhere never run it.
      const lit = literalSegments(e.path, e.pathLen);
      if (lit <= 1) this.bRegexEntries.push(i);
      else this.bNodeRegex[this.nodeFor(e.path, lit)].push(i);
    } else {
      // prefix or gRPC service: walk/extend the trie along the segments; trailing '/' ignored
      let n = e.pathLen;
      while (n > 0 && load<u8>(e.path + <usize>n - 1) == 0x2f) n--;
      e.pathLen = n;
      this.bNodeEntries[this.nodeFor(e.path, n)].push(i);
    }
  }

  // The trie node for the segments of the n bytes at path (created as needed); "" and "/" are the root.
  private nodeFor(path: usize, n: i32): i32 {
    let node = 0;
    let s = 1; // past the leading '/'
    while (s <= n) {
      let t = s;
      while (t < n && load<u8>(path + <usize>t) != 0x2f) t++;
      let child = this.children.get(<u32>node, path + <usize>s, t - s);
      if (child < 0) {
        child = this.bNodeEntries.length;
        this.bNodeEntries.push([]);
        this.bNodeRegex.push([]);
        this.children.set(<u32>node, path + <usize>s, t - s, child);
      }
      node = child;
      s = t + 1;
    }
    return node;
  }

  private lastLen: i32 = 0;
  private u8(): u8 {
    if (this.p + 1 > this.end) { this.bad = true; return 0; }
    return load<u8>(this.p++);
  }
  private u32(): u32 {
    if (this.p + 4 > this.end) { this.bad = true; return 0; }
    const v = load<u32>(this.p);
    this.p += 4;
    return v;
  }
  private str(): usize {
    const n = this.u32();
    if (this.bad || <u64>this.p + <u64>n > <u64>this.end) { this.bad = true; this.lastLen = 0; return 0; }
    const at = this.p;
    this.p += <usize>n;
    this.lastLen = <i32>n;
    return at;
  }
  private cond(): Cond | null {
    const c = new Cond();
    c.kind = this.u8();
    c.name = this.str();
    c.nameLen = this.lastLen;
    c.value = this.str();
    c.valueLen = this.lastLen;
    if (this.bad || c.kind > COND_REGEX) return null;
    return c;
  }
  private malformed(): bool {
    this.error = TABLE_MALFORMED;
    return false;
  }
  private badRegex(entry: i32, part: i32, c: RegexCompiler): bool {
    this.error = TABLE_BAD_REGEX;
    this.errorEntry = entry;
    this.errorPart = part;
    this.errorCode = c.error;
    this.errorPos = c.errorPos;
    return false;
  }

  dispose(): void {
    if (this.blob != 0) heap.free(this.blob);
    this.blob = 0;
    this.exact.dispose();
    this.children.dispose();
    this.headerNames.dispose();
  }
}

// The length of a regex's literal leading text up to its last '/' (the complete segments every match
// must start with), or 0. Conservative: any alternation, or anything but plain characters, ends it;
// a character followed by a quantifier that may skip it is not part of it.
function literalSegments(p: usize, n: i32): i32 {
  for (let i = 0; i < n; i++) if (load<u8>(p + <usize>i) == 0x7c) return 0; // |
  if (n == 0 || load<u8>(p) != 0x2f) return 0;
  let end = 0;
  for (; end < n; end++) {
    const c = load<u8>(p + <usize>end);
    if (c == 0x5c || c == 0x2e || c == 0x2b || c == 0x2a || c == 0x3f || c == 0x28 || c == 0x29 || c == 0x5b ||
        c == 0x5d || c == 0x7b || c == 0x7d || c == 0x5e || c == 0x24) {
      if ((c == 0x2a || c == 0x3f || c == 0x7b) && end > 0) end--; // x* x? x{0,..}: x may be absent
      break;
    }
  }
  let slash = 0;
  for (let i = 0; i < end; i++) if (load<u8>(p + <usize>i) == 0x2f) slash = i;
  return slash; // the text before the last '/' of the literal part: whole segments
}

function freezeList(list: i32[]): StaticArray<i32> {
  const out = new StaticArray<i32>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = list[i];
  return out;
}

function freezeLists(lists: Array<i32[]>): StaticArray<StaticArray<i32>> {
  const out = new StaticArray<StaticArray<i32>>(lists.length);
  for (let i = 0; i < lists.length; i++) out[i] = freezeList(lists[i]);
  return out;
}

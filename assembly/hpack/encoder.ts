// RFC 7541 header block encoder. Indexing policy (after nghttp2's): exact matches in the static or
// dynamic table are sent as one index; other fields are added to the dynamic table unless their
// values rarely repeat (:path, content-length, etag, dates…), they are too large to be worth a
// slot, or they are sensitive — authorization, proxy-authorization, short cookies (§7.1.3) and any
// field the caller flags — which go out as never-indexed literals so no proxy downstream indexes them.
import { Bytes } from '../bytes';
import { encodeInt } from './integer';
import { huffmanLength, huffmanEncode } from './huffman';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table';
import { STATIC_COUNT, findStaticName, findStaticValue } from './static-table';
import { hashBytes, bytesEqual, HASH_SEED } from './hash';

export const FIELD_SENSITIVE: u32 = 1; // never index, here or downstream
export const FIELD_NO_INDEX: u32 = 2;  // do not add to the dynamic table

const S_PATH = 4, S_AGE = 21, S_AUTHORIZATION = 23, S_CONTENT_LENGTH = 28, S_COOKIE = 32,
  S_ETAG = 34, S_IF_MODIFIED_SINCE = 40, S_IF_NONE_MATCH = 41, S_LOCATION = 46,
  S_PROXY_AUTHORIZATION = 49, S_SET_COOKIE = 55;

export class HpackEncoder {
  table: DynamicTable;
  /** Our own ceiling on the table, whatever larger size the peer allows. */
  limit: i32;
  // Direct-mapped caches, hash → absolute id + 1 of the newest entry with that (name, value) or
  // name. A collision only loses an indexing chance: every hit is confirmed against the bytes.
  byFull: StaticArray<u32>;
  byName: StaticArray<u32>;
  mask: u32;
  // size updates owed at the start of the next block (§4.2): the smallest since the last block, then the last
  pendingMin: i32 = -1;
  pendingSize: i32 = -1;

  constructor(limit: i32) {
    this.limit = limit;
    const t = new DynamicTable(limit < 4096 ? limit : 4096);
    this.table = t;
    // ~8 slots per entry the largest table can hold
    let slots: u32 = 256;
    while (slots < <u32>(limit / 32 + 1) * 8) slots <<= 1;
    this.byFull = new StaticArray<u32>(slots);
    this.byName = new StaticArray<u32>(slots);
    this.mask = slots - 1;
  }

  /** Relative index of the entry a cache slot points at, or -1. */
  @inline private relOfSlot(v: u32): i32 {
    return v == 0 ? -1 : this.table.relOf(v - 1);
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed. */
  setPeerMax(peerMax: i32): void {
    const n = peerMax < this.limit ? peerMax : this.limit;
    if (this.pendingMin < 0 || n < this.pendingMin) this.pendingMin = n;
    this.pendingSize = n;
  }

  private writeString(out: Bytes, p: usize, n: i32): void {
    const hl = huffmanLength(p, n);
    out.reserve(n + 6);
    if (hl < n) {
      out.len += encodeInt(out.end(), 0x80, 7, <u32>hl);
      out.len += huffmanEncode(p, n, out.end());
    } else {
      out.len += encodeInt(out.end(), 0, 7, <u32>n);
      memory.copy(out.end(), p, <usize>n);
      out.len += n;
    }
  }

  /** Starts a header block: emits owed table size updates. */
  begin(out: Bytes): void {
    if (this.pendingSize < 0) return;
    out.reserve(12);
    if (this.pendingMin < this.pendingSize) {
      out.len += encodeInt(out.end(), 0x20, 5, <u32>this.pendingMin);
      this.table.setMaxSize(this.pendingMin);
    }
    out.len += encodeInt(out.end(), 0x20, 5, <u32>this.pendingSize);
    this.table.setMaxSize(this.pendingSize);
    this.pendingMin = -1;
    this.pendingSize = -1;
  }

  /** Encodes one field. The name must already be lowercase. */
  field(out: Bytes, np: usize, nl: i32, vp: usize, vl: i32, flags: u32): void {
    const t = this.table;
    const hn = hashBytes(HASH_SEED, np, nl);
    const sIdx = findStaticName(np, nl, hn);
    let sensitive = (flags & FIELD_SENSITIVE) != 0 || sIdx == S_AUTHORIZATION ||
      sIdx == S_PROXY_AUTHORIZATION || (sIdx == S_COOKIE && vl < 20);
    const hf = hashBytes(hn ^ 0x5bd1e995, vp, vl);
    if (!sensitive) {
      if (sIdx != 0) {
        const full = findStaticValue(sIdx, vp, vl);
        if (full != 0) {
          out.reserve(6);
          out.len += encodeInt(out.end(), 0x80, 7, <u32>full);
          return;
        }
      }
      {
        const rel = this.relOfSlot(unchecked(this.byFull[hf & this.mask]));
        if (rel >= 0 && t.nameLen(rel) == nl && t.valueLen(rel) == vl &&
            bytesEqual(t.namePtr(rel), np, nl) && bytesEqual(t.valuePtr(rel), vp, vl)) {
          out.reserve(6);
          out.len += encodeInt(out.end(), 0x80, 7, <u32>(STATIC_COUNT + 1 + rel));
          return;
        }
      }
    }
    let nameIdx = sIdx;
    if (nameIdx == 0) {
      const rel = this.relOfSlot(unchecked(this.byName[hn & this.mask]));
      if (rel >= 0 && t.nameLen(rel) == nl && bytesEqual(t.namePtr(rel), np, nl)) nameIdx = STATIC_COUNT + 1 + rel;
    }
    const esize = nl + vl + ENTRY_OVERHEAD;
    const indexing = !sensitive && (flags & FIELD_NO_INDEX) == 0 && esize <= (t.maxSize * 3) / 4 &&
      sIdx != S_PATH && sIdx != S_AGE && sIdx != S_CONTENT_LENGTH && sIdx != S_ETAG &&
      sIdx != S_IF_MODIFIED_SINCE && sIdx != S_IF_NONE_MATCH && sIdx != S_LOCATION && sIdx != S_SET_COOKIE;
    out.reserve(6);
    if (indexing) out.len += encodeInt(out.end(), 0x40, 6, <u32>nameIdx);
    else out.len += encodeInt(out.end(), sensitive ? 0x10 : 0, 4, <u32>nameIdx);
    if (nameIdx == 0) this.writeString(out, np, nl);
    this.writeString(out, vp, vl);
    if (indexing) {
      t.add(np, nl, vp, vl, sIdx);
      if (t.count > 0) {
        unchecked((this.byFull[hf & this.mask] = t.inserted));
        unchecked((this.byName[hn & this.mask] = t.inserted));
      }
    }
  }

  /**
   * Encodes a whole header block from `count` field records at `src` (the layout the host writes:
   * u32 name length, u32 value length, u32 flags, name bytes, value bytes). Names are lowercased in
   * place first: HTTP/2 requires it (RFC 9113 §8.2.1) and callers translating HTTP/1.1 pass any case.
   */
  encodeRecords(out: Bytes, src: usize, count: i32): void {
    this.begin(out);
    let q = src;
    for (let i = 0; i < count; i++) {
      const nl = <i32>load<u32>(q);
      const vl = <i32>load<u32>(q, 4);
      const flags = load<u32>(q, 8);
      const np = q + 12;
      for (let k = 0; k < nl; k++) {
        const c = load<u8>(np + <usize>k);
        if (c >= 0x41 && c <= 0x5a) store<u8>(np + <usize>k, c | 0x20);
      }
      this.field(out, np, nl, np + <usize>nl, vl, flags);
      q = np + <usize>(nl + vl);
    }
  }

  dispose(): void {
    this.table.dispose();
  }
}

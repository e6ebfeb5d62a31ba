// RFC 7541 §3 and §6: the header block decoder. Decoded names and values are copied into a
// FieldList arena (entries of the dynamic table can be evicted by later fields of the same block,
// so pointing at them would dangle). The list-size limit never stops decoding, because the table
// must stay in step with the peer's encoder (RFC 9113 §10.5.1); past the limit fields are dropped
// without copying and the caller learns TOO_LARGE.
import { decodeInt, intValue } from './integer';
import { huffmanDecode } from './huffman';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table';
import { FieldList, FIELD_NEVER_INDEXED, FIELD_STATIC_VALUE_SHIFT } from './field-list';
import {
  STATIC_COUNT, staticNamePtr, staticNameLen, staticValuePtr, staticValueLen, findStaticName, staticNameIndex,
} from './static-table';
import { hashBytes, HASH_SEED } from './hash';

export const HPACK_OK: i32 = 0;
export const HPACK_TOO_LARGE: i32 = 1;
export const HPACK_ERROR: i32 = -1;

// Why a block failed, for the host's error messages (see host/core/reasons.ts).
export const HP_BAD_INTEGER: i32 = 1;
export const HP_BAD_INDEX: i32 = 2;
export const HP_TRUNCATED_STRING: i32 = 3;
export const HP_BAD_HUFFMAN: i32 = 4;
export const HP_LATE_SIZE_UPDATE: i32 = 5;
export const HP_SIZE_UPDATE_TOO_BIG: i32 = 6;
export const HP_MISSING_SIZE_UPDATE: i32 = 7;

let strOff: i32 = 0;
let strLen: i32 = 0;

export class HpackDecoder {
  table: DynamicTable;
  /** The SETTINGS_HEADER_TABLE_SIZE in force: size updates may not exceed it. */
  maxAllowed: i32;
  /** Set when our limit dropped below the table size: the next block must start with an update. */
  needUpdate: bool = false;
  error: i32 = 0;
  listSize: i32 = 0;

  constructor(maxSize: i32) {
    this.table = new DynamicTable(maxSize);
    this.maxAllowed = maxSize;
  }

  /** Applies a new acknowledged SETTINGS_HEADER_TABLE_SIZE (§4.2). */
  setLimit(n: i32): void {
    this.maxAllowed = n;
    if (n < this.table.maxSize) this.needUpdate = true;
  }

  private fail(reason: i32): i32 {
    this.error = reason;
    return HPACK_ERROR;
  }

  private readString(p: usize, end: usize, out: FieldList): isize {
    const huff = (load<u8>(p) & 0x80) != 0;
    const q = decodeInt(p, end, 7);
    if (q < 0) return -1;
    const n = <i32>intValue;
    if (<usize>q + <usize>n > end) return -2;
    const a = out.arena;
    if (huff) {
      // 5 bits is the shortest code: n bytes decode to at most n * 8 / 5 bytes
      a.reserve(n + (n >> 1) + (n >> 3) + 1);
      const w = huffmanDecode(<usize>q, n, a.end());
      if (w < 0) return -3;
      strOff = a.len;
      strLen = w;
      a.len += w;
    } else {
      strOff = out.put(<usize>q, n);
      strLen = n;
    }
    return q + <isize>n;
  }

  private skipString(p: usize, end: usize): isize {
    const q = decodeInt(p, end, 7);
    if (q < 0) return -1;
    if (<usize>q + <usize>intValue > end) return -2;
    return q + <isize>intValue;
  }

  /** Decodes one complete header block into `out`. */
  decode(src: usize, n: i32, out: FieldList, listLimit: i32): i32 {
    let p = src;
    const end = src + <usize>n;
    const table = this.table;
    let listSize: i32 = 0;
    let tooLarge = false;
    let atStart = true;
    this.error = 0;
    while (p < end) {
      const b = <u32>load<u8>(p);
      if (b & 0x80) {
        // §6.1 indexed field
        const q = decodeInt(p, end, 7);
        if (q < 0) return this.fail(HP_BAD_INTEGER);
        p = <usize>q;
        const idx = <i32>intValue;
        if (this.needUpdate) return this.fail(HP_MISSING_SIZE_UPDATE);
        atStart = false;
        let np: usize, nl: i32, vp: usize, vl: i32, sname: i32;
        let svalue: u32 = 0;
        if (idx == 0) return this.fail(HP_BAD_INDEX);
        if (idx <= STATIC_COUNT) {
          np = staticNamePtr(idx); nl = staticNameLen(idx);
          vp = staticValuePtr(idx); vl = staticValueLen(idx);
          sname = staticNameIndex(idx);
          svalue = <u32>idx << FIELD_STATIC_VALUE_SHIFT;
        } else {
          const rel = idx - STATIC_COUNT - 1;
          if (rel >= table.count) return this.fail(HP_BAD_INDEX);
          np = table.namePtr(rel); nl = table.nameLen(rel);
          vp = table.valuePtr(rel); vl = table.valueLen(rel);
          sname = table.staticName(rel);
        }
        if (tooLarge) continue;
        listSize += nl + vl + ENTRY_OVERHEAD;
        if (listSize > listLimit) { tooLarge = true; continue; }
        const no = out.put(np, nl);
        const vo = out.put(vp, vl);
        out.pushRecord(no, nl, vo, vl, <u32>sname | svalue);
      } else if ((b & 0xe0) == 0x20) {
        // §6.3 dynamic table size update: only before the first field of a block
        if (!atStart) return this.fail(HP_LATE_SIZE_UPDATE);
        const q = decodeInt(p, end, 5);
        if (q < 0) return this.fail(HP_BAD_INTEGER);
        p = <usize>q;
        if (<i32>intValue > this.maxAllowed) return this.fail(HP_SIZE_UPDATE_TOO_BIG);
        table.setMaxSize(<i32>intValue);
        this.needUpdate = false;
      } else {
        // §6.2 literal: with incremental indexing (01), without indexing (0000), never indexed (0001)
        if (this.needUpdate) return this.fail(HP_MISSING_SIZE_UPDATE);
        atStart = false;
        const indexing = (b & 0x40) != 0;
        const never = !indexing && (b & 0x10) != 0;
        let q = decodeInt(p, end, indexing ? 6 : 4);
        if (q < 0) return this.fail(HP_BAD_INTEGER);
        p = <usize>q;
        const idx = <i32>intValue;
        if (tooLarge && !indexing) {
          // nothing will be kept or indexed: only walk past the strings
          if (idx == 0) {
            q = this.skipString(p, end);
            if (q < 0) return this.fail(HP_TRUNCATED_STRING);
            p = <usize>q;
          } else if (idx > STATIC_COUNT + table.count) {
            return this.fail(HP_BAD_INDEX);
          }
          q = this.skipString(p, end);
          if (q < 0) return this.fail(HP_TRUNCATED_STRING);
          p = <usize>q;
          continue;
        }
        const mark = out.arena.len;
        let nameOff: i32, nl: i32, sname: i32;
        if (idx == 0) {
          q = this.readString(p, end, out);
          if (q < 0) return this.fail(q == -3 ? HP_BAD_HUFFMAN : HP_TRUNCATED_STRING);
          p = <usize>q;
          nameOff = strOff; nl = strLen;
          const np = out.arena.ptr + <usize>nameOff;
          sname = findStaticName(np, nl, hashBytes(HASH_SEED, np, nl));
        } else if (idx <= STATIC_COUNT) {
          nl = staticNameLen(idx);
          nameOff = out.put(staticNamePtr(idx), nl);
          sname = staticNameIndex(idx);
        } else {
          const rel = idx - STATIC_COUNT - 1;
          if (rel >= table.count) return this.fail(HP_BAD_INDEX);
          nl = table.nameLen(rel);
          nameOff = out.put(table.namePtr(rel), nl);
          sname = table.staticName(rel);
        }
        q = this.readString(p, end, out);
        if (q < 0) return this.fail(q == -3 ? HP_BAD_HUFFMAN : HP_TRUNCATED_STRING);
        p = <usize>q;
        const valueOff = strOff;
        const vl = strLen;
        if (indexing) {
          table.add(out.arena.ptr + <usize>nameOff, nl, out.arena.ptr + <usize>valueOff, vl, sname);
        }
        if (tooLarge) { out.arena.len = mark; continue; }
        listSize += nl + vl + ENTRY_OVERHEAD;
        if (listSize > listLimit) {
          tooLarge = true;
          out.arena.len = mark;
          continue;
        }
        out.pushRecord(nameOff, nl, valueOff, vl, <u32>sname | (never ? FIELD_NEVER_INDEXED : 0));
      }
    }
    this.listSize = listSize;
    return tooLarge ? HPACK_TOO_LARGE : HPACK_OK;
  }

  dispose(): void {
    this.table.dispose();
  }
}

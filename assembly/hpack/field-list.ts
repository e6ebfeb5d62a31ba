// Where decoded header fields go: their bytes in one arena and a fixed-size record per field, both
// read by the host after a call. Records hold offsets into the arena, not pointers, because the arena
// may move when it grows within a call.
import { Bytes } from '../bytes';

export const FIELD_WORDS: i32 = 5;
// record: [nameOff, nameLen, valueOff, valueLen, meta]
// meta: bits 0-7 static-table index of the name (0 = none), then the flags below, and in bits
// 16-23 the static-table entry whose value this is (0 = none): the host reuses its cached strings
export const FIELD_NEVER_INDEXED: u32 = 1 << 8;
export const FIELD_STATIC_VALUE_SHIFT: u32 = 16;

export class FieldList {
  arena: Bytes = new Bytes();
  recs: Bytes = new Bytes();
  count: i32 = 0;

  reset(): void {
    this.arena.len = 0;
    this.recs.len = 0;
    this.count = 0;
  }

  /** Appends bytes to the arena, returning their offset. */
  @inline put(p: usize, n: i32): i32 {
    const off = this.arena.len;
    this.arena.append(p, n);
    return off;
  }

  pushRecord(nameOff: i32, nameLen: i32, valueOff: i32, valueLen: i32, meta: u32): void {
    this.recs.reserve(FIELD_WORDS * 4);
    const r = this.recs.end();
    store<i32>(r, nameOff);
    store<i32>(r, nameLen, 4);
    store<i32>(r, valueOff, 8);
    store<i32>(r, valueLen, 12);
    store<u32>(r, meta, 16);
    this.recs.len += FIELD_WORDS * 4;
    this.count++;
  }

  /** Drops records (and their bytes) from index `count` on: used to discard a rejected block. */
  truncate(count: i32, arenaLen: i32): void {
    this.count = count;
    this.recs.len = count * FIELD_WORDS * 4;
    this.arena.len = arenaLen;
  }

  @inline recPtr(i: i32): usize { return this.recs.ptr + <usize>(i * FIELD_WORDS * 4); }
  @inline nameOff(i: i32): i32 { return load<i32>(this.recPtr(i)); }
  @inline nameLen(i: i32): i32 { return load<i32>(this.recPtr(i), 4); }
  @inline valueOff(i: i32): i32 { return load<i32>(this.recPtr(i), 8); }
  @inline valueLen(i: i32): i32 { return load<i32>(this.recPtr(i), 12); }
  @inline meta(i: i32): u32 { return load<u32>(this.recPtr(i), 16); }
  @inline namePtr(i: i32): usize { return this.arena.ptr + <usize>this.nameOff(i); }
  @inline valuePtr(i: i32): usize { return this.arena.ptr + <usize>this.valueOff(i); }
}

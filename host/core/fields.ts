// Header fields crossing the wasm boundary in both directions.
// In: field records of the last call (hpack/field-list.ts) → a flat [name, value, name, value…]
// array, the shape of Node's rawHeaders, with static-table names reused rather than re-decoded.
// Out: [name, value…] → the records h2_submit_headers and hpack_encode read from scratch memory.
import { core, mem, latin1, STATIC_NAMES, STATIC_VALUES } from './wasm.js';

const FIELD_BYTES = 20;
export const FIELD_SENSITIVE = 1;
export const FIELD_NO_INDEX = 2;
const FIELD_NEVER_INDEXED = 1 << 8;

/** A flat list of name/value pairs: [name0, value0, name1, value1, …]. Names are lowercase. */
export type FieldList = string[];

/** Reads `count` decoded fields starting at record `start`. `neverIndexed`, if given, gets their indexes. */
export function readFields(start: number, count: number, neverIndexed?: number[]): FieldList {
  const out: FieldList = new Array(count * 2);
  const { dv } = mem();
  const recs = core.field_records_ptr();
  const arena = core.field_arena_ptr();
  for (let i = 0; i < count; i++) {
    const r = recs + (start + i) * FIELD_BYTES;
    const meta = dv.getUint32(r + 16, true);
    const sname = meta & 0xff;
    const svalue = (meta >>> 16) & 0xff; // the field is a whole static-table entry: its cached value
    out[2 * i] = sname ? STATIC_NAMES[sname] : latin1(arena + dv.getInt32(r, true), dv.getInt32(r + 4, true));
    out[2 * i + 1] = svalue ? STATIC_VALUES[svalue] : latin1(arena + dv.getInt32(r + 8, true), dv.getInt32(r + 12, true));
    if (neverIndexed && meta & FIELD_NEVER_INDEXED) neverIndexed.push(i);
  }
  return out;
}

/**
 * Writes fields into scratch memory for the core's encoder. `flags(i)` gives per-field flags
 * (FIELD_SENSITIVE, FIELD_NO_INDEX). Strings are written as latin1: one byte per char, so any byte
 * a peer sent comes back out unchanged. Returns the field count.
 */
export function writeFields(fields: FieldList, sensitive?: ReadonlySet<string>): number {
  const count = fields.length >> 1;
  let size = count * 12;
  for (let i = 0; i < fields.length; i++) size += fields[i].length;
  const base = core.scratch(size);
  const { dv, u8, buf } = mem();
  let p = base;
  for (let i = 0; i < count; i++) {
    const name = fields[2 * i];
    const value = fields[2 * i + 1];
    dv.setUint32(p, name.length, true);
    dv.setUint32(p + 4, value.length, true);
    dv.setUint32(p + 8, sensitive !== undefined && sensitive.has(name) ? FIELD_SENSITIVE : 0, true);
    p = putLatin1(u8, buf, p + 12, name);
    p = putLatin1(u8, buf, p, value);
  }
  return count;
}

// Short strings are cheaper to copy in JS than through a native call; long ones the other way round.
function putLatin1(u8: Uint8Array, buf: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n > 48) return p + buf.write(s, p, n, 'latin1');
  for (let k = 0; k < n; k++) u8[p + k] = s.charCodeAt(k);
  return p + n;
}

// The records the host reads after each call into the core: 8 little-endian i32 words each,
// [kind, stream id, flags, a, b, c, d, e]. One call can yield many records; the host walks them with
// one DataView. Header fields of HEADERS events are in the shared FieldList (hpack/field-list.ts).
import { Bytes } from './bytes';
import { FieldList } from './hpack/field-list';

export const EVENT_WORDS: i32 = 8;

export const EV_HEADERS: i32 = 1;       // flags: END_STREAM; a: first field, b: field count, c: message kind, d: status
export const EV_DATA: i32 = 2;          // flags: END_STREAM; a: payload pointer, b: length, c: flow-controlled length
export const EV_RST_STREAM: i32 = 3;    // a: error code, b: 1 when refused by the peer's GOAWAY
export const EV_GOAWAY: i32 = 4;        // a: last stream id, b: error code, c: debug pointer, d: debug length
export const EV_PING_ACK: i32 = 5;      // a: pointer to the 8 opaque bytes
export const EV_WINDOW_UPDATE: i32 = 6; // sending may resume on this stream (0: the connection)
export const EV_SETTINGS: i32 = 7;      // the peer's settings changed
export const EV_SETTINGS_ACK: i32 = 8;  // the peer acknowledged ours
export const EV_STREAM_ERROR: i32 = 9;  // we reset the stream: a: error code (0: none sent), b: reason, c: detail
export const EV_CONN_ERROR: i32 = 10;   // we sent GOAWAY and stop reading: a: error code, b: reason, c: detail

export const events = new Bytes();
export let eventCount: i32 = 0;
export const fields = new FieldList();

export function resetEvents(): void {
  events.len = 0;
  eventCount = 0;
  fields.reset();
}

export function emit(kind: i32, sid: u32, flags: i32, a: i32, b: i32, c: i32, d: i32): void {
  events.reserve(EVENT_WORDS * 4);
  const p = events.end();
  store<i32>(p, kind);
  store<u32>(p, sid, 4);
  store<i32>(p, flags, 8);
  store<i32>(p, a, 12);
  store<i32>(p, b, 16);
  store<i32>(p, c, 20);
  store<i32>(p, d, 24);
  store<i32>(p, 0, 28);
  events.len += EVENT_WORDS * 4;
  eventCount++;
}

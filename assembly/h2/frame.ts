// RFC 9113 §4 and §6: frame layout, types and flags, and writers for the frames the core sends.
import { Bytes } from '../bytes';

export const FRAME_HEADER: i32 = 9;

export const DATA: u8 = 0x0;
export const HEADERS: u8 = 0x1;
export const PRIORITY: u8 = 0x2;
export const RST_STREAM: u8 = 0x3;
export const SETTINGS: u8 = 0x4;
export const PUSH_PROMISE: u8 = 0x5;
export const PING: u8 = 0x6;
export const GOAWAY: u8 = 0x7;
export const WINDOW_UPDATE: u8 = 0x8;
export const CONTINUATION: u8 = 0x9;

export const FLAG_END_STREAM: u8 = 0x1;
export const FLAG_ACK: u8 = 0x1;
export const FLAG_END_HEADERS: u8 = 0x4;
export const FLAG_PADDED: u8 = 0x8;
export const FLAG_PRIORITY: u8 = 0x20;

export const PREFACE_LEN: i32 = 24;
// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
export const PREFACE: usize = memory.data<u8>([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a,
  0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
]);

export function writeFrameHeader(out: Bytes, length: i32, type: u8, flags: u8, sid: u32): void {
  out.reserve(FRAME_HEADER);
  const p = out.end();
  store<u8>(p, <u8>(length >> 16));
  store<u8>(p + 1, <u8>(length >> 8));
  store<u8>(p + 2, <u8>length);
  store<u8>(p + 3, type);
  store<u8>(p + 4, flags);
  store<u32>(p + 5, bswap<u32>(sid & 0x7fffffff));
  out.len += FRAME_HEADER;
}

/** Patches the 24-bit length of a frame header written earlier at `at` (offset in out). */
export function patchLength(out: Bytes, at: i32, length: i32): void {
  const p = out.ptr + <usize>at;
  store<u8>(p, <u8>(length >> 16));
  store<u8>(p + 1, <u8>(length >> 8));
  store<u8>(p + 2, <u8>length);
}

export function writeRstStream(out: Bytes, sid: u32, code: u32): void {
  writeFrameHeader(out, 4, RST_STREAM, 0, sid);
  out.push32be(code);
}

export function writeWindowUpdate(out: Bytes, sid: u32, inc: u32): void {
  writeFrameHeader(out, 4, WINDOW_UPDATE, 0, sid);
  out.push32be(inc & 0x7fffffff);
}

export function writePing(out: Bytes, ack: bool, payload: usize): void {
  writeFrameHeader(out, 8, PING, ack ? FLAG_ACK : 0, 0);
  out.append(payload, 8);
}

export function writeGoaway(out: Bytes, lastSid: u32, code: u32, debug: usize, debugLen: i32): void {
  writeFrameHeader(out, 8 + debugLen, GOAWAY, 0, 0);
  out.push32be(lastSid & 0x7fffffff);
  out.push32be(code);
  out.append(debug, debugLen);
}

export function writeSetting(out: Bytes, id: u32, value: u32): void {
  out.reserve(6);
  const p = out.end();
  store<u8>(p, <u8>(id >> 8));
  store<u8>(p + 1, <u8>id);
  store<u32>(p + 2, bswap<u32>(value));
  out.len += 6;
}

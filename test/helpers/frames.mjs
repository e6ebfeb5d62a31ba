// Raw HTTP/2 frames for driving the core with exactly the bytes a test needs, valid or not, and a
// parser for what it answers. Header blocks here use HPACK literals without indexing (RFC 7541
// §6.2.2), written by hand so that a test can say things our encoder never would.
import { H2Connection } from '../../dist/host/index.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 };
export const E = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11 };

export function frame(type, flags, sid, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(sid >>> 0, 5);
  return Buffer.concat([h, payload]);
}
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
export const settings = (pairs = [], flags = 0) => frame(T.SETTINGS, flags, 0, Buffer.concat(pairs.map(([id, v]) => {
  const b = Buffer.alloc(6); b.writeUInt16BE(id); b.writeUInt32BE(v >>> 0, 2); return b;
})));
export const settingsAck = () => frame(T.SETTINGS, F.ACK, 0);
export const windowUpdate = (sid, inc) => frame(T.WINDOW_UPDATE, 0, sid, u32(inc));
export const rstStream = (sid, code) => frame(T.RST_STREAM, 0, sid, u32(code));
export const ping = (payload = Buffer.from('12345678'), flags = 0) => frame(T.PING, flags, 0, payload);
export const goaway = (last, code) => frame(T.GOAWAY, 0, 0, Buffer.concat([u32(last), u32(code)]));
export const data = (sid, bytes, flags = 0) => frame(T.DATA, flags, sid, Buffer.from(bytes));

function hpackInt(first, prefix, v) {
  const max = (1 << prefix) - 1;
  if (v < max) return [first | v];
  const out = [first | max];
  v -= max;
  while (v >= 128) { out.push((v & 0x7f) | 0x80); v >>= 7; }
  out.push(v);
  return out;
}
/** A header block of literal-without-indexing fields from [name, value, …] (any bytes). */
export function block(fields) {
  const parts = [];
  for (let i = 0; i < fields.length; i += 2) {
    const n = Buffer.from(fields[i], 'latin1');
    const v = Buffer.from(fields[i + 1], 'latin1');
    parts.push(Buffer.from([0x00, ...hpackInt(0, 7, n.length)]), n, Buffer.from(hpackInt(0, 7, v.length)), v);
  }
  return Buffer.concat(parts);
}
export const headers = (sid, fields, flags = F.END_HEADERS) => frame(T.HEADERS, flags, sid, Buffer.isBuffer(fields) ? fields : block(fields));
export const GET = [':method', 'GET', ':scheme', 'http', ':authority', 'example.com', ':path', '/'];
export const POST = [':method', 'POST', ':scheme', 'http', ':authority', 'example.com', ':path', '/upload'];

export function parseFrames(buf) {
  const frames = [];
  let p = 0;
  while (p + 9 <= buf.length) {
    const len = buf.readUIntBE(p, 3);
    frames.push({ type: buf[p + 3], flags: buf[p + 4], sid: buf.readUInt32BE(p + 5) & 0x7fffffff, payload: buf.subarray(p + 9, p + 9 + len) });
    p += 9 + len;
  }
  return frames;
}

/**
 * The core on one side, the test as its peer. `send` feeds bytes; `frames` collects every frame the
 * core wrote; `events` every event it raised.
 */
export class Peer {
  constructor(role = 'server', options = {}) {
    this.events = [];
    this.frames = [];
    this.out = Buffer.alloc(0);
    const ev = (name) => (...args) => this.events.push([name, ...args]);
    this.conn = new H2Connection(role, {
      onHeaders: ev('headers'), onData: (sid, d, end) => this.events.push(['data', sid, Buffer.from(d), end]),
      onRstStream: ev('rst'), onGoaway: ev('goaway'), onPingAck: ev('pingAck'), onWindowUpdate: ev('window'),
      onSettings: ev('settings'), onSettingsAck: ev('settingsAck'), onStreamError: ev('streamError'),
      onConnectionError: ev('connError'),
    }, options);
    this.collect();
  }
  collect() {
    const out = this.conn.output();
    if (out) {
      this.out = Buffer.concat([this.out, ...out]);
      const start = this.role === 'client' ? 0 : 0;
      this.frames = parseFrames(this.out[0] === 0x50 ? this.out.subarray(PREFACE.length) : this.out);
    }
  }
  send(...bufs) {
    this.conn.receive(Buffer.concat(bufs), this.now ?? 0);
    this.collect();
    return this;
  }
  /** The preface (server role) and an empty SETTINGS, acknowledged. */
  open(peerSettings = []) {
    return this.send(this.conn.role === 'server' ? PREFACE : Buffer.alloc(0), settings(peerSettings), settingsAck());
  }
  goaway() {
    const g = this.frames.find((f) => f.type === T.GOAWAY);
    return g ? { last: g.payload.readUInt32BE(0) & 0x7fffffff, code: g.payload.readUInt32BE(4) } : null;
  }
  rst(sid) {
    const r = this.frames.filter((f) => f.type === T.RST_STREAM && f.sid === sid).pop();
    return r ? r.payload.readUInt32BE(0) : null;
  }
  of(type) { return this.frames.filter((f) => f.type === type); }
  event(name) { return this.events.filter((e) => e[0] === name); }
}

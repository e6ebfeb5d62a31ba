// RFC 9113 §3.4, §4, §6: the preface and each frame type's own rules, answered with the codes the
// RFC names. The core is the server unless a test says otherwise; the test plays its peer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer, PREFACE, T, F, E, frame, settings, settingsAck, ping, windowUpdate, rstStream, goaway, headers, data, block, GET, POST } from '../helpers/frames.mjs';

const connError = (p, code) => {
  const g = p.goaway();
  assert.ok(g, 'expected GOAWAY');
  assert.is(g.code, code, `GOAWAY code ${g.code}, wanted ${code}`);
  assert.ok(p.conn.failed);
};

test('server sends SETTINGS first, acknowledges the client SETTINGS, and raises the connection window', () => {
  const p = new Peer('server');
  assert.is(p.frames[0].type, T.SETTINGS);
  assert.is(p.frames[0].flags, 0);
  p.send(PREFACE, settings([[4, 100000]]));
  const acks = p.frames.filter((f) => f.type === T.SETTINGS && f.flags === F.ACK);
  assert.is(acks.length, 1);
  assert.is(acks[0].payload.length, 0);
  assert.ok(p.of(T.WINDOW_UPDATE).some((f) => f.sid === 0));
  assert.is(p.conn.remoteSetting(4), 100000);
});

test('client sends the preface then SETTINGS with ENABLE_PUSH 0', () => {
  const p = new Peer('client');
  assert.ok(p.out.subarray(0, 24).equals(PREFACE));
  const s = p.frames[0];
  assert.is(s.type, T.SETTINGS);
  const pairs = [];
  for (let i = 0; i < s.payload.length; i += 6) pairs.push([s.payload.readUInt16BE(i), s.payload.readUInt32BE(i + 2)]);
  assert.ok(pairs.some(([id, v]) => id === 2 && v === 0));
});

test('preface: wrong bytes → PROTOCOL_ERROR', () => {
  const p = new Peer().send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  connError(p, E.PROTOCOL_ERROR);
});

test('preface split across reads is accepted', () => {
  const p = new Peer();
  p.send(PREFACE.subarray(0, 5));
  p.send(PREFACE.subarray(5, 20));
  p.send(PREFACE.subarray(20), settings());
  assert.is(p.goaway(), null);
  assert.is(p.event('settings').length, 1);
});

test('first frame after the preface must be SETTINGS', () => {
  connError(new Peer().send(PREFACE, ping()), E.PROTOCOL_ERROR);
});

test('frame larger than SETTINGS_MAX_FRAME_SIZE → FRAME_SIZE_ERROR', () => {
  connError(new Peer().open().send(headers(1, GET, F.END_HEADERS), data(1, Buffer.alloc(16385))), E.FRAME_SIZE_ERROR);
});

test('a frame split byte by byte is processed once whole', () => {
  const p = new Peer().open();
  const bytes = headers(1, GET, F.END_HEADERS | F.END_STREAM);
  for (const b of bytes) p.send(Buffer.from([b]));
  assert.is(p.event('headers').length, 1);
});

test('DATA, HEADERS, PRIORITY, RST_STREAM, CONTINUATION on stream 0 → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(data(0, 'x')), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(headers(0, GET)), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(frame(T.PRIORITY, 0, 0, Buffer.alloc(5))), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(rstStream(0, 0)), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(frame(T.CONTINUATION, F.END_HEADERS, 0)), E.PROTOCOL_ERROR);
});

test('SETTINGS, PING, GOAWAY on a stream → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(frame(T.SETTINGS, 0, 1)), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(frame(T.PING, 0, 1, Buffer.alloc(8))), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(frame(T.GOAWAY, 0, 1, Buffer.alloc(8))), E.PROTOCOL_ERROR);
});

test('SETTINGS: length not a multiple of 6, ACK with payload → FRAME_SIZE_ERROR', () => {
  connError(new Peer().open().send(frame(T.SETTINGS, 0, 0, Buffer.alloc(5))), E.FRAME_SIZE_ERROR);
  connError(new Peer().open().send(frame(T.SETTINGS, F.ACK, 0, Buffer.alloc(6))), E.FRAME_SIZE_ERROR);
});

test('SETTINGS values: ENABLE_PUSH 2, MAX_FRAME_SIZE out of range → PROTOCOL_ERROR; INITIAL_WINDOW_SIZE 2^31 → FLOW_CONTROL_ERROR', () => {
  connError(new Peer().open().send(settings([[2, 2]])), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(settings([[5, 16383]])), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(settings([[5, 1 << 24]])), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(settings([[4, 2 ** 31]])), E.FLOW_CONTROL_ERROR);
  connError(new Peer().open().send(settings([[8, 2]])), E.PROTOCOL_ERROR);
});

test('SETTINGS: unknown identifiers are ignored; ENABLE_CONNECT_PROTOCOL cannot go back to 0', () => {
  const p = new Peer().open([[0x99, 7], [8, 1]]);
  assert.is(p.goaway(), null);
  connError(p.send(settings([[8, 0]])), E.PROTOCOL_ERROR);
});

test('client: a server announcing ENABLE_PUSH 1 → PROTOCOL_ERROR', () => {
  connError(new Peer('client').send(settings([[2, 1]])), E.PROTOCOL_ERROR);
});

test('PING is answered with ACK and the same payload; wrong length → FRAME_SIZE_ERROR', () => {
  const p = new Peer().open().send(ping(Buffer.from('abcdefgh')));
  const ack = p.of(T.PING).find((f) => f.flags === F.ACK);
  assert.ok(ack);
  assert.is(ack.payload.toString(), 'abcdefgh');
  connError(new Peer().open().send(frame(T.PING, 0, 0, Buffer.alloc(7))), E.FRAME_SIZE_ERROR);
});

test('PING ACK from the peer is reported, not answered', () => {
  const p = new Peer().open().send(ping(Buffer.from('zzzzzzzz'), F.ACK));
  assert.is(p.of(T.PING).length, 0);
  assert.is(p.event('pingAck')[0][1].toString(), 'zzzzzzzz');
});

test('WINDOW_UPDATE: wrong length → FRAME_SIZE_ERROR; zero on the connection → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(frame(T.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))), E.FRAME_SIZE_ERROR);
  connError(new Peer().open().send(windowUpdate(0, 0)), E.PROTOCOL_ERROR);
});

test('WINDOW_UPDATE: zero on a stream → RST_STREAM PROTOCOL_ERROR; overflow → FLOW_CONTROL_ERROR', () => {
  const p = new Peer().open().send(headers(1, GET), windowUpdate(1, 0));
  assert.is(p.rst(1), E.PROTOCOL_ERROR);
  assert.is(p.goaway(), null);
  const q = new Peer().open().send(headers(1, GET), windowUpdate(1, 2 ** 31 - 1));
  assert.is(q.rst(1), E.FLOW_CONTROL_ERROR);
  connError(new Peer().open().send(windowUpdate(0, 2 ** 31 - 1)), E.FLOW_CONTROL_ERROR);
});

test('WINDOW_UPDATE on an idle stream → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(windowUpdate(5, 1)), E.PROTOCOL_ERROR);
});

test('RST_STREAM: wrong length → FRAME_SIZE_ERROR; on an idle stream → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(headers(1, GET), frame(T.RST_STREAM, 0, 1, Buffer.alloc(3))), E.FRAME_SIZE_ERROR);
  connError(new Peer().open().send(rstStream(3, E.CANCEL)), E.PROTOCOL_ERROR);
});

test('PRIORITY: wrong length → stream FRAME_SIZE_ERROR; self-dependency → stream PROTOCOL_ERROR; otherwise ignored', () => {
  const p = new Peer().open().send(frame(T.PRIORITY, 0, 3, Buffer.alloc(4)));
  assert.is(p.rst(3), E.FRAME_SIZE_ERROR);
  const self = Buffer.alloc(5); self.writeUInt32BE(5);
  const q = new Peer().open().send(frame(T.PRIORITY, 0, 5, self));
  assert.is(q.rst(5), E.PROTOCOL_ERROR);
  const ok = Buffer.alloc(5); ok.writeUInt32BE(1);
  const r = new Peer().open().send(frame(T.PRIORITY, 0, 7, ok), headers(7, GET));
  assert.is(r.goaway(), null);
  assert.is(r.event('headers').length, 1);
});

test('GOAWAY: wrong length → FRAME_SIZE_ERROR; valid one is reported', () => {
  connError(new Peer().open().send(frame(T.GOAWAY, 0, 0, Buffer.alloc(7))), E.FRAME_SIZE_ERROR);
  const p = new Peer().open().send(goaway(0, E.NO_ERROR));
  assert.equal(p.event('goaway')[0].slice(1, 3), [0, 0]);
});

test('PUSH_PROMISE to a server, or to a client that disabled push → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(frame(T.PUSH_PROMISE, F.END_HEADERS, 1, Buffer.alloc(4))), E.PROTOCOL_ERROR);
  const c = new Peer('client').send(settings(), settingsAck());
  c.conn.submitHeaders(0, GET, true);
  connError(c.send(frame(T.PUSH_PROMISE, F.END_HEADERS, 1, Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from([0x82])]))), E.PROTOCOL_ERROR);
});

test('unknown frame types and unknown flags are ignored', () => {
  const p = new Peer().open().send(frame(0xfa, 0xff, 0, Buffer.from('whatever')), frame(0x20, 0, 1, Buffer.alloc(3)),
    headers(1, GET, F.END_HEADERS | F.END_STREAM | 0x40 | 0x02));
  assert.is(p.goaway(), null);
  assert.is(p.event('headers').length, 1);
});

test('DATA padding: pad length ≥ payload → PROTOCOL_ERROR; padding is not delivered but is credited', () => {
  const p = new Peer().open().send(headers(1, POST));
  const padded = Buffer.concat([Buffer.from([4]), Buffer.from('abc'), Buffer.alloc(4)]);
  p.send(frame(T.DATA, F.PADDED, 1, padded));
  const d = p.event('data');
  assert.is(d.length, 1);
  assert.is(d[0][2].toString(), 'abc');
  connError(new Peer().open().send(headers(1, POST), frame(T.DATA, F.PADDED, 1, Buffer.from([5, 1, 2, 3, 4]))), E.PROTOCOL_ERROR);
});

test('HEADERS padding and priority fields are stripped', () => {
  const fields = Buffer.from(block(GET));
  const payload = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), fields, Buffer.alloc(3)]);
  const p = new Peer().open().send(frame(T.HEADERS, F.END_HEADERS | F.PADDED | F.PRIORITY | F.END_STREAM, 1, payload));
  assert.is(p.goaway(), null);
  assert.equal(p.event('headers')[0][2].slice(0, 4), [':method', 'GET', ':scheme', 'http']);
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS | F.PADDED, 1, Buffer.concat([Buffer.from([200]), fields]))), E.PROTOCOL_ERROR);
});

test.run();

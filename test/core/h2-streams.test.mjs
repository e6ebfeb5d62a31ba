// RFC 9113 §5.1 stream states and identifiers, §6.10 field blocks across CONTINUATION, §6.9 flow
// control in both directions, §6.8 GOAWAY.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer, T, F, E, frame, settings, windowUpdate, rstStream, goaway, headers, data, block, GET, POST } from '../helpers/frames.mjs';

const connError = (p, code) => {
  const g = p.goaway();
  assert.ok(g, 'expected GOAWAY');
  assert.is(g.code, code, `GOAWAY code ${g.code}, wanted ${code}`);
};

test('a request is delivered with its fields in order', () => {
  const p = new Peer().open().send(headers(1, [...GET, 'x-a', '1', 'x-b', '2'], F.END_HEADERS | F.END_STREAM));
  const [, sid, fields, end, kind] = p.event('headers')[0];
  assert.is(sid, 1);
  assert.equal(fields, [...GET, 'x-a', '1', 'x-b', '2']);
  assert.is(end, true);
  assert.is(kind, 1);
});

test('HEADERS on an even stream id → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(headers(2, GET)), E.PROTOCOL_ERROR);
});

test('stream ids must increase: HEADERS on a lower id → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(headers(5, GET, F.END_HEADERS | F.END_STREAM), headers(3, GET)), E.PROTOCOL_ERROR);
});

test('DATA on an idle stream → PROTOCOL_ERROR', () => {
  connError(new Peer().open().send(data(1, 'x')), E.PROTOCOL_ERROR);
});

test('half-closed (remote): DATA or HEADERS after END_STREAM → STREAM_CLOSED', () => {
  const p = new Peer().open().send(headers(1, GET, F.END_HEADERS | F.END_STREAM), data(1, 'late'));
  assert.is(p.rst(1), E.STREAM_CLOSED);
  assert.is(p.goaway(), null);
  const q = new Peer().open().send(headers(1, GET, F.END_HEADERS | F.END_STREAM), headers(1, ['x', 'y'], F.END_HEADERS | F.END_STREAM));
  assert.is(q.rst(1), E.STREAM_CLOSED);
});

test('closed: DATA on a stream that ended both ways → STREAM_CLOSED', () => {
  const p = new Peer().open().send(headers(1, GET, F.END_HEADERS | F.END_STREAM));
  p.conn.submitHeaders(1, [':status', '204'], true);
  p.collect();
  connError(p.send(data(1, 'x')), E.STREAM_CLOSED);
});

test('closed by the peer: frames after its RST_STREAM → STREAM_CLOSED; RST_STREAM and PRIORITY ignored', () => {
  const p = new Peer().open().send(headers(1, POST), rstStream(1, E.CANCEL));
  assert.equal(p.event('rst')[0].slice(1, 3), [1, E.CANCEL]);
  p.send(rstStream(1, E.CANCEL), frame(T.PRIORITY, 0, 1, Buffer.from([0, 0, 0, 0, 1])));
  assert.is(p.rst(1), null); // never RST in answer to RST
  p.send(data(1, 'x'));
  assert.is(p.rst(1), E.STREAM_CLOSED);
  assert.is(p.goaway(), null);
});

test('closed by us: frames in flight are ignored, but DATA still counts against the connection window', () => {
  const p = new Peer().open().send(headers(1, POST));
  p.conn.resetStream(1, E.CANCEL);
  p.collect();
  p.send(data(1, 'in flight'), windowUpdate(1, 100), headers(1, ['x-trailer', '1'], F.END_HEADERS | F.END_STREAM));
  assert.is(p.goaway(), null);
  assert.is(p.event('data').length, 0);
});

test('CONTINUATION: a block split over three frames is decoded once', () => {
  const b = block([...GET, 'x-long', 'v'.repeat(100)]);
  const p = new Peer().open().send(
    frame(T.HEADERS, F.END_STREAM, 1, b.subarray(0, 10)),
    frame(T.CONTINUATION, 0, 1, b.subarray(10, 50)),
    frame(T.CONTINUATION, F.END_HEADERS, 1, b.subarray(50)));
  const h = p.event('headers');
  assert.is(h.length, 1);
  assert.is(h[0][2][9], 'v'.repeat(100));
  assert.is(h[0][3], true);
});

test('CONTINUATION: interrupted by another frame, or on another stream, or unexpected → PROTOCOL_ERROR', () => {
  const b = block(GET);
  connError(new Peer().open().send(frame(T.HEADERS, 0, 1, b), data(1, 'x')), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(frame(T.HEADERS, 0, 1, b), frame(T.CONTINUATION, F.END_HEADERS, 3)), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(frame(T.CONTINUATION, F.END_HEADERS, 1, b)), E.PROTOCOL_ERROR);
  connError(new Peer().open().send(headers(1, GET), frame(T.CONTINUATION, F.END_HEADERS, 1, b)), E.PROTOCOL_ERROR);
});

test('trailers: a second HEADERS must end the stream', () => {
  const p = new Peer().open().send(headers(1, POST), data(1, 'body'), headers(1, ['x-sum', '1'], F.END_HEADERS | F.END_STREAM));
  const h = p.event('headers');
  assert.is(h.length, 2);
  assert.equal(h[1][2], ['x-sum', '1']);
  assert.is(h[1][4], 4); // trailers
  const q = new Peer().open().send(headers(1, POST), headers(1, ['x-sum', '1']));
  assert.is(q.rst(1), E.PROTOCOL_ERROR);
});

test('trailers may not carry pseudo-header fields', () => {
  const p = new Peer().open().send(headers(1, POST), headers(1, [':path', '/x'], F.END_HEADERS | F.END_STREAM));
  assert.is(p.rst(1), E.PROTOCOL_ERROR);
});

test('flow control in: DATA beyond the stream window → RST FLOW_CONTROL_ERROR', () => {
  const p = new Peer('server', { initialWindowSize: 65535, connectionWindowSize: 1 << 20 }).open();
  p.send(headers(1, POST));
  for (let i = 0; i < 4; i++) p.send(data(1, Buffer.alloc(16384)));
  assert.is(p.rst(1), E.FLOW_CONTROL_ERROR);
  assert.is(p.goaway(), null);
});

test('flow control in: DATA beyond the connection window → GOAWAY FLOW_CONTROL_ERROR', () => {
  const p = new Peer('server', { initialWindowSize: 1 << 20, connectionWindowSize: 65535 }).open();
  p.send(headers(1, POST), headers(3, POST));
  for (let i = 0; i < 2; i++) p.send(data(1, Buffer.alloc(16384)), data(3, Buffer.alloc(16384)));
  connError(p, E.FLOW_CONTROL_ERROR);
});

test('flow control in: credit is returned only as the application consumes', () => {
  const p = new Peer('server', { initialWindowSize: 65535, connectionWindowSize: 65535 }).open();
  p.send(headers(1, POST));
  const before = p.of(T.WINDOW_UPDATE).length;
  p.send(data(1, Buffer.alloc(16384)), data(1, Buffer.alloc(16384)), data(1, Buffer.alloc(16384)));
  assert.is(p.of(T.WINDOW_UPDATE).length, before, 'no credit before consumption');
  p.conn.consume(1, 49152);
  p.collect();
  const updates = p.of(T.WINDOW_UPDATE).slice(before);
  assert.ok(updates.some((f) => f.sid === 1 && f.payload.readUInt32BE(0) === 49152));
  assert.ok(updates.some((f) => f.sid === 0 && f.payload.readUInt32BE(0) === 49152));
});

test('flow control out: DATA waits for the peer window, resumes on WINDOW_UPDATE, frames capped by MAX_FRAME_SIZE', () => {
  const p = new Peer().open([[4, 10]]);
  p.send(headers(1, GET, F.END_HEADERS | F.END_STREAM));
  p.conn.submitHeaders(1, [':status', '200'], false);
  const body = Buffer.alloc(100, 1);
  assert.is(p.conn.submitData(1, body, true), 10);
  assert.is(p.conn.submitData(1, body.subarray(10), true), 0);
  p.collect();
  p.send(windowUpdate(1, 50000));
  assert.ok(p.event('window').some((e) => e[1] === 1));
  assert.is(p.conn.submitData(1, body.subarray(10), true), 90);
  p.collect();
  const dataFrames = p.of(T.DATA);
  assert.equal(dataFrames.map((f) => f.payload.length), [10, 90]);
  assert.is(dataFrames[1].flags & F.END_STREAM, F.END_STREAM);
  // the connection window (65535 by default) caps too, and 16384 per frame
  const q = new Peer().open();
  q.send(headers(1, GET, F.END_HEADERS | F.END_STREAM));
  q.conn.submitHeaders(1, [':status', '200'], false);
  let sent = 0;
  for (let i = 0; i < 10; i++) sent += q.conn.submitData(1, Buffer.alloc(100000), false);
  assert.is(sent, 65535);
  q.collect();
  assert.ok(q.of(T.DATA).every((f) => f.payload.length <= 16384));
});

test('data never consumed is credited to the connection when its stream closes, without splitting a DATA frame', () => {
  const p = new Peer('server', { connectionWindowSize: 65535 }).open();
  // 20000 bytes the host never consumes (over ¼ of the window, so the credit is sent at once)
  p.send(headers(1, POST), data(1, Buffer.alloc(10000, 1)), data(1, Buffer.alloc(10000, 1), F.END_STREAM));
  p.conn.submitHeaders(1, [':status', '200'], false);
  p.conn.submitData(1, Buffer.from('hello'), true); // closes the stream: the 1000 bytes are credited now
  p.collect();
  const d = p.of(T.DATA);
  assert.is(d.length, 1);
  assert.is(d[0].payload.toString(), 'hello', 'the payload directly follows its header');
  assert.is(d[0].flags & F.END_STREAM, F.END_STREAM);
  assert.ok(p.of(T.WINDOW_UPDATE).some((f) => f.sid === 0 && f.payload.readUInt32BE(0) === 20000), 'connection credited');
  // and the host consuming after the close credits nothing twice
  const before = p.of(T.WINDOW_UPDATE).length;
  p.conn.consume(1, 20000);
  p.collect();
  assert.is(p.of(T.WINDOW_UPDATE).length, before);
});

test('SETTINGS_INITIAL_WINDOW_SIZE changes adjust open streams, even below zero', () => {
  const p = new Peer().open();
  p.send(headers(1, GET, F.END_HEADERS | F.END_STREAM));
  p.conn.submitHeaders(1, [':status', '200'], false);
  assert.is(p.conn.submitData(1, Buffer.alloc(30000), false), 16384);
  assert.is(p.conn.submitData(1, Buffer.alloc(30000), false), 16384);
  p.send(settings([[4, 16384]])); // window now 16384 - 32768 = -16384
  assert.is(p.conn.sendable(1), 0);
  p.send(windowUpdate(1, 16385));
  assert.is(p.conn.sendable(1), 1);
});

test('client: streams get odd ids in order; MAX_CONCURRENT_STREAMS of the peer is respected', () => {
  const c = new Peer('client').send(settings([[3, 2]]));
  assert.is(c.conn.submitHeaders(0, GET, true), 1);
  assert.is(c.conn.submitHeaders(0, GET, true), 3);
  assert.throws(() => c.conn.submitHeaders(0, GET, true), /concurrent stream limit/);
});

test('client: a response to HEAD may declare content-length without a body', () => {
  const c = new Peer('client').send(settings());
  const sid = c.conn.submitHeaders(0, [':method', 'HEAD', ':scheme', 'http', ':authority', 'a', ':path', '/'], true);
  c.send(headers(sid, [':status', '200', 'content-length', '500'], F.END_HEADERS | F.END_STREAM));
  assert.is(c.rst(sid), null);
  assert.is(c.event('headers')[0][5], 200);
});

test('client: 1xx then final response; 101 is refused; a 1xx with END_STREAM is malformed', () => {
  const c = new Peer('client').send(settings());
  const a = c.conn.submitHeaders(0, GET, true);
  c.send(headers(a, [':status', '100'], F.END_HEADERS), headers(a, [':status', '200'], F.END_HEADERS | F.END_STREAM));
  assert.equal(c.event('headers').map((e) => [e[4], e[5]]), [[3, 100], [2, 200]]);
  const b = c.conn.submitHeaders(0, GET, true);
  c.send(headers(b, [':status', '101', 'upgrade', 'h2c'], F.END_HEADERS));
  assert.is(c.rst(b), E.PROTOCOL_ERROR);
  const d = c.conn.submitHeaders(0, GET, true);
  c.send(headers(d, [':status', '103'], F.END_HEADERS | F.END_STREAM));
  assert.is(c.rst(d), E.PROTOCOL_ERROR);
});

test('client: HEADERS on a stream it never opened → PROTOCOL_ERROR', () => {
  connError(new Peer('client').send(settings(), headers(1, [':status', '200'])), E.PROTOCOL_ERROR);
});

test('GOAWAY from the server refuses the client streams above its last id', () => {
  const c = new Peer('client').send(settings());
  const a = c.conn.submitHeaders(0, GET, true);
  const b = c.conn.submitHeaders(0, GET, true);
  c.send(goaway(a, E.NO_ERROR));
  const rsts = c.event('rst');
  assert.equal(rsts.map((e) => e.slice(1)), [[b, E.REFUSED_STREAM, true]]);
  assert.throws(() => c.conn.submitHeaders(0, GET, true), /going away/);
  c.send(headers(a, [':status', '200'], F.END_HEADERS | F.END_STREAM));
  assert.is(c.event('headers').length, 1);
});

test('after our GOAWAY, new streams are ignored but earlier ones complete', () => {
  const p = new Peer().open().send(headers(1, POST));
  p.conn.goaway(0);
  p.collect();
  assert.is(p.goaway().last, 1);
  p.send(headers(3, GET, F.END_HEADERS | F.END_STREAM), data(1, 'done', F.END_STREAM));
  assert.equal(p.event('headers').map((e) => e[1]), [1]);
  assert.is(p.event('data')[0][3], true);
});

test.run();

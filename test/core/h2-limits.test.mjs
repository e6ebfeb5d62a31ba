// Limits that keep a hostile peer from making the core spend without bound: header list size
// (answered 431, HPACK state kept), compressed block size (CONTINUATION flood, CVE-2024-27316
// family), concurrent streams, rapid reset (CVE-2023-44487) and provoked resets (CVE-2025-8671),
// empty-frame floods (CVE-2019-9518), and HPACK errors as COMPRESSION_ERROR.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer, T, F, E, frame, rstStream, headers, data, block, GET, POST } from '../helpers/frames.mjs';
import { HpackEncoder, Reason } from '../../dist/host/index.js';

const connError = (p, code) => {
  const g = p.goaway();
  assert.ok(g, 'expected GOAWAY');
  assert.is(g.code, code, `GOAWAY code ${g.code}, wanted ${code}`);
};

test('header list over SETTINGS_MAX_HEADER_LIST_SIZE: reported for a 431, and the HPACK context stays in step', () => {
  const p = new Peer('server', { maxHeaderListSize: 1000 }).open();
  const enc = new HpackEncoder();
  // the oversized block adds entries to the dynamic table that the next block refers to
  const big = enc.encode([...GET, 'x-big', 'b'.repeat(2000), 'x-indexed', 'remember me']);
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, big));
  const err = p.event('streamError')[0];
  assert.equal(err.slice(1, 4), [1, 0, Reason.HEADER_LIST_TOO_LARGE]);
  assert.is(p.event('headers').length, 0);
  const next = enc.encode([...GET, 'x-indexed', 'remember me']);
  assert.ok(next.length < 10, 'the second block is mostly indexes');
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, next));
  assert.is(p.goaway(), null);
  assert.equal(p.event('headers')[0][2], [...GET, 'x-indexed', 'remember me']);
});

test('an HPACK bomb (one entry referenced many times) stops at the list limit', () => {
  const p = new Peer('server', { maxHeaderListSize: 65536 }).open();
  const first = new HpackEncoder();
  const b1 = first.encode([...GET, 'x-bomb', 'z'.repeat(3000)]);
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, b1));
  // 3000 one-byte references to the dynamic entry would decode to ~9 MB
  const refs = Buffer.alloc(3000, 0xbe);
  p.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, Buffer.concat([first.encode(GET), refs])));
  assert.ok(p.event('streamError').some((e) => e[1] === 3 && e[3] === Reason.HEADER_LIST_TOO_LARGE));
  assert.is(p.goaway(), null);
});

test('CONTINUATION flood: a compressed block past the bound → ENHANCE_YOUR_CALM, without waiting for END_HEADERS', () => {
  const p = new Peer('server', { maxHeaderListSize: 16384 }).open();
  p.send(frame(T.HEADERS, 0, 1, block(GET)));
  for (let i = 0; i < 100 && !p.goaway(); i++) p.send(frame(T.CONTINUATION, 0, 1, Buffer.alloc(16000, 0x40)));
  connError(p, E.ENHANCE_YOUR_CALM);
});

test('CONTINUATION flood of empty frames → ENHANCE_YOUR_CALM', () => {
  const p = new Peer().open();
  p.send(frame(T.HEADERS, 0, 1, block(GET)));
  for (let i = 0; i < 1000 && !p.goaway(); i++) p.send(frame(T.CONTINUATION, 0, 1));
  connError(p, E.ENHANCE_YOUR_CALM);
});

test('empty DATA frames flood → ENHANCE_YOUR_CALM', () => {
  const p = new Peer().open().send(headers(1, POST));
  for (let i = 0; i < 1000 && !p.goaway(); i++) p.send(data(1, ''));
  connError(p, E.ENHANCE_YOUR_CALM);
});

test('streams beyond SETTINGS_MAX_CONCURRENT_STREAMS → REFUSED_STREAM, others unaffected', () => {
  const p = new Peer('server', { maxConcurrentStreams: 2 }).open();
  p.send(headers(1, POST), headers(3, POST), headers(5, POST));
  assert.is(p.rst(5), E.REFUSED_STREAM);
  assert.equal(p.event('headers').map((e) => e[1]), [1, 3]);
  p.send(data(1, 'x', F.END_STREAM));
  p.conn.submitHeaders(1, [':status', '200'], true);
  p.send(headers(7, POST));
  assert.is(p.rst(7), null, 'a slot freed up');
});

test('rapid reset: HEADERS + RST_STREAM pairs past the budget → ENHANCE_YOUR_CALM', () => {
  const p = new Peer('server', { resetBurst: 200, resetRate: 10 }).open();
  p.now = 1000;
  let sid = 1;
  for (let i = 0; i < 1000 && !p.goaway(); i++, sid += 2) p.send(headers(sid, GET), rstStream(sid, E.CANCEL));
  connError(p, E.ENHANCE_YOUR_CALM);
  assert.ok(sid > 300 && sid < 500, `stopped after ${(sid - 1) / 2} resets`);
});

test('rapid reset: the budget refills with time, so a steady client is never cut off', () => {
  const p = new Peer('server', { resetBurst: 100, resetRate: 50 }).open();
  let sid = 1;
  for (let i = 0; i < 1000; i++, sid += 2) {
    p.now = i * 100; // 10 resets a second, under the 50/s rate
    p.send(headers(sid, GET), rstStream(sid, E.CANCEL));
  }
  assert.is(p.goaway(), null);
});

test('provoked resets (malformed requests the server must reset) count against the same budget', () => {
  const p = new Peer('server', { resetBurst: 100, resetRate: 1 }).open();
  p.now = 0;
  let sid = 1;
  for (let i = 0; i < 500 && !p.goaway(); i++, sid += 2) p.send(headers(sid, [...GET, 'X-Bad', '1']));
  connError(p, E.ENHANCE_YOUR_CALM);
});

test('HPACK errors are COMPRESSION_ERROR: bad index, truncated string, bad Huffman, late size update', () => {
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.from([0xff, 0x7f]))), E.COMPRESSION_ERROR);
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.from([0x82, 0x00, 0x05, 0x61]))), E.COMPRESSION_ERROR);
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.from([0x82, 0x00, 0x81, 0x00, 0x81, 0xff]))), E.COMPRESSION_ERROR);
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.from([0x82, 0x3f, 0xe1, 0x1f]))), E.COMPRESSION_ERROR);
  // a size update above SETTINGS_HEADER_TABLE_SIZE (4096)
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.from([0x3f, 0xe1, 0x3f, 0x82]))), E.COMPRESSION_ERROR);
  // an integer that overflows
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))), E.COMPRESSION_ERROR);
});

test('HPACK: Huffman padding longer than 7 bits, or padding that is not EOS, is an error', () => {
  // literal name "a" (Huffman 0x1f = 00011 + 111 padding) is fine …
  const ok = new Peer().open().send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, Buffer.concat([block(GET), Buffer.from([0x00, 0x81, 0x1f, 0x01, 0x76])])));
  assert.is(ok.goaway(), null);
  assert.equal(ok.event('headers')[0][2].slice(-2), ['a', 'v']);
  // … with an extra all-ones byte it is 11 bits of padding
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.concat([block(GET), Buffer.from([0x00, 0x82, 0x1f, 0xff, 0x01, 0x76])]))), E.COMPRESSION_ERROR);
  // padding bits that are zeros
  connError(new Peer().open().send(frame(T.HEADERS, F.END_HEADERS, 1, Buffer.concat([block(GET), Buffer.from([0x00, 0x81, 0x18, 0x01, 0x76])]))), E.COMPRESSION_ERROR);
});

test.run();

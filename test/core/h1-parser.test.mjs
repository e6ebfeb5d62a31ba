// RFC 9112 parsing in the core: message heads, every body framing, pipelining, and the
// request-smuggling vectors a proxy must refuse rather than guess about.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { H1Parser, H1Flags } from '../../dist/host/core/h1-parser.js';

function parse(kind, input, { split = 0, eof = false, setup } = {}) {
  const out = [];
  const p = new H1Parser(kind, {
    onHead: (f, flags, status, minor) => out.push(['head', f, flags, status, minor]),
    onBody: (d) => {
      const last = out[out.length - 1];
      if (last && last[0] === 'body') last[1] += d.toString('latin1');
      else out.push(['body', d.toString('latin1')]);
    },
    onEnd: (t) => out.push(['end', t]),
    onError: (status, reason) => out.push(['error', status, reason]),
  });
  setup?.(p);
  const buf = Buffer.from(input, 'latin1');
  if (split > 0) for (let i = 0; i < buf.length; i += split) p.execute(buf.subarray(i, i + split));
  else p.execute(buf);
  if (eof) p.finish();
  p.destroy();
  return out;
}
const req = (s, o) => parse('request', s, o);
const errorOf = (out) => out.find((e) => e[0] === 'error');

test('GET with fields: pseudo-fields first, names lowercased, values trimmed', () => {
  const out = req('GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  v a l \r\nAccept: */*\r\n\r\n');
  assert.equal(out[0][1], [':method', 'GET', ':path', '/a?b=1', 'host', 'example.com', 'x-thing', 'v a l', 'accept', '*/*']);
  assert.ok(out[0][2] & H1Flags.KEEP_ALIVE);
  assert.not.ok(out[0][2] & H1Flags.HAS_BODY);
  assert.is(out[0][4], 1);
  assert.equal(out[1], ['end', null]);
});

test('a head split byte by byte parses the same', () => {
  const s = 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello';
  assert.equal(req(s, { split: 1 }), req(s));
});

test('content-length body; pipelined requests come out in order', () => {
  const out = req('POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: h\r\n\r\n');
  assert.equal(out.map((e) => e[0]), ['head', 'body', 'end', 'head', 'end']);
  assert.is(out[1][1], 'abc');
  assert.is(out[3][1][3], '/2');
});

test('chunked body with extensions and trailers', () => {
  const out = req('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Sum: 42\r\nX-B: c\r\n\r\n');
  assert.ok(out[0][2] & H1Flags.CHUNKED);
  assert.is(out[1][1], 'hello world');
  assert.equal(out[2], ['end', ['x-sum', '42', 'x-b', 'c']]);
});

test('chunked, split at every byte', () => {
  const out = req('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n', { split: 1 });
  assert.is(out[1][1], '0123456789');
  assert.equal(out[2], ['end', null]);
});

test('empty lines before a request line are ignored (RFC 9112 §2.2)', () => {
  assert.is(req('\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n')[0][0], 'head');
});

test('HTTP/1.0: close by default, keep-alive on request', () => {
  assert.not.ok(req('GET / HTTP/1.0\r\n\r\n')[0][2] & H1Flags.KEEP_ALIVE);
  assert.ok(req('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')[0][2] & H1Flags.KEEP_ALIVE);
  assert.not.ok(req('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')[0][2] & H1Flags.KEEP_ALIVE);
});

test('Upgrade, CONNECT and Expect: 100-continue are flagged', () => {
  assert.ok(req('GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')[0][2] & H1Flags.UPGRADE);
  assert.not.ok(req('GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n')[0][2] & H1Flags.UPGRADE);
  assert.ok(req('CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n')[0][2] & H1Flags.CONNECT);
  assert.not.ok(req('CONNECt h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n')[0][2] & H1Flags.CONNECT);
  assert.ok(req('PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n')[0][2] & H1Flags.EXPECT_CONTINUE);
});

const smuggling = {
  'Transfer-Encoding and Content-Length together': 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'two different Content-Lengths': 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd',
  'a Content-Length list that disagrees': 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 5\r\n\r\nabcd',
  'Content-Length with a sign': 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\nabcd',
  'Content-Length in hex': 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x4\r\n\r\nabcd',
  'whitespace before the colon': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
  'obs-fold continuation line': 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n',
  'bare LF line ending': 'GET / HTTP/1.1\nHost: h\n\n',
  'bare CR inside a value': 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n',
  'NUL in a value': 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n',
  'missing Host in HTTP/1.1': 'GET / HTTP/1.1\r\nX-A: a\r\n\r\n',
  'two Host fields': 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'Transfer-Encoding in HTTP/1.0': 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'chunk size with a 0x prefix': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n',
  'chunk size that overflows': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n',
  'chunk data not followed by CRLF': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n0\r\n\r\n',
  'chunk size line with a bare LF': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n',
  'space inside the request line': 'GET /a b HTTP/1.1\r\nHost: h\r\n\r\n',
  'double space in the request line': 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n',
};
for (const [name, input] of Object.entries(smuggling)) {
  test(`refused: ${name}`, () => {
    const out = req(input);
    const e = errorOf(out);
    assert.ok(e, `accepted: ${JSON.stringify(out)}`);
    assert.is(e[1], 400);
    assert.not.ok(out.some((x) => x[0] === 'end'), 'no message may complete');
  });
}

test('Transfer-Encoding whose final coding is not chunked → 400 (RFC 9112 §6.1 MUST); a coding before chunked we do not implement → 501', () => {
  for (const te of ['gzip', 'xchunked', 'chunked, chunked', 'chunked, gzip', 'identity', '']) {
    const e = errorOf(req(`POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ${te}\r\n\r\n`));
    assert.ok(e, te);
    assert.is(e[1], 400, te);
  }
  assert.is(errorOf(req('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'))[1], 501);
  assert.is(errorOf(req('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'))[1], 400);
});

test('equal repeated Content-Lengths are one length', () => {
  const out = req('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc');
  assert.is(out[1][1], 'abc');
});

test('limits: a long request line → 414, a large head → 431, too many fields → 431', () => {
  const small = (s) => {
    const out = [];
    const p = new H1Parser('request', { onHead() {}, onBody() {}, onEnd() {}, onError: (st) => out.push(st) }, { maxHeadSize: 1024, maxFields: 10 });
    p.execute(Buffer.from(s));
    p.destroy();
    return out[0];
  };
  assert.is(small(`GET /${'a'.repeat(2000)} HTTP/1.1\r\nHost: h\r\n\r\n`), 414);
  assert.is(small(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'a'.repeat(2000)}\r\n\r\n`), 431);
  assert.is(small(`GET / HTTP/1.1\r\nHost: h\r\n${'X: 1\r\n'.repeat(20)}\r\n`), 431);
});

test('HTTP/2 or HTTP/3 versions → 505; garbage → 400', () => {
  assert.is(errorOf(req('GET / HTTP/2.0\r\nHost: h\r\n\r\n'))[1], 505);
  assert.is(errorOf(req('\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n'))[1], 400);
});

test('a request cut off in its body is reported as truncated', () => {
  const out = req('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc', { eof: true });
  assert.is(errorOf(out)[1], 400);
});

// ---- responses ----

const res = (s, o) => parse('response', s, o);

test('responses: status, content-length, chunked, until-close', () => {
  const a = res('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
  assert.equal(a[0][1].slice(0, 2), [':status', '200']);
  assert.is(a[0][3], 200);
  assert.is(a[1][1], 'hi');
  const b = res('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n');
  assert.is(b[1][1], 'hi');
  const c = res('HTTP/1.1 200 OK\r\n\r\nall of it', { eof: true });
  assert.ok(c[0][2] & H1Flags.UNTIL_CLOSE);
  assert.is(c[1][1], 'all of it');
  assert.equal(c[2], ['end', null]);
  const d = res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz', { eof: true });
  assert.ok(d[0][2] & H1Flags.UNTIL_CLOSE);
});

test('responses without a body: 204, 304, 1xx, and after HEAD', () => {
  const a = res('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n');
  assert.equal(a.filter((e) => e[0] === 'head').map((e) => e[3]), [100, 204, 304]);
  assert.not.ok(a.some((e) => e[0] === 'body'));
  // the 100 is interim: only the two final responses end a message
  assert.equal(a.map((e) => e[0] === 'head' ? e[3] : e[0]), [100, 204, 'end', 304, 'end']);
  const h = res('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx', { setup: (p) => p.expectNoBody() });
  assert.equal(h.map((e) => e[0]), ['head', 'end', 'head', 'body', 'end']);
});

test('101 Switching Protocols stops parsing: the rest is the tunnel', () => {
  const out = [];
  const p = new H1Parser('response', { onHead: (f, fl, st) => out.push(st), onBody() { out.push('body'); }, onEnd() {}, onError: (s) => out.push(`error ${s}`) });
  p.execute(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello', 'latin1'));
  assert.equal(out, [101]);
  assert.is(p.tunnelBytes().toString('latin1'), '\x81\x05hello');
  p.destroy();
});

test('responses: malformed status lines and a bad Content-Length → 502', () => {
  assert.is(errorOf(res('HTTP/1.1 2000 OK\r\n\r\n'))[1], 502);
  assert.is(errorOf(res('HTTP/1.1 OK\r\n\r\n'))[1], 502);
  assert.is(errorOf(res('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n'))[1], 502);
  assert.is(errorOf(res('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'))[1], 502);
});

test.run();

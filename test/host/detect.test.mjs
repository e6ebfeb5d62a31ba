// Protocol detection on accepted connections: the HTTP/2 preface, an HTTP/1.x request line (its
// first line ending in HTTP/1.x), TLS, or else opaque — at every prefix of the bytes, so a
// client's small reads cannot change the answer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classify, classifyDeclared, MAX_REQUEST_LINE } from '../../dist/host/transport/detect.js';

/** The answer once all of `s` has arrived, checking that no prefix answered differently. */
function decide(s) {
  const b = Buffer.from(s, 'latin1');
  let first;
  for (let i = 1; i <= b.length; i++) {
    const p = classify(b.subarray(0, i));
    if (p !== undefined && first === undefined) first = p;
  }
  return first;
}

test('HTTP/2 preface, HTTP/1.x request lines, TLS', () => {
  assert.is(decide('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'h2');
  assert.is(decide('GET / HTTP/1.1\r\n'), 'http1');
  assert.is(decide('GET /path?q=1 HTTP/1.0\r\n'), 'http1');
  assert.is(decide('M-SEARCH * HTTP/1.1\r\n'), 'http1');
  assert.is(decide('CONNECT example.com:443 HTTP/1.1\r\n'), 'http1');
  assert.is(decide('GET / HTTP/1.1\n'), 'http1', 'a bare LF is the parser\'s to judge');
  assert.is(decide('\x16\x03\x01\x02\x00'), 'tls');
});

test('not HTTP: opaque, for the application to answer as it would without the mesh', () => {
  assert.is(decide('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), 'opaque', 'a broken preface');
  assert.is(decide('HELLO world\r\n'), 'opaque');
  assert.is(decide('GET / HTTP/2\r\n'), 'opaque');
  assert.is(decide('GET /\r\n'), 'opaque', 'HTTP/0.9');
  assert.is(decide('get / HTTP/1.1\r\n'), 'opaque');
  assert.is(decide('\x00\x01\x02binary'), 'opaque');
  assert.is(decide(' GET / HTTP/1.1\r\n'), 'opaque');
  assert.is(decide('SSH-2.0-OpenSSH_9.2\r\n'), 'opaque');
  assert.is(decide('*1\r\n$4\r\nPING\r\n'), 'opaque', 'Redis');
  assert.is(decide('\x16\x01'), 'opaque', 'not a TLS version');
});

test('HTTP/1 lines that are malformed stay HTTP/1: the parser refuses them (smuggling shapes)', () => {
  assert.is(decide('GET /a b HTTP/1.1\r\n'), 'http1');
  assert.is(decide('GET  / HTTP/1.1\r\n'), 'http1');
  assert.is(decide('GET /\x00 HTTP/1.1\r\n'), 'http1');
});

test('undecided until the line ends; a very long target is HTTP/1 once past the parser\'s limit', () => {
  assert.is(classify(Buffer.from('GET /aaaa')), undefined);
  assert.is(classify(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM')), undefined);
  const long = Buffer.concat([Buffer.from('GET /'), Buffer.alloc(MAX_REQUEST_LINE, 0x61)]);
  assert.is(classify(long), 'http1');
  assert.is(classify(Buffer.from('GETTINGVERYLONGMETHODNAME / HTTP/1.1\r\n')), 'opaque');
});

test('a declared protocol (a Server\'s proxyProtocol) is taken at once; the mesh\'s TLS and HTTP/2 are still recognised', () => {
  const d = (s, p) => classifyDeclared(Buffer.from(s, 'latin1'), p);
  assert.is(d('G', 'http1'), 'http1', 'no wait for the request line');
  assert.is(d('HELLO', 'http1'), 'http1', 'the declared protocol decides (the parser answers 400)');
  assert.is(d('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'http1'), 'h2', 'a sidecar\'s HTTP/2');
  assert.is(d('PRI * HTTP', 'http1'), undefined);
  assert.is(d('\x16\x03\x01', 'http1'), 'tls');
  assert.is(d('\x16\x03\x01', 'h2'), 'tls');
  assert.is(d('x', 'h2'), 'h2', 'the HTTP/2 session judges the preface');
  assert.is(d('HELLO world\r\n', null), 'opaque');
});

test.run();

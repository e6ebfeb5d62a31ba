// RFC 9113 §8.1–8.3: malformed requests and responses are stream errors of type PROTOCOL_ERROR,
// and never reach the application. Each case changes one thing in an otherwise valid request.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer, F, E, headers, data, settings, GET, POST } from '../helpers/frames.mjs';

function request(fields, flags = F.END_HEADERS | F.END_STREAM, options) {
  return new Peer('server', options).open().send(headers(1, fields, flags));
}
function rejected(name, fields, flags) {
  test(`malformed: ${name}`, () => {
    const p = request(fields, flags);
    assert.is(p.rst(1), E.PROTOCOL_ERROR, 'expected RST_STREAM PROTOCOL_ERROR');
    assert.is(p.goaway(), null, 'a stream error, not a connection error');
    assert.is(p.event('headers').length, 0, 'the application never sees it');
    assert.is(p.event('streamError')[0][2], E.PROTOCOL_ERROR);
  });
}
function accepted(name, fields, flags) {
  test(`accepted: ${name}`, () => {
    const p = request(fields, flags);
    assert.is(p.rst(1), null);
    assert.is(p.event('headers').length, 1);
  });
}
const without = (name) => {
  const f = [...GET];
  const i = f.indexOf(name);
  f.splice(i, 2);
  return f;
};

rejected('uppercase field name', [...GET, 'X-Upper', 'v']);
rejected('space in field name', [...GET, 'x bad', 'v']);
rejected('colon inside a regular field name', [...GET, 'x:y', 'v']);
rejected('empty field name', [...GET, '', 'v']);
rejected('CR in a value', [...GET, 'x-a', 'a\rb']);
rejected('LF in a value', [...GET, 'x-a', 'a\nb']);
rejected('NUL in a value', [...GET, 'x-a', 'a\0b']);
rejected('leading space in a value', [...GET, 'x-a', ' v']);
rejected('trailing tab in a value', [...GET, 'x-a', 'v\t']);
rejected('connection header', [...GET, 'connection', 'keep-alive']);
rejected('keep-alive header', [...GET, 'keep-alive', '5']);
rejected('proxy-connection header', [...GET, 'proxy-connection', 'close']);
rejected('transfer-encoding header', [...POST, 'transfer-encoding', 'chunked'], F.END_HEADERS);
rejected('upgrade header', [...GET, 'upgrade', 'websocket']);
rejected('te other than trailers', [...GET, 'te', 'gzip']);
rejected('missing :method', without(':method'));
rejected('missing :scheme', without(':scheme'));
rejected('missing :path', without(':path'));
rejected('empty :path', [':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', '']);
rejected('relative :path for http', [':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', 'index.html']);
rejected('space in :path', [':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', '/a b']);
rejected('* :path for GET', [':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', '*']);
rejected('duplicate :path', [...GET, ':path', '/again']);
rejected('pseudo-header after a regular field', [':method', 'GET', ':scheme', 'http', 'x-a', '1', ':path', '/']);
rejected('unknown pseudo-header', [...GET, ':custom', '1']);
rejected('response pseudo-header in a request', [...GET, ':status', '200']);
rejected(':protocol when extended CONNECT is off', [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'http', ':authority', 'a', ':path', '/chat']);
rejected('CONNECT with :path', [':method', 'CONNECT', ':authority', 'a:443', ':path', '/']);
rejected('CONNECT without :authority', [':method', 'CONNECT']);
rejected('method that is not a token', [':method', 'GE T', ':scheme', 'http', ':authority', 'a', ':path', '/']);
rejected('non-numeric content-length', [...POST, 'content-length', '1x'], F.END_HEADERS);
rejected('conflicting content-lengths', [...POST, 'content-length', '1', 'content-length', '2'], F.END_HEADERS);
rejected('content-length with END_STREAM and no body', [...POST, 'content-length', '5']);

rejected('host naming another entity than :authority', [...GET, 'host', 'evil.example']);
rejected('two host fields', [':method', 'GET', ':scheme', 'http', ':path', '/', 'host', 'a', 'host', 'a']);

accepted('te: trailers', [...GET, 'te', 'trailers']);
accepted('host equal to :authority (any case)', [...GET, 'host', 'Example.COM']);
accepted('host equal to :authority but for a default port', [':method', 'GET', ':scheme', 'https', ':authority', 'example.com:443', ':path', '/', 'host', 'example.com']);
rejected('host on another port than :authority', [':method', 'GET', ':scheme', 'http', ':authority', 'example.com:8080', ':path', '/', 'host', 'example.com:9090']);
accepted('host without :authority', [':method', 'GET', ':scheme', 'http', ':path', '/', 'host', 'example.com']);
accepted('OPTIONS *', [':method', 'OPTIONS', ':scheme', 'http', ':authority', 'a', ':path', '*']);
accepted('CONNECT with :authority only', [':method', 'CONNECT', ':authority', 'example.com:443'], F.END_HEADERS);
accepted('obs-text in a value (bytes ≥ 0x80)', [...GET, 'x-latin', 'caf\xe9']);
accepted('inner spaces and tabs in a value', [...GET, 'x-a', 'a \t b']);
accepted('repeated equal content-lengths', [...POST, 'content-length', '0', 'content-length', '0']);
accepted('non-http scheme with a non-slash path', [':method', 'GET', ':scheme', 'urn', ':authority', 'a', ':path', 'x:y']);

test('extended CONNECT (RFC 8441) is accepted when enabled', () => {
  const p = request([':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'http', ':authority', 'a', ':path', '/chat'],
    F.END_HEADERS, { enableConnectProtocol: true });
  assert.is(p.rst(1), null);
  assert.is(p.event('headers').length, 1);
});

test('content-length: DATA longer or shorter than declared → PROTOCOL_ERROR', () => {
  const longer = new Peer().open().send(headers(1, [...POST, 'content-length', '3']), data(1, 'abcd', F.END_STREAM));
  assert.is(longer.rst(1), E.PROTOCOL_ERROR);
  const shorter = new Peer().open().send(headers(1, [...POST, 'content-length', '5']), data(1, 'abc', F.END_STREAM));
  assert.is(shorter.rst(1), E.PROTOCOL_ERROR);
  const exact = new Peer().open().send(headers(1, [...POST, 'content-length', '3']), data(1, 'ab'), data(1, 'c', F.END_STREAM));
  assert.is(exact.rst(1), null);
  assert.is(exact.event('data').length, 2);
});

test('client: response validation (missing :status, bad :status, request pseudo-header)', () => {
  for (const bad of [['x-a', '1'], [':status', '20'], [':status', '2x0'], [':status', '200', ':path', '/']]) {
    const c = new Peer('client').send(settings());
    const sid = c.conn.submitHeaders(0, GET, true);
    c.send(headers(sid, bad, F.END_HEADERS | F.END_STREAM));
    assert.is(c.rst(sid), E.PROTOCOL_ERROR, JSON.stringify(bad));
  }
});

test.run();

// Bytes that are not HTTP are the application's business: a sidecar's inbound relays them as they
// are, so the application answers as it would without the mesh — an HTTP/2 server answers a broken
// preface with GOAWAY(PROTOCOL_ERROR), a text protocol gets its bytes. HTTP/1 that is malformed or
// ambiguous (request smuggling shapes) is still refused by Skiff, before the application sees it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import { sidecarFor } from '../helpers/mesh.mjs';
import { parseFrames, T } from '../helpers/frames.mjs';

let h2app, h1app, h2side, h1side;
const h1seen = [];

test.before(async () => {
  h2app = http2.createServer((req, res) => res.end('ok'));
  h2app.on('sessionError', () => {});
  h1app = http.createServer((req, res) => { h1seen.push(req.url); res.end('ok'); });
  await new Promise((r) => h2app.listen(0, '127.0.0.1', r));
  await new Promise((r) => h1app.listen(0, '127.0.0.1', r));
  h2side = await sidecarFor(h2app.address().port);
  h1side = await sidecarFor(h1app.address().port);
});

test.after(async () => {
  await h2side.close();
  await h1side.close();
  h2app.close();
  h1app.close();
});

/** Sends `bytes`, collects what comes back until the peer closes (bounded: 5 s). */
function exchange(port, bytes) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => { s.destroy(); resolve({ got: Buffer.concat(chunks), closed: false }); }, 5000);
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => { clearTimeout(timer); resolve({ got: Buffer.concat(chunks), closed: true }); });
    s.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    s.write(bytes);
  });
}

const goawayOf = (got) => parseFrames(got).find((f) => f.type === T.GOAWAY);

test('a broken HTTP/2 preface reaches the HTTP/2 app, which answers with its GOAWAY exactly as it does directly', async () => {
  const bad = Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00');
  const direct = await exchange(h2app.address().port, bad);
  const through = await exchange(h2side.inbound.port, bad);
  const d = goawayOf(direct.got);
  const t = goawayOf(through.got);
  assert.ok(d, `the app itself answers with GOAWAY: ${direct.got.toString('hex')}`);
  assert.ok(t, `through the sidecar too: ${through.got.toString('latin1')}`);
  assert.is(t.payload.readUInt32BE(4), d.payload.readUInt32BE(4), 'the app\'s error code');
  assert.ok(through.got.equals(direct.got), 'the same bytes as without the mesh');
  assert.not.match(through.got.toString('latin1'), /HTTP\/1\.1 400/);
});

test('a text protocol the app speaks gets there and back untouched', async () => {
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  const side = await sidecarFor(echo.address().port);
  try {
    const s = net.connect(side.inbound.port, '127.0.0.1');
    const sent = 'HELLO world\r\nGET / HTTP/2\r\n\r\n';
    const got = await new Promise((resolve, reject) => {
      let b = '';
      const timer = setTimeout(() => resolve(b), 5000);
      s.setEncoding('latin1');
      s.on('data', (c) => { b += c; if (b.length >= sent.length) { clearTimeout(timer); resolve(b); } });
      s.on('error', reject);
      s.write(sent);
    });
    assert.is(got, sent);
    s.destroy();
  } finally {
    await side.close();
    echo.close();
  }
});

test('HTTP/1 smuggling shapes are still refused by Skiff (400), and the app sees nothing', async () => {
  h1seen.length = 0;
  const shapes = [
    'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    'GET /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n',
    'GET /d HTTP/1.1\r\nHost : x\r\n\r\n',
    'GET  /e HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  for (const shape of shapes) {
    const { got } = await exchange(h1side.inbound.port, Buffer.from(shape, 'latin1'));
    assert.match(got.toString('latin1'), /^HTTP\/1\.1 400 /, JSON.stringify(shape));
  }
  assert.equal(h1seen, []);
  // and a well-formed request still goes through
  const { got } = await exchange(h1side.inbound.port, Buffer.from('GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  assert.match(got.toString('latin1'), /^HTTP\/1\.1 200 /);
  assert.equal(h1seen, ['/ok']);
});

test.run();

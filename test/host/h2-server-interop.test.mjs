// A server built on the core answers real clients: nghttp, h2load, curl and Node's http2 client,
// including flow control with bodies of several MiB each way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, patternChunk } from '../helpers/h2-app.mjs';
import { run } from '../helpers/run.mjs';

let server, url, dir;
test.before(async () => {
  server = await startServer();
  url = `http://127.0.0.1:${server.port}`;
  dir = mkdtempSync(join(tmpdir(), 'skiff-interop-'));
});
test.after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const pattern = (n) => patternChunk(0, n);
const sha = (b) => createHash('sha256').update(b).digest('hex');

test('curl --http2-prior-knowledge GET', async () => {
  const r = await run('curl', ['-sS', '--http2-prior-knowledge', '-D', '-', `${url}/hello`]);
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /^HTTP\/2 200/);
  assert.match(out, /content-type: text\/plain/);
  assert.ok(out.endsWith('hello world'));
});

test('curl uploads 5 MiB and gets its digest', async () => {
  const body = pattern(5 << 20);
  const file = join(dir, 'up.bin');
  writeFileSync(file, body);
  const r = await run('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', `@${file}`, `${url}/digest`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), sha(body));
});

test('nghttp GET shows the SETTINGS exchange and a 200', async () => {
  const r = await run('nghttp', ['-nv', `${url}/hello`]);
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /recv SETTINGS frame/);
  assert.match(out, /recv SETTINGS frame <length=0, flags=0x01/); // ACK of the client's settings
  assert.match(out, /:status: 200/);
  assert.match(out, /recv DATA frame <length=11, flags=0x01/);
});

test('nghttp downloads 8 MiB with a 64 KiB window (flow control)', async () => {
  const r = await run('nghttp', ['-w', '16', '-W', '16', `${url}/bytes/${8 << 20}`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, 8 << 20);
  assert.ok(r.stdout.equals(pattern(8 << 20)));
});

test('nghttp uploads 4 MiB to the echo route and gets it back', async () => {
  const body = pattern(4 << 20);
  const file = join(dir, 'echo.bin');
  writeFileSync(file, body);
  const r = await run('nghttp', ['-d', file, `${url}/echo`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, body.length);
  assert.ok(r.stdout.equals(body));
});

test('h2load: 4000 requests over 4 connections × 16 streams all succeed', async () => {
  const r = await run('h2load', ['-n', '4000', '-c', '4', '-m', '16', `${url}/hello`], { timeout: 120_000 });
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /4000 succeeded, 0 failed, 0 errored/);
  assert.match(out, /status codes: 4000 2xx/);
});

function nodeRequest(client, headers, body) {
  return new Promise((resolve, reject) => {
    const req = client.request(headers);
    const chunks = [];
    let head, trailers;
    req.on('response', (h) => { head = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve({ head, trailers, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    if (body) req.end(body); else req.end();
  });
}

test('node:http2 client: concurrent requests, 6 MiB echo with trailers', async () => {
  const client = http2.connect(url);
  try {
    const small = await Promise.all(Array.from({ length: 50 }, () => nodeRequest(client, { ':path': '/hello' })));
    for (const r of small) {
      assert.is(r.head[':status'], 200);
      assert.is(r.body.toString(), 'hello world');
    }
    const body = pattern(6 << 20);
    const res = await new Promise((resolve, reject) => {
      const req = client.request({ ':method': 'POST', ':path': '/echo' }, { waitForTrailers: true });
      const chunks = [];
      let trailers;
      req.on('wantTrailers', () => req.sendTrailers({ 'x-checksum': sha(body) }));
      req.on('trailers', (t) => { trailers = t; });
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve({ body: Buffer.concat(chunks), trailers }));
      req.on('error', reject);
      req.end(body);
    });
    assert.ok(res.body.equals(body), 'echoed body differs');
    assert.is(res.trailers['x-checksum'], sha(body));
    const big = await nodeRequest(client, { ':path': `/bytes/${3 << 20}` });
    assert.ok(big.body.equals(pattern(3 << 20)));
  } finally {
    client.close();
  }
});

test('node:http2 client: unknown route gets 404', async () => {
  const client = http2.connect(url);
  try {
    const r = await nodeRequest(client, { ':path': '/nope' });
    assert.is(r.head[':status'], 404);
  } finally {
    client.close();
  }
});

test.run();

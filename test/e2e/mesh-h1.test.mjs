// HTTP/1.1 through two sidecars: client → outbound → (mesh: HTTP/2, marked skiff-orig-proto) →
// inbound → HTTP/1.1 app. curl, undici and raw sockets as clients; node:http as the app.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';
import { run } from '../helpers/run.mjs';
import { patternChunk } from '../helpers/h2-app.mjs';

let app, sidecar, client, config, dir, seen = [];

test.before(async () => {
  app = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, version: req.httpVersion });
    if (req.url === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    } else if (req.url === '/digest') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c) => { h.update(c); n += c.length; });
      req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
    } else if (req.url.startsWith('/bytes/')) {
      const n = Number(req.url.slice(7));
      res.writeHead(200, { 'content-length': n });
      res.end(patternChunk(0, n));
    } else if (req.url === '/trailers') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('part one;');
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end('part two');
    } else if (req.url === '/head') {
      res.writeHead(200, { 'content-length': '1234' });
      res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234));
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-app': 'h1' });
      res.end(`hello ${req.method} ${req.url}\n`);
    }
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  sidecar = await sidecarFor(app.address().port);
  config = new ConfigDir();
  config.write('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', [{ port: sidecar.inbound.port }]));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir, workload: 'default/client' });
  dir = mkdtempSync(join(tmpdir(), 'skiff-h1-'));
});

test.after(async () => {
  await client.close();
  await sidecar.close();
  app.close();
  config.remove();
  rmSync(dir, { recursive: true, force: true });
});

const proxy = () => `http://127.0.0.1:${client.outbound.port}`;

test('curl as a forward-proxy client (absolute-form): the app sees HTTP/1.1, Via per hop, no mesh marker', async () => {
  seen = [];
  const r = await run('curl', ['-sS', '-D', '-', '-x', proxy(), 'http://web.default.svc.cluster.local/hello?x=1']);
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /^HTTP\/1.1 200 OK/);
  assert.match(out, /hello GET \/hello\?x=1/);
  assert.match(out, /via: 1.1 skiff, 2 skiff/i);
  assert.is(seen[0].version, '1.1');
  assert.is(seen[0].headers.host, 'web.default.svc.cluster.local');
  assert.is(seen[0].headers.via, '1.1 skiff, 2 skiff');
  assert.is(seen[0].headers['skiff-orig-proto'], undefined);
});

test('fields named in Connection are dropped as hop-by-hop (RFC 9110 §7.6.1)', async () => {
  seen = [];
  const r = await run('curl', ['-sS', '-x', proxy(), '-H', 'Connection: x-hop-secret', '-H', 'X-Hop-Secret: only for the proxy', '-H', 'X-Kept: yes', 'http://web.default/hop']);
  assert.is(r.code, 0, r.stderr);
  assert.is(seen[0].headers['x-hop-secret'], undefined);
  assert.is(seen[0].headers['x-kept'], 'yes');
});

test('curl origin-form with keep-alive: two requests reuse one connection', async () => {
  const r = await run('curl', ['-sS', '-v', '--connect-to', `web:80:127.0.0.1:${client.outbound.port}`, 'http://web/one', 'http://web/two']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /hello GET \/one\nhello GET \/two/);
  assert.match(r.stderr, /Re-using existing connection/);
});

test('curl uploads 16 MiB (Expect: 100-continue) and gets its digest; downloads 16 MiB', async () => {
  const body = patternChunk(0, 16 << 20);
  const file = join(dir, 'up.bin');
  writeFileSync(file, body);
  const up = await run('curl', ['-sS', '-x', proxy(), '--data-binary', `@${file}`, 'http://web.default/digest']);
  assert.is(up.code, 0, up.stderr);
  assert.is(up.stdout.toString(), `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
  const chunked = await run('curl', ['-sS', '-x', proxy(), '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, 'http://web.default/echo']);
  assert.is(chunked.code, 0, chunked.stderr);
  assert.ok(chunked.stdout.equals(body), 'chunked echo differs');
  const down = await run('curl', ['-sS', '-x', proxy(), `http://web.default/bytes/${16 << 20}`]);
  assert.ok(down.stdout.equals(body), 'download differs');
});

test('HEAD keeps content-length and sends no body', async () => {
  const r = await run('curl', ['-sS', '-I', '-x', proxy(), 'http://web.default/head']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /content-length: 1234/i);
});

test('undici: concurrent requests and a streamed POST', async () => {
  const c = new Client(proxy(), { pipelining: 1, connections: 4 });
  try {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      c.request({ path: `/n${i}`, method: 'GET', headers: { host: 'web.default' } }).then(async (r) => [r.statusCode, await r.body.text()])));
    results.forEach(([status, text], i) => {
      assert.is(status, 200);
      assert.is(text, `hello GET /n${i}\n`);
    });
    const body = patternChunk(0, 3 << 20);
    const r = await c.request({ path: '/echo', method: 'POST', headers: { host: 'web.default' }, body });
    const got = Buffer.from(await r.body.arrayBuffer());
    assert.ok(got.equals(body));
  } finally {
    await c.close();
  }
});

function rawExchange(bytes, until, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(client.outbound.port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => { s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); }, ms);
    s.on('data', (c) => {
      chunks.push(c);
      if (until(Buffer.concat(chunks).toString('latin1'))) { clearTimeout(timer); s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); }
    });
    s.on('end', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')); });
    s.on('error', reject);
    s.write(bytes);
  });
}

test('pipelined requests are answered in order', async () => {
  const req = (p) => `GET ${p} HTTP/1.1\r\nHost: web.default\r\n\r\n`;
  const out = await rawExchange(req('/a') + req('/b') + req('/c'), (s) => (s.match(/hello GET/g) ?? []).length === 3);
  const order = [...out.matchAll(/hello GET (\/\w)/g)].map((m) => m[1]);
  assert.equal(order, ['/a', '/b', '/c']);
});

test('chunked responses keep their trailers on an HTTP/1.1 client', async () => {
  const out = await rawExchange('GET /trailers HTTP/1.1\r\nHost: web.default\r\nTE: trailers\r\nConnection: close\r\n\r\n', () => false);
  assert.match(out, /transfer-encoding: chunked/i);
  assert.match(out, /part one;/);
  assert.match(out, /0\r\nx-checksum: abc123\r\n\r\n$/);
});

test('a smuggling attempt (Transfer-Encoding with Content-Length) is refused at the edge', async () => {
  seen = [];
  const out = await rawExchange('POST /echo HTTP/1.1\r\nHost: web.default\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: web.default\r\n\r\n', () => false);
  assert.match(out, /^HTTP\/1.1 400 Bad Request/);
  assert.match(out, /skiff-proxy-error: both Transfer-Encoding and Content-Length/);
  assert.is(seen.length, 0, 'nothing reached the app');
});

test('unknown service over HTTP/1.1 → 404 with skiff-proxy-error', async () => {
  const r = await run('curl', ['-sS', '-D', '-', '-x', proxy(), 'http://nope.default/']);
  assert.match(r.stdout.toString(), /^HTTP\/1.1 404 Not Found/);
  assert.match(r.stdout.toString(), /skiff-proxy-error: no Service default\/nope/);
});

test('an HTTP/1.1 client straight to the inbound sidecar reaches the app', async () => {
  const r = await run('curl', ['-sS', `http://127.0.0.1:${sidecar.inbound.port}/direct`]);
  assert.is(r.stdout.toString(), 'hello GET /direct\n');
});

test.run();

// The proxy as a process: SIGTERM under load drains without losing accepted requests and exits 0;
// a client that aborts frees the upstream request; 256 MiB each way stream through two proxies
// with bounded memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { spawnProxy, runSkiff } from '../helpers/proxy-process.mjs';
import { ConfigDir, serviceYaml, sliceYaml, eventually } from '../helpers/mesh.mjs';
import { patternChunk } from '../helpers/h2-app.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('SIGTERM under load: every accepted request completes, refused ones are marked retryable, exit 0', async () => {
  const app = http2.createServer();
  app.on('stream', (s) => { setTimeout(() => { s.respond({ ':status': 200 }); s.end('done'); }, 150); });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const proxy = await spawnProxy(['--app', `127.0.0.1:${app.address().port}`]);
  const client = http2.connect(`http://127.0.0.1:${proxy.inbound}`);
  client.on('error', () => {});
  const results = { ok: 0, refused: 0, other: [] };
  const one = () => new Promise((resolve) => {
    let req;
    try {
      req = client.request({ ':path': '/' });
    } catch (e) {
      // the client already knows the server is going away: never sent, safe to retry elsewhere
      if (e.code === 'ERR_HTTP2_GOAWAY_SESSION' || e.code === 'ERR_HTTP2_INVALID_SESSION') results.refused++;
      else results.other.push(`${e.code} ${e.message}`);
      return resolve();
    }
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { if (body === 'done') results.ok++; else results.other.push(`body ${body}`); resolve(); });
    req.on('error', (e) => {
      // refused before processing (GOAWAY's last stream id, or a closed session): safe to retry
      if (e.code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test(e.message)) results.refused++;
      else if (e.code === 'ERR_HTTP2_GOAWAY_SESSION' || e.code === 'ERR_HTTP2_INVALID_SESSION') results.refused++;
      else results.other.push(`${e.code} ${e.message}`);
      resolve();
    });
    req.end();
  });
  const inflight = [];
  for (let i = 0; i < 40; i++) inflight.push(one());
  await sleep(50); // accepted and waiting on the slow app
  proxy.stop('SIGTERM');
  for (let i = 0; i < 20; i++) { inflight.push(one()); await sleep(5); }
  await Promise.all(inflight);
  const { code } = await proxy.exited;
  assert.is(code, 0, proxy.log);
  assert.equal(results.other, []);
  assert.ok(results.ok >= 40, `only ${results.ok} completed`);
  client.close();
  app.close();
});

test('SIGTERM while the proxy is still starting: it starts, drains and exits 0 (never killed half-way)', async () => {
  const config = new ConfigDir();
  config.write('web.yaml', `${serviceYaml('web', 80)}---\n${sliceYaml('web', [{ port: 1 }], { meshed: false })}`);
  const run = runSkiff(['proxy', '--config', config.dir, '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--app', '127.0.0.1:1']);
  let out = '';
  // the first log line (the config, read inside start-up): signal then
  await new Promise((resolve) => run.child.stdout.on('data', (c) => { out += c; if (out.includes('\n')) resolve(); }));
  run.child.kill('SIGTERM');
  const r = await run.done;
  config.remove();
  assert.is(r.signal, null, `killed by ${r.signal}`);
  assert.is(r.code, 0, r.stderr);
  assert.match(out + r.stdout, /"msg":"draining","signal":"SIGTERM"/);
});

test('admin: /live and /ready answer; POST /shutdown drains and the process exits 0', async () => {
  const proxy = await spawnProxy(['--app', '127.0.0.1:1']);
  const get = (path, method = 'GET') => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.admin, path, method }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal((await get('/live')).status, 200);
  const ready = await get('/ready');
  assert.is(ready.status, 200);
  assert.match(ready.body, /identity: none \(plaintext/);
  assert.is((await get('/shutdown')).status, 405, 'shutdown takes POST only');
  assert.is((await get('/shutdown', 'POST')).status, 202);
  const { code } = await proxy.exited;
  assert.is(code, 0, proxy.log);
});

test('a client aborting mid-download frees the upstream request (HTTP/1.1 through both proxies)', async () => {
  let closedEarly = false;
  const app = http.createServer((req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write(Buffer.alloc(16384)), 1);
    res.on('close', () => { closedEarly = !res.writableFinished; clearInterval(timer); });
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const inbound = await spawnProxy(['--app', `127.0.0.1:${app.address().port}`]);
  const config = new ConfigDir();
  config.write('s.yaml', serviceYaml('stream', 80) + '---\n' + sliceYaml('stream', [{ port: inbound.inbound }]));
  const outbound = await spawnProxy(['--config', config.dir]);
  await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: outbound.outbound, path: '/', headers: { host: 'stream.default' } }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; if (n > 1 << 20) { req.destroy(); resolve(); } });
    });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
  });
  assert.ok(await eventually(() => closedEarly), 'the app saw its response abandoned');
  await outbound.stop();
  await inbound.stop();
  app.close();
  config.remove();
});

test('256 MiB upload and download through two proxies; neither holds the body (RSS grows far less than 256 MiB)', async () => {
  const SIZE = 256 << 20;
  const app = http.createServer((req, res) => {
    if (req.method === 'POST') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c) => { h.update(c); n += c.length; });
      req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
    } else {
      res.writeHead(200, { 'content-length': SIZE });
      let sent = 0;
      const chunk = patternChunk(0, 1 << 20);
      const pump = () => { while (sent < SIZE) { sent += chunk.length; if (!res.write(chunk)) return res.once('drain', pump); } res.end(); };
      pump();
    }
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const inbound = await spawnProxy(['--app', `127.0.0.1:${app.address().port}`]);
  const config = new ConfigDir();
  config.write('s.yaml', serviceYaml('bulk', 80) + '---\n' + sliceYaml('bulk', [{ port: inbound.inbound }]));
  const outbound = await spawnProxy(['--config', config.dir]);
  const chunk = patternChunk(0, 1 << 20);
  const base = [outbound.peakRssMiB(), inbound.peakRssMiB()];
  const expected = createHash('sha256');
  for (let i = 0; i < 256; i++) expected.update(chunk);
  const digest = expected.digest('hex');

  const up = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: outbound.outbound, method: 'POST', path: '/', headers: { host: 'bulk.default', 'content-length': SIZE } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => { while (sent < SIZE) { sent += chunk.length; if (!req.write(chunk)) return req.once('drain', pump); } req.end(); };
    pump();
  });
  assert.is(up, `${SIZE} ${digest}`);

  const down = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: outbound.outbound, path: '/', headers: { host: 'bulk.default' } }, (res) => {
      const h = createHash('sha256');
      let n = 0;
      res.on('data', (c) => { h.update(c); n += c.length; });
      res.on('end', () => resolve(`${n} ${h.digest('hex')}`));
    }).on('error', reject);
  });
  assert.is(down, `${SIZE} ${digest}`);
  const rss = [outbound.peakRssMiB(), inbound.peakRssMiB()];
  // each proxy holds its windows and buffers, never the body: growth far below the 256 MiB that went
  // through (measured: ~40 MiB on Node 20, ~90 on Node 24, whose heap grows more before collecting)
  assert.ok(rss.every((m, i) => m - base[i] < 128), `peak RSS ${base.map((b, i) => `${b.toFixed(1)} → ${rss[i].toFixed(1)}`).join(' / ')} MiB`);
  console.log(`      peak RSS after 2 × 256 MiB: outbound ${base[0].toFixed(1)} → ${rss[0].toFixed(1)} MiB, inbound ${base[1].toFixed(1)} → ${rss[1].toFixed(1)} MiB`);
  await outbound.stop();
  await inbound.stop();
  app.close();
  config.remove();
});

test.run();

// Real concurrency against upstreams that limit it: nghttpd allows 100 concurrent streams per
// connection, nginx serves one request per connection at a time. Skiff never opens more streams
// than a peer allows (100 before its SETTINGS arrive), queues what does not fit, opens more
// connections while it may, and sends again what a peer refused unprocessed (RFC 9113 §8.7) —
// so no request fails that could have waited. At the queue's documented bound: 503, never a drop.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { startProxy } from '../../dist/host/index.js';
import { H2Session } from '../../dist/host/transport/h2-session.js';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor } from '../helpers/mesh.mjs';
import { freePort, waitForPort } from '../helpers/ports.mjs';
import { startNginx } from '../helpers/nginx.mjs';
import { run } from '../helpers/run.mjs';
import { parseFrames, T } from '../helpers/frames.mjs';
import { renderMetricsOf } from '../helpers/prometheus.mjs';

let nghttpd, nghttpdPort, www, nginx, h2Sidecar, h1Sidecar, client, config;

test.before(async () => {
  www = mkdtempSync(join(tmpdir(), 'skiff-www-'));
  writeFileSync(join(www, 'small'), 'x'.repeat(100));
  nghttpdPort = await freePort();
  // nghttpd: SETTINGS_MAX_CONCURRENT_STREAMS 100, as the reproduction
  nghttpd = spawn('nghttpd', ['--no-tls', '-d', www, String(nghttpdPort)], { stdio: 'ignore' });
  await waitForPort(nghttpdPort);
  nginx = await startNginx({ small: 'y'.repeat(100) });
  h2Sidecar = await sidecarFor(nghttpdPort);
  h1Sidecar = await sidecarFor(nginx.port);
  config = new ConfigDir();
  config.write('svc.yaml', serviceYaml('files', 80) + '---\n' + sliceYaml('files', [{ port: h2Sidecar.inbound.port }]) + '---\n' +
    serviceYaml('pages', 80) + '---\n' + sliceYaml('pages', [{ port: h1Sidecar.inbound.port }]));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir, workload: 'default/client' });
});

test.after(async () => {
  await client?.close();
  await h2Sidecar?.close();
  await h1Sidecar?.close();
  await nginx?.stop();
  if (nghttpd && nghttpd.exitCode === null) {
    nghttpd.kill();
    await new Promise((r) => nghttpd.once('exit', r));
  }
  config?.remove();
  rmSync(www, { recursive: true, force: true });
});

/** h2load's summary: { total, succeeded, failed, errored, s2xx, s5xx }. */
function h2loadSummary(out) {
  const m = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  assert.ok(m && codes, out);
  return { total: +m[1], done: +m[2], succeeded: +m[3], failed: +m[4], errored: +m[5], s2xx: +codes[1], s5xx: +codes[4] };
}

test('h2load -c 200 -m 100 through one inbound hop to nghttpd (100 streams a connection): nothing fails', async () => {
  const r = await run('h2load', ['-c', '200', '-m', '100', '-n', '40000', `http://127.0.0.1:${h2Sidecar.inbound.port}/small`], { timeout: 180_000 });
  const s = h2loadSummary(r.stdout.toString());
  assert.equal(s, { total: 40000, done: 40000, succeeded: 40000, failed: 0, errored: 0, s2xx: 40000, s5xx: 0 });
});

test('h2load -c 200 -m 100 through a sidecar pair to nghttpd: nothing fails', async () => {
  const r = await run('h2load', ['-c', '200', '-m', '100', '-n', '20000', '-H', ':authority: files.default', `http://127.0.0.1:${client.outbound.port}/small`], { timeout: 180_000 });
  const s = h2loadSummary(r.stdout.toString());
  assert.equal(s, { total: 20000, done: 20000, succeeded: 20000, failed: 0, errored: 0, s2xx: 20000, s5xx: 0 });
});

test('four node:http2 connections × 100 streams at once (400 concurrent) through one hop: all 200', async () => {
  const statuses = await Promise.all([0, 1, 2, 3].map(async () => {
    const c = http2.connect(`http://127.0.0.1:${h2Sidecar.inbound.port}`);
    try {
      return await Promise.all(Array.from({ length: 100 }, () => new Promise((resolve, reject) => {
        const req = c.request({ ':path': '/small' });
        let status = 0, n = 0;
        req.on('response', (h) => { status = h[':status']; });
        req.on('data', (d) => { n += d.length; });
        req.on('end', () => resolve(`${status}/${n}`));
        req.on('error', reject);
        req.end();
      })));
    } finally { c.close(); }
  }));
  assert.equal(new Set(statuses.flat()), new Set(['200/100']));
  assert.is(statuses.flat().length, 400);
});

/** wrk's summary: requests, non-2xx/3xx and socket errors. */
function wrkSummary(out) {
  const requests = /(\d+) requests in/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  assert.ok(requests, out);
  return { requests: +requests[1], non2xx: non2xx ? +non2xx[1] : 0, errors: sock ? +sock[1] + +sock[2] + +sock[3] + +sock[4] : 0 };
}

test('wrk with 500 connections through one inbound hop to nginx (pool limit 256): no error, no non-2xx', async () => {
  // wrk's own 2 s per-request timeout would count the first connections' queueing at start-up as errors
  const r = await run('wrk', ['-t', '2', '-c', '500', '-d', '3s', '--timeout', '30s', `http://127.0.0.1:${h1Sidecar.inbound.port}/small`], { timeout: 60_000 });
  const s = wrkSummary(r.stdout.toString());
  assert.ok(s.requests > 500, r.stdout.toString());
  assert.equal({ non2xx: s.non2xx, errors: s.errors }, { non2xx: 0, errors: 0 }, r.stdout.toString());
});

test('wrk with 500 connections through a sidecar pair to nginx: no error, no non-2xx', async () => {
  const r = await run('wrk', ['-t', '2', '-c', '500', '-d', '3s', '--timeout', '30s', '-H', 'Host: pages.default', `http://127.0.0.1:${client.outbound.port}/small`], { timeout: 60_000 });
  const s = wrkSummary(r.stdout.toString());
  assert.ok(s.requests > 500, r.stdout.toString());
  assert.equal({ non2xx: s.non2xx, errors: s.errors }, { non2xx: 0, errors: 0 }, r.stdout.toString());
});

test('before the peer\'s SETTINGS arrive at most 100 streams are opened; streams it then refuses are sent again', async () => {
  // an upstream that says nothing for 300 ms, then allows 10 streams: the proxy must not have sent
  // more than 100 HEADERS meanwhile, and every one of 300 requests still succeeds
  let before = null;
  let maxOpen = 0, open = 0;
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    const collect = (c) => { buf = Buffer.concat([buf, c]); };
    socket.on('data', collect);
    setTimeout(() => {
      socket.off('data', collect);
      before = parseFrames(buf.subarray(24)).filter((f) => f.type === T.HEADERS).length;
      const session = new H2Session(socket, 'server', { maxConcurrentStreams: 10 }, {
        onStream(st) {
          open++;
          maxOpen = Math.max(maxOpen, open);
          st.autoConsume = true;
          const done = () => { st.respond([':status', '200']); st.end(Buffer.from('ok')); open--; };
          st.onEnd = () => setTimeout(done, 5);
          if (st.remoteEnded) st.onEnd();
        },
      }, buf);
    }, 300);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sidecar = await sidecarFor(server.address().port);
  const c = http2.connect(`http://127.0.0.1:${sidecar.inbound.port}`);
  try {
    const results = await Promise.all(Array.from({ length: 300 }, () => new Promise((resolve, reject) => {
      const req = c.request({ ':path': '/' });
      let status = 0;
      req.on('response', (h) => { status = h[':status']; });
      req.resume();
      req.on('end', () => resolve(status));
      req.on('error', reject);
      req.end();
    })));
    assert.equal(new Set(results), new Set([200]), `statuses ${[...new Set(results)]}`);
    assert.ok(before !== null && before <= 100, `${before} streams opened before the peer's SETTINGS`);
    assert.ok(before > 0, 'requests went out before SETTINGS (the limit was exercised)');
    assert.ok(maxOpen <= 10, `the upstream had ${maxOpen} streams open at once`);
  } finally {
    c.close();
    await sidecar.close();
    server.close();
  }
});

test('REFUSED_STREAM at the inbound: the request (with its body) goes again to the app, whatever its method', async () => {
  let refused = 0;
  const server = net.createServer((socket) => {
    const session = new H2Session(socket, 'server', {}, {
      onStream(st) {
        if (refused < 3) { refused++; st.reset(7); return; } // REFUSED_STREAM
        const h = createHash('sha256');
        st.onData = (d) => h.update(d);
        st.onEnd = () => { st.respond([':status', '200']); st.end(Buffer.from(h.digest('hex'))); };
        if (st.remoteEnded) st.onEnd();
      },
    });
    void session;
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sidecar = await sidecarFor(server.address().port);
  const c = http2.connect(`http://127.0.0.1:${sidecar.inbound.port}`);
  try {
    const body = Buffer.alloc(20_000, 7);
    const r = await new Promise((resolve, reject) => {
      const req = c.request({ ':path': '/', ':method': 'POST' });
      let status = 0, text = '';
      req.on('response', (h) => { status = h[':status']; });
      req.setEncoding('utf8');
      req.on('data', (d) => { text += d; });
      req.on('end', () => resolve({ status, text }));
      req.on('error', reject);
      req.end(body);
    });
    assert.is(r.status, 200);
    assert.is(r.text, createHash('sha256').update(body).digest('hex'));
    assert.is(refused, 3);
  } finally {
    c.close();
    await sidecar.close();
    server.close();
  }
});

test('the queue bound: requests beyond it get 503 (gRPC: UNAVAILABLE) with skiff-proxy-error; queue metrics', async () => {
  // one connection to an app that holds requests until told: one in flight, two wait, the fourth is refused
  const held = [];
  const app = http.createServer((req, res) => { held.push(res); });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const sidecar = await sidecarFor(app.address().port, { pools: { http1MaxConnections: 1, maxPending: 2 } });
  const get = (headers = {}) => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: sidecar.inbound.port, path: '/', agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, error: res.headers['skiff-proxy-error'], grpc: res.headers['grpc-status'] }));
    }).on('error', reject);
  });
  try {
    const first = [get(), get(), get()];
    for (let i = 0; i < 100 && held.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    const text = await renderMetricsOf(sidecar);
    assert.match(text, /skiff_pool_queue_depth\{direction="inbound",target_addr="127\.0\.0\.1:\d+"\} 2/);
    const refused = await get();
    assert.is(refused.status, 503);
    assert.match(refused.error, /2 requests already wait for a connection/);
    const grpc = await get({ 'content-type': 'application/grpc' });
    assert.is(grpc.status, 200);
    assert.is(grpc.grpc, '14');
    // the held ones are served in turn, none lost
    const release = setInterval(() => { for (const res of held.splice(0)) res.end('ok'); }, 10);
    const statuses = (await Promise.all(first)).map((r) => r.status);
    clearInterval(release);
    assert.equal(statuses, [200, 200, 200]);
    const after = await renderMetricsOf(sidecar);
    assert.match(after, /skiff_pool_queue_rejected_total\{direction="inbound",target_addr="127\.0\.0\.1:\d+"\} 2/);
    // the first waited for the connection to be made, the next two for it to be free
    assert.match(after, /skiff_pool_queued_total\{direction="inbound",target_addr="127\.0\.0\.1:\d+"\} 3/);
    assert.match(after, /skiff_pool_queue_wait_seconds_count\{direction="inbound",target_addr="127\.0\.0\.1:\d+"\} 3/);
    assert.match(after, /skiff_pool_queue_depth\{direction="inbound",target_addr="127\.0\.0\.1:\d+"\} 0/);
  } finally {
    for (const res of held) res.end();
    await sidecar.close();
    app.close();
  }
});

test('a request that gives up while queued leaves the queue (it does not hold a place)', async () => {
  const held = [];
  const app = http.createServer((req, res) => { held.push(res); });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const sidecar = await sidecarFor(app.address().port, { pools: { http1MaxConnections: 1, maxPending: 1 } });
  const get = () => new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: sidecar.inbound.port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve('aborted'));
    return req;
  });
  try {
    const first = get();
    for (let i = 0; i < 100 && held.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    // the second waits, then its client leaves
    const gone = http.get({ host: '127.0.0.1', port: sidecar.inbound.port, path: '/', agent: false });
    gone.on('error', () => {});
    await new Promise((r) => setTimeout(r, 100));
    gone.destroy();
    await new Promise((r) => setTimeout(r, 100));
    // its place is free: the third is queued, not refused
    const third = get();
    await new Promise((r) => setTimeout(r, 100));
    const release = setInterval(() => { for (const res of held.splice(0)) res.end('ok'); }, 10);
    assert.equal([await first, await third], [200, 200]);
    clearInterval(release);
  } finally {
    for (const res of held) res.end();
    await sidecar.close();
    app.close();
  }
});

test.run();

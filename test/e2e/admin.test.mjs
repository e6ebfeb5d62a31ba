// The admin server as operators and tools use it: probes, the effective config, the log level
// changed at run time, actions that answer loopback clients only unless enabled off it, and the
// live tap (filtered at the proxy) read by `skiff tap`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import os from 'node:os';
import { gunzipSync } from 'node:zlib';
import { startProxy } from '../../dist/host/index.js';
import { Logger } from '../../dist/host/log/logger.js';
import { ConfigDir, serviceYaml, sliceYaml, eventually, statusOf } from '../helpers/mesh.mjs';
import { runSkiff } from '../helpers/proxy-process.mjs';
import { getText } from '../helpers/prometheus.mjs';

const WEB = 'web.default.svc.cluster.local:80';
let app, config, proxy;
const logLines = [];

test.before(async () => {
  app = http.createServer((req, res) => {
    if (req.url.startsWith('/b/fail')) { res.writeHead(503); res.end('down'); return; }
    res.end('ok');
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  config = new ConfigDir();
  // the app directly (not meshed): the outbound's own traffic
  config.write('web.yaml', `${serviceYaml('web', 80)}---\n${sliceYaml('web', [{ port: app.address().port }], { meshed: false })}`);
  proxy = await startProxy({
    config: config.dir, inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1',
    logger: new Logger({ format: 'json', write: (l) => logLines.push(l) }),
  });
});

test.after(async () => {
  await proxy.close();
  app.close();
  config.remove();
});

const get = (path, host = WEB) => statusOf(proxy.outbound.port, host, path);

function request(port, method, path, { host = '127.0.0.1', localAddress, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** This machine's first address off the loopback: a client there is not a loopback client. */
function offLoopbackAddress() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv6' && !a.address.startsWith('fe80')) return a.address;
  }
  throw new Error('this test needs a network interface with an address off the loopback (none found by os.networkInterfaces())');
}

const runCli = (args) => runSkiff(args, { timeout: 20_000 });

test('probes, the endpoint list, and the effective config as JSON', async () => {
  const a = proxy.admin.port;
  assert.is((await getText(a, '/live')).status, 200);
  const ready = await getText(a, '/ready');
  assert.is(ready.status, 200);
  assert.match(ready.body, /^ready\n/);
  const other = await getText(a, '/nope');
  assert.is(other.status, 404);
  assert.match(other.body, /\/metrics.*\/dashboard.*\/tap.*\/config.*\/log-level.*POST \/shutdown/);
  const c = await getText(a, '/config');
  assert.is(c.status, 200);
  assert.match(c.headers['content-type'], /application\/json/);
  const cfg = JSON.parse(c.body);
  assert.ok(JSON.stringify(cfg).includes('web'), 'the config shows the Service it serves');
  assert.is((await request(a, 'GET', '/shutdown')).status, 405);
});

test('the log level: read, changed at run time (logged as a JSON event), nonsense refused', async () => {
  const a = proxy.admin.port;
  assert.is((await getText(a, '/log-level')).body, 'info\n');
  const bad = await request(a, 'PUT', '/log-level', { body: 'loud' });
  assert.is(bad.status, 400);
  assert.match(bad.text, /expected one of error, warn, info, debug, got 'loud'/);
  const put = await request(a, 'PUT', '/log-level', { body: 'debug\n' });
  assert.is(put.status, 200);
  assert.is((await getText(a, '/log-level')).body, 'debug\n');
  const changed = logLines.map((l) => JSON.parse(l)).find((e) => e.msg === 'log level changed');
  assert.ok(changed, logLines.join('\n'));
  assert.is(changed.level, 'info');
  assert.equal([changed.from, changed.to], ['info', 'debug']);
  assert.ok(!Number.isNaN(Date.parse(changed.time)));
  // the change is an info event at the new level: quiet when going to error, heard coming back
  const n = logLines.length;
  assert.is((await request(a, 'PUT', '/log-level', { body: 'error' })).status, 200);
  assert.is(logLines.length, n);
  assert.is((await request(a, 'PUT', '/log-level', { body: 'info' })).status, 200);
  assert.is(logLines.length, n + 1);
  assert.equal(JSON.parse(logLines[n]).from, 'error');
  assert.is((await getText(a, '/log-level')).body, 'info\n');
});

test('actions and the mesh config answer loopback clients only, unless enabled off the loopback; metrics and probes are open', async () => {
  const ip = offLoopbackAddress();
  const p = await startProxy({ inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: `${ip.includes(':') ? '[::]' : '0.0.0.0'}:0`, app: '127.0.0.1:1' });
  const q = await startProxy({ inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: `${ip.includes(':') ? '[::]' : '0.0.0.0'}:0`, app: '127.0.0.1:1', adminRemote: ['shutdown', 'config'] });
  try {
    const from = { host: ip, localAddress: ip };
    const shut = await request(p.admin.port, 'POST', '/shutdown', from);
    assert.is(shut.status, 403);
    assert.match(shut.text, /loopback clients only; enable it off the loopback with --admin-remote shutdown/);
    assert.is((await request(p.admin.port, 'PUT', '/log-level', { ...from, body: 'debug' })).status, 403);
    assert.is((await request(p.admin.port, 'GET', '/tap?limit=1', from)).status, 403);
    // the whole mesh's layout (Services, endpoints, routes) is not for whoever reaches the port
    const cfg = await request(p.admin.port, 'GET', '/config', from);
    assert.is(cfg.status, 403);
    assert.match(cfg.text, /--admin-remote config/);
    assert.is((await getText(p.admin.port, '/config')).status, 200, 'loopback clients read it');
    assert.is((await request(q.admin.port, 'GET', '/config', from)).status, 200, 'enabled with --admin-remote config');
    assert.is((await request(p.admin.port, 'GET', '/metrics', from)).status, 200);
    assert.is((await request(p.admin.port, 'GET', '/ready', from)).status, 200);
    // still running: it refused
    assert.is((await getText(p.admin.port, '/live')).status, 200);
    // the other proxy enabled shutdown off the loopback (but not tap)
    assert.is((await request(q.admin.port, 'GET', '/tap?limit=1', from)).status, 403);
    const ok = await request(q.admin.port, 'POST', '/shutdown', from);
    assert.is(ok.status, 202);
    await q.closed;
    const gone = await request(q.admin.port, 'GET', '/live').then(() => null, (err) => err.code);
    assert.is(gone, 'ECONNREFUSED', 'the admin server closed with the proxy');
  } finally {
    await p.close();
    await q.close();
  }
});

test('tap: summaries filtered at the proxy; skiff tap prints them and stops at --limit', async () => {
  const t = proxy.telemetry.tap;
  const tap = runCli(['tap', '--admin', `127.0.0.1:${proxy.admin.port}`, '--path', '/b', '--status', '5xx', '--limit', '2']);
  const json = runCli(['tap', '--admin', `127.0.0.1:${proxy.admin.port}`, '--method', 'get', '--authority', WEB, '--limit', '3', '--json']);
  // both listening before the traffic (listeners is the tap's own registry)
  assert.ok(await eventually(() => t.listeners.size === 2, 10_000), 'the taps are listening');
  assert.is(await get('/a'), 200);
  assert.is(await get('/b/ok'), 200);
  assert.is(await get('/b/fail/1'), 503);
  assert.is(await get('/c/fail'), 200);
  assert.is(await get('/b/fail/2'), 503);
  assert.is(await get('/b/fail/3'), 503);
  const r = await tap.done;
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 2, r.stdout);
  assert.match(lines[0], new RegExp(`out GET ${WEB.replace(/\./g, '\\.')}/b/fail/1 → 503 [\\d.]+ms to 127\\.0\\.0\\.1:${app.address().port}`));
  assert.match(lines[1], /\/b\/fail\/2 → 503/);
  const j = await json.done;
  assert.is(j.code, 0, j.stderr);
  const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(events.map((e) => [e.direction, e.method, e.authority, e.path, e.status]), [
    ['outbound', 'GET', WEB, '/a', 200], ['outbound', 'GET', WEB, '/b/ok', 200], ['outbound', 'GET', WEB, '/b/fail/1', 503],
  ]);
  assert.ok(events.every((e) => typeof e.latency_ms === 'number' && e.latency_ms >= 0));
  assert.ok(await eventually(() => !t.active), 'the taps let go when done');
});

test('tap: a bad filter is refused with the reason', async () => {
  const r = await runCli(['tap', '--admin', `127.0.0.1:${proxy.admin.port}`, '--status', 'bad']).done;
  assert.is(r.code, 1);
  assert.match(r.stdout + r.stderr, /400 status: expected a status \(503\) or a class \(5xx\), got 'bad'/);
  const bad = await getText(proxy.admin.port, '/tap?colour=red');
  assert.is(bad.status, 400);
  assert.match(bad.body, /unknown filter 'colour'/);
});

test('/metrics: gzip when the scraper asks for it (as Prometheus does), the same text inside', async () => {
  const res = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: proxy.admin.port, path: '/metrics', headers: { 'accept-encoding': 'gzip' } }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => resolve({ headers: r.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  assert.is(res.headers['content-encoding'], 'gzip');
  assert.is(Number(res.headers['content-length']), res.body.length);
  const text = gunzipSync(res.body).toString('utf8');
  const plain = (await getText(proxy.admin.port, '/metrics')).body;
  assert.match(text, /^# HELP /m);
  const names = (t) => t.split('\n').filter((l) => l.startsWith('# TYPE')).join('\n');
  assert.is(names(text), names(plain));
});

test('tap: at most 16 listeners at once; the next is told to come back', async () => {
  const t = proxy.telemetry.tap;
  const open = [];
  try {
    for (let i = 0; i < 16; i++) {
      open.push(await new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: proxy.admin.port, path: '/tap', agent: false }, (res) => resolve({ req, status: res.statusCode }));
        req.on('error', reject);
      }));
    }
    assert.ok(open.every((o) => o.status === 200));
    assert.is(t.listeners.size, 16);
    const more = await getText(proxy.admin.port, '/tap');
    assert.is(more.status, 429);
    assert.match(more.body, /16 taps are listening already/);
  } finally {
    for (const o of open) o.req.destroy();
  }
  assert.ok(await eventually(() => t.listeners.size === 0), 'closed taps let go');
  const again = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: proxy.admin.port, path: '/tap?limit=1', agent: false }, (res) => { resolve(res.statusCode); res.destroy(); }));
  assert.is(again, 200);
});

test('stats.json: the counters skiff stat and the dashboard read', async () => {
  const s = JSON.parse((await getText(proxy.admin.port, '/stats.json')).body);
  assert.ok(s.time >= s.startedAt);
  assert.ok(Array.isArray(s.latencyBucketsMs) && s.latencyBucketsMs.length > 10);
  const web = s.http.filter((x) => x.labels.direction === 'outbound' && x.labels.authority === WEB);
  assert.ok(web.length >= 1);
  const total = web.reduce((a, x) => a + x.requests, 0);
  assert.ok(total >= 6, JSON.stringify(web));
});

test.run();

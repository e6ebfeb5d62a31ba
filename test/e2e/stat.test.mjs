// `skiff stat`: golden metrics per route and per peer read from two proxies' admin endpoints
// (a client's outbound and the server's inbound sidecar), once since start and with --watch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor, statusOf } from '../helpers/mesh.mjs';
import { runSkiff } from '../helpers/proxy-process.mjs';
import { freePort } from '../helpers/ports.mjs';

const WEB = 'web.default.svc.cluster.local:80';
let app, web, client, config;

test.before(async () => {
  app = http.createServer((req, res) => {
    if (req.url === '/fail') { res.writeHead(503); res.end('down'); return; }
    res.end('ok');
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  web = await sidecarFor(app.address().port, { admin: '127.0.0.1:0' });
  config = new ConfigDir();
  config.write('web.yaml', `${serviceYaml('web', 80)}---\n${sliceYaml('web', [{ port: web.inbound.port }])}`);
  config.write('api.yaml', `${serviceYaml('api', 80)}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api-route, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 80}]
  rules:
    - backendRefs: [{name: web, port: 80}]
`);
  client = await startProxy({ config: config.dir, workload: 'default/client', inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1' });
});

test.after(async () => {
  await client.close();
  await web.close();
  app.close();
  config.remove();
});

const get = (host, path) => statusOf(client.outbound.port, host, path);
const stat = (args) => runSkiff(['stat', ...args], { timeout: 30_000 }).done;

/** A table's rows as { DIRECTION, ROUTE|PEER, SUCCESS, … } by its header. */
function rows(table) {
  const lines = table.trim().split('\n').filter((l) => !/^\d{4}-/.test(l));
  const head = lines[0].split(/\s{2,}/);
  return lines.slice(1).map((l) => Object.fromEntries(l.split(/\s{2,}/).map((c, i) => [head[i], c])));
}

test('per route from two proxies: success rate and request counts of known traffic', async () => {
  for (let i = 0; i < 8; i++) assert.is(await get(WEB, '/ok'), 200);
  for (let i = 0; i < 2; i++) assert.is(await get(WEB, '/fail'), 503);
  for (let i = 0; i < 3; i++) assert.is(await get('api.default', '/'), 200);
  const r = await stat([`127.0.0.1:${client.admin.port}`, `127.0.0.1:${web.admin.port}`]);
  assert.is(r.code, 0, r.stderr);
  const t = rows(r.stdout);
  assert.equal(Object.keys(t[0]), ['DIRECTION', 'ROUTE', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'REQUESTS']);
  const find = (dir, name) => t.find((x) => x.DIRECTION === dir && x.ROUTE === name);
  const w = find('outbound', WEB);
  assert.ok(w, r.stdout);
  assert.is(w.SUCCESS, '80.00%');
  assert.is(w.REQUESTS, '10');
  assert.match(w.LATENCY_P50, /^\d+(\.\d+)?ms$/);
  const routed = find('outbound', 'HTTPRoute default/api-route');
  assert.ok(routed, r.stdout);
  assert.is(routed.SUCCESS, '100.00%');
  assert.is(routed.REQUESTS, '3');
  // the server's sidecar saw all 13
  const inbound = t.filter((x) => x.DIRECTION === 'inbound');
  assert.is(inbound.reduce((a, x) => a + Number(x.REQUESTS), 0), 13, r.stdout);
});

test('per peer: the endpoint the outbound called, the caller the inbound served', async () => {
  const r = await stat(['--by', 'peer', `127.0.0.1:${client.admin.port}`, `127.0.0.1:${web.admin.port}`]);
  assert.is(r.code, 0, r.stderr);
  const t = rows(r.stdout);
  const out = t.find((x) => x.DIRECTION === 'outbound' && x.PEER === `127.0.0.1:${web.inbound.port}`);
  assert.ok(out, r.stdout);
  assert.is(out.REQUESTS, '13');
  assert.is(out.SUCCESS, `${(11 / 13 * 100).toFixed(2)}%`);
  const inb = t.find((x) => x.DIRECTION === 'inbound' && x.PEER === '(no identity)');
  assert.ok(inb, r.stdout);
  assert.is(inb.REQUESTS, '13');
});

test('--watch: each table covers its interval only', async () => {
  const watching = stat(['--watch', '--interval', '400ms', '--count', '2', `127.0.0.1:${client.admin.port}`]);
  let done = false;
  watching.then(() => { done = true; });
  // steady successes until it has printed both tables (bounded: at most 4000 requests, ~5 ms apart)
  let sent = 0;
  for (; sent < 4000 && !done; sent++) {
    assert.is(await get(WEB, '/ok'), 200);
    await new Promise((r) => setTimeout(r, 5));
  }
  const r = await watching;
  assert.is(r.code, 0, r.stderr);
  const tables = r.stdout.split(/(?=^\d{4}-\d\d-\d\dT)/m).filter(Boolean);
  assert.is(tables.length, 2, r.stdout);
  for (const table of tables) {
    assert.match(table, /^\S+ over 0\.\d s\n/);
    const w = rows(table).find((x) => x.DIRECTION === 'outbound' && x.ROUTE === WEB);
    assert.ok(w, table);
    assert.is(w.SUCCESS, '100.00%', 'the failures were before this window');
    assert.ok(Number(w.REQUESTS) > 0 && Number(w.REQUESTS) < sent);
  }
});

test('an admin endpoint that does not answer: exit 1 and which one', async () => {
  const port = await freePort();
  const r = await stat([`127.0.0.1:${client.admin.port}`, `127.0.0.1:${port}`]);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED|ECONNREFUSED.*${port}`));
});

test.run();

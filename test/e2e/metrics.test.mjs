// Golden metrics through two proxies: known traffic (successes, HTTP failures, gRPC errors, an
// application reset, a client reset, an unknown name, a routed request) and the exact counters and
// labels it must leave on the client's outbound and the server's inbound, in an exposition that
// promtool parses. Label values stay bounded whatever authorities and paths clients send.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { EventEmitter } from 'node:events';
import grpc from '@grpc/grpc-js';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor, eventually, statusOf } from '../helpers/mesh.mjs';
import { parseExposition, select, sum, getText, promtool } from '../helpers/prometheus.mjs';

const id = (b) => b;
const Echo = grpc.makeGenericClientConstructor({
  ok: { path: '/skiff.test.Echo/Ok', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  fail: { path: '/skiff.test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
}, 'Echo');

const hung = new EventEmitter();
let app, grpcServer, web, echo, client, config;
const WEB = 'web.default.svc.cluster.local:80';
const ECHO = 'echo.default.svc.cluster.local:50051';

test.before(async () => { 
  app = http.createServer((req, res) => {
    if (req.url === '/fail') { res.writeHead(503); res.end('down'); return; }
    if (req.url === '/reset') { req.socket.destroy(); return; }
    if (req.url === '/hang') { hung.emit('request'); return; } // never answers: the client gives up
    res.end('ok');
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  grpcServer = new grpc.Server();
  grpcServer.addService({
    ok: { path: '/skiff.test.Echo/Ok', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    fail: { path: '/skiff.test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  }, {
    ok: (call, cb) => cb(null, call.request),
    fail: (call, cb) => cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' }),
  });
  const grpcPort = await new Promise((res, rej) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  web = await sidecarFor(app.address().port, { admin: '127.0.0.1:0' });
  echo = await sidecarFor(grpcPort, { admin: '127.0.0.1:0' });
  config = new ConfigDir();
  config.write('web.yaml', `${serviceYaml('web', 80)}---\n${sliceYaml('web', [{ port: web.inbound.port }])}`);
  config.write('echo.yaml', `${serviceYaml('echo', 50051, { appProtocol: 'grpc' })}---\n${sliceYaml('echo', [{ port: echo.inbound.port }])}`);
  config.write('api.yaml', `${serviceYaml('api', 80)}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api-route, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 80}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /v1}}]
      backendRefs: [{name: web, port: 80}]
`);
  client = await startProxy({ config: config.dir, workload: 'default/client', inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1' });
});

test.after(async () => {
  await client.close();
  await web.close();
  await echo.close();
  app.close();
  grpcServer.forceShutdown();
  config.remove();
});

const get = (host, path) => statusOf(client.outbound.port, host, path);

const scrape = async (p) => {
  const r = await getText(p.admin.port, '/metrics');
  assert.is(r.status, 200);
  return { text: r.body, samples: parseExposition(r.body) };
};

test('known traffic leaves exact counters and labels on both proxies', async () => {
  for (let i = 0; i < 5; i++) assert.is(await get(WEB, '/ok'), 200);
  for (let i = 0; i < 3; i++) assert.is(await get(WEB, '/fail'), 503);
  assert.is(await get(WEB, '/reset'), 502); // the app resets: the server's sidecar answers 502
  for (let i = 0; i < 2; i++) assert.is(await get('api.default', '/v1/items'), 200);
  assert.is(await get('nowhere.default', '/x'), 404);
  // a client that gives up: it closes its connection before the (slow) app answers
  await new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: client.outbound.port, path: '/hang', headers: { host: WEB }, agent: false });
    req.on('error', () => {});
    req.on('close', resolve);
    hung.once('request', () => req.destroy());
  });
  // gRPC: 4 OK, 2 NOT_FOUND
  const c = new Echo(`127.0.0.1:${client.outbound.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': ECHO });
  const call = (m) => new Promise((res) => c[m](Buffer.from('x'), (err) => res(err ? err.code : 0)));
  for (let i = 0; i < 4; i++) assert.is(await call('ok'), 0);
  for (let i = 0; i < 2; i++) assert.is(await call('fail'), grpc.status.NOT_FOUND);
  c.close();

  const webOut = { direction: 'outbound', authority: WEB, dst_namespace: 'default', dst_service: 'web', route_name: undefined };
  let m;
  // the client reset is counted when both proxies have seen the end of that stream
  await eventually(async () => { m = await scrape(client); return sum(m.samples, 'response_total', { ...webOut, error: 'client_reset' }) === 1; });
  const s = m.samples;
  assert.is(sum(s, 'request_total', webOut), 10);
  const series = select(s, 'request_total', webOut);
  assert.is(series.length, 1, 'one label set: one endpoint');
  const { route_name: _none, ...webLabels } = webOut;
  assert.equal(series[0].labels, { ...webLabels, target_addr: `127.0.0.1:${web.inbound.port}`, tls: 'no_identity', no_tls_reason: 'disabled' }, 'labels of a meshed endpoint without mesh TLS');
  assert.is(sum(s, 'response_total', { ...webOut, classification: 'success', status_code: '200' }), 5);
  assert.is(sum(s, 'response_total', { ...webOut, classification: 'failure', status_code: '503' }), 3);
  assert.is(sum(s, 'response_total', { ...webOut, classification: 'failure', status_code: '502' }), 1);
  assert.is(sum(s, 'response_total', { ...webOut, classification: 'failure', status_code: '', error: 'client_reset' }), 1);
  assert.is(sum(s, 'response_total', webOut), 10);
  // the latency histogram counts every response, and its buckets are cumulative up to +Inf
  assert.is(sum(s, 'response_latency_ms_count', webOut), 10);
  assert.is(sum(s, 'response_latency_ms_bucket', { ...webOut, le: '+Inf' }), 10);
  const ok = select(s, 'response_latency_ms_bucket', { ...webOut, status_code: '200' }).map((x) => x.value);
  assert.ok(ok.every((v, i) => i === 0 || v >= ok[i - 1]) && ok[ok.length - 1] === 5, 'cumulative buckets');

  // routed traffic: route and backend labels
  const routed = { direction: 'outbound', authority: 'api.default.svc.cluster.local:80', route_kind: 'HTTPRoute', route_namespace: 'default', route_name: 'api-route', backend_namespace: 'default', backend_name: 'web', backend_port: '80' };
  assert.is(sum(s, 'request_total', routed), 2);
  assert.is(sum(s, 'response_total', { ...routed, classification: 'success', status_code: '200' }), 2);
  // a name that is no Service: counted without an authority label value (the client chose it)
  assert.is(sum(s, 'request_total', { direction: 'outbound', authority: '' }), 1);
  assert.is(sum(s, 'response_total', { direction: 'outbound', authority: '', status_code: '404', classification: 'success' }), 1);

  // gRPC: classified by grpc-status
  const echoOut = { direction: 'outbound', authority: ECHO, dst_service: 'echo' };
  assert.is(sum(s, 'request_total', echoOut), 6);
  assert.is(sum(s, 'response_total', { ...echoOut, classification: 'success', status_code: '200', grpc_status: '0' }), 4);
  assert.is(sum(s, 'response_total', { ...echoOut, classification: 'failure', status_code: '200', grpc_status: '5' }), 2);

  // TCP on the client's proxy: one connection per HTTP/1.1 request, one HTTP/2 client, one gRPC
  // channel; one pooled HTTP/2 connection to each sidecar
  const src = { direction: 'outbound', peer: 'src' };
  assert.is(sum(s, 'tcp_open_total', src), 5 + 3 + 1 + 2 + 1 + 1 + 1);
  assert.is(sum(s, 'tcp_open_total', { direction: 'outbound', peer: 'dst', target_addr: `127.0.0.1:${web.inbound.port}` }), 1);
  assert.is(sum(s, 'tcp_open_total', { direction: 'outbound', peer: 'dst', target_addr: `127.0.0.1:${echo.inbound.port}` }), 1);
  assert.is(sum(s, 'tcp_open_connections', { direction: 'outbound', peer: 'dst' }), 2);
  assert.ok(sum(s, 'tcp_read_bytes_total', src) > 0 && sum(s, 'tcp_write_bytes_total', src) > 0);
  await eventually(async () => { m = await scrape(client); return sum(m.samples, 'tcp_open_connections', src) === 0; });
  assert.is(sum(m.samples, 'tcp_close_total', src), 5 + 3 + 1 + 2 + 1 + 1 + 1);
  assert.is(sum(m.samples, 'tcp_connection_duration_ms_count', src), 5 + 3 + 1 + 2 + 1 + 1 + 1);

  // the server's inbound: the same requests, from a sidecar without mesh TLS
  const w = (await scrape(web)).samples;
  const webIn = { direction: 'inbound', target_addr: `127.0.0.1:${app.address().port}`, tls: 'no_identity', no_tls_reason: 'not_provided_by_remote' };
  assert.is(sum(w, 'request_total', webIn), 5 + 3 + 1 + 2 + 1);
  assert.is(sum(w, 'response_total', { ...webIn, status_code: '200', classification: 'success' }), 7);
  assert.is(sum(w, 'response_total', { ...webIn, status_code: '503', classification: 'failure' }), 3);
  assert.is(sum(w, 'response_total', { ...webIn, status_code: '502', classification: 'failure' }), 1);
  assert.is(sum(w, 'response_total', { ...webIn, error: 'client_reset' }), 1);
  assert.is(sum(w, 'tcp_open_total', { direction: 'inbound', peer: 'src' }), 1, 'one mesh connection from the client sidecar');
  assert.ok(sum(w, 'tcp_open_total', { direction: 'inbound', peer: 'dst', target_addr: `127.0.0.1:${app.address().port}`, no_tls_reason: 'loopback' }) >= 1);
  const e = (await scrape(echo)).samples;
  assert.is(sum(e, 'response_total', { direction: 'inbound', grpc_status: '5', classification: 'failure' }), 2);
  assert.is(sum(e, 'response_total', { direction: 'inbound', grpc_status: '0', classification: 'success' }), 4);

  // process metrics, from prom-client
  assert.ok(select(s, 'process_resident_memory_bytes').length === 1);
  assert.ok(select(s, 'skiff_build_info').length === 1);
});

// promtool's lint (not its parser) objects to names that dashboards depend on: Linkerd's _ms units
// and prom-client's nodejs_active_*_total gauges. Anything else it reports is a failure.
const LINT_ACCEPTED = [
  /^(response_latency_ms|tcp_connection_duration_ms) metric names should not contain abbreviated units$/,
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/,
];

test('the exposition parses with promtool (lint: only the names Linkerd and prom-client fix)', async () => {
  for (const p of [client, web, echo]) {
    const { text } = await scrape(p);
    const r = promtool(text);
    assert.ok(r.code === 0 || r.code === 3, `promtool exit ${r.code}: ${r.output}`);
    assert.not.match(r.output, /pars/i);
    const problems = r.output.split('\n').filter((l) => l.trim() && !LINT_ACCEPTED.some((re) => re.test(l.trim())));
    assert.equal(problems, [], r.output);
  }
});

test('label values stay bounded: client-chosen authorities and paths add no series', async () => {
  const before = (await scrape(client)).samples;
  const count = (s) => select(s, 'request_total').length;
  for (let i = 0; i < 40; i++) await get(`random-${i}.example.com`, `/p/${i}?q=${i}`);
  for (let i = 0; i < 40; i++) assert.is(await get(WEB, `/ok/${i}?q=${i}`), 200);
  const after = (await scrape(client)).samples;
  assert.is(count(after), count(before));
  assert.is(sum(after, 'request_total', { direction: 'outbound', authority: '' }) - sum(before, 'request_total', { direction: 'outbound', authority: '' }), 40);
  const text = (await scrape(client)).text;
  assert.not.match(text, /random-\d|\/p\/\d|\/ok\/\d/);
  const w = (await scrape(web)).text;
  assert.not.match(w, /\/ok\/\d/);
});

test('label sets idle past --metrics-retain-idle leave /metrics, never while in flight, and come back counting on', async () => {
  let release;
  const held = new Promise((r) => { release = r; });
  const slowApp = http.createServer((req, res) => {
    if (req.url === '/held') { held.then(() => res.end('late')); return; }
    res.end('ok');
  });
  await new Promise((r) => slowApp.listen(0, '127.0.0.1', r));
  const dir = new ConfigDir();
  const port = slowApp.address().port;
  dir.write('a.yaml', `${serviceYaml('quick', 80)}---\n${sliceYaml('quick', [{ port }], { meshed: false })}---\n${serviceYaml('held', 80)}---\n${sliceYaml('held', [{ port }], { meshed: false })}`);
  const p = await startProxy({ config: dir.dir, inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1', metricsRetainIdleMs: 300 });
  const QUICK = { direction: 'outbound', authority: 'quick.default.svc.cluster.local:80' };
  const HELD = { direction: 'outbound', authority: 'held.default.svc.cluster.local:80' };
  try {
    for (let i = 0; i < 3; i++) assert.is(await statusOf(p.outbound.port, 'quick.default', '/'), 200);
    const slow = statusOf(p.outbound.port, 'held.default', '/held');
    let m = await eventually(async () => { const x = await scrape(p); return sum(x.samples, 'request_total', HELD) === 1 ? x : null; });
    assert.is(sum(m.samples, 'request_total', QUICK), 3);
    // well past the idle limit: the quick set is gone, the held one (a request in flight) is not
    m = await eventually(async () => { const x = await scrape(p); return select(x.samples, 'request_total', QUICK).length === 0 ? x : null; });
    assert.ok(m, 'the idle label set left /metrics');
    assert.is(select(m.samples, 'response_total', QUICK).length, 0);
    assert.is(sum(m.samples, 'request_total', HELD), 1, 'in flight: kept');
    assert.is(sum(m.samples, 'tcp_open_connections', { direction: 'outbound', peer: 'src' }), 1, 'an open connection keeps its set');
    // used again: back, its counts carried on
    assert.is(await statusOf(p.outbound.port, 'quick.default', '/'), 200);
    m = await scrape(p);
    assert.is(sum(m.samples, 'request_total', QUICK), 4);
    assert.is(sum(m.samples, 'response_total', { ...QUICK, status_code: '200' }), 4);
    release();
    assert.is(await slow, 200);
    m = await scrape(p);
    assert.is(sum(m.samples, 'response_total', { ...HELD, status_code: '200' }), 1);
  } finally {
    release();
    await p.close();
    slowApp.close();
    dir.remove();
  }
});

test('a proxy without metrics records nothing and says so', async () => {
  const p = await startProxy({ inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1', metrics: false });
  try {
    const r = await getText(p.admin.port, '/metrics');
    assert.is(r.status, 404);
    assert.match(r.body, /metrics are off/);
    assert.is(p.telemetry, null);
  } finally {
    await p.close();
  }
});

test.run();

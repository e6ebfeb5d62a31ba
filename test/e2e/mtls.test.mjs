// Mutual TLS between two sidecars with identities from the identity service: the app sees the
// caller's verified identity (never a forged one); openssl s_client sees TLS 1.3 and is refused
// without a mesh certificate or with one from another trust anchor; a peer that is not the
// identity discovery expects is refused; an app's own TLS passes the inbound untouched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initTrust } from '../../dist/host/identity/trust.js';
import { issueToken } from '../../dist/host/identity/token.js';
import { Issuer } from '../../dist/host/identity/issuer.js';
import { createCsr, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from '../../dist/host/identity/x509.js';
import { createIdentityService } from '../../dist/host/control/identity-service.js';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, serviceYaml, eventually } from '../helpers/mesh.mjs';
import { run } from '../helpers/run.mjs';

let dir, other, service, app, server, server2, client, config;
const seen = [];

/** A meshed slice whose endpoint must prove `identity` (annotation), or whose endpoint is `pod`. */
function sliceYaml(name, port, identity, { pod } = {}) {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: default
  labels: {kubernetes.io/service-name: ${name}}
  annotations: {skiff.io/meshed: "true"${identity ? `, skiff.io/identity: "${identity}"` : ''}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1]${pod ? `, targetRef: {kind: Pod, name: ${pod}, namespace: default}` : ''}}]
---
`;
}
const podYaml = (name, sa) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: default}\nspec:\n  serviceAccountName: ${sa}\n  containers: [{name: app, image: app}]\n---\n`;

async function proxyFor(sa, extra) {
  const tokenFile = join(dir, `${sa}.token`);
  writeFileSync(tokenFile, issueToken(readFileSync(join(dir, 'tokens.key'), 'utf8'), { namespace: 'default', name: sa }));
  const p = await startProxy({
    inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, workload: `default/${sa}`,
    identity: { addr: `127.0.0.1:${service.address().port}`, tokenFile, trustAnchorsFile: join(dir, 'trust-anchors.pem') }, ...extra,
  });
  return p;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-mtls-'));
  other = mkdtempSync(join(tmpdir(), 'skiff-mtls-other-'));
  await initTrust(dir);
  await initTrust(other);
  service = await createIdentityService({ identityDir: dir });
  await new Promise((r) => service.listen(0, '127.0.0.1', r));
  app = http.createServer((req, res) => {
    if (req.url.startsWith('/bytes/')) {
      // a download, written as fast as the proxy takes it
      const n = Number(req.url.slice(7));
      res.writeHead(200, { 'content-length': String(n) });
      let off = 0;
      const more = () => { while (off < n) { const k = Math.min(65536, n - off); off += k; if (!res.write(Buffer.alloc(k, off & 0xff))) { res.once('drain', more); return; } } res.end(); };
      more();
      return;
    }
    seen.push(req.headers);
    res.end(JSON.stringify({ clientId: req.headers['skiff-client-id'] ?? null, route: req.headers['x-route'] ?? null }));
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  config = new ConfigDir();
  server = await proxyFor('web', { app: `127.0.0.1:${app.address().port}`, config: config.dir, configPollMs: 50 });
  // another workload running as "web", where discovery says "payments" should answer
  server2 = await proxyFor('web', { app: `127.0.0.1:${app.address().port}` });
  config.write('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', server.inbound.port, 'spiffe://cluster.local/ns/default/sa/web') +
    serviceYaml('payments', 80) + '---\n' + sliceYaml('payments', server2.inbound.port, 'spiffe://cluster.local/ns/default/sa/payments') +
    // identities from Pods: the endpoints' targetRefs name Pods, whose ServiceAccounts are the identities
    serviceYaml('web-pods', 80) + '---\n' + sliceYaml('web-pods', server.inbound.port, undefined, { pod: 'web-abc' }) +
    serviceYaml('payments-pods', 80) + '---\n' + sliceYaml('payments-pods', server2.inbound.port, undefined, { pod: 'payments-xyz' }) +
    podYaml('web-abc', 'web') + podYaml('payments-xyz', 'payments') +
    // a producer route on web: callers apply it, and the inbound for callers that did not
    `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: default}\nspec:\n  parentRefs: [{group: "", kind: Service, name: web}]\n  rules:\n    - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-route, value: producer}]}}]\n      backendRefs: [{name: web, port: 80}]\n`);
  client = await proxyFor('client', { config: config.dir, app: '127.0.0.1:1' });
  // both certified: a request gets through
  assert.ok(await eventually(async () => (await get('web.default').catch(() => ({ status: 0 }))).status === 200, 10_000), 'the mesh came up');
});

test.after(async () => {
  await client?.close();
  await server?.close();
  await server2?.close();
  app.close();
  service.close();
  service.closeAllConnections();
  config?.remove();
  rmSync(dir, { recursive: true, force: true });
  rmSync(other, { recursive: true, force: true });
});

function get(host, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: client.outbound.port, path: '/', headers: { host, ...headers } }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve({ status: res.statusCode, text: t, headers: res.headers }));
    }).on('error', reject);
  });
}

test('the app sees the caller identity mTLS proved, and never a forged one', async () => {
  const r = await get('web.default', { 'skiff-client-id': 'spiffe://cluster.local/ns/default/sa/admin' });
  assert.is(r.status, 200, r.text);
  assert.is(JSON.parse(r.text).clientId, 'spiffe://cluster.local/ns/default/sa/client');
  // straight to the inbound in plaintext: no identity, and the forged field is dropped
  const plain = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.inbound.port, path: '/', headers: { 'skiff-client-id': 'spiffe://forged' } }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve(JSON.parse(t)));
    }).on('error', reject);
  });
  assert.is(plain.clientId, null);
});

test('mesh headers in any spelling a framework folds together (_ for -) never reach the app from a client', async () => {
  // CGI-style frameworks (WSGI, Rack, PHP) read skiff_client_id and skiff-client-id as one HTTP_SKIFF_CLIENT_ID
  const forged = { skiff_client_id: 'spiffe://evil/ns/x/sa/y', 'skiff-routed': '1', skiff_routed: '1', skiff_orig_proto: 'HTTP/1.1', 'x-kept_name': 'kept' };
  seen.length = 0;
  const r = await get('web.default', forged);
  assert.is(r.status, 200, r.text);
  assert.is(JSON.parse(r.text).clientId, 'spiffe://cluster.local/ns/default/sa/client');
  const h = seen[0];
  const folded = Object.keys(h).map((n) => n.replace(/_/g, '-'));
  assert.equal(folded.filter((n) => n === 'skiff-client-id').length, 1, `the app saw ${JSON.stringify(h)}`);
  assert.not.ok(folded.includes('skiff-routed') || folded.includes('skiff-orig-proto'), JSON.stringify(h));
  assert.is(h['x-kept_name'], 'kept', 'other names with _ pass (--underscore-headers allow, the default)');
});

test('slow readers through the mTLS hop: curl --limit-rate and three bursty readers at once get every byte', async () => {
  const n = 4 << 20;
  const r = await run('curl', ['-sS', '--limit-rate', '4M', '-H', 'host: web.default', '-o', '-', `http://127.0.0.1:${client.outbound.port}/bytes/${n}`], { timeout: 60_000 });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, n);
  let want = 0;
  for (let off = 0; off < n; off += 65536) want += Math.min(65536, n - off) * ((off + Math.min(65536, n - off)) & 0xff);
  let sum = 0;
  for (let i = 0; i < r.stdout.length; i++) sum += r.stdout[i];
  assert.is(sum, want, 'content');
  // three downloads at once over the same mTLS connection between the sidecars, each reader pausing now and then
  const statuses = await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: client.outbound.port, path: `/bytes/${n}`, headers: { host: 'web.default' }, agent: false }, (res) => {
      let len = 0;
      res.on('data', (d) => { len += d.length; if (Math.random() < 0.05) { res.pause(); setTimeout(() => res.resume(), 20); } });
      res.on('end', () => resolve(`${res.statusCode} ${len}`));
      res.on('error', reject);
    }).on('error', reject);
  })));
  assert.equal(statuses, [`200 ${n}`, `200 ${n}`, `200 ${n}`]);
});

test('metrics name both identities: server_id on the caller\'s outbound, client_id on the inbound', async () => {
  const { renderMetrics } = await import('../../dist/host/metrics/exposition.js');
  const { parseExposition, sum } = await import('../helpers/prometheus.mjs');
  const samples = async (p) => parseExposition((await renderMetrics(p.telemetry, 'test')).body);
  const before = { out: await samples(client), in: await samples(server) };
  for (let i = 0; i < 3; i++) assert.is((await get('web.default')).status, 200);
  const out = { direction: 'outbound', authority: 'web.default.svc.cluster.local:80', tls: 'true', server_id: 'spiffe://cluster.local/ns/default/sa/web', classification: 'success', status_code: '200' };
  const inb = { direction: 'inbound', tls: 'true', client_id: 'spiffe://cluster.local/ns/default/sa/client', classification: 'success', status_code: '200' };
  await eventually(async () => sum(await samples(server), 'response_total', inb) - sum(before.in, 'response_total', inb) === 3);
  assert.is(sum(await samples(client), 'response_total', out) - sum(before.out, 'response_total', out), 3);
  assert.is(sum(await samples(server), 'response_total', inb) - sum(before.in, 'response_total', inb), 3);
  // tap by identity: the server's inbound hears requests from the client's identity, not others
  const heard = [];
  const stop = server.telemetry.tap.listen({ filter: { identity: 'spiffe://cluster.local/ns/default/sa/client', direction: 'inbound' }, send: (x) => { heard.push(x); return true; } });
  const none = [];
  const stop2 = server.telemetry.tap.listen({ filter: { identity: 'spiffe://cluster.local/ns/default/sa/other' }, send: (x) => { none.push(x); return true; } });
  try {
    assert.is((await get('web.default')).status, 200);
    await eventually(() => heard.length === 1);
    assert.is(heard[0].client_id, 'spiffe://cluster.local/ns/default/sa/client');
    assert.is(heard[0].status, 200);
    assert.is(none.length, 0);
  } finally { stop(); stop2(); }
  // the mesh connection, on both sides
  assert.ok(sum(await samples(client), 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: 'spiffe://cluster.local/ns/default/sa/web' }) >= 1);
  assert.ok(sum(await samples(server), 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'true', client_id: 'spiffe://cluster.local/ns/default/sa/client' }) >= 1);
});

test('with mTLS, the skiff-routed mark counts only from a proven sidecar: a plaintext client meets the producer route', async () => {
  assert.ok(await eventually(() => server.configGeneration >= 2), 'the server sidecar has the route');
  const viaMesh = await get('web.default');
  assert.is(JSON.parse(viaMesh.text).route, 'producer', 'applied once, by the caller');
  const spoof = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.inbound.port, path: '/', headers: { host: 'web.default', 'skiff-routed': '1' } }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve(JSON.parse(t)));
    }).on('error', reject);
  });
  assert.is(spoof.route, 'producer', 'the inbound applied the producer route despite the forged mark');
});

test('a peer that is not the identity discovery expects is refused, never sent plaintext', async () => {
  // (until the second sidecar has its own certificate the connection fails differently: wait for it)
  let r;
  await eventually(async () => { r = await get('payments.default'); return /not the expected/.test(r.headers['skiff-proxy-error'] ?? ''); }, 10_000);
  assert.is(r.status, 502, r.text);
  assert.match(r.headers['skiff-proxy-error'], /peer identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/web is not the expected spiffe:\/\/cluster\.local\/ns\/default\/sa\/payments/);
});

test("without an annotation, the endpoint's Pod's ServiceAccount is the identity its sidecar must prove", async () => {
  const ok = await get('web-pods.default');
  assert.is(ok.status, 200, ok.text);
  let r;
  await eventually(async () => { r = await get('payments-pods.default'); return /not the expected/.test(r.headers['skiff-proxy-error'] ?? ''); }, 10_000);
  assert.is(r.status, 502, r.text);
  assert.match(r.headers['skiff-proxy-error'], /is not the expected spiffe:\/\/cluster\.local\/ns\/default\/sa\/payments/);
  // and counted in the client proxy's metrics
  const { renderMetrics } = await import('../../dist/host/metrics/exposition.js');
  const { body } = await renderMetrics(client.telemetry, 'test');
  assert.match(body, /skiff_identity_mismatch_total\{expected="spiffe:\/\/cluster\.local\/ns\/default\/sa\/payments",actual="spiffe:\/\/cluster\.local\/ns\/default\/sa\/web"\} [1-9]/);
});

async function clientCert(fromDir, sa) {
  const issuer = new Issuer({
    trustDomain: 'cluster.local', issuerCert: readFileSync(join(fromDir, 'issuer.crt'), 'utf8'),
    issuerKey: await importPrivateKeyPem(readFileSync(join(fromDir, 'issuer.key'), 'utf8')), tokenSecret: readFileSync(join(fromDir, 'tokens.key'), 'utf8'),
  });
  const keys = await generateKeyPair();
  const r = await issuer.certify(issueToken(readFileSync(join(fromDir, 'tokens.key'), 'utf8'), { namespace: 'default', name: sa }),
    await createCsr(keys, [`spiffe://cluster.local/ns/default/sa/${sa}`], []));
  writeFileSync(join(fromDir, `${sa}.crt`), r.chain);
  writeFileSync(join(fromDir, `${sa}.key`), await exportPrivateKeyPem(keys.privateKey));
  return [join(fromDir, `${sa}.crt`), join(fromDir, `${sa}.key`)];
}

test('openssl s_client: TLS 1.3 with a mesh certificate; refused without one or with another anchor', async () => {
  const at = `127.0.0.1:${server.inbound.port}`;
  const [cert, key] = await clientCert(dir, 'tester');
  const ok = await run('openssl', ['s_client', '-connect', at, '-alpn', 'skiff.io/mesh-h2', '-cert', cert, '-key', key,
    '-CAfile', join(dir, 'trust-anchors.pem'), '-verify_return_error', '-brief'], { input: '' });
  const okOut = `${ok.stdout}${ok.stderr}`;
  assert.match(okOut, /Protocol version: TLSv1\.3/);
  assert.match(okOut, /Verification: OK/);
  const none = await run('openssl', ['s_client', '-connect', at, '-alpn', 'skiff.io/mesh-h2', '-brief'], { input: 'GET / HTTP/1.1\r\n\r\n' });
  assert.match(`${none.stdout}${none.stderr}`, /alert|error|certificate required/i);
  const [badCert, badKey] = await clientCert(other, 'tester');
  const foreign = await run('openssl', ['s_client', '-connect', at, '-alpn', 'skiff.io/mesh-h2', '-cert', badCert, '-key', badKey, '-brief'], { input: 'x' });
  assert.match(`${foreign.stdout}${foreign.stderr}`, /alert|error|unknown ca/i);
  // neither got a request to the app
  assert.ok(seen.every((h) => h['skiff-client-id'] !== 'spiffe://cluster.local/ns/default/sa/tester'));
});

test("an app's own TLS (no mesh ALPN) passes the inbound untouched", async () => {
  // an application that speaks TLS itself: record what reaches it
  let first = null;
  const raw = net.createServer((sock) => { sock.once('data', (c) => { first ??= c; sock.destroy(); }); });
  await new Promise((r) => raw.listen(0, '127.0.0.1', r));
  const side = await proxyFor('tls-app', { app: `127.0.0.1:${raw.address().port}` });
  await run('openssl', ['s_client', '-connect', `127.0.0.1:${side.inbound.port}`, '-alpn', 'h2', '-servername', 'app.example.com', '-brief'], { input: '' });
  assert.ok(await eventually(() => first !== null), 'the app got the bytes');
  assert.is(first[0], 0x16, 'a TLS handshake record, as the client sent it');
  await side.close();
  raw.close();
});

test('rotation: second-long certificates renewed under continuous load, no request fails', async () => {
  // a service issuing 2 s certificates, and a fresh pair of sidecars on it
  const fast = await createIdentityService({ identityDir: dir, certificateLifetimeMs: 2000 });
  await new Promise((r) => fast.listen(0, '127.0.0.1', r));
  const mk = async (sa, extra) => {
    const tokenFile = join(dir, `${sa}.rot.token`);
    writeFileSync(tokenFile, issueToken(readFileSync(join(dir, 'tokens.key'), 'utf8'), { namespace: 'default', name: sa }));
    return startProxy({ inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', workload: `default/${sa}`,
      identity: { addr: `127.0.0.1:${fast.address().port}`, tokenFile, trustAnchorsFile: join(dir, 'trust-anchors.pem') }, ...extra });
  };
  const srv = await mk('web', { app: `127.0.0.1:${app.address().port}` });
  const cfg = new ConfigDir();
  cfg.write('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', srv.inbound.port, 'spiffe://cluster.local/ns/default/sa/web'));
  const cli = await mk('client', { config: cfg.dir, app: '127.0.0.1:1' });
  const renewals = (p) => new Promise((resolve) => http.get({ host: '127.0.0.1', port: p.admin.port, path: '/ready' }, (res) => {
    let t = '';
    res.on('data', (c) => { t += c; });
    res.on('end', () => resolve(Number(/renewed (\d+) time/.exec(t)?.[1] ?? -1)));
  }).on('error', () => resolve(-1)));
  const agent = new http.Agent({ keepAlive: false }); // a new client connection each time: new outbound streams
  const one = () => new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: cli.outbound.port, path: '/', agent, headers: { host: 'web.default' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', () => resolve(0));
  });
  assert.ok(await eventually(async () => (await one()) === 200, 10_000), 'up');
  let ok = 0;
  const failed = [];
  // load until both sides renewed at least twice (bounded: 600 requests, ~15 s)
  for (let i = 0; i < 600; i++) {
    const st = await one();
    if (st === 200) ok++; else failed.push(st);
    if (i % 20 === 19 && (await renewals(srv)) >= 2 && (await renewals(cli)) >= 2) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok((await renewals(srv)) >= 2 && (await renewals(cli)) >= 2, 'both renewed at least twice');
  assert.equal(failed, [], `${failed.length} of ${ok + failed.length} requests failed`);
  // a new connection now handshakes with the renewed certificates (the first ones have expired)
  const cli2 = await mk('client', { config: cfg.dir, app: '127.0.0.1:1' });
  const fresh = await eventually(async () => new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: cli2.outbound.port, path: '/', headers: { host: 'web.default' } }, (res) => { res.resume(); resolve(res.statusCode === 200); })
      .on('error', () => resolve(false));
  }), 10_000);
  assert.ok(fresh, 'a new mTLS connection after the renewals');
  await cli2.close();
  await cli.close();
  await srv.close();
  cfg.remove();
  fast.close();
  fast.closeAllConnections();
});

test('several trust anchors at once: sidecars from two roots talk while both are trusted', async () => {
  // a second root and identity service for the same trust domain: the anchor being rolled in
  const next = mkdtempSync(join(tmpdir(), 'skiff-mtls-next-'));
  await initTrust(next);
  const svc2 = await createIdentityService({ identityDir: next });
  await new Promise((r) => svc2.listen(0, '127.0.0.1', r));
  const bundle = join(next, 'bundle.pem');
  writeFileSync(bundle, readFileSync(join(dir, 'trust-anchors.pem'), 'utf8') + readFileSync(join(next, 'trust-anchors.pem'), 'utf8'));
  const tokenFile = join(next, 'web.token');
  writeFileSync(tokenFile, issueToken(readFileSync(join(next, 'tokens.key'), 'utf8'), { namespace: 'default', name: 'web' }));
  // a server certified under the new root, trusting both; the old client trusts only the old root
  const srv = await startProxy({ inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, app: `127.0.0.1:${app.address().port}`,
    identity: { addr: `127.0.0.1:${svc2.address().port}`, tokenFile, trustAnchorsFile: bundle } });
  const cfg = new ConfigDir();
  cfg.write('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', srv.inbound.port, 'spiffe://cluster.local/ns/default/sa/web'));
  const oldTokenFile = join(dir, 'client.next.token');
  writeFileSync(oldTokenFile, issueToken(readFileSync(join(dir, 'tokens.key'), 'utf8'), { namespace: 'default', name: 'client' }));
  const mkClient = (anchors) => startProxy({ inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, config: cfg.dir, app: '127.0.0.1:1',
    identity: { addr: `127.0.0.1:${service.address().port}`, tokenFile: oldTokenFile, trustAnchorsFile: anchors } });
  const call = (p) => new Promise((resolve) => http.get({ host: '127.0.0.1', port: p.outbound.port, path: '/', headers: { host: 'web.default' } }, (res) => {
    let t = '';
    res.on('data', (c) => { t += c; });
    res.on('end', () => resolve({ status: res.statusCode, text: t }));
  }).on('error', () => resolve({ status: 0, text: '' })));
  const oldOnly = await mkClient(join(dir, 'trust-anchors.pem'));
  const both = await mkClient(bundle);
  assert.ok(await eventually(async () => (await call(both)).status === 200, 10_000), 'trusting both roots: through');
  assert.is(JSON.parse((await call(both)).text).clientId, 'spiffe://cluster.local/ns/default/sa/client');
  const refused = await eventually(async () => (await call(oldOnly)).status === 502, 10_000);
  assert.ok(refused, 'trusting only the old root: the new-root server is refused');
  await oldOnly.close();
  await both.close();
  await srv.close();
  cfg.remove();
  svc2.close();
  svc2.closeAllConnections();
  rmSync(next, { recursive: true, force: true });
});

test.run();

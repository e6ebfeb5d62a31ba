// The mesh in-process (issue 16): MeshClient, an undici Dispatcher, calls services behind real
// `skiff proxy` sidecars over mTLS with the gateway's own workload identity — routing, retries,
// bodies both ways under flow control, abort, metrics, draining close, two meshes in one process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, fetch } from 'undici';
import { initTrust } from '../../dist/host/identity/trust.js';
import { issueToken } from '../../dist/host/identity/token.js';
import { createIdentityService } from '../../dist/host/control/identity-service.js';
import { MeshClient, MeshClientError, meshServer } from '../../dist/host/index.js';
import { renderMetrics } from '../../dist/host/metrics/exposition.js';
import { spawnProxy } from '../helpers/proxy-process.mjs';
import { ConfigDir, eventually } from '../helpers/mesh.mjs';

let dir, identity, app, appV2, sidecar, sidecarV2, config, mesh;
const attempts = new Map();

function token(sa) {
  const f = join(dir, `${sa}.token`);
  writeFileSync(f, issueToken(readFileSync(join(dir, 'tokens.key'), 'utf8'), { namespace: 'default', name: sa }));
  return f;
}

function meshFor(sa) {
  return MeshClient.create({
    config: config.dir, workload: `default/${sa}`,
    identity: { addr: `127.0.0.1:${identity.address().port}`, tokenFile: token(sa), trustAnchorsFile: join(dir, 'trust-anchors.pem') },
  });
}

function startApp(name) {
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/bytes/')) {
      const n = Number(req.url.slice(7));
      res.writeHead(200, { 'content-length': String(n) });
      let off = 0;
      const more = () => { while (off < n) { const k = Math.min(65536, n - off); const c = Buffer.alloc(k); for (let i = 0; i < k; i++) c[i] = (off + i) & 0xff; off += k; if (!res.write(c)) { res.once('drain', more); return; } } res.end(); };
      more();
      return;
    }
    if (req.url === '/digest') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c) => { h.update(c); n += c.length; });
      req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
      return;
    }
    if (req.url.startsWith('/flaky/')) {
      // 503 the first time each id is seen
      const id = req.url.slice(7);
      const k = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, k);
      req.resume();
      res.writeHead(k === 1 ? 503 : 200);
      res.end(`attempt ${k}`);
      return;
    }
    if (req.url === '/slow') { req.resume(); setTimeout(() => res.end('slow done'), 500); return; }
    if (req.url === '/hang') { req.resume(); return; }
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ app: name, clientId: req.headers['skiff-client-id'] ?? null, path: req.url }));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-meshclient-'));
  await initTrust(dir);
  identity = await createIdentityService({ identityDir: dir });
  await new Promise((r) => identity.listen(0, '127.0.0.1', r));
  app = await startApp('web');
  appV2 = await startApp('web-v2');
  const idArgs = (sa) => ['--identity-addr', `127.0.0.1:${identity.address().port}`, '--identity-token', token(sa), '--trust-anchors', join(dir, 'trust-anchors.pem'), '--workload', `default/${sa}`];
  sidecar = await spawnProxy([...idArgs('web'), '--app', `127.0.0.1:${app.address().port}`]);
  sidecarV2 = await spawnProxy([...idArgs('web'), '--app', `127.0.0.1:${appV2.address().port}`]);
  config = new ConfigDir();
  const svc = (name) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: default}\nspec:\n  ports: [{name: http, port: 80}]\n---\n`;
  const slice = (name, port) => `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ${name}-1\n  namespace: default\n  labels: {kubernetes.io/service-name: ${name}}\n  annotations: {skiff.io/meshed: "true", skiff.io/identity: "spiffe://cluster.local/ns/default/sa/web"}\naddressType: IPv4\nports: [{name: http, port: ${port}}]\nendpoints: [{addresses: [127.0.0.1]}]\n---\n`;
  config.write('mesh.yaml', svc('web') + slice('web', sidecar.inbound) + svc('web-v2') + slice('web-v2', sidecarV2.inbound) +
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
    - matches: [{headers: [{name: x-version, value: "2"}]}]
      backendRefs: [{name: web-v2, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /flaky}}]
      retry: {codes: [503], attempts: 2, backoff: 10ms}
      backendRefs: [{name: web, port: 80}]
    - backendRefs: [{name: web, port: 80}]
`);
  mesh = await meshFor('gateway');
});

test.after(async () => {
  await mesh?.close();
  await sidecar?.stop();
  await sidecarV2?.stop();
  app?.close();
  appV2?.close();
  identity?.close();
  identity?.closeAllConnections();
  config?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('fetch through the mesh: the sidecar\'s app sees the gateway\'s proven identity; routes pick the backend', async () => {
  const r = await fetch('http://web.default/hello', { dispatcher: mesh });
  assert.is(r.status, 200);
  const body = await r.json();
  assert.is(body.app, 'web');
  assert.is(body.clientId, 'spiffe://cluster.local/ns/default/sa/gateway', 'mTLS with the gateway\'s workload certificate');
  const v2 = await (await fetch('http://web.default/hello', { dispatcher: mesh, headers: { 'x-version': '2' } })).json();
  assert.is(v2.app, 'web-v2', 'the HTTPRoute header match');
  // a name the mesh does not know: the sidecar's answer, 404 with skiff-proxy-error
  const nf = await fetch('http://nope.default/', { dispatcher: mesh });
  assert.is(nf.status, 404);
  assert.match(nf.headers.get('skiff-proxy-error'), /no Service default\/nope/);
});

test('route retries: a 503 is tried again and the client sees the 200', async () => {
  const r = await request('http://web.default/flaky/one', { dispatcher: mesh });
  assert.is(r.statusCode, 200);
  assert.is(await r.body.text(), 'attempt 2');
});

test('bodies both ways: 4 MiB up, digested; 16 MiB down, intact', async () => {
  const up = Buffer.alloc(4 << 20);
  for (let i = 0; i < up.length; i++) up[i] = (i * 7) & 0xff;
  const r = await request('http://web.default/digest', { dispatcher: mesh, method: 'POST', body: up });
  assert.is(await r.body.text(), `${up.length} ${createHash('sha256').update(up).digest('hex')}`);
  // a streamed (async iterable) body too
  async function* chunks() { for (let i = 0; i < 64; i++) yield up.subarray(i * 65536, (i + 1) * 65536); }
  const s = await request('http://web.default/digest', { dispatcher: mesh, method: 'POST', body: chunks() });
  assert.is(await s.body.text(), `${up.length} ${createHash('sha256').update(up).digest('hex')}`);
  const n = 16 << 20;
  const d = await request(`http://web.default/bytes/${n}`, { dispatcher: mesh });
  const got = Buffer.from(await d.body.arrayBuffer());
  assert.is(got.length, n);
  for (let i = 0; i < n; i += 4093) assert.is(got[i], i & 0xff, `byte ${i}`);
});

test('AbortSignal cancels a request in flight', async () => {
  const ac = new AbortController();
  const p = fetch('http://web.default/hang', { dispatcher: mesh, signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  let err;
  try { await p; } catch (e) { err = e; }
  assert.ok(err, 'rejected');
  assert.is(err.name, 'AbortError');
});

test('what the mesh client does not do is refused clearly: an upgrade (WebSocket) or CONNECT', async () => {
  const { upgrade } = await import('undici');
  let err;
  try { await upgrade('http://web.default/', { dispatcher: mesh, protocol: 'websocket' }); } catch (e) { err = e; }
  assert.ok(err instanceof MeshClientError, String(err));
  assert.is(err.code, 'SKIFF_MESH_BAD_REQUEST');
  assert.match(err.message, /upgrades and CONNECT are not supported/);
  // CONNECT straight through the Dispatcher contract (undici's request() refuses the method itself)
  const seen = await new Promise((resolve) => mesh.dispatch({ origin: 'http://web.default', path: '/', method: 'CONNECT' }, { onError: resolve, onConnect() {}, onHeaders() { return true; }, onData() { return true; }, onComplete() {} }));
  assert.is(seen.code, 'SKIFF_MESH_BAD_REQUEST');
});

test('golden metrics recorded as a sidecar\'s outbound would', async () => {
  const { body } = await renderMetrics(mesh.telemetry, 'test');
  assert.match(body, /response_total\{direction="outbound",authority="web\.default\.svc\.cluster\.local:80",dst_namespace="default",dst_service="web",route_kind="HTTPRoute",route_namespace="default",route_name="web"[^}]*tls="true"[^}]*classification="success",status_code="200"\} [1-9]/);
});

test('two meshes in one process, each with its own identity; close() drains what is in flight, then refuses', async () => {
  const other = await meshFor('reports');
  try {
    const a = await (await fetch('http://web.default/', { dispatcher: other })).json();
    assert.is(a.clientId, 'spiffe://cluster.local/ns/default/sa/reports');
    const b = await (await fetch('http://web.default/', { dispatcher: mesh })).json();
    assert.is(b.clientId, 'spiffe://cluster.local/ns/default/sa/gateway');
    const slow = request('http://web.default/slow', { dispatcher: other });
    await new Promise((r) => setTimeout(r, 100));
    const closing = other.close();
    const r = await slow;
    assert.is(await r.body.text(), 'slow done', 'the request in flight finished');
    await closing;
    let err;
    try { await request('http://web.default/', { dispatcher: other }); } catch (e) { err = e; }
    assert.ok(err instanceof MeshClientError, String(err));
    assert.is(err.code, 'SKIFF_MESH_CLOSED');
  } finally {
    await other.close();
  }
});

test('a node:http service meshed in-process: sidecars call it over mTLS, it sees the caller\'s identity, policy applies', async () => {
  const seen = [];
  const server = http.createServer((req, res) => { seen.push(req.headers['skiff-client-id']); req.resume(); res.end(`hello from in-process, ${req.headers['skiff-client-id']}`); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const pods = `apiVersion: v1\nkind: Pod\nmetadata: {name: books, namespace: default, labels: {app: books}}\nspec:\n  serviceAccountName: books\n  containers: [{name: app, image: app, ports: [{name: http, containerPort: ${server.address().port}}]}]\n---\n`;
  const policy = `apiVersion: policy.linkerd.io/v1beta3\nkind: Server\nmetadata: {name: books, namespace: default}\nspec: {podSelector: {matchLabels: {app: books}}, port: http}\n---\napiVersion: policy.linkerd.io/v1alpha1\nkind: MeshTLSAuthentication\nmetadata: {name: readers, namespace: default}\nspec: {identityRefs: [{kind: ServiceAccount, name: reader}]}\n---\napiVersion: policy.linkerd.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: {name: books-readers, namespace: default}\nspec:\n  targetRef: {group: policy.linkerd.io, kind: Server, name: books}\n  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: readers}]\n---\n`;
  // the policy is in place before the service is reachable
  config.write('books.yaml', pods + policy);
  const books = await meshServer(server, {
    inbound: '127.0.0.1:0', workload: 'default/books', config: config.dir,
    identity: { addr: `127.0.0.1:${identity.address().port}`, tokenFile: token('books'), trustAnchorsFile: join(dir, 'trust-anchors.pem') },
  });
  const svc = `apiVersion: v1\nkind: Service\nmetadata: {name: books, namespace: default}\nspec:\n  ports: [{name: http, port: 80}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: books-1\n  namespace: default\n  labels: {kubernetes.io/service-name: books}\n  annotations: {skiff.io/meshed: "true"}\naddressType: IPv4\nports: [{name: http, port: ${books.inbound.port}}]\nendpoints: [{addresses: [127.0.0.1], targetRef: {kind: Pod, name: books, namespace: default}}]\n`;
  config.write('books.yaml', pods + policy + svc);
  const idArgs = (sa) => ['--identity-addr', `127.0.0.1:${identity.address().port}`, '--identity-token', token(sa), '--trust-anchors', join(dir, 'trust-anchors.pem'), '--workload', `default/${sa}`, '--config', config.dir];
  const reader = await spawnProxy([...idArgs('reader'), '--app', '127.0.0.1:1']);
  const stranger = await spawnProxy([...idArgs('stranger'), '--app', '127.0.0.1:1']);
  const get = (p) => new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: p.outbound, path: '/', headers: { host: 'books.default' } }, (res) => {
    let t = '';
    res.on('data', (c) => { t += c; });
    res.on('end', () => resolve({ status: res.statusCode, text: t }));
  }).on('error', reject));
  try {
    const ok = await eventually(async () => { const r = await get(reader); return r.status === 200 ? r : null; }, 10_000);
    assert.ok(ok, 'the reader\'s sidecar reaches the in-process service');
    assert.is(ok.text, 'hello from in-process, spiffe://cluster.local/ns/default/sa/reader');
    const denied = await get(stranger);
    assert.is(denied.status, 403, 'not authorized by the policy');
    assert.ok(!seen.includes('spiffe://cluster.local/ns/default/sa/stranger'), 'the denied request never reached the handler');
    const { body } = await renderMetrics(books.telemetry, 'test');
    assert.match(body, /inbound_http_authz_deny_total\{[^}]*srv_name="books"[^}]*\} [1-9]/);
    // a server listening off the loopback is refused: callers could go around the policy
    const exposed = http.createServer(() => {});
    await new Promise((r) => exposed.listen(0, '0.0.0.0', r));
    let err;
    try { await meshServer(exposed, { inbound: '127.0.0.1:0' }); } catch (e) { err = e; }
    exposed.close();
    assert.match(String(err), /must listen on the loopback only/);
  } finally {
    await reader.stop();
    await stranger.stop();
    await books.close();
  }
});

test('a node:http2 (h2c) service meshed in-process: a sidecar\'s HTTP/1.1 and HTTP/2 callers both reach it as HTTP/2', async () => {
  const http2 = await import('node:http2');
  const server = http2.createServer((req, res) => res.end(`h2 ${req.httpVersion} ${req.headers['skiff-client-id']}`));
  const h2svc = await meshServer(server, {
    inbound: '127.0.0.1:0', workload: 'default/h2svc',
    identity: { addr: `127.0.0.1:${identity.address().port}`, tokenFile: token('h2svc'), trustAnchorsFile: join(dir, 'trust-anchors.pem') },
  });
  config.write('h2svc.yaml', `apiVersion: v1\nkind: Service\nmetadata: {name: h2svc, namespace: default}\nspec:\n  ports: [{name: http, port: 80}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: h2svc-1\n  namespace: default\n  labels: {kubernetes.io/service-name: h2svc}\n  annotations: {skiff.io/meshed: "true", skiff.io/identity: "spiffe://cluster.local/ns/default/sa/h2svc"}\naddressType: IPv4\nports: [{name: http, port: ${h2svc.inbound.port}}]\nendpoints: [{addresses: [127.0.0.1]}]\n`);
  try {
    // an HTTP/1.1 caller through the mesh client
    const r = await eventually(async () => { const x = await fetch('http://h2svc.default/', { dispatcher: mesh }); return x.status === 200 ? x.text() : null; }, 10_000);
    assert.is(r, 'h2 2.0 spiffe://cluster.local/ns/default/sa/gateway');
    // an HTTP/2 caller through a sidecar
    const caller = await spawnProxy(['--identity-addr', `127.0.0.1:${identity.address().port}`, '--identity-token', token('h2caller'), '--trust-anchors', join(dir, 'trust-anchors.pem'), '--workload', 'default/h2caller', '--config', config.dir, '--app', '127.0.0.1:1']);
    try {
      const c = http2.connect(`http://127.0.0.1:${caller.outbound}`);
      const body = await eventually(() => new Promise((resolve) => {
        const s = c.request({ ':path': '/', ':authority': 'h2svc.default' });
        let t = '';
        let status = 0;
        s.on('response', (h) => { status = h[':status']; });
        s.on('data', (d) => { t += d; });
        s.on('end', () => resolve(status === 200 ? t : null));
        s.on('error', () => resolve(null));
      }), 10_000);
      c.close();
      assert.is(body, 'h2 2.0 spiffe://cluster.local/ns/default/sa/h2caller');
    } finally {
      await caller.stop();
    }
  } finally {
    await h2svc.close();
  }
});

test('a Fastify gateway with the skiffMesh plugin: its routes call the mesh (routing, retries, identity, metrics), and the gateway itself is meshed', async () => {
  const { default: Fastify } = await import('fastify');
  const { skiffMesh } = await import('../../dist/host/library/fastify.js');
  const gw = Fastify();
  await gw.register(skiffMesh, {
    config: config.dir, workload: 'default/gateway2', inbound: '127.0.0.1:0',
    identity: { addr: `127.0.0.1:${identity.address().port}`, tokenFile: token('gateway2'), trustAnchorsFile: join(dir, 'trust-anchors.pem') },
  });
  gw.get('/api/:version/hello', async (req) => {
    const r = await request('http://web.default/hello', { dispatcher: gw.mesh, headers: { 'x-version': req.params.version } });
    return { upstream: await r.body.json(), caller: req.headers['skiff-client-id'] ?? null };
  });
  gw.get('/api/flaky/:id', async (req) => (await request(`http://web.default/flaky/${req.params.id}`, { dispatcher: gw.mesh })).body.text());
  try {
    const v1 = (await gw.inject('/api/1/hello')).json();
    assert.is(v1.upstream.app, 'web');
    assert.is(v1.upstream.clientId, 'spiffe://cluster.local/ns/default/sa/gateway2', 'the sidecar\'s app sees the gateway\'s identity');
    assert.is((await gw.inject('/api/2/hello')).json().upstream.app, 'web-v2', 'routing by the HTTPRoute');
    assert.is((await gw.inject('/api/flaky/gw')).body, 'attempt 2', 'the route\'s retry');
    const { body } = await renderMetrics(gw.mesh.telemetry, 'test');
    assert.match(body, /response_total\{direction="outbound",[^}]*backend_name="web-v2"[^}]*status_code="200"\} 1/);
    // the gateway itself, meshed: a sidecar calls it over mTLS and its handler sees who called
    await gw.listen({ host: '127.0.0.1', port: 0 });
    assert.ok(await gw.meshInboundReady(), 'meshed once listening');
    config.write('gw.yaml', `apiVersion: v1\nkind: Service\nmetadata: {name: gw, namespace: default}\nspec:\n  ports: [{name: http, port: 80}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: gw-1\n  namespace: default\n  labels: {kubernetes.io/service-name: gw}\n  annotations: {skiff.io/meshed: "true", skiff.io/identity: "spiffe://cluster.local/ns/default/sa/gateway2"}\naddressType: IPv4\nports: [{name: http, port: ${gw.meshInbound.inbound.port}}]\nendpoints: [{addresses: [127.0.0.1]}]\n`);
    const caller = await spawnProxy(['--identity-addr', `127.0.0.1:${identity.address().port}`, '--identity-token', token('caller'), '--trust-anchors', join(dir, 'trust-anchors.pem'), '--workload', 'default/caller', '--config', config.dir, '--app', '127.0.0.1:1']);
    try {
      const got = await eventually(() => new Promise((resolve) => http.get({ host: '127.0.0.1', port: caller.outbound, path: '/api/1/hello', headers: { host: 'gw.default' } }, (res) => {
        let t = '';
        res.on('data', (c) => { t += c; });
        res.on('end', () => resolve(res.statusCode === 200 ? JSON.parse(t) : null));
      }).on('error', () => resolve(null))), 10_000);
      assert.ok(got, 'the caller reached the meshed gateway');
      assert.is(got.caller, 'spiffe://cluster.local/ns/default/sa/caller');
      assert.is(got.upstream.clientId, 'spiffe://cluster.local/ns/default/sa/gateway2');
    } finally {
      await caller.stop();
    }
  } finally {
    await gw.close();
  }
});

test.run();

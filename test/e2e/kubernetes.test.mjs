// Skiff on Kubernetes, end to end: a protocol-faithful API server (test/helpers/fake-apiserver.mjs)
// serves a namespace with three workloads; `skiff control --kubernetes` reads it; real `skiff proxy`
// processes get their identity (projected ServiceAccount tokens, checked by TokenReview) and their
// configuration (one mTLS stream each) from it; requests flow over mTLS between the sidecars. Under
// constant load: an EndpointSlice change reroutes traffic, the API going away and coming back, and
// the control plane restarting, fail no request. Route status lands on the API objects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { initTrust } from '../../dist/host/identity/trust.js';
import { FakeApiServer } from '../helpers/fake-apiserver.mjs';
import { spawnProxy, runSkiff } from '../helpers/proxy-process.mjs';
import { freePort, waitForPort } from '../helpers/ports.mjs';
import { eventually } from '../helpers/mesh.mjs';
import { run } from '../helpers/run.mjs';

const NS = 'shop';
const meta = (name, extra = {}) => ({ name, namespace: NS, ...extra });
const service = (name) => ({ apiVersion: 'v1', kind: 'Service', metadata: meta(name), spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
// the container port is the app's real port here (each app listens on its own loopback port)
const pod = (name, sa, app, port) => ({ apiVersion: 'v1', kind: 'Pod', metadata: meta(name, { labels: { app } }), spec: { serviceAccountName: sa, containers: [{ name: 'app', ports: [{ name: 'http', containerPort: port }] }] } });
// one slice per pod: every sidecar here listens on 127.0.0.1, each on its own port
const slice = (svc, podName, port, { ready = true, terminating = false } = {}) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: meta(`${svc}-${podName}`, { labels: { 'kubernetes.io/service-name': svc }, annotations: { 'skiff.io/meshed': 'true' } }),
  addressType: 'IPv4', ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready, terminating }, targetRef: { kind: 'Pod', namespace: NS, name: podName } }],
});

let api, apiPort, dir, kubeconfig, controlPort, controlAdmin, control;
const apps = [];
const proxies = {};
let catalogPool;

function startApp(name) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('x-served-by', name);
      res.setHeader('x-client-id', req.headers['skiff-client-id'] ?? '');
      res.end(`${name}\n`);
    });
  });
  apps.push(server);
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
}

function startControl() {
  const c = runSkiff(['control', '--kubernetes', '--kubeconfig', kubeconfig, '--identity', dir, '--listen', `127.0.0.1:${controlPort}`, '--admin', `127.0.0.1:${controlAdmin}`, '--log-format', 'plain'], { timeout: 600_000 });
  return c;
}

async function startSidecar(podName, sa, appPort) {
  const token = api.addToken(NS, sa);
  const tokenFile = join(dir, `${podName}.token`);
  writeFileSync(tokenFile, token);
  return spawnProxy(['--control', `127.0.0.1:${controlPort}`, '--identity-token', tokenFile, '--trust-anchors', join(dir, 'trust-anchors.pem'),
    '--workload', `${NS}/${podName}`, '--app', `127.0.0.1:${appPort}`, '--log-format', 'plain', '--trust-loopback', 'off']);
}

/** A GET through the web sidecar's outbound: { status, servedBy, clientId }. */
async function get(path = '/', host = `catalog.${NS}.svc.cluster.local`) {
  const r = await catalogPool.request({ method: 'GET', path, headers: { host } });
  await r.body.text();
  return { status: r.statusCode, servedBy: r.headers['x-served-by'], clientId: r.headers['x-client-id'] };
}

/** Constant load (bounded in count and time) until stop(): counts by backend and every failure. */
function load({ concurrency = 4, max = 200_000, ms = 120_000 } = {}) {
  let stopped = false;
  const by = {};
  const failures = [];
  let sent = 0;
  const deadline = Date.now() + ms;
  const worker = async () => {
    while (!stopped && sent < max && Date.now() < deadline) {
      sent++;
      try {
        const r = await get();
        if (r.status !== 200) failures.push(`status ${r.status}`);
        else by[r.servedBy] = (by[r.servedBy] ?? 0) + 1;
      } catch (err) {
        failures.push(err.message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    by, failures, get sent() { return sent; },
    /** Requests served by `name` since this call. */
    mark(name) { const at = by[name] ?? 0; return () => (by[name] ?? 0) - at; },
    async stop() { stopped = true; await done; },
  };
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-k8s-e2e-'));
  await initTrust(dir);
  // the API server speaks HTTPS with its own CA, which the kubeconfig carries, as in a cluster
  const made = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'api.key'), '-out', join(dir, 'api.crt')]);
  assert.is(made.code, 0, made.stderr);
  const apiCert = readFileSync(join(dir, 'api.crt'));
  api = new FakeApiServer({ tls: { key: readFileSync(join(dir, 'api.key')), cert: apiCert } });
  apiPort = await api.listen();
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{ name: test, cluster: { server: "https://127.0.0.1:${apiPort}", certificate-authority-data: ${apiCert.toString('base64')} } }]
users: [{ name: skiff-control, user: { token: control-plane-token } }]
contexts: [{ name: test, context: { cluster: test, user: skiff-control } }]
current-context: test
`);
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  for (const s of ['web', 'catalog', 'reviews']) api.apply(service(s));
  const ports = {};
  for (const name of ['web-0', 'catalog-0', 'catalog-1', 'reviews-0']) ports[name] = await startApp(name);
  api.apply(pod('web-0', 'web', 'web', ports['web-0']));
  api.apply(pod('catalog-0', 'catalog', 'catalog', ports['catalog-0']));
  api.apply(pod('catalog-1', 'catalog', 'catalog', ports['catalog-1']));
  api.apply(pod('reviews-0', 'reviews', 'reviews', ports['reviews-0']));
  // /reviews on the catalog Service goes to the reviews Service (the web proxy never asks for it by name)
  api.apply({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: meta('catalog-routes'),
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: 'catalog', port: 80 }],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/reviews' } }], backendRefs: [{ name: 'reviews', port: 80 }] },
        { backendRefs: [{ name: 'catalog', port: 80 }] },
      ],
    },
  });
  // a route whose backend does not exist: its status must say so
  api.apply({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: meta('reviews-broken'),
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 80 }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/v9' } }], backendRefs: [{ name: 'reviews-v9', port: 80 }] }] },
  });
  // catalog admits only the web workload's identity
  api.apply({ apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: meta('catalog-http'), spec: { podSelector: { matchLabels: { app: 'catalog' } }, port: 'http' } });
  api.apply({ apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'MeshTLSAuthentication', metadata: meta('web-only'), spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'web' }] } });
  api.apply({
    apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: meta('catalog-from-web'),
    spec: { targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'catalog-http' }, requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'web-only' }] },
  });
  controlPort = await freePort();
  controlAdmin = await freePort();
  control = startControl();
  await waitForPort(controlPort);
  proxies.web = await startSidecar('web-0', 'web', ports['web-0']);
  proxies.catalog0 = await startSidecar('catalog-0', 'catalog', ports['catalog-0']);
  proxies.catalog1 = await startSidecar('catalog-1', 'catalog', ports['catalog-1']);
  proxies.reviews = await startSidecar('reviews-0', 'reviews', ports['reviews-0']);
  api.apply(slice('catalog', 'catalog-0', proxies.catalog0.inbound));
  api.apply(slice('reviews', 'reviews-0', proxies.reviews.inbound));
  api.apply(slice('web', 'web-0', proxies.web.inbound));
  catalogPool = new Pool(`http://127.0.0.1:${proxies.web.outbound}`, { connections: 8 });
});

test.after(async () => {
  await catalogPool?.close();
  await Promise.all(Object.values(proxies).map((p) => p.stop()));
  control?.child.kill('SIGTERM');
  await control?.done;
  for (const s of apps) s.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

test('proxies are ready with identity and configuration from skiff control; requests cross the mesh over mTLS', async () => {
  const r = await eventually(async () => { const x = await get(); return x.status === 200 ? x : null; });
  assert.ok(r, 'a request through the web sidecar reaches catalog');
  assert.is(r.servedBy, 'catalog-0');
  // the catalog sidecar saw the web sidecar's certificate: the identity TokenReview vouched for
  assert.is(r.clientId, `spiffe://cluster.local/ns/${NS}/sa/web`);
  // the route sends /reviews to the reviews Service, which the web proxy learnt of through the route
  const rv = await get('/reviews/1');
  assert.is(rv.status, 200);
  assert.is(rv.servedBy, 'reviews-0');
  // the control plane's probes and metrics
  const text = await new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: controlAdmin, path: '/metrics' }, (res) => {
    let t = '';
    res.on('data', (c) => { t += c; });
    res.on('end', () => resolve(t));
  }).on('error', reject));
  assert.match(text, /^skiff_control_config_streams 4$/m);
  assert.match(text, /^skiff_control_view_objects\{kind="EndpointSlice"\} 3$/m);
  assert.match(text, /^skiff_control_route_status_writes_total\{result="written"\} [1-9]/m);
  const ready = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: controlAdmin, path: '/ready' }, (res) => { res.resume(); resolve(res.statusCode); }));
  assert.is(ready, 200);
  // the identity service asked the API about each proxy's token, with Skiff's audience
  assert.ok(api.requests.filter((q) => q === 'POST /apis/authentication.k8s.io/v1/tokenreviews').length >= 4, 'TokenReviews');
});

test('policy from the API is enforced: the reviews workload may not call catalog', async () => {
  const r = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: proxies.reviews.outbound, path: '/', headers: { host: `catalog.${NS}.svc.cluster.local` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
  assert.is(r, 403);
});

test('route status lands on the API objects: Accepted/ResolvedRefs with parentRef and controllerName', async () => {
  const status = await eventually(() => api.get('HTTPRoute', NS, 'catalog-routes')?.status?.parents?.length ? api.get('HTTPRoute', NS, 'catalog-routes').status : null);
  assert.ok(status, 'status written');
  const [p] = status.parents;
  assert.is(p.controllerName, 'skiff.io/gateway-controller');
  assert.equal(p.parentRef, { group: '', kind: 'Service', namespace: NS, name: 'catalog', port: 80 });
  const cond = Object.fromEntries(p.conditions.map((c) => [c.type, c]));
  assert.is(cond.Accepted.status, 'True');
  assert.is(cond.ResolvedRefs.status, 'True');
  assert.is(cond.Accepted.observedGeneration, 1);
  assert.match(cond.Accepted.lastTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const broken = await eventually(() => api.get('HTTPRoute', NS, 'reviews-broken')?.status?.parents?.[0]);
  const bc = Object.fromEntries(broken.conditions.map((c) => [c.type, c]));
  assert.is(bc.Accepted.status, 'True');
  assert.is(bc.ResolvedRefs.status, 'False');
  assert.is(bc.ResolvedRefs.reason, 'BackendNotFound');
  // another controller's entry is kept; a fixed backend turns ResolvedRefs True
  const other = { parentRef: { group: '', kind: 'Service', namespace: NS, name: 'reviews' }, controllerName: 'example.com/other', conditions: [] };
  const o = api.get('HTTPRoute', NS, 'reviews-broken');
  api.store('HTTPRoute', { ...structuredClone(o), status: { parents: [other, ...o.status.parents] } }, 'MODIFIED');
  api.apply(service('reviews-v9'));
  const fixed = await eventually(() => {
    const ps = api.get('HTTPRoute', NS, 'reviews-broken').status.parents;
    const ours = ps.find((x) => x.controllerName === 'skiff.io/gateway-controller');
    return ours?.conditions.find((c) => c.type === 'ResolvedRefs').status === 'True' ? ps : null;
  });
  assert.ok(fixed, 'ResolvedRefs turned True');
  assert.ok(fixed.some((x) => x.controllerName === 'example.com/other'), 'the other controller\'s status stays');
});

test('under constant load: an EndpointSlice change reroutes traffic with no failed request', async () => {
  const l = load();
  try {
    await eventually(() => l.sent > 50);
    // a second pod joins
    const toNew = l.mark('catalog-1');
    api.apply(slice('catalog', 'catalog-1', proxies.catalog1.inbound));
    assert.ok(await eventually(() => toNew() > 50, 10_000), 'catalog-1 takes traffic');
    // the first leaves: terminating, then gone
    api.apply(slice('catalog', 'catalog-0', proxies.catalog0.inbound, { ready: false, terminating: true }));
    await new Promise((r) => setTimeout(r, 300));
    api.delete('EndpointSlice', NS, 'catalog-catalog-0');
    await new Promise((r) => setTimeout(r, 300));
    const toOld = l.mark('catalog-0');
    const toOne = l.mark('catalog-1');
    assert.ok(await eventually(() => toOne() > 100, 10_000));
    assert.is(toOld(), 0, 'no request goes to the removed endpoint');
  } finally {
    await l.stop();
  }
  console.log(`    ${l.sent} requests: ${JSON.stringify(l.by)}, ${l.failures.length} failed`);
  assert.equal(l.failures, [], `${l.failures.length} of ${l.sent} failed`);
  assert.ok(l.sent > 200, `${l.sent} requests`);
});

test('the API going away and coming back interrupts no traffic; changes made meanwhile arrive', async () => {
  const l = load();
  try {
    await eventually(() => l.sent > 50);
    await api.close();
    const during = l.sent;
    await eventually(() => l.sent > during + 200, 10_000);
    // the control plane's view while the API is away is its last one; changes wait for the API
    api.apply(slice('catalog', 'catalog-0', proxies.catalog0.inbound));
    await api.listen(apiPort);
    const back = l.mark('catalog-0');
    assert.ok(await eventually(() => back() > 20, 45_000), 'the change made while the API was away reaches the proxies after it returns');
  } finally {
    await l.stop();
  }
  console.log(`    ${l.sent} requests: ${JSON.stringify(l.by)}, ${l.failures.length} failed`);
  assert.equal(l.failures, [], `${l.failures.length} of ${l.sent} failed`);
});

test('a control plane restart interrupts no traffic; proxies reconnect and take new changes', async () => {
  const l = load();
  try {
    await eventually(() => l.sent > 50);
    control.child.kill('SIGTERM');
    await control.done;
    const during = l.sent;
    assert.ok(await eventually(() => l.sent > during + 300, 10_000), 'requests keep flowing without the control plane');
    control = startControl();
    await waitForPort(controlPort);
    const opened = () => (proxies.web.log.match(/control plane stream open/g) ?? []).length;
    assert.ok(await eventually(() => opened() >= 2, 30_000), 'the web proxy reconnected');
    // a change over the new stream: catalog-1 leaves
    api.delete('EndpointSlice', NS, 'catalog-catalog-1');
    await new Promise((r) => setTimeout(r, 1000));
    const one = l.mark('catalog-1');
    const zero = l.mark('catalog-0');
    assert.ok(await eventually(() => zero() > 300, 10_000));
    assert.is(one(), 0, 'the change arrived over the new stream');
  } finally {
    await l.stop();
  }
  console.log(`    ${l.sent} requests: ${JSON.stringify(l.by)}, ${l.failures.length} failed`);
  assert.equal(l.failures, [], `${l.failures.length} of ${l.sent} failed`);
  assert.match(proxies.web.log, /control plane stream ended/);
});

test.run();

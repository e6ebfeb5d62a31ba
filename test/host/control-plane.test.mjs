// The control plane against a protocol-faithful API server, driven in-process: what each config
// stream is sent (only what its proxy needs, as diffs), who may open one (mTLS identity, the Pod's
// ServiceAccount), TokenReview for certificates, RBAC denials, and status writes that keep other
// controllers' entries and survive conflicts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { initTrust } from '../../dist/host/identity/trust.js';
import { createCsr, exportPrivateKeyPem, generateKeyPair } from '../../dist/host/identity/x509.js';
import { startControlPlane } from '../../dist/host/control/control-plane.js';
import { startProxy } from '../../dist/host/index.js';
import { FakeApiServer } from '../helpers/fake-apiserver.mjs';
import { eventually } from '../helpers/mesh.mjs';

const NS = 'shop';
const meta = (name, extra = {}, ns = NS) => ({ name, namespace: ns, ...extra });
const service = (name, ns = NS) => ({ apiVersion: 'v1', kind: 'Service', metadata: meta(name, {}, ns), spec: { ports: [{ name: 'http', port: 80 }] } });
const pod = (name, sa) => ({ apiVersion: 'v1', kind: 'Pod', metadata: meta(name, { labels: { app: name.replace(/-\d+$/, '') } }), spec: { serviceAccountName: sa, containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] } });
const slice = (svc, pods, port = 4143) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: meta(`${svc}-x`, { labels: { 'kubernetes.io/service-name': svc }, annotations: { 'skiff.io/meshed': 'true' } }),
  addressType: 'IPv4', ports: [{ name: 'http', port }],
  endpoints: pods.map((p, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: NS, name: p } })),
});

let dir, api, cp, anchors;
const logs = [];

function kubeConfig(port) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 't', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 't', token: 'x' }], contexts: [{ name: 't', cluster: 't', user: 't' }], currentContext: 't',
  });
  return kc;
}

function certify(token, csr, port = cp.address.port) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/certify', ca: anchors, servername: 'identity.skiff.cluster.local', headers: { 'content-type': 'application/json' } }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(t) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ token, csr }));
  });
}

/** A workload certificate for namespace/sa, through the identity service (TokenReview). */
async function certFor(ns, sa) {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, [`spiffe://cluster.local/ns/${ns}/sa/${sa}`], [`${sa}.${ns}.serviceaccount.identity.cluster.local`]);
  const r = await certify(api.addToken(ns, sa), csr);
  assert.is(r.status, 200, JSON.stringify(r.json));
  return { key: await exportPrivateKeyPem(keys.privateKey), cert: r.json.chain };
}

/** A config stream as a proxy opens it; messages collected as they come. */
function openStream(workload, creds, subscribe = [], sessionOptions = {}) {
  const session = http2.connect(`https://127.0.0.1:${cp.address.port}`, { ca: anchors, servername: 'identity.skiff.cluster.local', ...(creds ?? {}), ...sessionOptions });
  session.on('error', () => {});
  const stream = session.request({ ':method': 'POST', ':path': '/v1/config', 'skiff-workload': workload });
  stream.write(`${JSON.stringify({ subscribe })}\n`);
  const messages = [];
  let status = 0;
  let buf = '';
  let text = '';
  stream.setEncoding('utf8');
  stream.on('response', (h) => { status = h[':status']; });
  stream.on('data', (c) => {
    buf += c;
    if (status !== 200) text += c;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (status === 200 && line) messages.push(JSON.parse(line));
    }
  });
  stream.on('error', () => {});
  const ended = new Promise((r) => stream.on('close', r));
  return {
    messages, get status() { return status; }, get text() { return text; }, ended,
    subscribe(names) { stream.write(`${JSON.stringify({ subscribe: names })}\n`); },
    close() { session.destroy(); },
    pause() { stream.pause(); },
    resume() { stream.resume(); },
  };
}

const keysOf = (m) => m.upsert.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-cp-'));
  await initTrust(dir);
  anchors = readFileSync(join(dir, 'trust-anchors.pem'), 'utf8');
  api = new FakeApiServer();
  const port = await api.listen();
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, annotations: { 'config.linkerd.io/default-inbound-policy': 'all-authenticated' } } });
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
  for (const s of ['web', 'catalog', 'reviews']) api.apply(service(s));
  api.apply(service('elsewhere', 'other'));
  api.apply(pod('web-0', 'web'));
  api.apply(pod('catalog-0', 'catalog'));
  api.apply(pod('reviews-0', 'reviews'));
  api.apply(slice('web', ['web-0']));
  api.apply(slice('catalog', ['catalog-0']));
  api.apply(slice('reviews', ['reviews-0']));
  api.apply({ apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: meta('web-http'), spec: { podSelector: { matchLabels: { app: 'web' } }, port: 'http' } });
  api.apply({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: meta('catalog-routes'),
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'catalog', port: 80 }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/reviews' } }], backendRefs: [{ name: 'reviews', port: 80 }] }, { backendRefs: [{ name: 'catalog', port: 80 }] }] },
  });
  cp = await startControlPlane({ identityDir: dir, listen: { host: '127.0.0.1', port: 0 }, kubernetes: { kubeConfig: kubeConfig(port), debounceMs: 10, retryMs: 100 }, log: (lv, m, f) => logs.push(`${lv}: ${m} ${JSON.stringify(f ?? {})}`) });
});

test.after(async () => {
  await cp.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a stream starts with what its proxy needs and nothing else; subscriptions bring a Service, its endpoints and what its routes send to', async () => {
  const creds = await certFor(NS, 'web');
  const s = openStream(`${NS}/web-0`, creds);
  try {
    await eventually(() => s.messages.length >= 1);
    const [first] = s.messages;
    assert.is(first.full, true);
    // its Pod and Namespace, the namespace's policy, and the Service whose slice lists it (the inbound's)
    assert.equal(keysOf(first), ['Namespace /shop', 'Pod shop/web-0', 'Server shop/web-http', 'Service shop/web']);
    s.subscribe(['shop/catalog']);
    await eventually(() => s.messages.length >= 2);
    const second = s.messages[1];
    assert.equal(second.resolved, ['shop/catalog']);
    assert.equal(keysOf(second), ['EndpointSlice shop/catalog-x', 'EndpointSlice shop/reviews-x', 'HTTPRoute shop/catalog-routes', 'Pod shop/catalog-0', 'Pod shop/reviews-0', 'Service shop/catalog', 'Service shop/reviews']);
    // endpoints' Pods carry only who they run as
    const p = second.upsert.find((o) => o.kind === 'Pod' && o.metadata.name === 'catalog-0');
    assert.equal(p.spec, { serviceAccountName: 'catalog', containers: [] });
    assert.is(p.metadata.labels, undefined);
    // a Service that does not exist is answered (resolved, nothing sent), and sent when it appears
    s.subscribe(['shop/later']);
    await eventually(() => s.messages.length >= 3);
    assert.equal(s.messages[2].resolved, ['shop/later']);
    assert.equal(s.messages[2].upsert, []);
    // changes elsewhere send nothing; a change to what it holds is a diff of that object alone
    api.apply(service('unrelated'));
    api.apply(service('elsewhere2', 'other'));
    const moved = slice('catalog', ['catalog-0']);
    moved.endpoints[0].addresses = ['10.0.0.9'];
    api.apply(moved);
    await eventually(() => s.messages.length >= 4);
    assert.equal(keysOf(s.messages[3]), ['EndpointSlice shop/catalog-x']);
    api.apply(service('later'));
    await eventually(() => s.messages.length >= 5);
    assert.equal(keysOf(s.messages[4]), ['Service shop/later']);
    // a deleted object is named in delete
    api.delete('HTTPRoute', NS, 'catalog-routes');
    await eventually(() => s.messages.length >= 6);
    const gone = s.messages[5];
    // the route went, and with it what only the route reached (reviews is no longer needed)
    assert.equal(gone.delete.sort(), ['EndpointSlice shop/reviews-x', 'HTTPRoute shop/catalog-routes', 'Pod shop/reviews-0', 'Service shop/reviews']);
    assert.is(s.messages.length, 6, 'nothing else was sent');
  } finally {
    s.close();
    api.apply({
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: meta('catalog-routes'),
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 'catalog', port: 80 }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/reviews' } }], backendRefs: [{ name: 'reviews', port: 80 }] }, { backendRefs: [{ name: 'catalog', port: 80 }] }] },
    });
  }
});

test('a proxy that stops reading (64 KiB windows, the RFC default) is not queued for: once it reads again it gets the latest state in one diff', async () => {
  const s = openStream(`${NS}/web-0`, await certFor(NS, 'web'), ['shop/catalog'], { settings: { initialWindowSize: 65535 } });
  try {
    await eventually(() => s.messages.length >= 1);
    s.pause();
    // 300 changes of a slice of 40 endpoints (~4 KB each), each its own update (past the 10 ms
    // debounce): far more than the windows hold
    const big = (gen) => {
      const x = slice('catalog', ['catalog-0']);
      x.endpoints = Array.from({ length: 40 }, (_, i) => ({ addresses: [`10.1.${gen % 250}.${i + 1}`], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: NS, name: 'catalog-0' } }));
      return x;
    };
    for (let g = 1; g <= 300; g++) {
      api.apply(big(g));
      await new Promise((r) => setTimeout(r, 15));
    }
    const latest = api.get('EndpointSlice', NS, 'catalog-x').metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 300));
    s.resume();
    const lastSlice = () => {
      for (let i = s.messages.length - 1; i >= 0; i--) {
        const o = s.messages[i].upsert.find((x) => x.kind === 'EndpointSlice' && x.metadata.name === 'catalog-x');
        if (o) return o;
      }
      return null;
    };
    assert.ok(await eventually(() => lastSlice()?.metadata.resourceVersion === latest), 'the latest version arrives');
    assert.is(lastSlice().endpoints[0].addresses[0], '10.1.50.1', 'with the latest content');
    const sent = s.messages.filter((m) => m.upsert.some((x) => x.kind === 'EndpointSlice' && x.metadata.name === 'catalog-x')).length;
    console.log(`    slow reader: ${sent} of 300 changes sent as messages`);
    assert.ok(sent < 100, `${sent} messages carried the slice: the backlog was not queued (300 changes)`);
  } finally {
    s.close();
    api.apply(slice('catalog', ['catalog-0']));
  }
});

test('who may open a stream: a mesh certificate, for a Pod of its namespace that runs as its ServiceAccount', async () => {
  const none = openStream(`${NS}/web-0`, null);
  await none.ended;
  assert.is(none.status, 401);
  const reviews = await certFor(NS, 'reviews');
  const other = openStream(`${NS}/web-0`, reviews);
  await other.ended;
  assert.is(other.status, 403);
  assert.match(other.text, /runs as ServiceAccount web/);
  const ns = openStream('other/web-0', reviews);
  await ns.ended;
  assert.is(ns.status, 403);
  const bad = openStream('not a pod', reviews);
  await bad.ended;
  assert.is(bad.status, 400);
  for (const s of [none, other, ns, bad]) s.close();
});

test('a Pod that changes ServiceAccount ends the stream of the identity that no longer speaks for it', async () => {
  const s = openStream(`${NS}/catalog-0`, await certFor(NS, 'catalog'));
  await eventually(() => s.messages.length >= 1);
  api.apply(pod('catalog-0', 'catalog-v2'));
  await s.ended;
  s.close();
  api.apply(pod('catalog-0', 'catalog'));
});

test('certificates: TokenReview decides; a token for another audience is refused; no RBAC for TokenReviews is a 503 that says so', async () => {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, [`spiffe://cluster.local/ns/${NS}/sa/web`], []);
  const wrongAudience = api.addToken(NS, 'web', ['https://kubernetes.default.svc']);
  const r = await certify(wrongAudience, csr);
  assert.is(r.status, 403);
  assert.is(r.json.reason, 'bad-token');
  const forged = await certify('a.b.c', csr);
  assert.is(forged.status, 403);
  const asOther = await certify(api.addToken(NS, 'reviews'), csr);
  assert.is(asOther.status, 403);
  assert.is(asOther.json.reason, 'wrong-identity');
  api.deny('create', 'tokenreviews');
  try {
    const denied = await certify(api.addToken(NS, 'web'), csr);
    assert.is(denied.status, 503);
    assert.is(denied.json.reason, 'unverifiable');
    assert.match(denied.json.message, /system:auth-delegator/);
  } finally {
    api.allow('create', 'tokenreviews');
  }
});

test('route status: written once, kept across restarts of the writer, other controllers kept, conflicts retried', async () => {
  await cp.status.idle();
  const route = await eventually(() => api.get('HTTPRoute', NS, 'catalog-routes')?.status ? api.get('HTTPRoute', NS, 'catalog-routes') : null);
  assert.is(route.status.parents.length, 1);
  const writes = cp.status.writes;
  // an unrelated change: nothing to write (the status already says it)
  api.apply(service('unrelated-2'));
  await new Promise((r) => setTimeout(r, 200));
  await cp.status.idle();
  assert.is(cp.status.writes, writes, 'no write when nothing changed');
  // a spec change bumps the generation: observedGeneration follows
  const changed = structuredClone(api.get('HTTPRoute', NS, 'catalog-routes'));
  changed.spec.rules[0].matches[0].path.value = '/reviews/v2';
  api.apply(changed);
  const g2 = await eventually(() => api.get('HTTPRoute', NS, 'catalog-routes').status.parents[0].conditions[0].observedGeneration === 2);
  assert.ok(g2, 'observedGeneration 2');
});

test('RBAC: a kind the control plane may not list is reported and the rest is served; a status write denied is reported once', async () => {
  const api2 = new FakeApiServer();
  const port = await api2.listen();
  api2.apply(service('a'));
  api2.apply({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: meta('r'), spec: { parentRefs: [{ group: '', kind: 'Service', name: 'a', port: 80 }], rules: [{ backendRefs: [{ name: 'a', port: 80 }] }] } });
  api2.deny('list', 'pods');
  api2.deny('patch', 'httproutes/status');
  const lines = [];
  const cp2 = await startControlPlane({ identityDir: dir, listen: { host: '127.0.0.1', port: 0 }, kubernetes: { kubeConfig: kubeConfig(port), debounceMs: 10, retryMs: 100 }, log: (lv, m, f) => lines.push(`${lv}: ${m} ${JSON.stringify(f ?? {})}`) });
  try {
    assert.ok(cp2.source.synced, 'a forbidden kind does not hold back the rest');
    assert.ok(cp2.source.view.routing.service(NS, 'a'));
    assert.ok(lines.some((l) => /cannot list or watch Pod objects/.test(l) && /forbidden/.test(l)), lines.join('\n'));
    assert.ok(await eventually(() => lines.some((l) => /may not write httproutes\/status \(RBAC\)/.test(l))), lines.join('\n'));
    api2.apply(service('b'));
    await eventually(() => cp2.source.view.routing.service(NS, 'b'));
    await cp2.status.idle();
    assert.is(lines.filter((l) => /may not write httproutes\/status/.test(l)).length, 1, 'reported once');
    // granted later: pods arrive with the next retry, status is written
    api2.allow('list', 'pods');
    api2.allow('patch', 'httproutes/status');
    api2.apply(pod('a-0', 'default'));
    assert.ok(await eventually(() => cp2.source.view.objects.has(`Pod ${NS}/a-0`), 10_000), 'pods listed once allowed');
    assert.ok(await eventually(() => api2.get('HTTPRoute', NS, 'r').status?.parents?.length === 1, 10_000), 'status written once allowed');
  } finally {
    await cp2.close();
    await api2.close();
  }
});

test('a proxy whose control plane has not answered for a Service answers 503 after the discovery timeout, not never', async () => {
  const api3 = new FakeApiServer();
  const port = await api3.listen();
  api3.deny('list', 'services'); // settles as empty; streams are served
  const cp3 = await startControlPlane({ identityDir: dir, listen: { host: '127.0.0.1', port: 0 }, kubernetes: { kubeConfig: kubeConfig(port), debounceMs: 10, retryMs: 60_000 } });
  const tokenFile = join(dir, 'web.token');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(tokenFile, api.addToken(NS, 'web'));
  // identity from the main control plane (its API knows the token); config from cp3
  const proxy = await startProxy({
    inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, workload: `${NS}/web-0`, control: `127.0.0.1:${cp3.address.port}`, discoveryTimeoutMs: 300,
    identity: { addr: `127.0.0.1:${cp.address.port}`, tokenFile, trustAnchorsFile: join(dir, 'trust-anchors.pem') }, shutdownGraceMs: 100,
  });
  try {
    assert.ok(await eventually(() => proxy.configGeneration > 0), 'config from cp3');
    // a Service cp3 cannot list is answered as absent: 404 at once
    const { statusOf } = await import('../helpers/mesh.mjs');
    assert.is(await statusOf(proxy.outbound.port, 'nope.shop.svc.cluster.local', '/'), 404);
    // cp3 gone: a name never asked for waits the discovery timeout, then 503
    await cp3.close();
    const t0 = Date.now();
    assert.is(await statusOf(proxy.outbound.port, 'other.shop.svc.cluster.local', '/'), 503);
    assert.ok(Date.now() - t0 >= 250, 'it waited for the control plane');
  } finally {
    await proxy.close();
    await cp3.close();
    await api3.close();
  }
});

test('both modes make the same snapshot: the objects a proxy gets from the stream validate as the same directory YAML does', async () => {
  const { ControlSource } = await import('../../dist/host/config/control-source.js');
  const { loadDirectory } = await import('../../dist/host/index.js');
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const creds = await certFor(NS, 'web');
  const snapshots = [];
  const source = new ControlSource({
    addr: { host: '127.0.0.1', port: cp.address.port }, workload: `${NS}/web-0`, trustDomain: 'cluster.local', trustAnchorsFile: join(dir, 'trust-anchors.pem'),
    identity: { current: { keyPem: creds.key, chainPem: creds.cert }, onChange() {} }, onUpdate: (snap) => snapshots.push(snap),
  });
  source.start();
  try {
    assert.ok(await eventually(() => source.connected));
    assert.is(await source.discover(NS, 'catalog'), true, 'answered');
    const fromStream = snapshots.at(-1);
    // the same objects, as the API stores them, written as YAML files
    const yamlDir = join(dir, 'same');
    mkdirSync(yamlDir, { recursive: true });
    let i = 0;
    for (const kind of api.objects.keys()) for (const o of api.objects.get(kind).values()) writeFileSync(join(yamlDir, `${i++}.json`), JSON.stringify(o));
    const fromDir = loadDirectory(yamlDir).snapshot;
    assert.ok(fromDir);
    const norm = (o) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'source' || k === 'line' ? undefined : v instanceof Map ? [...v] : v)));
    const svc = fromStream.service(NS, 'catalog');
    assert.equal(norm(svc), norm(fromDir.service(NS, 'catalog')));
    assert.equal(norm(fromStream.slicesOf(NS, 'catalog')), norm(fromDir.slicesOf(NS, 'catalog')));
    assert.equal(norm(fromStream.routesOf(NS, 'catalog')), norm(fromDir.routesOf(NS, 'catalog')));
    assert.equal(norm(fromStream.service(NS, 'reviews')), norm(fromDir.service(NS, 'reviews')));
    assert.equal(norm(fromStream.pods.get(`${NS}/web-0`)), norm(fromDir.pods.get(`${NS}/web-0`)), 'its own Pod whole');
    assert.equal(norm(fromStream.servers.get(`${NS}/web-http`)), norm(fromDir.servers.get(`${NS}/web-http`)));
    assert.equal(norm(fromStream.namespaces.get(NS)), norm(fromDir.namespaces.get(NS)));
    // an endpoint's Pod: what discovery reads of it, its ServiceAccount
    assert.is(fromStream.pods.get(`${NS}/catalog-0`).serviceAccount, fromDir.pods.get(`${NS}/catalog-0`).serviceAccount);
    // and what it was not sent, it does not have
    assert.is(fromStream.service('other', 'elsewhere'), undefined);
  } finally {
    source.close();
  }
});

test.run();

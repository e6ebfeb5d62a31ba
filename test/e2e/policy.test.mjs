// Inbound authorization end to end, with mTLS on: clients with mesh identities alice and bob (their
// own sidecars), and plaintext clients from an allowed and a denied network (127.0.0.2 and
// 127.0.0.3, both this machine's loopback), against apps behind sidecars whose policy is Linkerd's
// resources in the config directory: HTTP/1.1, HTTP/2, gRPC (@grpc/grpc-js) and raw TCP. Checks the
// status or grpc-status, what the app received (nothing when denied), the metrics, the access log,
// and policy changes applied live while requests flow.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import { initTrust } from '../../dist/host/identity/trust.js';
import { issueToken } from '../../dist/host/identity/token.js';
import { createIdentityService } from '../../dist/host/control/identity-service.js';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, serviceYaml, eventually } from '../helpers/mesh.mjs';
import { renderMetricsOf } from '../helpers/prometheus.mjs';

let dir, service, config, web, rpc, tcp, alice, bob, webApp, rpcApp, tcpApp;
const webSeen = [];
const access = [];
let tcpSeen = 0;

const id = (b) => b;
const m = (path) => ({ path, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id });
const Svc = { call: m('/skiff.test.Echo/Call'), other: m('/skiff.test.Echo/Other') };
const Client = grpc.makeGenericClientConstructor(Svc, 'Echo');

const slice = (name, port, sa) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: default
  labels: {kubernetes.io/service-name: ${name}}
  annotations: {skiff.io/meshed: "true", skiff.io/identity: "spiffe://cluster.local/ns/default/sa/${sa}"}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1]}]
---
`;
const pod = (name, port) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default, labels: {app: ${name}}}
spec:
  serviceAccountName: ${name}
  containers: [{name: app, image: app, ports: [{name: main, containerPort: ${port}}], livenessProbe: {httpGet: {path: /healthz, port: main}}}]
---
`;
const server = (name, app, extra = '') => `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: ${name}, namespace: default}
spec:
  podSelector: {matchLabels: {app: ${app}}}
  port: main
${extra}---
`;
const authz = (name, server, refs) => `apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: ${server}}
  requiredAuthenticationRefs: ${refs}
---
`;
const MTLS = (name, ids) => `apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: ${name}, namespace: default}
spec: {identities: [${ids.map((i) => `"${i}"`).join(', ')}]}
---
`;
const NET = `apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: office, namespace: default}
spec:
  networks: [{cidr: 127.0.0.0/8, except: [127.0.0.3/32, 127.0.0.1/32]}]
---
`;
const ALICE = 'alice.default.serviceaccount.identity.linkerd.cluster.local';
const MESH_REF = (n) => `[{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: ${n}}]`;
const NET_REF = '[{group: policy.linkerd.io, kind: NetworkAuthentication, name: office}]';

let base = '';
/** Writes the policy part of the config and waits until `proxy` has applied it. */
async function setPolicy(policy) {
  const before = web.configGeneration;
  config.write('policy.yaml', policy || '# none\n');
  await eventually(() => web.configGeneration > before && rpc.configGeneration > 0 && tcp.configGeneration > 0, 5000);
  await new Promise((r) => setTimeout(r, 120)); // every proxy polls; give the others a round too
}

async function proxyFor(sa, extra) {
  const tokenFile = join(dir, `${sa}.token`);
  writeFileSync(tokenFile, issueToken(readFileSync(join(dir, 'tokens.key'), 'utf8'), { namespace: 'default', name: sa }));
  return startProxy({
    inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, workload: `default/${sa}`, config: config.dir, configPollMs: 50,
    identity: { addr: `127.0.0.1:${service.address().port}`, tokenFile, trustAnchorsFile: join(dir, 'trust-anchors.pem') }, ...extra,
  });
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-policy-'));
  await initTrust(dir);
  service = await createIdentityService({ identityDir: dir });
  await new Promise((r) => service.listen(0, '127.0.0.1', r));
  webApp = http.createServer((req, res) => {
    webSeen.push({ path: req.url, client: req.headers['skiff-client-id'] ?? null, ...(req.headers['x-route'] ? { route: req.headers['x-route'] } : {}) });
    res.end('web ok');
  });
  await new Promise((r) => webApp.listen(0, '127.0.0.1', r));
  rpcApp = new grpc.Server();
  rpcApp.addService(Svc, { call: (call, cb) => cb(null, Buffer.from(`rpc:${call.request}`)), other: (call, cb) => cb(null, Buffer.from('other')) });
  const rpcPort = await new Promise((res, rej) => rpcApp.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  tcpApp = net.createServer((s) => { s.once('data', () => { tcpSeen++; }); s.pipe(s); });
  await new Promise((r) => tcpApp.listen(0, '127.0.0.1', r));
  config = new ConfigDir();
  config.write('policy.yaml', '# none\n');
  web = await proxyFor('web', { app: `127.0.0.1:${webApp.address().port}`, accessLog: (s) => access.push(s) });
  rpc = await proxyFor('rpc', { app: `127.0.0.1:${rpcPort}` });
  tcp = await proxyFor('tcp', { app: `127.0.0.1:${tcpApp.address().port}` });
  base = serviceYaml('web', 80) + '---\n' + slice('web', web.inbound.port, 'web') + serviceYaml('tcp', 7) + '---\n' + slice('tcp', tcp.inbound.port, 'tcp') + serviceYaml('rpc', 50051, { appProtocol: 'grpc' }) + '---\n' + slice('rpc', rpc.inbound.port, 'rpc') +
    pod('web', webApp.address().port) + pod('rpc', rpcPort) + pod('tcp', tcpApp.address().port);
  config.write('mesh.yaml', base);
  alice = await proxyFor('alice', { app: '127.0.0.1:1' });
  bob = await proxyFor('bob', { app: '127.0.0.1:1' });
  assert.ok(await eventually(async () => (await get(alice)).status === 200, 10_000), 'the mesh came up');
});

test.after(async () => {
  for (const p of [alice, bob, web, rpc, tcp]) await p?.close();
  webApp?.close();
  rpcApp?.forceShutdown();
  tcpApp?.close();
  service?.close();
  service?.closeAllConnections();
  config?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** GET through a client's sidecar (mesh, mTLS) to web. */
function get(client, path = '/') {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: client.outbound.port, path, headers: { host: 'web.default' }, agent: false }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve({ status: res.statusCode, text: t, error: res.headers['skiff-proxy-error'] }));
    }).on('error', (e) => resolve({ status: 0, text: e.message }));
  });
}
/** Plaintext HTTP/1.1 straight to web's inbound, from a given loopback address. */
function getFrom(localAddress, path = '/') {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: web.inbound.port, localAddress, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', (e) => resolve(e.code));
  });
}
/** Plaintext HTTP/2 straight to web's inbound (an HTTP/1.1 app: the inbound answers before the app when denied). */
function h2From(localAddress) {
  return new Promise((resolve) => {
    const c = http2.connect(`http://127.0.0.1:${web.inbound.port}`, { localAddress });
    c.on('error', () => resolve('error'));
    const req = c.request({ ':path': '/' });
    let status = 0;
    req.on('response', (h) => { status = h[':status']; });
    req.resume();
    req.on('close', () => { c.close(); resolve(status); });
    req.end();
  });
}
function callRpc(client, method = 'call') {
  const c = new Client(`127.0.0.1:${client.outbound.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'rpc.default.svc.cluster.local:50051' });
  return new Promise((resolve) => c[method](Buffer.from('x'), (e, r) => { c.close(); resolve(e ? { code: e.code, details: e.details } : { code: 0, body: r.toString() }); }));
}
/** Raw TCP straight to the tcp sidecar's inbound from a loopback address: the echo, or 'closed' before any byte. */
function tcpFrom(localAddress) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: tcp.inbound.port, localAddress });
    let got = '';
    const timer = setTimeout(() => { s.destroy(); resolve(got || 'timeout'); }, 3000);
    s.on('data', (c) => { got += c; if (got === 'hello tcp') { clearTimeout(timer); s.destroy(); resolve(got); } });
    s.on('close', () => { clearTimeout(timer); resolve(got || 'closed'); });
    s.on('error', () => {});
    s.write('hello tcp');
  });
}

test('no Server, default all-unauthenticated: everyone gets through', async () => {
  await setPolicy('');
  assert.is((await get(alice)).status, 200);
  assert.is((await get(bob)).status, 200);
  assert.is(await getFrom('127.0.0.3'), 200);
  assert.is((await callRpc(bob)).code, 0);
  assert.is(await tcpFrom('127.0.0.3'), 'hello tcp');
});

test('a Server with no authorization denies everyone (HTTP/1.1, HTTP/2, gRPC, TCP); the app sees nothing; probes pass', async () => {
  await setPolicy(server('web', 'web') + server('rpc', 'rpc') + server('tcp', 'tcp'));
  webSeen.length = 0;
  tcpSeen = 0;
  const denied = await get(alice);
  assert.is(denied.status, 403);
  assert.match(denied.error, /spiffe:\/\/cluster\.local\/ns\/default\/sa\/alice at .* is not authorized by Server default\/web/);
  assert.is(await getFrom('127.0.0.2'), 403);
  assert.is(await h2From('127.0.0.2'), 403);
  const r = await callRpc(alice);
  assert.is(r.code, grpc.status.PERMISSION_DENIED, JSON.stringify(r));
  assert.is(await tcpFrom('127.0.0.2'), 'closed');
  assert.equal(webSeen, []);
  assert.is(tcpSeen, 0);
  // the Pod's liveness probe path is admitted, as Linkerd admits probes
  assert.is(await getFrom('127.0.0.3', '/healthz'), 200);
  assert.is(await getFrom('127.0.0.3', '/healthz/x'), 403);
});

test('MeshTLSAuthentication by identity: alice yes, bob no; the app sees alice\'s proven identity', async () => {
  await setPolicy(server('web', 'web') + server('rpc', 'rpc') + MTLS('alice', [ALICE]) + authz('alice-web', 'web', MESH_REF('alice')) + authz('alice-rpc', 'rpc', MESH_REF('alice')));
  webSeen.length = 0;
  assert.is((await get(alice)).status, 200);
  assert.is((await get(bob)).status, 403);
  assert.equal(webSeen, [{ path: '/', client: 'spiffe://cluster.local/ns/default/sa/alice' }]);
  assert.is((await callRpc(alice)).code, 0);
  assert.is((await callRpc(bob)).code, grpc.status.PERMISSION_DENIED);
  assert.is(await getFrom('127.0.0.2'), 403, 'plaintext: no identity');
});

test('wildcard identities and ServiceAccount refs', async () => {
  await setPolicy(server('web', 'web') + MTLS('all-default', ['*.default.serviceaccount.identity.linkerd.cluster.local']) + authz('ns', 'web', MESH_REF('all-default')));
  assert.is((await get(alice)).status, 200);
  assert.is((await get(bob)).status, 200);
  await setPolicy(server('web', 'web') + authz('bob-sa', 'web', '[{kind: ServiceAccount, name: bob}]'));
  assert.is((await get(alice)).status, 403);
  assert.is((await get(bob)).status, 200);
});

test('NetworkAuthentication with except: plaintext from 127.0.0.2 allowed, from 127.0.0.3 denied (HTTP/1.1, HTTP/2, TCP)', async () => {
  await setPolicy(server('web', 'web') + server('tcp', 'tcp') + NET + authz('office-web', 'web', NET_REF) + authz('office-tcp', 'tcp', NET_REF));
  assert.is(await getFrom('127.0.0.2'), 200);
  assert.is(await getFrom('127.0.0.3'), 403);
  // HTTP/2 to an HTTP/1.1-only app: once admitted it fails at the app (502), not at the policy (403)
  assert.is(await h2From('127.0.0.2'), 502);
  assert.is(await h2From('127.0.0.3'), 403);
  assert.is(await tcpFrom('127.0.0.2'), 'hello tcp');
  assert.is(await tcpFrom('127.0.0.3'), 'closed');
  // sidecars connect from 127.0.0.1: the exception
  assert.is((await get(alice)).status, 403);
});

/** A TCP tunnel through a client's sidecar (HTTP CONNECT, across the mesh as an HTTP/2 CONNECT stream): the CONNECT status, and the echo. */
function tunnel(client) {
  return new Promise((resolve) => {
    const s = net.connect(client.outbound.port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { s.destroy(); resolve(got); }, 3000);
    s.on('data', (c) => {
      got += c;
      if (/^HTTP\/1\.1 200/.test(got) && got.endsWith('hello tcp')) { clearTimeout(timer); s.destroy(); resolve(`200 ${got.slice(-9)}`); }
      else if (/^HTTP\/1\.1 [45]\d\d/.test(got) && got.includes('\r\n\r\n')) { clearTimeout(timer); s.destroy(); resolve(got.slice(9, 12)); }
      else if (/^HTTP\/1\.1 200[^]*\r\n\r\n$/.test(got)) s.write('hello tcp');
    });
    s.on('error', () => {});
    s.write('CONNECT tcp.default:7 HTTP/1.1\r\nHost: tcp.default:7\r\n\r\n');
  });
}

test('Namespace-targeted policy with identityRefs; TCP tunnels across the mesh authorized by identity', async () => {
  const refs = `apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: alice-ref, namespace: default}
spec: {identityRefs: [{kind: ServiceAccount, name: alice}]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: whole-namespace, namespace: default}
spec:
  targetRef: {kind: Namespace, name: default}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: alice-ref}]
---
`;
  await setPolicy(server('web', 'web') + server('tcp', 'tcp') + refs);
  assert.is((await get(alice)).status, 200);
  assert.is((await get(bob)).status, 403);
  tcpSeen = 0;
  assert.is(await tunnel(alice), '200 hello tcp');
  assert.is(await tunnel(bob), '403');
  assert.is(tcpSeen, 1, 'the app saw only alice\'s tunnel');
});

test('proxyProtocol HTTP/1 is taken as declared: bytes that are not HTTP are refused by Skiff, mesh traffic still flows', async () => {
  await setPolicy(server('web', 'web', '  proxyProtocol: HTTP/1\n') + authz('everyone', 'web', '[]'));
  const raw = await new Promise((resolve) => {
    const s = net.connect(web.inbound.port, '127.0.0.1');
    let got = '';
    s.on('data', (c) => { got += c; });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write('HELLO world\r\n\r\n');
    setTimeout(() => s.destroy(), 2000);
  });
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.is((await get(alice)).status, 200, 'mesh mTLS (HTTP/2 inside) is still recognised');
  assert.is(await getFrom('127.0.0.3'), 200);
});

test('a TCP connection whose authorization is withdrawn is closed, and counted', async () => {
  const terminated = async () => Number(/inbound_tcp_authz_terminate_total\{[^}]*srv_name="tcp"\} (\d+)/.exec(await renderMetricsOf(tcp))?.[1] ?? 0);
  await setPolicy(server('tcp', 'tcp') + NET + authz('office-tcp', 'tcp', NET_REF));
  const before = await terminated();
  const s = net.connect({ host: '127.0.0.1', port: tcp.inbound.port, localAddress: '127.0.0.2' });
  s.on('error', () => {});
  const echoed = await new Promise((resolve) => { s.once('data', (c) => resolve(String(c))); s.write('ping'); });
  assert.is(echoed, 'ping');
  const closed = new Promise((resolve) => s.once('close', () => resolve(true)));
  await setPolicy(server('tcp', 'tcp'));
  assert.ok(await Promise.race([closed, new Promise((r) => setTimeout(() => r(false), 3000))]), 'closed by the policy change');
  assert.ok(await terminated() > before, 'inbound_tcp_authz_terminate_total counted it');
  const text = await renderMetricsOf(tcp);
  assert.match(text, /inbound_tcp_authz_terminate_total\{target_addr="0\.0\.0\.0:\d+",srv_group="policy\.linkerd\.io",srv_kind="server",srv_name="tcp"\} [1-9]/);
  assert.match(text, /inbound_tcp_authz_allow_total\{[^}]*authz_name="office-tcp"\} [1-9]/);
  assert.match(text, /inbound_tcp_authz_deny_total\{[^}]*srv_name="tcp"\} [1-9]/);
});

test('default policies through --default-inbound-policy (the proxy) and the Pod annotation; audit lets in and records', async () => {
  const strict = await proxyFor('web', { app: `127.0.0.1:${webApp.address().port}`, policy: { defaultInboundPolicy: 'all-authenticated' }, workload: 'default/lonely' });
  try {
    const plain = (localAddress) => new Promise((resolve) => {
      http.get({ host: '127.0.0.1', port: strict.inbound.port, localAddress, path: '/', agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); }).on('error', (e) => resolve(e.code));
    });
    assert.is(await plain('127.0.0.2'), 403, 'all-authenticated: a plaintext client is refused');
  } finally { await strict.close(); }
  // cluster-unauthenticated with --cluster-networks: 127.0.0.2 is "the cluster", 127.0.0.3 is not;
  // cluster-authenticated refuses both (no identity)
  for (const [policy, want] of [['cluster-unauthenticated', [200, 403]], ['cluster-authenticated', [403, 403]]]) {
    const p = await proxyFor('web', { app: `127.0.0.1:${webApp.address().port}`, policy: { defaultInboundPolicy: policy, clusterNetworks: ['127.0.0.2/32'] }, workload: 'default/lonely' });
    try {
      const from = (localAddress) => new Promise((resolve) => {
        http.get({ host: '127.0.0.1', port: p.inbound.port, localAddress, path: '/', agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); }).on('error', (e) => resolve(e.code));
      });
      assert.equal([await from('127.0.0.2'), await from('127.0.0.3')], want, policy);
    } finally { await p.close(); }
  }
  // the annotation on web's Pod: audit — everyone allowed, denials recorded
  config.write('mesh.yaml', base.replace('metadata: {name: web, namespace: default, labels: {app: web}}', 'metadata: {name: web, namespace: default, labels: {app: web}, annotations: {config.linkerd.io/default-inbound-policy: deny}}'));
  await setPolicy('');
  assert.is(await getFrom('127.0.0.2'), 403, 'the Pod annotation: deny');
  await setPolicy(server('web', 'web', '  accessPolicy: audit\n'));
  access.length = 0;
  assert.is(await getFrom('127.0.0.3', '/audited'), 200);
  const line = access.find((s) => s.path === '/audited');
  assert.is(line?.authz, 'audit', JSON.stringify(line));
  config.write('mesh.yaml', base);
  await setPolicy('');
});

test('a Server with inbound routes: only matching requests pass; policies on a route; its filters apply; gRPC NOT_FOUND', async () => {
  const httpRoute = (name, path, extra = '') => `apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: ${name}, namespace: default}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: web}]
  rules:
    - matches: [{path: {type: PathPrefix, value: ${path}}}]
${extra}---
`;
  const routeAuthz = (name, route, refs, group = 'policy.linkerd.io', kind = 'HTTPRoute') => `apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: default}
spec:
  targetRef: {group: ${group}, kind: ${kind}, name: ${route}}
  requiredAuthenticationRefs: ${refs}
---
`;
  await setPolicy(server('web', 'web') + server('rpc', 'rpc') + MTLS('alice', [ALICE]) +
    httpRoute('public', '/public', '      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-route, value: public}]}}]\n') +
    httpRoute('admin', '/admin') + routeAuthz('public-all', 'public', '[]') + routeAuthz('admin-alice', 'admin', MESH_REF('alice')) +
    `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc-call, namespace: default}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: rpc}]
  rules: [{matches: [{method: {service: skiff.test.Echo, method: Call}}]}]
---
` + routeAuthz('rpc-call-all', 'rpc-call', '[]', 'gateway.networking.k8s.io', 'GRPCRoute'));
  webSeen.length = 0;
  assert.is((await get(bob, '/public/x')).status, 200);
  assert.is((await get(bob, '/admin')).status, 403);
  assert.is((await get(alice, '/admin')).status, 200);
  const none = await get(alice, '/elsewhere');
  assert.is(none.status, 404);
  assert.match(none.error, /no inbound route of Server default\/web matches/);
  assert.is(await getFrom('127.0.0.3', '/public'), 200, 'a route open to everyone admits plaintext clients too');
  assert.equal(webSeen.map((x) => `${x.path} ${x.route ?? '-'}`), ['/public/x public', '/admin -', '/public public']);
  assert.is((await callRpc(bob)).code, 0, 'the GRPCRoute admits Call');
  const other = await callRpc(bob, 'other');
  assert.is(other.code, grpc.status.NOT_FOUND, JSON.stringify(other));
  const text = await renderMetricsOf(web);
  assert.match(text, /inbound_http_authz_allow_total\{[^}]*route_group="policy\.linkerd\.io",route_kind="HTTPRoute",route_name="admin",[^}]*authz_name="admin-alice"\} 1/);
  assert.match(text, /inbound_http_authz_deny_total\{[^}]*route_kind="HTTPRoute",route_name="admin"\} 1/);
  assert.match(text, /inbound_http_route_not_found_total\{[^}]*srv_name="web"\} 1/);
});

test('metrics and the access log: allows and denies with Linkerd\'s labels', async () => {
  await setPolicy(server('web', 'web') + MTLS('alice', [ALICE]) + authz('alice-web', 'web', MESH_REF('alice')));
  access.length = 0;
  const tapped = [];
  const stop = web.telemetry.tap.listen({ filter: {}, send: (s) => { tapped.push(s); return true; } });
  for (let i = 0; i < 3; i++) assert.is((await get(alice, '/m')).status, 200);
  for (let i = 0; i < 2; i++) assert.is((await get(bob, '/m')).status, 403);
  const text = await renderMetricsOf(web);
  const allow = new RegExp(`inbound_http_authz_allow_total\\{target_addr="0\\.0\\.0\\.0:${webApp.address().port}",srv_group="policy\\.linkerd\\.io",srv_kind="server",srv_name="web",route_group="",route_kind="default",route_name="default",authz_group="policy\\.linkerd\\.io",authz_kind="authorizationpolicy",authz_name="alice-web"\\} (\\d+)`);
  const deny = new RegExp(`inbound_http_authz_deny_total\\{target_addr="0\\.0\\.0\\.0:${webApp.address().port}",srv_group="policy\\.linkerd\\.io",srv_kind="server",srv_name="web",route_group="",route_kind="default",route_name="default"\\} (\\d+)`);
  assert.ok(Number(allow.exec(text)?.[1]) >= 3, text.split('\n').filter((l) => l.includes('authz')).join('\n'));
  assert.ok(Number(deny.exec(text)?.[1]) >= 2, text.split('\n').filter((l) => l.includes('authz')).join('\n'));
  // the Server and the authorization label the request metrics too
  assert.match(text, /request_total\{[^}]*client_id="spiffe:\/\/cluster\.local\/ns\/default\/sa\/alice"[^}]*srv_group="policy\.linkerd\.io",srv_kind="server",srv_name="web",authz_group="policy\.linkerd\.io",authz_kind="authorizationpolicy",authz_name="alice-web"\} [3-9]/);
  const denials = access.filter((s) => s.path === '/m' && s.authz === 'deny');
  assert.is(denials.length, 2);
  assert.is(denials[0].status, 403);
  assert.is(denials[0].client_id, 'spiffe://cluster.local/ns/default/sa/bob');
  stop();
  const tapDenials = tapped.filter((x) => x.path === '/m' && x.authz === 'deny');
  assert.is(tapDenials.length, 2, 'denials reach skiff tap too');
  const { formatSummary } = await import('../../dist/host/cli/tap.js');
  assert.match(formatSummary(tapDenials[0]), /^\S+ in  GET web\.default\/m → 403 [\d.]+ms from spiffe:\/\/cluster\.local\/ns\/default\/sa\/bob authz=deny$/);
});

test('changes apply live while requests flow: bob granted, then withdrawn', async () => {
  await setPolicy(server('web', 'web') + MTLS('alice', [ALICE]) + authz('alice-web', 'web', MESH_REF('alice')));
  let running = true;
  const seen = { alice: new Set(), bob: [] };
  const load = (async () => {
    for (let i = 0; running && i < 5000; i++) {
      seen.alice.add((await get(alice)).status);
      seen.bob.push((await get(bob)).status);
    }
  })();
  try {
    await eventually(() => seen.bob.length > 5);
    await setPolicy(server('web', 'web') + MTLS('alice', [ALICE]) + authz('alice-web', 'web', MESH_REF('alice')) + authz('bob-web', 'web', '[{kind: ServiceAccount, name: bob}]'));
    const granted = seen.bob.length;
    await eventually(() => seen.bob.slice(granted).includes(200));
    await setPolicy(server('web', 'web') + MTLS('alice', [ALICE]) + authz('alice-web', 'web', MESH_REF('alice')));
    const withdrawn = seen.bob.length;
    await eventually(() => seen.bob.length > withdrawn + 5);
    assert.is(seen.bob[seen.bob.length - 1], 403, 'withdrawn');
  } finally {
    running = false;
    await load;
  }
  assert.equal([...seen.alice], [200], 'alice was never refused meanwhile');
  assert.equal(new Set(seen.bob), new Set([403, 200]), 'bob: refused, then allowed, then refused — nothing else');
});

test.run();

// Producer routes on the inbound side: a client outside the mesh that reaches a workload's sidecar
// directly meets the routes of the Service it names there (filters, redirects, no-match 404); a
// request that came through a Skiff outbound had them applied by its caller's sidecar and is not
// filtered twice. Mesh-only fields never reach the application.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor, eventually } from '../helpers/mesh.mjs';

let app, appPort, sidecar, client, config;

test.before(async () => {
  app = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, headers: req.headers, raw: req.rawHeaders }));
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  appPort = app.address().port;
  config = new ConfigDir();
  sidecar = await sidecarFor(appPort, { config: config.dir, configPollMs: 50 });
  config.write('web.yaml', `${serviceYaml('web', 80)}---
${sliceYaml('web', [{ port: sidecar.inbound.port }])}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
    - matches: [{path: {value: /hdr}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {add: [{name: x-add, value: added}], set: [{name: x-set, value: forced}]}
      backendRefs: [{name: web, port: 80}]
    - matches: [{path: {value: /old}}]
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
      backendRefs: [{name: web, port: 80}]
    - matches: [{path: {value: /redir}}]
      filters: [{type: RequestRedirect, requestRedirect: {hostname: elsewhere.example, statusCode: 301}}]
`);
  client = await startProxy({ config: config.dir, workload: 'default/client', inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, app: '127.0.0.1:1' });
  // the sidecar started on the empty directory (its port goes into the slice): wait for the update
  assert.ok(await eventually(() => sidecar.configGeneration >= 2), 'the sidecar loaded the routes');
});

test.after(async () => {
  await client.close();
  await sidecar.close();
  app.close();
  config.remove();
});

function send(port, path, host, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => { let json = null; try { json = JSON.parse(t); } catch { /* not JSON */ } resolve({ status: res.statusCode, headers: res.headers, json, text: t }); });
    }).on('error', reject);
  });
}
const count = (raw, name) => raw.filter((v, i) => i % 2 === 0 && v.toLowerCase() === name).length;

test('a client outside the mesh meets the producer routes at the inbound', async () => {
  const r = await send(sidecar.inbound.port, '/hdr', 'web.default', { 'x-set': 'mine' });
  assert.is(r.status, 200, r.text);
  assert.is(r.json.headers['x-add'], 'added');
  assert.is(r.json.headers['x-set'], 'forced');
  const w = await send(sidecar.inbound.port, '/old/a?b=1', 'web.default');
  assert.is(w.json.path, '/new/a?b=1');
  const d = await send(sidecar.inbound.port, '/redir/x', 'web.default.svc.cluster.local');
  assert.is(d.status, 301);
  assert.is(d.headers.location, 'http://elsewhere.example/redir/x');
  const n = await send(sidecar.inbound.port, '/nothing', 'web.default');
  assert.is(n.status, 404);
  assert.match(n.headers['skiff-proxy-error'], /no rule of the routes of Service web\.default:80/);
  // not addressed to a Service by name: straight to the application
  const plain = await send(sidecar.inbound.port, '/nothing', `127.0.0.1:${sidecar.inbound.port}`);
  assert.is(plain.status, 200);
  assert.is(plain.json.path, '/nothing');
});

test('through the mesh, the caller applied the routes: filters act once, mesh fields stay in the mesh', async () => {
  const r = await send(client.outbound.port, '/hdr', 'web.default');
  assert.is(r.status, 200, r.text);
  assert.is(count(r.json.raw, 'x-add'), 1, JSON.stringify(r.json.raw));
  assert.is(r.json.headers['x-set'], 'forced');
  assert.is(r.json.headers['skiff-routed'], undefined);
  assert.is(r.json.headers['skiff-orig-proto'], undefined);
  const w = await send(client.outbound.port, '/old/a', 'web.default');
  assert.is(w.json.path, '/new/a', 'rewritten once (a second rewrite would not match /old)');
  // a client cannot hand the application mesh fields
  const s = await send(sidecar.inbound.port, '/hdr', `127.0.0.1:${sidecar.inbound.port}`, { 'skiff-routed': '1', 'skiff-orig-proto': 'HTTP/1.1' });
  assert.is(s.json.headers['skiff-routed'], undefined);
  assert.is(s.json.headers['skiff-orig-proto'], undefined);
});

test.run();

// RouteTable (the library) and the sidecar decide alike: the same HTTPRoutes, the same requests —
// each sent through a real sidecar whose backends say who they are, and matched by RouteTable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { RouteTable, startProxy } from '../../dist/host/index.js';
import { ConfigDir } from '../helpers/mesh.mjs';

const NAMES = ['exact', 'prefix-api', 'prefix-api-v2', 'regex', 'hdr', 'query', 'method', 'default', 'consumer'];

test('the same routes and requests: the sidecar\'s backend is the one RouteTable picks, 404 where it finds none', async () => {
  const apps = await Promise.all(NAMES.map((name) => new Promise((resolve) => {
    const s = http.createServer((req, res) => { req.resume(); res.end(name); });
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const svc = (name, port) => `---\napiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  ports: [{name: http, port: 80}]\n` +
    (port ? `---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ${name}-1, namespace: shop, labels: {kubernetes.io/service-name: ${name}}}\naddressType: IPv4\nports: [{name: http, port: ${port}}]\nendpoints: [{addresses: [127.0.0.1]}]\n` : '');
  const routes = `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: books, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{group: "", kind: Service, name: books, port: 80}]
  rules:
    - matches: [{path: {type: Exact, value: /about}}]
      backendRefs: [{name: exact, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /api}}]
      backendRefs: [{name: prefix-api, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /api/v2/}}]
      backendRefs: [{name: prefix-api-v2, port: 80}]
    - matches: [{path: {type: RegularExpression, value: "/items/[0-9]{1,4}"}}]
      backendRefs: [{name: regex, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: x-tier, value: gold}]}]
      backendRefs: [{name: hdr, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /search}, queryParams: [{name: q, type: RegularExpression, value: "^b.*"}]}]
      backendRefs: [{name: query, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /items}, method: DELETE}]
      backendRefs: [{name: method, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /shop}}]
      backendRefs: [{name: default, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-view, namespace: web}
spec:
  parentRefs: [{group: "", kind: Service, name: books, namespace: shop, port: 80}]
  rules: [{backendRefs: [{name: consumer, namespace: shop, port: 80}]}]
`;
  const yaml = svc('books') + NAMES.map((n, i) => svc(n, apps[i].address().port)).join('') + routes;
  const config = new ConfigDir();
  config.write('mesh.yaml', yaml);
  const table = RouteTable.fromYaml(yaml);
  const shopSidecar = await startProxy({ config: config.dir, workload: 'shop/client', outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, shutdownGraceMs: 0 });
  const webSidecar = await startProxy({ config: config.dir, workload: 'web/client', outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, shutdownGraceMs: 0 });
  const send = (sidecar, method, path, headers) => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: sidecar.outbound.port, method, path, headers: { host: 'books.shop', ...headers } }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve(res.statusCode === 200 ? t : res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
  const cases = [];
  for (const path of ['/about', '/about/', '/api', '/api/', '/api/v2', '/api/v2/', '/api/v2/books', '/apix', '/items/1', '/items/12345', '/items/x',
    '/search?q=books', '/search?q=abc', '/search?x=1&q=b', '/shop/a', '/', '/nothing', '/ABOUT']) {
    for (const method of ['GET', 'DELETE']) for (const headers of [{}, { 'x-tier': 'gold' }, { 'X-Tier': 'silver' }]) cases.push({ method, path, headers });
  }
  let compared = 0;
  try {
    for (const { method, path, headers } of cases) {
      for (const [sidecar, ns] of [[shopSidecar, 'shop'], [webSidecar, 'web']]) {
        const got = await send(sidecar, method, path, headers);
        const m = table.match({ namespace: 'shop', name: 'books', port: 80 }, { method, path, headers }, ns);
        const want = m ? m.pickBackend().name : 404;
        assert.is(got, want, `${ns}: ${method} ${path} ${JSON.stringify(headers)}`);
        compared++;
      }
    }
  } finally {
    table.close();
    await shopSidecar.close();
    await webSidecar.close();
    config.remove();
    for (const s of apps) s.close();
  }
  assert.is(compared, cases.length * 2);
});

test.run();

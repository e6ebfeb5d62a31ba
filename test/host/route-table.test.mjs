// The route table as a library (issue 16): HTTPRoute/GRPCRoute YAML or objects in, a request's rule,
// backends and filters out — the sidecar's validation, GAMMA attachment and WebAssembly matcher.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RouteTable, RouteTableError } from '../../dist/host/index.js';

const YAML = `apiVersion: v1
kind: Service
metadata: { name: books, namespace: shop }
spec:
  ports: [{ name: http, port: 80 }, { name: admin, port: 9000 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: books-api, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z" }
spec:
  parentRefs: [{ group: "", kind: Service, name: books, port: 80 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api/v2 }, headers: [{ name: x-canary, value: "1" }] }]
      backendRefs: [{ name: books-v2, port: 80 }]
    - name: v2-by-query
      matches: [{ path: { type: PathPrefix, value: /api }, queryParams: [{ name: version, value: "2" }] }]
      backendRefs: [{ name: books-v2, port: 80, weight: 1 }, { name: books-v1, port: 80, weight: 3 }]
    - matches: [{ path: { type: Exact, value: /old } }]
      filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /new }, statusCode: 301 } }]
    - matches: [{ path: { type: RegularExpression, value: "/items/[0-9]+" }, method: DELETE }]
      backendRefs: [{ name: books-admin, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /v1 } } }]
      backendRefs: [{ name: books-v1, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: mobile-books, namespace: mobile }
spec:
  parentRefs: [{ group: "", kind: Service, name: books, namespace: shop, port: 80 }]
  rules: [{ backendRefs: [{ name: books-mobile, namespace: shop, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: admin-only, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: books, sectionName: admin }]
  rules: [{ backendRefs: [{ name: books-admin, port: 9000 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: grpc, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: rpc, port: 50051 }]
  rules:
    - matches: [{ method: { service: shop.Books, method: Get } }]
      backendRefs: [{ name: rpc-get, port: 50051 }]
    - matches: [{ method: { service: shop.Books } }]
      backendRefs: [{ name: rpc-all, port: 50051 }]
`;
const books = { namespace: 'shop', name: 'books', port: 80 };

test('the sidecar\'s matching: path types and precedence, headers, query, method; rule, backends and filters back', () => {
  const t = RouteTable.fromYaml(YAML);
  try {
    const m = (path, extra = {}) => t.match(books, { path, ...extra });
    assert.is(m('/api/v2/books', { headers: { 'X-Canary': '1' } }).ruleIndex, 0, 'header match, names case-insensitive');
    assert.is(m('/api/v2/books').ruleIndex, 4, 'without the header: the plain prefix');
    const q = m('/api/books?version=2');
    assert.is(q.ruleIndex, 1);
    assert.is(q.ruleName, 'v2-by-query');
    assert.equal(q.backendRefs.map((b) => [b.name, b.weight]), [['books-v2', 1], ['books-v1', 3]]);
    assert.is(q.pickBackend(0.1).name, 'books-v2');
    assert.is(q.pickBackend(0.5).name, 'books-v1');
    const redirect = m('/old');
    assert.is(redirect.filters[0].type, 'RequestRedirect');
    assert.is(m('/old/x'), null, 'Exact is exact; no rule matches: null (a sidecar answers 404)');
    assert.is(m('/items/42', { method: 'delete' }).ruleIndex, 3, 'regex and method');
    assert.is(m('/items/42'), null);
    const rw = m('/api/books');
    assert.is(rw.matchedPrefix, '/api');
    assert.is(rw.filters[0].type, 'URLRewrite');
    assert.equal(rw.route, { kind: 'HTTPRoute', namespace: 'shop', name: 'books-api' });
  } finally {
    t.close();
  }
});

test('GAMMA attachment: consumer routes for their namespace, sectionName ports, GRPCRoute services and methods', () => {
  const t = RouteTable.fromYaml(YAML);
  try {
    assert.is(t.match(books, { path: '/api/x' }, 'mobile').route.name, 'mobile-books', 'the consumer route wins for its namespace');
    assert.is(t.match(books, { path: '/api/x' }, 'web').route.name, 'books-api', 'other callers: the producer route');
    assert.is(t.match({ ...books, port: 9000 }, { path: '/anything' }).route.name, 'admin-only', 'sectionName: the port named admin');
    assert.is(t.attached({ namespace: 'shop', name: 'nothing', port: 80 }).length, 0);
    assert.is(t.match({ namespace: 'shop', name: 'nothing', port: 80 }, { path: '/' }), null);
    const rpc = { namespace: 'shop', name: 'rpc', port: 50051 };
    const grpcReq = (path) => ({ method: 'POST', path, headers: { 'content-type': 'application/grpc' } });
    assert.is(t.match(rpc, grpcReq('/shop.Books/Get')).backendRefs[0].name, 'rpc-get');
    assert.is(t.match(rpc, grpcReq('/shop.Books/List')).backendRefs[0].name, 'rpc-all');
    assert.is(t.match(rpc, grpcReq('/shop.Other/Get')), null);
  } finally {
    t.close();
  }
});

test('invalid objects: every problem named with file, object and field; plain objects read the same', () => {
  const bad = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: broken, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: books }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: "no-slash" } }]
      backendRefs: [{ name: b, port: 80, weight: -1 }]
`;
  let err;
  try { RouteTable.fromYaml(bad, 'bad.yaml'); } catch (e) { err = e; }
  assert.ok(err instanceof RouteTableError);
  assert.is(err.code, 'SKIFF_ROUTE_CONFIG');
  assert.ok(err.errors.length >= 2, err.message);
  assert.match(err.message, /bad\.yaml:1: HTTPRoute shop\/broken: spec\.rules\[0\]\.matches\[0\]\.path\.value/);
  assert.match(err.message, /weight/);
  const t = RouteTable.fromObjects([{
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'default' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'svc' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/a' } }], backendRefs: [{ name: 'a', port: 80 }] }] },
  }, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ignored' } }]);
  try {
    assert.is(t.match({ namespace: 'default', name: 'svc', port: 80 }, { path: '/a/b' }).backendRefs[0].name, 'a');
    assert.equal(t.routes, [{ kind: 'HTTPRoute', namespace: 'default', name: 'r' }]);
  } finally {
    t.close();
  }
  assert.throws(() => t.match({ namespace: 'default', name: 'svc', port: 80 }, { path: '/' }), /closed/);
});

test('several tables at once, each with its own routes (no global state but the shared core)', () => {
  const a = RouteTable.fromYaml(YAML);
  const b = RouteTable.fromObjects([]);
  try {
    assert.ok(a.match(books, { path: '/api' }));
    assert.is(b.match(books, { path: '/api' }), null);
  } finally {
    a.close();
    b.close();
  }
});

test.run();

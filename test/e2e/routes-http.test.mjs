// Gateway API routing end to end: HTTPRoutes and GRPCRoutes attached to Services (GAMMA), requests
// through a real outbound proxy to backends that report what they received (which backend, the
// method, path and headers). Table-driven from the spec's matching, precedence and filter rules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import http2 from 'node:http2';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, eventually } from '../helpers/mesh.mjs';

const BACKENDS = ['v1', 'v2', 'v3', 'api', 'canary', 'slow', 'flaky', 'slowfirst'];
/** Tries per x-key seen by the flaky and slowfirst backends. */
const tries = new Map();
const servers = [];
/** What each backend received, in order: { backend, method, path, body, answeredAt? } */
const seen = [];
const ports = {};
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function echoServer(name) {
  return http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const record = { backend: name, method: req.method, path: req.url, headers: req.headers, body, answered: false };
      seen.push(record);
      const reply = () => {
        record.answered = true;
        res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name, 'x-drop-me': 'yes' });
        res.end(JSON.stringify({ backend: name, method: req.method, path: req.url, headers: req.headers, body }));
      };
      const key = `${name}:${req.headers['x-key']}`;
      const n = (tries.get(key) ?? 0) + 1;
      tries.set(key, n);
      if (name === 'flaky' && n <= Number(req.headers['x-fail'] ?? 0)) {
        res.writeHead(503, { 'content-type': 'application/json', 'x-backend': name });
        res.end(JSON.stringify({ backend: name, try: n, failed: true, body }));
        return;
      }
      if (name === 'slow' || (name === 'slowfirst' && n === 1)) setTimeout(reply, 1500); else reply();
    });
  });
}

const svc = (name, ns = 'default') => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
`;
const slice = (name, port, ns = 'default') => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: ${ns}
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1]}]
---
`;
const backend = (name, extra = '') => `{name: ${name}, port: 80${extra}}`;

function routesYaml() {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-main, namespace: default, creationTimestamp: "2024-05-01T00:00:00Z"}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
    - matches: [{path: {type: Exact, value: /exact}}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {type: PathPrefix, value: /prefix}}]
      backendRefs: [${backend('v2')}]
    - matches: [{path: {type: PathPrefix, value: /prefix/deeper/}}]
      backendRefs: [${backend('v3')}]
    - matches: [{path: {type: RegularExpression, value: "/items/[0-9]+"}}]
      backendRefs: [${backend('api')}]
    - matches: [{path: {value: /m}, method: POST}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /m}, headers: [{name: x-env, value: canary}]}]
      backendRefs: [${backend('canary')}]
    - matches: [{path: {value: /m}, headers: [{name: X-Env, value: canary}, {type: RegularExpression, name: x-user, value: "admin-.*"}]}]
      backendRefs: [${backend('v3')}]
    - matches: [{path: {value: /m}, queryParams: [{name: q, value: "1"}]}]
      backendRefs: [${backend('v2')}]
    - matches: [{path: {value: /or}, headers: [{name: x-a, value: "1"}]}, {path: {value: /or}, headers: [{name: x-b, value: "1"}]}]
      backendRefs: [${backend('api')}]
    - matches: [{path: {value: /hdr}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{name: x-set, value: forced}]
            add: [{name: x-add, value: added}]
            remove: [x-remove]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /resp}}]
      filters:
        - type: ResponseHeaderModifier
          responseHeaderModifier: {set: [{name: x-resp, value: "yes"}], remove: [x-drop-me]}
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /old}}]
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
      backendRefs: [${backend('v2')}]
    - matches: [{path: {value: /strip}}]
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
      backendRefs: [${backend('v2')}]
    - matches: [{path: {value: /cut}}]
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: ""}}}]
      backendRefs: [${backend('v2')}]
    - matches: [{path: {type: Exact, value: /rewrite-full}}]
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /full}}}]
      backendRefs: [${backend('v2')}]
    - matches: [{path: {value: /rehost}}]
      filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.example}}]
      backendRefs: [${backend('v1')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-more, namespace: default, creationTimestamp: "2024-05-01T00:00:00Z"}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
    - matches: [{path: {value: /to-https}}]
      filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
    - matches: [{path: {value: /v1api}}]
      filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2api}}}]
    - matches: [{path: {type: Exact, value: /move}}]
      filters: [{type: RequestRedirect, requestRedirect: {hostname: other.example, port: 8080, statusCode: 308}}]
    - matches: [{path: {value: /split}}]
      backendRefs: [${backend('v1', ', weight: 3')}, ${backend('v2', ', weight: 1')}]
    - matches: [{path: {value: /only-one}}]
      backendRefs: [${backend('v1', ', weight: 0')}, ${backend('v3', ', weight: 5')}]
    - matches: [{path: {value: /zero}}]
      backendRefs: [${backend('v1', ', weight: 0')}]
    - matches: [{path: {value: /nobackend}}]
    - matches: [{path: {value: /missing}}]
      backendRefs: [${backend('nope')}]
    - matches: [{path: {value: /timeout}}]
      timeouts: {request: 200ms}
      backendRefs: [${backend('slow')}]
    - matches: [{path: {value: /tie}}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /mirror}}]
      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: api, port: 80}}}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /mirror-slow}}]
      filters:
        - {type: RequestMirror, requestMirror: {backendRef: {name: slow, port: 80}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: nowhere, port: 80}}}
      backendRefs: [${backend('v2')}]
    - matches: [{path: {value: /mirror-half}}]
      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: v3, port: 80}, percent: 0}}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /per-backend}}]
      backendRefs:
        - name: v2
          port: 80
          filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-picked, value: v2}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-retries, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
    - matches: [{path: {value: /retry}}]
      retry: {codes: [503], attempts: 2, backoff: 10ms}
      backendRefs: [${backend('flaky')}]
    - matches: [{path: {value: /retry-other-code}}]
      retry: {codes: [500], attempts: 2, backoff: 10ms}
      backendRefs: [${backend('flaky')}]
    - matches: [{path: {value: /retry-slow}}]
      timeouts: {request: 5s, backendRequest: 300ms}
      retry: {codes: [504], attempts: 1, backoff: 10ms}
      backendRefs: [${backend('slowfirst')}]
    - matches: [{path: {type: RegularExpression, value: "/evil/(a+)+b"}}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /evil-header}, headers: [{type: RegularExpression, name: x-evil, value: "(x+x+)+y"}]}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /inflight}}]
      backendRefs: [${backend('slowfirst')}]
    - matches: [{path: {value: /attempt-timeout}}]
      timeouts: {backendRequest: 200ms}
      backendRefs: [${backend('slow')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-older, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{kind: Service, group: "", name: web}]
  rules:
    - matches: [{path: {value: /tie}}]
      backendRefs: [${backend('v2')}]
    - matches: [{path: {value: /same-age}}]
      backendRefs: [${backend('v3')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: aaa-same-age, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{kind: Service, group: "", name: web}]
  rules:
    - matches: [{path: {value: /same-age}}]
      backendRefs: [${backend('api')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other-port, namespace: default}
spec:
  parentRefs: [{kind: Service, group: "", name: web, port: 81}]
  rules:
    - matches: [{path: {value: /port-81}}]
      backendRefs: [${backend('api')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-section, namespace: default}
spec:
  parentRefs: [{kind: Service, group: "", name: web, sectionName: alt}]
  rules:
    - matches: [{path: {value: /by-section}}]
      backendRefs: [${backend('canary')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop-producer, namespace: default}
spec:
  parentRefs: [{kind: Service, group: "", name: shop}]
  rules:
    - matches: [{path: {value: /x}}]
      backendRefs: [${backend('v1')}]
    - matches: [{path: {value: /producer-only}}]
      backendRefs: [${backend('v3')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop-consumer, namespace: client-ns}
spec:
  parentRefs: [{kind: Service, group: "", name: shop, namespace: default}]
  rules:
    - matches: [{path: {value: /x}}]
      backendRefs: [{name: v2, namespace: default, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: greeter, namespace: default}
spec:
  parentRefs: [{kind: Service, group: "", name: grpcsvc}]
  rules:
    - matches: [{method: {service: helloworld.Greeter, method: SayHello}}]
      backendRefs: [${backend('v1')}]
    - matches: [{method: {service: helloworld.Greeter}}]
      backendRefs: [${backend('v2')}]
    - matches: [{method: {type: RegularExpression, service: "grpc\\\\.health\\\\..*"}}]
      backendRefs: [${backend('api')}]
    - matches: [{method: {service: helloworld.Greeter, method: SayHello}, headers: [{name: x-canary, value: "yes"}]}]
      backendRefs: [${backend('canary')}]
    - matches: [{method: {service: broken.Svc}}]
      backendRefs: [${backend('nope')}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: grpcsvc-http, namespace: default}
spec:
  parentRefs: [{kind: Service, group: "", name: grpcsvc}]
  rules:
    - matches: [{path: {value: /}}]
      backendRefs: [${backend('v3')}]
`;
}

let config, proxy, consumerProxy;

test.before(async () => {
  for (const name of BACKENDS) {
    const s = echoServer(name);
    await new Promise((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    ports[name] = s.address().port;
  }
  config = new ConfigDir();
  let objects = '';
  for (const name of BACKENDS) objects += svc(name) + slice(name, ports[name]);
  objects += `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}, {name: alt, port: 81, targetPort: 8081}]
---
` + svc('shop') + svc('grpcsvc');
  config.write('services.yaml', objects);
  config.write('routes.yaml', routesYaml());
  proxy = await startProxy({ log: process.env.SKIFF_TEST_LOG ? console.log : undefined, config: config.dir, workload: 'default/client', inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, app: '127.0.0.1:1', configPollMs: 50 });
  consumerProxy = await startProxy({ config: config.dir, workload: 'client-ns/client', inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: null, app: '127.0.0.1:1', configPollMs: 50 });
});

test.after(async () => {
  await proxy?.close();
  await consumerProxy?.close();
  agent.destroy();
  for (const s of servers) s.close();
  config?.remove();
});

function send(p, { host = 'web.default', method = 'GET', path = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.outbound.port, method, path, agent, headers: { host, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* a proxy error or an empty redirect */ }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// [request, expected]: expected.backend (which echo server answered), or expected.status, and
// optional expected.path (what the backend saw), .headers (a subset the backend saw), .location
const table = [
  // path matching and precedence
  [{ path: '/exact' }, { backend: 'v1', path: '/exact' }],
  [{ path: '/exact?a=1' }, { backend: 'v1', path: '/exact?a=1' }],
  [{ path: '/exact/' }, { status: 404 }],
  [{ path: '/exactly' }, { status: 404 }],
  [{ path: '/prefix' }, { backend: 'v2' }],
  [{ path: '/prefix/' }, { backend: 'v2' }],
  [{ path: '/prefix/a/b' }, { backend: 'v2' }],
  [{ path: '/prefixed' }, { status: 404 }],
  [{ path: '/prefix/deeper' }, { backend: 'v3' }],
  [{ path: '/prefix/deeper/x' }, { backend: 'v3' }],
  [{ path: '/prefix/deeperx' }, { backend: 'v2' }],
  [{ path: '/items/42' }, { backend: 'api' }],
  [{ path: '/items/42/x' }, { status: 404 }],
  [{ path: '/items/abc' }, { status: 404 }],
  [{ path: '/nothing/here' }, { status: 404 }],
  [{ path: '/' }, { status: 404 }],
  // method, headers, query parameters
  [{ path: '/m', method: 'POST', headers: { 'x-env': 'canary' } }, { backend: 'v1' }],
  [{ path: '/m', headers: { 'x-env': 'canary', 'x-user': 'admin-1' } }, { backend: 'v3' }],
  [{ path: '/m', headers: { 'x-env': 'canary', 'x-user': 'root' } }, { backend: 'canary' }],
  [{ path: '/m', headers: { 'X-ENV': 'canary' } }, { backend: 'canary' }],
  [{ path: '/m', headers: { 'x-env': 'Canary' } }, { status: 404 }],
  [{ path: '/m?q=1' }, { backend: 'v2' }],
  [{ path: '/m?q=1', headers: { 'x-env': 'canary' } }, { backend: 'canary' }],
  [{ path: '/m?q=2' }, { status: 404 }],
  [{ path: '/m?r=1&q=1' }, { backend: 'v2' }],
  [{ path: '/m', method: 'PUT' }, { status: 404 }],
  [{ path: '/or', headers: { 'x-a': '1' } }, { backend: 'api' }],
  [{ path: '/or', headers: { 'x-b': '1' } }, { backend: 'api' }],
  [{ path: '/or', headers: { 'x-c': '1' } }, { status: 404 }],
  // ties between routes
  [{ path: '/tie' }, { backend: 'v2' }],
  [{ path: '/same-age' }, { backend: 'api' }],
  // parentRef port
  [{ path: '/port-81', host: 'web.default:81' }, { backend: 'api' }],
  [{ path: '/port-81' }, { status: 404 }],
  [{ path: '/exact', host: 'web.default:81' }, { status: 404 }],
  // parentRef sectionName: the Service port's name (alt is port 81)
  [{ path: '/by-section', host: 'web.default:81' }, { backend: 'canary' }],
  [{ path: '/by-section' }, { status: 404 }],
  // filters
  [{ path: '/hdr', headers: { 'x-set': 'mine', 'x-add': 'mine', 'x-remove': 'gone', 'x-keep': 'k' } },
    { backend: 'v1', headers: { 'x-set': 'forced', 'x-add': 'mine, added', 'x-keep': 'k' }, absent: ['x-remove'] }],
  [{ path: '/resp' }, { backend: 'v1', responseHeaders: { 'x-resp': 'yes' }, responseAbsent: ['x-drop-me'] }],
  [{ path: '/old/thing?z=1' }, { backend: 'v2', path: '/new/thing?z=1' }],
  [{ path: '/old' }, { backend: 'v2', path: '/new' }],
  [{ path: '/old/' }, { backend: 'v2', path: '/new/' }],
  [{ path: '/strip/a/b' }, { backend: 'v2', path: '/a/b' }],
  [{ path: '/strip' }, { backend: 'v2', path: '/' }],
  [{ path: '/rewrite-full?k=v' }, { backend: 'v2', path: '/full?k=v' }],
  // an empty replacePrefixMatch removes the prefix (the spec's table)
  [{ path: '/cut/bar?q=1' }, { backend: 'v2', path: '/bar?q=1' }],
  [{ path: '/cut' }, { backend: 'v2', path: '/' }],
  [{ path: '/cut/' }, { backend: 'v2', path: '/' }],
  [{ path: '/rehost' }, { backend: 'v1', headers: { host: 'rewritten.example' } }],
  [{ path: '/to-https/a?b=c' }, { status: 301, location: 'https://web.default/to-https/a?b=c' }],
  [{ path: '/v1api/users' }, { status: 302, location: 'http://web.default/v2api/users' }],
  [{ path: '/move' }, { status: 308, location: 'http://other.example:8080/move' }],
  [{ path: '/per-backend' }, { backend: 'v2', headers: { 'x-picked': 'v2' } }],
  // backends
  [{ path: '/only-one' }, { backend: 'v3' }],
  [{ path: '/zero' }, { status: 500 }],
  [{ path: '/nobackend' }, { status: 500 }],
  [{ path: '/missing' }, { status: 500 }],
  [{ path: '/timeout' }, { status: 504 }],
  // GAMMA: producer routes for this caller's namespace (no consumer route here)
  [{ host: 'shop.default', path: '/x' }, { backend: 'v1' }],
  [{ host: 'shop.default', path: '/producer-only' }, { backend: 'v3' }],
  // GRPCRoute wins over HTTPRoute on the same parent; gRPC method paths
  [{ host: 'grpcsvc.default', method: 'POST', path: '/helloworld.Greeter/SayHello' }, { backend: 'v1' }],
  [{ host: 'grpcsvc.default', method: 'POST', path: '/helloworld.Greeter/SayHello', headers: { 'x-canary': 'yes' } }, { backend: 'canary' }],
  [{ host: 'grpcsvc.default', method: 'POST', path: '/helloworld.Greeter/SayBye' }, { backend: 'v2' }],
  [{ host: 'grpcsvc.default', method: 'POST', path: '/grpc.health.v1.Health/Check' }, { backend: 'api' }],
  [{ host: 'grpcsvc.default', method: 'POST', path: '/other.Svc/Call' }, { status: 404 }],
  [{ host: 'grpcsvc.default', path: '/' }, { status: 404 }],
  // an invalid GRPCRoute backendRef: UNAVAILABLE (the GRPCRoute spec), not INTERNAL
  [{ host: 'grpcsvc.default', method: 'POST', path: '/broken.Svc/Call', headers: { 'content-type': 'application/grpc' } }, { status: 200, grpcStatus: '14' }],
  // Services without routes keep going straight to their endpoints
  [{ host: 'v3.default', path: '/whatever' }, { backend: 'v3', path: '/whatever' }],
];

async function runRow(p, [request, want]) {
  const label = `${request.method ?? 'GET'} ${request.host ?? 'web.default'}${request.path} ${JSON.stringify(request.headers ?? {})}`;
  const r = await send(p, request);
  if (want.backend) {
    assert.is(r.status, 200, `${label}: ${r.text}`);
    assert.is(r.json?.backend, want.backend, label);
    if (want.path) assert.is(r.json.path, want.path, label);
    for (const [k, v] of Object.entries(want.headers ?? {})) assert.is(r.json.headers[k], v, `${label}: ${k}`);
    for (const k of want.absent ?? []) assert.is(r.json.headers[k], undefined, `${label}: ${k}`);
  } else {
    assert.is(r.status, want.status, `${label}: ${r.text}`);
    if (want.status >= 400) assert.ok(r.headers['skiff-proxy-error'], `${label}: says why`);
    if (want.grpcStatus) assert.is(r.headers['grpc-status'], want.grpcStatus, `${label}: grpc-status (${r.headers['grpc-message']})`);
  }
  if (want.location) assert.is(r.headers.location, want.location, label);
  for (const [k, v] of Object.entries(want.responseHeaders ?? {})) assert.is(r.headers[k], v, `${label}: response ${k}`);
  for (const k of want.responseAbsent ?? []) assert.is(r.headers[k], undefined, `${label}: response ${k}`);
}

test('every row of the table, twice (a fresh and a reused connection)', async () => {
  for (let round = 0; round < 2; round++) for (const row of table) await runRow(proxy, row);
});

test('the same table over HTTP/2 (prior knowledge): routing does not depend on the client protocol', async () => {
  const client = http2.connect(`http://127.0.0.1:${proxy.outbound.port}`);
  try {
    for (const [request, want] of table) {
      if (want.path === undefined && want.backend === undefined && want.status === undefined) continue;
      const r = await new Promise((resolve, reject) => {
        const headers = { ':method': request.method ?? 'GET', ':path': request.path, ':authority': request.host ?? 'web.default' };
        for (const [k, v] of Object.entries(request.headers ?? {})) headers[k.toLowerCase()] = v;
        const st = client.request(headers, { endStream: true });
        let text = '';
        let head;
        st.on('response', (h) => { head = h; });
        st.setEncoding('utf8');
        st.on('data', (c) => { text += c; });
        st.on('end', () => { let json = null; try { json = JSON.parse(text); } catch { /* not JSON */ } resolve({ status: head[':status'], headers: head, json, text }); });
        st.on('error', reject);
      });
      const label = `h2 ${request.method ?? 'GET'} ${request.host ?? 'web.default'}${request.path}`;
      if (want.backend) {
        assert.is(r.status, 200, `${label}: ${r.text}`);
        assert.is(r.json.backend, want.backend, label);
        if (want.path) assert.is(r.json.path, want.path, label);
      } else assert.is(r.status, want.status, label);
      if (want.location) assert.is(r.headers.location, want.location, label);
    }
  } finally { client.close(); }
});

test('GAMMA: a consumer route replaces the producer routes for callers in its namespace only', async () => {
  await runRow(consumerProxy, [{ host: 'shop.default', path: '/x' }, { backend: 'v2' }]);
  await runRow(consumerProxy, [{ host: 'shop.default', path: '/producer-only' }, { status: 404 }]);
  await runRow(consumerProxy, [{ path: '/exact' }, { backend: 'v1' }]); // web has no consumer routes: producer ones apply
  await runRow(proxy, [{ host: 'shop.default', path: '/x' }, { backend: 'v1' }]);
});

test('RequestMirror: a copy (with its body) reaches the mirror; its slowness or absence never touches the response', async () => {
  seen.length = 0;
  const r = await send(proxy, { path: '/mirror/a?x=1', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'mirrored body' });
  assert.is(r.json.backend, 'v1');
  assert.is(r.json.body, 'mirrored body');
  const copy = await eventually(() => seen.find((x) => x.backend === 'api'));
  assert.ok(copy, 'the mirror got the request');
  assert.is(copy.path, '/mirror/a?x=1');
  assert.is(copy.method, 'POST');
  assert.is(copy.body, 'mirrored body');
  // the slow mirror (1.5 s) has not answered when the client already has its answer
  seen.length = 0;
  const r2 = await send(proxy, { path: '/mirror-slow' });
  assert.is(r2.json.backend, 'v2');
  const slow = seen.find((x) => x.backend === 'slow');
  assert.ok(!slow || !slow.answered, 'the response did not wait for the mirror');
  // percent 0: never mirrored
  seen.length = 0;
  for (let i = 0; i < 20; i++) assert.is((await send(proxy, { path: '/mirror-half' })).json.backend, 'v1');
  assert.is(seen.filter((x) => x.backend === 'v3').length, 0);
});

let keySerial = 0;
test('retries: the listed codes are retried up to attempts, with the whole body each time; others are not', async () => {
  const key = () => `k${++keySerial}`;
  // two failures, two retries allowed: the third try answers
  let k = key();
  let r = await send(proxy, { path: '/retry', method: 'POST', body: 'payload', headers: { 'x-key': k, 'x-fail': '2' } });
  assert.is(r.status, 200, `${r.text} ${JSON.stringify(r.headers)}`);
  assert.is(r.json.body, 'payload');
  assert.is(tries.get(`flaky:${k}`), 3);
  // three failures: the last failure is the answer
  k = key();
  r = await send(proxy, { path: '/retry', headers: { 'x-key': k, 'x-fail': '5' } });
  assert.is(r.status, 503);
  assert.is(r.json.try, 3);
  assert.is(tries.get(`flaky:${k}`), 3);
  // a code not listed: no retry
  k = key();
  r = await send(proxy, { path: '/retry-other-code', headers: { 'x-key': k, 'x-fail': '1' } });
  assert.is(r.status, 503);
  assert.is(tries.get(`flaky:${k}`), 1);
  // a body larger than what is held for replay streams through once and is never retried
  k = key();
  const big = 'x'.repeat(200 * 1024);
  r = await send(proxy, { path: '/retry', method: 'POST', body: big, headers: { 'x-key': k, 'x-fail': '1' } });
  assert.is(r.status, 503);
  assert.is(r.json.body.length, big.length);
  assert.is(tries.get(`flaky:${k}`), 1);
  // a body within the limit is replayed whole
  k = key();
  const mid = 'y'.repeat(40 * 1024);
  r = await send(proxy, { path: '/retry', method: 'POST', body: mid, headers: { 'x-key': k, 'x-fail': '1' } });
  assert.is(r.status, 200);
  assert.is(r.json.body, mid);
  assert.is(tries.get(`flaky:${k}`), 2);
});

test('timeouts: backendRequest limits each try (a timed-out try is retried on 504); request limits them all', async () => {
  const k = `k${++keySerial}`;
  const r = await send(proxy, { path: '/retry-slow', headers: { 'x-key': k } });
  assert.is(r.status, 200, r.text);
  assert.is(r.json.backend, 'slowfirst');
  assert.is(tries.get(`slowfirst:${k}`), 2);
  const t = await send(proxy, { path: '/attempt-timeout' });
  assert.is(t.status, 504);
  assert.ok(t.headers['skiff-proxy-error']);
});

test('a pathological regex against a pathological request cannot stall the proxy', async () => {
  // patterns that take exponential time in a backtracking engine, inputs that trigger it
  const evilPath = `/evil/${'a'.repeat(6000)}`;
  const evilHeader = 'x'.repeat(6000);
  const slow = [];
  for (let i = 0; i < 20; i++) {
    slow.push(send(proxy, { path: evilPath }));
    slow.push(send(proxy, { path: '/evil-header', headers: { 'x-evil': evilHeader } }));
  }
  // ordinary requests are served meanwhile, and the evil ones are decided (no match: 404)
  for (let i = 0; i < 20; i++) assert.is((await send(proxy, { path: '/exact' })).json.backend, 'v1');
  for (const r of await Promise.all(slow)) assert.is(r.status, 404, r.text);
  assert.is((await send(proxy, { path: `/evil/${'a'.repeat(5000)}b` })).json.backend, 'v1');
  assert.is((await send(proxy, { path: '/evil-header', headers: { 'x-evil': `${evilHeader}y` } })).json.backend, 'v1');
});

test('a request in flight finishes on the route it started on when the routes change', async () => {
  const k = `k${++keySerial}`;
  const gen = proxy.configGeneration;
  const inflight = send(proxy, { path: '/inflight', headers: { 'x-key': k } }); // slowfirst: 1.5 s for the first try
  await eventually(() => tries.get(`slowfirst:${k}`) === 1);
  // the same path now goes elsewhere
  config.write('override.yaml', `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: override, namespace: default, creationTimestamp: "2020-01-01T00:00:00Z"}
spec:
  parentRefs: [{kind: Service, group: "", name: web}]
  rules:
    - matches: [{path: {value: /inflight}}]
      backendRefs: [{name: v2, port: 80}]
`);
  await eventually(() => proxy.configGeneration > gen);
  assert.is((await send(proxy, { path: '/inflight', headers: { 'x-key': k } })).json.backend, 'v2');
  const r = await inflight;
  assert.is(r.status, 200);
  assert.is(r.json.backend, 'slowfirst');
  config.write('override.yaml', '');
  const gen2 = proxy.configGeneration;
  await eventually(() => proxy.configGeneration > gen2);
});

test('weights: 3:1 split over 200 requests lands on both, in about that ratio; weight 0 never', async () => {
  const count = { v1: 0, v2: 0 };
  for (let i = 0; i < 200; i++) {
    const r = await send(proxy, { path: '/split' });
    count[r.json.backend]++;
  }
  assert.ok(count.v1 > 110 && count.v2 > 20, JSON.stringify(count)); // binomial(200, .75): far outside 4 sigma
  for (let i = 0; i < 30; i++) assert.is((await send(proxy, { path: '/only-one' })).json.backend, 'v3');
});

test('routes change live; an invalid route is rejected alone and keeps its last good version', async () => {
  const gen = proxy.configGeneration;
  config.write('extra.yaml', `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: live, namespace: default}
spec:
  parentRefs: [{kind: Service, group: "", name: web}]
  rules:
    - matches: [{path: {type: Exact, value: /live}}]
      backendRefs: [{name: api, port: 80}]
`);
  await eventually(() => proxy.configGeneration > gen);
  await runRow(proxy, [{ path: '/live' }, { backend: 'api' }]);
  const gen2 = proxy.configGeneration;
  // the same route broken (bad regex, bad path) plus a new valid Service in the same change
  config.write('extra.yaml', `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: live, namespace: default}
spec:
  parentRefs: [{kind: Service, group: "", name: web}]
  rules:
    - matches: [{path: {type: RegularExpression, value: "/live(["}}]
      backendRefs: [{name: api, port: 80}]
    - matches: [{path: {type: Exact, value: "live"}}]
      backendRefs: [{name: api, port: 80}]
---
${svc('brand-new')}${slice('brand-new', ports.v3)}`);
  await eventually(() => proxy.configGeneration > gen2);
  await runRow(proxy, [{ path: '/live' }, { backend: 'api' }]); // the last good version of the route
  await runRow(proxy, [{ host: 'brand-new.default', path: '/n' }, { backend: 'v3' }]); // the rest applied
  config.write('extra.yaml', '');
  const gen3 = proxy.configGeneration;
  await eventually(() => proxy.configGeneration > gen3);
  await runRow(proxy, [{ path: '/live' }, { status: 404 }]);
});

test.run();

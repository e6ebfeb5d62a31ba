// HTTPRoute and GRPCRoute YAML: the CRD's checks with file, object and field named; defaults; route
// status as a controller reports it (Accepted, ResolvedRefs with reasons) in `skiff check` and on
// the admin server's /config.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startProxy } from '../../dist/host/index.js';
import { routeStatuses } from '../../dist/host/route/status.js';
import { rewritePath } from '../../dist/host/route/filters.js';
import { ConfigDir, loadFiles, serviceYaml } from '../helpers/mesh.mjs';
import { run } from '../helpers/run.mjs';

const cli = fileURLToPath(new URL('../../dist/skiff.js', import.meta.url));

const route = (name, spec, { kind = 'HTTPRoute', ns = 'default' } = {}) =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: ${kind}\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}\n---\n`;

const load = loadFiles;

test('defaults are filled in as the API server would', () => {
  const r = load({ 'a.yaml': serviceYaml('web', 80) + '---\n' + route('r', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules:\n    - backendRefs: [{name: web, port: 80}]\n    - matches: [{headers: [{name: X-A, value: b}]}]\n      backendRefs: [{name: web, port: 80}]') });
  assert.equal(r.errors.map(String), []);
  assert.equal(r.routeErrors.map(String), []);
  const [rt] = r.snapshot.routes;
  assert.equal(rt.parentRefs, [{ group: '', kind: 'Service', namespace: 'default', name: 'web', port: undefined }]);
  assert.equal(rt.rules[0].matches, []);
  assert.equal(rt.rules[0].backendRefs[0], { group: '', kind: 'Service', name: 'web', namespace: 'default', port: 80, weight: 1, filters: [] });
  assert.equal(rt.rules[1].matches[0], { path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'X-A', value: 'b' }], queryParams: [] });
});

const invalid = [
  ['path without /', '  rules: [{matches: [{path: {type: PathPrefix, value: "foo"}}]}]', /spec\.rules\[0\]\.matches\[0\]\.path\.value: 'foo' must be an absolute path/],
  ['path with //', '  rules: [{matches: [{path: {type: Exact, value: "/a//b"}}]}]', /path\.value: '\/a\/\/b' must not contain \/\//],
  ['path with /../', '  rules: [{matches: [{path: {value: "/a/../b"}}]}]', /must not contain \/\.\/ or \/\.\.\/ segments/],
  ['bad path type', '  rules: [{matches: [{path: {type: Glob, value: "/a"}}]}]', /path\.type: must be one of Exact, PathPrefix, RegularExpression, got "Glob"/],
  ['bad regex', '  rules: [{matches: [{path: {type: RegularExpression, value: "/a(b"}}]}]', /path\.value: invalid regular expression "\/a\(b": missing closing \) at offset 2/],
  ['lookahead', '  rules: [{matches: [{headers: [{type: RegularExpression, name: x, value: "(?=a)"}]}]}]', /headers\[0\]\.value: invalid regular expression .*not supported/],
  ['bad method', '  rules: [{matches: [{method: FETCH}]}]', /matches\[0\]\.method: must be one of GET/],
  ['bad header name', '  rules: [{matches: [{headers: [{name: "a b", value: x}]}]}]', /headers\[0\]\.name: 'a b' is not a valid header name/],
  ['duplicate header', '  rules: [{matches: [{headers: [{name: a, value: x}, {name: a, value: y}]}]}]', /headers\[1\]\.name: 'a' is matched twice/],
  ['too many rules', `  rules: [${Array(17).fill('{}').join(', ')}]`, /spec\.rules: must have at most 16 entries/],
  ['weight out of range', '  rules: [{backendRefs: [{name: web, port: 80, weight: -1}]}]', /backendRefs\[0\]\.weight: must be an integer 0-1000000/],
  ['Service backend without port', '  rules: [{backendRefs: [{name: web}]}]', /backendRefs\[0\]\.port: is required when the backend is a Service/],
  ['redirect + rewrite', '  rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}, {type: URLRewrite, urlRewrite: {hostname: a.b}}]}]', /may not contain both RequestRedirect and URLRewrite/],
  ['redirect with backends', '  rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}], backendRefs: [{name: web, port: 80}]}]', /backendRefs: must be empty when the rule has a RequestRedirect/],
  ['filter config mismatch', '  rules: [{filters: [{type: RequestHeaderModifier, responseHeaderModifier: {set: [{name: a, value: b}]}}]}]', /responseHeaderModifier: must not be set for a RequestHeaderModifier filter/],
  ['filter twice', '  rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {}}, {type: RequestHeaderModifier, requestHeaderModifier: {}}]}]', /RequestHeaderModifier may appear only once/],
  ['prefix rewrite on Exact', '  rules: [{matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]', /ReplacePrefixMatch needs the rule to have exactly one match, a PathPrefix path/],
  ['bad status code', '  rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]}]', /statusCode: must be 301, 302, 303, 307 or 308/],
  ['bad timeout', '  rules: [{timeouts: {request: "10 seconds"}}]', /timeouts\.request: '10 seconds' is not a duration/],
  ['backendRequest > request', '  rules: [{timeouts: {request: 1s, backendRequest: 2s}}]', /backendRequest: must not be longer than timeouts\.request/],
  ['header value with CR', '  rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: "x\\ry"}]}}]}]', /set\[0\]\.value: must not contain CR, LF or NUL/],
  ['ExtensionRef', '  rules: [{filters: [{type: ExtensionRef, extensionRef: {group: x, kind: y, name: z}}]}]', /ExtensionRef filters name extensions Skiff does not have/],
];

test('invalid HTTPRoutes: each problem named with file, object and field', () => {
  for (const [what, spec, re] of invalid) {
    const r = load({ 'svc.yaml': serviceYaml('web', 80), 'route.yaml': route('bad', `  parentRefs: [{kind: Service, group: "", name: web}]\n${spec}`) });
    assert.equal(r.errors.map(String), [], what);
    assert.ok(r.snapshot, `${what}: the rest of the config still loads`);
    assert.is(r.snapshot.routes.length, 0, `${what}: the route is rejected`);
    const msgs = r.routeErrors.map(String).join('\n');
    assert.match(msgs, /route\.yaml:1: HTTPRoute default\/bad: /, what);
    assert.match(msgs, re, `${what}: ${msgs}`);
  }
});

test("Linkerd's policy.linkerd.io HTTPRoute reads the same; a same-named Gateway API route is another object", async () => {
  const { routesFor } = await import('../../dist/host/route/attach.js');
  const linkerd = `apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{kind: Service, group: core, name: web, port: 80}]
  rules:
    - matches: [{path: {value: /l5d}}]
      timeouts: {request: 3s}
      backendRefs: [{name: web, port: 80}]
---
`;
  const r = load({ 'a.yaml': serviceYaml('web', 80) + '---\n' + linkerd + route('r', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules: [{backendRefs: [{name: web, port: 80}]}]') });
  assert.equal([...r.errors, ...r.routeErrors].map(String), []);
  const attached = routesFor(r.snapshot, 'default', 'default', 'web', 80);
  assert.equal(attached.map((x) => `${x.group} ${x.name}`).sort(), ['gateway.networking.k8s.io r', 'policy.linkerd.io r']);
  const l5d = attached.find((x) => x.group === 'policy.linkerd.io');
  assert.is(l5d.rules[0].requestTimeoutMs, 3000);
});

test('invalid GRPCRoutes', () => {
  const cases = [
    ['  rules: [{matches: [{method: {type: Exact, service: "a/b", method: M}}]}]', /method\.service: 'a\/b' is not a gRPC service name/],
    ['  rules: [{matches: [{method: {type: Exact}}]}]', /method: must set service, method or both/],
    ['  rules: [{matches: [{method: {type: RegularExpression, method: "(x"}}]}]', /method\.method: invalid regular expression/],
    ['  rules: [{filters: [{type: URLRewrite, urlRewrite: {hostname: a}}]}]', /type: must be one of RequestHeaderModifier, ResponseHeaderModifier, RequestMirror, ExtensionRef, got 'URLRewrite'/],
    ['  rules: [{timeouts: {request: 1s}}]', /timeouts: is not a GRPCRoute field/],
  ];
  for (const [spec, re] of cases) {
    const r = load({ 'route.yaml': route('g', `  parentRefs: [{kind: Service, group: "", name: web}]\n${spec}`, { kind: 'GRPCRoute' }) });
    assert.match(r.routeErrors.map(String).join('\n'), re);
  }
});

function statusYaml() {
  return serviceYaml('web', 80) + '---\n' + serviceYaml('api', 80) + '---\n' +
    route('ok', '  parentRefs: [{kind: Service, group: "", name: web, port: 80}]\n  rules: [{backendRefs: [{name: api, port: 80}]}]') +
    route('no-parent', '  parentRefs: [{kind: Service, group: "", name: nope}]\n  rules: [{backendRefs: [{name: api, port: 80}]}]') +
    route('no-port', '  parentRefs: [{kind: Service, group: "", name: web, port: 9}]\n  rules: [{backendRefs: [{name: api, port: 80}]}]') +
    route('bad-backend', '  parentRefs: [{kind: Service, group: "", name: api}]\n  rules: [{backendRefs: [{name: missing, port: 80}]}]') +
    route('bad-kind', '  parentRefs: [{kind: Service, group: "", name: api}]\n  rules: [{backendRefs: [{group: example.com, kind: Bucket, name: b}]}]') +
    route('grpc', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules: [{backendRefs: [{name: api, port: 80}]}]', { kind: 'GRPCRoute' }) +
    route('gateway-only', '  parentRefs: [{name: my-gateway}]\n  rules: [{backendRefs: [{name: api, port: 80}]}]') +
    route('section-ok', '  parentRefs: [{kind: Service, group: "", name: api, sectionName: http}]\n  rules: [{backendRefs: [{name: api, port: 80}]}]') +
    route('section-missing', '  parentRefs: [{kind: Service, group: "", name: api, sectionName: admin}]\n  rules: [{backendRefs: [{name: api, port: 80}]}]');
}

test('route status: Accepted and ResolvedRefs with the reasons a controller gives', () => {
  const r = load({ 'a.yaml': statusYaml() });
  assert.equal([...r.errors, ...r.routeErrors].map(String), []);
  const st = Object.fromEntries(routeStatuses(r.snapshot).map((s) => [s.route.name, s.parents.map((p) => p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' '))]));
  assert.equal(st.ok, ['Accepted=False/Conflicted ResolvedRefs=True/ResolvedRefs']); // the GRPCRoute on web wins
  assert.equal(st.grpc, ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
  assert.equal(st['no-parent'], ['Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs']);
  assert.equal(st['no-port'], ['Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs']);
  assert.equal(st['bad-backend'], ['Accepted=True/Accepted ResolvedRefs=False/BackendNotFound']);
  assert.equal(st['bad-kind'], ['Accepted=True/Accepted ResolvedRefs=False/InvalidKind']);
  assert.equal(st['gateway-only'], []);
  // sectionName is the Service port's name (Gateway API core): a port that does not exist is not Accepted
  assert.equal(st['section-ok'], ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
  assert.equal(st['section-missing'], ['Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs']);
});

test('an empty replacePrefixMatch (and replaceFullPath) is valid, as the CRD says; a relative one is not', () => {
  const ok = load({ 'a.yaml': serviceYaml('web', 80) + '---\n' +
    route('cut', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules: [{matches: [{path: {type: PathPrefix, value: /foo}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: ""}}}], backendRefs: [{name: web, port: 80}]}]') +
    route('cut-redirect', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules: [{matches: [{path: {type: PathPrefix, value: /foo}}], filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: ""}}}]}]') });
  assert.equal([...ok.errors, ...ok.routeErrors].map(String), []);
  const bad = load({ 'a.yaml': serviceYaml('web', 80) + '---\n' +
    route('rel', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules: [{matches: [{path: {type: PathPrefix, value: /foo}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: bar}}}], backendRefs: [{name: web, port: 80}]}]') });
  assert.match(bad.routeErrors.map(String).join('\n'), /replacePrefixMatch: 'bar' must be an absolute path/);
});

test('rewritePath follows the spec\'s ReplacePrefixMatch table, empty replacement included', () => {
  const cases = [
    ['/foo', '/xyz', '/foo/bar', '/xyz/bar'], ['/foo', '/xyz/', '/foo/bar', '/xyz/bar'], ['/foo/', '/xyz', '/foo/bar', '/xyz/bar'],
    ['/foo', '/xyz', '/foo', '/xyz'], ['/foo', '/xyz', '/foo/', '/xyz/'], ['/foo', '/', '/foo/bar', '/bar'],
    ['/foo', '', '/foo/bar', '/bar'], ['/foo', '', '/foo', '/'], ['/foo', '', '/foo/', '/'], ['/foo/', '', '/foo/bar?x=1', '/bar?x=1'],
  ];
  for (const [prefix, value, path, want] of cases) assert.is(rewritePath(path, { type: 'ReplacePrefixMatch', value }, prefix), want, `${prefix} → '${value}' on ${path}`);
  assert.is(rewritePath('/a?b', { type: 'ReplaceFullPath', value: '' }, undefined), '/?b');
});

test('skiff check lists every problem, route status included, and exits 1; a clean directory exits 0', async () => {
  const c = new ConfigDir();
  c.write('a.yaml', statusYaml());
  c.write('b.yaml', route('broken', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules: [{matches: [{path: {value: "x"}}]}]'));
  const r = await run(process.execPath, [cli, 'check', c.dir]);
  assert.is(r.code, 1);
  const err = r.stderr.toString();
  assert.match(err, /b\.yaml:1: HTTPRoute default\/broken: spec\.rules\[0\]\.matches\[0\]\.path\.value: 'x' must be an absolute path/);
  assert.match(err, /HTTPRoute default\/no-parent → Service default\/nope: Accepted=False \(NoMatchingParent: Service default\/nope does not exist\)/);
  assert.match(err, /HTTPRoute default\/bad-backend → Service default\/api: ResolvedRefs=False \(BackendNotFound: backendRef Service default\/missing does not exist\)/);
  assert.match(err, /HTTPRoute default\/ok → Service default\/web:80: Accepted=False \(Conflicted: GRPCRoute default\/grpc/);
  assert.match(err, /HTTPRoute default\/section-missing → Service default\/api port named admin: Accepted=False \(NoMatchingParent: Service default\/api has no port named admin\)/);
  assert.match(err, /: 7 problems/);
  const good = new ConfigDir();
  good.write('a.yaml', serviceYaml('web', 80) + '---\n' + route('ok', '  parentRefs: [{kind: Service, group: "", name: web}]\n  rules: [{backendRefs: [{name: web, port: 80}]}]'));
  const ok = await run(process.execPath, [cli, 'check', good.dir]);
  assert.is(ok.code, 0, ok.stderr.toString());
  assert.match(ok.stdout.toString(), /route: HTTPRoute default\/ok → Service default\/web: Accepted, ResolvedRefs/);
  c.remove();
  good.remove();
});

test('the admin server dumps the effective config with route status, and serves /metrics', async () => {
  const c = new ConfigDir();
  c.write('a.yaml', statusYaml());
  const p = await startProxy({ config: c.dir, inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1' });
  const body = await new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: p.admin.port, path: '/config' }, (res) => {
    let t = '';
    res.on('data', (d) => { t += d; });
    res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(t) }));
  }).on('error', reject));
  assert.is(body.status, 200);
  assert.is(body.json.generation, 1);
  assert.ok(body.json.services.some((s) => s.name === 'web'));
  const metrics = await new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: p.admin.port, path: '/metrics' }, (res) => {
    let t = '';
    res.on('data', (d) => { t += d; });
    res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], text: t }));
  }).on('error', reject));
  assert.is(metrics.status, 200);
  assert.match(metrics.type, /^text\/plain/);
  assert.match(metrics.text, /# HELP skiff_identity_mismatch_total /);
  const bad = body.json.routes.find((r) => r.name === 'bad-backend');
  assert.equal(bad.parents[0].conditions[1], { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: 'backendRef Service default/missing does not exist' });
  await p.close();
  c.remove();
});

test.run();

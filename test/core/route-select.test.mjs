// Route selection in the core (assembly/route/*, host/route/precedence.ts): which rule a request
// selects among HTTPRoute / GRPCRoute rules attached to one parent, per the Gateway API's matching
// and precedence rules, case by case from the spec; then random route sets against a plain
// JavaScript implementation of the same rules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Router } from '../../dist/host/route/router.js';
import { orderMatches } from '../../dist/host/route/precedence.js';
import { ReferenceRouter } from '../helpers/route-reference.mjs';

let serial = 0;
function route(name, rules, { ns = 'default', created, kind = 'HTTPRoute' } = {}) {
  return {
    kind, namespace: ns, name, created, parentRefs: [], source: 'test', line: ++serial,
    rules: rules.map((matches) => ({ matches, filters: [], backendRefs: [], requestTimeoutMs: 0, backendRequestTimeoutMs: 0 })),
  };
}
const prefix = (value, extra = {}) => ({ path: { type: 'PathPrefix', value }, headers: [], queryParams: [], ...extra });
const exact = (value, extra = {}) => ({ path: { type: 'Exact', value }, headers: [], queryParams: [], ...extra });
const regex = (value, extra = {}) => ({ path: { type: 'RegularExpression', value }, headers: [], queryParams: [], ...extra });
const hdr = (name, value, type = 'Exact') => ({ type, name, value });
const grpc = (service, method, type = 'Exact', headers = []) => ({ method: service === undefined && method === undefined ? undefined : { type, service, method }, headers });

function req(path, headers = {}, method = 'GET') {
  const f = [':method', method, ':scheme', 'http', ':authority', 'svc.default', ':path', path];
  for (const [k, v] of Object.entries(headers)) for (const one of [].concat(v)) f.push(k, one);
  return f;
}

/** Runs [request, expected "route#rule" or null] rows against the routes. */
function check(routes, rows) {
  const router = new Router(routes);
  const oracle = new ReferenceRouter(orderMatches(routes).entries);
  try {
    for (const [fields, want] of rows) {
      const got = router.select(fields);
      const name = got ? `${got.route.name}#${got.ruleIndex}` : null;
      assert.is(name, want, `${fields.join(' ')}`);
      const ref = oracle.select(fields);
      assert.is(ref < 0 ? null : `${router.refs[ref].route.name}#${router.refs[ref].ruleIndex}`, want, `reference: ${fields.join(' ')}`);
    }
  } finally { router.free(); }
}

test('PathPrefix is segment-wise; trailing slashes in the prefix are ignored', () => {
  check([route('r', [[prefix('/foo')], [prefix('/bar/')], [prefix('/')]])], [
    [req('/foo'), 'r#0'], [req('/foo/'), 'r#0'], [req('/foo/bar'), 'r#0'], [req('/foobar'), 'r#2'],
    [req('/bar'), 'r#1'], [req('/bar/'), 'r#1'], [req('/bar/x/y'), 'r#1'], [req('/barx'), 'r#2'],
    [req('/'), 'r#2'], [req('/x?foo=1'), 'r#2'], [req('/foo?x=/bar'), 'r#0'], [req('//foo'), 'r#2'],
  ]);
});

test('Exact matches the whole path (query aside), and beats any prefix', () => {
  check([route('r', [[prefix('/a/b/c')], [exact('/a')], [exact('/a/')]])], [
    [req('/a'), 'r#1'], [req('/a?x=1'), 'r#1'], [req('/a/'), 'r#2'], [req('/a/b/c/d'), 'r#0'], [req('/A'), null], [req('/a/b'), null],
  ]);
});

test('the longest PathPrefix wins regardless of rule order', () => {
  check([route('r', [[prefix('/')], [prefix('/v1')], [prefix('/v1/users')], [prefix('/v1/users/admin')]])], [
    [req('/v1/users/admin/7'), 'r#3'], [req('/v1/users/7'), 'r#2'], [req('/v1/x'), 'r#1'], [req('/v2'), 'r#0'],
  ]);
});

test('no matches means PathPrefix "/"; no rule matching is no selection', () => {
  check([route('r', [[], [exact('/x')]])], [[req('/anything'), 'r#0'], [req('/x'), 'r#1']]);
  check([route('r', [[exact('/only')]])], [[req('/other'), null], [req('/only/'), null]]);
});

test('RegularExpression paths rank after Exact and before PathPrefix; they match the whole path', () => {
  check([route('r', [[prefix('/items')], [regex('/items/[0-9]+')], [exact('/items/42')]])], [
    [req('/items/42'), 'r#2'], [req('/items/7'), 'r#1'], [req('/items/7/x'), 'r#0'], [req('/items/x7'), 'r#0'],
  ]);
});

test('method, then header count, then query parameter count break path ties', () => {
  check([route('r', [
    [prefix('/p', { headers: [hdr('a', '1'), hdr('b', '2')] })],
    [prefix('/p', { method: 'POST' })],
    [prefix('/p', { headers: [hdr('a', '1')], queryParams: [hdr('q', '1'), hdr('r', '2')] })],
    [prefix('/p', { headers: [hdr('a', '1')], queryParams: [hdr('q', '1')] })],
    [prefix('/p')],
  ])], [
    [req('/p', { a: '1', b: '2' }, 'POST'), 'r#1'],
    [req('/p', { a: '1', b: '2' }), 'r#0'],
    [req('/p?q=1&r=2', { a: '1' }), 'r#2'],
    [req('/p?q=1', { a: '1' }), 'r#3'],
    [req('/p?q=1', { a: '2' }), 'r#4'],
    [req('/p', {}, 'DELETE'), 'r#4'],
  ]);
});

test('ties across routes: oldest creationTimestamp, then namespace/name; within a route the first rule', () => {
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  check([
    route('zzz-old', [[prefix('/a')]], { created: t0 }),
    route('aaa-new', [[prefix('/a')]], { created: t0 + 1000 }),
  ], [[req('/a'), 'zzz-old#0']]);
  check([route('b', [[prefix('/a')]], { ns: 'x' }), route('a', [[prefix('/a')]], { ns: 'y' }), route('c', [[prefix('/a')]], { ns: 'x' })],
    [[req('/a/1'), 'b#0']]);
  check([route('r', [[prefix('/a')], [prefix('/a')], [exact('/a')], [exact('/a')]])], [[req('/a'), 'r#2'], [req('/a/b'), 'r#0']]);
});

test('matches in a rule are ORed, conditions within a match ANDed', () => {
  check([route('r', [
    [prefix('/x', { method: 'GET', headers: [hdr('env', 'canary')] }), exact('/y')],
    [],
  ])], [
    [req('/x', { env: 'canary' }), 'r#0'], [req('/x', { env: 'canary' }, 'PUT'), 'r#1'], [req('/x', { env: 'prod' }), 'r#1'],
    [req('/y', {}, 'PUT'), 'r#0'],
  ]);
});

// (request field names are lowercase by then: HTTP/2 requires it, and the HTTP/1.1 parser lowers them)
test('headers: names case-insensitive, values exact and case-sensitive, regex whole-value, repeats joined with ","', () => {
  check([route('r', [
    [prefix('/', { headers: [hdr('X-Version', 'v2')] })],
    [prefix('/', { headers: [hdr('x-user', 'admin-[0-9]+', 'RegularExpression')] })],
    [prefix('/', { headers: [hdr('x-list', 'a,b')] })],
    [],
  ])], [
    [req('/', { 'x-version': 'v2' }), 'r#0'], [req('/', { 'x-version': 'V2' }), 'r#3'],
    [req('/', { 'x-user': 'admin-12' }), 'r#1'], [req('/', { 'x-user': 'admin-12x' }), 'r#3'], [req('/', { 'x-user': 'xadmin-1' }), 'r#3'],
    [req('/', { 'x-list': ['a', 'b'] }), 'r#2'], [req('/', { 'x-list': 'a' }), 'r#3'],
  ]);
});

test('query parameters: exact names, the first value, percent-decoded, regex', () => {
  check([route('r', [
    [prefix('/', { queryParams: [hdr('animal', 'whale')] })],
    [prefix('/', { queryParams: [hdr('id', '[0-9]+', 'RegularExpression')] })],
    [prefix('/', { queryParams: [hdr('q', 'a b/c')] })],
    [],
  ])], [
    [req('/?animal=whale'), 'r#0'], [req('/?x=1&animal=whale&y'), 'r#0'], [req('/?animal=dolphin&animal=whale'), 'r#3'],
    [req('/?Animal=whale'), 'r#3'], [req('/?an%69mal=wh%61le'), 'r#0'], [req('/?id=123'), 'r#1'], [req('/?id=12a'), 'r#3'],
    [req('/?q=a%20b%2Fc'), 'r#2'], [req('/?q=a b/c'), 'r#2'], [req('/'), 'r#3'], [req('/?animal'), 'r#3'],
  ]);
});

test('GRPCRoute: service and method, Exact and RegularExpression, and their precedence', () => {
  const g = (name, rules, opts) => route(name, rules, { ...opts, kind: 'GRPCRoute' });
  check([g('g', [
    [grpc('helloworld.Greeter', 'SayHello')],
    [grpc('helloworld.Greeter')],
    [grpc(undefined, 'Check')],
    [grpc('grpc\\.health\\..*', undefined, 'RegularExpression')],
    [grpc('helloworld.Greeter', 'SayHello', 'Exact', [hdr('x-canary', 'yes')])],
    [grpc()],
  ])], [
    [req('/helloworld.Greeter/SayHello', {}, 'POST'), 'g#0'],
    [req('/helloworld.Greeter/SayHello', { 'x-canary': 'yes' }, 'POST'), 'g#4'],
    [req('/helloworld.Greeter/SayBye', {}, 'POST'), 'g#1'],
    [req('/helloworld.Greeter', {}, 'POST'), 'g#5'],
    [req('/helloworld.Greeter/a/b', {}, 'POST'), 'g#5'],
    [req('/other.Svc/Check', {}, 'POST'), 'g#2'],
    [req('/grpc.health.v1.Health/Watch', {}, 'POST'), 'g#3'],
    [req('/x.Y/Z', {}, 'POST'), 'g#5'],
  ]);
});

// ---- random route sets against the JavaScript implementation of the same rules ----------------

const seg = fc.constantFrom('a', 'b', 'api', 'v1', 'x');
const pathArb = fc.array(seg, { minLength: 0, maxLength: 3 }).map((s) => `/${s.join('/')}`);
const pathMatch = fc.oneof(
  pathArb.map((v) => ({ type: 'PathPrefix', value: v })),
  fc.tuple(pathArb, fc.boolean()).map(([v, slash]) => ({ type: 'PathPrefix', value: slash && v !== '/' ? `${v}/` : v })),
  pathArb.map((v) => ({ type: 'Exact', value: v })),
  fc.constantFrom('/a/[0-9]+', '/api/.*', '/(a|b)/v1', '/x').map((v) => ({ type: 'RegularExpression', value: v })),
);
const cond = fc.tuple(fc.constantFrom('h1', 'h2'), fc.constantFrom('1', '2'), fc.constantFrom('Exact', 'RegularExpression'))
  .map(([name, value, type]) => ({ type, name, value: type === 'Exact' ? value : `[${value}3]` }));
const matchArb = fc.record({
  path: pathMatch,
  method: fc.option(fc.constantFrom('GET', 'POST'), { nil: undefined }),
  headers: fc.uniqueArray(cond, { maxLength: 2, selector: (c) => c.name }),
  queryParams: fc.uniqueArray(cond, { maxLength: 2, selector: (c) => c.name }),
}).map((m) => (m.method === undefined ? { path: m.path, headers: m.headers, queryParams: m.queryParams } : m));
const routesArb = fc.array(fc.tuple(
  fc.array(fc.array(matchArb, { maxLength: 3 }), { minLength: 1, maxLength: 4 }),
  fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
), { minLength: 1, maxLength: 5 }).map((rs) => rs.map(([rules, created], i) => route(`r${i}`, rules, { created })));
const reqArb = fc.record({
  path: fc.tuple(pathArb, fc.constantFrom('', '/', '/3', '/9/9')).map(([p, s]) => (p === '/' ? s || '/' : p + s)),
  query: fc.constantFrom('', '?h1=1', '?h2=2&h1=3', '?h1=%31'),
  method: fc.constantFrom('GET', 'POST', 'PUT'),
  h1: fc.option(fc.constantFrom('1', '2', '3'), { nil: undefined }),
  h2: fc.option(fc.constantFrom('1', '2', '3'), { nil: undefined }),
});

test('property: random route sets select what the plain JavaScript implementation selects', () => {
  fc.assert(fc.property(routesArb, fc.array(reqArb, { minLength: 1, maxLength: 10 }), (routes, reqs) => {
    const { entries, refs } = orderMatches(routes);
    const router = new Router(routes);
    const oracle = new ReferenceRouter(entries);
    try {
      for (const r of reqs) {
        const headers = {};
        if (r.h1) headers.h1 = r.h1;
        if (r.h2) headers.h2 = r.h2;
        const fields = req(r.path + r.query, headers, r.method);
        const got = router.select(fields);
        const want = oracle.select(fields);
        const key = (ref) => `${ref.route.name}#${ref.ruleIndex}#${ref.matchIndex}`;
        if ((got === null ? null : key(got)) !== (want < 0 ? null : key(refs[want]))) return false;
      }
      return true;
    } finally { router.free(); }
  }), { numRuns: 800 });
});

test.run();

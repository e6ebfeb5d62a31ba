// Route selection cost per request with 10, 1,000 and 10,000 HTTPRoute rules on one parent: Skiff's
// core table (the wasm call and writing the request head into linear memory included) against a
// straightforward JavaScript implementation of the same rules (every match in precedence order,
// first hit wins) and against find-my-way (a radix-tree router) on the path-only subset.
import { createRequire } from 'node:module';
import { Router } from '../dist/host/route/router.js';
import { orderMatches } from '../dist/host/route/precedence.js';
import { ReferenceRouter } from '../test/helpers/route-reference.mjs';
import { rate } from './measure.mjs';

const require = createRequire(import.meta.url);
const findMyWay = require('find-my-way');

// A deterministic generator (no Math.random: the same routes and requests every run).
function lcg(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** n rules: a realistic spread of exact and prefix paths, some with header or method conditions, a few regexes. */
export function makeRoutes(n, withConditions) {
  const rnd = lcg(n);
  const rules = [];
  for (let i = 0; i < n; i++) {
    const team = `team${i % 50}`, api = `api${Math.floor(i / 50) % 40}`, res = `res${i}`;
    const r = rnd();
    let path;
    if (r < 0.45) path = { type: 'Exact', value: `/${team}/${api}/${res}` };
    else if (r < 0.97 || !withConditions) path = { type: 'PathPrefix', value: `/${team}/${api}/${res}` };
    else path = { type: 'RegularExpression', value: `/${team}/${api}/${res}/[0-9]+` };
    const m = { path, headers: [], queryParams: [] };
    if (withConditions && rnd() < 0.2) m.headers.push({ type: 'Exact', name: 'x-version', value: `v${i % 3}` });
    if (withConditions && rnd() < 0.1) m.method = 'GET';
    rules.push({ matches: [m], filters: [], backendRefs: [], requestTimeoutMs: 0, backendRequestTimeoutMs: 0 });
  }
  // one route per 10 rules, as teams split them up
  const routes = [];
  for (let i = 0; i < rules.length; i += 10) {
    routes.push({ kind: 'HTTPRoute', namespace: 'default', name: `route-${i / 10}`, parentRefs: [], rules: rules.slice(i, i + 10), source: 'bench', line: 0 });
  }
  return { routes, rules };
}

export function makeRequests(rules, count) {
  const rnd = lcg(7);
  const out = [];
  for (let i = 0; i < count; i++) {
    const rule = rules[Math.floor(rnd() * rules.length)];
    const m = rule.matches[0];
    let path = m.path.value;
    if (m.path.type === 'PathPrefix' && rnd() < 0.5) path += '/item/17';
    if (m.path.type === 'RegularExpression') path = path.replace('/[0-9]+', '/42');
    if (rnd() < 0.1) path = `/nowhere/${i}`; // misses
    out.push([':method', 'GET', ':scheme', 'http', ':authority', 'web.default.svc.cluster.local', ':path', path,
      'user-agent', 'bench/1.0', 'accept', '*/*', 'x-version', `v${i % 3}`]);
  }
  return out;
}

/** Median ns per request of fn over the requests (measure.mjs timing: warm-up, then rounds). */
function perRequestNs(fn, reqs) {
  return 1e9 / rate(() => { for (let i = 0; i < reqs.length; i++) fn(reqs[i]); return reqs.length; }, { roundMs: 400 });
}

export async function runRoutesBench() {
  console.log('\nRoute selection (ns per request, lower is better; HTTPRoute rules on one Service)');
  console.log(`  ${'rules'.padStart(6)}  ${'skiff core'.padStart(11)}  ${'plain JS'.padStart(11)}  ${'find-my-way*'.padStart(13)}  ${'JS/skiff'.padStart(9)}  ${'fmw/skiff*'.padStart(10)}`);
  for (const n of [10, 1000, 10000]) {
    const { routes, rules } = makeRoutes(n, true);
    const reqs = makeRequests(rules, 1000);
    const router = new Router(routes);
    const reference = new ReferenceRouter(orderMatches(routes).entries);
    // sanity: both pick the same rule for every request
    const { refs } = orderMatches(routes);
    for (const q of reqs) {
      const a = router.select(q), b = reference.select(q);
      const ka = a && `${a.route.name}#${a.ruleIndex}`, kb = b < 0 ? null : `${refs[b].route.name}#${refs[b].ruleIndex}`;
      if (ka !== kb) throw new Error(`routing bench: core and reference disagree on ${q[7]}: ${ka} vs ${kb}`);
    }
    const skiff = perRequestNs((q) => router.select(q), reqs);
    const js = perRequestNs((q) => reference.select(q), reqs);
    // find-my-way on the path-only subset (no headers, methods or regexes), with the same requests
    const pathOnly = makeRoutes(n, false);
    const fmw = findMyWay({ ignoreTrailingSlash: false });
    const seen = new Set();
    for (const r of pathOnly.rules) {
      const { type, value } = r.matches[0].path;
      const add = (p) => { if (!seen.has(p)) { seen.add(p); fmw.on('GET', p, () => r); } };
      add(value);
      if (type === 'PathPrefix') add(`${value}/*`);
    }
    const pathReqs = makeRequests(pathOnly.rules, 1000);
    const pathRouter = new Router(pathOnly.routes);
    const skiffPath = perRequestNs((q) => pathRouter.select(q), pathReqs);
    const fmwNs = perRequestNs((q) => fmw.find('GET', q[7]), pathReqs);
    console.log(`  ${String(n).padStart(6)}  ${skiff.toFixed(0).padStart(8)} ns  ${js.toFixed(0).padStart(8)} ns  ${fmwNs.toFixed(0).padStart(10)} ns  ${(js / skiff).toFixed(1).padStart(8)}×  ${(fmwNs / skiffPath).toFixed(1).padStart(9)}×`);
    router.free();
    pathRouter.free();
  }
  console.log('  * find-my-way: path-only rules (Exact and PathPrefix), compared with Skiff on the same path-only set');
}

if (import.meta.url === `file://${process.argv[1]}`) await runRoutesBench();

// Resilience with real sidecars and misbehaving backends the tests control: circuit breaking
// (failure accrual with Linkerd's annotations), latency-aware balancing (peak EWMA), an endpoint
// killed and restarted under load, every endpoint down (fail fast), and failover between Services
// as linkerd-failover configures it. Retries are off everywhere: what the client sees is what the
// balancer did.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { Pool } from 'undici';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, eventually } from '../helpers/mesh.mjs';
import { freePort } from '../helpers/ports.mjs';
import { runSkiff } from '../helpers/proxy-process.mjs';

/** An app whose behaviour the test sets: ok, fail (500), or slow (delay ms). Counts what it served. */
async function startApp(name) {
  const app = { name, mode: 'ok', delayMs: 0, served: 0 };
  app.server = http.createServer((req, res) => {
    app.served++;
    req.resume();
    const answer = () => {
      if (app.mode === 'fail') { res.writeHead(500, { 'x-served-by': name }); res.end('failing\n'); return; }
      res.writeHead(200, { 'x-served-by': name });
      res.end(`${name}\n`);
    };
    if (app.delayMs > 0) setTimeout(answer, app.delayMs);
    else answer();
  });
  await new Promise((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = app.server.address().port;
  return app;
}

/** A pod: an app behind its inbound sidecar, on a fixed inbound port (so it can come back). */
async function startPod(name, inboundPort) {
  const app = await startApp(name);
  const port = inboundPort ?? await freePort();
  const sidecar = await startProxy({ inbound: `127.0.0.1:${port}`, outbound: '127.0.0.1:0', admin: null, app: `127.0.0.1:${app.port}`, shutdownGraceMs: 0 });
  return {
    name, app, port, sidecar,
    /** Dies as a pod does: listeners and connections gone at once, the app with them. */
    async kill() {
      await sidecar.close();
      app.server.closeAllConnections();
      await new Promise((r) => app.server.close(r));
    },
  };
}

const ACCRUAL = {
  'balancer.linkerd.io/failure-accrual': 'consecutive',
  'balancer.linkerd.io/failure-accrual-consecutive-max-failures': '7',
  'balancer.linkerd.io/failure-accrual-consecutive-min-penalty': '1s',
  'balancer.linkerd.io/failure-accrual-consecutive-max-penalty': '1m',
  'balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio': '0.5',
};

function serviceYaml(name, namespace = 'default', annotations = ACCRUAL) {
  const ann = Object.entries(annotations).map(([k, v]) => `    ${k}: "${v}"`).join('\n');
  return `---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
${ann ? `  annotations:\n${ann}\n` : ''}spec:
  ports: [{ name: http, port: 80 }]
`;
}

function slicesYaml(service, pods, namespace = 'default') {
  return pods.map((p) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-${p.name}
  namespace: ${namespace}
  labels: { kubernetes.io/service-name: ${service} }
  annotations: { skiff.io/meshed: "true" }
addressType: IPv4
ports: [{ name: http, port: ${p.port} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
`).join('');
}

/** A client sidecar reading `yaml`; requests through it with undici. */
async function startClient(yaml) {
  const config = new ConfigDir();
  config.write('mesh.yaml', yaml);
  const proxy = await startProxy({ config: config.dir, configPollMs: 50, outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: '127.0.0.1:0', shutdownGraceMs: 0 });
  const pool = new Pool(`http://127.0.0.1:${proxy.outbound.port}`, { connections: 16 });
  return {
    proxy, config, pool,
    async get(host = 'web.default.svc.cluster.local', signal) {
      const r = await pool.request({ method: 'GET', path: '/', headers: { host }, signal });
      await r.body.text();
      return { status: r.statusCode, servedBy: r.headers['x-served-by'], error: r.headers['skiff-proxy-error'] };
    },
    async stats() {
      const r = await fetch(`http://127.0.0.1:${proxy.admin.port}/stats.json`);
      return r.json();
    },
    async metrics() {
      return (await fetch(`http://127.0.0.1:${proxy.admin.port}/metrics`)).text();
    },
    async close() { await pool.close(); await proxy.close(); config.remove(); },
  };
}

/** `n` requests, `concurrency` at a time (bounded in count and time): statuses and who served them. */
async function burst(client, n, { concurrency = 8, host, ms = 120_000 } = {}) {
  const out = { ok: 0, failed: 0, by: {}, statuses: {} };
  let sent = 0;
  const deadline = Date.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent < n && Date.now() < deadline) {
      sent++;
      try {
        const r = await client.get(host);
        out.statuses[r.status] = (out.statuses[r.status] ?? 0) + 1;
        if (r.status === 200) { out.ok++; out.by[r.servedBy] = (out.by[r.servedBy] ?? 0) + 1; } else out.failed++;
      } catch { out.failed++; }
    }
  }));
  return out;
}

/** Constant load at `rps` until stop() (bounded: 2 minutes): every request's outcome, in order. */
function steadyLoad(client, rps, host) {
  const results = [];
  let stopped = false;
  const inflight = new Set();
  const started = Date.now();
  const timer = setInterval(() => {
    if (stopped || Date.now() - started > 120_000) return;
    const p = client.get(host).then((r) => results.push(r), (err) => results.push({ status: 0, error: err.message }));
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  }, 1000 / rps);
  return {
    results,
    async stop() { stopped = true; clearInterval(timer); await Promise.all([...inflight]); },
  };
}

test('one of three endpoints fails every request: its breaker opens and it gets only probes; > 99.5% of 5,000 succeed', async () => {
  const pods = [await startPod('good-1'), await startPod('good-2'), await startPod('bad')];
  pods[2].app.mode = 'fail';
  const client = await startClient(serviceYaml('web') + slicesYaml('web', pods));
  try {
    const r = await burst(client, 5000);
    const rate = r.ok / 5000;
    assert.ok(rate > 0.995, `success rate ${(rate * 100).toFixed(2)}% (${JSON.stringify(r.statuses)})`);
    // the bad endpoint saw its 7 failures, then one probe per penalty (1 s, 2 s, 4 s, … with jitter)
    const bad = pods[2].app.served;
    console.log(`    breaker: ${r.ok}/5000 succeeded (${(rate * 100).toFixed(2)}%), the failing endpoint served ${bad}`);
    assert.ok(bad >= 7 && bad <= 7 + 8, `the failing endpoint served ${bad} requests`);
    const s = await client.stats();
    const ep = s.balancers[0].endpoints.find((e) => e.addr.endsWith(`:${pods[2].port}`));
    assert.ok(ep.state === 'open' || ep.state === 'half-open', `breaker ${ep.state}`);
    assert.ok(ep.transitions.open >= 1);
    const text = await client.metrics();
    assert.match(text, new RegExp(`skiff_endpoint_breaker_state\\{backend="web.default:80",target_addr="127.0.0.1:${pods[2].port}",state="(open|half-open)"\\} 1`));
    assert.match(text, /outbound_http_balancer_endpoints\{dst_namespace="default",dst_service="web",backend="web.default:80",endpoint_state="ready"\} 2/);
    // skiff stat --by endpoint shows it
    const st = await runSkiff(['stat', '--by', 'endpoint', `127.0.0.1:${client.proxy.admin.port}`]).done;
    assert.is(st.code, 0, st.stderr);
    assert.match(st.stdout, /^BACKEND\s+ENDPOINT\s+STATE\s+EWMA\s+IN_FLIGHT\s+REQUESTS\s+FAILURES\s+CONSECUTIVE$/m);
    assert.match(st.stdout, new RegExp(`web\\.default:80\\s+127\\.0\\.0\\.1:${pods[2].port}\\s+(open|half-open)\\s`));
    // it recovers: the probe after its penalty succeeds and the breaker closes
    pods[2].app.mode = 'ok';
    await eventually(async () => {
      await burst(client, 50, { concurrency: 2 });
      const e = (await client.stats()).balancers[0].endpoints.find((x) => x.addr.endsWith(`:${pods[2].port}`));
      return e.state === 'closed';
    }, 20_000);
    const e = (await client.stats()).balancers[0].endpoints.find((x) => x.addr.endsWith(`:${pods[2].port}`));
    assert.is(e.state, 'closed', 'the breaker closed after a successful probe');
  } finally {
    await client.close();
    for (const p of pods) await p.kill();
  }
});

test('latency-aware: one endpoint at 100 ms and two at 1 ms — at least 90% go to the fast ones', async () => {
  const pods = [await startPod('fast-1'), await startPod('fast-2'), await startPod('slow')];
  pods[0].app.delayMs = 1;
  pods[1].app.delayMs = 1;
  pods[2].app.delayMs = 100;
  const client = await startClient(serviceYaml('web', 'default', {}) + slicesYaml('web', pods));
  try {
    const r = await burst(client, 1500, { concurrency: 8 });
    assert.is(r.failed, 0);
    const fast = (r.by['fast-1'] ?? 0) + (r.by['fast-2'] ?? 0);
    console.log(`    latency-aware: ${JSON.stringify(r.by)} (${((fast / r.ok) * 100).toFixed(1)}% to the fast ones)`);
    assert.ok(fast / r.ok >= 0.9, `fast endpoints served ${fast} of ${r.ok} (${JSON.stringify(r.by)})`);
    assert.ok((r.by.slow ?? 0) > 0, 'the slow one is still tried');
    const s = await client.stats();
    const slow = s.balancers[0].endpoints.find((e) => e.addr.endsWith(`:${pods[2].port}`));
    const fastEp = s.balancers[0].endpoints.find((e) => e.addr.endsWith(`:${pods[0].port}`));
    assert.ok(slow.ewmaMs > fastEp.ewmaMs, `EWMA slow ${slow.ewmaMs} ms vs fast ${fastEp.ewmaMs} ms`);
  } finally {
    await client.close();
    for (const p of pods) await p.kill();
  }
});

test('an endpoint killed under load: only requests in flight on it fail; restarted, it rejoins after its penalty', async () => {
  const pods = [await startPod('a'), await startPod('b'), await startPod('c')];
  for (const p of pods) p.app.delayMs = 20; // requests are in flight long enough to be cut
  const client = await startClient(serviceYaml('web', 'default', { ...ACCRUAL, 'balancer.linkerd.io/failure-accrual-consecutive-max-penalty': '2s' }) + slicesYaml('web', pods));
  const CONC = 8;
  try {
    const load = burst(client, 4000, { concurrency: CONC });
    await eventually(() => pods[2].app.served > 100);
    await pods[2].kill();
    const r = await load;
    console.log(`    killed under load: ${r.failed} of 4000 failed (${JSON.stringify(r.statuses)})`);
    // at most what could be in flight on it when it died (the 8 concurrent requests)
    assert.ok(r.failed <= CONC, `${r.failed} failed (${JSON.stringify(r.statuses)})`);
    assert.ok(r.ok >= 4000 - CONC);
    // back on the same address: after its penalty a probe succeeds and it takes traffic again
    const again = await startPod('c-again', pods[2].port);
    again.app.delayMs = 20;
    pods.push(again);
    const served = await eventually(async () => { await burst(client, 200, { concurrency: CONC }); return again.app.served > 20; }, 20_000);
    assert.ok(served, `the restarted endpoint served ${again.app.served}`);
  } finally {
    await client.close();
    for (const p of pods.slice(0, 2).concat(pods.slice(3))) await p.kill();
  }
});

test('every endpoint down: 503 with skiff-proxy-error within the fail-fast timeout, not at the client\'s deadline', async () => {
  const pods = [await startPod('x'), await startPod('y')];
  const client = await startClient(serviceYaml('web') + slicesYaml('web', pods));
  try {
    assert.is((await client.get()).status, 200);
    for (const p of pods) await p.kill();
    // the first requests meet the refused connections (502, the cause named); then the endpoints are
    // failing and requests wait at most the fail-fast timeout for one: 503 — the client, which gives
    // up after 30 s, hears well before
    const first = await Promise.all(Array.from({ length: 20 }, () => client.get(undefined, AbortSignal.timeout(30_000))));
    for (const a of first) {
      assert.ok(a.status === 502 || a.status === 503, `status ${a.status}`);
      assert.match(a.error, /no available endpoints|connect to 127\.0\.0\.1/);
    }
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.get(undefined, AbortSignal.timeout(30_000))));
    const failFast = answers.filter((a) => a.status === 503);
    console.log(`    all down: first 20 → ${first.map((a) => a.status).join(',')}; next 20 → ${answers.map((a) => a.status).join(',')}`);
    assert.ok(failFast.length >= 15, `${failFast.length} of 20 failed fast (${answers.map((a) => a.status)})`);
    for (const a of failFast) assert.match(a.error, /has no available endpoints: all 2 failing/);
    const s = await client.stats();
    assert.ok(s.balancers[0].failFast > 0, 'counted as fail-fast');
    assert.match(await client.metrics(), /skiff_balancer_fail_fast_total\{dst_namespace="default",dst_service="web",backend="web.default:80"\} [1-9]/);
    // the balancer recovers on its own: pods back, requests succeed
    const back = [await startPod('x2', pods[0].port), await startPod('y2', pods[1].port)];
    const ok = await eventually(async () => (await client.get()).status === 200, 20_000);
    assert.ok(ok, 'recovered');
    for (const p of back) await p.kill();
  } finally {
    await client.close();
  }
});

test('failover (linkerd-failover\'s HTTPRoute): the primary\'s pods die under 200 req/s; traffic continues on the secondary and returns', async () => {
  const primary = [await startPod('primary-1'), await startPod('primary-2')];
  const secondary = [await startPod('dr-1'), await startPod('dr-2')];
  const yaml = serviceYaml('web') + slicesYaml('web', primary) + serviceYaml('web', 'dr') + slicesYaml('web', secondary, 'dr') + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web-failover
  namespace: default
  labels: { failover.linkerd.io/controlled-by: linkerd-failover }
  annotations: { failover.linkerd.io/primary-service: web }
spec:
  parentRefs: [{ group: "", kind: Service, name: web, port: 80 }]
  rules:
    - backendRefs:
        - { name: web, port: 80, weight: 1 }
        - { name: web, namespace: dr, port: 80, weight: 0 }
`;
  const client = await startClient(yaml);
  const load = steadyLoad(client, 200);
  const restarted = [];
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const before = load.results.length;
    assert.ok(load.results.slice(0, before).every((r) => r.servedBy?.startsWith('primary')), 'the primary serves while healthy');
    for (const p of primary) await p.kill();
    await new Promise((r) => setTimeout(r, 2000));
    const during = load.results.slice(before);
    const failed = during.filter((r) => r.status !== 200);
    const onDr = during.filter((r) => r.servedBy?.startsWith('dr-')).length;
    assert.ok(onDr > 200, `${onDr} served by the secondary`);
    // bounded: what was in flight on the dying pods (at 200 req/s and ~1 ms each, a handful)
    assert.ok(failed.length <= 10, `${failed.length} failed while failing over: ${JSON.stringify(failed.slice(0, 3))}`);
    // the primary comes back on the same addresses: traffic returns to it
    for (const p of primary) restarted.push(await startPod(`${p.name}-back`, p.port));
    const mark = load.results.length;
    const back = await eventually(() => load.results.slice(mark).filter((r) => r.servedBy?.startsWith('primary')).length > 100, 20_000);
    assert.ok(back, 'traffic returned to the primary');
  } finally {
    await load.stop();
    await client.close();
    for (const p of [...secondary, ...restarted]) await p.kill();
  }
  const failedTotal = load.results.filter((r) => r.status !== 200).length;
  console.log(`    failover: ${load.results.length} requests at 200/s, ${failedTotal} failed`);
});

test.run();

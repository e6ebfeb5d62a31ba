// The cost of inbound authorization on the hot path: one inbound hop (h2load → skiff → nghttpd)
// with no policy configured, and with 100 Servers, 100 AuthorizationPolicies (and their
// authentications) and 100 inbound HTTPRoutes in its config — one of each applying to its port, so
// every request is matched to a route and authorized — run interleaved on fresh processes.
// Reported: requests/s, CPU-s per 100k requests, peak RSS, and the CPU ratio (aim: within 5%).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, peakRss, ticks, startPinned, h2loadRun } from './procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const skiff = join(here, '../bin/skiff');
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const CONNS = 4, STREAMS = 16;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** 100 of each policy resource; index 0 is the one that applies to the benched Pod's port. */
export function policyYaml(n = 100) {
  let y = `apiVersion: v1
kind: Pod
metadata: {name: app, namespace: default, labels: {app: app-0}}
spec:
  containers: [{name: app, image: app, ports: [{name: http, containerPort: 19051}]}]
`;
  for (let i = 0; i < n; i++) {
    y += `---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: srv-${i}, namespace: default}
spec:
  podSelector: {matchLabels: {app: app-${i}}}
  port: ${i === 0 ? 'http' : 20000 + i}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: net-${i}, namespace: default}
spec:
  networks: [{cidr: 127.0.0.0/8, except: [127.9.${i}.0/24]}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: mtls-${i}, namespace: default}
spec:
  identities: ["client-${i}.default.serviceaccount.identity.linkerd.cluster.local"]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: authz-${i}, namespace: default}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: srv-${i}}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: ${i % 2 ? 'MeshTLSAuthentication' : 'NetworkAuthentication'}, name: ${i % 2 ? 'mtls' : 'net'}-${i}}]
---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: route-${i}, namespace: default}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: srv-${i % 10}}]
  rules: [{matches: [{path: {type: PathPrefix, value: ${i === 0 ? '/' : `/area-${i}`}}}]}]
`;
  }
  return y;
}

export async function runPolicyBench() {
  if (spawnSync('sh', ['-c', 'command -v h2load && command -v nghttpd && command -v taskset']).status !== 0) {
    console.log('\npolicy bench skipped: needs nghttp2-client, nghttp2-server and taskset');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'skiff-policy-bench-'));
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'small'), 'x'.repeat(100));
  const cfg = join(dir, 'config');
  mkdirSync(cfg);
  writeFileSync(join(cfg, 'policy.yaml'), policyYaml());
  const procs = [];
  const start = (cpu, cmd, args) => startPinned(procs, cpu, cmd, args);
  const modes = [
    { name: 'no policy', args: [], rows: [] },
    { name: '100 of each', args: ['--config', cfg, '--workload', 'default/app'], rows: [] },
  ];
  try {
    start(0, 'nghttpd', ['--no-tls', '-a', '127.0.0.1', '-d', www, '-n', '1', '19051']);
    for (let rep = 0; rep < REPS; rep++) {
      for (const m of modes) {
        const proxy = start(1, skiff, ['proxy', ...m.args, '--inbound', '127.0.0.1:19052', '--outbound', '127.0.0.1:19053', '--admin', '127.0.0.1:19054', '--app', '127.0.0.1:19051']);
        await sleep(1500);
        const t0 = ticks(proxy.pid);
        const out = await h2loadRun(DURATION, ['-c', String(CONNS), '-m', String(STREAMS), 'http://127.0.0.1:19052/small']);
        const t1 = ticks(proxy.pid);
        const rss = peakRss(proxy.pid);
        try { process.kill(-proxy.pid, 'SIGTERM'); } catch {}
        await new Promise((r) => (proxy.exitCode !== null ? r() : proxy.once('exit', r)));
        const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
        const m2 = /(\d+) succeeded, (\d+) failed/.exec(out);
        m.rows.push({ rps, ok: Number(m2?.[1] ?? NaN), failed: Number(m2?.[2] ?? NaN), rss, cpu: ((t1 - t0) / 100) / (rps * (DURATION + 1)) * 100000 });
      }
    }
    console.log(`\nInbound authorization on the hot path (one inbound hop, /small, ${CONNS} connections × ${STREAMS} streams, ${DURATION} s × ${REPS} reps interleaved; medians)`);
    console.log(`  ${'config'.padEnd(14)} ${'req/s'.padStart(10)} ${'cpu-s/100k'.padStart(11)} ${'rss-MB'.padStart(8)} ${'failed'.padStart(7)}`);
    for (const m of modes) {
      m.rps = median(m.rows.map((r) => r.rps));
      m.cpu = median(m.rows.map((r) => r.cpu));
      m.rss = median(m.rows.map((r) => r.rss));
      const failed = m.rows.reduce((a, r) => a + r.failed, 0);
      console.log(`  ${m.name.padEnd(14)} ${m.rps.toFixed(0).padStart(10)} ${m.cpu.toFixed(3).padStart(11)} ${m.rss.toFixed(1).padStart(8)} ${String(failed).padStart(7)}`);
    }
    const [none, many] = modes;
    console.log(`  ratio: CPU per request with 100 Servers/policies/routes vs none ${(many.cpu / none.cpu).toFixed(3)}× (aim ≤ 1.05×); throughput ${(many.rps / none.rps).toFixed(3)}×`);
  } finally {
    for (const p of procs) { try { process.kill(-p.pid, 'SIGTERM'); } catch {} }
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

// The control plane at scale: a simulated API server and simulated proxies in this process, and a
// real `skiff control --kubernetes` process between them (so its CPU and memory are its own).
// The cluster: 5,000 Services with 10 endpoints each (50,000 endpoints, 50,000 Pods); 1,000 proxy
// streams, each subscribed to 5 Services every proxy calls and 5 of its own. Measured: start-up
// (listing the cluster), every stream's initial state, then endpoint changes one at a time — to a
// Service every proxy calls (1,000 receivers) and to one a few call — with the time until each
// subscribed proxy has the change (p50/p99/max), and the control plane's CPU per change and RSS.
// BENCH_CP_SERVICES, BENCH_CP_PROXIES, BENCH_CP_UPDATES scale it.
import http2 from 'node:http2';
import https from 'node:https';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { FakeApiServer } from '../test/helpers/fake-apiserver.mjs';
import { initTrust } from '../dist/host/identity/trust.js';
import { createCsr, exportPrivateKeyPem, generateKeyPair } from '../dist/host/identity/x509.js';
import { freePort, waitForPort } from '../test/helpers/ports.mjs';
import { ticks, peakRss } from './procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const skiff = join(here, '../bin/skiff');
const SERVICES = Number(process.env.BENCH_CP_SERVICES ?? 5000);
const ENDPOINTS = 10;
const PROXIES = Number(process.env.BENCH_CP_PROXIES ?? 1000);
const UPDATES = Number(process.env.BENCH_CP_UPDATES ?? 40);
const POPULAR = 5, OWN = 5;
const NS = 'bench';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rss(pid) {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024; } catch { return NaN; }
}
function pct(sorted, p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN; }

const sliceOf = (i, gen = 0) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name: `svc-${i}-abcde`, namespace: NS, labels: { 'kubernetes.io/service-name': `svc-${i}` }, annotations: { 'skiff.io/meshed': 'true' } },
  addressType: 'IPv4', ports: [{ name: 'http', port: 4143, protocol: 'TCP' }],
  endpoints: Array.from({ length: ENDPOINTS }, (_, j) => ({
    addresses: [`10.${(i >> 8) & 255}.${i & 255}.${j + 1}`],
    conditions: { ready: !(j === 0 && gen % 2 === 1) },
    targetRef: { kind: 'Pod', namespace: NS, name: `svc-${i}-${j}` },
  })),
});

export async function runControlBench() {
  console.log(`\n## Control plane at scale — ${SERVICES} Services, ${SERVICES * ENDPOINTS} endpoints, ${PROXIES} proxy streams (skiff control process; API and proxies simulated)\n`);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-cp-bench-'));
  await initTrust(dir);
  const anchors = readFileSync(join(dir, 'trust-anchors.pem'), 'utf8');
  const api = new FakeApiServer();
  const apiPort = await api.listen();
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  for (let i = 0; i < SERVICES; i++) {
    api.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: NS }, spec: { selector: { app: `svc-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    for (let j = 0; j < ENDPOINTS; j++) {
      api.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `svc-${i}-${j}`, namespace: NS, labels: { app: `svc-${i}` } }, spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] } });
    }
    api.apply(sliceOf(i));
  }
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{ name: b, cluster: { server: "http://127.0.0.1:${apiPort}", insecure-skip-tls-verify: true } }]
users: [{ name: b, user: { token: t } }]
contexts: [{ name: b, context: { cluster: b, user: b } }]
current-context: b
`);
  const port = await freePort();
  const t0 = performance.now();
  // BENCH_CP_PROFILE=DIR: the control plane writes a CPU profile there
  const prof = process.env.BENCH_CP_PROFILE;
  const cmd = prof ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${prof}`, join(here, '../dist/skiff.js')] : [skiff];
  const child = spawn(cmd[0], [...cmd.slice(1), 'control', '--kubernetes', '--kubeconfig', kubeconfig, '--identity', dir, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', '--route-status', 'off', '--admin', 'off'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const sessions = [];
  try {
    await waitForPort(port, 2400);
    const startS = (performance.now() - t0) / 1000;
    const rssListed = rss(child.pid);

    // one workload certificate (every simulated proxy runs as bench/default)
    const keys = await generateKeyPair();
    const csr = await createCsr(keys, [`spiffe://cluster.local/ns/${NS}/sa/default`], []);
    const chain = await new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/certify', ca: anchors, servername: 'identity.skiff.cluster.local' }, (res) => {
        let t = '';
        res.on('data', (c) => { t += c; });
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(t).chain) : reject(new Error(t))));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ token: api.addToken(NS, 'default'), csr }));
    });
    const key = await exportPrivateKeyPem(keys.privateKey);

    // the simulated proxies: who subscribes to what, and when each change reached each
    const subscribers = new Map(); // service index → proxy indexes
    const arrivals = new Map(); // "slice@rv" → [ms]
    let initial = 0;
    const tStreams = performance.now();
    for (let p = 0; p < PROXIES; p++) {
      const subs = new Set(Array.from({ length: POPULAR }, (_, i) => i));
      while (subs.size < POPULAR + OWN) subs.add(POPULAR + Math.floor(Math.random() * (SERVICES - POPULAR)));
      for (const s of subs) { let l = subscribers.get(s); if (!l) subscribers.set(s, l = []); l.push(p); }
      const session = http2.connect(`https://127.0.0.1:${port}`, { ca: anchors, key, cert: chain, servername: 'identity.skiff.cluster.local', settings: { initialWindowSize: 1 << 20 } });
      session.on('error', () => {});
      sessions.push(session);
      const stream = session.request({ ':method': 'POST', ':path': '/v1/config', 'skiff-workload': `${NS}/svc-${p % SERVICES}-${Math.floor(p / SERVICES) % ENDPOINTS}` });
      stream.write(`${JSON.stringify({ subscribe: [...subs].map((s) => `${NS}/svc-${s}`) })}\n`);
      let buf = '';
      let first = true;
      stream.setEncoding('utf8');
      stream.on('data', (c) => {
        buf += c;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const now = performance.now();
          const msg = JSON.parse(line);
          if (first) { first = false; initial++; continue; }
          for (const o of msg.upsert) {
            if (o.kind !== 'EndpointSlice') continue;
            const k = `${o.metadata.name}@${o.metadata.resourceVersion}`;
            let l = arrivals.get(k);
            if (!l) arrivals.set(k, l = []);
            l.push(now);
          }
        }
      });
      stream.on('error', () => {});
      if (p % 50 === 49) await sleep(1); // let handshakes interleave
    }
    for (let i = 0; i < 6000 && initial < PROXIES; i++) await sleep(10);
    const streamsS = (performance.now() - tStreams) / 1000;
    if (initial < PROXIES) throw new Error(`only ${initial} of ${PROXIES} streams got their initial state`);
    const rssStreams = rss(child.pid);
    await sleep(500);

    // endpoint changes, one at a time: even ones to a Service every proxy calls, odd ones to one a few call
    const lat = { popular: [], few: [] };
    const cpu = { popular: 0, few: 0 };
    let missed = 0;
    const gens = new Map();
    for (let u = 0; u < UPDATES; u++) {
      const popular = u % 2 === 0;
      let svc;
      if (popular) svc = u / 2 % POPULAR;
      else do { svc = POPULAR + Math.floor(Math.random() * (SERVICES - POPULAR)); } while (!subscribers.has(svc));
      const gen = (gens.get(svc) ?? 0) + 1;
      gens.set(svc, gen);
      const want = subscribers.get(svc).length;
      const c0 = ticks(child.pid);
      const start = performance.now();
      api.apply(sliceOf(svc, gen));
      const k = `svc-${svc}-abcde@${api.rv}`;
      for (let i = 0; i < 500 && (arrivals.get(k)?.length ?? 0) < want; i++) await sleep(10);
      const got = arrivals.get(k) ?? [];
      missed += want - got.length;
      for (const t of got) lat[popular ? 'popular' : 'few'].push(t - start);
      await sleep(100); // the control plane's work for this change is done (its CPU counted with it)
      cpu[popular ? 'popular' : 'few'] += (ticks(child.pid) - c0) * 10;
    }
    const row = (label, l, n) => {
      l.sort((a, b) => a - b);
      return `| ${label} | ${l.length} | ${pct(l, 0.5).toFixed(1)} | ${pct(l, 0.99).toFixed(1)} | ${(l.at(-1) ?? NaN).toFixed(1)} | ${(cpu[n] / (UPDATES / 2)).toFixed(1)} |`;
    };
    console.log('| start-up | figure |');
    console.log('|---|---|');
    console.log(`| list the cluster and listen (s) | ${startS.toFixed(2)} |`);
    console.log(`| ${PROXIES} streams connected, each with its initial state (s) | ${streamsS.toFixed(2)} |`);
    console.log(`| RSS after listing / with ${PROXIES} streams / peak (MiB) | ${rssListed.toFixed(0)} / ${rssStreams.toFixed(0)} / ${peakRss(child.pid).toFixed(0)} |`);
    console.log('');
    console.log('| endpoint change to | deliveries | p50 ms | p99 ms | max ms | control-plane CPU ms per change |');
    console.log('|---|---|---|---|---|---|');
    console.log(row(`a Service all ${PROXIES} proxies call`, lat.popular, 'popular'));
    console.log(row('a Service a few proxies call', lat.few, 'few'));
    console.log(`\naim: every subscribed proxy within 1 s (p99 above); deliveries missing after 5 s: ${missed}; RSS now ${rss(child.pid).toFixed(0)} MiB`);
  } finally {
    for (const s of sessions) s.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runControlBench();

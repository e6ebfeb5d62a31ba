// End-to-end proxy figures, measured beside peers in the same run on this machine:
//  1. ../shared/bench/run-peers.sh with a single Skiff inbound hop as its candidate
//     (h2load → proxy → nghttpd, HTTP/2 kept HTTP/2), next to direct, nghttpx, HAProxy and a
//     naive node:http2 proxy;
//  2. the Skiff pair as a mesh runs it: h2load → outbound sidecar → (HTTP/2) → inbound sidecar →
//     nghttpd, measured the same way (same backend, load and CPU pinning).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendYaml, median, peakRss, ticks } from './procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const shared = join(here, '../../shared/bench');
// the installed command: the bundle run with the sidecar's V8 settings (bin/skiff)
const skiff = join(here, '../bin/skiff');
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const CONNS = 4, STREAMS = 16, PATHNAME = process.env.BENCH_PATH ?? '/small';

const has = (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;

function runHarness() {
  const out = execFileSync('bash', [join(shared, 'run-peers.sh')], {
    env: { ...process.env, DURATION: String(DURATION), REPS: String(REPS), CONNS: String(CONNS), STREAMS: String(STREAMS), PATHNAME,
      PROXY_CMD: `${skiff} proxy --inbound 127.0.0.1:19005 --outbound 127.0.0.1:19007 --admin 127.0.0.1:19006 --app 127.0.0.1:19001`, PROXY_PORT: '19005' },
    encoding: 'utf8', timeout: (DURATION + 4) * 5 * REPS * 1000 + 60_000,
  });
  const rows = {};
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^\d+$/.test(f[1])) continue;
    const [name, , rps, lat, cpu, rss] = f;
    (rows[name] ??= []).push({ rps: Number(rps), lat, cpu: cpu === '-' ? NaN : Number(cpu), rss: rss === '-' ? NaN : Number(rss) });
  }
  return { raw: out, rows };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runPair() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  writeFileSync(join(dir, 'backend.yaml'), backendYaml(19021));
  const procs = [];
  const start = (cpu, cmd, args) => {
    const p = spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: 'ignore', detached: true });
    procs.push(p);
    return p;
  };
  try {
    start(0, 'nghttpd', ['--no-tls', '-a', '127.0.0.1', '-d', join(shared, 'www'), '-n', '1', '19001']);
    const inbound = start(1, skiff, ['proxy', '--inbound', '127.0.0.1:19021', '--outbound', '127.0.0.1:19022', '--admin', '127.0.0.1:19023', '--app', '127.0.0.1:19001']);
    const outbound = start(1, skiff, ['proxy', '--config', dir, '--outbound', '127.0.0.1:19020', '--inbound', '127.0.0.1:19024', '--admin', '127.0.0.1:19025']);
    await sleep(2000);
    const load = (port, extra = []) => {
      const out = execFileSync('taskset', ['-c', '0', 'h2load', '-c', String(CONNS), '-m', String(STREAMS), '-D', String(DURATION), '--warm-up-time=1',
        ...extra, `http://127.0.0.1:${port}${PATHNAME}`], { encoding: 'utf8', timeout: (DURATION + 30) * 1000 });
      const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
      const lat = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? '?';
      const ok = /(\d+) succeeded, (\d+) failed/.exec(out);
      return { rps, lat, failed: ok ? Number(ok[2]) : NaN };
    };
    const rows = { direct: [], 'skiff-pair': [] };
    for (let rep = 0; rep < REPS; rep++) {
      rows.direct.push(load(19001));
      const t0 = ticks(inbound.pid) + ticks(outbound.pid);
      const r = load(19020, ['-H', ':authority: backend.default.svc.cluster.local']);
      const t1 = ticks(inbound.pid) + ticks(outbound.pid);
      const hz = 100;
      rows['skiff-pair'].push({ ...r, cpu: ((t1 - t0) / hz) / (r.rps * DURATION) * 100000, rss: peakRss(inbound.pid) + peakRss(outbound.pid) });
    }
    return rows;
  } finally {
    for (const p of procs) { try { process.kill(-p.pid, 'SIGTERM'); } catch {} }
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ../shared/bench/run-peers-h1.sh (wrk → proxy → nginx) with a Skiff inbound hop as its candidate. */
function runHarnessH1() {
  // the HTTP/1.1 Node peer needs `npm install` in the harness folder: use a private copy
  const copy = mkdtempSync(join(tmpdir(), 'skiff-h1-bench-'));
  try {
    execFileSync('cp', ['-r', `${shared}/.`, copy]);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent'], { cwd: copy, stdio: 'ignore', timeout: 120_000 });
    const out = execFileSync('bash', [join(copy, 'run-peers-h1.sh')], {
      env: { ...process.env, DURATION: String(DURATION), REPS: String(REPS), CONNS: '16', PATHNAME,
        PROXY_CMD: `${skiff} proxy --inbound 127.0.0.1:19015 --outbound 127.0.0.1:19017 --admin 127.0.0.1:19016 --app 127.0.0.1:19011`, PROXY_PORT: '19015' },
      encoding: 'utf8', timeout: (DURATION + 4) * 4 * REPS * 1000 + 60_000,
    });
    const rows = {};
    for (const line of out.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 7 || !/^\d+$/.test(f[1])) continue;
      const [name, , rps, p50, p99, cpu, rss] = f;
      (rows[name] ??= []).push({ rps: Number(rps), lat: p50, p99, cpu: cpu === '-' ? NaN : Number(cpu), rss: rss === '-' ? NaN : Number(rss) });
    }
    return rows;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export async function runE2eBench() {
  const need = ['nghttpd', 'nghttpx', 'haproxy', 'h2load', 'taskset'];
  const missing = need.filter((c) => !has(c));
  if (missing.length || !existsSync(join(shared, 'run-peers.sh'))) {
    console.log(`\nend-to-end bench skipped: missing ${missing.join(', ') || '../shared/bench'}; install with:\n  apt-get install -y nghttp2-client nghttp2-server nghttp2-proxy haproxy`);
    return;
  }
  console.log(`\nEnd to end (${PATHNAME}, ${CONNS} connections × ${STREAMS} streams, ${DURATION} s × ${REPS} reps, proxies pinned to CPU 1; medians)`);
  const { rows } = runHarness();
  const pair = await runPair();
  const table = [];
  const add = (label, list) => list && list.length && table.push([label, median(list.map((r) => r.rps)), median(list.map((r) => r.cpu ?? NaN)), median(list.map((r) => r.rss ?? NaN)), list[list.length >> 1].lat]);
  add('direct', rows.direct);
  add('nghttpx', rows.nghttpx);
  add('haproxy', rows.haproxy);
  add('node-naive', rows['node-naive']);
  add('skiff (1 hop)', rows.candidate);
  add('direct (pair run)', pair.direct);
  add('skiff pair', pair['skiff-pair']);
  console.log(`  ${'proxy'.padEnd(18)} ${'req/s'.padStart(10)} ${'latency'.padStart(9)} ${'cpu-s/100k'.padStart(11)} ${'rss-MB'.padStart(8)}`);
  for (const [label, rps, cpu, rss, lat] of table) {
    console.log(`  ${label.padEnd(18)} ${rps.toFixed(0).padStart(10)} ${String(lat).padStart(9)} ${(Number.isNaN(cpu) ? '-' : cpu.toFixed(3)).padStart(11)} ${(Number.isNaN(rss) ? '-' : rss.toFixed(1)).padStart(8)}`);
  }
  const get = (l) => table.find((r) => r[0] === l);
  const sk = get('skiff (1 hop)'), ng = get('nghttpx'), nv = get('node-naive');
  if (sk && ng && nv) {
    console.log(`  ratios (CPU per request): skiff/nghttpx ${(sk[2] / ng[2]).toFixed(2)}×, skiff/naive node:http2 ${(sk[2] / nv[2]).toFixed(2)}× (aim ≤ 0.33×; goal ≤ 1.5× nghttpx)`);
    console.log(`  throughput: skiff ${(sk[1] / ng[1]).toFixed(2)}× nghttpx, ${(sk[1] / nv[1]).toFixed(1)}× naive; pair ${(get('skiff pair')[1] / get('direct (pair run)')[1]).toFixed(2)}× direct`);
  }
  const failed = pair['skiff-pair'].reduce((n, r) => n + r.failed, 0);
  if (failed) console.log(`  warning: ${failed} requests failed through the pair`);

  if (!has('wrk') || !has('nginx')) {
    console.log('\nHTTP/1.1 harness skipped: install with  apt-get install -y wrk nginx-light');
    return;
  }
  console.log(`\nHTTP/1.1 (${PATHNAME}, wrk 16 connections, ${DURATION} s × ${REPS} reps, nginx backend; medians; latency p50)`);
  const h1 = runHarnessH1();
  const t1 = [];
  for (const [label, key] of [['direct', 'direct'], ['haproxy', 'haproxy'], ['node-http-proxy', 'node-http-proxy'], ['skiff (1 hop)', 'candidate']]) {
    const list = h1[key];
    if (!list) continue;
    t1.push([label, median(list.map((r) => r.rps)), median(list.map((r) => r.cpu ?? NaN)), median(list.map((r) => r.rss ?? NaN)), list[list.length >> 1].lat]);
  }
  console.log(`  ${'proxy'.padEnd(18)} ${'req/s'.padStart(10)} ${'p50'.padStart(9)} ${'cpu-s/100k'.padStart(11)} ${'rss-MB'.padStart(8)}`);
  for (const [label, rps, cpu, rss, lat] of t1) {
    console.log(`  ${label.padEnd(18)} ${rps.toFixed(0).padStart(10)} ${String(lat).padStart(9)} ${(Number.isNaN(cpu) ? '-' : cpu.toFixed(3)).padStart(11)} ${(Number.isNaN(rss) ? '-' : rss.toFixed(1)).padStart(8)}`);
  }
  const s1 = t1.find((r) => r[0] === 'skiff (1 hop)'), hp = t1.find((r) => r[0] === 'haproxy'), np = t1.find((r) => r[0] === 'node-http-proxy');
  if (s1 && hp && np) console.log(`  ratios (CPU per request): skiff/haproxy ${(s1[2] / hp[2]).toFixed(2)}×, skiff/node-http-proxy ${(s1[2] / np[2]).toFixed(2)}×`);
}

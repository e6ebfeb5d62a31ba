// The cost of golden metrics on the hot path: the Skiff pair (h2load → outbound → inbound →
// nghttpd, HTTP/2 between sidecars) with --metrics off, on, and on while /metrics is scraped every
// second (ten times Prometheus' usual rate) — run interleaved, so machine noise hits all three alike.
// Reported: requests/s, CPU-s per 100k requests of both proxies, their peak RSS, and the ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { backendYaml, median, peakRss, ticks, startPinned, h2loadRun } from './procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const skiff = join(here, '../bin/skiff');
const www = join(here, '../../shared/bench/www');
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const CONNS = 4, STREAMS = 16, PATHNAME = process.env.BENCH_PATH ?? '/small';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function scrape(port) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => resolve(n));
    }).on('error', () => resolve(0));
  });
}

export async function runMetricsBench() {
  if (spawnSync('sh', ['-c', 'command -v h2load && command -v nghttpd && command -v taskset']).status !== 0) {
    console.log('\nmetrics bench skipped: needs nghttp2-client, nghttp2-server and taskset');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'skiff-metrics-bench-'));
  const procs = [];
  const start = (cpu, cmd, args) => startPinned(procs, cpu, cmd, args);
  // a fresh pair for every measurement, modes interleaved: no process carries another run's heap
  // or JIT state, and no idle pair shares the pinned CPU with the measured one
  const modes = [
    { name: 'metrics off', flag: 'off', rows: [] },
    { name: 'metrics on', flag: 'on', rows: [] },
    { name: 'on + 1 s scrapes', flag: 'on', scrape: true, rows: [] },
  ];
  const cfg = join(dir, 'config');
  execFileSync('mkdir', ['-p', cfg]);
  writeFileSync(join(cfg, 'backend.yaml'), backendYaml(19041));
  try {
    start(0, 'nghttpd', ['--no-tls', '-a', '127.0.0.1', '-d', www, '-n', '1', '19031']);
    for (let rep = 0; rep < REPS; rep++) {
      for (const m of modes) {
        const inbound = start(1, skiff, ['proxy', '--metrics', m.flag, '--inbound', '127.0.0.1:19041', '--outbound', '127.0.0.1:19042', '--admin', '127.0.0.1:19043', '--app', '127.0.0.1:19031']);
        const outbound = start(1, skiff, ['proxy', '--metrics', m.flag, '--config', cfg, '--outbound', '127.0.0.1:19040', '--inbound', '127.0.0.1:19044', '--admin', '127.0.0.1:19045']);
        await sleep(1500);
        const pids = [inbound.pid, outbound.pid];
        let scraping = m.scrape;
        const scraper = (async () => {
          while (scraping) {
            await sleep(1000);
            if (scraping) await Promise.all([scrape(19043), scrape(19045)]);
          }
        })();
        const t0 = pids.reduce((a, p) => a + ticks(p), 0);
        // h2load runs async so the scraper's timer keeps firing
        const out = await h2loadRun(DURATION, ['-c', String(CONNS), '-m', String(STREAMS), '-H', ':authority: backend.default.svc.cluster.local', `http://127.0.0.1:19040${PATHNAME}`]);
        scraping = false;
        await scraper;
        const t1 = pids.reduce((a, p) => a + ticks(p), 0);
        const rss = peakRss(inbound.pid) + peakRss(outbound.pid);
        for (const p of [inbound, outbound]) { try { process.kill(-p.pid, 'SIGTERM'); } catch {} }
        await Promise.all([inbound, outbound].map((p) => new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)))));
        const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
        const failed = Number(/(\d+) succeeded, (\d+) failed/.exec(out)?.[2] ?? NaN);
        // the CPU time covers h2load's warm-up second too, and so do the requests counted here
        m.rows.push({ rps, failed, rss, cpu: ((t1 - t0) / 100) / (rps * (DURATION + 1)) * 100000 });
      }
    }
    console.log(`\nGolden metrics on the hot path (skiff pair, ${PATHNAME}, ${CONNS} connections × ${STREAMS} streams, ${DURATION} s × ${REPS} reps interleaved; medians)`);
    console.log(`  ${'mode'.padEnd(18)} ${'req/s'.padStart(10)} ${'cpu-s/100k'.padStart(11)} ${'rss-MB'.padStart(8)} ${'failed'.padStart(7)}`);
    for (const m of modes) {
      m.rps = median(m.rows.map((r) => r.rps));
      m.cpu = median(m.rows.map((r) => r.cpu));
      m.rss = median(m.rows.map((r) => r.rss));
      const failed = m.rows.reduce((a, r) => a + r.failed, 0);
      console.log(`  ${m.name.padEnd(18)} ${m.rps.toFixed(0).padStart(10)} ${m.cpu.toFixed(3).padStart(11)} ${m.rss.toFixed(1).padStart(8)} ${String(failed).padStart(7)}`);
    }
    const [off, on, scraped] = modes;
    console.log(`  ratios: throughput on/off ${(on.rps / off.rps).toFixed(3)}×, with scrapes ${(scraped.rps / off.rps).toFixed(3)}×; CPU per request on/off ${(on.cpu / off.cpu).toFixed(3)}×, with scrapes ${(scraped.cpu / off.cpu).toFixed(3)}×`);
  } finally {
    for (const p of procs) { try { process.kill(-p.pid, 'SIGTERM'); } catch {} }
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

// Skiff as a library, in-process (issue 16):
//  1. the cost of mesh semantics per request: MeshClient (routes, balancer, metrics) against undici's
//     Agent, both calling the same backend process, in this process (CPU per request of this process);
//  2. a Fastify gateway using the mesh (skiffMesh + the dispatcher) against @fastify/http-proxy and
//     node-http-proxy (http-proxy), each a gateway process in front of the same backend, loaded by wrk
//     (HTTP/1.1): throughput and the gateway's CPU per request, and ratios.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { MeshClient } from '../dist/host/index.js';
import { ticks, peakRss } from './procs.mjs';
import { freePort } from '../test/helpers/ports.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const N = Number(process.env.BENCH_LIBRARY_REQUESTS ?? 40_000);
const CONC = 32;

function start(args) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => { out += c; if (out.includes('\n')) resolve({ child, line: out.trim() }); });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

async function loop(dispatcher, url) {
  let sent = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (sent < N) {
      sent++;
      const r = await request(url, { dispatcher });
      await r.body.dump();
    }
  }));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { rps: N / (ms / 1000), cpuUs: (cpu.user + cpu.system) / N };
}

function wrk(port) {
  return new Promise((resolve, reject) => {
    const w = spawn('wrk', ['-t', '1', '-c', '16', '-d', `${DURATION}s`, `http://127.0.0.1:${port}/small`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    w.stdout.on('data', (c) => { out += c; });
    w.once('exit', (code) => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      if (code !== 0 || !m) reject(new Error(`wrk: ${out}`));
      else resolve({ rps: Number(m[1]), errors: non2xx ? Number(non2xx[1]) : 0 });
    });
  });
}

export async function runLibraryBench() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-lib-bench-'));
  const backend = await start([join(here, 'library/backend.mjs'), '0']);
  const backendPort = Number(backend.line);
  writeFileSync(join(dir, 'mesh.yaml'), `apiVersion: v1
kind: Service
metadata: { name: backend, namespace: default }
spec:
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: backend-1, namespace: default, labels: { kubernetes.io/service-name: backend } }
addressType: IPv4
ports: [{ name: http, port: ${backendPort} }]
endpoints: [{ addresses: ["127.0.0.1"] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: backend, port: 80 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /small } }]
      backendRefs: [{ name: backend, port: 80 }]
`);
  const gateways = [];
  try {
    console.log(`\n## Library, in-process (${N} requests × ${CONC} concurrent through each dispatcher; then wrk -c 16 ${DURATION} s through each gateway)\n`);
    const agent = new Agent({ connections: 64 });
    const mesh = await MeshClient.create({ config: dir, workload: 'default/bench' });
    await loop(agent, `http://127.0.0.1:${backendPort}/small`); // warm up
    await loop(mesh, 'http://backend.default/small');
    const direct = await loop(agent, `http://127.0.0.1:${backendPort}/small`);
    const meshed = await loop(mesh, 'http://backend.default/small');
    await mesh.close();
    await agent.close();
    console.log('| dispatcher | req/s | CPU µs per request (this process) |');
    console.log('|---|---|---|');
    console.log(`| undici Agent (direct) | ${direct.rps.toFixed(0)} | ${direct.cpuUs.toFixed(1)} |`);
    console.log(`| Skiff MeshClient (Service, HTTPRoute, balancer, metrics) | ${meshed.rps.toFixed(0)} | ${meshed.cpuUs.toFixed(1)} |`);
    console.log(`\nmesh semantics cost: ${(meshed.cpuUs - direct.cpuUs).toFixed(1)} µs of CPU per request (${(meshed.cpuUs / direct.cpuUs).toFixed(2)}× the Agent's), throughput ${(meshed.rps / direct.rps).toFixed(2)}×\n`);

    const rows = [];
    for (const kind of ['skiff', 'fastify-http-proxy', 'node-http-proxy']) {
      const port = await freePort();
      const g = await start([join(here, 'library/gateway.mjs'), kind, String(port), String(backendPort), dir]);
      gateways.push(g.child);
      await wrk(port); // warm up (JIT, pools)
      const t0 = ticks(g.child.pid);
      const r = await wrk(port);
      const cpu = (ticks(g.child.pid) - t0) / 100; // s
      rows.push({ kind, rps: r.rps, errors: r.errors, cpu100k: cpu / (r.rps * DURATION) * 100_000, rss: peakRss(g.child.pid) });
      g.child.kill('SIGTERM');
    }
    console.log('| gateway | req/s | gateway CPU-s per 100k | peak RSS MB | non-2xx |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.kind === 'skiff' ? 'Fastify + skiffMesh' : r.kind === 'fastify-http-proxy' ? 'Fastify + @fastify/http-proxy' : 'node-http-proxy'} | ${r.rps.toFixed(0)} | ${r.cpu100k.toFixed(2)} | ${r.rss.toFixed(0)} | ${r.errors} |`);
    const [s, f, n] = rows;
    console.log(`\nratios (CPU per request): skiff/@fastify/http-proxy ${(s.cpu100k / f.cpu100k).toFixed(2)}×, skiff/node-http-proxy ${(s.cpu100k / n.cpu100k).toFixed(2)}×; throughput ${(s.rps / f.rps).toFixed(2)}× and ${(s.rps / n.rps).toFixed(2)}×`);
  } finally {
    for (const g of gateways) if (g.exitCode === null) g.kill('SIGTERM');
    backend.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runLibraryBench();

// The cost of mTLS between sidecars, measured in one run:
//  1. new mTLS connections per second per core at an inbound sidecar (clients present mesh
//     certificates and complete TLS 1.3 handshakes; the sidecar's CPU time is what is counted);
//  2. the Skiff pair (h2load → outbound → inbound → nghttpd) with the sidecar hop in plaintext and in
//     mTLS: requests/s and CPU-s per 100k requests of both proxies, and the ratio.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { initTrust } from '../dist/host/identity/trust.js';
import { issueToken } from '../dist/host/identity/token.js';
import { Issuer } from '../dist/host/identity/issuer.js';
import { createCsr, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from '../dist/host/identity/x509.js';
import { backendYaml, ticks, startPinned } from './procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const skiff = join(here, '../bin/skiff');
const www = join(here, '../../shared/bench/www');
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function runMtlsBench() {
  if (spawnSync('sh', ['-c', 'command -v h2load && command -v nghttpd']).status !== 0) {
    console.log('\nmTLS bench skipped: needs nghttp2-client and nghttp2-server');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'skiff-mtls-bench-'));
  const trust = join(dir, 'trust');
  await initTrust(trust);
  const secret = readFileSync(join(trust, 'tokens.key'), 'utf8');
  for (const sa of ['backend', 'client']) writeFileSync(join(dir, `${sa}.token`), issueToken(secret, { namespace: 'default', name: sa }));
  const anchors = join(trust, 'trust-anchors.pem');
  const procs = [];
  const start = (cpu, cmd, args) => startPinned(procs, cpu, cmd, args);
  const id = (sa) => ['--identity-addr', '127.0.0.1:19080', '--identity-token', join(dir, `${sa}.token`), '--trust-anchors', anchors];
  try {
    start(0, process.execPath, [join(here, '../dist/skiff.js'), 'control', '--identity', trust, '--listen', '127.0.0.1:19080']);
    start(0, 'nghttpd', ['--no-tls', '-a', '127.0.0.1', '-d', www, '-n', '1', '19001']);
    await sleep(1000);
    const plainDir = join(dir, 'plain');
    execFileSync('mkdir', ['-p', plainDir]);
    writeFileSync(join(plainDir, 'mesh.yaml'), backendYaml(19031));
    const plainIn = start(1, skiff, ['proxy', '--inbound', '127.0.0.1:19031', '--outbound', '127.0.0.1:19032', '--admin', '127.0.0.1:19033', '--app', '127.0.0.1:19001']);
    const plainOut = start(1, skiff, ['proxy', '--config', plainDir, '--outbound', '127.0.0.1:19030', '--inbound', '127.0.0.1:19034', '--admin', '127.0.0.1:19035']);
    const tlsDir = join(dir, 'mtls');
    execFileSync('mkdir', ['-p', tlsDir]);
    writeFileSync(join(tlsDir, 'mesh.yaml'), backendYaml(19041, 'spiffe://cluster.local/ns/default/sa/backend'));
    const mtlsIn = start(1, skiff, ['proxy', '--inbound', '127.0.0.1:19041', '--outbound', '127.0.0.1:19042', '--admin', '127.0.0.1:19043', '--app', '127.0.0.1:19001', '--workload', 'default/backend', ...id('backend')]);
    const mtlsOut = start(1, skiff, ['proxy', '--config', tlsDir, '--outbound', '127.0.0.1:19040', '--inbound', '127.0.0.1:19044', '--admin', '127.0.0.1:19045', '--workload', 'default/client', ...id('client')]);
    await sleep(2500);

    // 1. handshakes at the mTLS inbound
    const issuer = new Issuer({ trustDomain: 'cluster.local', issuerCert: readFileSync(join(trust, 'issuer.crt'), 'utf8'), issuerKey: await importPrivateKeyPem(readFileSync(join(trust, 'issuer.key'), 'utf8')), tokenSecret: secret });
    const keys = await generateKeyPair();
    const cert = (await issuer.certify(issueToken(secret, { namespace: 'default', name: 'client' }), await createCsr(keys, ['spiffe://cluster.local/ns/default/sa/client'], []))).chain;
    const ctx = tls.createSecureContext({ key: await exportPrivateKeyPem(keys.privateKey), cert, ca: readFileSync(anchors), minVersion: 'TLSv1.3' });
    const one = () => new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: 19041, secureContext: ctx, ALPNProtocols: ['skiff.io/mesh-h2'], servername: 'mesh.skiff.invalid', checkServerIdentity: () => undefined });
      s.once('secureConnect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    for (let i = 0; i < 50; i++) await one(); // warm-up
    const t0 = ticks(mtlsIn.pid);
    const began = performance.now();
    let done = 0;
    const N = 2000;
    await Promise.all(Array.from({ length: 8 }, async () => { while (done < N) { done++; await one(); } }));
    const secs = (performance.now() - began) / 1000;
    const cpu = (ticks(mtlsIn.pid) - t0) / 100;
    console.log('\nmTLS handshakes at an inbound sidecar (TLS 1.3, ECDSA P-256, client certificates, 8 at a time)');
    console.log(`  ${N} handshakes in ${secs.toFixed(2)} s: ${(N / secs).toFixed(0)}/s; sidecar CPU ${cpu.toFixed(2)} s → ${(N / cpu).toFixed(0)} handshakes per CPU-second (per core)`);

    // 2. the pair, plaintext vs mTLS
    const load = (port) => {
      const out = execFileSync('taskset', ['-c', '0', 'h2load', '-c', '4', '-m', '16', '-D', String(DURATION), '--warm-up-time=1',
        '-H', ':authority: backend.default.svc.cluster.local', `http://127.0.0.1:${port}/small`], { encoding: 'utf8', timeout: (DURATION + 30) * 1000 });
      return { rps: Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN), failed: Number(/(\d+) failed/.exec(out)?.[1] ?? NaN) };
    };
    const measure = (port, a, b) => {
      const c0 = ticks(a.pid) + ticks(b.pid);
      const r = load(port);
      const c1 = ticks(a.pid) + ticks(b.pid);
      return { ...r, cpu: ((c1 - c0) / 100) / (r.rps * DURATION) * 100000 };
    };
    const plain = measure(19030, plainIn, plainOut);
    const mtls = measure(19040, mtlsIn, mtlsOut);
    console.log('\nThe Skiff pair, sidecar hop in plaintext vs mTLS (/small, 4 connections × 16 streams, pinned to CPU 1)');
    console.log(`  ${'hop'.padEnd(10)} ${'req/s'.padStart(10)} ${'cpu-s/100k'.padStart(12)} ${'failed'.padStart(7)}`);
    console.log(`  ${'plaintext'.padEnd(10)} ${plain.rps.toFixed(0).padStart(10)} ${plain.cpu.toFixed(3).padStart(12)} ${String(plain.failed).padStart(7)}`);
    console.log(`  ${'mTLS'.padEnd(10)} ${mtls.rps.toFixed(0).padStart(10)} ${mtls.cpu.toFixed(3).padStart(12)} ${String(mtls.failed).padStart(7)}`);
    console.log(`  mTLS/plaintext: throughput ${(mtls.rps / plain.rps).toFixed(2)}×, CPU per request ${(mtls.cpu / plain.cpu).toFixed(2)}×`);
  } finally {
    for (const p of procs) { try { process.kill(-p.pid, 'SIGTERM'); } catch { /* gone */ } }
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMtlsBench();

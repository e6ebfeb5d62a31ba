// `npm start`: a small local mesh on the embedded control plane (the YAML in ./config).
//   client app ──HTTP/1.1──▶ frontend ──HTTP/2──▶ books
//                                    ──gRPC────▶ authors
// Every service has its own `skiff proxy` process as a sidecar; all traffic between services goes
// sidecar to sidecar over multiplexed HTTP/2 in mutual TLS, each sidecar proving its ServiceAccount's
// identity with a certificate from `skiff control`. Ctrl-C stops everything. --once: a few requests, exit.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';
import { startBooks, startAuthors, startFrontend } from './apps.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '../../dist/skiff.js');
const configDir = join(here, 'config');
const once = process.argv.includes('--once');
const say = (s) => process.stdout.write(`${s}\n`);

// ports: apps 7001-7003; sidecars' inbound 7101-7103 (as config/mesh.yaml says); outbound and admin below
const CONTROL = 7180; // skiff control: the identity service
const SIDECARS = [
  { name: 'client', outbound: 7140, inbound: 7100, admin: 7190, app: 7000 },
  { name: 'frontend', outbound: 7141, inbound: 7101, admin: 7191, app: 7001 },
  { name: 'books', outbound: 7142, inbound: 7102, admin: 7192, app: 7002 },
  { name: 'authors', outbound: 7143, inbound: 7103, admin: 7193, app: 7003 },
];

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const children = [];
let trustDir = null;
function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
function removeTrust() {
  if (trustDir) rmSync(trustDir, { recursive: true, force: true });
  trustDir = null;
}

/** `skiff identity init` and `skiff identity token`, as an operator runs them. */
function makeTrust() {
  trustDir = mkdtempSync(join(tmpdir(), 'skiff-quickstart-'));
  const skiff = (...args) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`skiff ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  skiff('identity', 'init', join(trustDir, 'trust'));
  for (const s of SIDECARS) writeFileSync(join(trustDir, `${s.name}.token`), skiff('identity', 'token', join(trustDir, 'trust'), `default/${s.name}`));
}

async function waitReady(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/ready' }, (res) => { res.resume(); resolve(res.statusCode === 200); })
        .on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sidecar admin on ${port} never became ready`);
}

function getPage(agent) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // the client app calls the frontend by its Kubernetes name, through its own sidecar
    const req = http.request({ host: '127.0.0.1', port: 7140, path: '/', headers: { host: 'frontend.default.svc.cluster.local' }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body, ms: performance.now() - started, seenVia: res.headers['x-seen-via'], via: res.headers.via, caller: res.headers['x-seen-caller'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  for (const p of [...SIDECARS.flatMap((s) => [s.inbound, s.outbound, s.admin]), 7001, 7002, 7003, CONTROL]) {
    if (!(await portFree(p))) {
      say(`quickstart: port 127.0.0.1:${p} is in use; stop whatever holds it (the quickstart uses 7001-7003 and 7100-7193)`);
      return 1;
    }
  }
  const apps = [await startFrontend(7001, '127.0.0.1:7141'), await startBooks(7002), await startAuthors(7003)];
  makeTrust();
  children.push(spawn(process.execPath, [cli, 'control', '--identity', join(trustDir, 'trust'), '--listen', `127.0.0.1:${CONTROL}`],
    { stdio: ['ignore', 'ignore', 'inherit'] }));
  for (const s of SIDECARS) {
    const child = spawn(process.execPath, [cli, 'proxy', '--config', configDir, '--workload', `default/${s.name}`,
      '--inbound', `127.0.0.1:${s.inbound}`, '--outbound', `127.0.0.1:${s.outbound}`, '--admin', `127.0.0.1:${s.admin}`,
      '--app', `127.0.0.1:${s.app}`, '--identity-addr', `127.0.0.1:${CONTROL}`, '--identity-token', join(trustDir, `${s.name}.token`),
      '--trust-anchors', join(trustDir, 'trust', 'trust-anchors.pem')], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
  }
  try {
    await Promise.all(SIDECARS.map((s) => waitReady(s.admin)));
  } catch (err) {
    say(`quickstart: ${err.message}`);
    stopAll();
    removeTrust();
    return 1;
  }
  say(`skiff quickstart — 4 sidecars and skiff control (pids ${children.map((c) => c.pid).join(', ')}), config ${relative(process.cwd(), configDir) || configDir}`);
  say('  client ──HTTP/1.1──▶ frontend ──HTTP/2──▶ books');
  say('                                  ──gRPC────▶ authors');
  say('  every hop between services is sidecar to sidecar over one multiplexed HTTP/2 connection, in mutual TLS 1.3');
  say(`  try it:  curl -s -H 'host: frontend.default' http://127.0.0.1:7140/   (the client sidecar's outbound)`);
  say(`  watch it: http://127.0.0.1:${SIDECARS[1].admin}/dashboard · bin/skiff stat --watch ${SIDECARS.map((s) => `127.0.0.1:${s.admin}`).join(' ')} · bin/skiff tap --admin 127.0.0.1:${SIDECARS[1].admin}`);
  say('');

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let failures = 0;
  const rounds = once ? 3 : Infinity;
  let stopping = false;
  const stop = () => { stopping = true; };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for (let i = 1; i <= rounds && !stopping; i++) {
    try {
      const r = await getPage(agent);
      if (r.status !== 200) throw new Error(`${r.status} ${r.body.trim()}`);
      const page = JSON.parse(r.body);
      say(`[${i}] client → frontend: ${r.status} in ${r.ms.toFixed(1)} ms · ${page.length} books with authors from gRPC` +
        ` (${[...new Set(page.map((p) => p.author))].join(', ')}) · via: ${r.via} · frontend saw via: ${r.seenVia} · caller (mTLS): ${r.caller || 'none'}`);
    } catch (err) {
      failures++;
      say(`[${i}] client → frontend failed: ${err.message}`);
    }
    if (!once) await new Promise((r) => setTimeout(r, 1000));
  }
  agent.destroy();
  say(once ? `quickstart: ${rounds - failures}/${rounds} requests succeeded; stopping` : 'quickstart: stopping');
  stopAll();
  await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))));
  removeTrust();
  for (const a of apps) { a.closeAll?.(); if (a.forceShutdown) a.forceShutdown(); else a.close(); }
  return failures === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => { say(`quickstart: ${err.stack}`); stopAll(); removeTrust(); process.exit(1); });

// Makes sure the real peers the tests talk to are installed: curl, nghttp2's client, server and
// h2load, openssl, promtool (the Prometheus parser), Chromium (the dashboard test), nginx (a real
// HTTP/1.1 upstream) and wrk (HTTP/1.1 load at hundreds of connections). As root it installs what is missing with apt-get; otherwise it stops with the
// exact command to run. A test never skips because a peer is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, rmSync } from 'node:fs';

const needs = [
  { cmd: 'curl', pkg: 'curl' },
  { cmd: 'nghttp', pkg: 'nghttp2-client' },
  { cmd: 'h2load', pkg: 'nghttp2-client' },
  { cmd: 'nghttpd', pkg: 'nghttp2-server' },
  { cmd: 'openssl', pkg: 'openssl' },
  { cmd: 'promtool', pkg: 'prometheus' },
  { cmd: 'chromium', pkg: 'chromium' },
  { cmd: 'nginx', pkg: 'nginx-light' },
  { cmd: 'wrk', pkg: 'wrk' },
];

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = [...new Set(needs.filter((n) => !has(n.cmd)).map((n) => n.pkg))];
if (missing.length === 0) process.exit(0);

const line = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
if (process.getuid?.() !== 0) {
  console.error(`The tests need: ${missing.join(', ')}. Install them with:\n  sudo apt-get update && sudo ${line}`);
  process.exit(1);
}
console.log(`installing test peers: ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
// packages such as nginx start their service on install; the tests start their own, so none is
// started (policy-rc.d is the Debian way to say so), and the file is removed again if we made it
const policy = '/usr/sbin/policy-rc.d';
const madePolicy = !existsSync(policy);
if (madePolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
try {
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
} finally {
  if (madePolicy) rmSync(policy, { force: true });
}
const still = needs.filter((n) => !has(n.cmd)).map((n) => n.cmd);
if (still.length) {
  console.error(`still missing after install: ${still.join(', ')}`);
  process.exit(1);
}

// The `skiff` command as a user runs it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.mjs';

const cli = fileURLToPath(new URL('../../dist/skiff.js', import.meta.url));

test('skiff demo --once serves HTTP/2 from the core and checks itself', async () => {
  const r = await run(process.execPath, [cli, 'demo', '--once', '--listen', '127.0.0.1:0']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /100 requests on one connection/);
});

test('skiff version / help / unknown command', async () => {
  const v = await run(process.execPath, [cli, 'version']);
  assert.match(v.stdout.toString(), /^\d+\.\d+\.\d+/);
  const h = await run(process.execPath, [cli, 'help']);
  assert.match(h.stdout.toString(), /usage: skiff/);
  const u = await run(process.execPath, [cli, 'frobnicate']);
  assert.is(u.code, 2);
  assert.match(u.stderr.toString(), /unknown command 'frobnicate'/);
});

test('every command\'s --help prints its usage and exits 0 (and -h; `skiff help COMMAND` too)', async () => {
  for (const command of ['proxy', 'await', 'tap', 'stat', 'check', 'identity', 'control', 'demo', 'version']) {
    const r = await run(process.execPath, [cli, command, '--help']);
    assert.is(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout.toString(), new RegExp(`^usage: skiff ${command}`), command);
    assert.is(r.stderr, '', command);
  }
  const p = (await run(process.execPath, [cli, 'proxy', '-h'])).stdout.toString();
  for (const flag of ['--config', '--inbound', '--http1-max-connections', '--max-pending-requests', '--underscore-headers', '--admin-remote']) assert.ok(p.includes(flag), flag);
  assert.match((await run(process.execPath, [cli, 'help', 'tap'])).stdout.toString(), /^usage: skiff tap/);
  // after --, flags are the awaited command's, not await's
  const a = await run(process.execPath, [cli, 'await', '--admin', '127.0.0.1:1', '--timeout', '100ms', '--', 'echo', '--help']);
  assert.is(a.code, 1, 'await ran (and timed out waiting for the proxy) instead of printing its help');
  assert.not.match(a.stdout.toString(), /usage: skiff await/);
});

test('skiff proxy refuses bad limits and header policies, naming the flag', async () => {
  const r = await run(process.execPath, [cli, 'proxy', '--http1-max-connections', '0', '--admin', '127.0.0.1:0']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /--http1-max-connections: expected a positive whole number, got '0'/);
  const u = await run(process.execPath, [cli, 'proxy', '--underscore-headers', 'maybe', '--admin', '127.0.0.1:0']);
  assert.is(u.code, 1);
  assert.match(u.stderr, /--underscore-headers: expected allow, drop or reject, got 'maybe'/);
});

test('the Kubernetes flags: --control needs an identity and excludes --config; --kubeconfig goes with --kubernetes', async () => {
  const noId = await run(process.execPath, [cli, 'proxy', '--control', '127.0.0.1:1', '--admin', '127.0.0.1:0']);
  assert.is(noId.code, 1);
  assert.match(noId.stderr, /--control needs --identity-token and --trust-anchors/);
  const both = await run(process.execPath, [cli, 'proxy', '--control', '127.0.0.1:1', '--config', '/nonexistent', '--identity-token', '/t', '--trust-anchors', '/a', '--admin', '127.0.0.1:0']);
  assert.is(both.code, 1);
  assert.match(both.stderr, /--config and --control are two sources of the same configuration/);
  const kc = await run(process.execPath, [cli, 'control', '--identity', '/nonexistent', '--kubeconfig', '/k']);
  assert.is(kc.code, 1);
  assert.match(kc.stderr, /--kubeconfig goes with --kubernetes/);
  const help = (await run(process.execPath, [cli, 'control', '--help'])).stdout.toString();
  for (const flag of ['--kubernetes', '--kubeconfig', '--route-status']) assert.ok(help.includes(flag), flag);
  assert.ok((await run(process.execPath, [cli, 'proxy', '--help'])).stdout.toString().includes('--control HOST:PORT'));
});

test('skiff check names a malformed failure accrual annotation', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'skiff-check-accrual-'));
  writeFileSync(join(dir, 'svc.yaml'), `apiVersion: v1
kind: Service
metadata:
  name: web
  annotations:
    balancer.linkerd.io/failure-accrual: consecutive
    balancer.linkerd.io/failure-accrual-consecutive-max-failures: "many"
spec:
  ports: [{ port: 80 }]
`);
  try {
    const r = await run(process.execPath, [cli, 'check', dir]);
    assert.is(r.code, 1);
    assert.match(r.stderr, /Service default\/web: metadata\.annotations: failure-accrual-consecutive-max-failures: expected a whole number ≥ 1, got 'many'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('skiff demo rejects a bad --listen with a clear error', async () => {
  const r = await run(process.execPath, [cli, 'demo', '--once', '--listen', 'nonsense']);
  assert.is(r.code, 1);
  assert.match(r.stderr.toString(), /--listen: expected HOST:PORT/);
});

test.run();

// `skiff await -- CMD`: a Job's main command waits for its sidecar, runs, then ends the sidecar,
// and the Job sees the command's own exit status. The sidecar here is a real `skiff proxy` process
// (JSON logs on stdout, an access log file), ended by POST /shutdown.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.mjs';
import { spawnProxy, runSkiff } from '../helpers/proxy-process.mjs';
import { ConfigDir, serviceYaml, sliceYaml } from '../helpers/mesh.mjs';

let app, config, tmp;
const started = [];

test.before(async () => {
  app = http.createServer((req, res) => res.end(`job saw ${req.url}`));
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  config = new ConfigDir();
  config.write('web.yaml', `${serviceYaml('web', 80)}---\n${sliceYaml('web', [{ port: app.address().port }], { meshed: false })}`);
  tmp = mkdtempSync(join(tmpdir(), 'skiff-await-'));
});

test.after(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  app.close();
  config.remove();
  rmSync(tmp, { recursive: true, force: true });
});

/** bin/skiff, ended with the other processes this file started if a test fails half-way. */
function skiffRun(args) {
  const run = runSkiff(args);
  started.push(run.child);
  return run;
}

test('await: waits for the proxy, runs the command through it, stops the proxy, exits 3 as the command did', async () => {
  const [outbound, inbound, admin] = [await freePort(), await freePort(), await freePort()];
  const accessLog = join(tmp, 'access.log');
  // the command checks that the proxy is ready when it runs, and uses it
  const job = skiffRun(['await', '--admin', `127.0.0.1:${admin}`, '--',
    'sh', '-c', `curl -fsS http://127.0.0.1:${admin}/ready >/dev/null || exit 9; curl -fsS -H 'host: web.default' http://127.0.0.1:${outbound}/report || exit 8; exit 3`]);
  // the proxy starts after the command was launched: await must wait for it
  await new Promise((r) => setTimeout(r, 300));
  assert.is(job.child.exitCode, null, 'await is waiting, not running the command yet');
  const proxy = skiffRun(['proxy', '--outbound', `127.0.0.1:${outbound}`, '--inbound', `127.0.0.1:${inbound}`, '--admin', `127.0.0.1:${admin}`,
    '--app', '127.0.0.1:1', '--config', config.dir, '--access-log', accessLog]);
  const r = await job.done;
  assert.is(r.code, 3, r.stderr);
  assert.is(r.stdout, 'job saw /report');
  const p = await proxy.done;
  assert.is(p.code, 0, p.stderr);
  // its log: one JSON object per line, the shutdown request among them
  const events = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(events.every((e) => typeof e.time === 'string' && ['error', 'warn', 'info', 'debug'].includes(e.level) && typeof e.msg === 'string'));
  assert.ok(events.some((e) => e.msg === 'shutdown asked for on the admin server' && e.client === '127.0.0.1'), p.stdout);
  assert.is(events[events.length - 1].msg, 'stopped');
  // the access log: the job's request
  const lines = readFileSync(accessLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 1);
  assert.is(lines[0].type, 'access');
  assert.equal([lines[0].direction, lines[0].method, lines[0].authority, lines[0].path, lines[0].status], ['outbound', 'GET', 'web.default', '/report', 200]);
  assert.ok(typeof lines[0].latency_ms === 'number' && typeof lines[0].duration_ms === 'number');
});

test('await: a command that exits 0 ends with 0, and the proxy stops (logging only warnings, as told)', async () => {
  const proxy = await spawnProxy(['--app', '127.0.0.1:1', '--log-level', 'warn']);
  const r = await skiffRun(['await', '--admin', `127.0.0.1:${proxy.admin}`, '--', 'sh', '-c', 'exit 0']).done;
  assert.is(r.code, 0, r.stderr);
  const p = await proxy.exited;
  assert.is(p.code, 0, proxy.log);
  assert.is(proxy.log, '', 'no info lines at --log-level warn');
  const bad = await skiffRun(['proxy', '--log-level', 'loud']).done;
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--log-level|log level: expected one of error, warn, info, debug, got 'loud'/);
});

test('await --no-shutdown leaves the proxy running; a missing command is 127', async () => {
  const proxy = await spawnProxy(['--app', '127.0.0.1:1']);
  try {
    const r = await skiffRun(['await', '--no-shutdown', '--admin', `127.0.0.1:${proxy.admin}`, '--', 'sh', '-c', 'exit 5']).done;
    assert.is(r.code, 5);
    const missing = await skiffRun(['await', '--no-shutdown', '--admin', `127.0.0.1:${proxy.admin}`, '--', 'no-such-command-skiff']).done;
    assert.is(missing.code, 127);
    assert.match(missing.stderr, /cannot run no-such-command-skiff: command not found/);
    const live = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: proxy.admin, path: '/live' }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', () => resolve(0)));
    assert.is(live, 200);
  } finally {
    await proxy.stop();
  }
});

test('await passes SIGTERM on to the command (a Job being stopped), exits as it did, and stops the proxy', async () => {
  const proxy = await spawnProxy(['--app', '127.0.0.1:1']);
  const marker = join(tmp, 'trapped');
  // the command says when its trap is set, then waits; on TERM it exits 7
  const job = skiffRun(['await', '--admin', `127.0.0.1:${proxy.admin}`, '--', 'sh', '-c', `trap 'exit 7' TERM; touch ${marker}; while :; do sleep 0.05; done`]);
  for (let i = 0; i < 200 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(existsSync(marker), 'the command started');
  job.child.kill('SIGTERM');
  const r = await job.done;
  assert.is(r.code, 7, r.stderr);
  const p = await proxy.exited;
  assert.is(p.code, 0, proxy.log);
});

test('await: no proxy ready within --timeout: the command never runs, exit 1 with the reason', async () => {
  const admin = await freePort();
  const marker = join(tmp, 'ran');
  const r = await skiffRun(['await', '--timeout', '400ms', '--admin', `127.0.0.1:${admin}`, '--', 'sh', '-c', `touch ${marker}`]).done;
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`the proxy at 127\\.0\\.0\\.1:${admin} was not ready within 400 ms \\(.*ECONNREFUSED.*\\); not running sh`));
  assert.not.ok(existsSync(marker));
  const usage = await skiffRun(['await', '--admin', `127.0.0.1:${admin}`]).done;
  assert.is(usage.code, 2);
  assert.match(usage.stderr, /usage: skiff await/);
});

test.run();

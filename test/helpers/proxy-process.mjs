// `skiff proxy` as a separate process, as it runs in a pod: for tests that need its real exit,
// its signals, or its memory use.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { dirname, delimiter } from 'node:path';
import http from 'node:http';
import { freePort } from './ports.mjs';

// the installed command (bin/skiff), run by the node running the tests
const skiff = fileURLToPath(new URL('../../bin/skiff', import.meta.url));
const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` };

// every child started here is ended with the test process, by PID: a test that fails before its
// stop() (an assertion thrown mid-test) must not leave a proxy running
const children = new Set();
process.once('exit', () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function spawnProxy(args) {
  const [outbound, inbound, admin] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(skiff, ['proxy', '--outbound', `127.0.0.1:${outbound}`, '--inbound', `127.0.0.1:${inbound}`,
    '--admin', `127.0.0.1:${admin}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  track(child);
  let log = '';
  child.stdout.on('data', (c) => { log += c; });
  child.stderr.on('data', (c) => { log += c; });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: admin, path: '/ready' }, (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false)));
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`proxy exited: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid, outbound, inbound, admin, exited, get log() { return log; },
    /** Peak resident memory (VmHWM) in MiB. */
    peakRssMiB() {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : NaN;
    },
    stop(signal = 'SIGTERM') { if (child.exitCode === null) child.kill(signal); return exited; },
  };
}

/** Runs bin/skiff with args (await, tap, stat, …): { child, done } where done resolves with { code, signal, stdout, stderr } (killed after `timeout` ms). */
export function runSkiff(args, { timeout = 60_000 } = {}) {
  const child = track(spawn(skiff, args, { stdio: ['ignore', 'pipe', 'pipe'], env }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = new Promise((resolve) => child.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); }));
  return { child, done };
}

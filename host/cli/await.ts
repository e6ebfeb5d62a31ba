// `skiff await -- CMD ARGS`: the container-ordering fix for Jobs and for applications that must not
// start before the mesh is ready. Waits for the proxy's /ready, runs the command (signals passed
// on), then asks the proxy to shut down — so a Job's pod completes — and exits with the command's
// status (128 + the signal number when a signal ended it, as shells report it).
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { adminRequest } from './admin-client.js';
import type { HostPort } from '../config/address.js';

export interface AwaitOptions {
  admin: HostPort;
  /** Give up waiting for readiness after this long (the command is then not run). */
  timeoutMs: number;
  /** Leave the proxy running when the command ends. */
  noShutdown: boolean;
  say: (line: string) => void;
}

async function waitReady(o: AwaitOptions): Promise<string | null> {
  const deadline = Date.now() + o.timeoutMs;
  let last = 'no answer yet';
  for (let i = 0; ; i++) {
    try {
      const r = await adminRequest(o.admin, 'GET', '/ready', 2000);
      if (r.status === 200) return null;
      last = `not ready: ${r.body.trim().replace(/\n/g, '; ')}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, Math.min(500, 50 * (i + 1))));
  }
}

export async function runAwait(command: string[], o: AwaitOptions): Promise<number> {
  const why = await waitReady(o);
  if (why !== null) {
    o.say(`skiff await: the proxy at ${o.admin.host}:${o.admin.port} was not ready within ${o.timeoutMs} ms (${why}); not running ${command[0]}`);
    return 1;
  }
  const code = await new Promise<number>((resolve) => {
    const child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals): void => { child.kill(sig); };
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];
    for (const s of signals) process.on(s, forward);
    child.once('error', (err: NodeJS.ErrnoException) => {
      for (const s of signals) process.off(s, forward);
      o.say(`skiff await: cannot run ${command[0]}: ${err.code === 'ENOENT' ? 'command not found' : err.message}`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (status, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(status ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0));
    });
  });
  if (!o.noShutdown) {
    try {
      const r = await adminRequest(o.admin, 'POST', '/shutdown', 5000);
      if (r.status !== 202) o.say(`skiff await: the proxy refused to shut down: ${r.status} ${r.body.trim()}`);
    } catch (err) {
      o.say(`skiff await: could not ask the proxy to shut down: ${(err as Error).message}`);
    }
  }
  return code;
}

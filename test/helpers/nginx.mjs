// nginx as a real HTTP/1.1 upstream (Debian's nginx-light, installed by test/setup/peers.mjs): one
// worker, serving a directory, in the foreground as a child of the test, stopped by its PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.mjs';

/** Starts nginx serving `files` ({ path: content }) on a free loopback port; { port, stop() }. */
export async function startNginx(files) {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-nginx-'));
  const www = join(dir, 'www');
  mkdirSync(www);
  chmodSync(dir, 0o755); // nginx's worker runs as an unprivileged user when started as root
  for (const [name, content] of Object.entries(files)) writeFileSync(join(www, name), content);
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${www}; }
}
`);
  const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitForPort(port);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`nginx did not start: ${err || e.message}`);
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// `skiff demo`: an HTTP/2 server and client, both on the wasm core, talking over loopback.
// Shows that the core works end to end on this machine until the sidecar (skiff proxy) lands.
import net from 'node:net';
import { H2Session, type H2Stream } from '../transport/h2-session.js';

function serve(stream: H2Stream): void {
  const fields = stream.headers ?? [];
  let path = '/';
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === ':path') path = fields[i + 1];
  if (path === '/hello') {
    const body = Buffer.from('hello from the skiff wasm core\n');
    stream.respond([':status', '200', 'content-type', 'text/plain', 'content-length', String(body.length)]);
    stream.end(body);
  } else if (path.startsWith('/bytes/')) {
    const n = Math.min(Number(path.slice(7)) || 0, 1 << 30);
    stream.respond([':status', '200', 'content-type', 'application/octet-stream', 'content-length', String(n)]);
    let sent = 0;
    const pump = (): void => {
      while (sent < n) {
        const chunk = Buffer.alloc(Math.min(65536, n - sent), 0x61);
        sent += chunk.length;
        if (sent === n) { stream.end(chunk); return; }
        if (!stream.write(chunk)) { stream.onDrain = () => { stream.onDrain = undefined; pump(); }; return; }
      }
      stream.end();
    };
    pump();
  } else {
    stream.respond([':status', '404', 'content-type', 'text/plain'], false);
    stream.end(Buffer.from('routes: /hello, /bytes/N\n'));
  }
}

function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--listen: expected HOST:PORT, got '${s}'`);
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

function selfCheck(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => {
      const session = new H2Session(socket, 'client');
      const started = performance.now();
      let done = 0;
      const total = 100;
      for (let i = 0; i < total; i++) {
        const s = session.request([':method', 'GET', ':scheme', 'http', ':authority', `${host}:${port}`, ':path', '/hello'], true);
        s.onReset = (e) => reject(e);
        s.onEnd = () => {
          if (++done === total) {
            const ms = performance.now() - started;
            session.shutdown();
            resolve(`${total} requests on one connection, multiplexed, in ${ms.toFixed(1)} ms`);
          }
        };
      }
    });
    socket.once('error', reject);
  });
}

export async function runDemo(listen: string, once: boolean): Promise<number> {
  const { host, port } = parseHostPort(listen);
  const sessions = new Set<H2Session>();
  const server = net.createServer((socket) => {
    const s = new H2Session(socket, 'server', {}, { onStream: serve, onClose: () => sessions.delete(s) });
    sessions.add(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  console.log(`skiff demo: HTTP/2 (h2c) server on the wasm core at ${url}`);
  console.log(`  self-check with the core's own client: ${await selfCheck(addr.address, addr.port)}`);
  if (once) {
    for (const s of sessions) s.socket.destroy();
    server.close();
    return 0;
  }
  console.log(`  try:  curl --http2-prior-knowledge ${url}/hello`);
  console.log(`        h2load -n 10000 -c 4 -m 16 ${url}/hello`);
  console.log('  Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      for (const s of sessions) s.shutdown();
      server.close(() => resolve());
      setTimeout(() => { for (const s of sessions) s.socket.destroy(); }, 2000).unref();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

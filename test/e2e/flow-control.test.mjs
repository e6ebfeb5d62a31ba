// Slow and small-window readers, and slow writers, with the settings real clients use: a reader
// that is reading at any pace slows the upstream down (Skiff stops granting HTTP/2 window, or
// stops reading an HTTP/1.1 socket, while the other side is full) and is never cut off. Every byte
// arrives, every stream ends cleanly — one hop and a sidecar pair, h2↔h2 and h2↔h1, downloads and
// uploads — and a proxy process stays within its windows' worth of memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import grpc from '@grpc/grpc-js';
import { startProxy } from '../../dist/host/index.js';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor } from '../helpers/mesh.mjs';
import { patternChunk } from '../helpers/h2-app.mjs';
import { spawnProxy } from '../helpers/proxy-process.mjs';
import { run } from '../helpers/run.mjs';

const MiB = 1 << 20;
let h2app, h1app, h2side, h1side, client, config;

/** sha256 of the first `n` pattern bytes (what /bytes/n serves). */
function patternDigest(n) {
  const h = createHash('sha256');
  for (let off = 0; off < n; off += MiB) h.update(patternChunk(off, Math.min(MiB, n - off)));
  return h.digest('hex');
}
const digests = new Map();
const expected = (n) => digests.get(n) ?? digests.set(n, patternDigest(n)).get(n);

/** Streams `n` pattern bytes to a writable (http.ServerResponse or Http2ServerResponse), honouring backpressure. */
function servePattern(res, n) {
  let off = 0;
  const more = () => {
    while (off < n) {
      const k = Math.min(64 * 1024, n - off);
      const chunk = patternChunk(off, k);
      off += k;
      if (!res.write(chunk)) { res.once('drain', more); return; }
    }
    res.end();
  };
  more();
}

/** Reads a request body slowly (pauses of 5-20 ms every ~256 KiB), answering its length and sha256. */
function digestSlowly(req, res) {
  const h = createHash('sha256');
  let n = 0, sinceRest = 0;
  req.on('data', (c) => {
    h.update(c);
    n += c.length;
    sinceRest += c.length;
    if (sinceRest >= 256 * 1024) {
      sinceRest = 0;
      req.pause();
      setTimeout(() => req.resume(), 5 + Math.random() * 15);
    }
  });
  req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
}

function handler(req, res) {
  const url = req.url;
  if (url.startsWith('/bytes/')) {
    const n = Number(url.slice(7));
    res.writeHead(200, { 'content-length': String(n) });
    servePattern(res, n);
  } else if (url === '/upload') {
    digestSlowly(req, res);
  } else {
    res.writeHead(404);
    res.end();
  }
}

test.before(async () => {
  h2app = http2.createServer(handler);
  h1app = http.createServer(handler);
  await new Promise((r) => h2app.listen(0, '127.0.0.1', r));
  await new Promise((r) => h1app.listen(0, '127.0.0.1', r));
  h2side = await sidecarFor(h2app.address().port);
  h1side = await sidecarFor(h1app.address().port);
  config = new ConfigDir();
  config.write('svc.yaml', [
    serviceYaml('web', 80), sliceYaml('web', [{ port: h2side.inbound.port }]), // HTTP/2 app behind a sidecar
    serviceYaml('legacy', 80), sliceYaml('legacy', [{ port: h1side.inbound.port }]), // HTTP/1.1 app behind a sidecar
    serviceYaml('plain', 80), sliceYaml('plain', [{ port: h1app.address().port }], { meshed: false }), // HTTP/1.1 app, no sidecar
  ].join('---\n'));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir, workload: 'default/client' });
});

test.after(async () => {
  await client?.close();
  await h2side?.close();
  await h1side?.close();
  h2app?.close();
  h1app?.close();
  config?.remove();
});

for (const [label, where] of [['one inbound hop (HTTP/2 app)', () => [`http://127.0.0.1:${h2side.inbound.port}`, null]],
  ['a sidecar pair (HTTP/2 app)', () => [`http://127.0.0.1:${client.outbound.port}`, 'web.default']],
  ['the outbound to an HTTP/1.1 endpoint (h2 → h1 translation)', () => [`http://127.0.0.1:${client.outbound.port}`, 'plain.default']]]) {
  test(`nghttp -w 16 -W 16: 1 MiB and 16 MiB, twice each, through ${label}: every byte, clean end`, async () => {
    const [base, authority] = where();
    for (const n of [MiB, 16 * MiB, MiB, 16 * MiB]) {
      const r = await run('nghttp', ['-w', '16', '-W', '16', ...(authority ? ['-H', `:authority: ${authority}`] : []), `${base}/bytes/${n}`], { timeout: 120_000 });
      assert.is(r.code, 0, `${n}: ${r.stderr}`);
      assert.not.match(r.stderr, /RST_STREAM|GOAWAY|CANCEL/, `${n}: ${r.stderr}`);
      assert.is(r.stdout.length, n, `${n} bytes wanted`);
      assert.is(createHash('sha256').update(r.stdout).digest('hex'), expected(n), `${n}: content`);
    }
  });
}

test('curl --limit-rate (slow readers), HTTP/2 and HTTP/1.1, through the pair to HTTP/2 and HTTP/1.1 apps', async () => {
  const n = 2 * MiB;
  for (const [proto, host] of [[['--http2-prior-knowledge'], 'web.default'], [[], 'legacy.default'], [['--http2-prior-knowledge'], 'plain.default']]) {
    const r = await run('curl', ['-sS', ...proto, '--limit-rate', '2M', '-H', `host: ${host}`, '-o', '-', `http://127.0.0.1:${client.outbound.port}/bytes/${n}`], { timeout: 60_000 });
    assert.is(r.code, 0, `${host} ${proto}: ${r.stderr}`);
    assert.is(r.stdout.length, n, `${host} ${proto}`);
    assert.is(createHash('sha256').update(r.stdout).digest('hex'), expected(n), `${host}: content`);
  }
});

test('node:http2 clients with 64 KiB windows reading in bursts: 8 streams × 4 MiB through the pair and one hop', async () => {
  const n = 4 * MiB;
  for (const [port, authority] of [[client.outbound.port, 'web.default'], [h2side.inbound.port, 'web.default']]) {
    const c = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 65535 } });
    try {
      const got = await Promise.all(Array.from({ length: 8 }, () => new Promise((resolve, reject) => {
        const req = c.request({ ':path': `/bytes/${n}`, ':authority': authority });
        const h = createHash('sha256');
        let len = 0, status = 0;
        req.on('response', (hd) => { status = hd[':status']; });
        req.on('data', (d) => {
          h.update(d);
          len += d.length;
          // read in bursts: now and then stop reading for a while, as a busy consumer does
          if (Math.random() < 0.03) { req.pause(); setTimeout(() => req.resume(), 10 + Math.random() * 40); }
        });
        req.on('end', () => resolve(`${status} ${len} ${h.digest('hex')}`));
        req.on('error', reject);
        req.on('close', () => { if (req.rstCode) reject(new Error(`reset ${req.rstCode} after ${len} bytes`)); });
        req.end();
      })));
      assert.equal(new Set(got), new Set([`200 ${n} ${expected(n)}`]));
    } finally { c.close(); }
  }
});

test('@grpc/grpc-js server streaming of 32 MiB to a client with a 64 KiB window, through the pair', async () => {
  const id = (b) => b;
  const Svc = { stream: { path: '/skiff.test.Bulk/Stream', requestStream: false, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };
  const Client = grpc.makeGenericClientConstructor(Svc, 'Bulk');
  const server = new grpc.Server();
  server.addService(Svc, {
    stream: (call) => {
      let i = 0;
      const more = () => {
        while (i < 1024) {
          const m = patternChunk(i * 32768, 32768);
          i++;
          if (!call.write(m)) { call.once('drain', more); return; }
        }
        call.end();
      };
      more();
    },
  });
  const port = await new Promise((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const side = await sidecarFor(port);
  config.write('bulk.yaml', serviceYaml('bulk', 50051, { appProtocol: 'grpc' }) + '---\n' + sliceYaml('bulk', [{ port: side.inbound.port }]));
  await new Promise((r) => setTimeout(r, 1500)); // the directory is polled every second
  const c = new Client(`127.0.0.1:${client.outbound.port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': 'bulk.default.svc.cluster.local:50051', 'grpc.http2.initial_window_size': 65535, 'grpc.http2.bdp_probe': 0,
  });
  try {
    const got = await new Promise((resolve, reject) => {
      const h = createHash('sha256');
      let n = 0;
      const call = c.stream(Buffer.alloc(0));
      call.on('data', (d) => {
        h.update(d);
        n += d.length;
        if (Math.random() < 0.02) { call.pause(); setTimeout(() => call.resume(), 20); }
      });
      call.on('error', (e) => reject(new Error(`${e.message} after ${n} bytes`)));
      call.on('end', () => resolve(`${n} ${h.digest('hex')}`));
    });
    assert.is(got, `${32 * MiB} ${expected(32 * MiB)}`);
  } finally {
    c.close();
    await side.close();
    server.forceShutdown();
  }
});

test('uploads to apps that read slowly: 8 MiB over HTTP/2 and HTTP/1.1, through the pair and one hop', async () => {
  const n = 8 * MiB;
  const body = Buffer.concat(Array.from({ length: 8 }, (_, i) => patternChunk(i * MiB, MiB)));
  const want = `${n} ${expected(n)}`;
  // HTTP/2 client, 64 KiB windows, to the HTTP/2 app: through the pair and straight to its sidecar
  for (const [port, authority] of [[client.outbound.port, 'web.default'], [h2side.inbound.port, 'web.default']]) {
    const c = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 65535 } });
    try {
      const got = await new Promise((resolve, reject) => {
        const req = c.request({ ':path': '/upload', ':method': 'POST', ':authority': authority });
        let t = '';
        req.setEncoding('utf8');
        req.on('data', (d) => { t += d; });
        req.on('end', () => resolve(t));
        req.on('error', reject);
        req.end(body);
      });
      assert.is(got, want, `HTTP/2 upload via ${port}`);
    } finally { c.close(); }
  }
  // HTTP/1.1 client to the HTTP/1.1 app: through the pair (h1 over the mesh's HTTP/2) and one hop
  for (const [port, host] of [[client.outbound.port, 'legacy.default'], [h1side.inbound.port, 'legacy.default']]) {
    const got = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { host }, agent: false }, (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { t += d; });
        res.on('end', () => resolve(t));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.is(got, want, `HTTP/1.1 upload via ${port}`);
  }
});

/** One GET (or POST with `body`) on a fresh node:http2 connection: { status, length, rst }. */
function h2get(port, path, body) {
  const c = http2.connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve) => {
    const req = c.request({ ':path': path, ':method': body ? 'POST' : 'GET' });
    let status = 0, length = 0, done = false;
    const finish = (rst) => { if (done) return; done = true; c.close(); resolve({ status, length, rst }); };
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (d) => { length += d.length; });
    req.resume();
    req.on('close', () => finish(req.rstCode ?? 0));
    req.on('error', () => finish(req.rstCode ?? -1));
    if (body) {
      // a slow upload: a chunk every few milliseconds
      let sent = 0;
      const tick = () => { if (req.destroyed) return; if (sent >= body) { req.end(); return; } req.write(Buffer.alloc(64 * 1024, 1)); sent += 64 * 1024; setTimeout(tick, 2); };
      tick();
    } else req.end();
  });
}

test('RST_STREAM(NO_ERROR) from the app after its response (RFC 9113 §8.1) ends the response normally; one cut short is reset', async () => {
  const { H2Session } = await import('../../dist/host/transport/h2-session.js');
  const net = await import('node:net');
  const server = net.createServer((socket) => {
    const session = new H2Session(socket, 'server', {}, {
      onStream(st) {
        st.autoConsume = true;
        const path = st.headers[st.headers.indexOf(':path') + 1];
        if (path === '/early') {
          // answers whole at once, then stops the upload it does not need
          st.respond([':status', '200', 'content-length', String(2 * MiB)]);
          st.end(patternChunk(0, 2 * MiB));
          setTimeout(() => st.reset(0), 50);
        } else if (path === '/no-end-stream') {
          // every byte sent, then NO_ERROR instead of END_STREAM (what Node's http2 server does under flow control)
          st.respond([':status', '200', 'content-length', '100000']);
          st.write(patternChunk(0, 100000));
          setTimeout(() => st.reset(0), 50);
        } else if (path === '/cut-short') {
          st.respond([':status', '200', 'content-length', '200000']);
          st.write(patternChunk(0, 100000));
          setTimeout(() => st.reset(0), 50);
        }
      },
    });
    void session;
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const side = await sidecarFor(server.address().port);
  try {
    assert.equal(await h2get(side.inbound.port, '/no-end-stream'), { status: 200, length: 100000, rst: 0 });
    const early = await h2get(side.inbound.port, '/early', 8 * MiB);
    assert.is(early.status, 200);
    assert.is(early.length, 2 * MiB, 'the whole response, though the upload was stopped');
    const cut = await h2get(side.inbound.port, '/cut-short');
    assert.is(cut.length, 100000);
    assert.ok(cut.rst !== 0, 'a response short of its content-length is not passed off as whole');
  } finally {
    await side.close();
    server.close();
  }
});

test('a proxy process serving a slow reader holds its windows, not the body: 64 MiB to curl --limit-rate 16M', async () => {
  const p = await spawnProxy(['--app', `127.0.0.1:${h2app.address().port}`]);
  try {
    // warm it up first (JIT, buffers), so what is measured next is what the slow reader makes it hold
    const warm = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', `http://127.0.0.1:${p.inbound}/bytes/${4 * MiB}`], { timeout: 60_000 });
    assert.is(warm.code, 0, warm.stderr);
    const before = p.peakRssMiB();
    const n = 64 * MiB;
    const r = await run('curl', ['-sS', '--http2-prior-knowledge', '--limit-rate', '16M', '-o', '-', `http://127.0.0.1:${p.inbound}/bytes/${n}`], { timeout: 60_000 });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.length, n);
    assert.is(createHash('sha256').update(r.stdout).digest('hex'), expected(n));
    const peak = p.peakRssMiB();
    // the app writes as fast as it may: a proxy that buffered instead of slowing it would grow by the
    // 64 MiB body; one that holds its windows (1 MiB stream, 4 MiB connection, 1 MiB socket) grows by little
    assert.ok(peak - before < 40, `peak RSS ${before.toFixed(1)} → ${peak.toFixed(1)} MiB`);
    console.log(`      peak RSS with a slow reader of 64 MiB: ${before.toFixed(1)} → ${peak.toFixed(1)} MiB`);
  } finally {
    await p.stop();
  }
});

test.run();

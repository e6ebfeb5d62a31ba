// HTTP/2 through two sidecars: client → outbound proxy → (mesh, HTTP/2) → inbound proxy → app.
// Real clients (curl, nghttp, node:http2), real config (Service + EndpointSlice YAML, watched).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor, eventually } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';
import { run } from '../helpers/run.mjs';
import { patternChunk } from '../helpers/h2-app.mjs';

const NAME = 'web.default.svc.cluster.local';
let apps = [], sidecars = [], client, config;

function h2App(id) {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = headers[':path'];
    if (path === '/echo') {
      stream.respond({ ':status': 200, 'x-app': id });
      stream.pipe(stream);
    } else if (path === '/digest') {
      const h = createHash('sha256');
      let n = 0;
      stream.on('data', (c) => { h.update(c); n += c.length; });
      stream.on('end', () => { stream.respond({ ':status': 200, 'x-app': id }); stream.end(`${n} ${h.digest('hex')}`); });
    } else if (path.startsWith('/bytes/')) {
      stream.respond({ ':status': 200, 'x-app': id });
      stream.end(patternChunk(0, Number(path.slice(7))));
    } else {
      stream.respond({ ':status': 200, 'x-app': id, 'x-seen-authority': headers[':authority'], 'x-seen-via': headers.via ?? '' });
      stream.end(`hello from ${id}\n`);
    }
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

test.before(async () => {
  apps = [await h2App('a'), await h2App('b')];
  sidecars = [await sidecarFor(apps[0].address().port), await sidecarFor(apps[1].address().port)];
  config = new ConfigDir();
  // two slices, one per sidecar (ports differ, so one slice each)
  config.write('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', [{ port: sidecars[0].inbound.port }], { name: 'web-a' }) +
    '---\n' + sliceYaml('web', [{ port: sidecars[1].inbound.port }], { name: 'web-b' }));
  config.write('lonely.yaml', serviceYaml('lonely', 80));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir, configPollMs: 50, workload: 'default/client', log: process.env.SKIFF_TEST_LOG ? console.log : undefined });
});

test.after(async () => {
  await client.close();
  for (const s of sidecars) await s.close();
  for (const a of apps) a.close();
  config.remove();
});

const outUrl = () => `http://127.0.0.1:${client.outbound.port}`;

test('curl (h2c) reaches the app through both sidecars, authority kept, Via added per hop', async () => {
  const r = await run('curl', ['-sS', '--http2-prior-knowledge', '-D', '-', '--connect-to', `${NAME}:80:127.0.0.1:${client.outbound.port}`, `http://${NAME}/hello`]);
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /^HTTP\/2 200/);
  assert.match(out, /hello from [ab]/);
  assert.match(out, new RegExp(`x-seen-authority: ${NAME}`));
  assert.match(out, /x-seen-via: 2 skiff, 2 skiff/);
  assert.match(out, /via: 2 skiff, 2 skiff/);
});

test('nghttp: short names resolve in the proxy namespace; concurrent requests spread over both endpoints', async () => {
  // peak-EWMA balancing: one request at a time goes to the fastest endpoint; requests in flight
  // together weigh on its cost, and spread
  const seen = new Set();
  for (let i = 0; i < 5 && seen.size < 2; i++) {
    const r = await run('nghttp', ['-H', `:authority: web`, '-m', '20', `${outUrl()}/hello`]);
    assert.is(r.code, 0, r.stderr);
    for (const line of r.stdout.toString().split('\n')) if (line.trim()) seen.add(line.trim());
  }
  assert.equal([...seen].sort(), ['hello from a', 'hello from b']);
});

test('node:http2: 8 MiB upload digested, 8 MiB echoed, 8 MiB downloaded, through the mesh', async () => {
  const c = http2.connect(outUrl());
  const req = (path, body) => new Promise((resolve, reject) => {
    const s = c.request({ ':method': body ? 'POST' : 'GET', ':path': path, ':authority': 'web.default' });
    const chunks = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.end(body);
  });
  try {
    const body = patternChunk(0, 8 << 20);
    const digest = (await req('/digest', body)).toString();
    assert.is(digest, `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
    const echo = await req('/echo', body);
    assert.ok(echo.equals(body), 'echo differs');
    const down = await req(`/bytes/${8 << 20}`);
    assert.ok(down.equals(body), 'download differs');
  } finally {
    c.close();
  }
});

async function get(authority, headers = {}) {
  const c = http2.connect(outUrl());
  try {
    return await new Promise((resolve, reject) => {
      const s = c.request({ ':path': '/', ':authority': authority, ...headers });
      let head;
      const chunks = [];
      s.on('response', (h) => { head = h; });
      s.on('data', (d) => chunks.push(d));
      s.on('end', () => resolve({ head, body: Buffer.concat(chunks).toString() }));
      s.on('error', reject);
      s.end();
    });
  } finally {
    c.close();
  }
}

test('unknown service → 404, service without endpoints → 503, each with skiff-proxy-error', async () => {
  const nf = await get('nope.default.svc.cluster.local');
  assert.is(nf.head[':status'], 404);
  assert.match(nf.head['skiff-proxy-error'], /no Service default\/nope/);
  const empty = await get('lonely.default');
  assert.is(empty.head[':status'], 503);
  assert.match(empty.head['skiff-proxy-error'], /no ready endpoints/);
  const port = await get('web.default:8081');
  assert.is(port.head[':status'], 404);
  assert.match(port.head['skiff-proxy-error'], /no TCP port 8081/);
});

test('gRPC callers get trailers-only errors with grpc-status', async () => {
  const r = await get('lonely.default', { 'content-type': 'application/grpc', te: 'trailers' });
  assert.is(r.head[':status'], 200);
  assert.is(r.head['grpc-status'], '14');
  assert.match(r.head['grpc-message'], /no ready endpoints/);
  const nf = await get('nope.default', { 'content-type': 'application/grpc+proto', te: 'trailers' });
  assert.is(nf.head['grpc-status'], '12');
});

/** Writes a config file and waits until the proxy applied it (or, for a bad one, had time to reject it). */
async function reconfigure(file, text, { valid = true } = {}) {
  const gen = client.configGeneration;
  config.write(file, text);
  if (valid) assert.ok(await eventually(() => client.configGeneration > gen), 'config was not applied');
  else await new Promise((r) => setTimeout(r, 300));
}

test('an endpoint removed from its EndpointSlice stops receiving new requests', async () => {
  await reconfigure('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', [{ port: sidecars[0].inbound.port }], { name: 'web-a' }));
  for (let i = 0; i < 20; i++) assert.is((await get('web.default')).body, 'hello from a\n');
});

test('an invalid config change is rejected and the last good config keeps serving', async () => {
  const gen = client.configGeneration;
  await reconfigure('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: Bad_Name\nspec:\n  ports:\n    - port: 99999\n', { valid: false });
  assert.is(client.configGeneration, gen);
  assert.is((await get('web.default')).body, 'hello from a\n');
  await reconfigure('broken.yaml', '# fixed\n');
});

test('endpoint that refuses connections → 502 with the reason', async () => {
  await reconfigure('dead.yaml', serviceYaml('dead', 80) + '---\n' + sliceYaml('dead', [{ port: 1 }]));
  const r = await get('dead.default');
  assert.is(r.head[':status'], 502);
  assert.match(r.head['skiff-proxy-error'], /ECONNREFUSED/);
});

test.run();

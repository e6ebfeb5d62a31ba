// Failure handling through two sidecars: upstream timeouts (504, gRPC DEADLINE_EXCEEDED), HTTP/2
// requests that would smuggle a second request past an HTTP/1.1 application, and config changes
// while requests are in flight.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor, eventually } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';
import { PREFACE, F, E, frame, settings, settingsAck, headers, data, parseFrames, T } from '../helpers/frames.mjs';

let app, sidecar, client, config, seen = [], aborted = 0, grpcApp, grpcSidecar;

test.before(async () => {
  app = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.on('data', () => {});
    if (req.url.startsWith('/hang')) { res.on('close', () => { if (!res.writableFinished) aborted++; }); return; }
    if (req.url.startsWith('/slow')) { setTimeout(() => res.end('slow done'), 150); return; }
    req.on('end', () => res.end(`ok ${req.url}`));
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  sidecar = await sidecarFor(app.address().port, { responseTimeoutMs: 2000 });
  grpcApp = http2.createServer();
  grpcApp.on('stream', () => {}); // never answers
  await new Promise((r) => grpcApp.listen(0, '127.0.0.1', r));
  grpcSidecar = await sidecarFor(grpcApp.address().port);
  config = new ConfigDir();
  config.write('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', [{ port: sidecar.inbound.port }]));
  config.write('rpc.yaml', serviceYaml('rpc', 80, { appProtocol: 'grpc' }) + '---\n' + sliceYaml('rpc', [{ port: grpcSidecar.inbound.port }]));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir, configPollMs: 50, responseTimeoutMs: 300 });
});

test.after(async () => {
  await client.close();
  await sidecar.close();
  await grpcSidecar.close();
  grpcApp.close();
  app.close();
  config.remove();
});

function get(path, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: client.outbound.port, path, headers: { host: 'web.default', ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

test('an upstream that never answers → 504 with the reason, and the app request is cancelled', async () => {
  aborted = 0;
  const r = await get('/hang');
  assert.is(r.status, 504);
  assert.match(r.headers['skiff-proxy-error'], /did not answer within 300 ms/);
  assert.ok(await eventually(() => aborted === 1), 'the app saw the abandoned request go away');
});

test('an HTTP/1.1 client that closes its connection mid-request cancels the request at the app', async () => {
  aborted = 0;
  // raw socket: the request, then a FIN while the app has not answered (as hyper and Envoy, an
  // EOF in the middle of an exchange is an abort, not a half-close to wait out)
  const s = net.connect(client.outbound.port, '127.0.0.1');
  let answer = '';
  s.on('data', (c) => { answer += c; });
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  s.write('GET /hang/fin HTTP/1.1\r\nhost: web.default\r\n\r\n');
  assert.ok(await eventually(() => seen.includes('GET /hang/fin')), 'the request reached the app');
  s.end();
  assert.ok(await eventually(() => aborted === 1), 'the app saw the request go away');
  await new Promise((r) => (s.destroyed || s.readableEnded ? r() : s.once('close', r)));
  // cancelled for the FIN, not later by the 300 ms response timeout (which would have answered 504)
  assert.is(answer, '');
});

test('gRPC callers get DEADLINE_EXCEEDED (4) as a trailers-only response', async () => {
  const c = http2.connect(`http://127.0.0.1:${client.outbound.port}`);
  const head = await new Promise((resolve, reject) => {
    const s = c.request({ ':method': 'POST', ':path': '/pkg.Svc/Hang', ':authority': 'rpc.default', 'content-type': 'application/grpc', te: 'trailers' });
    s.on('response', resolve);
    s.on('error', reject);
    s.end();
  });
  assert.is(head[':status'], 200);
  assert.is(head['grpc-status'], '4');
  c.close();
});

/** Raw HTTP/2 to the inbound sidecar: preface, settings, then `frames`; returns what came back. */
function rawH2(frames) {
  return new Promise((resolve) => {
    const s = net.connect(sidecar.inbound.port, '127.0.0.1');
    const chunks = [];
    s.on('data', (c) => chunks.push(c));
    s.write(Buffer.concat([PREFACE, settings(), settingsAck(), ...frames]));
    setTimeout(() => { s.destroy(); resolve(parseFrames(Buffer.concat(chunks))); }, 300);
  });
}

test('h2 → h1: a body longer than its content-length cannot smuggle a request to the app', async () => {
  seen = [];
  const smuggle = 'hello' + 'GET /smuggled HTTP/1.1\r\nHost: web\r\n\r\n';
  const out = await rawH2([
    headers(1, [':method', 'POST', ':scheme', 'http', ':authority', 'web', ':path', '/upload', 'content-length', '5', 'skiff-orig-proto', 'HTTP/1.1'], F.END_HEADERS),
    data(1, smuggle, F.END_STREAM),
  ]);
  const rst = out.find((f) => f.type === T.RST_STREAM && f.sid === 1);
  assert.ok(rst, 'stream reset');
  assert.is(rst.payload.readUInt32BE(0), E.PROTOCOL_ERROR);
  await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(seen.includes('GET /smuggled'), JSON.stringify(seen));
});

test('h2 → h1: CR/LF in a field value, or transfer-encoding, never reach the app', async () => {
  seen = [];
  const out = await rawH2([
    headers(1, [':method', 'GET', ':scheme', 'http', ':authority', 'web', ':path', '/a', 'x-evil', 'a\r\nGET /smuggled HTTP/1.1', 'skiff-orig-proto', 'HTTP/1.1'], F.END_HEADERS | F.END_STREAM),
    headers(3, [':method', 'POST', ':scheme', 'http', ':authority', 'web', ':path', '/b', 'transfer-encoding', 'chunked', 'skiff-orig-proto', 'HTTP/1.1'], F.END_HEADERS),
  ]);
  assert.ok(out.some((f) => f.type === T.RST_STREAM && f.sid === 1));
  assert.ok(out.some((f) => f.type === T.RST_STREAM && f.sid === 3));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(seen, []);
});

test('a request in flight when its endpoint is removed still completes; later ones get 503', async () => {
  const pending = get('/slow');
  await new Promise((r) => setTimeout(r, 50));
  const gen = client.configGeneration;
  config.write('web.yaml', serviceYaml('web', 80));
  assert.ok(await eventually(() => client.configGeneration > gen));
  const r = await pending;
  assert.is(r.status, 200);
  assert.is(r.body, 'slow done');
  const after = await get('/x');
  assert.is(after.status, 503);
  config.write('web.yaml', serviceYaml('web', 80) + '---\n' + sliceYaml('web', [{ port: sidecar.inbound.port }]));
});

test.run();

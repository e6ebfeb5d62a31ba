// WebSocket (ws) through two sidecars: the HTTP/1.1 Upgrade becomes an RFC 8441 extended CONNECT
// on the mesh's HTTP/2 and an Upgrade again at the far side; frames flow both ways; close works.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';

let server, wss, sidecar, client, config, serverClosed;

test.before(async () => {
  server = http.createServer((req, res) => res.end('not a websocket\n'));
  wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(`welcome via ${req.headers.via}`);
    ws.on('message', (m, binary) => ws.send(binary ? m : `echo:${m}`, { binary }));
    ws.on('close', (code) => { serverClosed = code; });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  sidecar = await sidecarFor(server.address().port);
  config = new ConfigDir();
  config.write('ws.yaml', serviceYaml('chat', 80) + '---\n' + sliceYaml('chat', [{ port: sidecar.inbound.port }]));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir });
});

test.after(async () => {
  await client.close();
  await sidecar.close();
  wss.close();
  server.close();
  config.remove();
});

function open(port, host) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/room`, { headers: { host } });
  const messages = [];
  ws.on('message', (m, binary) => messages.push(binary ? Buffer.from(m) : m.toString()));
  return new Promise((resolve, reject) => { ws.once('open', () => resolve({ ws, messages })); ws.once('error', reject); });
}
async function until(fn, ms = 5000) {
  for (let t = 0; t < ms; t += 20) { if (fn()) return true; await new Promise((r) => setTimeout(r, 20)); }
  return fn();
}

test('echo through outbound → mesh (extended CONNECT) → inbound → app, text and 1 MiB binary', async () => {
  const { ws, messages } = await open(client.outbound.port, 'chat.default');
  ws.send('hello');
  const blob = Buffer.alloc(1 << 20, 9);
  ws.send(blob);
  assert.ok(await until(() => messages.length >= 3), JSON.stringify(messages.map(String).map((m) => m.slice(0, 40))));
  assert.is(messages[0], 'welcome via 1.1 skiff, 2 skiff');
  assert.is(messages[1], 'echo:hello');
  assert.ok(Buffer.isBuffer(messages[2]) && messages[2].equals(blob));
  serverClosed = undefined;
  ws.close(1000, 'bye');
  assert.ok(await until(() => serverClosed === 1000), 'server saw the close');
});

test('straight to the inbound sidecar (HTTP/1.1 Upgrade on both sides)', async () => {
  const { ws, messages } = await open(sidecar.inbound.port, 'chat.default');
  ws.send('direct');
  assert.ok(await until(() => messages.length >= 2));
  assert.is(messages[1], 'echo:direct');
  ws.close();
});

test('plain HTTP still works on the same service', async () => {
  const body = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: client.outbound.port, path: '/', headers: { host: 'chat.default' } }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  assert.is(body, 'not a websocket\n');
});

test.run();

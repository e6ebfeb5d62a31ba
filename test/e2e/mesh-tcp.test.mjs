// Opaque TCP: a raw echo server behind a sidecar. Through the mesh the client asks its sidecar
// with HTTP CONNECT (the tunnel crosses as an HTTP/2 CONNECT stream); straight to the inbound
// sidecar, bytes that are not HTTP are detected as opaque and relayed as they are.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { ConfigDir, serviceYaml, sliceYaml, sidecarFor } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';

let echo, greeter, sidecar, greeterSidecar, opaqueSidecar, client, config;

test.before(async () => {
  echo = net.createServer((s) => s.pipe(s));
  greeter = net.createServer((s) => { s.write('220 greetings from a server-speaks-first protocol\r\n'); s.pipe(s); });
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  await new Promise((r) => greeter.listen(0, '127.0.0.1', r));
  sidecar = await sidecarFor(echo.address().port);
  greeterSidecar = await sidecarFor(greeter.address().port, { detectTimeoutMs: 200 });
  // the same greeter behind a sidecar that knows its port is opaque: no detection wait at all
  opaqueSidecar = await sidecarFor(greeter.address().port, { detectTimeoutMs: 60_000, opaquePorts: [greeter.address().port] });
  config = new ConfigDir();
  config.write('echo.yaml', serviceYaml('echo', 7) + '---\n' + sliceYaml('echo', [{ port: sidecar.inbound.port }]));
  config.write('mail.yaml', serviceYaml('mail', 25).replace('metadata:\n  name: mail', 'metadata:\n  name: mail\n  annotations:\n    skiff.io/opaque-ports: "25"') +
    '---\n' + sliceYaml('mail', [{ port: opaqueSidecar.inbound.port }]));
  config.write('down.yaml', serviceYaml('down', 7) + '---\n' + sliceYaml('down', [{ port: 1 }], { meshed: false }));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir });
});

test.after(async () => {
  await client.close();
  await sidecar.close();
  await greeterSidecar.close();
  await opaqueSidecar.close();
  echo.close();
  greeter.close();
  config.remove();
});

function talk(port, first, until) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => { s.destroy(); resolve({ got: got.toString('latin1'), s: null }); }, 5000);
    s.on('data', (c) => {
      got = Buffer.concat([got, c]);
      if (until(got.toString('latin1'))) { clearTimeout(timer); resolve({ got: got.toString('latin1'), s }); }
    });
    s.on('error', reject);
    if (first) s.write(Buffer.from(first, 'latin1'));
  });
}

test('CONNECT through outbound → mesh → inbound → TCP echo, 4 MiB both ways, then half-close', async () => {
  const { got, s } = await talk(client.outbound.port, 'CONNECT echo.default:7 HTTP/1.1\r\nHost: echo.default:7\r\n\r\n', (t) => t.includes('\r\n\r\n'));
  assert.match(got, /^HTTP\/1.1 200 /);
  const payload = Buffer.alloc(4 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 253;
  const back = await new Promise((resolve) => {
    const chunks = [];
    let n = 0;
    s.removeAllListeners('data');
    s.on('data', (c) => { chunks.push(c); n += c.length; });
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.end(payload); // half-close: the echo server ends its side after echoing everything
  });
  assert.is(back.length, payload.length);
  assert.ok(back.equals(payload));
});

test('CONNECT to a service whose endpoint refuses → 502 with the reason', async () => {
  const { got } = await talk(client.outbound.port, 'CONNECT down.default:7 HTTP/1.1\r\nHost: down.default:7\r\n\r\n', (t) => t.includes('\r\n\r\n'));
  assert.match(got, /^HTTP\/1.1 502 /);
  assert.match(got, /skiff-proxy-error: .*ECONNREFUSED/);
});

test('non-HTTP bytes to the inbound sidecar are relayed opaquely', async () => {
  const { got, s } = await talk(sidecar.inbound.port, '\x00\x01binary protocol\xff', (t) => t.length >= 18);
  assert.is(got, '\x00\x01binary protocol\xff');
  s.destroy();
});

test('a server-speaks-first protocol works once detection times out', async () => {
  const { got, s } = await talk(greeterSidecar.inbound.port, null, (t) => t.includes('\r\n'));
  assert.match(got, /^220 greetings/);
  s.destroy();
});

test('--opaque-ports: a server-speaks-first app answers at once, with no detection wait', async () => {
  // detection would hold the connection for 60 s; talk() gives up after 5
  const { got, s } = await talk(opaqueSidecar.inbound.port, null, (t) => t.includes('\r\n'));
  assert.match(got, /^220 greetings/);
  s.destroy();
});

test('skiff.io/opaque-ports: CONNECT to an opaque service port goes as plain TCP to the endpoint sidecar', async () => {
  const { got, s } = await talk(client.outbound.port, 'CONNECT mail.default:25 HTTP/1.1\r\nHost: mail.default:25\r\n\r\n', (t) => /220 greetings.*\r\n/.test(t));
  assert.match(got, /^HTTP\/1.1 200 /);
  assert.match(got, /220 greetings/);
  s.destroy();
});

test.run();

// ClientHello reading (host/transport/client-hello.ts), on hellos real clients send: openssl
// s_client, Node's TLS, curl — their server name and ALPN offer; every prefix is "more", never a
// wrong answer; mutated hellos never throw.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import tls from 'node:tls';
import fc from 'fast-check';
import { parseClientHello } from '../../dist/host/transport/client-hello.js';
import { run } from '../helpers/run.mjs';

/** The first bytes a client sends to a server that never answers. */
async function capture(connect) {
  let resolveHello;
  const got = new Promise((r) => { resolveHello = r; });
  const server = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      if (parseClientHello(buf) !== 'more') { resolveHello(buf); s.destroy(); }
    });
    s.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const client = connect(server.address().port);
  const hello = await got;
  server.close();
  await client;
  return hello;
}

const hellos = {};

test.before(async () => {
  hellos.openssl = await capture((port) => run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'web.default.svc.cluster.local', '-alpn', 'skiff.mesh/h2,h2'], { input: '', timeout: 10_000 }).catch(() => {}));
  hellos.node = await capture((port) => new Promise((r) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'api.shop', ALPNProtocols: ['skiff.mesh/h2'] });
    s.on('error', () => r());
    s.on('close', () => r());
  }));
  hellos.curl = await capture((port) => run('curl', ['-sk', '--http2', '--max-time', '5', '--resolve', `app.example.com:${port}:127.0.0.1`, `https://app.example.com:${port}/`]).catch(() => {}));
});

test('real clients: server name and ALPN offer', () => {
  assert.equal(parseClientHello(hellos.openssl), { serverName: 'web.default.svc.cluster.local', alpn: ['skiff.mesh/h2', 'h2'] });
  assert.equal(parseClientHello(hellos.node), { serverName: 'api.shop', alpn: ['skiff.mesh/h2'] });
  const c = parseClientHello(hellos.curl);
  assert.is(c.serverName, 'app.example.com');
  assert.ok(c.alpn.includes('h2'), JSON.stringify(c));
});

test('every proper prefix asks for more; the whole hello, split anywhere, reads the same', () => {
  for (const h of Object.values(hellos)) {
    const whole = parseClientHello(h);
    for (let n = 0; n < h.length; n += Math.max(1, h.length >> 6)) {
      const r = parseClientHello(h.subarray(0, n));
      assert.ok(r === 'more', `prefix ${n}/${h.length}: ${JSON.stringify(r)}`);
    }
    // the same handshake re-cut into small records (as a client may send it)
    const body = h.subarray(5, 5 + h.readUInt16BE(3));
    const pieces = [];
    for (let i = 0; i < body.length; i += 100) {
      const part = body.subarray(i, i + 100);
      pieces.push(Buffer.from([22, 3, 1, part.length >> 8, part.length & 255]), part);
    }
    assert.equal(parseClientHello(Buffer.concat(pieces)), whole);
  }
});

test('not a ClientHello: invalid; mutations never throw', () => {
  assert.is(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), 'invalid');
  assert.is(parseClientHello(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])), 'invalid'); // a ServerHello
  assert.is(parseClientHello(Buffer.from([23, 3, 3, 0, 1, 0])), 'invalid'); // application data
  const seed = hellos.openssl;
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(seed.length), (flips, cut) => {
    const m = Buffer.from(seed);
    for (const [i, v] of flips) m[i] = v;
    const r = parseClientHello(m.subarray(0, cut));
    return r === 'more' || r === 'invalid' || (typeof r === 'object' && Array.isArray(r.alpn));
  }), { numRuns: 3000 });
});

test.run();

// Requests an upstream refused without processing them (its GOAWAY's last stream id is below
// theirs, as when a peer sidecar drains) are sent again on a fresh connection, whatever their
// method (RFC 9113 §8.7), with the body so far while it is held (64 KiB); a request whose body
// streamed past that cannot be sent again and is answered 503.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import http from 'node:http';
import { H2Session } from '../../dist/host/transport/h2-session.js';
import { ConfigDir, serviceYaml, sliceYaml } from '../helpers/mesh.mjs';
import { startProxy } from '../../dist/host/index.js';

let endpoint, client, config, connections = 0, refuseNext = true;

test.before(async () => {
  // a "sidecar" that refuses everything on a connection once, with GOAWAY(last stream 0)
  endpoint = net.createServer((socket) => {
    connections++;
    const session = new H2Session(socket, 'server', {}, {
      onStream(st) {
        if (refuseNext) {
          refuseNext = false;
          session.conn.goaway(0, 0);
          session.flush();
          return;
        }
        st.autoConsume = true;
        let n = 0;
        st.onData = (d) => { n += d.length; };
        st.onEnd = () => { st.respond([':status', '200']); st.end(Buffer.from(`served on connection ${connections}${n ? ` (${n} bytes)` : ''}`)); };
        if (st.remoteEnded) st.onEnd();
      },
    });
  });
  await new Promise((r) => endpoint.listen(0, '127.0.0.1', r));
  config = new ConfigDir();
  config.write('svc.yaml', serviceYaml('svc', 80) + '---\n' + sliceYaml('svc', [{ port: endpoint.address().port }]));
  client = await startProxy({ outbound: '127.0.0.1:0', inbound: '127.0.0.1:0', admin: null, config: config.dir });
});

test.after(async () => {
  await client.close();
  endpoint.close();
  config.remove();
});

function request(method, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: client.outbound.port, method, path: '/', headers: { host: 'svc.default' } }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: b, error: res.headers['skiff-proxy-error'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a GET refused by GOAWAY is retried on a new connection and succeeds', async () => {
  connections = 0;
  refuseNext = true;
  const r = await request('GET');
  assert.is(r.status, 200, r.error);
  assert.is(r.body, 'served on connection 2');
});

test('a POST with a small body refused by GOAWAY is sent again, body and all', async () => {
  connections = 0;
  refuseNext = true;
  const r = await request('POST', Buffer.alloc(10_000, 1));
  assert.is(r.status, 200, r.error);
  // the refusing connection was the previous test's; the POST was served on a new one, whole
  assert.is(r.body, `served on connection ${connections} (10000 bytes)`);
  assert.is(connections, 1);
});

test('a POST whose body streamed past what is held is not sent again: 503 saying why', async () => {
  refuseNext = true;
  const r = await request('POST', Buffer.alloc(100000, 1));
  assert.is(r.status, 503);
  assert.match(r.error, /refused/);
});

test.run();

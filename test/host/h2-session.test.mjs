// H2Session behaviour that needs a socket: floods from a peer that does not read, SETTINGS
// timeout, graceful shutdown, a throwing handler, and cancellation both ways.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import http2 from 'node:http2';
import { H2Session } from '../../dist/host/transport/h2-session.js';
import { PREFACE, T, F, E, frame, settings, settingsAck, ping, headers, rstStream, parseFrames, GET, POST } from '../helpers/frames.mjs';
import { connect, fetchOn, startServer } from '../helpers/h2-app.mjs';

function rawServer(options, events = {}) {
  return new Promise((resolve) => {
    const made = [];
    const server = net.createServer((socket) => made.push(new H2Session(socket, 'server', options, events)));
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, sessions: made }));
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(pred, ms = 5000) {
  for (let t = 0; t < ms; t += 20) { if (pred()) return true; await sleep(20); }
  return pred();
}
function readAll(socket) {
  const chunks = [];
  socket.on('data', (c) => chunks.push(c));
  return () => Buffer.concat(chunks);
}

test('PING flood from a peer that never reads: the server stops reading, its buffer stays bounded', async () => {
  const { server, port, sessions } = await rawServer({ socketHighWater: 256 * 1024 });
  const client = net.connect(port, '127.0.0.1');
  client.pause(); // never read the ACKs
  await new Promise((r) => client.once('connect', r));
  const burst = Buffer.concat(Array.from({ length: 4096 }, () => ping()));
  client.write(Buffer.concat([PREFACE, settings()]));
  let written = 0;
  for (let i = 0; i < 200; i++) { client.write(burst); written += burst.length; }
  await until(() => sessions[0]?.socket.isPaused());
  const s = sessions[0];
  assert.ok(s.socket.isPaused(), 'the server paused reading');
  // at most the high-water mark plus what one read produced
  assert.ok(s.socket.writableLength < 256 * 1024 + 64 * 1024 * 2, `write buffer ${s.socket.writableLength}`);
  assert.ok(written > 3 << 20);
  client.destroy();
  server.close();
});

test('a peer that opens its windows but never reads gets no unbounded buffering (CVE-2019-9517)', async () => {
  const { server, port, sessions } = await rawServer({ socketHighWater: 256 * 1024 }, {
    onStream(st) {
      st.respond([':status', '200']);
      // an endless body, written as fast as write() allows
      let writes = 0;
      const more = () => { while (writes < 4000 && st.write(Buffer.alloc(65536))) writes++; if (writes < 4000) st.onDrain = more; };
      more();
    },
  });
  const client = net.connect(port, '127.0.0.1');
  client.pause(); // never read
  await new Promise((r) => client.once('connect', r));
  // huge windows: flow control would let the server send gigabytes
  client.write(Buffer.concat([PREFACE, settings([[4, 2 ** 31 - 1]]), settingsAck(), frame(T.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0, 0])),
    headers(1, GET, F.END_HEADERS | F.END_STREAM)]));
  await sleep(500);
  const s = sessions[0];
  const buffered = s.socket.writableLength + s.conn.pendingOutput;
  assert.ok(buffered < 256 * 1024 + 3 * 65536, `server buffers ${buffered} bytes for a peer that does not read`);
  client.destroy();
  server.close();
});

test('SETTINGS never acknowledged → GOAWAY SETTINGS_TIMEOUT and close', async () => {
  const { server, port } = await rawServer({ settingsTimeoutMs: 150 });
  const client = net.connect(port, '127.0.0.1');
  const got = readAll(client);
  client.write(Buffer.concat([PREFACE, settings()])); // but no ACK of the server's
  await new Promise((r) => client.once('close', r));
  const g = parseFrames(got()).find((f) => f.type === T.GOAWAY);
  assert.ok(g, 'GOAWAY sent');
  assert.is(g.payload.readUInt32BE(4), 4); // SETTINGS_TIMEOUT
  server.close();
});

test('an HTTP/2 connection idle past its timeout gets GOAWAY and is closed', async () => {
  const { server, port, sessions } = await rawServer({ idleTimeoutMs: 150 }, { onStream(st) { st.respond([':status', '204'], true); } });
  const client = net.connect(port, '127.0.0.1');
  const got = readAll(client);
  client.write(Buffer.concat([PREFACE, settings(), settingsAck(), headers(1, GET, F.END_HEADERS | F.END_STREAM)]));
  await new Promise((r) => client.once('close', r));
  const frames = parseFrames(got());
  assert.ok(frames.some((f) => f.type === T.HEADERS && f.sid === 1), 'the request was answered first');
  assert.is(sessions[0].streamCount, 0, 'a head-only response leaves no stream behind');
  const g = frames.find((f) => f.type === T.GOAWAY);
  assert.ok(g);
  assert.is(g.payload.readUInt32BE(4), 0);
  assert.is(g.payload.readUInt32BE(0), 1, 'last stream id');
  server.close();
});

test('bodies left unread by answered, reset streams do not eat the connection window', async () => {
  // the server answers before reading and resets the rest (RFC 9113 §8.1): 20 × 1 MiB on one
  // connection whose window is 4 MiB would stall by the fifth request if that data were never credited
  const { server, port } = await rawServer({ connectionWindowSize: 4 << 20, initialWindowSize: 1 << 20 }, {
    onStream(st) {
      st.autoConsume = false;
      st.onData = () => {};
      setTimeout(() => { st.respond([':status', '413'], true); st.reset(E.NO_ERROR); }, 5);
    },
  });
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    for (let i = 0; i < 20; i++) {
      const status = await new Promise((resolve, reject) => {
        const req = client.request({ ':method': 'POST', ':path': '/upload' });
        req.on('response', (h) => resolve(h[':status']));
        req.on('error', (e) => (e.code === 'ERR_HTTP2_STREAM_ERROR' ? null : reject(e)));
        req.write(Buffer.alloc(1 << 20));
      });
      assert.is(status, 413, `request ${i}`);
    }
  } finally {
    client.destroy();
    server.close();
  }
});

test('a handler that throws ends its connection, not the process', async () => {
  const { server, port } = await rawServer({}, { onStream() { throw new Error('handler bug'); } });
  const client = net.connect(port, '127.0.0.1');
  readAll(client);
  client.write(Buffer.concat([PREFACE, settings(), settingsAck(), headers(1, GET, F.END_HEADERS | F.END_STREAM)]));
  await new Promise((r) => client.once('close', r));
  server.close();
});

test('graceful shutdown: GOAWAY, in-flight streams finish, then the connection closes', async () => {
  const app = await startServer();
  const s = await connect(app.port);
  const pending = fetchOn(s, [':method', 'GET', ':scheme', 'http', ':authority', 'x', ':path', `/bytes/${2 << 20}`]);
  await sleep(5);
  const [srv] = app.sessions;
  srv.shutdown();
  const r = await pending;
  assert.is(r.body.length, 2 << 20);
  await until(() => s.isClosed);
  assert.ok(s.isClosed);
  await app.close();
});

test('client cancels mid-download: the server stream sees the reset and stops sending', async () => {
  let serverStream;
  const { server, port } = await rawServer({}, {
    onStream(st) {
      serverStream = st;
      st.respond([':status', '200']);
      const more = () => { while (st.write(Buffer.alloc(65536))); st.onDrain = more; };
      more();
    },
  });
  const s = await connect(port);
  const st = s.request([':method', 'GET', ':scheme', 'http', ':authority', 'x', ':path', '/'], true);
  let received = 0;
  await new Promise((resolve) => { st.onData = (d) => { received += d.length; if (received > 200000) resolve(); }; });
  let resetSeen;
  await until(() => serverStream);
  serverStream.onReset = (e) => { resetSeen = e; };
  st.reset();
  await until(() => resetSeen);
  assert.is(resetSeen.code, E.CANCEL);
  assert.ok(serverStream.closed);
  assert.is(serverStream.bufferedAmount, 0);
  s.shutdown();
  server.close();
});

test('server resets a stream: the client request fails with the code', async () => {
  const { server, port } = await rawServer({}, { onStream(st) { st.reset(E.REFUSED_STREAM); } });
  const s = await connect(port);
  const err = await fetchOn(s, [':method', 'GET', ':scheme', 'http', ':authority', 'x', ':path', '/']).then(() => null, (e) => e);
  assert.ok(err);
  assert.is(err.code, E.REFUSED_STREAM);
  assert.ok(err.refused, 'REFUSED_STREAM is safe to retry');
  s.shutdown();
  server.close();
});

test('a request head over the header list limit is answered 431', async () => {
  const { server, port } = await rawServer({ maxHeaderListSize: 4096 }, { onStream(st) { st.respond([':status', '200'], true); } });
  const s = await connect(port);
  const r = await fetchOn(s, [':method', 'GET', ':scheme', 'http', ':authority', 'x', ':path', '/', 'x-big', 'a'.repeat(8000)]);
  assert.is(r.status, 431);
  const ok = await fetchOn(s, [':method', 'GET', ':scheme', 'http', ':authority', 'x', ':path', '/']);
  assert.is(ok.status, 200);
  s.shutdown();
  server.close();
});

test.run();

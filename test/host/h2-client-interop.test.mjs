// A client built on the core fetches from real servers: nghttpd and Node's http2 server,
// with multi-MiB downloads and uploads (flow control both ways), trailers, 1xx and HEAD.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, fetchOn, field, patternChunk } from '../helpers/h2-app.mjs';
import { freePort, waitForPort } from '../helpers/ports.mjs';

const pattern = (n) => patternChunk(0, n);
let dir, nghttpd, nghttpdPort, nodeServer, nodePort;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-client-'));
  writeFileSync(join(dir, 'small.txt'), 'small file\n');
  writeFileSync(join(dir, 'big.bin'), pattern(8 << 20));
  nghttpdPort = await freePort();
  nghttpd = spawn('nghttpd', ['--no-tls', '--echo-upload', '-d', dir, String(nghttpdPort)], { stdio: 'ignore' });
  await waitForPort(nghttpdPort);

  nodeServer = http2.createServer();
  nodeServer.on('stream', (stream, headers) => {
    const path = headers[':path'];
    if (path === '/trailers') {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
      stream.end('body');
    } else if (path === '/early') {
      stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' });
      stream.respond({ ':status': 200 });
      stream.end('after hints');
    } else if (path === '/head') {
      stream.respond({ ':status': 200, 'content-length': '1234' });
      stream.end();
    } else if (path === '/upload') {
      let n = 0;
      stream.on('data', (c) => { n += c.length; });
      stream.on('end', () => { stream.respond({ ':status': 200 }); stream.end(String(n)); });
    } else {
      stream.respond({ ':status': 200 });
      stream.end(pattern(Number(path.slice(1))));
    }
  });
  await new Promise((r) => nodeServer.listen(0, '127.0.0.1', r));
  nodePort = nodeServer.address().port;
});

test.after(async () => {
  nghttpd?.kill();
  await new Promise((r) => nodeServer.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const get = (path, authority) => [':method', 'GET', ':scheme', 'http', ':authority', authority, ':path', path];

test('from nghttpd: a small file and an 8 MiB file', async () => {
  const s = await connect(nghttpdPort);
  try {
    const small = await fetchOn(s, get('/small.txt', 'localhost'));
    assert.is(small.status, 200);
    assert.is(small.body.toString(), 'small file\n');
    const big = await fetchOn(s, get('/big.bin', 'localhost'));
    assert.is(big.status, 200);
    assert.is(big.body.length, 8 << 20);
    assert.ok(big.body.equals(pattern(8 << 20)));
  } finally {
    s.shutdown();
  }
});

test('to nghttpd: a 5 MiB upload echoed back', async () => {
  const s = await connect(nghttpdPort);
  try {
    const r = await fetchOn(s, [':method', 'POST', ':scheme', 'http', ':authority', 'localhost', ':path', '/small.txt'], 5 << 20);
    assert.is(r.status, 200);
    assert.is(r.body.length, 5 << 20);
    assert.ok(r.body.equals(pattern(5 << 20)));
  } finally {
    s.shutdown();
  }
});

test('from nghttpd: 60 concurrent streams on one connection', async () => {
  const s = await connect(nghttpdPort);
  try {
    const all = await Promise.all(Array.from({ length: 60 }, () => fetchOn(s, get('/small.txt', 'localhost'))));
    for (const r of all) assert.is(r.body.toString(), 'small file\n');
  } finally {
    s.shutdown();
  }
});

test('from node:http2: 4 MiB download, response trailers, 103 Early Hints, HEAD', async () => {
  const s = await connect(nodePort);
  try {
    const big = await fetchOn(s, get(`/${4 << 20}`, 'localhost'));
    assert.ok(big.body.equals(pattern(4 << 20)));
    const t = await fetchOn(s, get('/trailers', 'localhost'));
    assert.is(t.body.toString(), 'body');
    assert.is(field(t.trailers, 'grpc-status'), '0');
    assert.is(field(t.trailers, 'grpc-message'), 'ok');

    const hints = [];
    const early = await new Promise((resolve, reject) => {
      const st = s.request(get('/early', 'localhost'), true);
      const chunks = [];
      st.onInformational = (f, status) => hints.push([status, field(f, 'link')]);
      st.onResponse = (f, status) => { st.status = status; };
      st.onData = (d) => chunks.push(Buffer.from(d));
      st.onEnd = () => resolve({ status: st.status, body: Buffer.concat(chunks).toString() });
      st.onReset = reject;
    });
    assert.equal(hints, [[103, '</a.css>; rel=preload']]);
    assert.equal(early, { status: 200, body: 'after hints' });

    // a HEAD response's content-length describes a body that is not sent (RFC 9113 §8.1.1)
    const head = await fetchOn(s, [':method', 'HEAD', ':scheme', 'http', ':authority', 'localhost', ':path', '/head']);
    assert.is(head.status, 200);
    assert.is(field(head.headers, 'content-length'), '1234');
    assert.is(head.body.length, 0);
  } finally {
    s.shutdown();
  }
});

test('to node:http2: 6 MiB upload', async () => {
  const s = await connect(nodePort);
  try {
    const r = await fetchOn(s, [':method', 'POST', ':scheme', 'http', ':authority', 'localhost', ':path', '/upload'], 6 << 20);
    assert.is(r.body.toString(), String(6 << 20));
  } finally {
    s.shutdown();
  }
});

test.run();

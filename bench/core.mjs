// Core micro-benchmarks: HPACK decode and encode on the hpack-test-case stories, and HTTP/2 frame
// parsing, each beside the same work done by hpack.js and by Node's own http2 (nghttp2).
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import http2 from 'node:http2';
import net from 'node:net';
import { HpackDecoder, HpackEncoder, H2Connection } from '../dist/host/index.js';
import { core, mem } from '../dist/host/core/wasm.js';
import { H2Session } from '../dist/host/transport/h2-session.js';
import { rate, rateAsync, table } from './measure.mjs';

const require = createRequire(import.meta.url);
const hpackjs = require('hpack.js');
const here = dirname(fileURLToPath(import.meta.url));
const corpus = join(here, '../../shared/data/hpack-test-case');

// ---- HPACK decode ---------------------------------------------------------------------------
const encoders = ['nghttp2', 'go-hpack', 'python-hpack', 'node-http2-hpack', 'haskell-http2-linear', 'swift-nio-hpack-plain-text'];
const stories = [];
for (const dir of encoders) {
  for (const f of readdirSync(join(corpus, dir)).filter((f) => f.endsWith('.json'))) {
    const s = JSON.parse(readFileSync(join(corpus, dir, f), 'utf8'));
    if (s.cases.some((c) => c.header_table_size)) continue;
    stories.push({ wires: s.cases.map((c) => Buffer.from(c.wire, 'hex')), fields: s.cases.reduce((n, c) => n + c.headers.length, 0) });
  }
}
const totalFields = stories.reduce((n, s) => n + s.fields, 0);

function skiffDecode() {
  for (const s of stories) {
    const d = new HpackDecoder();
    for (const w of s.wires) d.decode(w);
    d.destroy();
  }
  return totalFields;
}
// the core alone: decode into field records, no JS strings made
function skiffDecodeCore() {
  for (const s of stories) {
    const id = core.hpack_decoder_new(4096);
    for (const w of s.wires) {
      const p = core.scratch(w.length);
      mem().u8.set(w, p);
      core.hpack_decode(id, w.length, 1 << 30);
    }
    core.hpack_decoder_free(id);
  }
  return totalFields;
}
function hpackjsDecode() {
  for (const s of stories) {
    const d = hpackjs.decompressor.create({ table: { size: 4096 } });
    for (const w of s.wires) {
      d.write(w);
      d.execute();
      while (d.read());
    }
  }
  return totalFields;
}

// ---- HPACK encode ---------------------------------------------------------------------------
const raw = readdirSync(join(corpus, 'raw-data')).filter((f) => f.endsWith('.json')).map((f) =>
  JSON.parse(readFileSync(join(corpus, 'raw-data', f), 'utf8')).cases.map((c) => c.headers.flatMap((h) => Object.entries(h)[0])));
const rawFields = raw.reduce((n, s) => n + s.reduce((m, l) => m + l.length / 2, 0), 0);
const rawObjects = raw.map((s) => s.map((l) => { const o = []; for (let i = 0; i < l.length; i += 2) o.push({ name: l[i], value: l[i + 1] }); return o; }));

function skiffEncode() {
  for (const s of raw) {
    const e = new HpackEncoder();
    for (const l of s) e.encode(l);
    e.destroy();
  }
  return rawFields;
}
function hpackjsEncode() {
  for (const s of rawObjects) {
    const c = hpackjs.compressor.create({ table: { size: 4096 } });
    for (const l of s) {
      c.write(l);
      c.read();
    }
  }
  return rawFields;
}

// ---- frames ---------------------------------------------------------------------------------
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
function frame(type, flags, sid, payload) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3); h[3] = type; h[4] = flags; h.writeUInt32BE(sid, 5);
  return Buffer.concat([h, payload]);
}
const settingsFrame = frame(4, 0, 0, Buffer.from([0, 4, 0x7f, 0xff, 0xff, 0xff]));
const DATA_FRAMES = 2048;
const dataPayload = Buffer.alloc(16384, 0x61);
const bigWindow = frame(8, 0, 0, Buffer.from([0x7f, 0xff, 0, 0]));

// Request heads as a browser-like client sends them, all encoded by one encoder (so later ones index)
const REQUESTS = 4000;
function requestStream() {
  const enc = new HpackEncoder();
  const parts = [PREFACE, frame(4, 0, 0, Buffer.alloc(0))];
  for (let i = 0, sid = 1; i < REQUESTS; i++, sid += 2) {
    const block = enc.encode([':method', 'GET', ':scheme', 'http', ':authority', 'bench.example', ':path', `/item/${i % 50}`,
      'user-agent', 'bench/1.0', 'accept', '*/*', 'accept-encoding', 'gzip, deflate']);
    parts.push(frame(1, 5, sid, block));
  }
  return Buffer.concat(parts);
}
const requests = requestStream();

const noop = () => {};
function skiffParseData() {
  let got = 0;
  const conn = new H2Connection('server', {
    onHeaders: noop, onRstStream: noop, onGoaway: noop, onStreamError: noop, onConnectionError: noop,
    onData(sid, d) { got += d.length; conn.consume(sid, d.length); },
  }, { initialWindowSize: 2 ** 31 - 1, connectionWindowSize: 2 ** 31 - 1 });
  const head = Buffer.concat([PREFACE, settingsFrame, frame(1, 4, 1, Buffer.from([0x83, 0x86, 0x84, 0x41, 0x01, 0x61]))]);
  conn.receive(head);
  const one = frame(0, 0, 1, dataPayload);
  const chunk = Buffer.concat(Array(4).fill(one)); // 64 KiB reads
  for (let i = 0; i < DATA_FRAMES / 4; i++) { conn.receive(chunk); conn.output(); }
  conn.destroy();
  return got;
}
function skiffParseRequests() {
  let n = 0;
  const conn = new H2Connection('server', {
    onHeaders() { n++; }, onData: noop, onRstStream: noop, onGoaway: noop, onStreamError: noop, onConnectionError: noop,
  }, { maxConcurrentStreams: REQUESTS + 1 });
  for (let off = 0; off < requests.length; off += 65536) conn.receive(requests.subarray(off, off + 65536));
  conn.destroy();
  return n;
}

// Node's http2 (nghttp2) doing the same over loopback, and Skiff's session doing it the same way
async function overLoopback(makeServer, bytes, until) {
  return new Promise((resolve, reject) => {
    const { server, done } = makeServer(until);
    server.listen(0, '127.0.0.1', () => {
      const c = net.connect(server.address().port, '127.0.0.1', () => c.write(bytes));
      c.on('data', noop);
      c.on('error', noop);
      done.then((v) => { c.destroy(); server.close(); resolve(v); }, reject);
    });
  });
}
function nodeRequestsServer(until) {
  let n = 0, resolve;
  const done = new Promise((r) => { resolve = r; });
  const server = http2.createServer({ settings: { maxConcurrentStreams: REQUESTS + 1 } });
  server.on('stream', (s) => { s.on('error', noop); if (++n === until) resolve(n); });
  server.on('sessionError', noop);
  return { server, done };
}
function skiffRequestsServer(until) {
  let n = 0, resolve;
  const done = new Promise((r) => { resolve = r; });
  const server = net.createServer((socket) => new H2Session(socket, 'server', { maxConcurrentStreams: REQUESTS + 1 }, {
    onStream() { if (++n === until) resolve(n); },
  }));
  return { server, done };
}
const dataStream = Buffer.concat([PREFACE, settingsFrame, bigWindow, frame(1, 4, 1, Buffer.from([0x83, 0x86, 0x84, 0x41, 0x01, 0x61])),
  ...Array(DATA_FRAMES).fill(frame(0, 0, 1, dataPayload))]);
function nodeDataServer(until) {
  let got = 0, resolve;
  const done = new Promise((r) => { resolve = r; });
  const server = http2.createServer({ settings: { initialWindowSize: 2 ** 31 - 1 } });
  server.on('session', (s) => s.setLocalWindowSize(2 ** 31 - 1));
  server.on('stream', (s) => { s.on('data', (d) => { got += d.length; if (got >= until) resolve(got); }); s.on('error', noop); });
  return { server, done };
}
function skiffDataServer(until) {
  let got = 0, resolve;
  const done = new Promise((r) => { resolve = r; });
  const server = net.createServer((socket) => new H2Session(socket, 'server', { initialWindowSize: 2 ** 31 - 1, connectionWindowSize: 2 ** 31 - 1 }, {
    onStream(st) { st.onData = (d) => { got += d.length; if (got >= until) resolve(got); }; },
  }));
  return { server, done };
}

export async function runCoreBench() {
  console.log(`HPACK corpus: ${stories.length} stories, ${totalFields} fields to decode; raw-data: ${raw.length} stories, ${rawFields} fields to encode`);
  table('HPACK decode (header fields/s, hpack-test-case stories)', [
    ['hpack.js', rate(hpackjsDecode), ' f/s', 'base'],
    ['skiff (JS strings out)', rate(skiffDecode), ' f/s'],
    ['skiff (core only)', rate(skiffDecodeCore), ' f/s'],
  ]);
  table('HPACK encode (header fields/s, raw-data stories)', [
    ['hpack.js', rate(hpackjsEncode), ' f/s', 'base'],
    ['skiff', rate(skiffEncode), ' f/s'],
  ]);
  const MB = 1e6;
  table(`Frame parsing in process: DATA (${DATA_FRAMES} × 16 KiB frames, 64 KiB reads)`, [
    ['skiff H2Connection', rate(skiffParseData) / MB, ' MB/s'],
  ]);
  table(`Request heads in process (${REQUESTS} HEADERS frames, 64 KiB reads)`, [
    ['skiff H2Connection', rate(skiffParseRequests), ' req/s'],
  ]);
  const total = DATA_FRAMES * dataPayload.length;
  table(`Over loopback: one connection uploading ${(total / 2 ** 20) | 0} MiB of DATA`, [
    ['node:http2 (nghttp2)', (await rateAsync(() => overLoopback(nodeDataServer, dataStream, total))) / MB, ' MB/s', 'base'],
    ['skiff H2Session', (await rateAsync(() => overLoopback(skiffDataServer, dataStream, total))) / MB, ' MB/s'],
  ]);
  table(`Over loopback: ${REQUESTS} request heads on one connection (parse + session, no responses)`, [
    ['node:http2 (nghttp2)', await rateAsync(() => overLoopback(nodeRequestsServer, requests, REQUESTS)), ' req/s', 'base'],
    ['skiff H2Session', await rateAsync(() => overLoopback(skiffRequestsServer, requests, REQUESTS)), ' req/s'],
  ]);
}

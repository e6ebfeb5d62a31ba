// Property tests (fast-check): random and mutated byte streams, fed in random-sized reads to both
// roles. The core must never trap or throw, must stop by itself, must answer only with well-formed
// frames, and linear memory must stay within a bound however much garbage goes through.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { H2Connection, HpackDecoder, HpackEncoder } from '../../dist/host/index.js';
import { core } from '../../dist/host/core/wasm.js';
import { PREFACE, T, F, frame, settings, headers, data, windowUpdate, rstStream, ping, block, GET, POST, parseFrames } from '../helpers/frames.mjs';

const noop = () => {};
const handler = {
  onHeaders: noop, onData: noop, onRstStream: noop, onGoaway: noop, onPingAck: noop, onWindowUpdate: noop,
  onSettings: noop, onSettingsAck: noop, onStreamError: noop, onConnectionError: noop,
};

/** Runs one connection over `input` split at `cuts`; returns everything it wrote. */
function drive(role, input, cuts, options) {
  const conn = new H2Connection(role, handler, options);
  const out = [];
  try {
    let p = 0;
    for (const c of [...cuts, input.length]) {
      const end = Math.min(input.length, Math.max(p, c));
      if (end > p) conn.receive(input.subarray(p, end), p);
      p = end;
      const o = conn.output();
      if (o) out.push(...o);
    }
    if (p < input.length) conn.receive(input.subarray(p));
    const o = conn.output();
    if (o) out.push(...o);
  } finally {
    conn.destroy();
  }
  return Buffer.concat(out);
}

function wellFormed(bytes, role) {
  const b = role === 'client' ? bytes.subarray(PREFACE.length) : bytes;
  let p = 0;
  while (p < b.length) {
    assert.ok(p + 9 <= b.length, 'output ends in a partial frame header');
    const len = b.readUIntBE(p, 3);
    assert.ok(len <= 16384, `output frame of ${len} bytes`);
    assert.ok(b[p + 3] <= 9, `output frame of unknown type ${b[p + 3]}`);
    p += 9 + len;
  }
  assert.is(p, b.length, 'output ends in a partial frame');
}

const valid = Buffer.concat([
  PREFACE, settings([[4, 100000], [1, 8192]]),
  headers(1, [...POST, 'content-length', '5', 'x-custom', 'value']), data(1, 'hello', F.END_STREAM),
  headers(3, GET, F.END_HEADERS | F.END_STREAM), ping(), windowUpdate(0, 1000), rstStream(3, 8),
  frame(T.HEADERS, 0, 5, block(GET).subarray(0, 7)), frame(T.CONTINUATION, F.END_HEADERS, 5, block(GET).subarray(7)),
  data(5, 'x'.repeat(300)), frame(T.PRIORITY, 0, 7, Buffer.from([0, 0, 0, 1, 9])),
]);

const cutsArb = fc.array(fc.nat({ max: 4096 }), { maxLength: 12 }).map((a) => a.sort((x, y) => x - y));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set'), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete'), at: fc.nat(), n: fc.nat({ max: 16 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
);
function mutate(buf, muts) {
  let b = Buffer.from(buf);
  for (const m of muts) {
    const at = b.length ? m.at % b.length : 0;
    if (m.kind === 'flip' && b.length) b[at] ^= 1 << m.bit;
    else if (m.kind === 'set' && b.length) b[at] = m.value;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
  }
  return b;
}

const frameArb = fc.record({
  type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.nat({ max: 255 })),
  flags: fc.nat({ max: 255 }),
  sid: fc.oneof(fc.constantFrom(0, 1, 2, 3, 5, 0x7fffffff, 0x80000001), fc.nat()),
  payload: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(block(GET)), fc.uint8Array({ minLength: 4, maxLength: 4 })),
});

const memoryBefore = core.memory.buffer.byteLength;

test('server: mutated valid streams never trap and answer in whole frames', () => {
  fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), cutsArb, (muts, cuts) => {
    wellFormed(drive('server', mutate(valid, muts), cuts), 'server');
  }), { numRuns: 5000, seed: 42 });
});

test('server: random frames after a valid preface never trap', () => {
  fc.assert(fc.property(fc.array(frameArb, { maxLength: 40 }), cutsArb, (frames, cuts) => {
    const input = Buffer.concat([PREFACE, settings(), ...frames.map((f) => frame(f.type, f.flags, f.sid, Buffer.from(f.payload)))]);
    wellFormed(drive('server', input, cuts), 'server');
  }), { numRuns: 5000, seed: 7 });
});

test('server: pure random bytes, with and without the preface', () => {
  fc.assert(fc.property(fc.boolean(), fc.uint8Array({ maxLength: 2048 }), cutsArb, (withPreface, bytes, cuts) => {
    const input = withPreface ? Buffer.concat([PREFACE, settings(), Buffer.from(bytes)]) : Buffer.from(bytes);
    wellFormed(drive('server', input, cuts), 'server');
  }), { numRuns: 1500, seed: 3 });
});

test('client: random frames from a "server" never trap', () => {
  fc.assert(fc.property(fc.array(frameArb, { maxLength: 40 }), cutsArb, (frames, cuts) => {
    const input = Buffer.concat([settings(), ...frames.map((f) => frame(f.type, f.flags, f.sid, Buffer.from(f.payload)))]);
    const conn = new H2Connection('client', handler);
    try {
      conn.submitHeaders(0, GET, true);
      conn.submitHeaders(0, POST, false);
      conn.receive(input);
      const o = conn.output();
      if (o) wellFormed(Buffer.concat(o), 'client');
    } finally {
      conn.destroy();
    }
  }), { numRuns: 1000, seed: 11 });
});

test('HPACK decoder: random blocks either decode or fail cleanly; encoder output always decodes', () => {
  const d = new HpackDecoder();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
    const fresh = new HpackDecoder(4096, 65536);
    try { fresh.decode(bytes); } catch (e) { assert.ok(e.name === 'HpackError' || e instanceof RangeError, String(e)); }
    fresh.destroy();
  }), { numRuns: 3000, seed: 5 });
  const e = new HpackEncoder();
  const nameArb = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
  const valueArb = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'));
  fc.assert(fc.property(fc.array(fc.tuple(nameArb, valueArb), { maxLength: 20 }), (pairs) => {
    const list = pairs.flat();
    assert.equal(d.decode(e.encode(list)), list);
  }), { numRuns: 2000, seed: 9 });
  e.destroy();
  d.destroy();
});

test('linear memory stays bounded after all of the above', () => {
  const grown = core.memory.buffer.byteLength - memoryBefore;
  assert.ok(core.memory.buffer.byteLength <= 64 << 20, `memory is ${core.memory.buffer.byteLength} bytes (grew ${grown})`);
});

test('memory does not creep: 5000 more connections with garbage leave it where it was', () => {
  const before = core.memory.buffer.byteLength;
  const rnd = fc.sample(fc.uint8Array({ minLength: 100, maxLength: 3000 }), { numRuns: 5000, seed: 1 });
  for (const bytes of rnd) drive('server', Buffer.concat([PREFACE, settings(), headers(1, POST), Buffer.from(bytes)]), []);
  assert.is(core.memory.buffer.byteLength, before);
});

test.run();

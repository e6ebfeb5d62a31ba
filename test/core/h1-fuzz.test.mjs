// Property tests for the HTTP/1.1 parser: mutated and random input never traps, every message
// that completes had a head first, and body bytes never exceed what was fed in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { H1Parser } from '../../dist/host/core/h1-parser.js';
import { core } from '../../dist/host/core/wasm.js';

const seeds = [
  'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: h\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
].map((s) => Buffer.from(s));

function run(kind, input, cuts) {
  let heads = 0, ends = 0, body = 0, errors = 0;
  const p = new H1Parser(kind, {
    onHead() { heads++; }, onBody(d) { body += d.length; }, onEnd() { ends++; assert.ok(heads >= ends, 'end without head'); }, onError() { errors++; },
  }, { maxHeadSize: 2048, maxFields: 50 });
  try {
    let pos = 0;
    for (const c of [...cuts, input.length]) {
      const end = Math.min(input.length, Math.max(pos, c));
      if (end > pos) p.execute(input.subarray(pos, end));
      pos = end;
    }
    p.finish();
  } finally {
    p.destroy();
  }
  assert.ok(body <= input.length);
  assert.ok(errors <= 1, 'one error ends the parse');
}

const mutation = fc.oneof(
  fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ at: fc.nat(), insert: fc.constantFrom('\r', '\n', ' ', ':', '0', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 7\r\n', '\r\n\r\n') }),
);
const cuts = fc.array(fc.nat({ max: 300 }), { maxLength: 6 }).map((a) => a.sort((x, y) => x - y));

test('mutated messages never trap', () => {
  fc.assert(fc.property(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), cuts, (which, muts, cs) => {
    let b = Buffer.from(seeds[which]);
    for (const m of muts) {
      const at = m.at % (b.length + 1);
      if ('value' in m && b.length) b[at % b.length] = m.value;
      else if ('insert' in m) b = Buffer.concat([b.subarray(0, at), Buffer.from(m.insert), b.subarray(at)]);
    }
    run(which < 2 ? 'request' : 'response', b, cs);
  }), { numRuns: 4000, seed: 17 });
});

test('random bytes never trap', () => {
  fc.assert(fc.property(fc.boolean(), fc.uint8Array({ maxLength: 3000 }), cuts, (isReq, bytes, cs) => {
    run(isReq ? 'request' : 'response', Buffer.from(bytes), cs);
  }), { numRuns: 3000, seed: 23 });
});

test('memory stays bounded', () => {
  assert.ok(core.memory.buffer.byteLength <= 64 << 20);
});

test.run();

// RFC 7541 Appendix C: every example, decoded in sequence on one decoder (C.3–C.6 share a context
// per section), and each section's header lists re-encoded by our encoder and decoded back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HpackDecoder, HpackEncoder } from '../../dist/host/index.js';

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (list) => list.flat();

const req1 = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
const req2 = [...req1, ['cache-control', 'no-cache']];
const req3 = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']];
const res1 = [[':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']];
const res2 = [[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']];
const res3 = [[':status', '200'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'], ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'], ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1']];

const sections = {
  'C.3 requests without Huffman': { size: 4096, steps: [
    ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', req1, 57],
    ['8286 84be 5808 6e6f 2d63 6163 6865', req2, 110],
    ['8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', req3, 164],
  ] },
  'C.4 requests with Huffman': { size: 4096, steps: [
    ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', req1, 57],
    ['8286 84be 5886 a8eb 1064 9cbf', req2, 110],
    ['8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', req3, 164],
  ] },
  'C.5 responses without Huffman': { size: 256, steps: [
    ['4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', res1, 222],
    ['4803 3330 37c1 c0bf', res2, 222],
    ['88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31', res3, 215],
  ] },
  'C.6 responses with Huffman': { size: 256, steps: [
    ['4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3', res1, 222],
    ['4883 640e ffc1 c0bf', res2, 222],
    ['88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07', res3, 215],
  ] },
};

test('C.2.1 literal field with indexing', () => {
  const d = new HpackDecoder();
  assert.equal(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')), ['custom-key', 'custom-header']);
  assert.is(d.tableSize, 55);
  d.destroy();
});

test('C.2.2 literal field without indexing', () => {
  const d = new HpackDecoder();
  assert.equal(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [':path', '/sample/path']);
  assert.is(d.tableSize, 0);
  d.destroy();
});

test('C.2.3 literal field never indexed keeps its flag', () => {
  const d = new HpackDecoder();
  const never = [];
  assert.equal(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'), never), ['password', 'secret']);
  assert.equal(never, [0]);
  assert.is(d.tableSize, 0);
  d.destroy();
});

test('C.2.4 indexed field', () => {
  const d = new HpackDecoder();
  assert.equal(d.decode(hex('82')), [':method', 'GET']);
  d.destroy();
});

for (const [name, { size, steps }] of Object.entries(sections)) {
  test(`${name}: decode`, () => {
    const d = new HpackDecoder(size);
    for (const [wire, list, tableSize] of steps) {
      assert.equal(d.decode(hex(wire)), pairs(list));
      assert.is(d.tableSize, tableSize);
    }
    d.destroy();
  });
  test(`${name}: our encoder round-trips`, () => {
    const e = new HpackEncoder(size);
    e.setPeerMax(size);
    const d = new HpackDecoder(size);
    let total = 0;
    for (const [wire, list] of steps) {
      const block = e.encode(pairs(list));
      total += block.length;
      assert.equal(d.decode(block), pairs(list));
      assert.is(d.tableSize, e.tableSize);
    }
    // it compresses: indexing and Huffman take well under the raw bytes (a 256-byte table holds little)
    const raw = steps.reduce((n, [, list]) => n + list.reduce((m, [k, v]) => m + k.length + v.length, 0), 0);
    assert.ok(total < raw * 0.6, `encoded ${total} bytes from ${raw} raw`);
    e.destroy();
    d.destroy();
  });
}

test('encoder: sensitive fields go out never-indexed and stay out of the table', () => {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  const never = [];
  const list = ['authorization', 'Bearer abc', 'x-secret', 'v', 'cookie', 'a=b', 'x-plain', 'p'];
  assert.equal(d.decode(e.encode(list, new Set(['x-secret'])), never), list);
  assert.equal(never, [0, 1, 2]);
  // only x-plain was indexed
  assert.is(e.tableSize, 'x-plain'.length + 1 + 32);
  e.destroy();
  d.destroy();
});

test('encoder: size update after the peer shrinks its table', () => {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  d.decode(e.encode(['x-a', '1'.repeat(100), 'x-b', '2'.repeat(100)]));
  assert.ok(d.tableSize > 200);
  e.setPeerMax(0);
  const block = e.encode(['x-c', '3']);
  assert.is(block[0], 0x20); // size update to 0 first
  assert.equal(d.decode(block), ['x-c', '3']);
  assert.is(d.tableSize, 0);
  e.destroy();
  d.destroy();
});

test.run();

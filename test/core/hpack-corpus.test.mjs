// The hpack-test-case corpus: our decoder decodes every story of every encoder's directory to the
// exact header lists; our encoder re-encodes every raw-data story, and both our decoder and an
// independent one (hpack.js) get the lists back. The subset in test/data (MIT, licence kept with it)
// always runs; the whole collection too when a copy sits beside the repository (../shared/data).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { HpackDecoder, HpackEncoder } from '../../dist/host/index.js';

const require = createRequire(import.meta.url);
const hpackjs = require('hpack.js');
const here = dirname(fileURLToPath(import.meta.url));
const inRepo = join(here, '../data/hpack-test-case');
const beside = join(here, '../../../shared/data/hpack-test-case');
const corpora = [['in-repo', inRepo], ...(existsSync(beside) ? [['full', beside]] : [])];
const flat = (headers) => headers.flatMap((h) => Object.entries(h)[0]);
// JSON strings are UTF-8 text; on the wire they are bytes, which our API exposes as latin1 strings
const toLatin1 = (s) => Buffer.from(s, 'utf8').toString('latin1');

for (const [label, corpus] of corpora) {
  const dirs = readdirSync(corpus, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  const stories = (dir) => readdirSync(join(corpus, dir)).filter((f) => f.endsWith('.json')).sort()
    .map((f) => [f, JSON.parse(readFileSync(join(corpus, dir, f), 'utf8'))]);
  let decodedCases = 0;
  for (const dir of dirs.filter((d) => d !== 'raw-data')) {
    test(`${label}: decode every story of ${dir}`, () => {
      for (const [file, story] of stories(dir)) {
        const maxSize = Math.max(4096, ...story.cases.map((c) => c.header_table_size ?? 0));
        const d = new HpackDecoder(4096);
        d.setLimit(maxSize);
        for (const c of story.cases) {
          const got = d.decode(Buffer.from(c.wire, 'hex'));
          assert.equal(got, flat(c.headers).map(toLatin1), `${dir}/${file} case ${c.seqno}`);
          decodedCases++;
        }
        d.destroy();
      }
    });
  }

  test(`${label}: encode every raw-data story; our decoder and hpack.js decode it back`, () => {
    let fields = 0, raw = 0, wire = 0;
    for (const [file, story] of stories('raw-data')) {
      const e = new HpackEncoder();
      const d = new HpackDecoder();
      const other = hpackjs.decompressor.create({ table: { size: 4096 } });
      for (const c of story.cases) {
        const list = flat(c.headers).map(toLatin1);
        const block = e.encode(list);
        assert.equal(d.decode(block), list, `raw-data/${file} case ${c.seqno}`);
        other.write(block);
        other.execute();
        const theirs = [];
        for (let h; (h = other.read()); ) theirs.push(h.name, h.value);
        assert.equal(theirs, list.map((s) => Buffer.from(s, 'latin1').toString('utf8')), `hpack.js on raw-data/${file} case ${c.seqno}`);
        fields += list.length / 2;
        raw += list.reduce((n, s) => n + s.length, 0);
        wire += block.length;
      }
      e.destroy();
      d.destroy();
    }
    assert.ok(fields > (label === 'full' ? 1000 : 200), `only ${fields} fields`);
    assert.ok(wire < raw / 2, `compressed ${raw} bytes to ${wire}`);
  });

  test(`${label}: the corpus was really read`, () => {
    assert.ok(dirs.length >= 12, `only ${dirs.length} directories`);
    assert.ok(decodedCases > (label === 'full' ? 10000 : 1900), `only ${decodedCases} cases`);
  });
}

test.run();

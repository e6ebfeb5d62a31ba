// The `skiff` command as a user runs it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.mjs';

const cli = fileURLToPath(new URL('../../dist/skiff.js', import.meta.url));

test('skiff demo --once serves HTTP/2 from the core and checks itself', async () => {
  const r = await run(process.execPath, [cli, 'demo', '--once', '--listen', '127.0.0.1:0']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /100 requests on one connection/);
});

test('skiff version / help / unknown command', async () => {
  const v = await run(process.execPath, [cli, 'version']);
  assert.match(v.stdout.toString(), /^\d+\.\d+\.\d+/);
  const h = await run(process.execPath, [cli, 'help']);
  assert.match(h.stdout.toString(), /usage: skiff/);
  const u = await run(process.execPath, [cli, 'frobnicate']);
  assert.is(u.code, 2);
  assert.match(u.stderr.toString(), /unknown command 'frobnicate'/);
});

test('skiff demo rejects a bad --listen with a clear error', async () => {
  const r = await run(process.execPath, [cli, 'demo', '--once', '--listen', 'nonsense']);
  assert.is(r.code, 1);
  assert.match(r.stderr.toString(), /--listen: expected HOST:PORT/);
});

test.run();

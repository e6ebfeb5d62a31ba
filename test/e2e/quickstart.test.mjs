// `npm start`'s quickstart, as a user runs it: four sidecar processes, three apps, real YAML.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.mjs';

test('the quickstart mesh carries HTTP/1.1, HTTP/2 and gRPC and shuts down cleanly', async () => {
  const script = fileURLToPath(new URL('../../examples/quickstart/run.mjs', import.meta.url));
  const r = await run(process.execPath, [script, '--once'], { timeout: 60_000 });
  const out = r.stdout.toString();
  assert.is(r.code, 0, out + r.stderr);
  assert.match(out, /client ──HTTP\/1\.1──▶ frontend ──HTTP\/2──▶ books/);
  assert.match(out, /\[3\] client → frontend: 200 .* 3 books with authors from gRPC \(Ursula K\. Le Guin, Octavia E\. Butler\)/);
  assert.match(out, /frontend saw via: 1\.1 skiff, 2 skiff/);
  assert.match(out, /caller \(mTLS\): spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/);
  assert.match(out, /3\/3 requests succeeded/);
});

test.run();

// The library's two runnable examples, run as a user runs them (node examples/…/run.mjs --once).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.mjs';

const example = (name) => fileURLToPath(new URL(`../../examples/${name}/run.mjs`, import.meta.url));

test('examples/meshed-service: a node:http service meshed without a sidecar sees its caller\'s identity', async () => {
  const r = await run(process.execPath, [example('meshed-service'), '--once'], { timeout: 60_000 });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /→ 200 \{"books":\["Dune","Hyperion"\],"caller":"spiffe:\/\/cluster\.local\/ns\/default\/sa\/reports"\}/);
});

test('examples/fastify-gateway: a Fastify gateway routes through the mesh by its HTTPRoute', async () => {
  const r = await run(process.execPath, [example('fastify-gateway'), '--once'], { timeout: 60_000 });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /GET \/api\/books → \{"via":"mesh","upstream":\{"version":"v1"/);
  assert.match(r.stdout, /\(x-version: 2\) → \{"via":"mesh","upstream":\{"version":"v2"/);
});

test.run();

// --underscore-headers: what a sidecar does with request header names containing '_' (nginx and
// Envoy offer the same choice). allow (the default) passes them; drop removes them; reject answers
// 400 before the application sees anything. Mesh headers are removed in every spelling regardless.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { sidecarFor } from '../helpers/mesh.mjs';
import { run } from '../helpers/run.mjs';

let app;
const seen = [];

test.before(async () => {
  app = http.createServer((req, res) => { seen.push(req.headers); res.end('ok'); });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
});
test.after(() => { app.close(); });

async function curl(port, extra = []) {
  const r = await run('curl', ['-sS', '-o', '/dev/null', '-D', '-', '-H', 'x_user: alice', '-H', 'x-plain: yes', '-H', 'skiff_client_id: spiffe://evil', ...extra, `http://127.0.0.1:${port}/`]);
  assert.is(r.code, 0, r.stderr);
  return r.stdout.toString();
}

test('allow (default): names with _ pass, mesh spellings do not', async () => {
  const p = await sidecarFor(app.address().port);
  try {
    seen.length = 0;
    assert.match(await curl(p.inbound.port), /^HTTP\/1\.1 200/);
    assert.is(seen[0].x_user, 'alice');
    assert.is(seen[0]['x-plain'], 'yes');
    assert.is(seen[0].skiff_client_id, undefined);
  } finally { await p.close(); }
});

test('drop: names with _ are removed, the rest passes', async () => {
  const p = await sidecarFor(app.address().port, { underscoreHeaders: 'drop' });
  try {
    seen.length = 0;
    assert.match(await curl(p.inbound.port), /^HTTP\/1\.1 200/);
    assert.is(seen[0].x_user, undefined);
    assert.is(seen[0]['x-plain'], 'yes');
  } finally { await p.close(); }
});

test('reject: 400 saying which name, and the application sees nothing (HTTP/1.1 and HTTP/2)', async () => {
  const p = await sidecarFor(app.address().port, { underscoreHeaders: 'reject' });
  try {
    seen.length = 0;
    const out = await curl(p.inbound.port);
    assert.match(out, /^HTTP\/1\.1 400/);
    assert.match(out, /skiff-proxy-error: .*x_user/);
    const h2 = await curl(p.inbound.port, ['--http2-prior-knowledge']);
    assert.match(h2, /^HTTP\/2 400/);
    assert.is(seen.length, 0);
    // a request without such names is served
    const ok = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${p.inbound.port}/`]);
    assert.is(ok.stdout.toString(), '200');
  } finally { await p.close(); }
});

test.run();

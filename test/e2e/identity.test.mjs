// The identity service (skiff control) and a proxy's certificate: over TLS 1.3, refusals with
// reasons, /ready false until the first certificate, renewals at ~70% of a short lifetime.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import https from 'node:https';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initTrust } from '../../dist/host/identity/trust.js';
import { issueToken } from '../../dist/host/identity/token.js';
import { createCsr, generateKeyPair } from '../../dist/host/identity/x509.js';
import { createIdentityService } from '../../dist/host/control/identity-service.js';
import { startProxy } from '../../dist/host/index.js';
import { eventually } from '../helpers/mesh.mjs';
import { run } from '../helpers/run.mjs';

let dir, service, port, secret, anchors;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-id-e2e-'));
  await initTrust(dir);
  secret = readFileSync(join(dir, 'tokens.key'), 'utf8');
  anchors = readFileSync(join(dir, 'trust-anchors.pem'), 'utf8');
  service = await createIdentityService({ identityDir: dir, certificateLifetimeMs: 3000 });
  await new Promise((r) => service.listen(0, '127.0.0.1', r));
  port = service.address().port;
});

test.after(() => {
  service.close();
  service.closeAllConnections();
  rmSync(dir, { recursive: true, force: true });
});

function certify(body, raw) {
  const payload = raw ?? JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/certify', ca: anchors, servername: 'identity.skiff.cluster.local', headers: { 'content-type': 'application/json' } }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(t) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

test('the service speaks TLS 1.3 with a certificate for identity.skiff.<trust-domain> from the mesh anchor', async () => {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'identity.skiff.cluster.local',
    '-CAfile', join(dir, 'trust-anchors.pem'), '-verify_return_error', '-verify_hostname', 'identity.skiff.cluster.local', '-brief'], { input: '' });
  const out = `${r.stdout}${r.stderr}`;
  assert.match(out, /Protocol version: TLSv1\.3/);
  assert.match(out, /Verification: OK/);
  const old = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-brief'], { input: '' });
  assert.is.not(old.code, 0, 'TLS 1.2 is refused');
});

test('refusals: a bad token (403), another identity (403), a malformed request (400)', async () => {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, ['spiffe://cluster.local/ns/default/sa/web'], []);
  const token = issueToken(secret, { namespace: 'default', name: 'web' });
  const ok = await certify({ token, csr });
  assert.is(ok.status, 200, JSON.stringify(ok.json));
  assert.is(ok.json.identity, 'spiffe://cluster.local/ns/default/sa/web');
  const badToken = await certify({ token: issueToken('nope', { namespace: 'default', name: 'web' }), csr });
  assert.is(badToken.status, 403);
  assert.is(badToken.json.reason, 'bad-token');
  const other = await certify({ token: issueToken(secret, { namespace: 'default', name: 'api' }), csr });
  assert.is(other.status, 403);
  assert.is(other.json.reason, 'wrong-identity');
  assert.match(other.json.message, /the token is for spiffe:\/\/cluster\.local\/ns\/default\/sa\/api/);
  const malformed = await certify({ token, csr: 'x' });
  assert.is(malformed.status, 400);
  assert.is(malformed.json.reason, 'bad-csr');
  const notJson = await certify(null, '{');
  assert.is(notJson.status, 400);
});

function ready(adminPort) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: adminPort, path: '/ready' }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => resolve({ status: res.statusCode, text: t }));
    }).on('error', () => resolve({ status: 0, text: '' }));
  });
}

test('a proxy is not ready until certified, then renews at ~70% of a 3 s lifetime', async () => {
  const tokenFile = join(dir, 'web.token');
  writeFileSync(tokenFile, `${issueToken(secret, { namespace: 'default', name: 'web' })}\n`);
  const p = await startProxy({
    inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1',
    identity: { addr: `127.0.0.1:${port}`, tokenFile, trustAnchorsFile: join(dir, 'trust-anchors.pem') },
  });
  const certified = await eventually(async () => (await ready(p.admin.port)).status === 200, 10_000);
  assert.ok(certified, 'ready once certified');
  assert.match((await ready(p.admin.port)).text, /identity: spiffe:\/\/cluster\.local\/ns\/default\/sa\/web until/);
  const renewals = async () => Number(/renewed (\d+) time/.exec((await ready(p.admin.port)).text)?.[1] ?? -1);
  const n = await eventually(async () => { const k = await renewals(); return k >= 2 ? k : 0; }, 15_000);
  assert.ok(n >= 2, (await ready(p.admin.port)).text);
  assert.ok(n < 10, `renewals paced by the lifetime, not a loop: ${n}`);
  await p.close();
  // a proxy whose token the service refuses stays not ready, and says why
  const badFile = join(dir, 'bad.token');
  writeFileSync(badFile, `${issueToken('wrong secret', { namespace: 'default', name: 'web' })}\n`);
  const q = await startProxy({
    inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0', app: '127.0.0.1:1',
    identity: { addr: `127.0.0.1:${port}`, tokenFile: badFile, trustAnchorsFile: join(dir, 'trust-anchors.pem') },
  });
  const said = await eventually(async () => /refused \(403 bad-token\)/.test((await ready(q.admin.port)).text), 10_000);
  assert.ok(said, (await ready(q.admin.port)).text);
  assert.is((await ready(q.admin.port)).status, 503);
  await q.close();
});

test('skiff control refuses to start without its identity files, naming them (also under --config DIR/identity)', async () => {
  const r = await run(process.execPath, [fileURLToPath(new URL('../../dist/skiff.js', import.meta.url)), 'control', '--identity', join(dir, 'missing'), '--listen', '127.0.0.1:0']);
  assert.is(r.code, 1);
  assert.match(r.stderr.toString(), /issuer\.crt/);
  const c = await run(process.execPath, [fileURLToPath(new URL('../../dist/skiff.js', import.meta.url)), 'control', '--config', join(dir, 'nothing-here'), '--listen', '127.0.0.1:0']);
  assert.is(c.code, 1);
  assert.match(c.stderr.toString(), /nothing-here\/identity\/issuer\.crt/);
});

test.run();

// The mesh's identity material (host/identity): `skiff identity init` makes a trust anchor and an
// issuer that openssl accepts as a CA chain, with 0600 files it never overwrites; workload
// certificates carry the SPIFFE identity as a URI SAN and verify through that chain.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { run } from '../helpers/run.mjs';
import { createCertificate, generateKeyPair, importPrivateKeyPem } from '../../dist/host/identity/x509.js';
import { initTrust } from '../../dist/host/identity/trust.js';

const cli = fileURLToPath(new URL('../../dist/skiff.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'skiff-identity-'));

test('skiff identity init: a root and an issuer openssl verifies, private files, never overwritten', async () => {
  const dir = join(tmp(), 'trust');
  const r = await run(process.execPath, [cli, 'identity', 'init', dir, '--trust-domain', 'example.org']);
  assert.is(r.code, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /trust anchor: CN=root\.skiff\.example\.org/);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  for (const f of ['trust-anchors.pem', 'root.key', 'issuer.crt', 'issuer.key']) assert.is(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  const v = await run('openssl', ['verify', '-CAfile', join(dir, 'trust-anchors.pem'), join(dir, 'issuer.crt')]);
  assert.is(v.code, 0, v.stderr.toString());
  const root = (await run('openssl', ['x509', '-in', join(dir, 'trust-anchors.pem'), '-noout', '-text'])).stdout.toString();
  assert.match(root, /CA:TRUE, pathlen:1/);
  assert.match(root, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  assert.match(root, /ecdsa-with-SHA256/);
  const issuer = (await run('openssl', ['x509', '-in', join(dir, 'issuer.crt'), '-noout', '-text'])).stdout.toString();
  assert.match(issuer, /CA:TRUE, pathlen:0/);
  assert.match(issuer, /Issuer: CN = root\.skiff\.example\.org/);
  const key = (await run('openssl', ['pkey', '-in', join(dir, 'issuer.key'), '-noout', '-text'])).stdout.toString();
  assert.match(key, /prime256v1|P-256/);
  const again = await run(process.execPath, [cli, 'identity', 'init', dir]);
  assert.is(again.code, 1);
  assert.match(again.stderr.toString(), /not overwriting .*trust-anchors\.pem/);
  rmSync(dir, { recursive: true, force: true });
});

test('a workload certificate with a SPIFFE identity verifies through issuer and anchor', async () => {
  const dir = tmp();
  const t = await initTrust(dir, { trustDomain: 'cluster.local' });
  const issuerKey = await importPrivateKeyPem(readFileSync(join(dir, 'issuer.key'), 'utf8'));
  const leafKeys = await generateKeyPair();
  const now = Date.now();
  const leafPem = await createCertificate({
    commonName: '', publicKey: leafKeys.publicKey, issuerKey, issuer: t.issuer,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
    uris: ['spiffe://cluster.local/ns/default/sa/web'], dnsNames: ['web.default.serviceaccount.identity.cluster.local'],
  });
  writeFileSync(join(dir, 'leaf.pem'), leafPem);
  const v = await run('openssl', ['verify', '-CAfile', join(dir, 'trust-anchors.pem'), '-untrusted', join(dir, 'issuer.crt'), '-purpose', 'sslclient', join(dir, 'leaf.pem')]);
  assert.is(v.code, 0, `${v.stdout}${v.stderr}`);
  const v2 = await run('openssl', ['verify', '-CAfile', join(dir, 'trust-anchors.pem'), '-untrusted', join(dir, 'issuer.crt'), '-purpose', 'sslserver', join(dir, 'leaf.pem')]);
  assert.is(v2.code, 0, `${v2.stdout}${v2.stderr}`);
  const leaf = new X509Certificate(leafPem);
  assert.match(leaf.subjectAltName, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/);
  assert.match(leaf.subjectAltName, /DNS:web\.default\.serviceaccount\.identity\.cluster\.local/);
  assert.ok(leaf.checkIssued(t.issuer));
  assert.ok(!leaf.ca);
  // another trust anchor does not vouch for it
  const other = tmp();
  await initTrust(other);
  const bad = await run('openssl', ['verify', '-CAfile', join(other, 'trust-anchors.pem'), '-untrusted', join(dir, 'issuer.crt'), join(dir, 'leaf.pem')]);
  assert.is.not(bad.code, 0);
  rmSync(dir, { recursive: true, force: true });
  rmSync(other, { recursive: true, force: true });
});

test('bad options are refused with the reason', async () => {
  const dir = tmp();
  try {
    await initTrust(join(dir, 'a'), { trustDomain: 'Not A Domain' });
    assert.unreachable();
  } catch (err) { assert.match(err.message, /trust domain 'Not A Domain' is not a DNS name/); }
  try {
    await initTrust(join(dir, 'b'), { rootDays: 10, issuerDays: 20 });
    assert.unreachable();
  } catch (err) { assert.match(err.message, /the issuer must expire before the root/); }
  const r = await run(process.execPath, [cli, 'identity', 'init', join(dir, 'c'), '--root-days', 'ten']);
  assert.is(r.code, 1);
  assert.match(r.stderr.toString(), /--root-days: expected a number of days, got 'ten'/);
  rmSync(dir, { recursive: true, force: true });
});

test.run();

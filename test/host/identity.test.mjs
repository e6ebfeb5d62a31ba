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
import { createCertificate, createCsr, generateKeyPair, importPrivateKeyPem, certificateSerial } from '../../dist/host/identity/x509.js';
import { initTrust } from '../../dist/host/identity/trust.js';
import { issueToken, verifyToken } from '../../dist/host/identity/token.js';
import { Issuer, IdentityRefused } from '../../dist/host/identity/issuer.js';

const cli = fileURLToPath(new URL('../../dist/skiff.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'skiff-identity-'));

test('certificate serials are positive, minimal DER integers of at least 64 random bits (OpenSSL refuses padded ones)', () => {
  const seen = new Set();
  for (let i = 0; i < 20_000; i++) {
    const s = certificateSerial();
    assert.ok(s.length >= 9 && s.length <= 20, 'RFC 5280: at most 20 octets; CA/B: 64 bits of entropy');
    assert.ok(s[0] < 0x80, 'positive');
    assert.ok(!(s[0] === 0 && s.length > 1 && s[1] < 0x80), 'no redundant leading zero');
    assert.ok(s[0] !== 0, 'no leading zero byte at all');
    seen.add(Buffer.from(s).toString('hex'));
  }
  assert.is(seen.size, 20_000);
});

test('skiff identity init: a root and an issuer openssl verifies, private files, never overwritten', async () => {
  const dir = join(tmp(), 'trust');
  const r = await run(process.execPath, [cli, 'identity', 'init', dir, '--trust-domain', 'example.org']);
  assert.is(r.code, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /trust anchor: CN=root\.skiff\.example\.org/);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  for (const f of ['trust-anchors.pem', 'root.key', 'issuer.crt', 'issuer.key', 'tokens.key']) assert.is(statSync(join(dir, f)).mode & 0o777, 0o600, f);
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

test('ServiceAccount tokens: the CLI prints one the secret verifies; changed or foreign tokens do not verify', async () => {
  const dir = tmp();
  await initTrust(dir);
  const r = await run(process.execPath, [cli, 'identity', 'token', dir, 'shop/web.frontend']);
  assert.is(r.code, 0, r.stderr.toString());
  const token = r.stdout.toString().trim();
  const secret = readFileSync(join(dir, 'tokens.key'), 'utf8');
  assert.equal(verifyToken(secret, token), { namespace: 'shop', name: 'web.frontend' });
  assert.is(verifyToken(secret, token.replace('shop', 'shoq')), null, 'another namespace');
  assert.is(verifyToken(secret, `${token.slice(0, -2)}AA`), null, 'a changed MAC');
  assert.is(verifyToken('another secret', token), null);
  assert.is(verifyToken(secret, 'garbage'), null);
  // the directory may come from the environment
  const { execFileSync } = await import('node:child_process');
  const viaEnv = execFileSync(process.execPath, [cli, 'identity', 'token', 'shop/web.frontend'], { env: { ...process.env, SKIFF_IDENTITY_DIR: dir }, encoding: 'utf8' }).trim();
  assert.is(viaEnv, token);
  const bad = await run(process.execPath, [cli, 'identity', 'token', dir, 'Not/Valid']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr.toString(), /'Not' is not a namespace name/);
  rmSync(dir, { recursive: true, force: true });
});

async function issuerIn(dir, lifetimeMs) {
  const t = await initTrust(dir, { trustDomain: 'cluster.local' });
  const secret = readFileSync(join(dir, 'tokens.key'), 'utf8');
  const issuer = new Issuer({
    trustDomain: 'cluster.local', issuerCert: readFileSync(join(dir, 'issuer.crt'), 'utf8'),
    issuerKey: await importPrivateKeyPem(readFileSync(join(dir, 'issuer.key'), 'utf8')), tokenSecret: secret, lifetimeMs,
  });
  return { t, secret, issuer };
}

test('the issuer certifies the identity the token proves, for the key in the request', async () => {
  const dir = tmp();
  const { secret, issuer } = await issuerIn(dir, 3_600_000);
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, ['spiffe://cluster.local/ns/default/sa/web'], ['web.default.serviceaccount.identity.cluster.local']);
  writeFileSync(join(dir, 'req.csr'), csr);
  const shown = await run('openssl', ['req', '-in', join(dir, 'req.csr'), '-noout', '-verify', '-text']);
  assert.match(`${shown.stdout}${shown.stderr}`, /verify OK|Certificate request self-signature verify OK/);
  const r = await issuer.certify(issueToken(secret, { namespace: 'default', name: 'web' }), csr);
  assert.is(r.identity, 'spiffe://cluster.local/ns/default/sa/web');
  writeFileSync(join(dir, 'chain.pem'), r.chain);
  const leaf = new X509Certificate(r.chain);
  assert.match(leaf.subjectAltName, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/);
  const spki = (k) => k.export({ format: 'der', type: 'spki' }).toString('hex');
  const { createPublicKey } = await import('node:crypto');
  const { webcrypto } = await import('node:crypto');
  const csrKey = createPublicKey({ key: Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)), format: 'der', type: 'spki' });
  assert.is(spki(leaf.publicKey), spki(csrKey), 'certifies the requested key');
  const lifetime = new Date(leaf.validTo).getTime() - Date.now();
  assert.ok(lifetime > 3_500_000 && lifetime <= 3_600_000, String(lifetime));
  const v = await run('openssl', ['verify', '-CAfile', join(dir, 'trust-anchors.pem'), '-untrusted', join(dir, 'issuer.crt'), join(dir, 'chain.pem')]);
  assert.is(v.code, 0, `${v.stdout}${v.stderr}`);
  rmSync(dir, { recursive: true, force: true });
});

test('the issuer refuses a bad token, a request for another identity, a malformed or forged request', async () => {
  const dir = tmp();
  const { secret, issuer } = await issuerIn(dir);
  const keys = await generateKeyPair();
  const token = issueToken(secret, { namespace: 'default', name: 'web' });
  const good = await createCsr(keys, ['spiffe://cluster.local/ns/default/sa/web'], []);
  const refused = async (p, reason, re) => {
    try {
      await p;
      assert.unreachable('certified');
    } catch (err) {
      assert.instance(err, IdentityRefused, err.message);
      assert.is(err.reason, reason, err.message);
      assert.match(err.message, re);
    }
  };
  await refused(issuer.certify('v1.default.web.AAAA', good), 'bad-token', /token is not valid/);
  await refused(issuer.certify(issueToken('other secret', { namespace: 'default', name: 'web' }), good), 'bad-token', /token/);
  await refused(issuer.certify(token, await createCsr(keys, ['spiffe://cluster.local/ns/default/sa/admin'], [])), 'wrong-identity',
    /asks for spiffe:\/\/cluster\.local\/ns\/default\/sa\/admin; the token is for spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/);
  await refused(issuer.certify(token, await createCsr(keys, ['spiffe://cluster.local/ns/default/sa/web'], ['evil.example.com'])), 'wrong-identity', /evil\.example\.com/);
  await refused(issuer.certify(token, await createCsr(keys, [], [])), 'wrong-identity', /no name/);
  await refused(issuer.certify(token, 'not a request'), 'bad-csr', /no CERTIFICATE REQUEST/);
  await refused(issuer.certify(token, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), 'bad-csr', /malformed|request/);
  // a request whose signature was made by another key: no proof of possession
  const der = Buffer.from(good.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 5] ^= 0xff; // inside the signature
  const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await refused(issuer.certify(token, forged), 'bad-csr', /signature does not verify|malformed/);
  rmSync(dir, { recursive: true, force: true });
});

test.run();

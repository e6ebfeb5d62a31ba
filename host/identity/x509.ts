// X.509 for the mesh's identities: ECDSA P-256 keys and certificates built with pkijs (Node has
// X509Certificate to read and verify certificates, but nothing to create them; pkijs is the maintained
// standard for that in JavaScript, and unlike @peculiar/x509 needs no global reflect-metadata
// polyfill, which a library embedded in other gateways must not install). Keys come from Node's own
// WebCrypto; the private keys of workloads never leave memory.
import { webcrypto, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';

// Loaded on first use (require, not import: a bundler hoists static imports of packages to the top
// of the bundle, and a sidecar without an identity should not carry them)
let libs: { pkijs: typeof Pkijs; asn1js: typeof Asn1js } | null = null;
function lib(): { pkijs: typeof Pkijs; asn1js: typeof Asn1js } {
  if (libs) return libs;
  const req = createRequire(import.meta.url);
  const pkijs = req('pkijs') as typeof Pkijs;
  pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto }));
  libs = { pkijs, asn1js: req('asn1js') as typeof Asn1js };
  return libs;
}

export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const OID = {
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};
// KeyUsage bits (RFC 5280 §4.2.1.3), as the first byte of the BIT STRING
const DIGITAL_SIGNATURE = 0x80;
const KEY_CERT_SIGN = 0x04;
const CRL_SIGN = 0x02;

export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export async function generateKeyPair(): Promise<KeyPair> {
  return await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as KeyPair;
}

export function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER bytes of every `label` block in a PEM text. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

export async function importPrivateKeyPem(text: string): Promise<CryptoKey> {
  const [der] = pemBlocks(text, 'PRIVATE KEY');
  if (!der) throw new Error('no PRIVATE KEY block');
  return await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
}

function name(cn: string): Pkijs.RelativeDistinguishedNames {
  const { pkijs, asn1js } = lib();
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: OID.commonName, value: new asn1js.Utf8String({ value: cn }) })],
  });
}

function extension(extnID: string, critical: boolean, value: Asn1js.BaseBlock): Pkijs.Extension {
  const { pkijs, asn1js } = lib();
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function keyUsage(bits: number): Asn1js.BitString {
  const { pkijs, asn1js } = lib();
  // DER: unused trailing bits counted in the first content byte
  let unused = 0;
  while (unused < 7 && (bits & (1 << unused)) === 0) unused++;
  return new asn1js.BitString({ valueHex: new Uint8Array([bits]).buffer, unusedBits: unused });
}

async function keyId(publicKey: CryptoKey): Promise<ArrayBuffer> {
  // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('raw', publicKey));
  return await webcrypto.subtle.digest('SHA-1', spki);
}

export interface CertificateSpec {
  /** Subject common name (may be empty for workload certificates, whose names are SANs). */
  commonName: string;
  publicKey: CryptoKey;
  /** The signer: its key, and its certificate (omit both for a self-signed root: the key signs itself). */
  issuerKey: CryptoKey;
  issuer?: X509Certificate;
  notBefore: Date;
  notAfter: Date;
  /** A CA: may sign certificates, at most pathLen more CAs below it. */
  ca?: { pathLen: number };
  /** URI subject alternative names (spiffe://…) and DNS names. */
  uris?: string[];
  dnsNames?: string[];
}

/**
 * A serial number: 126 random bits in 16 bytes whose first is 0x40–0x7f, so the DER INTEGER is
 * positive and minimal (RFC 5280 §4.1.2.2). A first byte of 0x00 would be a redundant leading zero
 * whenever the next is below 0x80, which OpenSSL refuses ("illegal padding"): one certificate in 256.
 */
export function certificateSerial(): Uint8Array<ArrayBuffer> {
  const serial = new Uint8Array(16);
  webcrypto.getRandomValues(serial);
  serial[0] = (serial[0] & 0x3f) | 0x40;
  return serial;
}

/** Builds and signs a certificate; returns it in PEM. */
export async function createCertificate(spec: CertificateSpec): Promise<string> {
  const { pkijs, asn1js } = lib();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = certificateSerial();
  cert.serialNumber = new asn1js.Integer({ valueHex: serial.buffer });
  cert.subject = name(spec.commonName);
  cert.issuer = spec.issuer ? pkijs.Certificate.fromBER(spec.issuer.raw).subject : name(spec.commonName);
  cert.notBefore.value = spec.notBefore;
  cert.notAfter.value = spec.notAfter;
  await cert.subjectPublicKeyInfo.importKey(spec.publicKey);
  const exts: Pkijs.Extension[] = [];
  if (spec.ca) {
    exts.push(extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: true, pathLenConstraint: spec.ca.pathLen }).toSchema()));
    exts.push(extension(OID.keyUsage, true, keyUsage(KEY_CERT_SIGN | CRL_SIGN)));
  } else {
    exts.push(extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: false }).toSchema()));
    exts.push(extension(OID.keyUsage, true, keyUsage(DIGITAL_SIGNATURE)));
    exts.push(extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth, OID.clientAuth] }).toSchema()));
  }
  exts.push(extension(OID.subjectKeyId, false, new asn1js.OctetString({ valueHex: await keyId(spec.publicKey) })));
  const signerPublic = spec.issuer ? (spec.issuer.publicKey.export({ format: 'jwk' }) as JsonWebKey) : undefined;
  const authorityKey = signerPublic
    ? await keyId(await webcrypto.subtle.importKey('jwk', signerPublic, KEY_ALGORITHM, true, ['verify']))
    : await keyId(spec.publicKey);
  exts.push(extension(OID.authorityKeyId, false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: authorityKey }) }).toSchema()));
  const alt: Pkijs.GeneralName[] = [
    ...(spec.uris ?? []).map((value) => new pkijs.GeneralName({ type: 6, value })),
    ...(spec.dnsNames ?? []).map((value) => new pkijs.GeneralName({ type: 2, value })),
  ];
  // the names are the identity: critical when the subject is empty (RFC 5280 §4.2.1.6)
  if (alt.length) exts.push(extension(OID.subjectAltName, spec.commonName === '', new pkijs.GeneralNames({ names: alt }).toSchema()));
  cert.extensions = exts;
  await cert.sign(spec.issuerKey, 'SHA-256');
  return pem('CERTIFICATE', cert.toSchema(true).toBER(false));
}

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

function altNames(uris: string[], dnsNames: string[]): Pkijs.GeneralNames {
  const { pkijs, asn1js } = lib();
  return new pkijs.GeneralNames({
    names: [
      ...uris.map((value) => new pkijs.GeneralName({ type: 6, value })),
      ...dnsNames.map((value) => new pkijs.GeneralName({ type: 2, value })),
    ],
  });
}

/** A PKCS#10 request for a certificate naming only `uris` and `dnsNames`, signed by the key (proof of possession). */
export async function createCsr(keys: KeyPair, uris: string[], dnsNames: string[]): Promise<string> {
  const { pkijs, asn1js } = lib();
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  await csr.subjectPublicKeyInfo.importKey(keys.publicKey);
  const exts = new pkijs.Extensions({ extensions: [extension(OID.subjectAltName, true, altNames(uris, dnsNames).toSchema())] });
  csr.attributes = [new pkijs.Attribute({ type: EXTENSION_REQUEST, values: [exts.toSchema()] })];
  await csr.sign(keys.privateKey, 'SHA-256');
  return pem('CERTIFICATE REQUEST', csr.toSchema().toBER(false));
}

export interface ParsedCsr {
  publicKey: CryptoKey;
  uris: string[];
  dnsNames: string[];
}

/** Reads a PEM certificate request; throws when it is malformed or its signature does not verify. */
export async function parseCsr(text: string): Promise<ParsedCsr> {
  const { pkijs, asn1js } = lib();
  const [der] = pemBlocks(text, 'CERTIFICATE REQUEST');
  if (!der) throw new Error('no CERTIFICATE REQUEST block');
  let csr: Pkijs.CertificationRequest;
  try {
    csr = pkijs.CertificationRequest.fromBER(new Uint8Array(der));
  } catch (err) {
    throw new Error(`malformed certificate request: ${(err as Error).message}`);
  }
  if (!(await csr.verify())) throw new Error('the certificate request signature does not verify');
  const publicKey = await csr.getPublicKey();
  const alg = publicKey.algorithm as EcKeyAlgorithm;
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new Error(`key ${alg.name} ${alg.namedCurve ?? ''}: only ECDSA P-256 keys are certified`);
  const uris: string[] = [];
  const dnsNames: string[] = [];
  for (const attr of csr.attributes ?? []) {
    if (attr.type !== EXTENSION_REQUEST) continue;
    for (const v of attr.values) {
      const exts = new pkijs.Extensions({ schema: v });
      for (const e of exts.extensions) {
        if (e.extnID !== OID.subjectAltName) continue;
        const names = e.parsedValue as Pkijs.AltName | undefined;
        for (const n of names?.altNames ?? []) {
          if (n.type === 6) uris.push(String(n.value));
          else if (n.type === 2) dnsNames.push(String(n.value));
          else throw new Error(`the request asks for a name of GeneralName type ${n.type}: only URI and DNS names are certified`);
        }
      }
    }
  }
  return { publicKey, uris, dnsNames };
}

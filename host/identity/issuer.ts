// The identity service's decision: a certificate for the ServiceAccount a token proves, for the key
// in a certificate request, naming exactly that identity — or a refusal that says why. The transport
// (TLS, HTTP) is `skiff control`'s; this is what it calls.
import { X509Certificate } from 'node:crypto';
import { createCertificate, parseCsr } from './x509.js';
import { verifyToken, type ServiceAccount } from './token.js';

export class IdentityRefused extends Error {
  constructor(readonly reason: 'bad-token' | 'bad-csr' | 'wrong-identity' | 'issuer-expired' | 'unverifiable', message: string) {
    super(message);
  }
  override get name(): string { return 'IdentityRefused'; }
}

export function spiffeId(trustDomain: string, sa: ServiceAccount): string {
  return `spiffe://${trustDomain}/ns/${sa.namespace}/sa/${sa.name}`;
}
export function identityDnsName(trustDomain: string, sa: ServiceAccount): string {
  return `${sa.name}.${sa.namespace}.serviceaccount.identity.${trustDomain}`;
}

export interface IssuerOptions {
  trustDomain: string;
  issuerCert: string;
  issuerKey: CryptoKey;
  /** The directory mode's token secret (`skiff identity init`): tokens are HMACs under it. */
  tokenSecret?: string;
  /**
   * Who a token proves to be, in place of the token secret: in a cluster, a TokenReview of the
   * projected ServiceAccount token. Resolves null for a token it refuses; rejects when it cannot tell.
   */
  authenticate?: (token: string) => Promise<ServiceAccount | null>;
  /** Default workload certificate lifetime: 24 h. */
  lifetimeMs?: number;
}

export class Issuer {
  private cert: X509Certificate;
  constructor(private options: IssuerOptions) {
    this.cert = new X509Certificate(options.issuerCert);
  }

  /** A certificate (PEM, the leaf then the issuer) for the token's identity, or IdentityRefused. */
  async certify(token: string, csrPem: string, now = Date.now()): Promise<{ chain: string; identity: string; notAfter: Date }> {
    const o = this.options;
    let sa: ServiceAccount | null;
    try {
      sa = o.authenticate ? await o.authenticate(token) : o.tokenSecret !== undefined ? verifyToken(o.tokenSecret, token) : null;
    } catch (err) {
      throw new IdentityRefused('unverifiable', `the token could not be checked: ${(err as Error).message}`);
    }
    if (!sa) throw new IdentityRefused('bad-token', 'the token is not valid for this identity service');
    let csr;
    try {
      csr = await parseCsr(csrPem);
    } catch (err) {
      throw new IdentityRefused('bad-csr', (err as Error).message);
    }
    const td = this.options.trustDomain;
    const identity = spiffeId(td, sa);
    const dns = identityDnsName(td, sa);
    const wrongUri = csr.uris.length !== 1 || csr.uris[0] !== identity;
    const wrongDns = csr.dnsNames.some((n) => n !== dns);
    if (wrongUri || wrongDns) {
      const asked = [...csr.uris, ...csr.dnsNames].join(', ') || 'no name';
      throw new IdentityRefused('wrong-identity', `the request asks for ${asked}; the token is for ${identity}`);
    }
    const issuerEnd = new Date(this.cert.validTo).getTime();
    if (issuerEnd <= now) throw new IdentityRefused('issuer-expired', `the issuer expired at ${this.cert.validTo}`);
    const notAfter = new Date(Math.min(now + (this.options.lifetimeMs ?? 86_400_000), issuerEnd));
    const leaf = await createCertificate({
      commonName: '', publicKey: csr.publicKey, issuerKey: this.options.issuerKey, issuer: this.cert,
      notBefore: new Date(now - 60_000), notAfter, uris: [identity], dnsNames: [dns],
    });
    return { chain: leaf + this.options.issuerCert, identity, notAfter };
  }
}

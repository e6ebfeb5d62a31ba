// `skiff identity init DIR`: the trust anchor (a long-lived self-signed root), the issuer (an
// intermediate CA, signed by the root, that the identity service signs workload certificates with),
// as Linkerd lays them out, and the secret behind the directory mode's ServiceAccount tokens. Every file is written 0600; the root's key is only needed again to sign
// the next issuer and belongs offline once the issuer exists.
import { existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCertificate, exportPrivateKeyPem, generateKeyPair } from './x509.js';
import { TOKEN_SECRET_FILE, newTokenSecret } from './token.js';

export const TRUST_FILES = {
  /** The trusted roots, PEM, one or more: every sidecar verifies peers against these. */
  anchors: 'trust-anchors.pem',
  rootKey: 'root.key',
  issuerCert: 'issuer.crt',
  issuerKey: 'issuer.key',
  /** The secret behind `skiff identity token` (token.ts). */
  tokenSecret: TOKEN_SECRET_FILE,
} as const;

const DAY = 86_400_000;
const TRUST_DOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface InitOptions {
  trustDomain?: string;
  rootDays?: number;
  issuerDays?: number;
  now?: Date;
}

export interface InitResult {
  files: string[];
  root: X509Certificate;
  issuer: X509Certificate;
}

/** Creates the trust anchor and the issuer in `dir`; refuses to overwrite any existing file. */
export async function initTrust(dir: string, options: InitOptions = {}): Promise<InitResult> {
  const trustDomain = options.trustDomain ?? 'cluster.local';
  if (!TRUST_DOMAIN.test(trustDomain)) throw new Error(`trust domain '${trustDomain}' is not a DNS name`);
  const rootDays = options.rootDays ?? 3650;
  const issuerDays = options.issuerDays ?? 365;
  if (!(issuerDays > 0 && rootDays >= issuerDays)) throw new Error('the issuer must expire before the root, and both after today');
  const files = Object.values(TRUST_FILES).map((f) => join(dir, f));
  const taken = files.filter((f) => existsSync(f));
  if (taken.length) throw new Error(`not overwriting ${taken.join(', ')}: a trust anchor is there already (rotate it, or remove it first)`);
  const now = options.now ?? new Date();
  // a little slack for clocks that run behind
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const rootKeys = await generateKeyPair();
  const rootPem = await createCertificate({
    commonName: `root.skiff.${trustDomain}`, publicKey: rootKeys.publicKey, issuerKey: rootKeys.privateKey,
    notBefore, notAfter: new Date(now.getTime() + rootDays * DAY), ca: { pathLen: 1 },
  });
  const root = new X509Certificate(rootPem);
  const issuerKeys = await generateKeyPair();
  const issuerPem = await createCertificate({
    commonName: `identity.skiff.${trustDomain}`, publicKey: issuerKeys.publicKey, issuerKey: rootKeys.privateKey, issuer: root,
    notBefore, notAfter: new Date(now.getTime() + issuerDays * DAY), ca: { pathLen: 0 },
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (file: string, text: string): void => {
    const p = join(dir, file);
    writeFileSync(p, text, { mode: 0o600, flag: 'wx' });
    chmodSync(p, 0o600); // whatever the umask
  };
  write(TRUST_FILES.anchors, rootPem);
  write(TRUST_FILES.rootKey, await exportPrivateKeyPem(rootKeys.privateKey));
  write(TRUST_FILES.issuerCert, issuerPem);
  write(TRUST_FILES.issuerKey, await exportPrivateKeyPem(issuerKeys.privateKey));
  write(TRUST_FILES.tokenSecret, newTokenSecret());
  return { files, root, issuer: new X509Certificate(issuerPem) };
}

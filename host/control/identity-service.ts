// The control plane's identity service: HTTPS (TLS 1.3, with a serving certificate for
// identity.skiff.<trust-domain> from the issuer), one endpoint: POST /v1/certify with
// {"token": …, "csr": PEM} → {"chain": PEM} or a refusal {"reason", "message"} (403 for the caller's
// credentials, 400 for a malformed request).
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { TRUST_FILES } from '../identity/trust.js';
import { Issuer, IdentityRefused } from '../identity/issuer.js';
import { createCertificate, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from '../identity/x509.js';

export const CERTIFY_PATH = '/v1/certify';
const MAX_BODY = 64 * 1024;

export interface IdentityServiceOptions {
  /** The directory `skiff identity init` wrote. */
  identityDir: string;
  trustDomain?: string;
  /** Workload certificate lifetime (default 24 h). */
  certificateLifetimeMs?: number;
  log?: (line: string) => void;
}

/** The name proxies expect on the identity service's certificate. */
export function identityServiceName(trustDomain: string): string {
  return `identity.skiff.${trustDomain}`;
}

export async function createIdentityService(options: IdentityServiceOptions): Promise<https.Server> {
  const trustDomain = options.trustDomain ?? 'cluster.local';
  const read = (f: string): string => readFileSync(join(options.identityDir, f), 'utf8');
  const issuerCert = read(TRUST_FILES.issuerCert);
  const issuerKey = await importPrivateKeyPem(read(TRUST_FILES.issuerKey));
  const issuer = new Issuer({ trustDomain, issuerCert, issuerKey, tokenSecret: read(TRUST_FILES.tokenSecret), lifetimeMs: options.certificateLifetimeMs });
  // the service's own certificate, made at start from the issuer (it lives as long as the issuer)
  const keys = await generateKeyPair();
  const issuerX509 = new X509Certificate(issuerCert);
  const serving = await createCertificate({
    commonName: '', publicKey: keys.publicKey, issuerKey, issuer: issuerX509,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(issuerX509.validTo), dnsNames: [identityServiceName(trustDomain)],
  });
  const log = options.log ?? (() => {});
  return https.createServer({ key: await exportPrivateKeyPem(keys.privateKey), cert: serving + issuerCert, minVersion: 'TLSv1.3' }, (req, res) => {
    void handle(issuer, req, res, log);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(issuer: Issuer, req: IncomingMessage, res: ServerResponse, log: (l: string) => void): Promise<void> {
  if (req.url !== CERTIFY_PATH) return reply(res, 404, { reason: 'not-found', message: `the identity service answers POST ${CERTIFY_PATH}` });
  if (req.method !== 'POST') return reply(res, 405, { reason: 'method', message: `POST ${CERTIFY_PATH}` });
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) return reply(res, 413, { reason: 'too-large', message: `requests are at most ${MAX_BODY} bytes` });
    chunks.push(c as Buffer);
  }
  let body: { token?: unknown; csr?: unknown };
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return reply(res, 400, { reason: 'bad-request', message: 'the body is not JSON' });
  }
  if (typeof body?.token !== 'string' || typeof body?.csr !== 'string') return reply(res, 400, { reason: 'bad-request', message: 'expected {"token": string, "csr": PEM string}' });
  try {
    const r = await issuer.certify(body.token, body.csr);
    log(`identity: certified ${r.identity} until ${r.notAfter.toISOString()}`);
    reply(res, 200, { chain: r.chain, identity: r.identity, notAfter: r.notAfter.toISOString() });
  } catch (err) {
    if (err instanceof IdentityRefused) {
      log(`identity: refused (${err.reason}): ${err.message}`);
      return reply(res, err.reason === 'bad-csr' ? 400 : 403, { reason: err.reason, message: err.message });
    }
    reply(res, 500, { reason: 'internal', message: (err as Error).message });
  }
}

// The control plane's identity service, served by control-server.ts over TLS 1.3 with a serving
// certificate for identity.skiff.<trust-domain> from the issuer: POST /v1/certify with
// {"token": …, "csr": PEM} → {"chain": PEM} or a refusal {"reason", "message"} (403 for the caller's
// credentials, 400 for a malformed request, 503 when the token cannot be checked now).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { ServiceAccount } from '../identity/token.js';
import type { ControlServer } from './control-server.js';

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;
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
  /** Who a token proves to be (a TokenReview in a cluster); default: the directory mode's token secret. */
  authenticate?: (token: string) => Promise<ServiceAccount | null>;
  log?: (line: string) => void;
}

/** The name proxies expect on the identity service's certificate. */
export function identityServiceName(trustDomain: string): string {
  return `identity.skiff.${trustDomain}`;
}

/** The issuer, and the control plane's serving key and certificate (identity.skiff.<trust domain>, from the issuer). */
export async function loadIssuer(options: IdentityServiceOptions): Promise<{ issuer: Issuer; key: string; cert: string; anchors: string }> {
  const trustDomain = options.trustDomain ?? 'cluster.local';
  const read = (f: string): string => readFileSync(join(options.identityDir, f), 'utf8');
  const issuerCert = read(TRUST_FILES.issuerCert);
  const issuerKey = await importPrivateKeyPem(read(TRUST_FILES.issuerKey));
  // the directory mode's tokens need the token secret; a cluster's are checked by TokenReview
  const tokenSecret = options.authenticate ? undefined : read(TRUST_FILES.tokenSecret);
  const issuer = new Issuer({ trustDomain, issuerCert, issuerKey, tokenSecret, authenticate: options.authenticate, lifetimeMs: options.certificateLifetimeMs });
  // the service's own certificate, made at start from the issuer (it lives as long as the issuer)
  const keys = await generateKeyPair();
  const issuerX509 = new X509Certificate(issuerCert);
  const serving = await createCertificate({
    commonName: '', publicKey: keys.publicKey, issuerKey, issuer: issuerX509,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(issuerX509.validTo), dnsNames: [identityServiceName(trustDomain)],
  });
  return { issuer, key: await exportPrivateKeyPem(keys.privateKey), cert: serving + issuerCert, anchors: read(TRUST_FILES.anchors) };
}

/** The identity service alone (no config streams): see control-server.ts. */
export async function createIdentityService(options: IdentityServiceOptions): Promise<ControlServer> {
  const { createControlServer } = await import('./control-server.js');
  return createControlServer(options);
}

function reply(res: Response, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** POST /v1/certify (HTTP/1.1 or HTTP/2). */
export async function handleCertify(issuer: Issuer, req: Request, res: Response, log: (l: string) => void): Promise<void> {
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
      return reply(res, err.reason === 'bad-csr' ? 400 : err.reason === 'unverifiable' ? 503 : 403, { reason: err.reason, message: err.message });
    }
    reply(res, 500, { reason: 'internal', message: (err as Error).message });
  }
}

// The proxy's own identity: a key made in memory (never written anywhere, never sent), a certificate
// for it from the identity service, renewed at about 70% of its lifetime with jitter, and after a
// failure retried with backoff. Whoever serves TLS reads `current` (and `onChange`) for the key and
// chain in use; connections made with an older certificate keep it.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { HostPort } from '../config/address.js';
import { createCsr, exportPrivateKeyPem, generateKeyPair } from './x509.js';
import { identityDnsName, spiffeId } from './issuer.js';
import type { ServiceAccount } from './token.js';

export interface WorkloadIdentityOptions {
  /** The identity service (skiff control). */
  addr: HostPort;
  /** The ServiceAccount token file (read for every request: tokens rotate). */
  tokenFile: string;
  /** PEM file of the trusted roots. */
  trustAnchorsFile: string;
  trustDomain: string;
  log?: (line: string) => void;
  /** Renew at this fraction of the lifetime (±10% jitter). */
  renewAt?: number;
}

export interface Certified {
  identity: string;
  keyPem: string;
  chainPem: string;
  notAfter: Date;
}

const SERVICE_PATH = '/v1/certify';

/**
 * The ServiceAccount a token names — a directory-mode token ("v1.namespace.name.mac"), or a
 * Kubernetes ServiceAccount token (a JWT whose claims name it) — read, not verified: checking it is
 * the identity service's part (its MAC, or a TokenReview).
 */
export function tokenAccount(token: string): ServiceAccount | null {
  const parts = token.trim().split('.');
  if (parts.length >= 4 && parts[0] === 'v1') return { namespace: parts[1], name: parts.slice(2, -1).join('.') };
  if (parts.length !== 3) return null;
  let claims: { sub?: unknown; 'kubernetes.io'?: { namespace?: unknown; serviceaccount?: { name?: unknown } } };
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const k = claims?.['kubernetes.io'];
  if (typeof k?.namespace === 'string' && typeof k.serviceaccount?.name === 'string') return { namespace: k.namespace, name: k.serviceaccount.name };
  const m = typeof claims?.sub === 'string' ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub) : null;
  return m ? { namespace: m[1], name: m[2] } : null;
}

export class WorkloadIdentity {
  current: Certified | null = null;
  renewals = 0;
  lastError = '';
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private listeners: ((c: Certified) => void)[] = [];

  constructor(private options: WorkloadIdentityOptions) {}

  /** Called with each new certificate. */
  onChange(fn: (c: Certified) => void): void { this.listeners.push(fn); }

  start(): void { void this.renew(); }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), Math.max(0, ms));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const o = this.options;
    try {
      const token = readFileSync(o.tokenFile, 'utf8').trim();
      const sa = tokenAccount(token);
      if (!sa) throw new Error(`${o.tokenFile} holds neither a Skiff identity token nor a Kubernetes ServiceAccount token`);
      const keys = await generateKeyPair();
      const identity = spiffeId(o.trustDomain, sa);
      const csr = await createCsr(keys, [identity], [identityDnsName(o.trustDomain, sa)]);
      const answer = await this.post({ token, csr });
      const leaf = new X509Certificate(answer.chain);
      if (!leaf.subjectAltName?.includes(`URI:${identity}`)) throw new Error(`the identity service certified ${leaf.subjectAltName}, not ${identity}`);
      const first = this.current === null;
      this.current = { identity, keyPem: await exportPrivateKeyPem(keys.privateKey), chainPem: answer.chain, notAfter: new Date(leaf.validTo) };
      if (!first) this.renewals++;
      this.failures = 0;
      this.lastError = '';
      o.log?.(`identity: ${first ? 'certified as' : 'renewed'} ${identity} until ${this.current.notAfter.toISOString()}`);
      for (const fn of this.listeners) fn(this.current);
      // from now, not from notBefore (the service backdates it for clock skew); never a busy loop
      const life = this.current.notAfter.getTime() - Date.now();
      const at = (o.renewAt ?? 0.7) + (Math.random() - 0.5) * 0.2;
      this.schedule(Math.max(250, life * at));
    } catch (err) {
      this.failures++;
      this.lastError = (err as Error).message;
      o.log?.(`identity: ${this.lastError}`);
      // backoff with jitter, capped; a valid certificate keeps serving meanwhile
      const base = Math.min(60_000, 500 * 2 ** Math.min(this.failures, 7));
      this.schedule(base / 2 + Math.random() * base / 2);
    }
  }

  private post(body: { token: string; csr: string }): Promise<{ chain: string }> {
    const o = this.options;
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: o.addr.host, port: o.addr.port, method: 'POST', path: SERVICE_PATH,
        ca: readFileSync(o.trustAnchorsFile, 'utf8'), servername: `identity.skiff.${o.trustDomain}`, minVersion: 'TLSv1.3',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: 10_000,
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          let json: { chain?: string; reason?: string; message?: string } = {};
          try { json = JSON.parse(text); } catch { /* reported below */ }
          if (res.statusCode === 200 && typeof json.chain === 'string') resolve({ chain: json.chain });
          else reject(new Error(`the identity service refused (${res.statusCode} ${json.reason ?? ''}): ${json.message ?? text.slice(0, 200)}`));
        });
      });
      req.on('timeout', () => req.destroy(new Error('the identity service did not answer in 10 s')));
      req.on('error', (err) => reject(new Error(`identity service at ${o.addr.host}:${o.addr.port}: ${err.message}`)));
      req.end(payload);
    });
  }
}

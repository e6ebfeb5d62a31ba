// Tokens a proxy presents to the identity service to say which ServiceAccount it runs as, in the
// directory mode (the Kubernetes mode will use ServiceAccount tokens and TokenReview instead).
// A token is an HMAC of "namespace/serviceaccount" under a secret that `skiff identity init` writes
// next to the issuer (tokens.key, 0600): whoever can read a pod's token can act as that account,
// as with Kubernetes' own tokens, and nothing else.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_SECRET_FILE = 'tokens.key';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONTEXT = 'skiff identity token v1\n';

export interface ServiceAccount {
  namespace: string;
  name: string;
}

export function newTokenSecret(): string {
  return `${randomBytes(32).toString('base64url')}\n`;
}

function mac(secret: string, sa: ServiceAccount): string {
  return createHmac('sha256', secret.trim()).update(`${CONTEXT}${sa.namespace}/${sa.name}`).digest('base64url');
}

/** "NAMESPACE/NAME" → a ServiceAccount, or why not. */
export function parseServiceAccount(s: string): ServiceAccount | string {
  const m = /^([^/]+)\/([^/]+)$/.exec(s);
  if (!m) return `expected NAMESPACE/SERVICEACCOUNT, got '${s}'`;
  if (!DNS_LABEL.test(m[1])) return `'${m[1]}' is not a namespace name`;
  if (!DNS_LABEL.test(m[2]) && !/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(m[2])) return `'${m[2]}' is not a ServiceAccount name`;
  return { namespace: m[1], name: m[2] };
}

export function issueToken(secret: string, sa: ServiceAccount): string {
  return `v1.${sa.namespace}.${sa.name}.${mac(secret, sa)}`;
}

/** The ServiceAccount a token stands for, or null when it is not one of ours. */
export function verifyToken(secret: string, token: string): ServiceAccount | null {
  const parts = token.trim().split('.');
  // names may contain dots (ServiceAccount names are DNS subdomains): the MAC is last, the namespace first
  if (parts.length < 4 || parts[0] !== 'v1') return null;
  const sa = { namespace: parts[1], name: parts.slice(2, -1).join('.') };
  if (typeof parseServiceAccount(`${sa.namespace}/${sa.name}`) === 'string') return null;
  const want = Buffer.from(mac(secret, sa));
  const got = Buffer.from(parts[parts.length - 1]);
  return want.length === got.length && timingSafeEqual(want, got) ? sa : null;
}

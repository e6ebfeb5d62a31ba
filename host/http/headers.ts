// Header rules a proxy applies to every message it forwards (RFC 9110 §7.6): hop-by-hop fields are
// dropped (connection-specific fields, and any the Connection field names), Via gets our entry.
// Field lists are flat [name, value, …] arrays with lowercase names, pseudo-headers first.
import type { FieldList } from '../core/fields.js';

/** Fields that describe one hop only (RFC 9110 §7.6.1, plus the de-facto proxy-connection and keep-alive). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'proxy-authenticate', 'proxy-authorization']);

export const VIA_PSEUDONYM = 'skiff';

/**
 * Marks an HTTP/1.1 request carried over the mesh's HTTP/2 between two Skiff proxies, so the far
 * side speaks HTTP/1.1 to its application again (Linkerd's l5d-orig-proto does the same).
 */
export const ORIG_PROTO = 'skiff-orig-proto';
/**
 * Marks a request a Skiff outbound forwarded to a peer sidecar: the routes that apply to it were
 * applied by the caller's sidecar, so the inbound does not apply producer routes again. With mTLS on,
 * the inbound honours it only from a proven sidecar; without, any client could send it.
 */
export const ROUTED = 'skiff-routed';
/** The mesh identity of the client, as the inbound verified it with mTLS; never taken from a client. */
export const CLIENT_ID = 'skiff-client-id';
/**
 * Fields between two Skiff sidecars only: never taken from an application, never given to one —
 * in any spelling an application might read as the same name: CGI-style frameworks (WSGI, Rack,
 * PHP) fold '_' and '-' together (HTTP_SKIFF_CLIENT_ID), so `skiff_client_id` is removed too.
 */
export const MESH_HOP = new Set([ORIG_PROTO, ROUTED, CLIENT_ID]);

/** Whether `name` (lowercase) is in `set` once '_' is read as '-'. */
export function inSetAnyDash(set: ReadonlySet<string>, name: string): boolean {
  return set.has(name) || (name.indexOf('_') >= 0 && set.has(name.replace(/_/g, '-')));
}

/** What to do with request header names containing '_' (nginx and Envoy offer the same choice). */
export type UnderscoreHeaders = 'allow' | 'drop' | 'reject';

/** The first regular field name of a request head containing '_', or undefined. */
export function underscoreName(fields: FieldList): string | undefined {
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i];
    if (n.charCodeAt(0) !== 0x3a && n.indexOf('_') >= 0) return n;
  }
  return undefined;
}

/** `fields` without the regular fields whose names contain '_'. */
export function withoutUnderscoreNames(fields: FieldList): FieldList {
  const out: FieldList = [];
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i];
    if (n.charCodeAt(0) === 0x3a || n.indexOf('_') < 0) out.push(n, fields[i + 1]);
  }
  return out;
}

/** The value of the first field named `name`, or undefined. */
export function getField(fields: FieldList, name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Our Via entry for a message received as HTTP/2 or HTTP/1.1 (RFC 9110 §7.6.3). */
export const VIA_H2 = `2 ${VIA_PSEUDONYM}`;
export const VIA_H1 = `1.1 ${VIA_PSEUDONYM}`;

/**
 * Copies `fields` for the next hop: drops hop-by-hop fields (keeping `te: trailers` when the next hop
 * is HTTP/2, where it is the one allowed value and gRPC needs it), and appends `via` (VIA_H2 or
 * VIA_H1: the version we received the message with) to the Via field; null for trailers.
 */
export function forwardFields(fields: FieldList, via: string | null, nextIsH2: boolean, extraHop?: Set<string>): FieldList {
  let out: FieldList = [];
  let prior: string | undefined;
  let hasConnection = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') hasConnection = true;
      if (name === 'te' && nextIsH2 && value.trim().toLowerCase() === 'trailers') out.push(name, 'trailers');
      continue;
    }
    if (extraHop !== undefined && inSetAnyDash(extraHop, name)) continue;
    if (name === 'via' && via !== null) {
      prior = prior === undefined ? value : `${prior}, ${value}`;
      continue;
    }
    out.push(name, value);
  }
  if (hasConnection) {
    // fields the Connection field names are for this hop only too (HTTP/1.1; HTTP/2 has no Connection)
    const listed = connectionOptions(fields)!;
    const kept: FieldList = [];
    for (let i = 0; i < out.length; i += 2) if (!listed.has(out[i])) kept.push(out[i], out[i + 1]);
    out = kept;
  }
  if (via !== null) out.push('via', prior === undefined ? via : `${prior}, ${via}`);
  return out;
}

/** Field names listed in Connection (RFC 9110 §7.6.1): also hop-by-hop for this message. */
export function connectionOptions(fields: FieldList): Set<string> | undefined {
  let set: Set<string> | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] !== 'connection') continue;
    for (const token of fields[i + 1].split(',')) {
      const t = token.trim().toLowerCase();
      if (t) (set ??= new Set()).add(t);
    }
  }
  return set;
}

/** Whether a request is gRPC (its errors then travel as grpc-status, not HTTP status). */
export function isGrpc(fields: FieldList): boolean {
  const ct = getField(fields, 'content-type');
  return ct !== undefined && ct.startsWith('application/grpc');
}

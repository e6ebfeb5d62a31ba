// HTTP/1.1 message heads on the way out, and the translation between HTTP/1.1 heads (as the core's
// parser gives them: ":method"/":path" or ":status" then fields) and HTTP/2 heads.
// Values reaching here were validated by a parser in the core (no CR, LF or NUL), so a head we
// write can never be split into two messages.
import type { FieldList } from '../core/fields.js';

const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 103: 'Early Hints', 200: 'OK', 201: 'Created', 202: 'Accepted',
  204: 'No Content', 206: 'Partial Content', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other',
  304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request',
  401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 413: 'Content Too Large', 414: 'URI Too Long',
  415: 'Unsupported Media Type', 417: 'Expectation Failed', 421: 'Misdirected Request', 422: 'Unprocessable Content',
  426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? '';
}

/** Statuses whose responses never have content (RFC 9110 §6.4.1). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

export interface H1Framing {
  /** content-length to send, -1 when the message has none (then chunked or no body). */
  contentLength: number;
  chunked: boolean;
}

/**
 * Writes field lines for an HTTP/1.1 head from an HTTP/2-shaped list: pseudo-fields skipped,
 * cookie crumbs rejoined with "; " (RFC 9113 §8.2.3), content-length and transfer-encoding set from
 * `framing` (any given in `fields` are dropped first).
 */
function fieldLines(fields: FieldList, framing: H1Framing, extra: string): string {
  let s = '';
  let cookie: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.charCodeAt(0) === 58 /* : */) continue;
    if (name === 'content-length' || name === 'transfer-encoding') continue;
    if (name === 'cookie') {
      cookie = cookie === undefined ? fields[i + 1] : `${cookie}; ${fields[i + 1]}`;
      continue;
    }
    s += `${name}: ${fields[i + 1]}\r\n`;
  }
  if (cookie !== undefined) s += `cookie: ${cookie}\r\n`;
  if (framing.contentLength >= 0) s += `content-length: ${framing.contentLength}\r\n`;
  else if (framing.chunked) s += 'transfer-encoding: chunked\r\n';
  return s + extra + '\r\n';
}

/** An HTTP/1.1 request head from HTTP/2-shaped fields (:method, :authority → Host, :path). */
export function requestHead(fields: FieldList, framing: H1Framing, extra = ''): Buffer {
  let method = 'GET', path = '/', authority: string | undefined, host: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i];
    if (n === ':method') method = fields[i + 1];
    else if (n === ':path') path = fields[i + 1];
    else if (n === ':authority') authority = fields[i + 1];
    else if (n === 'host') host = fields[i + 1];
  }
  const hostLine = host === undefined && authority !== undefined ? `host: ${authority}\r\n` : '';
  return Buffer.from(`${method} ${path} HTTP/1.1\r\n${hostLine}${fieldLines(fields, framing, extra)}`, 'latin1');
}

/** An HTTP/1.1 response head from HTTP/2-shaped fields (:status). */
export function responseHead(status: number, fields: FieldList, framing: H1Framing, extra = ''): Buffer {
  return Buffer.from(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n${fieldLines(fields, framing, extra)}`, 'latin1');
}

export function statusOf(fields: FieldList): number {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === ':status') return Number(fields[i + 1]);
  return 0;
}

/**
 * An HTTP/1.1 request head (":method", ":path" as sent, then fields) as an HTTP/2 head:
 * origin-form takes :authority from Host; absolute-form ("http://a/b", forward-proxy style) from
 * the URI, which wins over Host (RFC 9112 §3.2.2). Host is dropped: :authority carries it.
 * Returns an error message for a target that cannot be translated.
 */
export function h1RequestToH2(fields: FieldList, scheme: string): FieldList | string {
  let method = '', target = '', host: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i];
    if (n === ':method') method = fields[i + 1];
    else if (n === ':path') target = fields[i + 1];
    else if (n === 'host' && host === undefined) host = fields[i + 1];
  }
  let authority = host, path = target;
  if (method === 'CONNECT') {
    authority = target;
    path = '';
  } else if (target.charCodeAt(0) !== 47 /* / */ && target !== '*') {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(target);
    if (!m) return `request-target '${target.slice(0, 100)}' is neither origin-form nor absolute-form`;
    scheme = m[1].toLowerCase();
    authority = m[2];
    path = m[3] || '/';
    if (authority.includes('@')) return 'userinfo in the request-target is not allowed';
  }
  const out: FieldList = [':method', method];
  if (method !== 'CONNECT') out.push(':scheme', scheme);
  if (authority !== undefined && authority !== '') out.push(':authority', authority);
  if (method !== 'CONNECT') out.push(':path', path);
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i];
    if (n.charCodeAt(0) === 58 || n === 'host') continue;
    out.push(n, fields[i + 1]);
  }
  return out;
}

/** Declared content-length of a head, -1 when absent. */
export function contentLengthOf(fields: FieldList): number {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'content-length') return Number(fields[i + 1]);
  return -1;
}

/**
 * An HTTP/1.1 Upgrade request (GET + Upgrade: proto) as an RFC 8441 extended CONNECT: the way a
 * WebSocket crosses HTTP/2. The Sec-WebSocket-* fields ride along so the far side can rebuild the
 * HTTP/1.1 handshake its application expects.
 */
export function toExtendedConnect(fields: FieldList, protocol: string): FieldList {
  const out: FieldList = [':method', 'CONNECT', ':protocol', protocol];
  for (let i = 0; i < fields.length; i += 2) if (fields[i] !== ':method') out.push(fields[i], fields[i + 1]);
  return out;
}

/** An extended CONNECT back as a GET to upgrade (the protocol is returned beside it). */
export function fromExtendedConnect(fields: FieldList): { fields: FieldList; protocol: string } {
  const out: FieldList = [':method', 'GET'];
  let protocol = '';
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i];
    if (n === ':method') continue;
    if (n === ':protocol') { protocol = fields[i + 1]; continue; }
    out.push(n, fields[i + 1]);
  }
  return { fields: out, protocol };
}

/** A copy of a response head with another :status. */
export function withStatus(fields: FieldList, status: string): FieldList {
  const out = fields.slice();
  for (let i = 0; i < out.length; i += 2) if (out[i] === ':status') { out[i + 1] = status; break; }
  return out;
}

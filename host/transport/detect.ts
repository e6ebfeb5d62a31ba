// Protocol detection on an accepted connection (before any bytes are consumed): the HTTP/2
// prior-knowledge preface, an HTTP/1.x request line, a TLS ClientHello, or else opaque TCP — bytes
// that are not HTTP are the application's business, relayed to it untouched.
// Detection waits for enough bytes to decide, up to a timeout: a client that says nothing first
// (a server-speaks-first protocol such as MySQL or SMTP) is treated as opaque when it expires.
import type { Socket } from 'node:net';

export type DetectedProtocol = 'h2' | 'http1' | 'tls' | 'opaque';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MAX_METHOD = 20;
/** The longest request line waited for (the HTTP/1.1 parser's head limit): past it, the parser answers 414. */
export const MAX_REQUEST_LINE = 64 * 1024;
const HTTP1_VERSION = Buffer.from(' HTTP/1.');

/**
 * Classifies the first bytes: a protocol, or undefined when more bytes are needed. HTTP/1 is a
 * first line `METHOD SP … SP HTTP/1.x` (what is between is the HTTP/1.1 parser's to judge, so a
 * malformed or ambiguous request is refused by Skiff); anything else — including a broken HTTP/2
 * preface — is not HTTP and goes to the application as it is, as Linkerd's detection does.
 */
export function classify(b: Buffer): DetectedProtocol | undefined {
  if (b.length === 0) return undefined;
  // TLS record: handshake (22), version 3.x
  if (b[0] === 0x16) return b.length < 2 ? undefined : b[1] === 0x03 ? 'tls' : 'opaque';
  const n = Math.min(b.length, PREFACE.length);
  if (b.subarray(0, n).equals(PREFACE.subarray(0, n))) {
    if (n === PREFACE.length) return 'h2';
    // "PRI" could still be an HTTP/1 method; only the full preface decides
    return undefined;
  }
  // the method: a token of uppercase letters (M-SEARCH, VERSION_CONTROL), then a space
  let i = 0;
  for (; i < b.length; i++) {
    const c = b[i];
    if (c === 0x20) break;
    if (i >= MAX_METHOD) return 'opaque';
    if (c >= 0x41 && c <= 0x5a) continue;
    if ((c === 0x2d || c === 0x5f) && i > 0) continue;
    return 'opaque';
  }
  if (i === b.length) return undefined;
  if (i === 0) return 'opaque';
  // the rest of the first line must end in " HTTP/1.<digit>" (CR LF, or a bare LF the parser judges)
  const lf = b.indexOf(0x0a, i);
  if (lf < 0) return b.length >= MAX_REQUEST_LINE ? 'http1' : undefined;
  const end = lf > 0 && b[lf - 1] === 0x0d ? lf - 1 : lf;
  const v = end - HTTP1_VERSION.length - 1;
  if (v < i) return 'opaque';
  const d = b[end - 1];
  return b.subarray(v, end - 1).equals(HTTP1_VERSION) && d >= 0x30 && d <= 0x39 ? 'http1' : 'opaque';
}

/**
 * The application protocol a port declares (a Server's proxyProtocol): only the mesh's own
 * protocols (TLS, the HTTP/2 preface) are still told apart; any other first bytes are taken as the
 * declared protocol at once, without waiting for a whole request line.
 */
export type DeclaredProtocol = 'http1' | 'h2' | null;

export function classifyDeclared(b: Buffer, declared: DeclaredProtocol): DetectedProtocol | undefined {
  if (declared === null) return classify(b);
  if (b.length === 0) return undefined;
  if (b[0] === 0x16) return classify(b); // TLS: mesh mTLS or the application's own
  if (declared === 'h2') return 'h2'; // the preface is checked by the HTTP/2 session itself
  const n = Math.min(b.length, PREFACE.length);
  if (b.subarray(0, n).equals(PREFACE.subarray(0, n))) return n === PREFACE.length ? 'h2' : undefined; // the mesh's HTTP/2
  return 'http1';
}

/**
 * Reads from `socket` until the protocol is known; calls back with it and the bytes read so far
 * (which the caller must process first). The socket is paused when the callback runs.
 */
export function detectProtocol(socket: Socket, timeoutMs: number, done: (p: DetectedProtocol, initial: Buffer) => void, declared: DeclaredProtocol = null): void {
  let buf: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (p: DetectedProtocol): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    done(p, buf);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const p = classifyDeclared(buf, declared);
    if (p) finish(p);
  };
  const onEnd = (): void => finish('opaque');
  const timer = setTimeout(() => finish('opaque'), timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
}

// Protocol detection on an accepted connection (before any bytes are consumed): the HTTP/2
// prior-knowledge preface, an HTTP/1.x request line, a TLS ClientHello, or else opaque TCP.
// Detection waits for enough bytes to decide, up to a timeout: a client that says nothing first
// (a server-speaks-first protocol such as MySQL or SMTP) is treated as opaque when it expires.
import type { Socket } from 'node:net';

export type DetectedProtocol = 'h2' | 'http1' | 'tls' | 'opaque';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MAX_METHOD = 20;

/** Classifies the first bytes: a protocol, or undefined when more bytes are needed. */
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
  // HTTP/1.x: a method token (uppercase letters) then a space
  for (let i = 0; i < b.length && i <= MAX_METHOD; i++) {
    const c = b[i];
    if (c === 0x20) return i > 0 ? 'http1' : 'opaque';
    if (c >= 0x41 && c <= 0x5a) continue;
    if ((c === 0x2d || c === 0x5f) && i > 0) continue; // M-SEARCH, VERSION_CONTROL
    return 'opaque';
  }
  return b.length > MAX_METHOD ? 'opaque' : undefined;
}

/**
 * Reads from `socket` until the protocol is known; calls back with it and the bytes read so far
 * (which the caller must process first). The socket is paused when the callback runs.
 */
export function detectProtocol(socket: Socket, timeoutMs: number, done: (p: DetectedProtocol, initial: Buffer) => void): void {
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
    const p = classify(buf);
    if (p) finish(p);
    else if (buf.length >= 4096) finish('opaque');
  };
  const onEnd = (): void => finish('opaque');
  const timer = setTimeout(() => finish('opaque'), timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
}

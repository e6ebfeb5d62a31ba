// A small HTTP/2 server and client built on Skiff's core (H2Session), used by the interop tests.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { H2Session } from '../../dist/host/transport/h2-session.js';

export function field(fields, name) {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Pattern bytes that a receiver can check at any offset. */
export function patternChunk(offset, length) {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) * 7 % 251;
  return b;
}

/** Sends `total` pattern bytes on `stream`, honouring write() backpressure. */
export function sendPattern(stream, total, chunk = 64 * 1024, trailers) {
  let sent = 0;
  const more = () => {
    while (sent < total) {
      const n = Math.min(chunk, total - sent);
      const buf = patternChunk(sent, n);
      sent += n;
      if (sent === total) { stream.end(buf, trailers); return; }
      if (!stream.write(buf)) { stream.onDrain = () => { stream.onDrain = undefined; more(); }; return; }
    }
    stream.end(undefined, trailers);
  };
  more();
}

/**
 * Routes: GET /hello → "hello world"; GET /bytes/N → N pattern bytes; POST /echo → the body back
 * (streamed, with the request's trailers echoed as trailers); POST /digest → sha256 and length of the body.
 */
export function startServer(options = {}) {
  const sessions = new Set();
  const server = net.createServer((socket) => {
    const session = new H2Session(socket, 'server', options, {
      onStream(stream) {
        const path = field(stream.headers, ':path');
        const method = field(stream.headers, ':method');
        if (path === '/hello') {
          stream.respond([':status', '200', 'content-type', 'text/plain', 'content-length', '11']);
          stream.end(Buffer.from('hello world'));
        } else if (path.startsWith('/bytes/')) {
          const n = Number(path.slice(7));
          stream.respond([':status', '200', 'content-length', String(n)]);
          sendPattern(stream, n);
        } else if (path === '/echo' && method === 'POST') {
          stream.respond([':status', '200']);
          stream.autoConsume = false;
          stream.onData = (data, end) => {
            const ok = stream.write(Buffer.from(data));
            if (ok) stream.consume(data.length);
            else stream.onDrain = () => { stream.onDrain = undefined; stream.consume(data.length); };
          };
          stream.onTrailers = (t) => stream.end(undefined, t);
          stream.onEnd = () => { if (!stream.trailers) stream.end(); };
        } else if (path === '/digest' && method === 'POST') {
          const hash = createHash('sha256');
          let length = 0;
          stream.onData = (data) => { hash.update(data); length += data.length; };
          stream.onEnd = () => {
            stream.respond([':status', '200', 'x-length', String(length)]);
            stream.end(Buffer.from(hash.digest('hex')));
          };
          if (stream.remoteEnded) stream.onEnd();
        } else {
          stream.respond([':status', '404'], true);
        }
      },
      onClose() { sessions.delete(session); },
    });
    sessions.add(session);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        sessions,
        close: () => new Promise((r) => { for (const s of sessions) s.socket.destroy(); server.close(() => r()); }),
      });
    });
  });
}

/** Connects a Skiff HTTP/2 client session to 127.0.0.1:port. */
export function connect(port, options = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new H2Session(socket, 'client', options));
    });
  });
}

/** Issues a request on a client session; resolves with status, headers, body, trailers. */
export function fetchOn(session, fields, body) {
  return new Promise((resolve, reject) => {
    const stream = session.request(fields, body === undefined);
    const chunks = [];
    let result = {};
    stream.onResponse = (headers, status) => { result = { status, headers }; };
    stream.onData = (data) => chunks.push(Buffer.from(data));
    stream.onTrailers = (t) => { result.trailers = t; };
    stream.onEnd = () => resolve({ ...result, body: Buffer.concat(chunks) });
    stream.onReset = (err) => reject(err);
    if (body !== undefined) {
      if (typeof body === 'number') sendPattern(stream, body);
      else stream.end(body);
    }
  });
}

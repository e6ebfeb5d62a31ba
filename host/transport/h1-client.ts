// HTTP/1.1 client connections to one address, kept alive and reused one request at a time, with
// responses parsed by the core (so a malformed or ambiguous response is refused, never guessed at).
// A request is an H1ClientStream (an HttpStream), so the same Exchange drives it.
import net from 'node:net';
import { H1Parser, H1Flags, type H1Handler } from '../core/h1-parser.js';
import type { FieldList } from '../core/fields.js';
import { ErrorCode, reasonMessage } from '../core/reasons.js';
import { StreamResetError, type HttpStream, type StreamHandler } from '../http/stream.js';
import { requestHead, contentLengthOf } from '../http/h1-message.js';
import { writeBody, endChunked } from '../http/h1-body.js';
import { ConnectError } from './h2-pool.js';

export interface H1PoolOptions {
  /** Connections at most (default 256): one request in flight each. */
  maxConnections?: number;
  /** Idle connections kept (default 16). */
  maxIdle?: number;
  connectTimeoutMs?: number;
  /** Close idle connections after this long (default 30 s; servers often close them sooner). */
  idleTimeoutMs?: number;
  highWater?: number;
  /** Told of each connection once it is established (metrics). */
  track?: (socket: net.Socket) => void;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export class H1ClientStream implements HttpStream {
  headers: FieldList | null = null;
  trailers: FieldList | null = null;
  status = 0;
  remoteEnded = false;
  localEnded = false;
  closed = false;
  handler: StreamHandler | null = null;
  autoConsume = true;
  private chunked = false;
  unconsumed = 0;
  /** Set for a request asking to upgrade (e.g. "websocket"); after 101 bytes flow raw both ways. */
  upgrade: string | null = null;
  tunnel = false;

  constructor(readonly conn: H1ClientConnection) {}

  get bufferedAmount(): number { return this.conn.socket.writableLength; }

  /** Writes the request head (HTTP/2-shaped fields: :method, :authority, :path, …). */
  sendHead(fields: FieldList, endStream: boolean): void {
    let method = 'GET';
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === ':method') { method = fields[i + 1]; break; }
    let contentLength = contentLengthOf(fields);
    if (contentLength < 0) {
      if (endStream) contentLength = BODY_METHODS.has(method) ? 0 : -1;
      else this.chunked = true;
    }
    if (method === 'HEAD') this.conn.parser.expectNoBody();
    if (this.upgrade !== null) {
      // no body framing: after 101 the connection carries the new protocol's bytes
      this.chunked = false;
      this.conn.socket.write(requestHead(fields, { contentLength: -1, chunked: false }, `connection: upgrade\r\nupgrade: ${this.upgrade}\r\n`));
      return;
    }
    this.conn.socket.write(requestHead(fields, { contentLength, chunked: this.chunked }));
    if (endStream) this.localEnded = true;
  }

  respond(): void { throw new Error('respond() on a client request'); }
  informational(): void { throw new Error('informational() on a client request'); }

  write(data: Uint8Array): boolean {
    if (this.localEnded || this.closed) return false;
    if (data.length === 0) return true;
    return writeBody(this.conn.socket, data, this.chunked, this.conn.highWater);
  }

  end(data?: Uint8Array, trailers?: FieldList): void {
    if (this.localEnded || this.closed) return;
    if (data && data.length > 0) this.write(data);
    if (this.tunnel || this.upgrade !== null) {
      this.localEnded = true;
      if (this.tunnel) this.conn.socket.end();
      return;
    }
    if (this.chunked) endChunked(this.conn.socket, trailers);
    this.localEnded = true;
    this.conn.maybeDone();
  }

  consume(n: number): void {
    this.unconsumed -= n;
    if (this.unconsumed < this.conn.highWater / 2) this.conn.resume();
  }

  /** Aborting an HTTP/1.1 request means closing its connection. */
  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.socket.destroy();
  }
}

export class H1ClientConnection implements H1Handler {
  readonly parser: H1Parser;
  readonly highWater: number;
  current: H1ClientStream | null = null;
  private keepAlive = true;
  private paused = false;
  dead = false;
  private idleTimer?: NodeJS.Timeout;

  constructor(readonly socket: net.Socket, private pool: H1Pool, highWater: number) {
    this.highWater = highWater;
    this.parser = new H1Parser('response', this);
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => {
      const t = this.current;
      if (t && t.tunnel) {
        t.handler?.onData(t, c, false);
        return;
      }
      try { this.parser.execute(c); } catch (err) { socket.destroy(err as Error); }
    });
    socket.on('end', () => {
      const t = this.current;
      if (t && t.tunnel) {
        t.remoteEnded = true;
        t.handler?.onEnd(t);
        if (t.localEnded) socket.end();
        return;
      }
      if (!this.dead) this.parser.finish();
      socket.end();
    });
    socket.on('close', () => this.teardown('upstream closed the connection'));
    socket.on('error', (err) => this.teardown(`upstream connection error: ${err.message}`));
    socket.on('drain', () => {
      const c = this.current;
      if (c && c.handler) c.handler.onDrain(c);
    });
  }

  /** Starts a request on this (idle) connection; `upgrade` asks for a protocol switch (101). */
  request(fields: FieldList, endStream: boolean, upgrade: string | null = null): H1ClientStream {
    clearTimeout(this.idleTimer);
    const s = new H1ClientStream(this);
    s.upgrade = upgrade;
    this.current = s;
    this.keepAlive = true;
    s.sendHead(fields, endStream);
    return s;
  }

  onHead(fields: FieldList, flags: number, status: number): void {
    const s = this.current;
    if (!s || s.closed) return;
    if (status === 101 && s.upgrade !== null) {
      // switched: the rest of this connection is the tunnel's
      s.headers = fields;
      s.status = 101;
      s.tunnel = true;
      this.keepAlive = false;
      this.dead = true;
      s.handler?.onResponse(s, fields, 101, false);
      const early = this.parser.tunnelBytes();
      if (early.length > 0) s.handler?.onData(s, early, false);
      return;
    }
    if (status < 200) {
      if (status !== 101) s.handler?.onInformational(s, fields, status);
      return;
    }
    if (s.upgrade !== null) s.localEnded = true; // refused: the request had no body
    s.headers = fields;
    s.status = status;
    this.keepAlive = (flags & H1Flags.KEEP_ALIVE) !== 0;
    const noBody = (flags & H1Flags.HAS_BODY) === 0;
    s.handler?.onResponse(s, fields, status, noBody);
  }

  onBody(data: Buffer): void {
    const s = this.current;
    if (!s || s.closed) return;
    if (!s.autoConsume) {
      s.unconsumed += data.length;
      if (s.unconsumed >= this.highWater && !this.paused) { this.paused = true; this.socket.pause(); }
    }
    s.handler?.onData(s, data, false);
  }

  onEnd(trailers: FieldList | null): void {
    const s = this.current;
    if (!s || s.closed) return;
    s.remoteEnded = true;
    if (trailers) {
      s.trailers = trailers;
      s.handler?.onTrailers(s, trailers);
    }
    s.handler?.onEnd(s);
    this.maybeDone();
  }

  onError(status: number, reason: number): void {
    const s = this.current;
    this.dead = true;
    this.socket.destroy();
    if (s && !s.closed) {
      s.closed = true;
      s.handler?.onReset(s, new StreamResetError(ErrorCode.PROTOCOL_ERROR, `upstream sent a malformed response (${status}): ${reasonMessage(reason)}`));
    }
  }

  resume(): void {
    if (this.paused) { this.paused = false; this.socket.resume(); }
  }

  /** Both directions done: back to the pool, or closed. */
  maybeDone(): void {
    const s = this.current;
    if (!s || !s.localEnded || !s.remoteEnded) return;
    s.closed = true;
    this.current = null;
    this.resume();
    if (!this.keepAlive || this.dead) {
      this.dead = true;
      this.socket.end();
      return;
    }
    this.pool.release(this);
  }

  armIdle(ms: number): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => { this.dead = true; this.socket.end(); }, ms);
    this.idleTimer.unref();
  }

  private teardown(why: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.dead = true;
    clearTimeout(this.idleTimer);
    const s = this.current;
    this.current = null;
    if (s && !s.closed) {
      s.closed = true;
      // a response delimited by close has ended; anything else was cut off
      if (!s.remoteEnded) s.handler?.onReset(s, new StreamResetError(ErrorCode.CANCEL, why));
    }
    this.parser.destroy();
    this.pool.forget(this);
  }
  private tornDown = false;
}

export class H1Pool {
  private idle: H1ClientConnection[] = [];
  private all = new Set<H1ClientConnection>();
  private closed = false;

  constructor(readonly host: string, readonly port: number, private options: H1PoolOptions = {}) {}

  /** An idle connection now, or null. */
  ready(): H1ClientConnection | null {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (!c.dead && !c.socket.destroyed) return c;
    }
    return null;
  }

  acquire(): Promise<H1ClientConnection> {
    const c = this.ready();
    if (c) return Promise.resolve(c);
    if (this.closed) return Promise.reject(new ConnectError('pool closed', 'ECLOSED'));
    if (this.all.size >= (this.options.maxConnections ?? 256)) {
      return Promise.reject(new ConnectError(`${this.host}:${this.port}: connection limit reached`, 'ELIMIT'));
    }
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, this.host);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(`connect to ${this.host}:${this.port} timed out`, 'ETIMEDOUT'));
      }, this.options.connectTimeoutMs ?? 5000);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new ConnectError(`connect to ${this.host}:${this.port}: ${err.code ?? err.message}`, err.code ?? 'ECONNECT'));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        this.options.track?.(socket);
        const conn = new H1ClientConnection(socket, this, this.options.highWater ?? 256 * 1024);
        this.all.add(conn);
        resolve(conn);
      });
    });
  }

  /** @internal a connection finished its request and can take another */
  release(c: H1ClientConnection): void {
    if (this.closed || this.idle.length >= (this.options.maxIdle ?? 16)) {
      c.dead = true;
      c.socket.end();
      return;
    }
    c.armIdle(this.options.idleTimeoutMs ?? 30_000);
    this.idle.push(c);
  }

  /** @internal */
  forget(c: H1ClientConnection): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  get size(): number { return this.all.size; }

  close(): void {
    this.closed = true;
    for (const c of this.idle) c.socket.end();
    this.idle = [];
  }

  destroy(): void {
    this.closed = true;
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle = [];
  }
}

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
import { DEFAULT_MAX_PENDING } from './h2-pool.js';
import { ConnectError, whenConnected } from './connect.js';
import { PoolQueue, QueueStats, type PoolWaiter } from './pool-queue.js';

/** Connections per endpoint at most, by default: one request in flight on each. */
export const DEFAULT_H1_MAX_CONNECTIONS = 256;

export interface H1PoolOptions {
  /** Connections at most (default 256): one request in flight each; further requests wait their turn. */
  maxConnections?: number;
  /** Requests that may wait for a connection at most (default 100,000); beyond, they are refused (503). */
  maxPending?: number;
  /** Where the queue's depth, waits and refusals are counted (metrics). */
  queueStats?: QueueStats;
  /** Idle connections kept (default: maxConnections), each closed after idleTimeoutMs. */
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
  private connecting = 0;
  private closed = false;
  private queue: PoolQueue<H1ClientConnection>;
  private readonly maxConnections: number;

  constructor(readonly host: string, readonly port: number, private options: H1PoolOptions = {}) {
    this.maxConnections = options.maxConnections ?? DEFAULT_H1_MAX_CONNECTIONS;
    this.queue = new PoolQueue(options.maxPending ?? DEFAULT_MAX_PENDING, options.queueStats ?? new QueueStats());
  }

  /** An idle connection now, or null (also while requests wait: first come, first served). */
  ready(): H1ClientConnection | null {
    if (this.queue.length > 0) return null;
    return this.idleOne();
  }

  private idleOne(): H1ClientConnection | null {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (!c.dead && !c.socket.destroyed) return c;
    }
    return null;
  }

  /**
   * Waits for a connection: an idle one at once, a new one while under maxConnections, else the
   * next one a request finishes with (queued, in order). Fails the waiter when the queue is full.
   */
  wait(w: PoolWaiter<H1ClientConnection>): void {
    if (this.queue.admit(w, this.closed, this.closed ? null : this.ready(), `${this.host}:${this.port}`) === 'queued') this.fill();
  }

  /** Opens connections for waiting requests, as far as the limit allows. */
  private fill(): void {
    while (!this.closed && this.queue.length > this.connecting && this.all.size + this.connecting < this.maxConnections) this.open();
  }

  private open(): void {
    this.connecting++;
    const socket = net.connect(this.port, this.host);
    whenConnected(socket, `${this.host}:${this.port}`, this.options.connectTimeoutMs ?? 5000, () => {
      this.connecting--;
      if (this.closed) {
        socket.destroy();
        return;
      }
      this.options.track?.(socket);
      const conn = new H1ClientConnection(socket, this, this.options.highWater ?? 256 * 1024);
      this.all.add(conn);
      this.release(conn);
    }, (err) => {
      this.connecting--;
      // with connections still busy the waiters get theirs in turn; with none, one request learns
      // that the endpoint cannot be reached (each later one tries again)
      if (this.all.size === 0) this.queue.shift()?.failed(err);
      this.fill();
    });
  }

  /** @internal a connection is free (new, or done with its request): to the next waiter, else idle */
  release(c: H1ClientConnection): void {
    if (this.queue.length > 0) {
      // after the response's last byte has been handled (we may be inside its parser call)
      queueMicrotask(() => this.handOver(c));
      return;
    }
    this.keep(c);
  }

  private handOver(c: H1ClientConnection): void {
    if (c.dead || c.socket.destroyed) {
      this.fill();
      return;
    }
    const w = this.queue.shift();
    if (w !== null) w.granted(c);
    else this.keep(c);
  }

  private keep(c: H1ClientConnection): void {
    if (this.closed || this.idle.length >= (this.options.maxIdle ?? this.maxConnections)) {
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
    this.fill(); // a waiter may now have room for a connection of its own
  }

  get size(): number { return this.all.size; }
  /** Requests waiting for a connection now. */
  get pending(): number { return this.queue.length; }

  close(): void {
    this.closed = true;
    for (const c of this.idle) c.socket.end();
    this.idle = [];
    this.queue.failAll(new ConnectError('pool closed', 'ECLOSED'));
  }

  destroy(): void {
    this.closed = true;
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle = [];
    this.queue.failAll(new ConnectError('pool closed', 'ECLOSED'));
  }
}
